#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 6: `systemctl restart vfbroker` and kill -9 of the daemon while a
# lease is held: the client keeps working, the PFs stay owned (fd store), the
# lease comes back, and its VF is not handed out twice.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
leased_vf() { "$CTL" list-leases --json | tr '{' '\n' | sed -n 's/.*"VirtualFunction":"\([^"]*\)".*/\1/p' | head -1; }
for how in restart kill; do
        # the client holds its VF until /tmp/go appears, i.e. across every check below
        rm -f /tmp/go
        bg_user 65534 "$CTL" run --tenant demo -- sh -c "i=0; while [ ! -e /tmp/go ] && [ \$i -lt 600 ]; do sleep 0.2; i=\$((i + 1)); done; exec $PROBE" > /tmp/held.out 2>&1; p=$!
        sleep 2; vf=$(leased_vf); pid0=$(systemctl show -p MainPID --value vfbroker.service)
        if [ $how = restart ]; then systemctl restart vfbroker.service
        else kill -9 "$pid0"; sleep 3; "$CTL" status >/dev/null 2>&1; fi
        i=0; while ! systemctl is-active -q vfbroker.service && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
        pid1=$(systemctl show -p MainPID --value vfbroker.service)
        [ "$pid0" != "$pid1" ] && systemctl is-active -q vfbroker.service; res $? "$how: a new vfbrokerd runs ($pid0 -> $pid1)"
        for pf in $NVME $IGB; do
                [ "$(driver_of $pf)" = vfio-pci ] && [ "$(cat $SYS/$pf/sriov_numvfs)" = 4 ]; res $? "$how: PF $pf still vfio-pci with 4 VFs"
        done
        [ "$(leased_vf)" = "$vf" ]; res $? "$how: the lease on $vf is restored"
        as_nobody "$CTL" run --tenant demo -- sh -c 'echo $VFBROKER_VF0_ADDRESS' > /tmp/second.out 2>&1
        other=$(tail -1 /tmp/second.out)
        [ -n "$other" ] && [ "$other" != "$vf" ]; res $? "$how: a second acquire gets another VF ($other, not $vf)"
        touch /tmp/go
        wait $p; rc=$?
        sed 's/^/#   /' /tmp/held.out
        [ $rc = 0 ]; res $? "$how: the client that held $vf across the $how still uses it (vf-probe exit $rc)"
done
journalctl -b -u vfbroker.service --no-pager -o cat | grep -iE 'fd store|lease' | tail -6 | sed 's/^/# journal: /'
exit 0
