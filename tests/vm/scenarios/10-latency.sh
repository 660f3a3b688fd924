#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 10: the latency comparison, measured in one run on this kernel:
# AcquireVF through the broker (root without polkit, uid 65534 with one polkit
# check) next to root opening the same VF directly. Numbers only, no pass/fail
# on time: the one result says the benchmark ran.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
B=/usr/lib/vfbroker-vm/bin/bench-acquire
if [ ! -x "$B" ]; then
        echo "ok - latency comparison # SKIP this build has no tests/bench/bench-acquire"
        exit 0
fi
for vf in $(vfs_of $IGB); do wait_state "$vf" free 30; done
out=$("$B" --tenant ded --pf $IGB --uid 65534 --iterations 30 2>&1); rc=$?
echo "$out" | sed "s/^/# latency $(uname -r): /"
res $rc "bench-acquire on the dedicated PF $IGB (tenant ded, 30 iterations)"

# The cdev path, where the kernel has it: AcquireVF with API iommufd next to
# root opening the VF's cdev and /dev/iommu itself. Each side is one process
# per iteration, timed from here: `vfbrokerctl run --api iommufd -- true`
# (connect, AcquireVF, the two fds, exec, release) against `vf-probe
# --direct-cdev` (the two opens). Medians of 11; the ratio is printed only.
if [ -d /dev/vfio/devices ]; then
        vf=$(vfs_of $IGB | head -1)
        for v in $(vfs_of $IGB); do wait_state "$v" free 30; done
        # median_us CMD...: the median wall time of 11 runs of CMD, in µs
        median_us() {
                : > /tmp/lat.us
                for i in 1 2 3 4 5 6 7 8 9 10 11; do
                        t0=$(date +%s%N)
                        "$@" >/dev/null 2>&1 || { echo fail; return 1; }
                        t1=$(date +%s%N)
                        echo $(((t1 - t0) / 1000)) >> /tmp/lat.us
                done
                sort -n /tmp/lat.us | sed -n 6p
        }
        broker=$(median_us "$CTL" run --tenant ded --pf $IGB --api iommufd -- true)
        nobody=$(median_us as_nobody "$CTL" run --tenant ded --pf $IGB --api iommufd -- true)
        direct=$(median_us "$PROBE" --direct-cdev "$vf")
        echo "# latency $(uname -r) iommufd: median µs of 11, a process each"
        echo "# latency $(uname -r) iommufd:   direct (root opens the cdev and /dev/iommu)  $direct"
        echo "# latency $(uname -r) iommufd:   broker, root, no polkit                     $broker   ratio to direct $(awk -v a="$broker" -v b="$direct" 'BEGIN {printf "%.2f", a / b}')"
        echo "# latency $(uname -r) iommufd:   broker, uid 65534, polkit                   $nobody   ratio to direct $(awk -v a="$nobody" -v b="$direct" 'BEGIN {printf "%.2f", a / b}')"
        [ "$broker" != fail ] && [ "$nobody" != fail ] && [ "$direct" != fail ]
        res $? "latency: AcquireVF with API iommufd and the direct cdev open on $IGB ran 11 times each"
fi
exit 0
