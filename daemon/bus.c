/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus: org.vfbroker.Broker1 as an sd-bus vtable. Checks every argument before
 * anything else, asks polkit where the contract says so, then acts through
 * the Manager and its objects. The only place that knows D-Bus. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "build-config.h"
#include "bus.h"
#include "client.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "time-util.h"
#include "manager.h"
#include "names.h"
#include "pci-address.h"
#include "pf.h"
#include "polkit.h"
#include "process-util.h"
#include "store.h"
#include "tenant.h"


/* Limits on what a client may send. */
#define OPTIONS_MAX 16U
/* Supplementary groups read per caller on the system bus, as on the socket (client.c). */
#define BUS_CALLER_GROUPS_MAX 1024U
/* The well-known name on the system bus is the interface's name. */
#define BUS_NAME VFBROKER_INTERFACE

static void audit_as(int level, const Identity *who, const char *message_id, const char *action, const char *result,
                     const char *tenant, const char *vf, const char *lease, const char *format, ...) _printf_(9, 10);

static void audit_as(int level, const Identity *who, const char *message_id, const char *action, const char *result,
                     const char *tenant, const char *vf, const char *lease, const char *format, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);

        log_audit(level,
                  &(AuditEvent) {
                          .message_id = message_id,
                          .action = action,
                          .result = result,
                          .tenant = tenant,
                          .vf = vf,
                          .lease = lease,
                          .uid = who ? (long long) who->uid : -1,
                          .pid = who ? (long long) who->pid : -1,
                  },
                  "%s", msg);
}

#define audit(level, c, ...) audit_as((level), &(c)->identity, __VA_ARGS__)

/* Sets a named error and records the refusal. Returns what sd-bus expects from a handler. */
static int refuse(sd_bus_error *error, Client *c, const char *action, const char *tenant,
                  const char *name, const char *format, ...) _printf_(6, 7);

static int refuse(sd_bus_error *error, Client *c, const char *action, const char *tenant,
                  const char *name, const char *format, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);

        audit(LOG_NOTICE, c, LOG_MESSAGE_ID_REFUSED, action, "refused", tenant, NULL, NULL,
              "Refused %s for uid %u pid %d: %s", action, (unsigned) c->identity.uid, (int) c->identity.pid, msg);
        return sd_bus_error_set(error, name, msg);
}

static int fail(sd_bus_error *error, Client *c, const char *action, const char *tenant, int r,
                const char *what) {
        char msg[512];

        snprintf(msg, sizeof msg, "%s: %s", what, strerror(r < 0 ? -r : r));
        audit(LOG_ERR, c, LOG_MESSAGE_ID_REFUSED, action, "error", tenant, NULL, NULL,
              "Failed %s for uid %u pid %d: %s", action, (unsigned) c->identity.uid, (int) c->identity.pid, msg);
        return sd_bus_error_set(error, VFBROKER_ERROR_FAILED, msg);
}

/* A call waiting for polkit. Once polkit has answered, the message is
 * dispatched again (sd_bus_enqueue_for_read) and its handler runs from the
 * top, now finding the answer: every method is written once, and every check
 * made before polkit is made again with polkit's answer in hand (the pattern
 * of systemd's bus-polkit.c). */
struct PendingCall {
        Client *client;
        PendingCall *next, *prev;       /* in client->pending while waiting */
        sd_bus_message *message;
        PolkitQuery *query;
        char *action;
        char *tenant;
        uid_t uid;                      /* the caller's: bounds a user's calls on the system bus */
        bool answered;
        int result;                     /* as polkit_callback_t */
        char *text;                     /* polkit's message, or NULL */
};

static void pending_call_unlink(PendingCall *pc) {
        Client *c = pc->client;

        if (!c)
                return;
        if (pc->prev)
                pc->prev->next = pc->next;
        else
                c->pending = pc->next;
        if (pc->next)
                pc->next->prev = pc->prev;
        pc->next = pc->prev = NULL;
        pc->client = NULL;
        c->calls_in_flight--;
}

PendingCall *pending_call_free(PendingCall *pc) {
        if (!pc)
                return NULL;
        pending_call_unlink(pc);
        polkit_query_cancel(pc->query);
        sd_bus_message_unref(pc->message);
        free(pc->action);
        free(pc->tenant);
        free(pc->text);
        free(pc);
        return NULL;
}

static void on_polkit_result(int result, const char *message, void *userdata) {
        PendingCall *pc = userdata;
        Client *c = pc->client;
        int r;

        pc->query = NULL; /* Polkit frees it once the callback returns. */
        pc->answered = true;
        pc->result = result;
        if (message) {
                pc->text = strdup(message);
                if (!pc->text)
                        pc->result = -ENOMEM;
        }

        r = sd_bus_message_rewind(pc->message, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(c->bus, pc->message);
        if (r < 0) {
                log_warning_errno(r, "Cannot dispatch a call again after polkit answered: %s", STRERROR(r));
                (void) sd_bus_reply_method_errno(pc->message, r, NULL);
                pending_call_free(pc);
        }
}

/* ---- the caller on the system bus ------------------------------------------ */

static void identity_clear(Identity *id) {
        free(id->groups);
        *id = (Identity) { .uid = (uid_t) -1, .gid = (gid_t) -1, .pidfd = -EBADF };
}

/* Reads a variant that holds "au" of at most max entries; *ret points into
 * m, valid while m is. -E2BIG beyond max. */
static int read_variant_u32_array(sd_bus_message *m, size_t max, const uint32_t **ret, size_t *ret_n) {
        const void *data;
        size_t size;
        int r;

        r = sd_bus_message_enter_container(m, 'v', "au");
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(m, 'u', &data, &size);
        if (r < 0)
                return r;
        if (size / sizeof(uint32_t) > max)
                return -E2BIG;
        *ret = data;
        *ret_n = size / sizeof(uint32_t);
        return sd_bus_message_exit_container(m);
}

/* Reads the UnixGroupIDs of GetConnectionCredentials' a{sv}; other keys are skipped. */
static int read_bus_groups(sd_bus_message *reply, gid_t **ret, size_t *ret_n) {
        _cleanup_free_ gid_t *groups = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "UnixGroupIDs") && !groups) {
                        const uint32_t *data;

                        r = read_variant_u32_array(reply, BUS_CALLER_GROUPS_MAX, &data, &n);
                        if (r < 0)
                                return r;
                        groups = malloc(MAX(n, 1) * sizeof(gid_t));
                        if (!groups)
                                return -ENOMEM;
                        for (size_t i = 0; i < n; i++)
                                groups[i] = data[i];
                } else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(groups);
        *ret_n = n;
        return 0;
}

/* Who sent m, as the bus daemon recorded it when the caller connected
 * (SO_PEERCRED, SO_PEERGROUPS of its socket). sd-bus fills in from /proc
 * what the bus does not report ("augmented" credentials): a caller can race
 * those by exiting and having its pid reused, so they are never used for a
 * decision (as systemd's bus-polkit.c). libsystemd 252 reads supplementary
 * groups only from /proc, hence the groups from GetConnectionCredentials. */
