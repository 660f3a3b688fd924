#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 18: SystemBus=yes on the guest's real dbus-daemon and polkitd.
# busctl without --address and `vfbrokerctl --system` reach the broker, uid
# 65534 leases a working VF over the bus (vf-probe on the fds), polkit's
# rules see the right user through subject system-bus-name, the D-Bus policy
# lets no one but root own the name. A drop-in switches it on and is removed
# at the end, so the scenarios after this one (and scenario 11's config
# change before it) are not affected.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
# which implementation is the system bus here (tests/vm/run-suite --bus)
bus_unit=$(systemctl show -p Id --value dbus.service)
bus_exe=$(readlink "/proc/$(systemctl show -p MainPID --value dbus.service)/exe")
case ${BUS:-dbus-daemon} in
dbus-broker) [ "$bus_unit" = dbus-broker.service ] && pgrep -x dbus-broker >/dev/null;;
*) [ "$bus_unit" = dbus.service ] && [ "${bus_exe##*/}" = dbus-daemon ];;
esac
res $? "the system bus is ${BUS:-dbus-daemon} (dbus.service is $bus_unit, main process ${bus_exe:-none})"
DROPIN=$SYSCONFDIR/vfbroker/vfbroker.conf.d/50-vm-system-bus.conf
NAME=org.vfbroker.Broker1
OBJ=/org/vfbroker/Broker1
has_owner() { busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus NameHasOwner s $NAME 2>&1; }

out=$(has_owner)
[ "$out" = "b false" ]; res $? "without SystemBus= nobody owns $NAME on the system bus (got: $out)"

mkdir -p "${DROPIN%/*}"
printf '[Broker]\nSystemBus=yes\n' > "$DROPIN"
systemctl restart vfbroker.service
require_broker
out=$(has_owner)
[ "$out" = "b true" ]; res $? "SystemBus=yes: vfbrokerd owns $NAME on the system bus (got: $out)"
journalctl -b -u vfbroker.service -o cat --no-pager | grep -q "Serving $NAME on the system bus"
res $? "journal: the broker says it serves the system bus"

# introspection as uid 65534 through the policy, against the installed contract
xml=$(find /usr/share/dbus-1/interfaces "$PREFIX/share/dbus-1/interfaces" -name "$NAME.xml" 2>/dev/null | head -1)
out=$(as_nobody busctl introspect --no-legend $NAME $OBJ $NAME 2>&1); rc=$?
echo "$out" | grep -E 'AcquireVF|ListPhysicalFunctions' | sed 's/^/#   /'
live=$(echo "$out" | awk '$2 == "method" || $2 == "property" { print $1 }' | sed 's/^\.//' | sort | tr '\n' ' ')
want=$(sed -n 's/.*<\(method\|property\) name="\([A-Za-z]*\)".*/\2/p' "$xml" | sort | tr '\n' ' ')
echo "# bus: $live"
echo "# xml: $want"
[ $rc = 0 ] && [ -n "$want" ] && [ "$live" = "$want" ]
res $? "busctl introspect $NAME as nobody: the methods and properties of $(basename "$xml")"

out=$(as_nobody busctl call $NAME $OBJ $NAME ListPhysicalFunctions 2>&1); rc=$?
echo "$out" | cut -c1-200 | sed 's/^/#   /'
[ $rc = 0 ] && echo "$out" | grep -q "$NVME" && echo "$out" | grep -q "$IGB"
res $? "nobody: busctl call $NAME ListPhysicalFunctions (no --address) lists both PFs"

out=$(as_nobody "$CTL" --system list-pfs 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 0 ] && echo "$out" | grep -q "$NVME"; res $? "nobody: vfbrokerctl --system list-pfs"

# fds over the bus: vf-probe on them (device info, regions, config, DMA, reset)
as_nobody "$CTL" --system run --tenant demo -- "$PROBE"
res $? "nobody: vfbrokerctl --system run --tenant demo -- vf-probe exits 0"
as_nobody "$CTL" run --system --tenant demo --count 2 -- "$PROBE" > /tmp/sb-two.out 2>&1
rc=$?; sed 's/^/#   /' /tmp/sb-two.out
[ $rc = 0 ] && [ "$(grep -c '^ok - VF[01] .*VFIO_DEVICE_RESET' /tmp/sb-two.out)" = 2 ]
res $? "nobody: run --system --count 2 gets two working VFs"

