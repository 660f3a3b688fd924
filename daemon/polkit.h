/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Polkit: asks org.freedesktop.PolicyKit1 over the system bus, asynchronously,
 * with sd-bus (no GLib). Subject "unix-process" (pid + start-time + uid).
 * Caches nothing: every call asks. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct Polkit Polkit;
typedef struct PolkitQuery PolkitQuery;

/* result: 1 allowed, 0 denied (message: polkit's reason or NULL),
 * -EHOSTUNREACH polkit could not be asked (message says why), other <0 errors. */
typedef void (*polkit_callback_t)(int result, const char *message, void *userdata);

/* bus_address: NULL for the system bus (honours DBUS_SYSTEM_BUS_ADDRESS).
 * Connects lazily on the first check and again after the bus went away. */
int polkit_new(sd_event *event, const char *bus_address, Polkit **ret);
Polkit *polkit_free(Polkit *p);

typedef struct PolkitSubject {
        pid_t pid;
        uint64_t start_time;  /* /proc/PID/stat field 22 */
        uid_t uid;
} PolkitSubject;

/* details: NULL or a NULL-terminated key, value, key, value, ... list.
 * On success the callback runs exactly once, later, from the event loop,
 * unless the query is cancelled first. *ret_query (optional) is owned by
 * the Polkit object; cancel it if the caller goes away. */
int polkit_check(Polkit *p, const char *action, const PolkitSubject *subject,
                 char * const *details, polkit_callback_t callback, void *userdata,
                 PolkitQuery **ret_query);
/* Cancels: the callback will not run. Returns NULL. */
PolkitQuery *polkit_query_cancel(PolkitQuery *q);

/* Reads /proc/PID/stat field 22 (start time in clock ticks since boot). */
int process_get_start_time(pid_t pid, uint64_t *ret);
