/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Polkit: asynchronous CheckAuthorization calls to org.freedesktop.PolicyKit1
 * over a lazily opened system bus connection, and the /proc start-time reader. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "polkit.h"

#define POLKIT_BUS_NAME "org.freedesktop.PolicyKit1"
#define POLKIT_OBJECT_PATH "/org/freedesktop/PolicyKit1/Authority"
#define POLKIT_INTERFACE "org.freedesktop.PolicyKit1.Authority"

struct PolkitQuery {
        Polkit *polkit;
        /* The connection the call went out on: a reference, so that a bus we
         * replaced after a disconnect lives until it has told its pending
         * calls that they failed. */
        sd_bus *bus;
        sd_bus_slot *slot;             /* the pending call, or NULL */
        sd_event_source *defer;        /* a failure found before sending, or NULL */
        int defer_result;
        char *defer_message;
        polkit_callback_t callback;
        void *userdata;
        PolkitQuery *prev, *next;
};

struct Polkit {
        sd_event *event;
        char *bus_address;             /* NULL: the system bus */
        sd_bus *bus;                   /* NULL until the first check, and after a disconnect */
        PolkitQuery *queries;
        unsigned n_queries;
};

int polkit_new(sd_event *event, const char *bus_address, Polkit **ret) {
        _cleanup_free_ Polkit *p = NULL;

        if (!event || !ret)
                return -EINVAL;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        if (bus_address) {
                p->bus_address = strdup(bus_address);
                if (!p->bus_address)
                        return -ENOMEM;
        }
        p->event = sd_event_ref(event);

        *ret = TAKE_PTR(p);
        return 0;
}

static void query_unlink_and_free(PolkitQuery *q) {
        Polkit *p = q->polkit;

        if (q->prev)
                q->prev->next = q->next;
        else
                p->queries = q->next;
        if (q->next)
                q->next->prev = q->prev;
        p->n_queries--;

        /* Dropping the slot removes the reply callback: after this nothing
         * can call back for this query. */
        sd_bus_slot_unref(q->slot);
        sd_event_source_disable_unref(q->defer);
        sd_bus_unref(q->bus);
        free(q->defer_message);
        free(q);
}

PolkitQuery *polkit_query_cancel(PolkitQuery *q) {
        if (q)
                query_unlink_and_free(q);
        return NULL;
}

/* Drops our reference to the connection without closing it: queries still
 * pending on it hold their own references and get their "connection
 * terminated" replies from sd-bus; the connection goes when the last of them
 * does. */
static void polkit_drop_bus(Polkit *p) {
        p->bus = sd_bus_unref(p->bus);
}

Polkit *polkit_free(Polkit *p) {
        if (!p)
                return NULL;

        while (p->queries)
                query_unlink_and_free(p->queries);
        if (p->bus) {
                /* No query is left, so nothing is waiting for a reply: close
                 * right away instead of leaving the socket to the event loop. */
                sd_bus_detach_event(p->bus);
                p->bus = sd_bus_close_unref(p->bus);
        }
        sd_event_unref(p->event);
        free(p->bus_address);
        free(p);
        return NULL;
}

/* Opens the connection if there is none, or if the one we had was closed
 * (dbus-daemon restarted): that is how a later check reconnects. On failure
 * *ret_reason says why, for the message the caller sees. */
static int polkit_connect(Polkit *p, char **ret_reason) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        const char *what;
        int r;

        if (p->bus) {
                if (sd_bus_is_open(p->bus) > 0)
                        return 0;
                polkit_drop_bus(p);
        }

        if (p->bus_address) {
                what = "Failed to allocate a bus connection";
                r = sd_bus_new(&bus);
                if (r >= 0) {
                        what = "Failed to set the bus address";
                        r = sd_bus_set_address(bus, p->bus_address);
                }
                if (r >= 0) {
                        what = "Failed to make the connection a bus client";
                        r = sd_bus_set_bus_client(bus, 1);
                }
                if (r >= 0) {
                        what = "Failed to connect to the bus";
                        r = sd_bus_start(bus);
                }
        } else {
                /* Honours $DBUS_SYSTEM_BUS_ADDRESS. */
                what = "Failed to connect to the system bus";
                r = sd_bus_open_system(&bus);
        }
        if (r >= 0) {
                what = "Failed to attach the bus connection to the event loop";
                r = sd_bus_attach_event(bus, p->event, SD_EVENT_PRIORITY_NORMAL);
        }
        if (r < 0) {
                char *reason = NULL;

                if (asprintf(&reason, "%s %s: %s", what,
                             p->bus_address ? p->bus_address : "the system bus", strerror(-r)) < 0)
                        reason = NULL;
                *ret_reason = reason;
                return r;
        }

        (void) sd_bus_set_description(bus, "polkit");
        p->bus = TAKE_PTR(bus);
        log_debug("Connected to %s for polkit checks.", p->bus_address ? p->bus_address : "the system bus");
        return 0;
}