# the holder is the calling process, by the pid the bus reports
bg_user 65534 "$CTL" --system run --tenant demo -- sleep 30; holder=$!
i=0; while [ $i -lt 50 ] && ! "$CTL" list-leases --json | grep -q '"State": *"active"'; do sleep 0.1; i=$((i + 1)); done
leases=$("$CTL" list-leases --json)
echo "$leases" | cut -c1-300 | sed 's/^/#   /'
echo "$leases" | tr '{}' '\n\n' | grep '"State": *"active"' | grep -q "\"Pid\": *$holder\([^0-9]\|$\)"
res $? "the lease's holder is vfbrokerctl (pid $holder) as the bus reported it"
echo "$leases" | tr '{}' '\n\n' | grep '"State": *"active"' | grep -q '"Uid": *65534'
res $? "the lease's holder uid is 65534"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
for vf in $(vfs_of $NVME); do wait_state "$vf" free 30; done
n=$("$CTL" list-leases --json | grep -c '"State": *"active"')
[ "$n" = 0 ]; res $? "the lease ended with its holder (active: $n)"

# busctl's own AcquireVF: the reply carries the three fds; busctl exits and
# closes them, which ends the lease (the holder was busctl)
out=$(as_nobody busctl call $NAME $OBJ $NAME AcquireVF 'sa{sv}' demo 0 2>&1); rc=$?
echo "# $out"
[ $rc = 0 ] && echo "$out" | grep -q '^ssuhhh "[0-9a-f]\{32\}" "0000:01:00\.[0-9]" [0-9]* [0-9]* [0-9]* [0-9]*$'
res $? "nobody: busctl call AcquireVF returns a lease, the VF and three fds"
vf=$(echo "$out" | sed -n 's/^ssuhhh "[0-9a-f]*" "\([0-9a-f:.]*\)".*/\1/p')
[ -n "$vf" ] && wait_state "$vf" free 30; res $? "the VF busctl held is free again once busctl is gone ($vf)"

# refusals: a non-member, and a member whom polkit's rules refuse (the rule
# looks at subject.user: polkitd resolved the bus name to uid 1)
out=$(as_nobody "$CTL" --system run --tenant other -- "$PROBE" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 3 ] && echo "$out" | grep -q "NotAuthorized"; res $? "nobody, not a member of 'other': NotAuthorized, exit 3 (got $rc)"
out=$(as_user daemon "$CTL" --system run --tenant demo -- "$PROBE" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 3 ] && echo "$out" | grep -q "polkit does not allow uid 1"; res $? "uid 1 (daemon), refused by polkit's rule: exit 3 (got $rc)"
out=$(as_user daemon busctl call $NAME $OBJ $NAME AcquireVF 'sa{sv}' demo 0 2>&1); rc=$?
echo "# $out"
[ $rc != 0 ] && echo "$out" | grep -q 'polkit does not allow'; res $? "busctl AcquireVF as uid 1 is refused by polkit"
journalctl -b -u polkit.service -o cat --no-pager 2>/dev/null | grep -i "system-bus-name" | tail -2 | sed 's/^/#   /'

# the D-Bus policy: only root may own the name
out=$(as_nobody busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus RequestName su $NAME 4 2>&1); rc=$?
echo "# $out"
[ $rc != 0 ] && echo "$out" | grep -qi "access denied\|not allowed to own"; res $? "uid 65534 may not own $NAME (policy)"
out=$(as_user daemon busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus RequestName su $NAME 4 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -qi "access denied\|not allowed to own"; res $? "uid 1 may not own $NAME (policy)"

# the peer-to-peer socket is served as before, alongside
out=$(as_nobody "$CTL" list-pfs 2>&1); rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "$NVME"; res $? "the socket still serves vfbrokerctl with SystemBus=yes"

rm -f "$DROPIN"
systemctl restart vfbroker.service
require_broker
out=$(has_owner)
[ "$out" = "b false" ]; res $? "SystemBus= removed again: $NAME released (got: $out)"
exit 0
