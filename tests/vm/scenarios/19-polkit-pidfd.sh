#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Scenario 19: the polkit subject of a caller on the broker's own socket.
# vfbrokerd sends unix-process with pid, start-time, uid and, where the bus
# connection passes fds, a pidfd of the caller (daemon/polkit.c,
# append_subject). Watched on the real system bus (busctl monitor, as root)
# while uid 65534 acquires (the test rules say yes) and uid 1 tries (they
# say no): each CheckAuthorization carries "pidfd" of type h and polkitd
# answers it. polkit >= 124 (Debian 13: 126) authorizes by the pidfd;
# polkit 122 (Debian 12) ignores the key and must still answer by pid and
# start time (the fallback).
. /usr/lib/vfbroker-vm/lib.sh
require_broker
pkv=$(dpkg-query -W -f='${Version}' polkitd 2>/dev/null); pkv=${pkv%%-*}
echo "# polkitd $pkv, $(systemctl show -p Id --value dbus.service)"
MON=/tmp/polkit-monitor.txt
busctl monitor --system org.freedesktop.PolicyKit1 > $MON 2>&1 &
mpid=$!
i=0; while ! grep -q . $MON && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
as_nobody "$CTL" run --tenant demo -- true; yes_rc=$?
as_user daemon "$CTL" run --tenant demo -- true 2>/tmp/polkit-no.err; no_rc=$?
sleep 1
kill $mpid 2>/dev/null; wait $mpid 2>/dev/null
# one line per CheckAuthorization call: "COOKIE KIND PIDFD(0/1) ANSWER"
calls=$(awk '
        /Type=/ { type = ""; cookie = ""; reply = ""
                  if (match($0, /Type=[a-z_]+/)) type = substr($0, RSTART + 5, RLENGTH - 5)
                  if (match($0, / Cookie=[0-9]+/)) cookie = substr($0, RSTART + 8, RLENGTH - 8)
                  if (match($0, /ReplyCookie=[0-9]+/)) reply = substr($0, RSTART + 12, RLENGTH - 12)
                  cur = ""; first_bool = 1; next }
        /Member=CheckAuthorization/ && type == "method_call" { cur = cookie; order[++n] = cur; kind[cur] = "?"; pidfd[cur] = 0; next }
        cur != "" && kind[cur] == "?" && /STRING "/ { s = $0; sub(/.*STRING "/, "", s); sub(/".*/, "", s); kind[cur] = s }
        cur != "" && prev ~ /STRING "pidfd"/ && /VARIANT "h"/ { pidfd[cur] = 1 }
        type == "method_return" && reply != "" && first_bool && /BOOLEAN/ { ans[reply] = ($0 ~ /true/) ? "yes" : "no"; first_bool = 0 }
        type == "error" && reply != "" { ans[reply] = "error" }
        { prev = $0 }
        END { for (i = 1; i <= n; i++) { c = order[i]; print c, kind[c], pidfd[c], (c in ans) ? ans[c] : "none" } }
' $MON)
echo "$calls" | sed 's/^/# CheckAuthorization cookie, subject, pidfd, authorized: /'
n=$(echo "$calls" | grep -c .)
[ "$n" -ge 2 ] || { sed 's/^/#   monitor: /' $MON | head -60; }
[ $yes_rc = 0 ]; res $? "uid 65534: run --tenant demo (polkit yes) exits 0 (got $yes_rc)"
[ $no_rc = 3 ]; res $? "uid 1: run --tenant demo (polkit no) is NotAuthorized, exit 3 (got $no_rc: $(head -c 200 /tmp/polkit-no.err))"
echo "$calls" | awk '$2 == "unix-process" && $3 == 1 && $4 == "yes"' | grep -q .
res $? "the granted CheckAuthorization: subject unix-process with a pidfd (type h), authorized (polkit $pkv)"
echo "$calls" | awk '$2 == "unix-process" && $3 == 1 && $4 == "no"' | grep -q .
res $? "the refused CheckAuthorization: subject unix-process with a pidfd (type h), not authorized (polkit $pkv)"
if [ "${pkv%%.*}" -ge 124 ] 2>/dev/null; then
        echo "# polkit $pkv >= 124 takes the subject by its pidfd"
else
        echo "# polkit $pkv < 124 ignores the pidfd key: the answers above came from pid and start time (the fallback)"
fi
exit 0
