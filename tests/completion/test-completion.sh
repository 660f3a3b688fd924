#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Tests the bash completion of vfbrokerctl: sources it, fills COMP_WORDS and
# COMP_CWORD as bash would, and compares COMPREPLY. The static parts run
# against the real vfbrokerctl with no broker (which must stay silent), the
# broker's tenants, leases and PFs against a stand-in vfbrokerctl that prints
# fixed listings and records how it was called, and, as root, a tenant
# against a real vfbrokerd on a socket of its own.
# Usage: test-completion.sh COMPLETION-FILE VFBROKERCTL [VFBROKERD]
set -uo pipefail

completion=$1
real_ctl=$2
real_daemon=${3:-}
tmp=$(mktemp -d)
daemon_pid=
trap '[[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null; wait; rm -rf "$tmp"' EXIT
failures=0

# shellcheck source=/dev/null
source "$completion" || { echo "FAIL: cannot source $completion"; exit 1; }

# comp WORD... : completes the last word; prints the sorted candidates on one
# line. What the completion writes to stderr goes to $tmp/stderr.
comp() {
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _vfbrokerctl 2>>"$tmp/stderr"
        printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() {
        local want=$1 got
        shift
        got=$(comp "$@")
        if [[ $got == "$want" ]]; then
                echo "ok: '$*' -> '$got'"
        else
                echo "FAIL: '$*': expected '$want', got '$got'"
                failures=$((failures + 1))
        fi
}

# ---- static: the real vfbrokerctl, no broker behind the socket ----
mkdir "$tmp/bin" "$tmp/standin"
ln -s "$(realpath "$real_ctl")" "$tmp/bin/vfbrokerctl"
printf '#!/bin/sh\n' >"$tmp/bin/vfbtest-command" && chmod +x "$tmp/bin/vfbtest-command"
export PATH="$tmp/bin:$PATH"
export VFBROKER_SOCKET="$tmp/no-broker-here"

expect 'list-leases list-pfs list-tenants list-vfs release revoke run set-numvfs status tenant' vfbrokerctl ''
expect 'list-leases list-pfs list-tenants list-vfs' vfbrokerctl list-
expect '--help --json --no-legend --socket --system --version' vfbrokerctl --
expect 'list-pfs' vfbrokerctl --json list-p
expect '--json' vfbrokerctl status --j
expect 'create delete rotate show-token' vfbrokerctl tenant ''
expect '--force' vfbrokerctl tenant delete --f
expect '--group' vfbrokerctl tenant create acme --gr
expect 'root' vfbrokerctl tenant create acme --user roo
expect '--api --count --help --json --no-legend --numa-node --pf --qemu --socket --system --tenant --version' \
        vfbrokerctl run --tenant acme --
expect 'group iommufd' vfbrokerctl run --api ''
expect 'iommufd' vfbrokerctl run --api io
expect 'iommufd' vfbrokerctl run --tenant acme --api = io
expect 'group iommufd' vfbrokerctl run --api = ''
expect '--qemu' vfbrokerctl run --api iommufd --qe
expect '' vfbrokerctl run --count ''
expect 'vfbtest-command' vfbrokerctl run --tenant acme --qemu -- vfbtest-comm
expect '' vfbrokerctl run --tenant acme -- vfbtest-command --no-such-option-completed
# No broker: nothing to offer, and nothing printed over the user's prompt.
expect '' vfbrokerctl revoke ''
expect '' vfbrokerctl run --tenant ''
expect '' vfbrokerctl set-numvfs ''
if [[ -s $tmp/stderr ]]; then
        echo "FAIL: the completion wrote to stderr without a broker:"
        cat "$tmp/stderr"
        failures=$((failures + 1))
fi

# ---- from the broker: a stand-in vfbrokerctl with fixed listings ----
cat >"$tmp/standin/vfbrokerctl" <<EOF
#!/bin/bash
echo "\$*" >>"$tmp/calls"
case "\$*" in
*"--no-legend list-tenants") printf 'acme  2  0 config alice kvm\ndpdk 16  1 runtime -     -\n' ;;
*"--no-legend list-leases") printf '0123456789abcdef0123456789abcdef 0000:01:00.2 0000:01:00.0 dpdk 1000 42 - active\n' ;;
*"--no-legend list-pfs") printf '0000:01:00.0 enp1s0 vfio-pci pool - ready 4 8 3 - -\n0000:41:00.0 - vfbroker_vfio_pci pool - ready 2 7 2 per-vf-token,revocation -\n' ;;
*) exit 5 ;;
esac
EOF
chmod +x "$tmp/standin/vfbrokerctl"
export PATH="$tmp/standin:$PATH"

