#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 13: which VFIO APIs the kernel offers. On the 7-iommufd kernel
# (tools/vm/kernel-iommufd: IOMMUFD and VFIO_DEVICE_CDEV on, the group and
# container API kept) /dev/iommu and a /dev/vfio/devices/vfioN for every VF
# exist, all root-only, next to every VF's /dev/vfio/<group>. On Debian's
# kernels (CONFIG_IOMMUFD off) there is no cdev path: only the group nodes.
# Before 6.17 nothing but these nodes' modes keeps a tenant off a VF on the
# cdev path, so "root-only" is checked by opening them as uid 65534.
. /usr/lib/vfbroker-vm/lib.sh
require_broker

# majmin PATH: "major:minor" of a device node, in decimal
majmin() {
        [ -c "$1" ] || { echo none; return 1; }
        stat -c '%t %T' "$1" | { read -r ma mi; echo "$((0x$ma)):$((0x$mi))"; }
}
# root_only PATH: owned by root:root, no permission for anyone else
root_only() {
        [ "$(stat -c '%u %g' "$1")" = "0 0" ] && [ $((0$(stat -c %a "$1") & 07)) = 0 ]
}
# denied PATH: uid 65534 cannot open it for reading and writing
denied() { as_nobody sh -c 'exec 3<>"$1"' sh "$1" 2>&1 | grep -q 'Permission denied'; }

VFS=
for pf in $NVME $IGB; do VFS="$VFS $(vfs_of $pf)"; done
n=$(echo $VFS | wc -w)
[ "$n" = 8 ]; res $? "cdev: the broker enabled 8 VFs on $NVME and $IGB (got $n)"

# every VF keeps its group node on every kernel
bad=''
for vf in $VFS; do
        g=$(basename "$(readlink $SYS/$vf/iommu_group)")
        [ -c /dev/vfio/$g ] || bad="$bad $vf:$g"
done
[ -z "$bad" ]; res $? "cdev: every VF has its group node /dev/vfio/<group>" "missing:$bad"
[ -c /dev/vfio/vfio ] && [ "$(majmin /dev/vfio/vfio)" = 10:196 ]
res $? "cdev: /dev/vfio/vfio is the VFIO container (10:196, is $(majmin /dev/vfio/vfio 2>/dev/null))"

case $(uname -r) in
*-iommufd)
        cfg=$(zcat /proc/config.gz)
        miss=''
        for want in CONFIG_IOMMUFD=y CONFIG_VFIO_DEVICE_CDEV=y CONFIG_VFIO_GROUP=y CONFIG_VFIO_CONTAINER=y; do
                printf '%s\n' "$cfg" | grep -qxF "$want" || miss="$miss, $want"
        done
        # with VFIO_CONTAINER=y its dependency is unmet: the symbol is not even listed
        printf '%s\n' "$cfg" | grep -q '^CONFIG_IOMMUFD_VFIO_CONTAINER=' && miss="$miss, IOMMUFD_VFIO_CONTAINER off"
        [ -z "$miss" ]; res $? "cdev: /proc/config.gz has IOMMUFD, VFIO_DEVICE_CDEV, VFIO_GROUP, VFIO_CONTAINER on and IOMMUFD_VFIO_CONTAINER off" "not:${miss#,}"

        # /dev/iommu: the misc device iommufd registers
        want=$(cat /sys/class/misc/iommu/dev 2>/dev/null)
        [ -c /dev/iommu ] && [ "$(majmin /dev/iommu)" = "$want" ] && [ "${want%%:*}" = 10 ]
        res $? "cdev: /dev/iommu is the iommufd misc device ($(majmin /dev/iommu 2>/dev/null), sysfs ${want:-none})"
        root_only /dev/iommu; res $? "cdev: /dev/iommu is root-only ($(stat -c '%U:%G %a' /dev/iommu 2>/dev/null))"
        denied /dev/iommu; res $? "cdev: uid 65534 cannot open /dev/iommu (EACCES)"

        # one cdev per VF, named by sysfs vfio-dev/, 0600 root:root
        nodes='' bad='' open=''
        for vf in $VFS; do
                c=$(ls $SYS/$vf/vfio-dev 2>/dev/null)
                case $c in vfio[0-9]*) ;; *) bad="$bad $vf:no-vfio-dev"; continue;; esac
                nodes="$nodes $vf=$c"
                d=/dev/vfio/devices/$c
                if [ ! -c $d ] || [ "$(majmin $d)" != "$(cat $SYS/$vf/vfio-dev/$c/dev)" ] \
                   || [ "$(stat -c '%u %g %a' $d)" != "0 0 600" ]; then
                        bad="$bad $vf:$d($(stat -c '%U:%G %a' $d 2>/dev/null || echo absent))"
                fi
                denied $d || open="$open $d"
        done
        echo "# cdev nodes:$nodes"
        [ -z "$bad" ]; res $? "cdev: every VF has /dev/vfio/devices/vfioN (sysfs vfio-dev/, same dev number), 0600 root:root" "bad:$bad"
        [ -z "$open" ]; res $? "cdev: uid 65534 cannot open any VF's cdev (EACCES)" "opened:$open"
        ;;
*)
        [ ! -e /dev/iommu ] && [ ! -e /dev/vfio/devices ]
        res $? "cdev: Debian's $(uname -r) has no /dev/iommu and no /dev/vfio/devices (CONFIG_IOMMUFD off)"
        bad=''
        # vfio-dev/vfioN is in sysfs from 6.1 on; only a cdev kernel gives it a dev number
        for vf in $VFS; do
                for c in $SYS/$vf/vfio-dev/vfio*; do [ -e "$c/dev" ] && bad="$bad $vf"; done
        done
        [ -z "$bad" ]; res $? "cdev: no VF's vfio-dev/vfioN has a device number on this kernel" "has one:$bad"
        ;;
esac
exit 0
