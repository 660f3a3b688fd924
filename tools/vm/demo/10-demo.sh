#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The demo, in the guest: the broker starts from its socket, lists what it
# owns, and an unprivileged user (nobody) gets a VF and uses it. Every line
# starting with "# " is the transcript tools/demo shows.
. /usr/lib/vfbroker-vm/lib.sh
say() { echo "# $*"; }
show() { # PROMPT CMD...: the command, then its output, indented
        p=$1; shift
        say ""
        say "$p $*"
        "$@" 2>&1 | sed 's/^/#     /'
}
say "Guest: Debian 12, kernel $(uname -r), systemd $(systemctl --version | head -1 | cut -d' ' -f2)."
say "Two SR-IOV PFs: nvme $NVME ($(cat $SYS/$NVME/sriov_totalvfs) VFs max) and igb $IGB ($(cat $SYS/$IGB/sriov_totalvfs) VFs max), behind an emulated intel-iommu."
say "vfbroker.socket is $(systemctl is-active vfbroker.socket); vfbroker.service is $(systemctl is-active vfbroker.service) (nobody has connected yet)."
show "root#" vfbrokerctl status
say "vfbroker.service is now $(systemctl is-active vfbroker.service), status: $(systemctl show -p StatusText --value vfbroker.service)"
show "root#" vfbrokerctl list-pfs
show "root#" vfbrokerctl list-vfs
say ""
say "Now as uid 65534 (nobody), allowed by /etc/polkit-1/rules.d/50-vfbroker-test.rules and"
say "by tenant 'demo' in /etc/vfbroker/vfbroker.conf. vf-probe gets the VF's fds from vfbrokerctl run"
say "and drives the device through them: info, config space, a DMA map, a reset."
say ""
say "nobody\$ vfbrokerctl run --tenant demo -- sh -c 'vf-probe && vfbrokerctl list-leases'"
as_nobody "$CTL" run --tenant demo -- sh -c "$PROBE && $CTL list-leases" > /tmp/demo.out 2>&1
rc=$?
sed 's/^/#     /' /tmp/demo.out
res $rc "nobody leased a VF from tenant demo and the device answered through its fds"
show "root#" vfbrokerctl list-leases
say ""
say "What the broker logged (journal, structured fields):"
journalctl -b -u vfbroker.service --no-pager -o cat | tail -8 | sed 's/^/#     /'
say ""
say "Without the token the VF stays shut, even for root:"
vf=$(vfs_of $NVME | head -1)
wait_state "$vf" free 20
say "root# vf-probe --direct $vf"
out=$("$PROBE" --direct "$vf" 2>&1); rc=$?
echo "$out" | sed 's/^/#     /'
[ $rc = 3 ]; res $? "root cannot open a free VF without the token (EACCES)"
