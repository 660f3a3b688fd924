#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 10 (iommufd, stock vfio-pci): the cdev path while both PFs are on
# stock vfio-pci, i.e. before scenario 11 moves the pool PF to the variant
# driver. Only on a kernel with the cdev path (7-iommufd: 7.3, which checks
# the VF token on VFIO_DEVICE_BIND_IOMMUFD). Root opening a dedicated VF's
# cdev binds only with the PF's token; uid 65534 cannot open the node at all;
# stock QEMU, which never sends a token, cannot bind such a VF. Through the
# broker, as uid 65534: the pool PF is refused (NotSupported, saying what to
# do); the dedicated PF's VFs are handed out, stock QEMU still cannot bind
# them, vf-probe binds them with the tenant's token, and a holder whose
# RLIMIT_MEMLOCK is too small gets a clear error while the broker carries on.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
# the broker has bound every VF to vfio-pci by now: a cdev kernel shows their nodes
if [ ! -d /dev/vfio/devices ]; then
        echo "ok - iommufd on stock vfio-pci # SKIP not this kernel: $(uname -r) has no /dev/vfio/devices (no VFIO cdev)"
        exit 0
fi
# quiet RESULT WHAT CMD...: runs CMD whose own result lines are expected to
# fail; they become diagnostics and only the exit status counts
quiet() { want=$1 what=$2; shift 2; out=$("$@" 2>&1); rc=$?; printf '%s\n' "$out" | sed 's/^/#   /'
        [ $rc = "$want" ]; res $? "$what (exit $rc)"; }
tok=$("$CTL" tenant show-token ded)
vf=$(vfs_of $IGB | head -1)
wait_state "$vf" free 20
quiet 3 "iommufd: root binds dedicated VF $vf's cdev without a token: EACCES" "$PROBE" --direct-cdev "$vf" --check
quiet 3 "iommufd: root binds $vf's cdev with a wrong token: EACCES" \
        "$PROBE" --direct-cdev "$vf" --check --token 00000000-1111-2222-3333-444444444444
check "iommufd: root binds $vf's cdev with ded's token: bind, IOAS, attach, map, info, config, reset" \
        "$PROBE" --direct-cdev "$vf" --check --token "$tok"
quiet 3 "iommufd: uid 65534 cannot open $vf's cdev or /dev/iommu" as_nobody "$PROBE" --direct-cdev "$vf"
# stock QEMU given the same fds: its bind carries no token
node=/dev/vfio/devices/$(ls $SYS/$vf/vfio-dev)
out=$(qemu-system-x86_64 -M q35 -accel tcg -S -display none -nodefaults -m 64 -qmp stdio \
        -object iommufd,id=vfb,fd=3 -device vfio-pci,iommufd=vfb,fd=4,id=vf0 3<>/dev/iommu 4<>"$node" </dev/null 2>&1)
rc=$?; printf '%s\n' "$out" | grep -v '^{' | sed 's/^/#   qemu: /'
[ $rc != 0 ] && printf '%s\n' "$out" | grep -q 'Permission denied'
res $? "iommufd: stock QEMU 10 given root's fds of $vf fails to bind (EACCES: it sends no VF token)"
dmesg | grep -iE 'vf token' | tail -2 | sed 's/^/# dmesg: /'
wait_state "$vf" free 20; res $? "iommufd: $vf is still free in the broker (is $(vf_state "$vf"))"

# --- through the broker, as uid 65534 ---------------------------------------
pf_json() { "$CTL" list-pfs --json | tr '{}' '\n\n' | grep "\"Address\": *\"$1\""; }
pf_json $NVME | grep -o '"APIs": *\[[^]]*\]' | sed "s/^/# $NVME (pool): /"
pf_json $IGB | grep -o '"APIs": *\[[^]]*\]' | sed "s/^/# $IGB (dedicated): /"
pf_json $NVME | grep -o '"APIs": *\[[^]]*\]' | grep -qv iommufd && pf_json $IGB | grep -o '"APIs": *\[[^]]*\]' | grep -q iommufd
res $? "iommufd: list-pfs --json offers iommufd on the dedicated $IGB, not on the pool $NVME"
out=$(as_nobody "$CTL" run --tenant demo --api iommufd -- "$PROBE" --iommufd 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
[ $rc != 0 ] && printf '%s\n' "$out" | grep -q 'NotSupported' && printf '%s\n' "$out" | grep -q 'Driver=vfbroker_vfio_pci'
res $? "iommufd: the pool PF on stock vfio-pci is refused: NotSupported, naming Driver=vfbroker_vfio_pci (exit $rc)"

# stock QEMU 10 started by uid 65534 under run --qemu gets a VF of ded, but
# its bind carries no token (guest RAM needs more than the default 8 MiB of
# RLIMIT_MEMLOCK, so QEMU runs with 256 MiB)
out=$(ulimit -l 262144; as_nobody "$CTL" run --tenant ded --api iommufd --qemu -- qemu-system-x86_64 -M q35 -accel tcg -S -m 64 \
        -display none -nodefaults -qmp stdio </dev/null 2>&1); rc=$?
printf '%s\n' "$out" | grep -v '^{' | sed 's/^/#   /'
[ $rc != 0 ] && printf '%s\n' "$out" | grep -q 'error bind device fd=4 to iommufd=3: Permission denied'
res $? "iommufd: stock QEMU under run --tenant ded --api iommufd --qemu cannot bind the dedicated VF without its token (EACCES, exit $rc)"

# a token-aware client (the tenant's own program) binds with the token; two
# VFs share the one iommufd
as_nobody "$CTL" run --tenant ded --count 2 --api iommufd -- "$PROBE" --iommufd --token "$tok" --isolated
res $? "iommufd: uid 65534 binds two VFs of ded through the broker's iommufd with ded's token"

# RLIMIT_MEMLOCK: the pinned pages are the holder's, never the broker's
pid0=$(systemctl show -p MainPID --value vfbroker.service)
out=$(ulimit -l 1024; as_nobody "$CTL" run --tenant ded --api iommufd -- "$PROBE" --iommufd --token "$tok" --map-size 4M 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
[ $rc = 7 ] && printf '%s\n' "$out" | grep -q 'RLIMIT_MEMLOCK here is 1024 KiB'
res $? "iommufd: a holder with RLIMIT_MEMLOCK 1 MiB mapping 4 MiB: ENOMEM, named RLIMIT_MEMLOCK (exit $rc)"
[ "$(systemctl show -p MainPID --value vfbroker.service)" = "$pid0" ] && broker_ready
res $? "iommufd: the broker is unaffected (same vfbrokerd $pid0, answering)"
out=$(as_nobody "$CTL" run --tenant ded --api iommufd -- "$PROBE" --iommufd --token "$tok" --map-size 4M 2>&1); rc=$?
[ $rc = 0 ]; res $? "iommufd: the next holder, with the default 8 MiB, maps 4 MiB (exit $rc)"
for v in $(vfs_of $IGB); do wait_state "$v" free 30; done
n=$("$CTL" list-leases --json | grep -o '"Id"' | wc -l)
[ "$n" = 0 ]; res $? "iommufd: no lease left (got $n)"
exit 0
