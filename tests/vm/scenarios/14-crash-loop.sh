#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 14: a burst of crashes during start-up does not leave the broker
# down: vfbrokerd is killed with SIGKILL as soon as each new one starts, more
# often than systemd's default start limit (5 in 10 s) allows, and then a
# client is served without anybody running `systemctl reset-failed`.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
kills=0 last='' i=0
while [ $kills -lt 8 ] && [ $i -lt 400 ]; do
        pid=$(systemctl show -p MainPID --value vfbroker.service)
        if [ -n "$pid" ] && [ "$pid" != 0 ] && [ "$pid" != "$last" ]; then
                kill -9 "$pid" 2>/dev/null && kills=$((kills + 1)) && last=$pid
        fi
        sleep 0.05; i=$((i + 1))
done
echo "# killed $kills vfbrokerd processes in a row, each right after it started"
[ $kills -ge 6 ]; res $? "more crashes in a row than the default start limit allows ($kills)"
# A client is served again by itself.
i=0; while ! as_nobody "$CTL" list-pfs >/dev/null 2>&1 && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
out=$(as_nobody "$CTL" list-pfs 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/#   /'
[ $rc = 0 ] && printf '%s\n' "$out" | grep -q "$IGB"; res $? "after the crashes a client is served, without reset-failed"
! systemctl is-failed -q vfbroker.socket; res $? "vfbroker.socket did not fail (no service-start-limit-hit)"
journalctl -b -u vfbroker.socket -u vfbroker.service --no-pager -o cat | grep -E 'start-limit|repeated too quickly' | sed 's/^/# journal: /'
! journalctl -b -u vfbroker.socket -u vfbroker.service --no-pager -o cat | grep -q 'start-limit-hit'
res $? "systemd never gave up on vfbroker"
exit 0
