#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 16: stock QEMU 10 on a VF from the broker, the way a user runs it:
# `vfbrokerctl run --tenant demo --api iommufd --qemu -- qemu-system-x86_64 ...`
# as uid 65534, with the pool PF on vfbroker_vfio_pci (scenario 11 put it there); the
# driver lets exactly the leased VF be bound without its token. QMP query-pci
# shows the VF's IDs; QEMU had no node by path. Then the life cycle on the
# cdev path: release, holder death, systemctl restart and kill -9 of the
# daemon while a holder binds the VF, revocation (the holder's device fd
# gets ENODEV). Only on a kernel with the VFIO cdev.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
if [ ! -d /dev/vfio/devices ]; then
        echo "ok - stock QEMU on a leased VF # SKIP not this kernel: $(uname -r) has no /dev/vfio/devices (no VFIO cdev)"
        exit 0
fi
KMOD=vfbroker_vfio_pci
ARM=/sys/bus/pci/drivers/$KMOD/vfbroker_arm
chmod 1777 /tmp
leased_vf() { "$CTL" list-leases --json | tr '{}' '\n\n' | grep '"State": *"active"' \
        | sed -n 's/.*"VirtualFunction": *"\([^"]*\)".*/\1/p' | head -1; }
lease_of() { "$CTL" list-leases --json | tr '{}' '\n\n' | grep "\"VirtualFunction\": *\"$1\"" | grep '"State": *"active"' \
        | sed -n 's/.*"Id": *"\([0-9a-f]*\)".*/\1/p' | head -1; }
