#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 20: io.vfbroker.Broker over Varlink, with systemd's own varlinkctl
# and, for the fds, varlink-probe (sd-varlink): socket activation through
# vfbroker-varlink.socket, the interface the daemon serves against
# proto/io.vfbroker.Broker.varlink, listings as D-Bus gives them, refusals
# with the D-Bus errors' names and sentences, and uid 65534 leasing a VF
# whose fds vf-probe puts to use. A build without sd-varlink (Debian 12,
# libsystemd 252) must say so and install no Varlink socket.
. /usr/lib/vfbroker-vm/lib.sh
VL=/run/vfbroker/io.vfbroker.Broker
IFACE=io.vfbroker.Broker
VPROBE=/usr/lib/vfbroker-vm/bin/varlink-probe
IDL=/usr/lib/vfbroker-vm/io.vfbroker.Broker.varlink

if ! systemctl cat vfbroker-varlink.socket >/dev/null 2>&1; then
        help=$("$LIBEXECDIR/vfbrokerd" --help 2>&1)
        case $help in
        *"--varlink PATH"*"not in this build: libsystemd"*"has no sd-varlink"*) rc=0;;
        *) rc=1;;
        esac
        res $rc "no sd-varlink in this build ($(dpkg-query -W -f='libsystemd0 ${Version}' libsystemd0 2>/dev/null)): no vfbroker-varlink.socket, and vfbrokerd --help says why"
        exit 0
fi

# Socket activation through the Varlink socket alone.
check "vfbroker-varlink.socket is enabled and listening" systemctl is-active vfbroker-varlink.socket
systemctl stop vfbroker.service
ls -l "$VL" | sed 's/^/#   /'
out=$(as_nobody varlinkctl call "$VL" $IFACE.GetStatus '{}' 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
[ $rc = 0 ] && printf '%s' "$out" | grep -q '"physicalFunctions" *: *2'
res $? "nobody: varlinkctl call GetStatus starts the stopped broker through vfbroker-varlink.socket (2 PFs)"
require_broker

# The interface, as served, is the one in proto/.
as_nobody varlinkctl introspect "$VL" $IFACE > /tmp/vl-idl 2>&1
if cmp -s /tmp/vl-idl "$IDL"; then res 0 "varlinkctl introspect gives proto/io.vfbroker.Broker.varlink"
else diff "$IDL" /tmp/vl-idl | head -20 | sed 's/^/#   /'; res 1 "varlinkctl introspect gives proto/io.vfbroker.Broker.varlink"; fi
as_nobody varlinkctl info "$VL" > /tmp/vl-info 2>&1
grep -q "$IFACE" /tmp/vl-info && grep -q 'Product: vfbrokerd' /tmp/vl-info
res $? "varlinkctl info names vfbrokerd and $IFACE"
check "varlinkctl list-methods lists AcquireVF" sh -c "varlinkctl list-methods $VL $IFACE | grep -q AcquireVF"

# Listings agree with D-Bus (vfbrokerctl).
n_vl=$(as_nobody varlinkctl call -j "$VL" $IFACE.ListVirtualFunctions '{"state":"free"}' | grep -o '"address"' | wc -l)
n_bus=$("$CTL" list-vfs --json | grep -o '"State": *"free"' | wc -l)
[ "$n_vl" -gt 0 ] && [ "$n_vl" = "$n_bus" ]
res $? "ListVirtualFunctions {state: free} over Varlink: $n_vl VFs, D-Bus: $n_bus"

# Refusals: the D-Bus error names and sentences.
out=$(as_nobody varlinkctl call "$VL" $IFACE.AcquireVF '{"tenant":"other"}' 2>&1)
printf '%s' "$out" | grep -q "$IFACE.NotAuthorized" && printf '%s' "$out" | grep -q "is not one of the users or groups of tenant 'other'"
res $? "nobody: AcquireVF for tenant other is $IFACE.NotAuthorized, naming the tenant"
out=$(as_nobody varlinkctl call "$VL" $IFACE.AcquireVF '{"tenant":"demo","numaNode":"x"}' 2>&1)
printf '%s' "$out" | grep -q 'org.varlink.service.InvalidParameter'
res $? "a numaNode of the wrong type is org.varlink.service.InvalidParameter"
out=$(as_nobody varlinkctl call "$VL" $IFACE.CreateTenant '{"name":"viavarlink"}' 2>&1)
printf '%s' "$out" | grep -q "$IFACE.NotAuthorized"
res $? "nobody: CreateTenant is refused by polkit ($IFACE.NotAuthorized)"
check "root: CreateTenant over Varlink" varlinkctl call "$VL" $IFACE.CreateTenant '{"name":"viavarlink","uids":[65534],"quota":1}'
"$CTL" list-tenants --json | grep -q '"Name": *"viavarlink"'
res $? "the tenant made over Varlink is one D-Bus lists"

# A VF over Varlink: fds by index, put to use by vf-probe as the holder.
as_nobody "$VPROBE" demo -- "$PROBE" > /tmp/vl-probe.out 2>&1
rc=$?; sed 's/^/#   /' /tmp/vl-probe.out
[ $rc = 0 ] && grep -q '^ok - VF0 .*VFIO_DEVICE_RESET' /tmp/vl-probe.out
res $? "nobody: AcquireVF over Varlink, and vf-probe uses the container, group and device fds"
journalctl -b -u vfbroker.service -o cat --no-pager | grep -q "Leased VF .* to uid 65534 .* for tenant 'demo'"
res $? "the grant is in the journal"
wait_free() { i=0; while [ "$("$CTL" list-leases --json | grep -o '"Id"' | wc -l)" != 0 ]; do i=$((i+1)); [ $i -gt 50 ] && return 1; sleep 0.2; done; }
wait_free; res $? "the lease ends with its holder"

# The holder releases over Varlink.
bg_user 65534 "$VPROBE" demo -- "$PROBE" --hold 30 > /tmp/vl-hold.out 2>&1
holder=$!
i=0; while [ -z "$(sed -n 's/^varlink-probe: lease \([0-9a-f]*\),.*/\1/p' /tmp/vl-hold.out)" ] && [ $i -lt 50 ]; do i=$((i+1)); sleep 0.2; done
lease=$(sed -n 's/^varlink-probe: lease \([0-9a-f]*\),.*/\1/p' /tmp/vl-hold.out)
out=$(as_nobody varlinkctl call "$VL" $IFACE.ListLeases '{}' 2>&1)
printf '%s' "$out" | grep -q "\"id\" *: *\"$lease\""
res $? "ListLeases over Varlink shows lease ${lease:-(none)} of uid 65534"
check "nobody: ReleaseVF over Varlink" as_nobody varlinkctl call "$VL" $IFACE.ReleaseVF "{\"lease\":\"$lease\"}"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
wait_free; res $? "no lease left"
check "root: DeleteTenant over Varlink" varlinkctl call "$VL" $IFACE.DeleteTenant '{"name":"viavarlink"}'
exit 0
