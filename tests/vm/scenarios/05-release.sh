#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 5: a VF returns to free on release and when its holder dies, but
# only once nobody holds its fds: a grandchild that keeps them leaves it draining.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
leases() { "$CTL" list-leases --json | grep -o '"Id"' | wc -l; }
leased_vf() { "$CTL" list-leases --json | tr '{' '\n' | sed -n 's/.*"VirtualFunction":"\([^"]*\)".*/\1/p' | head -1; }

# release: run exits, the lease ends, the VF is free again
bg_user 65534 "$CTL" run --tenant demo -- "$PROBE" --hold 4 >/dev/null; p=$!
sleep 2; vf=$(leased_vf); echo "# leased $vf"
[ -n "$vf" ] && [ "$(vf_state "$vf")" = leased ]; res $? "VF $vf is leased while vf-probe runs"
wait $p; res $? "run --hold exits 0"
wait_state "$vf" free 20; res $? "VF $vf free after the release (is $(vf_state "$vf"))"

# holder death: kill -9 of vfbrokerctl; its child still holds the fds
bg_user 65534 "$CTL" run --tenant demo -- "$PROBE" --hold 30 >/dev/null; p=$!
sleep 2; vf=$(leased_vf); child=$(pgrep -P $p)   # vf-probe: the child of run (-f would match run too)
kill -9 $p; wait $p 2>/dev/null
sleep 2
st=$(vf_state "$vf")
[ "$st" = draining ] || [ "$st" = leased ]; res $? "VF $vf after kill -9 of the client, child $child still holding: not free (is $st)"
[ -n "$child" ]; res $? "run's child vf-probe found (pid ${child:-none})"
[ -n "$child" ] && kill -9 "$child"
# well before its 30 s hold ends: free because the child is gone
wait_state "$vf" free 10; res $? "VF $vf free once the child holding its fds is gone (is $(vf_state "$vf"))"
[ "$(leases)" = 0 ]; res $? "no lease left"

# a grandchild keeps the fds after run has released: draining until it exits
rm -f /tmp/gc.pid; chmod 1777 /tmp
as_nobody "$CTL" run --tenant demo -- "$PROBE" --grandchild 60 --pidfile /tmp/gc.pid >/dev/null; rc=$?
res $rc "run with a grandchild that keeps the fds exits 0"
sleep 1
vf=$(grep -l . /dev/null 2>/dev/null)
vf=$("$CTL" list-vfs --json | tr '{' '\n' | grep '"State":"draining"' | sed -n 's/.*"Address":"\([^"]*\)".*/\1/p' | head -1)
[ -n "$vf" ]; res $? "the VF is draining while the grandchild holds it (${vf:-none})"
[ -s /tmp/gc.pid ] && kill -9 "$(cat /tmp/gc.pid)"
[ -n "$vf" ] && { wait_state "$vf" free 30; res $? "VF $vf free after the grandchild exits (is $(vf_state "$vf"))"; }
exit 0