static int identity_from_bus(sd_bus_message *m, Identity *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Identity id = { .gid = (gid_t) -1, .pidfd = -EBADF };
        const char *sender = sd_bus_message_get_sender(m);
        int r;

        if (!sender)
                return -ESRCH;
        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        if (sd_bus_creds_get_augmented_mask(creds) & (SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID))
                return -EPERM;
        r = sd_bus_creds_get_euid(creds, &id.uid);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_pid(creds, &id.pid);
        if (r < 0)
                return r;
        if (id.pid <= 0 || id.uid == (uid_t) -1)
                return -EPERM;

        /* Without UnixGroupIDs (a bus daemon older than dbus 1.12) the
         * caller is a member through Users= only: fewer admissions, never more. */
        r = sd_bus_call_method(sd_bus_message_get_bus(m), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetConnectionCredentials", NULL, &reply, "s", sender);
        if (r < 0)
                return r;
        r = read_bus_groups(reply, &id.groups, &id.n_groups);
        if (r < 0)
                return r;

        /* Ties the pid to this process for the lease holder, as for the
         * socket: a pid reused later has another start time. */
        r = process_get_start_time(id.pid, &id.start_time);
        if (r < 0) {
                free(id.groups);
                return r;
        }
        *ret = id;
        return 0;
}

static bool message_is_for_broker(sd_bus_message *m) {
        uint8_t type = 0;

        return sd_bus_message_get_type(m, &type) >= 0 && type == SD_BUS_MESSAGE_METHOD_CALL &&
               streq_ptr(sd_bus_message_get_interface(m), VFBROKER_INTERFACE) &&
               streq_ptr(sd_bus_message_get_path(m), VFBROKER_OBJECT_PATH);
}

/* Every message passes here before its handler: a message that polkit has
 * answered for leaves the waiting list and its answer is handed to the
 * handler through c->answered, for this one dispatch only. On the system
 * bus one connection carries every caller: the identity the handler sees is
 * read here, per message, from the bus. */
static int bus_filter(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        int r;

        c->answered = pending_call_free(c->answered);
        for (PendingCall *pc = c->pending; pc; pc = pc->next)
                if (pc->message == m && pc->answered) {
                        pending_call_unlink(pc);
                        c->answered = pc;
                        break;
                }

        if (!c->on_system_bus || !message_is_for_broker(m))
                return 0;
        identity_clear(&c->identity);
        r = identity_from_bus(m, &c->identity);
        if (r < 0) {
                log_debug_errno(r, "Cannot read the credentials of %s from the bus: %s", strna(sd_bus_message_get_sender(m)),
                                STRERROR(r));
                c->answered = pending_call_free(c->answered);
                identity_clear(&c->identity);
                (void) sd_bus_reply_method_errorf(m, VFBROKER_ERROR_NOT_AUTHORIZED,
                                                  "the bus did not tell who sent this call (%s), so it is refused",
                                                  strerror(-r));
                return 1; /* handled: the method does not run */
        }
        return 0;
}

/* On the system bus a hostile user may open as many connections as the bus
 * daemon allows: calls waiting for polkit are bounded per sender
 * (MaxCallsPerConnection=, as on the socket), per uid (that times
 * MaxConnectionsPerUser=) and in all (that times MaxConnections=). */
static int check_system_bus_limits(Client *c, sd_bus_message *m, const char *action, const char *tenant,
                                   sd_bus_error *error) {
        const Config *cfg = c->manager->config;
        const char *sender = sd_bus_message_get_sender(m);
        unsigned mine = 0, users = 0;
        unsigned per_user = cfg->max_calls_per_connection * cfg->max_connections_per_user;
        unsigned total = cfg->max_calls_per_connection * cfg->max_connections;

        for (PendingCall *pc = c->pending; pc; pc = pc->next) {
                if (streq_ptr(sd_bus_message_get_sender(pc->message), sender))
                        mine++;
                if (pc->uid == c->identity.uid)
                        users++;
        }
        if (mine >= cfg->max_calls_per_connection)
                return refuse(error, c, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "this bus connection already has %u calls in flight (MaxCallsPerConnection=%u); wait for their replies",
                              mine, cfg->max_calls_per_connection);
        if (users >= per_user)
                return refuse(error, c, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "uid %u already has %u calls in flight on the system bus (MaxCallsPerConnection= times "
                              "MaxConnectionsPerUser=); wait for their replies", (unsigned) c->identity.uid, users);
        if (c->calls_in_flight >= total)
                return refuse(error, c, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "%u calls are in flight on the system bus (MaxCallsPerConnection= times MaxConnections=); try again later",
                              c->calls_in_flight);
        return 0;
}

/* 1: the caller may do action now. 0: polkit is being asked; the handler
 * returns 1 (sd-bus takes 0 for "not mine") and runs again with the answer. <0: refused, error set. Root
 * skips polkit when RootSkipsPolkit=yes. */
static int bus_authorize(Client *c, sd_bus_message *m, const char *action, const char *tenant, sd_bus_error *error) {
        Manager *mgr = c->manager;
        PendingCall *pc;
        char *details[] = { (char *) "tenant", (char *) strempty(tenant), NULL };
        int r;

        if (c->identity.uid == 0 && mgr->config->root_skips_polkit)
                return 1;

        pc = c->answered;
        if (pc && pc->message == m && streq(pc->action, action)) {
                _cleanup_free_ char *text = TAKE_PTR(pc->text);
                int result = pc->result;

                c->answered = pending_call_free(pc);
                if (result > 0)
                        return 1;
                if (result == 0)
                        return refuse(error, c, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                                      "polkit does not allow uid %u to do %s%s%s; ask an administrator for a polkit rule",
                                      (unsigned) c->identity.uid, action, text ? ": " : "", strempty(text));
                if (text)
                        return refuse(error, c, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                                      "%s; the request is refused", text);
                return refuse(error, c, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                              "polkit could not be asked (%s), so the request is refused; is polkitd running?",
                              strerror(-result));
        }

        /* One question per call: should the same message come through again
         * before polkit answered, it must not be authorized, and acted on,
         * twice. */
        for (PendingCall *i = c->pending; i; i = i->next)
                if (i->message == m)
                        return 0;

        if (c->on_system_bus) {
                r = check_system_bus_limits(c, m, action, tenant, error);
                if (r < 0)
                        return r;
        } else if (c->calls_in_flight >= mgr->config->max_calls_per_connection)
                return refuse(error, c, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "this connection already has %u calls in flight (MaxCallsPerConnection=%u); wait for their replies",
                              c->calls_in_flight, mgr->config->max_calls_per_connection);

        pc = calloc(1, sizeof *pc);
        if (!pc)
                return -ENOMEM;
        pc->client = c;
        pc->message = sd_bus_message_ref(m);
        pc->action = strdup(action);
        pc->tenant = tenant ? strdup(tenant) : NULL;
        pc->uid = c->identity.uid;
        pc->next = c->pending;
        if (c->pending)
                c->pending->prev = pc;
        c->pending = pc;
        c->calls_in_flight++;
        if (!pc->action || (tenant && !pc->tenant)) {
                pending_call_free(pc);
                return -ENOMEM;
        }

        r = polkit_check(mgr->polkit, action,
                         &(PolkitSubject) {
                                 .pid = c->identity.pid,
                                 .start_time = c->identity.start_time,
                                 .uid = c->identity.uid,
                                 .pidfd = c->on_system_bus ? -EBADF : c->identity.pidfd,
                                 .system_bus_name = c->on_system_bus ? sd_bus_message_get_sender(m) : NULL,
                         },
                         tenant ? details : NULL, on_polkit_result, pc, &pc->query);
        if (r < 0) {
                pending_call_free(pc);
                return refuse(error, c, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                              "polkit could not be asked (%s), so the request is refused; start polkit.service",
                              strerror(-r));
        }
        return 0;
}

/* ---- argument checks ------------------------------------------------------ */

static int check_tenant_name(sd_bus_error *error, Client *c, const char *action, const char *name) {
        if (!tenant_name_is_valid(name))
                return refuse(error, c, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "'%.80s' is not a valid tenant name: use 1 to %d characters of A-Z a-z 0-9 _ . - not starting with . or -",
                              name, TENANT_NAME_MAX);
        return 0;
}

static int get_tenant(sd_bus_error *error, Client *c, const char *action, const char *name, StoreTenant **ret) {
        int r;

        r = check_tenant_name(error, c, action, name);
        if (r < 0)
                return r;
        r = store_tenant_get(c->manager->store, name, ret);
        if (r == -ENOENT)
                return refuse(error, c, action, name, VFBROKER_ERROR_UNKNOWN_TENANT,
                              "no tenant '%s'; list them with 'vfbrokerctl list-tenants'", name);
        if (r < 0)
                return fail(error, c, action, name, r, "cannot read the tenant from the store");
        return 0;
}

static int refuse_non_member(sd_bus_error *error, Client *c, const char *action, const char *tenant) {
        return refuse(error, c, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                      "uid %u is not one of the users or groups of tenant '%s'; an administrator can add it (Users=/Groups= in its [Tenant] section)",
                      (unsigned) c->identity.uid, tenant);
}

typedef struct AcquireOptions {
        const char *pf;
        int numa_node;      /* -1: any */
        VfApi api;
        char pf_buf[PCI_ADDRESS_MAX];
} AcquireOptions;

/* Parses the value of one option whose key the caller read; refuses unknown keys. */
typedef int (*option_parser_t)(sd_bus_message *m, const char *key, void *userdata, Client *c, sd_bus_error *error);

/* Walks an a{sv} of options (at most OPTIONS_MAX), handing each entry to parse. */
static int read_options(sd_bus_message *m, Client *c, const char *action, option_parser_t parse, void *userdata,
                        sd_bus_error *error) {
        unsigned n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const char *key;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (++n > OPTIONS_MAX)
                        return refuse(error, c, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "more than %u options", OPTIONS_MAX);
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = parse(m, key, userdata, c, error);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

static int parse_acquire_option(sd_bus_message *m, const char *key, void *userdata, Client *c, sd_bus_error *error) {
        AcquireOptions *o = userdata;
        int r;

        if (streq(key, "PhysicalFunction")) {
                const char *pf;

                r = sd_bus_message_read(m, "v", "s", &pf);
                if (r < 0)
                        return refuse(error, c, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "option PhysicalFunction must be a string (s)");
                if (pci_address_normalize(pf, o->pf_buf) < 0)
                        return refuse(error, c, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "PhysicalFunction '%.40s' is not a PCI address like 0000:01:00.0", pf);
                o->pf = o->pf_buf;
                return 0;
        }
        if (streq(key, "NumaNode")) {
                int32_t node;

                r = sd_bus_message_read(m, "v", "i", &node);
                if (r < 0)
                        return refuse(error, c, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "option NumaNode must be an int32 (i)");
                if (node < 0 || node > NUMA_NODE_MAX)
                        return refuse(error, c, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "NumaNode %d is out of range 0..%d", (int) node, NUMA_NODE_MAX);
                o->numa_node = node;
                return 0;
        }
        if (streq(key, "API")) {
                const char *api;

                r = sd_bus_message_read(m, "v", "s", &api);
                if (r < 0)
                        return refuse(error, c, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "option API must be a string (s)");
                r = vf_api_from_string(api);
                if (r < 0)
                        return refuse(error, c, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "API '%.32s' is unknown; use \"" VFBROKER_API_NAME_GROUP "\" or \"" VFBROKER_API_NAME_IOMMUFD "\"", api);
                o->api = r;
                return 0;
        }
        return refuse(error, c, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                      "unknown option '%.64s'; AcquireVF knows PhysicalFunction, NumaNode and API", key);
}

static int read_acquire_options(sd_bus_message *m, sd_bus_error *error, Client *c, AcquireOptions *o) {
        *o = (AcquireOptions) { .numa_node = -1 };
        return read_options(m, c, "acquire", parse_acquire_option, o, error);
}

/* ---- AcquireVF ------------------------------------------------------------- */

/* Why the free VFs an acquire could have had are not offered on the iommufd
 * path: the reason of the first ready PF in the way. */
static const char *iommufd_refusal(Manager *mgr, const AcquireOptions *o, char *buf, size_t size) {
        for (size_t i = 0; i < mgr->n_pfs; i++) {
                const Pf *pf = mgr->pfs[i];
                const char *why;

                if (pf->state != PF_READY || (o->pf && !streq(pf->address, o->pf)) || pf_count_vfs(pf, VF_FREE) == 0)
                        continue;
                why = pf_iommufd_refusal(pf, buf, size);
                if (why)
                        return why;
        }
        return "no PF offers it";
}

static int method_acquire_vf(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        Manager *mgr = c->manager;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        AcquireOptions o;
        const char *tenant;
        Lease *lease;
        Vf *vf;
        int r;

        r = sd_bus_message_read(m, "s", &tenant);
        if (r < 0)
                return r;
        r = read_acquire_options(m, error, c, &o);
        if (r < 0)
                return r;
        r = get_tenant(error, c, "acquire", tenant, &t);
        if (r < 0)
                return r;
        if (!tenant_admits(t, &c->identity))
                return refuse_non_member(error, c, "acquire", tenant);
        r = bus_authorize(c, m, POLKIT_ACTION_ACQUIRE, tenant, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked: the call comes back with its answer */

        r = allocator_acquire(mgr->allocator,
                              &(AcquireRequest) {
                                      .tenant = t,
                                      .pf = o.pf,
                                      .numa_node = o.numa_node,
                                      .uid = c->identity.uid,
                                      .pid = c->identity.pid,
                                      .pid_start_time = c->identity.start_time,
                                      .api = o.api,
                              },
                              &lease, &fds);
        switch (r) {
        case 0:
                break;
        case ACQUIRE_UNKNOWN_PF:
                return refuse(error, c, "acquire", tenant, VFBROKER_ERROR_UNKNOWN_PF,
                              "the broker owns no PF %s; see 'vfbrokerctl list-pfs'", o.pf);
        case ACQUIRE_QUOTA_EXCEEDED:
                return refuse(error, c, "acquire", tenant, VFBROKER_ERROR_QUOTA_EXCEEDED,
                              "tenant '%s' holds %u of %u VFs; release one (vfbrokerctl release LEASE) or raise its quota",
                              tenant, allocator_count_leases(mgr->allocator, tenant), t->quota);
        case ACQUIRE_NO_FREE_VF:
                return refuse(error, c, "acquire", tenant, VFBROKER_ERROR_NO_FREE_VF,
                              "no free VF%s%s%s for tenant '%s'; see 'vfbrokerctl list-vfs' and try again once one is released",
                              o.pf ? " on " : "", o.pf ? o.pf : "", o.numa_node >= 0 ? " on that NUMA node" : "", tenant);
        case ACQUIRE_HOLDER_GONE:
                return refuse(error, c, "acquire", tenant, VFBROKER_ERROR_FAILED,
                              "the calling process exited before the VF could be leased");
        case ACQUIRE_API_UNSUPPORTED: {
                char buf[512];

                return refuse(error, c, "acquire", tenant, VFBROKER_ERROR_NOT_SUPPORTED,
                              "no free VF for tenant '%s' can be handed out with API \"" VFBROKER_API_NAME_IOMMUFD "\": %s",
                              tenant, iommufd_refusal(mgr, &o, buf, sizeof buf));
        }
        case -EMFILE:
        case -ENFILE:
        case -ENOMEM:
                return fail(error, c, "acquire", tenant, r,
                            "the broker is short of resources right now, no VF was changed; try again");
        case -EKEYREJECTED:
                return fail(error, c, "acquire", tenant, r,
                            "the kernel refuses the broker's VF token for this PF; an administrator should restart vfbroker");
        default:
                return fail(error, c, "acquire", tenant, r, "cannot record the lease");
        }

        vf = lease->vf;
        /* The iommufd path has no group: the iommufd stands in both places. */
        r = sd_bus_reply_method_return(m, "ssuhhh", lease->id, vf->address, vf->iommu_group,
                                       fds.container, o.api == VF_API_IOMMUFD ? fds.container : fds.group, fds.device);
        vfio_vf_fds_close(&fds);
        if (r < 0) {
                /* The client is gone or the reply could not be built: undo. */
                log_warning_errno(r, "Cannot send the lease reply for VF %s: %s; ending the lease.", vf->address, STRERROR(r));
                allocator_end_lease(mgr->allocator, lease, "reply failed");
                return 1; /* handled: nothing more can be sent */
        }

        audit(LOG_INFO, c, LOG_MESSAGE_ID_GRANTED, "acquire", "granted", tenant, vf->address, lease->id,
              "Leased VF %s (group %u, API %s) to uid %u pid %d for tenant '%s', lease %s.",
              vf->address, vf->iommu_group, vf_api_to_string(o.api), (unsigned) c->identity.uid, (int) c->identity.pid,
              tenant, lease->id);
        /* Replied: 1, or sd-bus would go on and answer UnknownMethod as well. */
        return 1;
}

/* ---- ReleaseVF and RevokeLease ------------------------------------------------ */

/* Reads the lease id argument and finds its active lease, or refuses. */
static int read_active_lease(sd_bus_message *m, Client *c, const char *action, Lease **ret, sd_bus_error *error) {
        const char *id;
        Lease *l;
        int r;

        r = sd_bus_message_read(m, "s", &id);
        if (r < 0)
                return r;
        if (!lease_id_is_valid(id))
                return refuse(error, c, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "'%.40s' is not a lease id (32 hex characters, as AcquireVF returned it)", id);
        l = allocator_find_lease(c->manager->allocator, id);
        if (!l)
                return refuse(error, c, action, NULL, VFBROKER_ERROR_UNKNOWN_LEASE,
                              "no active lease '%s'; it may have ended already (see 'vfbrokerctl list-leases')", id);
        *ret = l;
        return 0;
}

/* What the audit record of an ended lease names, copied before the lease ends. */
typedef struct LeaseNames {
        char vf[PCI_ADDRESS_MAX];
        char id[LEASE_ID_LENGTH + 1];
        char tenant[TENANT_NAME_MAX + 1];
        pid_t holder;
} LeaseNames;

static LeaseNames lease_names(const Lease *l) {
        LeaseNames n = { .holder = l->pid };

        snprintf(n.vf, sizeof n.vf, "%s", l->vf->address);
        snprintf(n.id, sizeof n.id, "%s", l->id);
        snprintf(n.tenant, sizeof n.tenant, "%s", l->tenant);
        return n;
}

/* A call answered once a worker job is over: RevokeLease, SetNumVFs,
 * DeleteTenant with Force. It keeps the message, not the client, which may
 * be gone by then (the reply then goes nowhere). */
typedef struct Deferred {
        Manager *manager;
        sd_bus_message *message;
        Identity who;                   /* uid and pid only, for the audit record */
        LeaseNames lease;
        char tenant[TENANT_NAME_MAX + 1];
        Pf *pf;
} Deferred;

static Deferred *deferred_new(Client *c, sd_bus_message *m) {
        Deferred *d = calloc(1, sizeof *d);

        if (!d)
                return NULL;
        d->manager = c->manager;
        d->message = sd_bus_message_ref(m);
        d->who = (Identity) { .uid = c->identity.uid, .pid = c->identity.pid };
        return d;
}

static void deferred_free(Deferred *d) {
        sd_bus_message_unref(d->message);
        free(d);
}

/* Replies to a deferred call with a failure and records it. */
static void deferred_fail(Deferred *d, const char *action, int r, const char *what) {
        audit_as(LOG_ERR, &d->who, LOG_MESSAGE_ID_REFUSED, action, "error", d->tenant[0] ? d->tenant : NULL,
                 d->lease.vf[0] ? d->lease.vf : NULL, NULL, "Failed %s for uid %u pid %d: %s: %s", action,
                 (unsigned) d->who.uid, (int) d->who.pid, what, STRERROR(r));
        (void) sd_bus_reply_method_errorf(d->message, VFBROKER_ERROR_FAILED, "%s: %s", what, STRERROR(r));
}

static int method_release_vf(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        LeaseNames n;
        Lease *l;
        int r;

        r = read_active_lease(m, c, "release", &l, error);
        if (r < 0)
                return r;
        /* The holder's own uid may end its lease; anybody else manages. */
        if (l->uid != c->identity.uid) {
                r = bus_authorize(c, m, POLKIT_ACTION_MANAGE, l->tenant, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 1; /* polkit is asked: the call comes back with its answer */
        }

        n = lease_names(l);
        allocator_end_lease(c->manager->allocator, l, "released");
        audit(LOG_INFO, c, LOG_MESSAGE_ID_RELEASED, "release", "granted", n.tenant, n.vf, n.id,
              "Lease %s of VF %s released by uid %u.", n.id, n.vf, (unsigned) c->identity.uid);
        return sd_bus_reply_method_return(m, NULL);
}

static void on_revoked(int result, void *userdata) {
        Deferred *d = userdata;

        if (result < 0)
                deferred_fail(d, "revoke", result, "the kernel refused to revoke the VF");
        else {
                audit_as(LOG_NOTICE, &d->who, LOG_MESSAGE_ID_RELEASED, "revoke", "granted", d->tenant, d->lease.vf,
                         d->lease.id, "Lease %s of VF %s revoked by uid %u.", d->lease.id, d->lease.vf,
                         (unsigned) d->who.uid);
                (void) sd_bus_reply_method_return(d->message, NULL);
        }
        deferred_free(d);
}

static int method_revoke_lease(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        Deferred *d;
        Lease *l;
        int r;

        r = read_active_lease(m, c, "revoke", &l, error);
        if (r < 0)
                return r;
        r = bus_authorize(c, m, POLKIT_ACTION_MANAGE, l->tenant, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked: the call comes back with its answer */

        d = deferred_new(c, m);
        if (!d)
                return -ENOMEM;
        d->lease = lease_names(l);
        snprintf(d->tenant, sizeof d->tenant, "%s", l->tenant);
        r = allocator_revoke(c->manager->allocator, l, on_revoked, d);
        if (r == -EBUSY) {
                deferred_free(d);
                return refuse(error, c, "revoke", l->tenant, VFBROKER_ERROR_BUSY,
                              "lease %s is being revoked already; see 'vfbrokerctl list-leases'", l->id);
        }
        if (r < 0) {
                deferred_free(d);
                return fail(error, c, "revoke", l->tenant, r, "cannot start the revocation");
        }
        if (r == 0) {
                audit(LOG_NOTICE, c, LOG_MESSAGE_ID_RELEASED, "revoke", "cooperative", d->tenant, d->lease.vf, d->lease.id,
                      "Lease %s of VF %s revoked by uid %u (not by force: the driver cannot).", d->lease.id,
                      d->lease.vf, (unsigned) c->identity.uid);
                r = sd_bus_error_setf(error, VFBROKER_ERROR_NOT_SUPPORTED,
                                      "lease %s has ended, but vfio-pci cannot take VF %s back: it stays draining until "
                                      "pid %d closes its fds; for forced revocation bind the PF to vfbroker_vfio_pci "
                                      "(Driver= in vfbroker.conf)", d->lease.id, d->lease.vf, (int) d->lease.holder);
                deferred_free(d);
                return r;
        }
        /* The reply follows once the variant driver has taken the VF back. */
        return 1;
}

/* ---- tenants ----------------------------------------------------------------- */

typedef struct TenantOptions {
        uid_t uids[TENANT_IDS_MAX];
        size_t n_uids;
        gid_t gids[TENANT_IDS_MAX];
        size_t n_gids;
        unsigned quota;
} TenantOptions;

static int read_id_array(sd_bus_message *m, uint32_t *out, size_t *ret_n) {
        const uint32_t *data;
        int r;

        r = read_variant_u32_array(m, TENANT_IDS_MAX, &data, ret_n);
        if (r < 0)
                return r;
        memcpy(out, data, *ret_n * sizeof(uint32_t));
        return 0;
}

static int parse_tenant_option(sd_bus_message *m, const char *key, void *userdata, Client *c, sd_bus_error *error) {
        TenantOptions *o = userdata;
        int r;

        if (streq(key, "Uids") || streq(key, "Gids")) {
                bool u = streq(key, "Uids");
                uint32_t ids[TENANT_IDS_MAX];
                size_t k;

                r = read_id_array(m, ids, &k);
                if (r == -E2BIG)
                        return refuse(error, c, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "%s has more than %u entries", key, TENANT_IDS_MAX);
                if (r < 0)
                        return refuse(error, c, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "option %s must be an array of uint32 (au)", key);
                for (size_t i = 0; i < k; i++) {
                        if (ids[i] == (uint32_t) -1)
                                return refuse(error, c, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                              "%s contains the invalid id 4294967295", key);
                        if (u)
                                o->uids[i] = ids[i];
                        else
                                o->gids[i] = ids[i];
                }
                if (u)
                        o->n_uids = k;
                else
                        o->n_gids = k;
                return 0;
        }
        if (streq(key, "Quota")) {
                uint32_t q;

                r = sd_bus_message_read(m, "v", "u", &q);
                if (r < 0)
                        return refuse(error, c, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "option Quota must be a uint32 (u)");
                if (q < 1 || q > TENANT_QUOTA_MAX)
                        return refuse(error, c, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "Quota %u is out of range 1..%u", q, TENANT_QUOTA_MAX);
                o->quota = q;
                return 0;
        }
        return refuse(error, c, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                      "unknown option '%.64s'; CreateTenant knows Uids, Gids and Quota", key);
}

static int read_tenant_options(sd_bus_message *m, sd_bus_error *error, Client *c, TenantOptions *o) {
        o->n_uids = o->n_gids = 0;
        o->quota = c->manager->config->default_quota;
        return read_options(m, c, "create-tenant", parse_tenant_option, o, error);
}

static int count_tenants(Manager *mgr, size_t *ret) {
        StoreTenant **all = NULL;
        size_t n = 0;
        int r;

        r = store_tenant_list(mgr->store, &all, &n);
        if (r < 0)
                return r;
        store_tenant_list_free(all, n);
        *ret = n;
        return 0;
}

static int method_create_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        Manager *mgr = c->manager;
        _cleanup_(store_tenant_freep) StoreTenant *existing = NULL;
        StoreTenant t = { .quota = 0 };
        TenantOptions o;
        const char *name;
        size_t n;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = check_tenant_name(error, c, "create-tenant", name);
        if (r < 0)
                return r;
        r = read_tenant_options(m, error, c, &o);
        if (r < 0)
                return r;
        if (store_tenant_get(mgr->store, name, &existing) >= 0)
                return refuse(error, c, "create-tenant", name, VFBROKER_ERROR_EXISTS,
                              "tenant '%s' exists already", name);
        r = count_tenants(mgr, &n);
        if (r < 0)
                return fail(error, c, "create-tenant", name, r, "cannot list tenants");
        if (n >= mgr->config->max_tenants)
                return refuse(error, c, "create-tenant", name, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "there are %zu tenants already (MaxTenants=%u); delete one first", n, mgr->config->max_tenants);
        r = bus_authorize(c, m, POLKIT_ACTION_MANAGE, name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked: the call comes back with its answer */

        t.name = (char *) name;
        t.quota = o.quota;
        t.uids = o.uids;
        t.n_uids = o.n_uids;
        t.gids = o.gids;
        t.n_gids = o.n_gids;
        t.created_usec = now_realtime_usec();
        r = token_generate(&t.token);
        if (r < 0)
                return fail(error, c, "create-tenant", name, r, "cannot generate a token");

        r = store_tenant_add(mgr->store, &t);
        if (r == -EEXIST)
                return refuse(error, c, "create-tenant", name, VFBROKER_ERROR_EXISTS,
                              "tenant '%s' exists already", name);
        if (r < 0)
                return fail(error, c, "create-tenant", name, r, "cannot store the tenant");

        audit(LOG_INFO, c, LOG_MESSAGE_ID_TENANT, "create-tenant", "granted", name, NULL, NULL,
              "Tenant '%s' created by uid %u (quota %u, %zu users, %zu groups).",
              name, (unsigned) c->identity.uid, o.quota, o.n_uids, o.n_gids);
        return sd_bus_reply_method_return(m, NULL);
}

static const Pf *tenant_dedicated_pf(Manager *mgr, const char *tenant) {
        for (size_t i = 0; i < mgr->n_pfs; i++)
                if (mgr->pfs[i]->mode == PF_MODE_DEDICATED && streq_ptr(mgr->pfs[i]->tenant, tenant))
                        return mgr->pfs[i];
        return NULL;
}

/* Why a tenant may not be deleted now, or 0. With force, its leases do not count: they get revoked. */
static int check_tenant_deletable(sd_bus_error *error, Client *c, const StoreTenant *t, bool force) {
        Manager *mgr = c->manager;
        const Pf *pf;
        unsigned held;

        if (t->from_config)
                return refuse(error, c, "delete-tenant", t->name, VFBROKER_ERROR_BUSY,
                              "tenant '%s' is defined in the configuration; remove its [Tenant] section there and restart vfbroker",
                              t->name);
        pf = tenant_dedicated_pf(mgr, t->name);
        if (pf)
                return refuse(error, c, "delete-tenant", t->name, VFBROKER_ERROR_BUSY,
                              "PF %s is dedicated to tenant '%s'; change its configuration first", pf->address, t->name);
        held = allocator_count_leases(mgr->allocator, t->name);
        if (held > 0 && !force)
                return refuse(error, c, "delete-tenant", t->name, VFBROKER_ERROR_BUSY,
                              "tenant '%s' holds %u leases; release them first (vfbrokerctl list-leases), or delete with Force to revoke them",
                              t->name, held);
        return 0;
}

static int parse_delete_option(sd_bus_message *m, const char *key, void *userdata, Client *c, sd_bus_error *error) {
        bool *force = userdata;
        int b, r;

        if (!streq(key, "Force"))
                return refuse(error, c, "delete-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "unknown option '%.64s'; DeleteTenant knows Force", key);
        r = sd_bus_message_read(m, "v", "b", &b);
        if (r < 0)
                return refuse(error, c, "delete-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "option Force must be a boolean (b)");
        *force = b;
        return 0;
}

static int read_delete_options(sd_bus_message *m, sd_bus_error *error, Client *c, bool *ret_force) {
        *ret_force = false;
        return read_options(m, c, "delete-tenant", parse_delete_option, ret_force, error);
}

static int remove_tenant(Manager *mgr, const char *name, const Identity *who) {
        int r;

        r = store_tenant_remove(mgr->store, name);
        if (r < 0)
                return r;
        audit_as(LOG_INFO, who, LOG_MESSAGE_ID_TENANT, "delete-tenant", "granted", name, NULL, NULL,
                 "Tenant '%s' deleted by uid %u.", name, (unsigned) who->uid);
        return 0;
}

static void on_tenant_revoked(int result, void *userdata) {
        Deferred *d = userdata;
        int r = result;

        if (r >= 0)
                r = remove_tenant(d->manager, d->tenant, &d->who);
        if (r == -EBUSY)
                (void) sd_bus_reply_method_errorf(d->message, VFBROKER_ERROR_BUSY,
                                                  "tenant '%s' still has leases in the store; release them first", d->tenant);
        else if (r < 0)
                deferred_fail(d, "delete-tenant", r, result < 0 ? "the kernel refused to revoke a VF of the tenant"
                                                                 : "cannot delete the tenant");
        else
                (void) sd_bus_reply_method_return(d->message, NULL);
        deferred_free(d);
}

static int method_delete_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        const char *name;
        bool force;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = read_delete_options(m, error, c, &force);
        if (r < 0)
                return r;
        r = get_tenant(error, c, "delete-tenant", name, &t);
        if (r < 0)
                return r;
        r = check_tenant_deletable(error, c, t, force);
        if (r < 0)
                return r;
        r = bus_authorize(c, m, POLKIT_ACTION_MANAGE, name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked: the call comes back with its answer */

        if (force) {
                Deferred *d = deferred_new(c, m);

                if (!d)
                        return -ENOMEM;
                snprintf(d->tenant, sizeof d->tenant, "%s", name);
                r = allocator_revoke_tenant(c->manager->allocator, name, on_tenant_revoked, d);
                if (r < 0) {
                        deferred_free(d);
                        return fail(error, c, "delete-tenant", name, r, "the kernel refused to revoke a VF of the tenant");
                }
                if (r > 0)
                        return 1; /* deleted once every revocation is over */
                deferred_free(d);
        }

        r = remove_tenant(c->manager, name, &c->identity);
        if (r == -EBUSY)
                return refuse(error, c, "delete-tenant", name, VFBROKER_ERROR_BUSY,
                              "tenant '%s' still has leases in the store; release them first", name);
        if (r < 0)
                return fail(error, c, "delete-tenant", name, r, "cannot delete the tenant");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_rotate_token(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        Manager *mgr = c->manager;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        const char *name;
        Token token;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = get_tenant(error, c, "rotate-token", name, &t);
        if (r < 0)
                return r;
        r = bus_authorize(c, m, POLKIT_ACTION_MANAGE, name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked: the call comes back with its answer */

        r = token_generate(&token);
        if (r < 0)
                return fail(error, c, "rotate-token", name, r, "cannot generate a token");
        r = store_tenant_set_token(mgr->store, name, &token);
        if (r < 0)
                return fail(error, c, "rotate-token", name, r, "cannot store the new token");

        /* Dedicated PFs carry the tenant's token in the kernel: change it there too. */
        for (size_t i = 0; i < mgr->n_pfs; i++) {
                Pf *pf = mgr->pfs[i];

                if (pf->state != PF_READY || pf->mode != PF_MODE_DEDICATED || !streq_ptr(pf->tenant, name))
                        continue;
                r = pf_apply_token(pf);
                if (r < 0)
                        return fail(error, c, "rotate-token", name, r, "the new token is stored but the kernel refused it");
        }

        audit(LOG_NOTICE, c, LOG_MESSAGE_ID_TOKEN_ROTATED, "rotate-token", "granted", name, NULL, NULL,
              "Token of tenant '%s' rotated by uid %u.", name, (unsigned) c->identity.uid);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_tenant_token(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        char buf[TOKEN_STRING_MAX];
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = get_tenant(error, c, "read-token", name, &t);
        if (r < 0)
                return r;
        if (!tenant_admits(t, &c->identity))
                return refuse_non_member(error, c, "read-token", name);
        if (!tenant_dedicated_pf(c->manager, name))
                return refuse(error, c, "read-token", name, VFBROKER_ERROR_NOT_SUPPORTED,
                              "no PF is dedicated to tenant '%s', so its token opens nothing; use AcquireVF (vfbrokerctl run)", name);
        r = bus_authorize(c, m, POLKIT_ACTION_READ_TOKEN, name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked: the call comes back with its answer */

        audit(LOG_NOTICE, c, LOG_MESSAGE_ID_GRANTED, "read-token", "granted", name, NULL, NULL,
              "Token of tenant '%s' read by uid %u.", name, (unsigned) c->identity.uid);
        return sd_bus_reply_method_return(m, "s", token_to_string(&t->token, buf));
}

/* ---- SetNumVFs ------------------------------------------------------------------ */

static int read_set_num_vfs(sd_bus_message *m, sd_bus_error *error, Client *c, Pf **ret_pf, unsigned *ret_n) {
        char address[PCI_ADDRESS_MAX];
        const char *s;
        uint32_t n;
        Pf *pf;
        int r;

        r = sd_bus_message_read(m, "su", &s, &n);
        if (r < 0)
                return r;
        if (pci_address_normalize(s, address) < 0)
                return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "'%.40s' is not a PCI address like 0000:01:00.0", s);
        pf = manager_find_pf(c->manager, address);
        if (!pf)
                return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_UNKNOWN_PF,
                              "the broker owns no PF %s; see 'vfbrokerctl list-pfs'", address);
        if (pf->state == PF_CHANGING)
                return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                              "sriov_numvfs of PF %s is being changed already; wait for that to finish", address);
        if (pf->state != PF_READY)
                return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_FAILED,
                              "PF %s is broken (%s); fix that and restart vfbroker", address, strna(pf->reason));
        if (n > pf->total_vfs)
                return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "PF %s supports at most %u VFs (sriov_totalvfs)", address, pf->total_vfs);
        for (unsigned i = 0; i < pf->n_vfs; i++)
                if (pf->vfs[i].state == VF_LEASED || pf->vfs[i].state == VF_DRAINING || pf->vfs[i].state == VF_REVOKING)
                        return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                                      "VF %s of PF %s is %s; wait until every VF of it is free",
                                      pf->vfs[i].address, address, vf_state_to_string(pf->vfs[i].state));
        *ret_pf = pf;
        *ret_n = n;
        return 0;
}

static void on_num_vfs_set(int result, void *userdata) {
        Deferred *d = userdata;

        if (result < 0)
                deferred_fail(d, "set-numvfs", result, "cannot change sriov_numvfs");
        else {
                audit_as(LOG_NOTICE, &d->who, LOG_MESSAGE_ID_PF_STATE, "set-numvfs", "granted", NULL, d->pf->address, NULL,
                         "PF %s now has %u VFs (set by uid %u).", d->pf->address, d->pf->n_vfs, (unsigned) d->who.uid);
                (void) sd_bus_reply_method_return(d->message, NULL);
        }
        deferred_free(d);
}

static int method_set_num_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        unsigned n = 0;
        Deferred *d;
        Pf *pf = NULL;
        int r;

        r = read_set_num_vfs(m, error, c, &pf, &n);
        if (r < 0)
                return r;
        r = bus_authorize(c, m, POLKIT_ACTION_MANAGE, NULL, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1; /* polkit is asked: the call comes back with its answer */

        d = deferred_new(c, m);
        if (!d)
                return -ENOMEM;
        d->pf = pf;
        r = allocator_set_num_vfs(c->manager->allocator, pf, n, on_num_vfs_set, d);
        if (r < 0)
                deferred_free(d);
        if (r == -EBUSY)
                return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                              "a VF of PF %s is still held by some process; wait until it is closed", pf->address);
        if (r == -EALREADY)
                return refuse(error, c, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                              "sriov_numvfs of PF %s is being changed already; wait for that to finish", pf->address);
        if (r < 0)
                return fail(error, c, "set-numvfs", NULL, r, "cannot change sriov_numvfs");
        return 1; /* the reply follows once the VFs are there */
}

/* ---- listings --------------------------------------------------------------------- */

/* A List* reply: an array with one a{sv} per item, which append adds. */
typedef int (*list_append_t)(sd_bus_message *reply, Client *c, const void *userdata, sd_bus_error *error);

static int reply_list(sd_bus_message *m, Client *c, list_append_t append, const void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r < 0)
                return r;
        r = append(reply, c, userdata, error);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int append_pfs(sd_bus_message *reply, Client *c, const void *userdata, sd_bus_error *error) {
        Manager *mgr = c->manager;
        int r;

        for (size_t i = 0; i < mgr->n_pfs; i++) {
                Pf *pf = mgr->pfs[i];
                const char *no_iommufd;
                char why[512];

                r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                          "Address", "s", pf->address,
                                          "Interface", "s", strempty(pf->interface),
                                          "Driver", "s", strempty(pf->driver),
                                          "Mode", "s", pf_mode_to_string(pf->mode),
                                          "Tenant", "s", strempty(pf->tenant),
                                          "State", "s", pf_state_to_string(pf->state),
                                          "Reason", "s", strempty(pf->reason),
                                          "NumVFs", "u", pf->n_vfs,
                                          "TotalVFs", "u", pf->total_vfs,
                                          "FreeVFs", "u", pf_count_vfs(pf, VF_FREE));
                if (r < 0)
                        return r;
                if (pf_has_per_vf_tokens(pf) && pf_has_revocation(pf))
                        r = sd_bus_message_append(reply, "{sv}", "Features", "as", 2, "per-vf-token", "revocation");
                else if (pf_has_per_vf_tokens(pf))
                        r = sd_bus_message_append(reply, "{sv}", "Features", "as", 1, "per-vf-token");
                else if (pf_has_revocation(pf))
                        r = sd_bus_message_append(reply, "{sv}", "Features", "as", 1, "revocation");
                else
                        r = sd_bus_message_append(reply, "{sv}", "Features", "as", 0);
                if (r < 0)
                        return r;
                no_iommufd = pf_iommufd_refusal(pf, why, sizeof why);
                if (no_iommufd)
                        r = sd_bus_message_append(reply, "{sv}{sv}", "APIs", "as", 1, VFBROKER_API_NAME_GROUP,
                                                  "IommufdUnavailableReason", "s", no_iommufd);
                else
                        r = sd_bus_message_append(reply, "{sv}{sv}", "APIs", "as", 2, VFBROKER_API_NAME_GROUP, VFBROKER_API_NAME_IOMMUFD,
                                                  "IommufdUnavailableReason", "s", "");
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int method_list_pfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return reply_list(m, userdata, append_pfs, NULL, error);
}

/* One {sv} entry, appended without sd_bus_message_append()'s format parser:
 * at 16,384 VFs the listing is eight of these per VF. */
static int append_entry(sd_bus_message *reply, const char *key, char type, const void *value) {
        const char sig[2] = { type, '\0' };
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, 's', key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'v', sig);
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, type, value);
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int append_vf(sd_bus_message *reply, const Vf *vf) {
        const char *state = vf_state_to_string(vf->state);
        const char *lease = vf->lease && vf->lease->active ? vf->lease->id : "";
        const char *tenant = vf->lease ? vf->lease->tenant : "";
        uint32_t index = vf->index, group = vf->iommu_group;
        int32_t numa = vf->numa_node;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        if ((r = append_entry(reply, "Address", 's', vf->address)) < 0 ||
            (r = append_entry(reply, "PhysicalFunction", 's', vf->pf->address)) < 0 ||
            (r = append_entry(reply, "Index", 'u', &index)) < 0 ||
            (r = append_entry(reply, "IommuGroup", 'u', &group)) < 0 ||
            (r = append_entry(reply, "NumaNode", 'i', &numa)) < 0 ||
            (r = append_entry(reply, "State", 's', state)) < 0 ||
            (r = append_entry(reply, "Lease", 's', lease)) < 0 ||
            (r = append_entry(reply, "Tenant", 's', tenant)) < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

/* What FindVirtualFunctions asks for; NULL members match everything. */
typedef struct VfQuery {
        const char *pf;
        char pf_buf[PCI_ADDRESS_MAX];
        int state;              /* -1: any */
        const char *tenant;
} VfQuery;

static bool vf_query_matches(const VfQuery *q, const Vf *vf) {
        if (q->pf && !streq(vf->pf->address, q->pf))
                return false;
        if (q->state >= 0 && (int) vf->state != q->state)
                return false;
        if (q->tenant && !(vf->lease && vf->lease->active && streq(vf->lease->tenant, q->tenant)))
                return false;
        return true;
}

static int append_vfs(sd_bus_message *reply, Client *c, const void *userdata, sd_bus_error *error) {
        const VfQuery *q = userdata;
        Manager *mgr = c->manager;
        int r;

        for (size_t i = 0; i < mgr->n_pfs; i++) {
                if (q && q->pf && !streq(mgr->pfs[i]->address, q->pf))
                        continue;
                for (unsigned j = 0; j < mgr->pfs[i]->n_vfs; j++) {
                        const Vf *vf = &mgr->pfs[i]->vfs[j];

                        if (q && !vf_query_matches(q, vf))
                                continue;
                        r = append_vf(reply, vf);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int method_list_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return reply_list(m, userdata, append_vfs, NULL, error);
}

static int parse_vf_query_option(sd_bus_message *m, const char *key, void *userdata, Client *c, sd_bus_error *error) {
        VfQuery *q = userdata;
        const char *v;
        int r;

        if (!streq(key, "PhysicalFunction") && !streq(key, "State") && !streq(key, "Tenant"))
                return refuse(error, c, "list-vfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "unknown filter '%.64s'; FindVirtualFunctions knows PhysicalFunction, State and Tenant", key);
        r = sd_bus_message_read(m, "v", "s", &v);
        if (r < 0)
                return refuse(error, c, "list-vfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT, "filter %s must be a string (s)", key);
        if (streq(key, "PhysicalFunction")) {
                if (pci_address_normalize(v, q->pf_buf) < 0)
                        return refuse(error, c, "list-vfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "PhysicalFunction '%.40s' is not a PCI address like 0000:01:00.0", v);
                q->pf = q->pf_buf;
        } else if (streq(key, "State")) {
                q->state = -1;
                for (int st = 0; st < _VF_STATE_MAX; st++)
                        if (streq(v, vf_state_to_string((VfState) st)))
                                q->state = st;
                if (q->state < 0)
                        return refuse(error, c, "list-vfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "State '%.40s' is none of free, leased, draining, broken, revoking", v);
        } else {
                r = check_tenant_name(error, c, "list-vfs", v);
                if (r < 0)
                        return r;
                q->tenant = v;
        }
        return 0;
}

static int method_find_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        VfQuery q = { .state = -1 };
        int r;

        r = read_options(m, c, "list-vfs", parse_vf_query_option, &q, error);
        if (r < 0)
                return r;
        return reply_list(m, c, append_vfs, &q, error);
}

static int append_leases(sd_bus_message *reply, Client *c, const void *userdata, sd_bus_error *error) {
        Manager *mgr = c->manager;
        int r;

        for (size_t i = 0; i < mgr->n_pfs; i++)
                for (unsigned j = 0; j < mgr->pfs[i]->n_vfs; j++) {
                        Vf *vf = &mgr->pfs[i]->vfs[j];
                        Lease *l = vf->lease;

                        if (!l)
                                continue;
                        r = sd_bus_message_append(reply, "a{sv}", 8,
                                                  "Id", "s", l->id,
                                                  "VirtualFunction", "s", vf->address,
                                                  "PhysicalFunction", "s", vf->pf->address,
                                                  "Tenant", "s", l->tenant,
                                                  "Uid", "u", (uint32_t) l->uid,
                                                  "Pid", "u", (uint32_t) l->pid,
                                                  "Created", "t", l->created_usec,
                                                  "State", "s", !l->active ? "ended" : vf->state == VF_REVOKING ? "revoking" : "active");
                        if (r < 0)
                                return r;
                }
        return 0;
}

static int method_list_leases(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return reply_list(m, userdata, append_leases, NULL, error);
}

static int append_ids(sd_bus_message *reply, const char *key, const uint32_t *ids, size_t n) {
        int r;

        r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "s", key);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'v', "au");
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'u', ids, n * sizeof(uint32_t));
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int append_tenants(sd_bus_message *reply, Client *c, const void *userdata, sd_bus_error *error) {
        Manager *mgr = c->manager;
        StoreTenant **tenants = NULL;
        size_t n = 0;
        int r;

        r = store_tenant_list(mgr->store, &tenants, &n);
        if (r < 0)
                return fail(error, c, "list-tenants", NULL, r, "cannot list tenants");

        for (size_t i = 0; i < n && r >= 0; i++) {
                StoreTenant *t = tenants[i];

                r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}",
                                                  "Name", "s", t->name,
                                                  "Quota", "u", t->quota,
                                                  "Leases", "u", allocator_count_leases(mgr->allocator, t->name),
                                                  "FromConfig", "b", (int) t->from_config);
                if (r >= 0)
                        r = append_ids(reply, "Uids", (const uint32_t *) t->uids, t->n_uids);
                if (r >= 0)
                        r = append_ids(reply, "Gids", (const uint32_t *) t->gids, t->n_gids);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        store_tenant_list_free(tenants, n);
        return r < 0 ? r : 0;
}

static int method_list_tenants(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return reply_list(m, userdata, append_tenants, NULL, error);
}

/* ---- properties ------------------------------------------------------------------- */

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *mgr = ((Client *) userdata)->manager;
        uint32_t n = 0;

        if (streq(property, "Leases"))
                n = allocator_count_leases(mgr->allocator, NULL);
        else
                for (size_t i = 0; i < mgr->n_pfs; i++) {
                        if (mgr->pfs[i]->state != PF_READY)
                                continue;
                        n += streq(property, "PhysicalFunctions") ? 1 : mgr->pfs[i]->n_vfs;
                }
        return sd_bus_message_append(reply, "u", n);
}

static const sd_bus_vtable broker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PhysicalFunctions", "u", property_get_count, 0, 0),
        SD_BUS_PROPERTY("VirtualFunctions", "u", property_get_count, 0, 0),
        SD_BUS_PROPERTY("Leases", "u", property_get_count, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("ListPhysicalFunctions", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("aa{sv}", pfs), method_list_pfs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListVirtualFunctions", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("aa{sv}", vfs), method_list_vfs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("FindVirtualFunctions", SD_BUS_ARGS("a{sv}", filter),
                                SD_BUS_RESULT("aa{sv}", vfs), method_find_vfs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListLeases", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("aa{sv}", leases), method_list_leases, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListTenants", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("aa{sv}", tenants), method_list_tenants, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AcquireVF",
                                SD_BUS_ARGS("s", tenant, "a{sv}", options),
                                SD_BUS_RESULT("s", lease, "s", address, "u", iommu_group,
                                              "h", container, "h", group, "h", device),
                                method_acquire_vf, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReleaseVF", SD_BUS_ARGS("s", lease), SD_BUS_NO_RESULT,
                                method_release_vf, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RevokeLease", SD_BUS_ARGS("s", lease), SD_BUS_NO_RESULT,
                                method_revoke_lease, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateTenant", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_create_tenant, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteTenant", SD_BUS_ARGS("s", name, "a{sv}", options), SD_BUS_NO_RESULT,
                                method_delete_tenant, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RotateToken", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_rotate_token, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetTenantToken", SD_BUS_ARGS("s", name), SD_BUS_RESULT("s", token),
                                method_get_tenant_token, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetNumVFs", SD_BUS_ARGS("s", pf, "u", count), SD_BUS_NO_RESULT,
                                method_set_num_vfs, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* busctl and other bus clients send Hello first; a peer-to-peer server answers
 * it with a made-up unique name so they work against the socket directly. */
static int method_hello(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        char name[32];

        snprintf(name, sizeof name, ":1.%" PRIu64, c->id);
        return sd_bus_reply_method_return(m, "s", name);
}

static const sd_bus_vtable dbus_shim_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Hello", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", unique_name), method_hello, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_add_client_objects(Client *c) {
        int r;

        r = sd_bus_add_filter(c->bus, NULL, bus_filter, c);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(c->bus, NULL, VFBROKER_OBJECT_PATH, VFBROKER_INTERFACE, broker_vtable, c);
        if (r < 0)
                return r;
        return sd_bus_add_object_vtable(c->bus, NULL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        dbus_shim_vtable, c);
}

/* ---- the system bus ----------------------------------------------------------------- */

static int on_system_bus_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;

        /* Reconnecting would leave a window in which the name is gone and the
         * bus hands it to whoever asks first (the policy lets only root own
         * it); a restart is what systemd's own bus services do, and PFs and
         * leases survive it (fd store, state store). */
        log_error("Lost the connection to the system bus; stopping so that systemd starts vfbrokerd again "
                  "(PFs and leases are kept).");
        return sd_event_exit(c->manager->event, -ECONNRESET);
}

int bus_system_start(Manager *m, Client **ret) {
        _cleanup_(client_freep) Client *c = NULL;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return log_oom();
        c->manager = m;
        c->on_system_bus = true;
        c->socket_fd = c->relay_fd = -EBADF;
        identity_clear(&c->identity);

        /* Honours $DBUS_SYSTEM_BUS_ADDRESS, as polkit.c does. */
        r = sd_bus_open_system(&c->bus);
        if (r < 0)
                return log_error_errno(r, "SystemBus=yes, but the system bus cannot be reached: %s", STRERROR(r));
        (void) sd_bus_set_description(c->bus, "system-bus");
        if (sd_bus_can_send(c->bus, SD_BUS_TYPE_UNIX_FD) <= 0)
                return log_error_errno(-EPROTONOSUPPORT,
                                       "SystemBus=yes, but the system bus does not pass file descriptors, which AcquireVF needs.");

        r = sd_bus_add_filter(c->bus, NULL, bus_filter, c);
        if (r < 0)
                return log_error_errno(r, "Cannot add the system bus filter: %s", STRERROR(r));
        r = sd_bus_add_object_vtable(c->bus, NULL, VFBROKER_OBJECT_PATH, VFBROKER_INTERFACE, broker_vtable, c);
        if (r < 0)
                return log_error_errno(r, "Cannot register %s on the system bus: %s", VFBROKER_OBJECT_PATH, STRERROR(r));
        r = sd_bus_match_signal(c->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_system_bus_disconnected, c);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the system bus connection: %s", STRERROR(r));

        /* Synchronously, before READY=1: once systemd says the service is
         * up, busctl finds the name. Without our policy file the bus refuses. */
        r = sd_bus_request_name(c->bus, BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Cannot take the name %s on the system bus: %s; is the D-Bus policy "
                                       "org.vfbroker.Broker1.conf installed in dbus-1/system.d, and is nobody else "
                                       "owning the name?", BUS_NAME, STRERROR(r));
        r = sd_bus_attach_event(c->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot attach the system bus to the event loop: %s", STRERROR(r));

        log_info("Serving %s on the system bus too.", BUS_NAME);
        *ret = TAKE_PTR(c);
        return 0;
}
