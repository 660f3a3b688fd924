/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operation: every call of the broker, checked, authorized and carried out
 * once for both front ends (operation.h). Knows neither D-Bus nor Varlink:
 * the front ends hand in checked arguments and get back an outcome, a
 * record per listed item, or, for late replies, a call on their transport. */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "allocator.h"
#include "client.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "manager.h"
#include "names.h"
#include "operation.h"
#include "polkit.h"
#include "protocol.h"
#include "store.h"
#include "tenant.h"
#include "time-util.h"

/* ---- audit records and refusals ------------------------------------------------ */

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

#define audit(level, call, ...) audit_as((level), &(call)->client->identity, __VA_ARGS__)

/* Fills call->error with a named refusal and records it. Returns -EPERM, for
 * "refused, see call->error". */
static int refuse(Call *call, const char *action, const char *tenant, const char *name, const char *format, ...)
        _printf_(5, 6);

static int refuse(Call *call, const char *action, const char *tenant, const char *name, const char *format, ...) {
        const Identity *who = &call->client->identity;
        va_list ap;

        va_start(ap, format);
        vsnprintf(call->error.message, sizeof call->error.message, format, ap);
        va_end(ap);
        call->error.name = name;

        audit(LOG_NOTICE, call, LOG_MESSAGE_ID_REFUSED, action, "refused", tenant, NULL, NULL,
              "Refused %s for uid %u pid %d: %s", action, (unsigned) who->uid, (int) who->pid, call->error.message);
        return -EPERM;
}

static int fail(Call *call, const char *action, const char *tenant, int r, const char *what) {
        const Identity *who = &call->client->identity;

        snprintf(call->error.message, sizeof call->error.message, "%s: %s", what, strerror(r < 0 ? -r : r));
        call->error.name = VFBROKER_ERROR_FAILED;
        audit(LOG_ERR, call, LOG_MESSAGE_ID_REFUSED, action, "error", tenant, NULL, NULL,
              "Failed %s for uid %u pid %d: %s", action, (unsigned) who->uid, (int) who->pid, call->error.message);
        return r < 0 ? r : -r;
}

int op_refuse_option_type(Call *call, const char *action, const char *key, const char *type) {
        return refuse(call, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT, "%.64s must be %s", key, type);
}

int op_refuse_unknown_option(Call *call, const char *action, const char *kind, const char *key, const char *known) {
        return refuse(call, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT, "unknown %s '%.64s'; %s", kind, key, known);
}

int op_refuse_too_many_options(Call *call, const char *action) {
        return refuse(call, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT, "more than %u options", OPTIONS_MAX);
}

/* ---- polkit ------------------------------------------------------------------- */

/* A call waiting for polkit. Once polkit has answered, the front end
 * processes the call again (CallTransport.dispatch_again) and its operation
 * runs from the top, now finding the answer: every operation is written
 * once, and every check made before polkit is made again with polkit's
 * answer in hand (the pattern of systemd's bus-polkit.c, for D-Bus and
 * Varlink alike). */
struct PendingCall {
        Client *client;
        PendingCall *next, *prev;       /* in client->pending while waiting */
        const CallTransport *transport;
        void *handle;                   /* a reference of the transport's */
        char *sender;                   /* the system bus: bounds a sender's calls */
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
        if (pc->handle)
                pc->transport->unref(pc->handle);
        free(pc->sender);
        free(pc->action);
        free(pc->tenant);
        free(pc->text);
        free(pc);
        return NULL;
}

void call_take_answer(Client *c, void *handle) {
        c->answered = pending_call_free(c->answered);
        for (PendingCall *pc = c->pending; pc; pc = pc->next)
                if (pc->handle == handle && pc->answered) {
                        pending_call_unlink(pc);
                        c->answered = pc;
                        return;
                }
}

static void on_polkit_result(int result, const char *message, void *userdata) {
        PendingCall *pc = userdata;
        int r;

        pc->query = NULL; /* Polkit frees it once the callback returns. */
        pc->answered = true;
        pc->result = result;
        if (message) {
                pc->text = strdup(message);
                if (!pc->text)
                        pc->result = -ENOMEM;
        }

        r = pc->transport->dispatch_again(pc->client, pc->handle);
        if (r < 0) {
                CallError e = { .name = VFBROKER_ERROR_FAILED };

                log_warning_errno(r, "Cannot dispatch a call again after polkit answered: %s", STRERROR(r));
                snprintf(e.message, sizeof e.message, "cannot process the call after polkit answered: %s", STRERROR(r));
                pc->transport->reply_error(pc->handle, &e);
                pending_call_free(pc);
        }
}

/* On the system bus a hostile user may open as many connections as the bus
 * daemon allows: calls waiting for polkit are bounded per sender
 * (MaxCallsPerConnection=, as on the socket), per uid (that times
 * MaxConnectionsPerUser=) and in all (that times MaxConnections=). */
