#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 2: uid 65534, allowed by the guest's polkit rule, leases a VF with
# `vfbrokerctl run`, and vf-probe proves the fds work (device info, region
# info, config read, DMA map/unmap through the container, reset).
. /usr/lib/vfbroker-vm/lib.sh
require_broker
# vf-probe's own "ok -"/"not ok -" lines become results
as_nobody "$CTL" run --tenant demo -- "$PROBE"
res $? "nobody: vfbrokerctl run --tenant demo -- vf-probe exits 0"
as_nobody "$CTL" run --tenant demo --count 2 -- "$PROBE" > /tmp/two.out 2>&1
rc=$?; sed 's/^/#   /' /tmp/two.out
[ $rc = 0 ] && [ "$(grep -c '^ok - VF[01] .*VFIO_DEVICE_RESET' /tmp/two.out)" = 2 ]
res $? "nobody: run --count 2 gets two working VFs"
n=$("$CTL" list-leases --json | grep -o '"Id"' | wc -l)
[ "$n" = 0 ]; res $? "no lease left after run exits (got $n)"
exit 0
