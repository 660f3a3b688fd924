#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 4: the VF token really protects a VF: opening a free VF's group
# directly, even as root, fails with EACCES without the token or with a wrong one.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
for pf in $NVME $IGB; do
        vf=$(vfs_of $pf | head -1)
        wait_state "$vf" free 20; res $? "VF $vf of $pf is free"
        out=$("$PROBE" --direct "$vf" 2>&1); rc=$?
        echo "# $out"
        [ $rc = 3 ]; res $? "root opens VF $vf directly without a token: EACCES (exit $rc)"
        out=$("$PROBE" --direct "$vf" --token 00000000-1111-2222-3333-444444444444 2>&1); rc=$?
        echo "# $out"
        [ $rc = 3 ]; res $? "root opens VF $vf directly with a wrong token: EACCES (exit $rc)"
done
dmesg | grep -iE 'vf token' | tail -4 | sed 's/^/# dmesg: /'
exit 0
