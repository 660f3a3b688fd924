#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 12: every decision the earlier scenarios made is in the journal as
# a structured record: MESSAGE_ID, action, result, tenant, uid, pid, VF.
. /usr/lib/vfbroker-vm/lib.sh
require_broker
# record ID MATCHES... FIELDS...: the first record with MESSAGE_ID=ID and the
# given FIELD=value matches must carry every FIELDS name
record() {
        id=$1; shift
        matches=""
        while [ $# -gt 0 ] && [ "${1#*=}" != "$1" ]; do matches="$matches $1"; shift; done
        json=$(journalctl -b -q -o json "MESSAGE_ID=$id" $matches | head -1)
        [ -n "$json" ] || return 1
        for f in "$@"; do printf '%s' "$json" | grep -q "\"$f\"" || { echo "# missing $f in: $json" | cut -c1-300; return 1; }; done
}
GRANTED=6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b01
REFUSED=6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b02
RELEASED=6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b03
ROTATED=6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b04
TENANT=6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b05

record $GRANTED VFBROKER_ACTION=acquire VFBROKER_RESULT=granted VFBROKER_UID=65534 \
        VFBROKER_TENANT VFBROKER_PID VFBROKER_VF VFBROKER_LEASE
res $? "journal: a grant to uid 65534 with tenant, pid, VF and lease"
record $REFUSED VFBROKER_ACTION=acquire VFBROKER_RESULT=refused VFBROKER_TENANT VFBROKER_UID VFBROKER_PID
res $? "journal: a refused acquire with tenant, uid and pid"
record $RELEASED VFBROKER_ACTION=end-lease VFBROKER_TENANT VFBROKER_VF VFBROKER_LEASE VFBROKER_UID VFBROKER_PID
res $? "journal: a lease's end with tenant, VF, lease, holder uid and pid"
record $ROTATED VFBROKER_ACTION=rotate-token VFBROKER_RESULT=granted VFBROKER_TENANT VFBROKER_UID
res $? "journal: a token rotation with tenant and uid"
record $TENANT VFBROKER_ACTION=create-tenant VFBROKER_TENANT
res $? "journal: the tenants made from the configuration"
journalctl -b -q -o json "MESSAGE_ID=$GRANTED" | grep -q '"_SYSTEMD_UNIT":"vfbroker.service"'
res $? "journal: the records come from vfbroker.service"
exit 0