static int check_system_bus_limits(Call *call, const char *action, const char *tenant) {
        Client *c = call->client;
        const Config *cfg = c->manager->config;
        unsigned mine = 0, users = 0;
        unsigned per_user = cfg->max_calls_per_connection * cfg->max_connections_per_user;
        unsigned total = cfg->max_calls_per_connection * cfg->max_connections;

        for (PendingCall *pc = c->pending; pc; pc = pc->next) {
                if (streq_ptr(pc->sender, call->bus_sender))
                        mine++;
                if (pc->uid == c->identity.uid)
                        users++;
        }
        if (mine >= cfg->max_calls_per_connection)
                return refuse(call, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "this bus connection already has %u calls in flight (MaxCallsPerConnection=%u); wait for their replies",
                              mine, cfg->max_calls_per_connection);
        if (users >= per_user)
                return refuse(call, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "uid %u already has %u calls in flight on the system bus (MaxCallsPerConnection= times "
                              "MaxConnectionsPerUser=); wait for their replies", (unsigned) c->identity.uid, users);
        if (c->calls_in_flight >= total)
                return refuse(call, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "%u calls are in flight on the system bus (MaxCallsPerConnection= times MaxConnections=); try again later",
                              c->calls_in_flight);
        return 0;
}

/* 1: the caller may do action now. 0: polkit is being asked; the call comes
 * again with the answer. <0: refused, error set. Root skips polkit when
 * RootSkipsPolkit=yes. */
static int authorize(Call *call, const char *action, const char *tenant) {
        Client *c = call->client;
        Manager *mgr = c->manager;
        PendingCall *pc;
        char *details[] = { (char *) "tenant", (char *) strempty(tenant), NULL };
        int r;

        if (c->identity.uid == 0 && mgr->config->root_skips_polkit)
                return 1;

        pc = c->answered;
        if (pc && pc->handle == call->handle && streq(pc->action, action)) {
                _cleanup_free_ char *text = TAKE_PTR(pc->text);
                int result = pc->result;

                c->answered = pending_call_free(pc);
                if (result > 0)
                        return 1;
                if (result == 0)
                        return refuse(call, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                                      "polkit does not allow uid %u to do %s%s%s; ask an administrator for a polkit rule",
                                      (unsigned) c->identity.uid, action, text ? ": " : "", strempty(text));
                if (text)
                        return refuse(call, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED, "%s; the request is refused", text);
                return refuse(call, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                              "polkit could not be asked (%s), so the request is refused; is polkitd running?",
                              strerror(-result));
        }

        /* One question per call: should the same call come through again
         * before polkit answered, it must not be authorized, and acted on,
         * twice. */
        for (PendingCall *i = c->pending; i; i = i->next)
                if (i->handle == call->handle)
                        return 0;

        if (c->on_system_bus) {
                r = check_system_bus_limits(call, action, tenant);
                if (r < 0)
                        return r;
        } else if (c->calls_in_flight >= mgr->config->max_calls_per_connection)
                return refuse(call, action, tenant, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "this connection already has %u calls in flight (MaxCallsPerConnection=%u); wait for their replies",
                              c->calls_in_flight, mgr->config->max_calls_per_connection);

        pc = calloc(1, sizeof *pc);
        if (!pc)
                return -ENOMEM;
        pc->client = c;
        pc->transport = call->transport;
        pc->handle = call->transport->ref(call->handle);
        pc->action = strdup(action);
        pc->tenant = tenant ? strdup(tenant) : NULL;
        pc->sender = call->bus_sender ? strdup(call->bus_sender) : NULL;
        pc->uid = c->identity.uid;
        pc->next = c->pending;
        if (c->pending)
                c->pending->prev = pc;
        c->pending = pc;
        c->calls_in_flight++;
        if (!pc->action || (tenant && !pc->tenant) || (call->bus_sender && !pc->sender)) {
                pending_call_free(pc);
                return -ENOMEM;
        }

        r = polkit_check(mgr->polkit, action,
                         &(PolkitSubject) {
                                 .pid = c->identity.pid,
                                 .start_time = c->identity.start_time,
                                 .uid = c->identity.uid,
                                 .pidfd = call->bus_sender ? -EBADF : c->identity.pidfd,
                                 .system_bus_name = call->bus_sender,
                         },
                         tenant ? details : NULL, on_polkit_result, pc, &pc->query);
        if (r < 0) {
                pending_call_free(pc);
                return refuse(call, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                              "polkit could not be asked (%s), so the request is refused; start polkit.service",
                              strerror(-r));
        }
        return 0;
}

/* ---- argument checks ------------------------------------------------------------ */

static int check_tenant_name(Call *call, const char *action, const char *name) {
        if (!tenant_name_is_valid(name))
                return refuse(call, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "'%.80s' is not a valid tenant name: use 1 to %d characters of A-Z a-z 0-9 _ . - not starting with . or -",
                              name, TENANT_NAME_MAX);
        return 0;
}

static int get_tenant(Call *call, const char *action, const char *name, StoreTenant **ret) {
        int r;

        r = check_tenant_name(call, action, name);
        if (r < 0)
                return r;
        r = store_tenant_get(call->client->manager->store, name, ret);
        if (r == -ENOENT)
                return refuse(call, action, name, VFBROKER_ERROR_UNKNOWN_TENANT,
                              "no tenant '%s'; list them with 'vfbrokerctl list-tenants'", name);
        if (r < 0)
                return fail(call, action, name, r, "cannot read the tenant from the store");
        return 0;
}

static int refuse_non_member(Call *call, const char *action, const char *tenant) {
        return refuse(call, action, tenant, VFBROKER_ERROR_NOT_AUTHORIZED,
                      "uid %u is not one of the users or groups of tenant '%s'; an administrator can add it (Users=/Groups= in its [Tenant] section)",
                      (unsigned) call->client->identity.uid, tenant);
}

