#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 10 (iommufd, stock vfio-pci): the cdev path while both PFs are on
# stock vfio-pci, i.e. before scenario 11 moves the pool PF to the variant
# driver. Only on a kernel with the cdev path (7-iommufd: 7.3, which checks
# the VF token on VFIO_DEVICE_BIND_IOMMUFD). Root opening a dedicated VF's
# cdev binds only with the PF's token; uid 65534 cannot open the node at all;
# stock QEMU, which never sends a token, cannot bind such a VF.
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
exit 0
