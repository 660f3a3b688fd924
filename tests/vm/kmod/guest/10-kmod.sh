#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Busybox guest: loads vfbroker_vfio_pci, binds both emulated PFs to it, runs
# the token and revocation checks (/kmod/kmodtest), then unloads the module.
#
# Payload (tests/vm/kmod/run): /kmod/<uname -r>/vfbroker_vfio_pci.ko and the
# static /kmod/kmodtest. Prints "ok - ..." / "not ok - ..." for tools/vm.
res() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2${3:+ # $3}"; fi; }
D=/sys/bus/pci/devices
M=vfbroker_vfio_pci
NVME=0000:01:00.0 IGB=0000:02:00.0
KO=/kmod/$(uname -r)/$M.ko
T0=a0a0a0a0-0000-4000-8000-000000000000

drv_of() { basename "$(readlink $D/$1/driver 2>/dev/null)" 2>/dev/null; }
loaded() { grep -q "^$M " /proc/modules; }

[ -f "$KO" ]; res $? "module built for $(uname -r) is in the payload" || exit 1
# modules on Debian's kernels, built in on the debug kernel (debug-kernel)
have_mod() { modprobe "$1" 2>/dev/null || grep -qE "/$2\.ko\$" "/lib/modules/$(uname -r)/modules.builtin"; }
have_mod vfio_pci_core vfio-pci-core; res $? "vfio_pci_core loaded or built in"
# busybox modprobe ignores softdeps: the type1 backend is loaded by hand
have_mod vfio_iommu_type1 vfio_iommu_type1; res $? "vfio_iommu_type1 loaded or built in"
# from here on every kernel message is ours: the log check at the end reads them
dmesg -c > /tmp/boot-dmesg.txt
grep -q 'KernelAddressSanitizer initialized' /tmp/boot-dmesg.txt && echo "# KASAN is active on this kernel"
[ -e /proc/lockdep_stats ] && echo "# lockdep is active on this kernel ($(grep 'debug_locks:' /proc/lockdep_stats | tr -s ' '))"
insmod "$KO" enable_sriov=1; res $? "insmod $M enable_sriov=1"
[ "$(cat /sys/module/$M/parameters/enable_sriov)" = Y ]; res $? "$M enable_sriov is Y"

for pf in $NVME $IGB; do
        echo $M > $D/$pf/driver_override
        [ -e $D/$pf/driver ] && echo $pf > $D/$pf/driver/unbind
        echo $pf > /sys/bus/pci/drivers_probe
        [ "$(drv_of $pf)" = $M ]; res $? "PF $pf bound to $M through driver_override (got '$(drv_of $pf)')"
done

# VFs follow the PF's ops name by themselves
echo 2 > $D/$NVME/sriov_numvfs; res $? "$NVME: sriov_numvfs=2"
sleep 1
VF0=$(basename "$(readlink $D/$NVME/virtfn0)")
VF1=$(basename "$(readlink $D/$NVME/virtfn1)")
[ "$(drv_of $VF0)" = $M ] && [ "$(drv_of $VF1)" = $M ]
res $? "VFs $VF0 and $VF1 bound to $M by themselves (got '$(drv_of $VF0)', '$(drv_of $VF1)')"
echo 0 > $D/$NVME/sriov_numvfs; res $? "$NVME: sriov_numvfs=0"

echo 0 > /sys/module/$M/parameters/enable_sriov
echo 2 > $D/$NVME/sriov_numvfs 2>/dev/null
[ "$(cat $D/$NVME/sriov_numvfs)" = 0 ]; res $? "with enable_sriov=0 the module refuses to enable VFs"
echo 1 > /sys/module/$M/parameters/enable_sriov

if [ -d /dev/vfio/devices ]; then
        timeout 120 /kmod/kmodtest cdev $NVME; res $? "revocation of a VF bound through its cdev and iommufd ($NVME)"
else
        echo "# cdev path (match_token_uuid 6.17+, ATTACH_IOMMUFD_PT): not on this kernel, no /dev/vfio/devices (Debian's kernels have CONFIG_IOMMUFD off); the 7-iommufd kernel runs it"
fi
# where it cannot arm (no iommufd, or before 6.17) this checks the EOPNOTSUPP
timeout 120 /kmod/kmodtest arm $NVME; res $? "arming a VF for a bind without token through one iommufd ($NVME)"

# iommufd and a kernel that checks the token on cdev bind (6.17+): the module arms
arm_ok() {
        r=$(uname -r); maj=${r%%.*}; min=${r#*.}; min=${min%%.*}
        [ -e /dev/iommu ] && { [ "$maj" -gt 6 ] || { [ "$maj" = 6 ] && [ "$min" -ge 17 ]; }; }
}
shmem() { sed -n 's/^Shmem: *\([0-9]*\) kB/\1/p' /proc/meminfo; }

# vfbroker.kmod=races on the kernel command line (tests/vm/kmod/run --smp 2): only the
# checks with races in them, the rest ran with one vCPU already
ONLY=$(sed -n 's/.*vfbroker\.kmod=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "# $(grep -c ^processor /proc/cpuinfo) vCPUs${ONLY:+, only: $ONLY}"
LP_ROUNDS=20
[ -n "$ONLY" ] && LP_ROUNDS=30
if [ -z "$ONLY" ]; then
        timeout 120 /kmod/kmodtest tokens $NVME; res $? "token matrix on $NVME"
fi
timeout 120 /kmod/kmodtest revoke $NVME; res $? "revocation on $NVME (nvme VF)"
timeout 120 /kmod/kmodtest revoke $IGB; res $? "revocation on $IGB (igb VF)"
timeout 300 /kmod/kmodtest race $NVME; res $? "revocation racing with close on $NVME"
# issue 10: ioeventfds, low power with wakeup, revocation while an unbind waits
timeout 120 /kmod/kmodtest ioeventfd $IGB; res $? "ioeventfds armed before a revocation write nothing after it ($IGB, igb VF)"
timeout 400 /kmod/kmodtest lowpower $IGB $LP_ROUNDS; res $? "low power with wakeup cannot give the BAR back after a revocation ($IGB, igb VF)"
timeout 400 /kmod/kmodtest lowpower $NVME $LP_ROUNDS; res $? "low power with wakeup cannot give the BAR back after a revocation ($NVME, nvme VF)"
if [ -z "$ONLY" ]; then
        timeout 300 /kmod/kmodtest unbind $NVME; res $? "revocation while the VF's unbind or sriov_numvfs=0 waits ($NVME)"
fi

# --- module unload --------------------------------------------------------------------
echo 2 > $D/$NVME/sriov_numvfs; res $? "$NVME: sriov_numvfs=2 for the unload checks"
sleep 1
VF0=$(basename "$(readlink $D/$NVME/virtfn0)")
echo $T0 > $D/$VF0/vfbroker_token
rm -f /tmp/held
/kmod/kmodtest hold $VF0 $T0 /tmp/held &
HOLDER=$!
i=0; while [ ! -e /tmp/held ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /tmp/held ]; res $? "a holder has $VF0 open"
timeout 10 sh -c "echo 1 > $D/$VF0/vfbroker_revoke"; res $? "revoke $VF0 under the holder"
timeout 20 rmmod $M; rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && loaded
res $? "rmmod with a revoked VF still open is refused at once, no hang (rmmod exit $rc, module still loaded)"
kill $HOLDER; wait $HOLDER 2>/dev/null
[ "$(drv_of $VF0)" = $M ]; res $? "after the holder is gone $VF0 is still bound to $M"

if arm_ok; then
        # the module's last iommufd reference: its IOAS maps a 16 MiB memfd,
        # so Shmem shows whether unloading let it go
        S0=$(shmem)
        /kmod/kmodtest armleave $VF0; res $? "arm $VF0 for an iommufd only the module holds then"
        S1=$(shmem)
fi
timeout 60 rmmod $M; rc=$?
[ $rc = 0 ] && ! loaded; res $? "rmmod with the PFs and two VFs bound succeeds (exit $rc)"
if arm_ok; then
        i=0; S2=$(shmem)
        while [ $((S1 - S2)) -lt 12288 ] && [ $i -lt 100 ]; do sleep 0.02; i=$((i + 1)); S2=$(shmem); done
        [ $((S1 - S0)) -ge 12288 ] && [ $((S1 - S2)) -ge 12288 ]
        res $? "unloading with an armed VF drops the module's iommufd reference (Shmem $S0, armed $S1, unloaded $S2 kB)"
fi
[ -z "$(drv_of $NVME)" ] && [ -z "$(drv_of $IGB)" ] && [ ! -e $D/$NVME/virtfn0 ]
res $? "after unload the PFs are unbound and their VFs are gone"

insmod "$KO" enable_sriov=1 && echo $NVME > /sys/bus/pci/drivers_probe && [ "$(drv_of $NVME)" = $M ] \
        && echo 2 > $D/$NVME/sriov_numvfs && timeout 60 rmmod $M && ! loaded
res $? "load, bind, enable VFs and unload again"

# --- kernel log -----------------------------------------------------------------------
dmesg > /tmp/kmod-dmesg.txt
echo "--- kernel log since insmod:"
cat /tmp/kmod-dmesg.txt
bad=$(grep -E 'WARNING:|BUG:|Oops|lockdep|possible circular|possible recursive|KASAN|UBSAN|INFO: task .* blocked|general protection|Call Trace' /tmp/kmod-dmesg.txt)
[ -z "$bad" ]; res $? "kernel log has no WARNING, BUG, lockdep, KASAN or hung-task report" "$(echo "$bad" | head -3 | tr '\n' ' ')"
grep -q "revoked: open fds fail with ENODEV" /tmp/kmod-dmesg.txt
res $? "kernel log records the revocation"
# lockdep switches itself off after its first report: still on means it saw nothing
if [ -e /proc/lockdep_stats ]; then
        grep -Eq 'debug_locks: +1' /proc/lockdep_stats
        res $? "lockdep stayed on through every check (no report, debug_locks 1)"
fi
exit 0