static int check_pf_address(Call *call, const char *action, const char *key, const char *s, char out[static PCI_ADDRESS_MAX]) {
        if (pci_address_normalize(s, out) < 0)
                return refuse(call, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "%s'%.40s' is not a PCI address like 0000:01:00.0", key, s);
        return 0;
}

int acquire_args_set_pf(Call *call, AcquireArgs *a, const char *pf) {
        int r = check_pf_address(call, "acquire", "PhysicalFunction ", pf, a->pf_buf);

        if (r >= 0)
                a->pf = a->pf_buf;
        return r;
}

int acquire_args_set_numa_node(Call *call, AcquireArgs *a, int64_t node) {
        if (node < 0 || node > NUMA_NODE_MAX)
                return refuse(call, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "NumaNode %lld is out of range 0..%d", (long long) node, NUMA_NODE_MAX);
        a->numa_node = (int) node;
        return 0;
}

int acquire_args_set_api(Call *call, AcquireArgs *a, const char *api) {
        int r = vf_api_from_string(api);

        if (r < 0)
                return refuse(call, "acquire", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "API '%.32s' is unknown; use \"" VFBROKER_API_NAME_GROUP "\" or \"" VFBROKER_API_NAME_IOMMUFD "\"", api);
        a->api = r;
        return 0;
}

int tenant_args_set_ids(Call *call, TenantArgs *a, bool uids, const uint32_t *ids, size_t n) {
        const char *key = uids ? "Uids" : "Gids";

        if (n > TENANT_IDS_MAX)
                return refuse(call, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "%s has more than %u entries", key, TENANT_IDS_MAX);
        for (size_t i = 0; i < n; i++) {
                if (ids[i] == (uint32_t) -1)
                        return refuse(call, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                                      "%s contains the invalid id 4294967295", key);
                if (uids)
                        a->uids[i] = ids[i];
                else
                        a->gids[i] = ids[i];
        }
        if (uids)
                a->n_uids = n;
        else
                a->n_gids = n;
        return 0;
}

int tenant_args_set_quota(Call *call, TenantArgs *a, uint64_t quota) {
        if (quota < 1 || quota > TENANT_QUOTA_MAX)
                return refuse(call, "create-tenant", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "Quota %llu is out of range 1..%u", (unsigned long long) quota, TENANT_QUOTA_MAX);
        a->quota = (unsigned) quota;
        return 0;
}

int vf_query_set_pf(Call *call, VfQuery *q, const char *pf) {
        int r = check_pf_address(call, "list-vfs", "PhysicalFunction ", pf, q->pf_buf);

        if (r >= 0)
                q->pf = q->pf_buf;
        return r;
}

