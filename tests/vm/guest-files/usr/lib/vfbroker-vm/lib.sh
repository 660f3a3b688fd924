# SPDX-License-Identifier: LGPL-2.1-or-later
# Helpers for the VM suite's scenarios (sourced in the guest): where the build
# is installed, TAP result lines, running as another user, VF states.
. /usr/lib/vfbroker-vm/build.env
CTL=$BINDIR/vfbrokerctl
PROBE=/usr/lib/vfbroker-vm/bin/vf-probe
NVME=0000:01:00.0
IGB=0000:02:00.0
SYS=/sys/bus/pci/devices
export PATH=/usr/lib/vfbroker-vm/bin:$BINDIR:/usr/sbin:/usr/bin:/sbin:/bin

# res STATUS WHAT [WHY]: one TAP result for the suite runner
res() { if [ "$1" = 0 ]; then echo "ok - $2"; else echo "not ok - $2${3:+ # $3}"; fi; }
# check WHAT CMD...: runs CMD, one result from its exit status, output as diagnostics
check() {
        what=$1; shift
        out=$("$@" 2>&1); rc=$?
        [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/#   /'
        res $rc "$what" "exit status $rc"
        return $rc
}
as_user() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@"; }
as_nobody() { as_user 65534 "$@"; }
# bg_user USER CMD...: as_user in the background; $! is then CMD's own pid
# (setpriv execs it), so a kill reaches CMD, not a subshell
bg_user() { u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups -- "$@" & }
driver_of() { basename "$(readlink "$SYS/$1/driver" 2>/dev/null)" 2>/dev/null; }
vfs_of() { for v in "$SYS/$1"/virtfn*; do [ -e "$v" ] && basename "$(readlink "$v")"; done; }
# vf_state ADDR: the State column of `vfbrokerctl list-vfs --json` for ADDR
vf_state() {
        "$CTL" list-vfs --json | tr '{}' '\n\n' | grep "\"Address\": *\"$1\"" \
                | sed -n 's/.*"State": *"\([a-z]*\)".*/\1/p' | head -1
}
# wait_state ADDR STATE SECONDS
wait_state() {
        i=0
        while [ "$(vf_state "$1")" != "$2" ]; do
                i=$((i + 1)); [ $i -gt $(($3 * 5)) ] && return 1
                sleep 0.2
        done
}
# the broker up and both PFs ready (socket activation starts it on first use)
broker_ready() {
        "$CTL" status >/dev/null 2>&1 || return 1
        systemctl is-active -q vfbroker.service
}
# require_broker: one result; when the broker is not up a scenario stops here
# (one "not ok" with the journal) instead of timing out check after check
require_broker() {
        i=0
        while ! broker_ready; do
                i=$((i + 1))
                # a unit that failed (start limit hit) will not come back by waiting
                if [ $i -ge 20 ] || systemctl is-failed -q vfbroker.service; then
                        journalctl -b -u vfbroker.service --no-pager -o cat | tail -8 | sed 's/^/# journal: /'
                        res 1 "broker ready" "vfbroker.service is $(systemctl is-active vfbroker.service); the rest of this scenario is skipped"
                        exit 0
                fi
                sleep 0.5
        done
        res 0 "broker ready"
}
