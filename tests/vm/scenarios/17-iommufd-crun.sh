#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 17: the cdev path's fds in an unprivileged OCI container. crun
# (Debian's) runs as uid 65534, rootless: its own user namespace (container
# root is uid 65534 outside), no capabilities, a /dev with neither /dev/vfio
# nor /dev/iommu, and only the fds given with --preserve-fds (3: the iommufd,
# 4: the VF's cdev, the numbers `vfbrokerctl run --api iommufd` uses). Inside,
# vf-probe binds and uses the VF. Only on a kernel with the VFIO cdev.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
# the broker has bound every VF to vfio-pci by now: a cdev kernel shows their nodes
if [ ! -d /dev/vfio/devices ]; then
        echo "ok - iommufd in a container # SKIP not this kernel: $(uname -r) has no /dev/vfio/devices (no VFIO cdev)"
        exit 0
fi
B=/tmp/vfb-bundle
# bundle ARGS...: a read-only root with the guest's /usr bound in, the fd
# numbers of one VF in the environment, ARGS as the container's process
bundle() {
        rm -rf $B; mkdir -p $B/rootfs/usr $B/rootfs/proc $B/rootfs/dev $B/rootfs/tmp
        for l in bin lib lib64 sbin; do ln -s usr/$l $B/rootfs/$l; done
        args=''; for a in "$@"; do args="$args${args:+, }\"$a\""; done
        cat > $B/config.json <<JSON
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ $args ],
    "env": [ "PATH=/usr/bin:/bin", "VFBROKER_API=iommufd", "VFBROKER_IOMMUFD_FD=3", "VFBROKER_VF_COUNT=1", "VFBROKER_VF0_DEVICE_FD=4" ],
    "cwd": "/",
    "capabilities": { "bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": [] },
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "vfb-container",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "mode=755", "size=1m" ] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "nodev" ] },
    { "destination": "/usr", "type": "bind", "source": "/usr", "options": [ "rbind", "ro" ] }
  ],
  "linux": {
    "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "network" }, { "type": "user" } ],
    "uidMappings": [ { "containerID": 0, "hostID": 65534, "size": 1 } ],
    "gidMappings": [ { "containerID": 0, "hostID": 65534, "size": 1 } ]
  }
}
JSON
        chmod -R a+rX $B
}
CRUN="crun --root /tmp/crun-65534 --cgroup-manager=disabled run --preserve-fds=2 -b $B"
chmod 1777 /tmp

# The mechanics with fds root opened (a dedicated VF, bound with its tenant's token)
tok=$("$CTL" tenant show-token ded)
vf=$(vfs_of $IGB | head -1)
wait_state "$vf" free 20
node=/dev/vfio/devices/$(ls $SYS/$vf/vfio-dev)
bundle /usr/lib/vfbroker-vm/bin/vf-probe --iommufd --isolated --token "$tok"
t0=$(cut -d' ' -f1 /proc/uptime)
as_nobody $CRUN vfb-root-fds 3<>/dev/iommu 4<>"$node"
res $? "crun: uid 65534's rootless container binds and uses $vf from root's fds (--preserve-fds=2, ded's token)"
echo "# crun run took $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN {print b - a}') s"
wait_state "$vf" free 20; res $? "crun: $vf free in the broker afterwards (is $(vf_state "$vf"))"

# The same from the broker: vfbrokerctl run hands fds 3 and 4 to crun, which
# keeps them for the container (the recipe in README.md, "Containers")
as_nobody "$CTL" run --tenant ded --api iommufd -- $CRUN vfb-ded
res $? "crun: run --tenant ded --api iommufd -- crun run --preserve-fds=2: the container binds the VF with ded's token"
for v in $(vfs_of $IGB); do wait_state "$v" free 30; done
if [ -e /sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_arm ] && [ "$(driver_of $NVME)" = vfbroker_vfio_pci ]; then
        # a pool VF on the variant driver: the container needs no token at all
        bundle /usr/lib/vfbroker-vm/bin/vf-probe --iommufd --isolated
        as_nobody "$CTL" run --tenant demo --pf $NVME --api iommufd -- $CRUN vfb-demo
        res $? "crun: run --tenant demo --api iommufd on $NVME ($(driver_of $NVME)): the container binds the VF without a token"
        for v in $(vfs_of $NVME); do wait_state "$v" free 30; done
else
        echo "ok - crun: a pool VF of vfbroker_vfio_pci without a token # SKIP the nvme PF is not on a vfbroker_vfio_pci with vfbroker_arm"
fi
n=$("$CTL" list-leases --json | tr '{}' '\n\n' | grep -c '"State": *"active"')
[ "$n" = 0 ]; res $? "crun: no active lease left (got $n)"
exit 0