int vf_query_set_state(Call *call, VfQuery *q, const char *state) {
        q->state = -1;
        for (int st = 0; st < _VF_STATE_MAX; st++)
                if (streq(state, vf_state_to_string((VfState) st)))
                        q->state = st;
        if (q->state < 0)
                return refuse(call, "list-vfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "State '%.40s' is none of free, leased, draining, broken, revoking", state);
        return 0;
}

int vf_query_set_tenant(Call *call, VfQuery *q, const char *tenant) {
        int r = check_tenant_name(call, "list-vfs", tenant);

        if (r >= 0)
                q->tenant = tenant;
        return r;
}

/* ---- AcquireVF ------------------------------------------------------------------- */

/* Why the free VFs an acquire could have had are not offered on the iommufd
 * path: the reason of the first ready PF in the way. */
static const char *iommufd_refusal(Manager *mgr, const AcquireArgs *a, char *buf, size_t size) {
        for (size_t i = 0; i < mgr->n_pfs; i++) {
                const Pf *pf = mgr->pfs[i];
                const char *why;

                if (pf->state != PF_READY || (a->pf && !streq(pf->address, a->pf)) || pf_count_vfs(pf, VF_FREE) == 0)
                        continue;
                why = pf_iommufd_refusal(pf, buf, size);
                if (why)
                        return why;
        }
        return "no PF offers it";
}

int op_acquire(Call *call, const AcquireArgs *a, AcquireResult *ret) {
        Client *c = call->client;
        Manager *mgr = c->manager;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        const char *tenant = a->tenant;
        int r;

        *ret = (AcquireResult) { .fds = VFIO_VF_FDS_NULL };
        r = get_tenant(call, "acquire", tenant, &t);
        if (r < 0)
                return r;
        if (!tenant_admits(t, &c->identity))
                return refuse_non_member(call, "acquire", tenant);
        r = authorize(call, POLKIT_ACTION_ACQUIRE, tenant);
        if (r <= 0)
                return r;

        r = allocator_acquire(mgr->allocator,
                              &(AcquireRequest) {
                                      .tenant = t,
                                      .pf = a->pf,
                                      .numa_node = a->numa_node,
                                      .uid = c->identity.uid,
                                      .pid = c->identity.pid,
                                      .pid_start_time = c->identity.start_time,
                                      .api = a->api,
                              },
                              &ret->lease, &ret->fds);
        switch (r) {
        case 0:
                return 1;
        case ACQUIRE_UNKNOWN_PF:
                return refuse(call, "acquire", tenant, VFBROKER_ERROR_UNKNOWN_PF,
                              "the broker owns no PF %s; see 'vfbrokerctl list-pfs'", a->pf);
        case ACQUIRE_QUOTA_EXCEEDED:
                return refuse(call, "acquire", tenant, VFBROKER_ERROR_QUOTA_EXCEEDED,
                              "tenant '%s' holds %u of %u VFs; release one (vfbrokerctl release LEASE) or raise its quota",
                              tenant, allocator_count_leases(mgr->allocator, tenant), t->quota);
        case ACQUIRE_NO_FREE_VF:
                return refuse(call, "acquire", tenant, VFBROKER_ERROR_NO_FREE_VF,
                              "no free VF%s%s%s for tenant '%s'; see 'vfbrokerctl list-vfs' and try again once one is released",
                              a->pf ? " on " : "", a->pf ? a->pf : "", a->numa_node >= 0 ? " on that NUMA node" : "", tenant);
        case ACQUIRE_HOLDER_GONE:
                return refuse(call, "acquire", tenant, VFBROKER_ERROR_FAILED,
                              "the calling process exited before the VF could be leased");
        case ACQUIRE_API_UNSUPPORTED: {
                char buf[512];

                return refuse(call, "acquire", tenant, VFBROKER_ERROR_NOT_SUPPORTED,
                              "no free VF for tenant '%s' can be handed out with API \"" VFBROKER_API_NAME_IOMMUFD "\": %s",
                              tenant, iommufd_refusal(mgr, a, buf, sizeof buf));
        }
        case -EMFILE:
        case -ENFILE:
        case -ENOMEM:
                return fail(call, "acquire", tenant, r,
                            "the broker is short of resources right now, no VF was changed; try again");
        case -EKEYREJECTED:
                return fail(call, "acquire", tenant, r,
                            "the kernel refuses the broker's VF token for this PF; an administrator should restart vfbroker");
        default:
                return fail(call, "acquire", tenant, r, "cannot record the lease");
        }
}

void op_acquire_sent(Call *call, const AcquireArgs *a, AcquireResult *res, int sent) {
        Client *c = call->client;
        Lease *lease = res->lease;
        Vf *vf = lease->vf;

        vfio_vf_fds_close(&res->fds);
        if (sent < 0) {
                /* The client is gone or the reply could not be built: undo. */
                log_warning_errno(sent, "Cannot send the lease reply for VF %s: %s; ending the lease.", vf->address,
                                  STRERROR(sent));
                allocator_end_lease(c->manager->allocator, lease, "reply failed");
                return;
        }
        audit(LOG_INFO, call, LOG_MESSAGE_ID_GRANTED, "acquire", "granted", a->tenant, vf->address, lease->id,
              "Leased VF %s (group %u, API %s) to uid %u pid %d for tenant '%s', lease %s.",
              vf->address, vf->iommu_group, vf_api_to_string(a->api), (unsigned) c->identity.uid, (int) c->identity.pid,
              a->tenant, lease->id);
}

/* ---- ReleaseVF and RevokeLease ------------------------------------------------------ */

static int find_active_lease(Call *call, const char *action, const char *id, Lease **ret) {
        Lease *l;

        if (!lease_id_is_valid(id))
                return refuse(call, action, NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "'%.40s' is not a lease id (32 hex characters, as AcquireVF returned it)", id);
        l = allocator_find_lease(call->client->manager->allocator, id);
        if (!l)
                return refuse(call, action, NULL, VFBROKER_ERROR_UNKNOWN_LEASE,
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
 * DeleteTenant with Force. It keeps the transport's handle, not the
 * client, which may be gone by then (the reply then goes nowhere). */
typedef struct Deferred {
        Manager *manager;
        const CallTransport *transport;
        void *handle;
        Identity who;                   /* uid and pid only, for the audit record */
        LeaseNames lease;
        char tenant[TENANT_NAME_MAX + 1];
        Pf *pf;
} Deferred;

static Deferred *deferred_new(Call *call) {
        Deferred *d = calloc(1, sizeof *d);

        if (!d)
                return NULL;
        d->manager = call->client->manager;
        d->transport = call->transport;
        d->handle = call->transport->ref(call->handle);
        d->who = (Identity) { .uid = call->client->identity.uid, .pid = call->client->identity.pid };
        return d;
}

static void deferred_free(Deferred *d) {
        d->transport->unref(d->handle);
        free(d);
}

static void deferred_reply_error(Deferred *d, const char *name, const char *format, ...) _printf_(3, 4);

static void deferred_reply_error(Deferred *d, const char *name, const char *format, ...) {
        CallError e = { .name = name };
        va_list ap;

        va_start(ap, format);
        vsnprintf(e.message, sizeof e.message, format, ap);
        va_end(ap);
        d->transport->reply_error(d->handle, &e);
}

/* Replies to a deferred call with a failure and records it. */
static void deferred_fail(Deferred *d, const char *action, int r, const char *what) {
        audit_as(LOG_ERR, &d->who, LOG_MESSAGE_ID_REFUSED, action, "error", d->tenant[0] ? d->tenant : NULL,
                 d->lease.vf[0] ? d->lease.vf : NULL, NULL, "Failed %s for uid %u pid %d: %s: %s", action,
                 (unsigned) d->who.uid, (int) d->who.pid, what, STRERROR(r));
        deferred_reply_error(d, VFBROKER_ERROR_FAILED, "%s: %s", what, STRERROR(r));
}

int op_release(Call *call, const char *lease_id) {
        Client *c = call->client;
        LeaseNames n;
        Lease *l;
        int r;

        r = find_active_lease(call, "release", lease_id, &l);
        if (r < 0)
                return r;
        /* The holder's own uid may end its lease; anybody else manages. */
        if (l->uid != c->identity.uid) {
                r = authorize(call, POLKIT_ACTION_MANAGE, l->tenant);
                if (r <= 0)
                        return r;
        }

        n = lease_names(l);
        allocator_end_lease(c->manager->allocator, l, "released");
        audit(LOG_INFO, call, LOG_MESSAGE_ID_RELEASED, "release", "granted", n.tenant, n.vf, n.id,
              "Lease %s of VF %s released by uid %u.", n.id, n.vf, (unsigned) c->identity.uid);
        return 1;
}

static void on_revoked(int result, void *userdata) {
        Deferred *d = userdata;

        if (result < 0)
                deferred_fail(d, "revoke", result, "the kernel refused to revoke the VF");
        else {
                audit_as(LOG_NOTICE, &d->who, LOG_MESSAGE_ID_RELEASED, "revoke", "granted", d->tenant, d->lease.vf,
                         d->lease.id, "Lease %s of VF %s revoked by uid %u.", d->lease.id, d->lease.vf,
                         (unsigned) d->who.uid);
                d->transport->reply_done(d->handle);
        }
        deferred_free(d);
}

int op_revoke(Call *call, const char *lease_id) {
        Client *c = call->client;
        Deferred *d;
        Lease *l;
        int r;

        r = find_active_lease(call, "revoke", lease_id, &l);
        if (r < 0)
                return r;
        r = authorize(call, POLKIT_ACTION_MANAGE, l->tenant);
        if (r <= 0)
                return r;

        d = deferred_new(call);
        if (!d)
                return -ENOMEM;
        d->lease = lease_names(l);
        snprintf(d->tenant, sizeof d->tenant, "%s", l->tenant);
        r = allocator_revoke(c->manager->allocator, l, on_revoked, d);
        if (r == -EBUSY) {
                deferred_free(d);
                return refuse(call, "revoke", l->tenant, VFBROKER_ERROR_BUSY,
                              "lease %s is being revoked already; see 'vfbrokerctl list-leases'", l->id);
        }
        if (r < 0) {
                deferred_free(d);
                return fail(call, "revoke", l->tenant, r, "cannot start the revocation");
        }
        if (r == 0) {
                audit(LOG_NOTICE, call, LOG_MESSAGE_ID_RELEASED, "revoke", "cooperative", d->tenant, d->lease.vf, d->lease.id,
                      "Lease %s of VF %s revoked by uid %u (not by force: the driver cannot).", d->lease.id,
                      d->lease.vf, (unsigned) c->identity.uid);
                /* The lease has ended (recorded above), so this is no refusal to record again. */
                call->error.name = VFBROKER_ERROR_NOT_SUPPORTED;
                snprintf(call->error.message, sizeof call->error.message,
                         "lease %s has ended, but vfio-pci cannot take VF %s back: it stays draining until "
                         "pid %d closes its fds; for forced revocation bind the PF to vfbroker_vfio_pci "
                         "(Driver= in vfbroker.conf)", d->lease.id, d->lease.vf, (int) d->lease.holder);
                deferred_free(d);
                return -EOPNOTSUPP;
        }
        /* The reply follows once the variant driver has taken the VF back. */
        return 0;
}

/* ---- tenants ------------------------------------------------------------------------ */

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

int op_create_tenant(Call *call, TenantArgs *a) {
        Client *c = call->client;
        Manager *mgr = c->manager;
        _cleanup_(store_tenant_freep) StoreTenant *existing = NULL;
        StoreTenant t = { .quota = 0 };
        const char *name = a->name;
        size_t n;
        int r;

        r = check_tenant_name(call, "create-tenant", name);
        if (r < 0)
                return r;
        if (a->quota == 0)
                a->quota = mgr->config->default_quota;
        if (store_tenant_get(mgr->store, name, &existing) >= 0)
                return refuse(call, "create-tenant", name, VFBROKER_ERROR_EXISTS, "tenant '%s' exists already", name);
        r = count_tenants(mgr, &n);
        if (r < 0)
                return fail(call, "create-tenant", name, r, "cannot list tenants");
        if (n >= mgr->config->max_tenants)
                return refuse(call, "create-tenant", name, VFBROKER_ERROR_LIMIT_EXCEEDED,
                              "there are %zu tenants already (MaxTenants=%u); delete one first", n, mgr->config->max_tenants);
        r = authorize(call, POLKIT_ACTION_MANAGE, name);
        if (r <= 0)
                return r;

        t.name = (char *) name;
        t.quota = a->quota;
        t.uids = a->uids;
        t.n_uids = a->n_uids;
        t.gids = a->gids;
        t.n_gids = a->n_gids;
        t.created_usec = now_realtime_usec();
        r = token_generate(&t.token);
        if (r < 0)
                return fail(call, "create-tenant", name, r, "cannot generate a token");

        r = store_tenant_add(mgr->store, &t);
        if (r == -EEXIST)
                return refuse(call, "create-tenant", name, VFBROKER_ERROR_EXISTS, "tenant '%s' exists already", name);
        if (r < 0)
                return fail(call, "create-tenant", name, r, "cannot store the tenant");

        audit(LOG_INFO, call, LOG_MESSAGE_ID_TENANT, "create-tenant", "granted", name, NULL, NULL,
              "Tenant '%s' created by uid %u (quota %u, %zu users, %zu groups).",
              name, (unsigned) c->identity.uid, a->quota, a->n_uids, a->n_gids);
        return 1;
}

static const Pf *tenant_dedicated_pf(Manager *mgr, const char *tenant) {
        for (size_t i = 0; i < mgr->n_pfs; i++)
                if (mgr->pfs[i]->mode == PF_MODE_DEDICATED && streq_ptr(mgr->pfs[i]->tenant, tenant))
                        return mgr->pfs[i];
        return NULL;
}

/* Why a tenant may not be deleted now, or 0. With force, its leases do not count: they get revoked. */
static int check_tenant_deletable(Call *call, const StoreTenant *t, bool force) {
        Manager *mgr = call->client->manager;
        const Pf *pf;
        unsigned held;

        if (t->from_config)
                return refuse(call, "delete-tenant", t->name, VFBROKER_ERROR_BUSY,
                              "tenant '%s' is defined in the configuration; remove its [Tenant] section there and restart vfbroker",
                              t->name);
        pf = tenant_dedicated_pf(mgr, t->name);
        if (pf)
                return refuse(call, "delete-tenant", t->name, VFBROKER_ERROR_BUSY,
                              "PF %s is dedicated to tenant '%s'; change its configuration first", pf->address, t->name);
        held = allocator_count_leases(mgr->allocator, t->name);
        if (held > 0 && !force)
                return refuse(call, "delete-tenant", t->name, VFBROKER_ERROR_BUSY,
                              "tenant '%s' holds %u leases; release them first (vfbrokerctl list-leases), or delete with Force to revoke them",
                              t->name, held);
        return 0;
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
                deferred_reply_error(d, VFBROKER_ERROR_BUSY, "tenant '%s' still has leases in the store; release them first",
                                     d->tenant);
        else if (r < 0)
                deferred_fail(d, "delete-tenant", r, result < 0 ? "the kernel refused to revoke a VF of the tenant"
                                                                 : "cannot delete the tenant");
        else
                d->transport->reply_done(d->handle);
        deferred_free(d);
}

int op_delete_tenant(Call *call, const char *name, bool force) {
        Client *c = call->client;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        int r;

        r = get_tenant(call, "delete-tenant", name, &t);
        if (r < 0)
                return r;
        r = check_tenant_deletable(call, t, force);
        if (r < 0)
                return r;
        r = authorize(call, POLKIT_ACTION_MANAGE, name);
        if (r <= 0)
                return r;

        if (force) {
                Deferred *d = deferred_new(call);

                if (!d)
                        return -ENOMEM;
                snprintf(d->tenant, sizeof d->tenant, "%s", name);
                r = allocator_revoke_tenant(c->manager->allocator, name, on_tenant_revoked, d);
                if (r < 0) {
                        deferred_free(d);
                        return fail(call, "delete-tenant", name, r, "the kernel refused to revoke a VF of the tenant");
                }
                if (r > 0)
                        return 0; /* deleted once every revocation is over */
                deferred_free(d);
        }

        r = remove_tenant(c->manager, name, &c->identity);
        if (r == -EBUSY)
                return refuse(call, "delete-tenant", name, VFBROKER_ERROR_BUSY,
                              "tenant '%s' still has leases in the store; release them first", name);
        if (r < 0)
                return fail(call, "delete-tenant", name, r, "cannot delete the tenant");
        return 1;
}

int op_rotate_token(Call *call, const char *name) {
        Client *c = call->client;
        Manager *mgr = c->manager;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        Token token;
        int r;

        r = get_tenant(call, "rotate-token", name, &t);
        if (r < 0)
                return r;
        r = authorize(call, POLKIT_ACTION_MANAGE, name);
        if (r <= 0)
                return r;

        r = token_generate(&token);
        if (r < 0)
                return fail(call, "rotate-token", name, r, "cannot generate a token");
        r = store_tenant_set_token(mgr->store, name, &token);
        if (r < 0)
                return fail(call, "rotate-token", name, r, "cannot store the new token");

        /* Dedicated PFs carry the tenant's token in the kernel: change it there too. */
        for (size_t i = 0; i < mgr->n_pfs; i++) {
                Pf *pf = mgr->pfs[i];

                if (pf->state != PF_READY || pf->mode != PF_MODE_DEDICATED || !streq_ptr(pf->tenant, name))
                        continue;
                r = pf_apply_token(pf);
                if (r < 0)
                        return fail(call, "rotate-token", name, r, "the new token is stored but the kernel refused it");
        }

        audit(LOG_NOTICE, call, LOG_MESSAGE_ID_TOKEN_ROTATED, "rotate-token", "granted", name, NULL, NULL,
              "Token of tenant '%s' rotated by uid %u.", name, (unsigned) c->identity.uid);
        return 1;
}

int op_get_tenant_token(Call *call, const char *name, char *ret) {
        Client *c = call->client;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        int r;

        r = get_tenant(call, "read-token", name, &t);
        if (r < 0)
                return r;
        if (!tenant_admits(t, &c->identity))
                return refuse_non_member(call, "read-token", name);
        if (!tenant_dedicated_pf(c->manager, name))
                return refuse(call, "read-token", name, VFBROKER_ERROR_NOT_SUPPORTED,
                              "no PF is dedicated to tenant '%s', so its token opens nothing; use AcquireVF (vfbrokerctl run)", name);
        r = authorize(call, POLKIT_ACTION_READ_TOKEN, name);
        if (r <= 0)
                return r;

        audit(LOG_NOTICE, call, LOG_MESSAGE_ID_GRANTED, "read-token", "granted", name, NULL, NULL,
              "Token of tenant '%s' read by uid %u.", name, (unsigned) c->identity.uid);
        token_to_string(&t->token, ret);
        return 1;
}

/* ---- SetNumVFs ---------------------------------------------------------------------- */

static int check_set_num_vfs(Call *call, const char *s, uint64_t n, Pf **ret_pf) {
        char address[PCI_ADDRESS_MAX];
        Pf *pf;
        int r;

        r = check_pf_address(call, "set-numvfs", "", s, address);
        if (r < 0)
                return r;
        pf = manager_find_pf(call->client->manager, address);
        if (!pf)
                return refuse(call, "set-numvfs", NULL, VFBROKER_ERROR_UNKNOWN_PF,
                              "the broker owns no PF %s; see 'vfbrokerctl list-pfs'", address);
        if (pf->state == PF_CHANGING)
                return refuse(call, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                              "sriov_numvfs of PF %s is being changed already; wait for that to finish", address);
        if (pf->state != PF_READY)
                return refuse(call, "set-numvfs", NULL, VFBROKER_ERROR_FAILED,
                              "PF %s is broken (%s); fix that and restart vfbroker", address, strna(pf->reason));
        if (n > pf->total_vfs)
                return refuse(call, "set-numvfs", NULL, VFBROKER_ERROR_INVALID_ARGUMENT,
                              "PF %s supports at most %u VFs (sriov_totalvfs)", address, pf->total_vfs);
        for (unsigned i = 0; i < pf->n_vfs; i++)
                if (pf->vfs[i].state == VF_LEASED || pf->vfs[i].state == VF_DRAINING || pf->vfs[i].state == VF_REVOKING)
                        return refuse(call, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                                      "VF %s of PF %s is %s; wait until every VF of it is free",
                                      pf->vfs[i].address, address, vf_state_to_string(pf->vfs[i].state));
        *ret_pf = pf;
        return 0;
}

static void on_num_vfs_set(int result, void *userdata) {
        Deferred *d = userdata;

        if (result < 0)
                deferred_fail(d, "set-numvfs", result, "cannot change sriov_numvfs");
        else {
                audit_as(LOG_NOTICE, &d->who, LOG_MESSAGE_ID_PF_STATE, "set-numvfs", "granted", NULL, d->pf->address, NULL,
                         "PF %s now has %u VFs (set by uid %u).", d->pf->address, d->pf->n_vfs, (unsigned) d->who.uid);
                d->transport->reply_done(d->handle);
        }
        deferred_free(d);
}

int op_set_num_vfs(Call *call, const char *pf_address, uint64_t n) {
        Deferred *d;
        Pf *pf = NULL;
        int r;

        r = check_set_num_vfs(call, pf_address, n, &pf);
        if (r < 0)
                return r;
        r = authorize(call, POLKIT_ACTION_MANAGE, NULL);
        if (r <= 0)
                return r;

        d = deferred_new(call);
        if (!d)
                return -ENOMEM;
        d->pf = pf;
        r = allocator_set_num_vfs(call->client->manager->allocator, pf, (unsigned) n, on_num_vfs_set, d);
        if (r < 0)
                deferred_free(d);
        if (r == -EBUSY)
                return refuse(call, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                              "a VF of PF %s is still held by some process; wait until it is closed", pf->address);
        if (r == -EALREADY)
                return refuse(call, "set-numvfs", NULL, VFBROKER_ERROR_BUSY,
                              "sriov_numvfs of PF %s is being changed already; wait for that to finish", pf->address);
        if (r < 0)
                return fail(call, "set-numvfs", NULL, r, "cannot change sriov_numvfs");
        return 0; /* the reply follows once the VFs are there */
}

/* ---- listings ------------------------------------------------------------------------ */

#define F_S(bn, jn, v) { .bus_name = (bn), .json_name = (jn), .type = FIELD_STRING, .s = (v) }
#define F_U(bn, jn, v) { .bus_name = (bn), .json_name = (jn), .type = FIELD_U32, .u = (v) }
#define F_I(bn, jn, v) { .bus_name = (bn), .json_name = (jn), .type = FIELD_I32, .i = (v) }
#define F_T(bn, jn, v) { .bus_name = (bn), .json_name = (jn), .type = FIELD_U64, .t = (v) }
#define F_B(bn, jn, v) { .bus_name = (bn), .json_name = (jn), .type = FIELD_BOOL, .b = (v) }
#define F_SV(bn, jn, v) { .bus_name = (bn), .json_name = (jn), .type = FIELD_STRV, .strv = (v) }
#define F_IDS(bn, jn, v, n) { .bus_name = (bn), .json_name = (jn), .type = FIELD_U32_ARRAY, .ids = { (v), (n) } }

int op_list_pfs(Call *call, record_emit_t emit, void *userdata) {
        Manager *mgr = call->client->manager;
        int r;

        for (size_t i = 0; i < mgr->n_pfs; i++) {
                const Pf *pf = mgr->pfs[i];
                const char *features[3] = { NULL }, *apis[3] = { VFBROKER_API_NAME_GROUP };
                const char *no_iommufd;
                size_t k = 0;
                char why[512];

                if (pf_has_per_vf_tokens(pf))
                        features[k++] = "per-vf-token";
                if (pf_has_revocation(pf))
                        features[k++] = "revocation";
                no_iommufd = pf_iommufd_refusal(pf, why, sizeof why);
                if (!no_iommufd)
                        apis[1] = VFBROKER_API_NAME_IOMMUFD;

                const Field f[] = {
                        F_S("Address", "address", pf->address),
                        F_S("Interface", "interface", strempty(pf->interface)),
                        F_S("Driver", "driver", strempty(pf->driver)),
                        F_S("Mode", "mode", pf_mode_to_string(pf->mode)),
                        F_S("Tenant", "tenant", strempty(pf->tenant)),
                        F_S("State", "state", pf_state_to_string(pf->state)),
                        F_S("Reason", "reason", strempty(pf->reason)),
                        F_U("NumVFs", "numVFs", pf->n_vfs),
                        F_U("TotalVFs", "totalVFs", pf->total_vfs),
                        F_U("FreeVFs", "freeVFs", pf_count_vfs(pf, VF_FREE)),
                        F_SV("Features", "features", features),
                        F_SV("APIs", "apis", apis),
                        F_S("IommufdUnavailableReason", "iommufdUnavailableReason", strempty(no_iommufd)),
                };
                r = emit(userdata, f, ELEMENTSOF(f));
                if (r < 0)
                        return r;
        }
        return 1;
}

static bool vf_query_matches(const VfQuery *q, const Vf *vf) {
        if (q->pf && !streq(vf->pf->address, q->pf))
                return false;
        if (q->state >= 0 && (int) vf->state != q->state)
                return false;
        if (q->tenant && !(vf->lease && vf->lease->active && streq(vf->lease->tenant, q->tenant)))
                return false;
        return true;
}

int op_list_vfs(Call *call, const VfQuery *q, record_emit_t emit, void *userdata) {
        Manager *mgr = call->client->manager;
        int r;

        for (size_t i = 0; i < mgr->n_pfs; i++) {
                if (q && q->pf && !streq(mgr->pfs[i]->address, q->pf))
                        continue;
                for (unsigned j = 0; j < mgr->pfs[i]->n_vfs; j++) {
                        const Vf *vf = &mgr->pfs[i]->vfs[j];

                        if (q && !vf_query_matches(q, vf))
                                continue;
                        const Field f[] = {
                                F_S("Address", "address", vf->address),
                                F_S("PhysicalFunction", "physicalFunction", vf->pf->address),
                                F_U("Index", "index", vf->index),
                                F_U("IommuGroup", "iommuGroup", vf->iommu_group),
                                F_I("NumaNode", "numaNode", vf->numa_node),
                                F_S("State", "state", vf_state_to_string(vf->state)),
                                F_S("Lease", "lease", vf->lease && vf->lease->active ? vf->lease->id : ""),
                                F_S("Tenant", "tenant", vf->lease ? vf->lease->tenant : ""),
                        };
                        r = emit(userdata, f, ELEMENTSOF(f));
                        if (r < 0)
                                return r;
                }
        }
        return 1;
}

int op_list_leases(Call *call, record_emit_t emit, void *userdata) {
        Manager *mgr = call->client->manager;
        int r;

        for (size_t i = 0; i < mgr->n_pfs; i++)
                for (unsigned j = 0; j < mgr->pfs[i]->n_vfs; j++) {
                        const Vf *vf = &mgr->pfs[i]->vfs[j];
                        const Lease *l = vf->lease;

                        if (!l)
                                continue;
                        const Field f[] = {
                                F_S("Id", "id", l->id),
                                F_S("VirtualFunction", "virtualFunction", vf->address),
                                F_S("PhysicalFunction", "physicalFunction", vf->pf->address),
                                F_S("Tenant", "tenant", l->tenant),
                                F_U("Uid", "uid", (uint32_t) l->uid),
                                F_U("Pid", "pid", (uint32_t) l->pid),
                                F_T("Created", "created", l->created_usec),
                                F_S("State", "state", !l->active ? "ended" : vf->state == VF_REVOKING ? "revoking" : "active"),
                        };
                        r = emit(userdata, f, ELEMENTSOF(f));
                        if (r < 0)
                                return r;
                }
        return 1;
}

int op_list_tenants(Call *call, record_emit_t emit, void *userdata) {
        Manager *mgr = call->client->manager;
        StoreTenant **tenants = NULL;
        size_t n = 0;
        int r;

        r = store_tenant_list(mgr->store, &tenants, &n);
        if (r < 0)
                return fail(call, "list-tenants", NULL, r, "cannot list tenants");

        for (size_t i = 0; i < n && r >= 0; i++) {
                const StoreTenant *t = tenants[i];
                const Field f[] = {
                        F_S("Name", "name", t->name),
                        F_U("Quota", "quota", t->quota),
                        F_U("Leases", "leases", allocator_count_leases(mgr->allocator, t->name)),
                        F_B("FromConfig", "fromConfig", t->from_config),
                        F_IDS("Uids", "uids", (const uint32_t *) t->uids, t->n_uids),
                        F_IDS("Gids", "gids", (const uint32_t *) t->gids, t->n_gids),
                };
                r = emit(userdata, f, ELEMENTSOF(f));
        }
        store_tenant_list_free(tenants, n);
        return r < 0 ? r : 1;
}

BrokerCounts op_counts(Client *c) {
        Manager *mgr = c->manager;
        BrokerCounts n = { .leases = allocator_count_leases(mgr->allocator, NULL) };

        for (size_t i = 0; i < mgr->n_pfs; i++) {
                if (mgr->pfs[i]->state != PF_READY)
                        continue;
                n.pfs++;
                n.vfs += mgr->pfs[i]->n_vfs;
        }
        return n;
}