# ids_of FILE QDEV: "vendor device" of QDEV in the last query-pci reply in
# FILE (QMP prints members in any order: the device is the innermost object
# with its qdev_id, its IDs are in its "id" member)
ids_of() {
        awk -v q="\"qdev_id\": \"$2\"" '/"return": \[/ { l = $0 }
        END {
                n = 0
                for (i = 1; i <= length(l); i++) {
                        c = substr(l, i, 1)
                        if (c == "{") { st[++n] = i; continue }
                        if (c != "}") continue
                        s = substr(l, st[n], i - st[n] + 1); n--
                        if (!index(s, q)) continue
                        if (match(s, /"id": \{[^}]*\}/)) {
                                id = substr(s, RSTART, RLENGTH)
                                v = id; sub(/.*"vendor": /, "", v); sub(/[^0-9].*/, "", v)
                                d = id; sub(/.*"device": /, "", d); sub(/[^0-9].*/, "", d)
                                printf "0x%04x 0x%04x\n", v, d
                        }
                        exit
                }
        }' "$1"
}
# QEMU under the broker, QMP on a FIFO: qemu_start NAME TENANT PF, then
# qmp NAME COMMAND waits for COMMAND's answer, qemu_stop NAME quits. A QEMU
# that exited makes the write fail (EPIPE), not the scenario (SIGPIPE).
qemu_start() {
        rm -f /tmp/$1.in /tmp/$1.out; mkfifo -m 666 /tmp/$1.in
        (ulimit -l 262144; exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$CTL" run --tenant "$2" --pf "$3" --api iommufd --qemu -- \
                qemu-system-x86_64 -M q35 -accel tcg -S -m 64 -display none -nodefaults -qmp stdio \
                < /tmp/$1.in > /tmp/$1.out 2> /tmp/$1.err) &
        QPID=$!
        exec 7> /tmp/$1.in
        qmp "$1" '{"execute": "qmp_capabilities"}'
}
qmp() {
        n0=$(grep -c '"return"\|"error"' /tmp/$1.out 2>/dev/null)
        (trap '' PIPE; echo "$2" >&7) 2>/dev/null || return 1
        i=0
        while [ "$(grep -c '"return"\|"error"' /tmp/$1.out 2>/dev/null)" = "$n0" ]; do
                i=$((i + 1)); [ $i -gt 150 ] && return 1
                kill -0 $QPID 2>/dev/null || return 1
                sleep 0.2
        done
        tail -1 /tmp/$1.out | grep -q '"return"'
}
qemu_stop() { qmp "$1" '{"execute": "quit"}'; exec 7>&-; wait $QPID; }
qemu_pid() { pgrep -u 65534 -n -f 'qemu-system-x86_64.*vfbroker-iommufd'; }
# denied PATH: uid 65534 cannot open it for reading and writing
denied() { as_nobody sh -c 'exec 3<>"$1"' sh "$1" 2>&1 | grep -q 'Permission denied'; }

[ "$(driver_of $NVME)" = $KMOD ]; res $? "qemu: the pool PF $NVME is on $KMOD (is $(driver_of $NVME))"
if [ ! -e "$ARM" ]; then
        # the daemon refuses the cdev path on a module that cannot arm a VF
        out=$(as_nobody "$CTL" run --tenant demo --pf $NVME --api iommufd -- true 2>&1); rc=$?
        printf '%s\n' "$out" | sed 's/^/#   /'
        [ $rc != 0 ] && printf '%s\n' "$out" | grep -q vfbroker_arm
        res $? "qemu: the loaded $KMOD has no vfbroker_arm: NotSupported, naming it (exit $rc)"
        echo "ok - qemu: stock QEMU binds a leased VF of $KMOD # SKIP the loaded $KMOD has no vfbroker_arm attribute"
else
        for vf in $(vfs_of $NVME); do wait_state "$vf" free 30; done
        t0=$(cut -d' ' -f1 /proc/uptime)
        qemu_start q1 demo $NVME; rc=$?
        echo "# QEMU up and answering QMP after $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN {print b - a}') s"
        res $rc "qemu: uid 65534's stock QEMU 10 under run --tenant demo --api iommufd --qemu realized the VF (QMP answers)" \
                "$(tail -3 /tmp/q1.err | tr '\n' ' ')"
        sed 's/^/#   qemu: /' /tmp/q1.err
        vf=$(leased_vf); q=$(qemu_pid)
        qmp q1 '{"execute": "query-pci"}'
        ids=$(ids_of /tmp/q1.out vfbroker-vf0)
        want="$(cat $SYS/$vf/vendor) $(cat $SYS/$vf/device)"
        echo "# query-pci: vfbroker-vf0 has vendor/device $ids; sysfs of $vf: $want"
        [ -n "$ids" ] && [ "$ids" = "$want" ]; res $? "qemu: query-pci shows $vf's IDs on vfbroker-vf0 ($ids)"
        # by path QEMU could open nothing: uid 65534, no capabilities, root-only nodes
        node=/dev/vfio/devices/$(ls $SYS/$vf/vfio-dev); grp=/dev/vfio/$(basename "$(readlink $SYS/$vf/iommu_group)")
        echo "# QEMU pid $q: $(grep -E '^(Uid|CapEff)' /proc/$q/status | tr '\n\t' '  ')"
        ls -l /proc/$q/fd 2>/dev/null | grep -E 'vfio|iommu' | sed 's/^.* \([0-9]* ->\)/# QEMU fd \1/'
        stat -c '# %n %U:%G %a' /dev/iommu "$node" "$grp"
        [ "$(awk '/^Uid:/ {print $2}' /proc/$q/status)" = 65534 ] && grep -q '^CapEff:[[:space:]]*0*$' /proc/$q/status \
                && [ "$(stat -c '%u%g' /dev/iommu "$node" "$grp" | sort -u)" = 00 ] \
                && [ $(($(stat -c '0%a' /dev/iommu) & 07)) = 0 ] && [ "$(stat -c %a "$node")" = 600 ] && [ "$(stat -c %a "$grp")" = 600 ]
        res $? "qemu: QEMU runs as uid 65534 without capabilities; /dev/iommu, $node and $grp are root-only"
        denied /dev/iommu && denied "$node" && denied "$grp"
        res $? "qemu: uid 65534 cannot open /dev/iommu, $node or $grp by path (EACCES)"
        # the bound VF is QEMU's alone: a second open of its cdev cannot bind
        out=$("$PROBE" --direct-cdev "$vf" --check 2>&1); rc=$?
        printf '%s\n' "$out" | grep 'BIND' | sed 's/^/#   /'
        [ $rc = 4 ]; res $? "qemu: root's own open of $vf's cdev cannot bind it while QEMU has it (EINVAL, exit $rc)"

        # restart and kill -9 of the daemon while QEMU holds the VF
        for how in restart kill; do
                pid0=$(systemctl show -p MainPID --value vfbroker.service)
                if [ $how = restart ]; then systemctl restart vfbroker.service
                else kill -9 "$pid0"; sleep 2; "$CTL" status >/dev/null 2>&1; fi
                i=0; while ! broker_ready && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
                pid1=$(systemctl show -p MainPID --value vfbroker.service)
                [ "$pid0" != "$pid1" ] && [ "$(leased_vf)" = "$vf" ]; res $? "qemu: $how of vfbrokerd ($pid0 -> $pid1): the lease on $vf is back"
                qmp q1 '{"execute": "query-pci"}' && [ "$(ids_of /tmp/q1.out vfbroker-vf0)" = "$want" ]
                res $? "qemu: after the $how QEMU still answers and shows $vf"
                other=$(as_nobody "$CTL" run --tenant demo --pf $NVME --api iommufd -- sh -c 'echo $VFBROKER_VF0_ADDRESS' 2>/dev/null | tail -1)
                [ -n "$other" ] && [ "$other" != "$vf" ]; res $? "qemu: after the $how the next acquire gets another VF ($other, not $vf)"
        done
        qemu_stop q1; rc=$?
        res $rc "qemu: QEMU quits through QMP, run exits (exit $rc)"
        wait_state "$vf" free 30; res $? "qemu: $vf free once QEMU is gone (is $(vf_state "$vf"))"

        # armed means: for the iommufd the broker handed out, not for any bind
        # without a token. A leased VF whose holder has not bound it yet, and
        # a VF nobody leased, still refuse root's bind without the token.
        bg_user 65534 "$CTL" run --tenant demo --pf $NVME --api iommufd -- sleep 30 >/dev/null 2>&1; p=$!
        i=0; while [ -z "$(leased_vf)" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        vf=$(leased_vf); free=''
        for v in $(vfs_of $NVME); do [ "$v" != "$vf" ] && [ "$(vf_state "$v")" = free ] && { free=$v; break; }; done
        out=$("$PROBE" --direct-cdev "$vf" --check 2>&1); rc=$?
        printf '%s\n' "$out" | grep 'BIND' | sed 's/^/#   /'
        [ $rc = 3 ]; res $? "qemu: root's bind of the armed, not yet bound $vf through its own iommufd, no token: EACCES (exit $rc)"
        out=$("$PROBE" --direct-cdev "$free" --check 2>&1); rc=$?
        printf '%s\n' "$out" | grep 'BIND' | sed 's/^/#   /'
        [ $rc = 3 ]; res $? "qemu: root's bind of $free, which nobody leased, no token: EACCES (exit $rc)"
        kill $p 2>/dev/null; wait $p 2>/dev/null
        wait_state "$vf" free 30

        # revocation: the holder's device fd answers ENODEV from then on
        rm -f /tmp/rev.out
        bg_user 65534 "$CTL" run --tenant demo --pf $NVME --api iommufd -- "$PROBE" --iommufd --hold 60 > /tmp/rev.out 2>&1; p=$!
        i=0; while ! grep -q 'IOMMU_IOAS_MAP' /tmp/rev.out && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
        vf=$(leased_vf); lease=$(lease_of "$vf")
        check "qemu: root revokes lease $lease of $vf" "$CTL" revoke "$lease"
        wait $p; rc=$?
        grep -v '^ok - ' /tmp/rev.out | sed 's/^/#   /'
        [ $rc = 12 ] && grep -q 'No such device' /tmp/rev.out; res $? "qemu: the holder's device fd gets ENODEV after the revocation (vf-probe exit $rc)"
        wait_state "$vf" free 30; res $? "qemu: $vf free after the revoked holder exits (is $(vf_state "$vf"))"
fi

# The life cycle on the cdev path with a token-aware holder on the dedicated
# PF (tenant ded): it works on every module, so it runs whatever is loaded.
tok=$("$CTL" tenant show-token ded)
rm -f /tmp/go /tmp/held.out
bg_user 65534 "$CTL" run --tenant ded --api iommufd -- "$PROBE" --iommufd --token "$tok" --hold 120 --until /tmp/go > /tmp/held.out 2>&1; p=$!
i=0; while ! grep -q 'IOMMU_IOAS_MAP' /tmp/held.out && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
vf=$(leased_vf)
[ -n "$vf" ] && [ "$(vf_state "$vf")" = leased ]; res $? "cycle: ded's VF $vf is leased while vf-probe binds it"
for how in restart kill; do
        pid0=$(systemctl show -p MainPID --value vfbroker.service)
        if [ $how = restart ]; then systemctl restart vfbroker.service
        else kill -9 "$pid0"; sleep 2; "$CTL" status >/dev/null 2>&1; fi
        i=0; while ! broker_ready && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
        pid1=$(systemctl show -p MainPID --value vfbroker.service)
        [ "$pid0" != "$pid1" ] && [ "$(leased_vf)" = "$vf" ]; res $? "cycle: $how of vfbrokerd ($pid0 -> $pid1): the lease on $vf is back"
        other=$(as_nobody "$CTL" run --tenant ded --api iommufd -- sh -c 'echo $VFBROKER_VF0_ADDRESS' 2>/dev/null | tail -1)
        [ -n "$other" ] && [ "$other" != "$vf" ]; res $? "cycle: after the $how the next acquire gets another VF ($other, not $vf)"
done
touch /tmp/go; wait $p; rc=$?
grep -v '^ok - ' /tmp/held.out | sed 's/^/#   /'
[ $rc = 0 ] && [ "$(grep -c '^ok - .*config space read' /tmp/held.out)" = 2 ]
res $? "cycle: the holder used $vf across both, before and after (vf-probe exit $rc)"
wait_state "$vf" free 30; res $? "cycle: release: $vf free after run exits (is $(vf_state "$vf"))"

# holder death: kill -9 of vfbrokerctl; vf-probe, its child, still has the VF bound
bg_user 65534 "$CTL" run --tenant ded --api iommufd -- "$PROBE" --iommufd --token "$tok" --hold 30 > /tmp/held.out 2>&1; p=$!
i=0; while ! grep -q 'IOMMU_IOAS_MAP' /tmp/held.out && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
# vf-probe is run's own child ($p is run: setpriv execs it)
vf=$(leased_vf); child=$(pgrep -P $p)
kill -9 $p; wait $p 2>/dev/null
sleep 2
st=$(vf_state "$vf")
[ "$st" = draining ] || [ "$st" = leased ]; res $? "cycle: $vf after kill -9 of run, vf-probe $child still binding it: not free (is $st)"
[ -n "$child" ] && kill -9 "$child"
wait_state "$vf" free 30; res $? "cycle: $vf free once the bound holder is gone (is $(vf_state "$vf"))"
n=$("$CTL" list-leases --json | tr '{}' '\n\n' | grep -c '"State": *"active"')
[ "$n" = 0 ]; res $? "cycle: no active lease left (got $n)"
exit 0
