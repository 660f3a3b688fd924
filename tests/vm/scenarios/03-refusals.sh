#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 3: refusals. A user polkit refuses gets NotAuthorized; a tenant the
# caller does not belong to is refused; the quota holds; NoFreeVF when the
# pool is empty. vfbrokerctl's exit codes: 3 not authorized, 4 no VF/quota.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
out=$(as_user daemon "$CTL" run --tenant demo -- "$PROBE" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 3 ]; res $? "uid 1 (daemon, member of demo, refused by polkit): NotAuthorized, exit 3 (got $rc)"
out=$(as_nobody "$CTL" run --tenant other -- "$PROBE" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 3 ]; res $? "nobody asks for tenant 'other' it does not belong to: refused, exit 3 (got $rc)"
out=$(as_nobody "$CTL" run --tenant nosuch -- "$PROBE" 2>&1); rc=$?
[ $rc = 6 ]; res $? "unknown tenant: exit 6 (got $rc)"
# demo's quota is 2
out=$(as_nobody "$CTL" run --tenant demo --count 3 -- "$PROBE" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 4 ]; res $? "nobody asks demo (quota 2) for 3 VFs: QuotaExceeded, exit 4 (got $rc)"
# The next check assumes demo holds nothing: the refused run released what it
# got, and anything ending only with its exit (its pidfd) must be over too.
demo_active() { "$CTL" list-leases --json | tr '{}' '\n\n' | grep '"Tenant": *"demo"' | grep -c '"State": *"active"'; }
i=0; while [ "$(demo_active)" != 0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ $i -gt 0 ] && { echo "# demo still had active leases $((i * 100)) ms after the refused run:"; "$CTL" list-leases | sed 's/^/#   /'; }
bg_user 65534 "$CTL" run --tenant demo --count 2 -- sleep 30; holder=$!
sleep 3
out=$(as_nobody "$CTL" run --tenant demo -- "$PROBE" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 4 ]; res $? "demo holds 2 VFs, a third acquire: QuotaExceeded, exit 4 (got $rc)"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
# the VFs demo held are draining until sleep is gone: wait for all four
for vf in $(vfs_of $NVME); do wait_state "$vf" free 30; done
# empty the pool (nvme, 4 VFs) with tenant "big", then demo finds none free
bg_user 65534 "$CTL" run --tenant big --count 4 -- sleep 30; holder=$!
sleep 4
free=$("$CTL" list-vfs --json | tr '{' '\n' | grep "\"PhysicalFunction\":\"$NVME\"" | grep -c '"State":"free"')
[ "$free" = 0 ]; res $? "big leased all 4 pool VFs (free: $free)"
out=$(as_nobody "$CTL" run --tenant demo -- "$PROBE" 2>&1); rc=$?
echo "$out" | sed 's/^/#   /'
[ $rc = 4 ]; res $? "pool empty: NoFreeVF, exit 4 (got $rc)"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
exit 0
