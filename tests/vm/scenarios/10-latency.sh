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
exit 0
