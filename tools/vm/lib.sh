# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared shell helpers for tools/vm/*: the cache layout, the private apt
# configuration per Debian suite, stamps, and kernel lookup. Sourced, not run.

VM_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE=${VFBROKER_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfbroker-vm}
# The host's own Debian mirror (deb.debian.org on a stock install); only Debian
# mirrors are reachable from CI, so never fall back to anything else.
VM_MIRROR=${VFBROKER_VM_MIRROR:-}
if [[ -z "$VM_MIRROR" ]]; then
        VM_MIRROR=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
        VM_MIRROR=${VM_MIRROR:-http://deb.debian.org/debian}
fi
VM_MIRROR=${VM_MIRROR%/}
VM_SECURITY_MIRROR=${VFBROKER_VM_SECURITY_MIRROR:-${VM_MIRROR%/debian}/debian-security}
VM_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

vm_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
vm_die() { vm_log "error: $*"; exit 1; }

# sha256 of a file, or "-" when it does not exist.
vm_sum() { if [[ -f "$1" ]]; then sha256sum "$1" | cut -d' ' -f1; else echo -; fi; }

# A stamp holds "key=value" lines. vm_stamp_ok STAMP FILE... succeeds when the
# stamp exists and every listed file still has the sha256 the stamp recorded,
# so a corrupt or half-written piece is rebuilt instead of used.
vm_stamp_ok() {
        local stamp=$1 f want; shift
        [[ -f "$stamp" ]] || return 1
        for f in "$@"; do
                want=$(awk -F= -v k="sha256:$f" '$1 == k {print $2}' "$stamp")
                [[ -n "$want" && "$(vm_sum "$f")" == "$want" ]] || return 1
        done
}
# vm_stamp_write STAMP "k=v"... -- FILE...: records the values and the sha256 of
# each file, atomically.
vm_stamp_write() {
        local stamp=$1 f; shift
        {
                while [[ $# -gt 0 && "$1" != -- ]]; do echo "$1"; shift; done
                [[ $# -gt 0 ]] && shift
                for f in "$@"; do echo "sha256:$f=$(vm_sum "$f")"; done
                echo "written=$(date -u +%FT%TZ)"
        } > "$stamp.tmp"
        mv -f "$stamp.tmp" "$stamp"
}
vm_stamp_get() { awk -F= -v k="$2" '$1 == k {sub(/^[^=]*=/, ""); print; exit}' "$1" 2>/dev/null; }

# The private apt configuration of one suite lives under $VM_CACHE/apt/NAME.
# APT_CONFIG is read before /etc/apt/apt.conf.d, and it points Dir::Etc::Parts
# at an empty directory, so nothing from the host's apt configuration, sources,
# preferences or state is read or written.
vm_apt_dir() { echo "$VM_CACHE/apt/$1"; }
vm_apt_init() { # NAME "deb line"...
        local name=$1 d; shift
        d=$(vm_apt_dir "$name")
        mkdir -p "$d"/{lists/partial,archives/partial,empty,etc,state}
        : > "$d/state/status"
        printf '%s\n' "$@" > "$d/etc/sources.list.new"
        if ! cmp -s "$d/etc/sources.list.new" "$d/etc/sources.list"; then
                mv -f "$d/etc/sources.list.new" "$d/etc/sources.list"
                rm -f "$d/updated"
        else
                rm -f "$d/etc/sources.list.new"
        fi
        cat > "$d/etc/apt.conf" <<EOF
Dir "/";
Dir::Etc "$d/etc";
Dir::Etc::SourceList "$d/etc/sources.list";
Dir::Etc::SourceParts "$d/empty";
Dir::Etc::Parts "$d/empty";
Dir::Etc::Preferences "$d/etc/preferences";
Dir::Etc::PreferencesParts "$d/empty";
Dir::Etc::Trusted "$VM_KEYRING";
Dir::Etc::TrustedParts "$d/empty";
Dir::State "$d/state";
Dir::State::Lists "$d/lists";
Dir::State::Status "$d/state/status";
Dir::Cache "$d/cache";
Dir::Cache::Archives "$d/archives";
Dir::Log "$d/state";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
APT::Install-Recommends "false";
Acquire::Languages "none";
Acquire::Retries "3";
Acquire::http::Timeout "60";
EOF
        touch "$d/etc/preferences"
}
vm_apt() { # NAME apt-get|apt-cache ARGS...
        local name=$1 tool=$2; shift 2
        APT_CONFIG="$(vm_apt_dir "$name")/etc/apt.conf" "$tool" -q "$@"
}
# Refresh the index once a day at most; a failed update removes the marker so
# the next run retries.
vm_apt_update() {
        local name=$1 d; d=$(vm_apt_dir "$name")
        if [[ -f "$d/updated" && -n "$(find "$d/updated" -mmin -1440)" ]]; then return 0; fi
        vm_log "apt update ($name)"
        rm -f "$d/updated"
        vm_apt "$name" apt-get update >/dev/null || vm_die "apt-get update failed for the private '$name' configuration ($d); is $VM_MIRROR reachable?"
        touch "$d/updated"
}

# Kernel tags are the directories under $VM_CACHE/kernel: 6.1, 6.12 and 7
# (Debian's packages, tools/vm/fetch) and 7-iommufd (built from Debian's
# source, tools/vm/kernel-iommufd). Each has root/boot/vmlinuz-KVER,
# root/lib/modules/KVER and a stamp with kver=; a built one also src/.
vm_kernel_dir() { echo "$VM_CACHE/kernel/$1"; }
vm_kernel_release() { vm_stamp_get "$(vm_kernel_dir "$1")/stamp" kver; }
vm_kernels() {
        local d
        for d in "$VM_CACHE"/kernel/*/stamp; do
                [[ -f "$d" ]] && basename "$(dirname "$d")"
        done | sort -V
}

# QEMU 10 extracted from bookworm-backports, run from the cache.
vm_qemu_root() { echo "$VM_CACHE/qemu/root"; }
vm_qemu_env() { # prints nothing; exports what the extracted QEMU needs
        local r; r=$(vm_qemu_root)
        export LD_LIBRARY_PATH="$r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export QEMU_MODULE_DIR="$r/usr/lib/x86_64-linux-gnu/qemu"
        VM_QEMU="$r/usr/bin/qemu-system-x86_64"
        # Debian's firmware links in /usr/share/qemu are absolute; list the real
        # folders too so QEMU finds each file in one of them.
        VM_QEMU_FIRMWARE=(-L "$r/usr/share/qemu" -L "$r/usr/share/seabios" -L "$r/usr/lib/ipxe/qemu")
}