/* Errors that mean polkit was not reached at all, as opposed to polkit
 * answering with an error of its own. */
static bool error_is_unreachable(const sd_bus_error *e) {
        return sd_bus_error_has_names(e,
                                      SD_BUS_ERROR_SERVICE_UNKNOWN,
                                      SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                      SD_BUS_ERROR_NO_REPLY,
                                      SD_BUS_ERROR_DISCONNECTED,
                                      SD_BUS_ERROR_TIMEOUT,
                                      "org.freedesktop.DBus.Error.TimedOut",
                                      SD_BUS_ERROR_NO_SERVER,
                                      /* D-Bus activation of polkitd failed. */
                                      "org.freedesktop.DBus.Error.Spawn.ChildExited",
                                      "org.freedesktop.DBus.Error.Spawn.ExecFailed",
                                      "org.freedesktop.DBus.Error.Spawn.Failed",
                                      "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
                                      "org.freedesktop.systemd1.NoSuchUnit",
                                      "org.freedesktop.systemd1.UnitMasked");
}

/* Reads the (bba{ss}) reply: 1 allowed, 0 denied with *ret_message set to
 * why, if polkit said. */
static int parse_reply(sd_bus_message *m, const char **ret_message) {
        int authorized = 0, challenge = 0, dismissed = 0, r;
        const char *key, *value;

        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_STRUCT, "bba{ss}");
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "bb", &authorized, &challenge);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{ss}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(m, "{ss}", &key, &value)) > 0)
                if (strcmp(key, "polkit.dismissed") == 0 && strcmp(value, "true") == 0)
                        dismissed = 1;
        if (r < 0)
                return r;

        if (authorized) {
                *ret_message = NULL;
                return 1;
        }
        if (dismissed)
                *ret_message = "the authentication dialog was dismissed";
        else if (challenge)
                *ret_message = "authentication is required, and vfbrokerd does not ask for it interactively; "
                               "grant the action with a polkit rule";
        else
                *ret_message = NULL;
        return 0;
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        PolkitQuery *q = userdata;
        polkit_callback_t callback = q->callback;
        void *cb_userdata = q->userdata;
        _cleanup_free_ char *buf = NULL;
        const sd_bus_error *e;
        const char *message = NULL;
        int result;

        e = sd_bus_message_get_error(m);
        if (e) {
                if (error_is_unreachable(e)) {
                        result = -EHOSTUNREACH;
                        if (asprintf(&buf, "polkit could not be asked: %s: %s; is polkitd running?",
                                     e->name, strna(e->message)) < 0)
                                buf = NULL;
                } else {
                        result = sd_bus_message_get_errno(m);
                        if (result <= 0)
                                result = EIO;
                        result = -result;
                        if (asprintf(&buf, "polkit refused the query: %s: %s",
                                     e->name, strna(e->message)) < 0)
                                buf = NULL;
                }
                message = buf;
        } else {
                result = parse_reply(m, &message);
                if (result < 0) {
                        if (asprintf(&buf, "polkit's reply could not be read: %s", strerror(-result)) < 0)
                                buf = NULL;
                        message = buf;
                }
        }

        /* Free first, so the callback may start new checks or free the
         * Polkit object; the message stays valid (buf is ours, the rest
         * lives in m, which sd-bus holds until we return). */
        query_unlink_and_free(q);
        callback(result, message, cb_userdata);
        return 0;
}

static int on_defer(sd_event_source *s, void *userdata) {
        PolkitQuery *q = userdata;
        polkit_callback_t callback = q->callback;
        void *cb_userdata = q->userdata;
        _cleanup_free_ char *message = TAKE_PTR(q->defer_message);
        int result = q->defer_result;

        query_unlink_and_free(q);
        callback(result, message, cb_userdata);
        return 0;
}

