#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 15: the event loop never waits on the kernel. While SetNumVFs and
# RevokeLease are under way (each in the broker's worker), another client's
# calls are answered, and what they show says so: the PF "changing", the
# lease "revoking". Ordering, not timing: with blocking calls no answer could
# show those states at all.
. /usr/lib/vfbroker-vm/lib.sh
B="busctl --address=unix:path=/run/vfbroker/bus"
CALL="$B --json=short call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1"
require_broker

lease_on() { "$CTL" list-leases --json | tr '{}' '\n\n' | grep "\"PhysicalFunction\": *\"$1\"" | grep '"State": *"active"' \
        | sed -n 's/.*"Id": *"\([0-9a-f]*\)".*/\1/p' | head -1; }

# watch_for WORD BGPID METHOD: calls METHOD as nobody until its answer
# contains WORD or the background call BGPID is done; 0 if WORD was seen.
watch_for() {
        word=$1 bg=$2 method=$3 seen=1 n=0
        while kill -0 "$bg" 2>/dev/null; do
                if as_nobody $CALL "$method" 2>/dev/null | grep -q "\"$word\""; then seen=0; break; fi
                n=$((n + 1))
        done
        echo "# $method: '$word' $( [ $seen = 0 ] && echo seen || echo not seen) after $n other answers"
        return $seen
}

# SetNumVFs: the igb PF goes 4 -> 0 -> 4; each change is one job in the worker.
seen=1
for n in 0 4 0 4; do
        $CALL SetNumVFs su "$IGB" $n >/tmp/setnumvfs.out 2>&1 & bg=$!
        watch_for changing $bg ListPhysicalFunctions && seen=0
        wait $bg; rc=$?
        [ $rc = 0 ] || sed 's/^/#   /' /tmp/setnumvfs.out
done
res $seen "ListPhysicalFunctions was answered while SetNumVFs was under way (State changing)"
[ "$(cat $SYS/$IGB/sriov_numvfs)" = 4 ] && [ "$(vfs_of $IGB | wc -l)" = 4 ]; res $? "the igb PF has its 4 VFs again"
i=0; while [ "$(as_nobody $CALL FindVirtualFunctions 'a{sv}' 2 PhysicalFunction s $IGB State s free 2>/dev/null | grep -o '"Address"' | wc -l)" != 4 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ $i -lt 50 ]; res $? "its 4 VFs are free in the broker"

# RevokeLease, through the variant driver (scenario 11 left the nvme PF on it).
if [ "$(driver_of $NVME)" != vfbroker_vfio_pci ]; then
        res 1 "the nvme PF is on vfbroker_vfio_pci for the revocation check" "driver is $(driver_of $NVME)"
        exit 0
fi
seen=1
for round in 1 2 3; do
        bg_user 65534 "$CTL" run --tenant demo --pf $NVME -- "$PROBE" --hold 60 >/dev/null 2>&1; holder=$!
        i=0; lease=
        while [ -z "$lease" ] && [ $i -lt 50 ]; do
                lease=$(lease_on $NVME)
                sleep 0.2; i=$((i + 1))
        done
        [ -n "$lease" ] || { res 1 "a lease to revoke in round $round"; kill $holder 2>/dev/null; break; }
        $CALL RevokeLease s "$lease" >/tmp/revoke.out 2>&1 & bg=$!
        watch_for revoking $bg ListLeases && seen=0
        wait $bg; rc=$?
        [ $rc = 0 ] || sed 's/^/#   /' /tmp/revoke.out
        kill $holder 2>/dev/null; wait $holder 2>/dev/null
        [ $seen = 0 ] && break
done
res $seen "ListLeases was answered while RevokeLease was under way (State revoking)"
journalctl -b -u vfbroker.service --no-pager -o cat | grep -E 'Revocation of VF|sriov_numvfs=.* took' | tail -4 | sed 's/^/# journal: /'
exit 0
