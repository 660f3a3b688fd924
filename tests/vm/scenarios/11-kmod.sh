#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 11: the broker with the kmod/ variant driver. The pool PF (nvme)
# moves to vfbroker_vfio_pci; then acquire (per-VF token), revoke (forced),
# token rotation, and a restart that keeps the lease and the driver. Runs last: it changes
# the guest's configuration.
. /usr/lib/vfbroker-vm/lib.sh
KO=/usr/lib/vfbroker-vm/vfbroker_vfio_pci.ko
KMOD=vfbroker_vfio_pci
if [ ! -f "$KO" ]; then
        res 1 "kmod: vfbroker_vfio_pci.ko for $(uname -r) is in the payload" "kmod/build-all failed for this kernel"
        exit 0
fi
require_broker
lease_on() { "$CTL" list-leases --json | tr '{}' '\n\n' | grep "\"PhysicalFunction\": *\"$1\"" \
        | sed -n 's/.*"Id": *"\([0-9a-f]*\)".*/\1/p' | head -1; }
vf_of_lease() { "$CTL" list-leases --json | tr '{}' '\n\n' | grep "\"Id\": *\"$1\"" \
        | sed -n 's/.*"VirtualFunction": *"\([^"]*\)".*/\1/p' | head -1; }
pf_json() { "$CTL" list-pfs --json | tr '{}' '\n\n' | grep "\"Address\": *\"$1\""; }

# Switch: stop the broker (nothing is leased now), load the module, ask for it.
systemctl stop vfbroker.service
insmod "$KO" enable_sriov=1; res $? "kmod: insmod $KMOD enable_sriov=1 on $(uname -r)"
sed -i "/^Address=$NVME\$/a Driver=$KMOD" /etc/vfbroker/vfbroker.conf
systemctl start vfbroker.service
require_broker
[ "$(driver_of $NVME)" = $KMOD ]; res $? "kmod: the broker bound $NVME to $KMOD (is $(driver_of $NVME))"
n=0 bad=0
for v in $(vfs_of $NVME); do n=$((n + 1)); [ "$(driver_of "$v")" = $KMOD ] || bad=1; done
[ $n -gt 0 ] && [ $bad = 0 ]; res $? "kmod: the $n VFs of $NVME bound to $KMOD by themselves"
pf_json $NVME | grep -q '"per-vf-token"' && pf_json $NVME | grep -q '"revocation"'
res $? "kmod: ListPhysicalFunctions shows $NVME with per-vf-token and revocation"
pf_json $IGB | grep -q '"Driver": *"vfio-pci"'; res $? "kmod: $IGB stays on vfio-pci"

# Acquire: the VF is opened with tenant demo's own per-VF token.
check "kmod: nobody runs vf-probe on a VF of $NVME (opened with the per-VF token)" \
        as_nobody "$CTL" run --tenant demo --pf $NVME -- "$PROBE"

# Revoke: a uid 65534 holder loses the VF at once; it drains until the holder exits.
bg_user 65534 "$CTL" run --tenant demo --pf $NVME -- "$PROBE" --hold 120 >/dev/null; p=$!
sleep 2; lease=$(lease_on $NVME); vf=$(vf_of_lease "$lease")
[ -n "$lease" ]; res $? "kmod: a holder leases $vf ($lease)"
check "kmod: root revokes lease $lease" "$CTL" revoke "$lease"
"$CTL" list-leases --json | tr '{}' '\n\n' | grep "$lease" | grep -q '"State": *"ended"'
res $? "kmod: lease $lease has ended after the revocation"
st=$(vf_state "$vf"); [ "$st" = draining ]; res $? "kmod: $vf drains while the holder keeps its dead fds (is $st)"
dmesg | grep -q "$vf: revoked"; res $? "kmod: the kernel log says $vf was revoked"
kill $p 2>/dev/null; pkill -f "vf-probe --hold 120"; wait $p 2>/dev/null
wait_state "$vf" free 30; res $? "kmod: $vf free once the holder is gone (is $(vf_state "$vf"))"

# Rotate: after demo's token changes, its next VF opens with the new per-VF token.
check "kmod: root rotates the token of demo" "$CTL" tenant rotate demo
check "kmod: nobody acquires a VF of $NVME for demo after the rotation" \
        as_nobody "$CTL" run --tenant demo --pf $NVME -- "$PROBE"

# Restart: the lease, the driver and its features survive.
bg_user 65534 "$CTL" run --tenant demo --pf $NVME -- "$PROBE" --hold 120 >/dev/null; p=$!
sleep 2; lease=$(lease_on $NVME); vf=$(vf_of_lease "$lease")
systemctl restart vfbroker.service
i=0; while ! broker_ready && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ "$(lease_on $NVME)" = "$lease" ] && [ -n "$lease" ]; res $? "kmod: lease $lease of $vf restored after systemctl restart"
[ "$(driver_of $NVME)" = $KMOD ] && pf_json $NVME | grep -q '"revocation"'; res $? "kmod: $NVME still on $KMOD with its features"
kill $p 2>/dev/null; pkill -f "vf-probe --hold 120"; wait $p 2>/dev/null
wait_state "$vf" free 30; res $? "kmod: $vf free once the holder exits after the restart"

! dmesg | grep -E 'WARNING:|BUG:|INFO: task .* blocked' | sed 's/^/# /' | grep -q .
res $? "kmod: no WARNING, BUG or hung task in the kernel log"
exit 0
