#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 0: the guest is what the broker expects: systemd up, the system bus
# and polkitd running, vfio-pci loaded with enable_sriov from the build's
# modprobe.d, both SR-IOV PFs present, vfbroker.socket listening.
. /usr/lib/vfbroker-vm/lib.sh
echo "# kernel $(uname -r), build prefix $PREFIX"
systemctl is-active -q multi-user.target; res $? "multi-user.target reached"
systemctl is-active -q dbus.service; res $? "dbus.service active"
busctl --system call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority \
        org.freedesktop.DBus.Properties Get ss org.freedesktop.PolicyKit1.Authority BackendName >/dev/null 2>&1
res $? "polkitd answers on the system bus"
systemctl is-active -q polkit.service; res $? "polkit.service active"
[ -e /sys/module/vfio_pci ]; res $? "vfio-pci loaded (modules-load.d at boot, or the package's postinst)"
[ "$(cat /sys/module/vfio_pci/parameters/enable_sriov 2>/dev/null)" = Y ]; res $? "vfio_pci enable_sriov=Y (modprobe.d)"
[ -e /sys/module/vfio_iommu_type1 ]; res $? "vfio_iommu_type1 loaded"
for pf in $NVME $IGB; do
        t=$(cat $SYS/$pf/sriov_totalvfs 2>/dev/null)
        [ -n "$t" ] && [ "$t" -ge 4 ]; res $? "PF $pf has SR-IOV (totalvfs ${t:-none}, vendor $(cat $SYS/$pf/vendor 2>/dev/null), driver $(driver_of $pf))"
done
[ "$(ls /sys/kernel/iommu_groups | wc -l)" -gt 2 ]; res $? "intel-iommu is on ($(ls /sys/kernel/iommu_groups | wc -l) IOMMU groups)"
systemctl is-active -q vfbroker.socket; res $? "vfbroker.socket active"
[ -S /run/vfbroker/bus ]; res $? "/run/vfbroker/bus is a socket"
systemctl --failed --no-legend --plain | sed 's/^/# failed unit: /'
exit 0
