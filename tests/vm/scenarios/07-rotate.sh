#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 7: token rotation. After RotateToken a new acquire works, the old
# token no longer opens a VF, the new one does (dedicated PF, tenant "ded").
. /usr/lib/vfbroker-vm/lib.sh
require_broker
old=$("$CTL" tenant show-token ded 2>&1); res $? "root reads ded's token"
check "root: tenant rotate ded" "$CTL" tenant rotate ded
new=$("$CTL" tenant show-token ded 2>&1)
[ -n "$new" ] && [ "$new" != "$old" ]; res $? "the token changed"
vf=$(vfs_of $IGB | head -1)
wait_state "$vf" free 20
out=$("$PROBE" --direct "$vf" --token "$old" 2>&1); rc=$?; echo "# $out"
[ $rc = 3 ]; res $? "direct open of $vf with the old token: EACCES (exit $rc)"
out=$("$PROBE" --direct "$vf" --token "$new" 2>&1); rc=$?; echo "# $out"
[ $rc = 0 ]; res $? "direct open of $vf with the new token works (exit $rc)"
wait_state "$vf" free 20
as_nobody "$CTL" run --tenant ded -- "$PROBE" > /tmp/rot.out 2>&1; rc=$?
sed 's/^/#   /' /tmp/rot.out
res $rc "nobody acquires from ded after the rotation"
as_nobody "$CTL" run --tenant demo -- true; res $? "nobody acquires from the pool (demo) after rotating ded"
exit 0