static int append_subject(sd_bus_message *m, const PolkitSubject *s) {
        if (s->system_bus_name)
                return sd_bus_message_append(m, "(sa{sv})", "system-bus-name", 1, "name", "s", s->system_bus_name);

        /* pid + start-time + uid is the form polkit 0.105 to 122 all accept;
         * the start time ties the pid to one process so a reused pid cannot
         * borrow an authorization. polkit 124 and later also take a pidfd
         * (with uid), which they prefer; older ones skip the key. So both go
         * out where the bus connection passes fds. */
        if (s->pidfd > 0 && sd_bus_message_get_bus(m) &&
            sd_bus_can_send(sd_bus_message_get_bus(m), SD_BUS_TYPE_UNIX_FD) > 0)
                return sd_bus_message_append(m, "(sa{sv})", "unix-process", 4,
                                             "pid", "u", (uint32_t) s->pid,
                                             "start-time", "t", s->start_time,
                                             "uid", "i", (int32_t) s->uid,
                                             "pidfd", "h", s->pidfd);
        return sd_bus_message_append(m, "(sa{sv})", "unix-process", 3,
                                     "pid", "u", (uint32_t) s->pid,
                                     "start-time", "t", s->start_time,
                                     "uid", "i", (int32_t) s->uid);
}

static int append_details(sd_bus_message *m, char * const *details) {
        int r;

        r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{ss}");
        if (r < 0)
                return r;
        for (char * const *k = details; k && *k; k += 2) {
                r = sd_bus_message_append(m, "{ss}", k[0], k[1]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int validate_details(char * const *details) {
        size_t n = 0;

        for (char * const *k = details; k && *k; k++) {
                if (strlen(*k) > POLKIT_DETAIL_LENGTH_MAX)
                        return -E2BIG;
                n++;
        }
        if (n % 2 != 0)
                return -EINVAL;
        if (n / 2 > POLKIT_DETAILS_MAX)
                return -E2BIG;
        return 0;
}

static int query_fail_later(PolkitQuery *q, char *reason) {
        int r;

        q->defer_result = -EHOSTUNREACH;
        if (asprintf(&q->defer_message, "polkit could not be asked: %s; is polkitd running?",
                     strna(reason)) < 0)
                q->defer_message = NULL;
        r = sd_event_add_defer(q->polkit->event, &q->defer, on_defer, q);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(q->defer, "polkit-unreachable");
        return 0;
}

int polkit_check(Polkit *p, const char *action, const PolkitSubject *subject,
                 char * const *details, polkit_callback_t callback, void *userdata,
                 PolkitQuery **ret_query) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *reason = NULL;
        _cleanup_free_ PolkitQuery *q = NULL;
        int r;

        if (!p || !action || !subject || !callback)
                return -EINVAL;
        if (action[0] == '\0' || strlen(action) > POLKIT_ACTION_LENGTH_MAX)
                return -EINVAL;
        if (subject->pid <= 0 || subject->uid == (uid_t) -1)
                return -EINVAL;
        if (subject->system_bus_name && (subject->system_bus_name[0] != ':' ||
                                         strlen(subject->system_bus_name) > POLKIT_ACTION_LENGTH_MAX))
                return -EINVAL;
        r = validate_details(details);
        if (r < 0)
                return r;
        if (p->n_queries >= POLKIT_QUERIES_MAX)
                return -EBUSY;

        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->polkit = p;
        q->callback = callback;
        q->userdata = userdata;

        r = polkit_connect(p, &reason);
        if (r < 0) {
                r = query_fail_later(q, reason);
                if (r < 0) {
                        free(q->defer_message);
                        return r;
                }
        } else {
                r = sd_bus_message_new_method_call(p->bus, &m, POLKIT_BUS_NAME, POLKIT_OBJECT_PATH,
                                                   POLKIT_INTERFACE, "CheckAuthorization");
                if (r < 0)
                        return r;
                r = append_subject(m, subject);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "s", action);
                if (r < 0)
                        return r;
                r = append_details(m, details);
                if (r < 0)
                        return r;
                /* flags 0: never interactive, the daemon has nobody to ask;
                 * no cancellation id, we cancel by dropping the reply slot. */
                r = sd_bus_message_append(m, "us", (uint32_t) 0, "");
                if (r < 0)
                        return r;

                r = sd_bus_call_async(p->bus, &q->slot, m, on_reply, q, POLKIT_CALL_TIMEOUT_USEC);
                if (r == -ENOTCONN || r == -ECONNRESET) {
                        /* The connection died since we last looked; the next
                         * check opens a new one. */
                        if (asprintf(&reason, "the bus connection was lost: %s", strerror(-r)) < 0)
                                reason = NULL;
                        polkit_drop_bus(p);
                        r = query_fail_later(q, reason);
                        if (r < 0) {
                                free(q->defer_message);
                                return r;
                        }
                } else if (r < 0)
                        return r;
                else
                        q->bus = sd_bus_ref(p->bus);
        }

        q->next = p->queries;
        if (p->queries)
                p->queries->prev = q;
        p->queries = q;
        p->n_queries++;

        if (ret_query)
                *ret_query = q;
        TAKE_PTR(q);
        return 0;
}
