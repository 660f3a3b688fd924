#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 9: busctl speaks to the broker's peer-to-peer socket.
. /usr/lib/vfbroker-vm/lib.sh
B="busctl --address=unix:path=/run/vfbroker/bus"
require_broker
out=$($B introspect org.vfbroker.Broker1 /org/vfbroker/Broker1 2>&1); rc=$?
echo "$out" | grep -E 'interface|AcquireVF|ListPhysicalFunctions' | sed 's/^/#   /'
[ $rc = 0 ] && echo "$out" | grep -q AcquireVF; res $? "busctl introspect shows org.vfbroker.Broker1 with AcquireVF"
out=$($B call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1 ListPhysicalFunctions 2>&1); rc=$?
echo "$out" | cut -c1-300 | sed 's/^/#   /'
[ $rc = 0 ] && echo "$out" | grep -q "$NVME" && echo "$out" | grep -q "$IGB"; res $? "busctl call ListPhysicalFunctions lists both PFs"
out=$(as_nobody $B call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1 ListVirtualFunctions 2>&1); rc=$?
res $rc "busctl call ListVirtualFunctions as nobody"
# FindVirtualFunctions: only what matches. Each PF has 4 VFs here (guest vfbroker.conf).
n=$(as_nobody $B --json=short call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1 \
        FindVirtualFunctions 'a{sv}' 1 PhysicalFunction s "$IGB" 2>&1 | grep -o '"Address"' | wc -l)
echo "# FindVirtualFunctions PhysicalFunction=$IGB: $n VFs"
[ "$n" = 4 ]; res $? "FindVirtualFunctions by PF returns only that PF's 4 VFs"
all=$(as_nobody $B --json=short call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1 \
        ListVirtualFunctions 2>&1 | grep -o '"Address"' | wc -l)
free=$(as_nobody $B --json=short call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1 \
        FindVirtualFunctions 'a{sv}' 2 State s free PhysicalFunction s "$NVME" 2>&1 | grep -o '"Address"' | wc -l)
echo "# all VFs: $all, free VFs of $NVME: $free"
[ "$all" = 8 ] && [ "$free" -ge 1 ] && [ "$free" -le 4 ]; res $? "FindVirtualFunctions combines State and PF filters"
out=$(as_nobody $B call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1 \
        FindVirtualFunctions 'a{sv}' 1 Colour s blue 2>&1); rc=$?
[ $rc != 0 ] && echo "$out" | grep -q "unknown filter"; res $? "FindVirtualFunctions refuses an unknown filter"
out=$(as_user daemon $B call org.vfbroker.Broker1 /org/vfbroker/Broker1 org.vfbroker.Broker1 AcquireVF 'sa{sv}' demo 0 2>&1); rc=$?
echo "# $out"
# busctl prints only the error's message, not its name
[ $rc != 0 ] && echo "$out" | grep -q 'polkit does not allow'; res $? "busctl AcquireVF as uid 1 is refused by polkit"
exit 0