expect 'acme dpdk' vfbrokerctl run --tenant ''
expect 'dpdk' vfbrokerctl run --count 2 --tenant = d
expect 'acme' vfbrokerctl tenant show-token a
expect 'acme dpdk' vfbrokerctl tenant rotate ''
expect '' vfbrokerctl tenant rotate acme ''
expect '0123456789abcdef0123456789abcdef' vfbrokerctl revoke ''
expect '0123456789abcdef0123456789abcdef' vfbrokerctl release 01
expect '0000:01:00.0 0000:41:00.0' vfbrokerctl set-numvfs ''
expect '0000:41:00.0' vfbrokerctl run --tenant acme --pf 0000:4
expect '' vfbrokerctl set-numvfs 0000:01:00.0 ''
: >"$tmp/calls"
expect 'acme dpdk' vfbrokerctl --socket /run/other/bus tenant delete ''
expect '0123456789abcdef0123456789abcdef' vfbrokerctl --socket = /run/other/bus revoke ''
want=$'--socket /run/other/bus --no-legend list-tenants\n--socket /run/other/bus --no-legend list-leases'
if [[ $(cat "$tmp/calls") == "$want" ]]; then
        echo "ok: the broker named by --socket is asked"
else
        echo "FAIL: expected the calls"$'\n'"$want"$'\n'"got"$'\n'"$(cat "$tmp/calls")"
        failures=$((failures + 1))
fi

# ---- with the bash-completion package loaded: CMD's own completion ----
bash_completion=/usr/share/bash-completion/bash_completion
if [[ -r $bash_completion ]]; then
        got=$(
                # shellcheck source=/dev/null
                source "$bash_completion" >/dev/null 2>&1
                source "$completion"
                # CMD's own completion, which only the right offset reaches.
                complete -W 'alpha beta' vfbtest-command
                comp vfbrokerctl run --tenant acme -- vfbtest-command al
        )
        if [[ $got == alpha ]]; then
                echo "ok: CMD's arguments through _command_offset -> '$got'"
        else
                echo "FAIL: CMD's arguments with bash-completion loaded: expected 'alpha', got '$got'"
                failures=$((failures + 1))
        fi
else
        echo "skipped: CMD's arguments through _command_offset (no $bash_completion)"
fi

# ---- a real broker: the listing as vfbrokerctl prints it ----
if [[ -n $real_daemon && $(id -u) == 0 ]]; then
        export PATH="$tmp/bin:${PATH#"$tmp/standin:"}"
        mkdir "$tmp/state"
        : >"$tmp/empty.conf"
        # Root creates the tenant without polkit (RootSkipsPolkit=yes), so no
        # system bus is needed; no PFs, so no sysfs or VFIO either.
        "$real_daemon" --listen "$tmp/bus" --config "$tmp/empty.conf" --config-dir "$tmp/none" \
                --state-dir "$tmp/state" --sysfs-root "$tmp" --dev-root "$tmp" --no-sandbox >"$tmp/daemon.log" 2>&1 &
        daemon_pid=$!
        for ((i = 0; i < 100; i++)); do
                [[ -S $tmp/bus ]] && break
                sleep 0.1
        done
        if vfbrokerctl --socket "$tmp/bus" tenant create real-tenant --quota 2 >/dev/null; then
                : >"$tmp/stderr"
                expect 'real-tenant' vfbrokerctl --socket "$tmp/bus" run --tenant ''
                expect 'real-tenant' vfbrokerctl --socket="$tmp/bus" tenant show-token re
                expect '' vfbrokerctl --socket "$tmp/bus" revoke ''
                [[ -s $tmp/stderr ]] && { echo "FAIL: stderr:"; cat "$tmp/stderr"; failures=$((failures + 1)); }
        else
                echo "FAIL: cannot create a tenant on the real vfbrokerd:"
                cat "$tmp/daemon.log"
                failures=$((failures + 1))
        fi
else
        echo "skipped: the real broker part (needs root and the vfbrokerd binary)"
fi

if ((failures)); then
        echo "$failures failure(s)"
        exit 1
fi
echo "all completions as expected"
