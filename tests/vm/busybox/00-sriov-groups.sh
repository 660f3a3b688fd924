#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Busybox guest, scenario 0: both emulated PFs exist with SR-IOV, vfio-pci
# binds them with enable_sriov=1 and every VF lands in its own IOMMU group.
# Binds by hand: only here, never in the systemd guest where the broker owns the PFs.
res() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2${3:+ # $3}"; fi; }
D=/sys/bus/pci/devices
NVME=0000:01:00.0 IGB=0000:02:00.0
for pf in $NVME $IGB; do
        [ -f $D/$pf/sriov_totalvfs ]; res $? "PF $pf has SR-IOV (vendor $(cat $D/$pf/vendor 2>/dev/null) device $(cat $D/$pf/device 2>/dev/null), totalvfs $(cat $D/$pf/sriov_totalvfs 2>/dev/null))"
done
modprobe vfio-pci enable_sriov=1; res $? "modprobe vfio-pci enable_sriov=1"
# busybox modprobe ignores softdeps: the type1 backend is loaded by hand
modprobe vfio_iommu_type1; res $? "modprobe vfio_iommu_type1"
[ "$(cat /sys/module/vfio_pci/parameters/enable_sriov)" = Y ]; res $? "vfio_pci enable_sriov is Y"
for pf in $NVME $IGB; do
        echo vfio-pci > $D/$pf/driver_override
        [ -e $D/$pf/driver ] && echo $pf > $D/$pf/driver/unbind
        echo $pf > /sys/bus/pci/drivers_probe
        drv=$(basename "$(readlink $D/$pf/driver)")
        [ "$drv" = vfio-pci ]; res $? "PF $pf bound to vfio-pci (got '$drv')"
        total=$(cat $D/$pf/sriov_totalvfs)
        echo "$total" > $D/$pf/sriov_numvfs; res $? "PF $pf: sriov_numvfs=$total"
done
sleep 1
groups=""
nvf=0 bad=0
for pf in $NVME $IGB; do
        pg=$(basename "$(readlink $D/$pf/iommu_group)")
        for vf in $D/$pf/virtfn*; do
                a=$(basename "$(readlink $vf)")
                g=$(basename "$(readlink $D/$a/iommu_group)")
                drv=$(basename "$(readlink $D/$a/driver 2>/dev/null)" 2>/dev/null)
                n=$(ls $D/$a/iommu_group/devices | wc -l)
                echo "# VF $a of $pf: group $g ($n device(s)), driver $drv"
                nvf=$((nvf + 1))
                case " $groups " in *" $g "*) bad=1;; esac
                [ "$g" != "$pg" ] && [ "$n" = 1 ] && [ "$drv" = vfio-pci ] && [ -e /dev/vfio/$g ] || bad=1
                groups="$groups $g"
        done
done
[ $nvf -ge 12 ]; res $? "12 VFs exist (got $nvf)"
[ $bad = 0 ]; res $? "every VF is alone in its own IOMMU group, bound to vfio-pci, /dev/vfio/<group> exists"
for pf in $NVME $IGB; do echo 0 > $D/$pf/sriov_numvfs; done
res $? "VFs disabled again"
