/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Polkit: asks org.freedesktop.PolicyKit1 over the system bus, asynchronously,
 * with sd-bus (no GLib). Subject "unix-process" (pid + start-time + uid) for
 * the peer-to-peer socket, "system-bus-name" for callers on the system bus.
 * Caches nothing: every call asks. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "process-util.h"

/* How long one CheckAuthorization may take before the check fails with
 * -EHOSTUNREACH: below the 25 s default method timeout of sd-bus and libdbus
 * clients, so a client waiting on AcquireVF gets our error naming polkit
 * instead of running into its own timeout first. */
#define POLKIT_CALL_TIMEOUT_USEC (20ULL * 1000ULL * 1000ULL)
/* Limits on what a caller may pass; clients control tenant names that end
 * up in details, and the number of outstanding checks. */
#define POLKIT_QUERIES_MAX 4096U
#define POLKIT_ACTION_LENGTH_MAX 255U
#define POLKIT_DETAILS_MAX 16U
#define POLKIT_DETAIL_LENGTH_MAX 1024U

/* The actions of policy/org.vfbroker.policy. */
#define POLKIT_ACTION_ACQUIRE "org.vfbroker.acquire-vf"
#define POLKIT_ACTION_MANAGE "org.vfbroker.manage"
#define POLKIT_ACTION_READ_TOKEN "org.vfbroker.read-token"

typedef struct Polkit Polkit;
typedef struct PolkitQuery PolkitQuery;

/* result: 1 allowed, 0 denied (message: polkit's reason or NULL),
 * -EHOSTUNREACH polkit could not be asked (message says why), other <0 errors. */
typedef void (*polkit_callback_t)(int result, const char *message, void *userdata);

/* bus_address: NULL for the system bus (honours DBUS_SYSTEM_BUS_ADDRESS).
 * Connects lazily on the first check and again after the bus went away. */
int polkit_new(sd_event *event, const char *bus_address, Polkit **ret);
/* Cancels every outstanding query: no callback runs after this. */
Polkit *polkit_free(Polkit *p);

typedef struct PolkitSubject {
        pid_t pid;
        uint64_t start_time;  /* /proc/PID/stat field 22 */
        uid_t uid;
        /* A pidfd of the same process; 0 or negative: none (0 is stdin,
         * never a pidfd here, and what an initializer leaves). polkit 124
         * and later take it instead of pid + start time (no pid can be
         * recycled under it); earlier ones ignore the key. */
        int pidfd;
        /* The caller's unique name on the system bus, or NULL. When set, the
         * subject is "system-bus-name": polkitd asks the bus daemon who owns
         * the name, which cannot be a recycled pid. */
        const char *system_bus_name;
} PolkitSubject;

/* details: NULL or a NULL-terminated key, value, key, value, ... list
 * (at most POLKIT_DETAILS_MAX pairs). Returns -EINVAL for a bad argument,
 * -E2BIG for too many or too long details, -EBUSY with POLKIT_QUERIES_MAX
 * checks outstanding. Polkit being unreachable is not a return value: the
 * callback gets -EHOSTUNREACH.
 * On success the callback runs exactly once, later, from the event loop,
 * unless the query is cancelled first. *ret_query (optional) is owned by
 * the Polkit object and valid until its callback starts; cancel it if the
 * caller goes away before that. A check that gets no answer within
 * POLKIT_CALL_TIMEOUT_USEC fails with -EHOSTUNREACH. */
int polkit_check(Polkit *p, const char *action, const PolkitSubject *subject,
                 char * const *details, polkit_callback_t callback, void *userdata,
                 PolkitQuery **ret_query);
/* Cancels: the callback will not run. Returns NULL. */
PolkitQuery *polkit_query_cancel(PolkitQuery *q);

DEFINE_TRIVIAL_CLEANUP_FUNC(Polkit *, polkit_free)
