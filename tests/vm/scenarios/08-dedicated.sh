#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 8: a dedicated PF's token is given to its tenant only, and it opens
# the PF's VFs directly (what DPDK's --vfio-vf-token does).
. /usr/lib/vfbroker-vm/lib.sh
require_broker
tok=$(as_nobody "$CTL" tenant show-token ded 2>&1); rc=$?
echo "# ded token: $(echo "$tok" | cut -c1-8)..."
res $rc "nobody (member of ded) reads ded's token"
out=$(as_nobody "$CTL" tenant show-token demo 2>&1); rc=$?; echo "# $out"
[ $rc != 0 ]; res $? "nobody cannot read the token of demo, which has no dedicated PF (exit $rc)"
out=$(as_user daemon "$CTL" tenant show-token ded 2>&1); rc=$?; echo "# $out"
[ $rc != 0 ]; res $? "uid 1 (not in ded) cannot read ded's token (exit $rc)"
vf=$(vfs_of $IGB | sed -n 2p)
wait_state "$vf" free 20
out=$("$PROBE" --direct "$vf" --token "$tok" --check 2>&1); rc=$?
echo "$out" | grep -v '^ok - \|^not ok - ' | sed 's/^/# /'
echo "$out" | grep '^ok - \|^not ok - '
[ $rc = 0 ]; res $? "direct open of $vf with ded's token works and the device answers"
vf=$(vfs_of $NVME | head -1)
wait_state "$vf" free 20
out=$("$PROBE" --direct "$vf" --token "$tok" 2>&1); rc=$?; echo "# $out"
[ $rc = 3 ]; res $? "ded's token does not open a pool VF ($vf): EACCES (exit $rc)"
exit 0
