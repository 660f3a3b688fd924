#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 1: the broker starts from its socket, binds both PFs to vfio-pci,
# enables the configured VFs, reports READY and a STATUS line.
. /usr/lib/vfbroker-vm/lib.sh
systemctl is-active -q vfbroker.service; [ $? != 0 ]; res $? "vfbroker.service not running before the first client"
check "vfbrokerctl status (first connection starts the broker)" "$CTL" status
i=0; while ! systemctl is-active -q vfbroker.service && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
systemctl is-active -q vfbroker.service; res $? "vfbroker.service active (READY=1 reached, Type=notify)"
st=$(systemctl show -p StatusText --value vfbroker.service)
[ -n "$st" ]; res $? "STATUS= reported: '$st'"
for pf in $NVME $IGB; do
        [ "$(driver_of $pf)" = vfio-pci ]; res $? "PF $pf bound to vfio-pci (is '$(driver_of $pf)')"
        [ "$(cat $SYS/$pf/sriov_numvfs)" = 4 ]; res $? "PF $pf has 4 VFs enabled (sriov_numvfs $(cat $SYS/$pf/sriov_numvfs))"
        bad=0 groups=
        for vf in $(vfs_of $pf); do
                g=$(basename "$(readlink $SYS/$vf/iommu_group)")
                [ "$(driver_of $vf)" = vfio-pci ] && [ "$(ls $SYS/$vf/iommu_group/devices | wc -l)" = 1 ] || bad=1
                groups="$groups $vf:$g"
        done
        res $bad "VFs of $pf bound to vfio-pci, each alone in its IOMMU group ($groups )"
done
check "vfbrokerctl list-pfs" "$CTL" list-pfs
check "vfbrokerctl list-vfs" "$CTL" list-vfs
n=$("$CTL" list-vfs --json | tr '{' '\n' | grep -c '"State": *"free"')
[ "$n" = 8 ]; res $? "8 VFs free (got $n)"
journalctl -b -u vfbroker.service --no-pager -o cat | tail -20 | sed 's/^/# journal: /'
exit 0
