#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs systemd-analyze verify on vfbroker.service (as configured by meson) and
# vfbroker.socket, and checks the offline security exposure stays low.
# Usage: test-units.sh SYSTEMD_ANALYZE CONFIGURED_SERVICE SOCKET BUILT_VFBROKERD [VARLINK_SOCKET]
set -eu

analyze=$1 service=$2 socket=$3 daemon=$4 varlink_socket=${5:-}
# The exposure this unit may not exceed (0 best, 10 worst; it scores 1.2).
max_exposure=${VFBROKER_MAX_EXPOSURE:-1.5}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ExecStart= points at the install location, which need not exist yet:
# verify the unit with the daemon we just built in its place.
sed "s|^ExecStart=.*|ExecStart=$daemon|" "$service" > "$tmp/vfbroker.service"
cp "$socket" "$tmp/vfbroker.socket"
units="$tmp/vfbroker.socket"
if [ -n "$varlink_socket" ]; then
        cp "$varlink_socket" "$tmp/vfbroker-varlink.socket"
        units="$units $tmp/vfbroker-varlink.socket"
fi
grep -q "^ExecStart=$daemon\$" "$tmp/vfbroker.service"

# verify prints problems but only fails on some; treat any output as failure.
out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=warning "$analyze" verify --man=no \
        $units "$tmp/vfbroker.service" 2>&1) || {
        echo "$out"; echo "systemd-analyze verify failed"; exit 1; }
# Lines about the host (not these units) are noise in a container.
problems=$(printf '%s\n' "$out" | grep -v -e '^$' \
        -e 'Failed to open /dev/tty' -e 'Failed to connect to bus' \
        -e 'proc_pid_' -e 'cgroup' -e 'Unit is bound to inactive unit' || true)
if [ -n "$problems" ]; then
        printf '%s\n' "$problems"
        echo "systemd-analyze verify reported problems"
        exit 1
fi
echo "systemd-analyze verify: no problems"

"$analyze" security --offline=true --no-pager "$tmp/vfbroker.service" > "$tmp/security.txt" 2>&1 || true
cat "$tmp/security.txt"
score=$(sed -n 's/.*Overall exposure level for vfbroker.service: \([0-9.]*\).*/\1/p' "$tmp/security.txt")
if [ -z "$score" ]; then
        echo "no exposure score in systemd-analyze security output"
        exit 1
fi
if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
        echo "exposure $score is above $max_exposure: a hardening line was lost"
        exit 1
fi
echo "exposure $score (at most $max_exposure)"
