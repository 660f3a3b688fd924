/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Varlink: io.vfbroker.Broker (varlink-interface.c) served by sd-varlink.
 * Reads each call's parameters, runs its operation (operation.h: the same
 * checks, polkit questions, work and audit records as on D-Bus) and replies
 * in JSON. A VF's fds go with the AcquireVF reply the way systemd's own
 * Varlink services pass fds: pushed onto the connection, their indexes in
 * the reply's *FileDescriptor fields. The only place that knows Varlink.
 * Connections are accepted here and relayed by VarlinkConnection
 * (varlink-connection.h), which bounds what each one may cost. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <systemd/sd-json.h>
#include <systemd/sd-varlink.h>

#include "build-config.h"
#include "client.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "varlink-connection.h"
#include "varlink-interface.h"
#include "varlink.h"

/* The most fields a record of operation.c has (a PF's). */
#define RECORD_FIELDS_MAX 16U
/* Out of fds at accept: try again this much later. */
#define VARLINK_ACCEPT_RETRY_USEC (250ULL * 1000ULL)

/* ---- the transport: what an operation needs of a Varlink call ---------------------- */

static void *vl_ref(void *handle) {
        return sd_varlink_ref(handle);
}

static void vl_unref(void *handle) {
        sd_varlink_unref(handle);
}

static int vl_dispatch_again(Client *c, void *handle) {
        return sd_varlink_dispatch_again(handle);
}

/* org.vfbroker.Error.NoFreeVF goes out as io.vfbroker.Broker.NoFreeVF, with the sentence in "message". */
static int vl_error(sd_varlink *link, const CallError *e) {
        const char *dot = strrchr(e->name, '.');
        char id[128];

        snprintf(id, sizeof id, VARLINK_INTERFACE_NAME ".%s", dot ? dot + 1 : e->name);
        return sd_varlink_errorbo(link, id, SD_JSON_BUILD_PAIR_STRING("message", e->message));
}

static void vl_reply_done(void *handle) {
        (void) sd_varlink_reply(handle, NULL);
}

static void vl_reply_error(void *handle, const CallError *e) {
        (void) vl_error(handle, e);
}

static const CallTransport varlink_transport = {
        .ref = vl_ref,
        .unref = vl_unref,
        .dispatch_again = vl_dispatch_again,
        .reply_done = vl_reply_done,
        .reply_error = vl_reply_error,
};

/* Starts a call: polkit's answer, if this is the call coming back with it. */
static Call vl_call(sd_varlink *link) {
        Client *c = varlink_connection_client(link);

        varlink_connection_touch(link);
        call_take_answer(c, link);
        return (Call) { .client = c, .transport = &varlink_transport, .handle = link };
}

/* A method's return for an operation's outcome r that sent no reply yet:
 * 0 with the reply to come (polkit, a worker job), or the refusal sent. */
static int vl_outcome(sd_varlink *link, Call *call, int r) {
        if (r >= 0)
                return 0;
        if (call->error.name)
                return vl_error(link, &call->error);
        return r; /* sd-varlink answers io.systemd.System with the errno */
}

static int vl_reply_empty(sd_varlink *link, Call *call, int r) {
        if (r == 1)
                return sd_varlink_reply(link, NULL);
        return vl_outcome(link, call, r);
}

/* ---- parameters ------------------------------------------------------------------------ */

/* For the methods that take none: any field is refused (InvalidParameter). */
static const sd_json_dispatch_field no_parameters[] = { { NULL } };

typedef struct IdList {
        uint32_t ids[TENANT_IDS_MAX];
        size_t n;                       /* beyond TENANT_IDS_MAX: the client sent that many */
        bool set;
} IdList;

/* An array of uids or gids: only unsigned 32-bit values, at most TENANT_IDS_MAX kept. */
static int dispatch_ids(const char *name, sd_json_variant *variant, sd_json_dispatch_flags_t flags, void *userdata) {
        IdList *l = userdata;
        size_t n;

        if (sd_json_variant_is_null(variant))
                return 0;
        if (!sd_json_variant_is_array(variant))
                return -EINVAL;
        n = sd_json_variant_elements(variant);
        l->set = true;
        l->n = n;
        if (n > TENANT_IDS_MAX)
                return 0; /* the operation refuses it, saying so */
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *e = sd_json_variant_by_index(variant, i);

                if (!sd_json_variant_is_unsigned(e) || sd_json_variant_unsigned(e) > UINT32_MAX)
                        return -ERANGE;
                l->ids[i] = (uint32_t) sd_json_variant_unsigned(e);
        }
        return 0;
}

typedef struct Int64Param {
        int64_t value;
        bool set;
} Int64Param;

static int dispatch_int64_param(const char *name, sd_json_variant *variant, sd_json_dispatch_flags_t flags, void *userdata) {
        Int64Param *p = userdata;

        if (sd_json_variant_is_null(variant))
                return 0;
        if (!sd_json_variant_is_integer(variant))
                return -EINVAL;
        p->value = sd_json_variant_integer(variant);
        p->set = true;
        return 0;
}

/* ---- the methods --------------------------------------------------------------------- */

static int vl_acquire_vf(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        struct {
                const char *tenant, *pf, *api;
                Int64Param numa_node;
        } p = { 0 };
        static const sd_json_dispatch_field table[] = {
                { "tenant", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), tenant), SD_JSON_MANDATORY },
                { "physicalFunction", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), pf), SD_JSON_NULLABLE },
                { "numaNode", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_int64_param, offsetof(typeof(p), numa_node), 0 },
                { "api", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), api), SD_JSON_NULLABLE },
                { NULL }
        };
        Call call = vl_call(link);
        AcquireArgs a = ACQUIRE_ARGS_INIT;
        AcquireResult res;
        int r, container, group, device;

        r = sd_varlink_dispatch(link, parameters, table, &p);
        if (r != 0)
                return r;
        a.tenant = p.tenant;
        if ((p.pf && (r = acquire_args_set_pf(&call, &a, p.pf)) < 0) ||
            (p.numa_node.set && (r = acquire_args_set_numa_node(&call, &a, p.numa_node.value)) < 0) ||
            (p.api && (r = acquire_args_set_api(&call, &a, p.api)) < 0))
                return vl_outcome(link, &call, r);
        r = op_acquire(&call, &a, &res);
        if (r <= 0)
                return vl_outcome(link, &call, r);

        /* The iommufd path has no group: the iommufd stands in both places. */
        container = sd_varlink_push_dup_fd(link, res.fds.container);
        group = container < 0 || a.api == VF_API_IOMMUFD ? container : sd_varlink_push_dup_fd(link, res.fds.group);
        device = group < 0 ? group : sd_varlink_push_dup_fd(link, res.fds.device);
        if (device < 0) {
                /* Pushed fds would ride on whatever goes out next: close instead. */
                op_acquire_sent(&call, &a, &res, device);
                (void) sd_varlink_close(link);
                return 0;
        }
        r = sd_varlink_replybo(link,
                               SD_JSON_BUILD_PAIR_STRING("lease", res.lease->id),
                               SD_JSON_BUILD_PAIR_STRING("address", res.lease->vf->address),
                               SD_JSON_BUILD_PAIR_UNSIGNED("iommuGroup", res.lease->vf->iommu_group),
                               SD_JSON_BUILD_PAIR_INTEGER("containerFileDescriptor", container),
                               SD_JSON_BUILD_PAIR_INTEGER("groupFileDescriptor", group),
                               SD_JSON_BUILD_PAIR_INTEGER("deviceFileDescriptor", device));
        op_acquire_sent(&call, &a, &res, r);
        if (r < 0)
                (void) sd_varlink_close(link);
        return 0;
}

/* The methods that take one string and reply with nothing. */
typedef int (*name_op_t)(Call *call, const char *name);

static int vl_name_call(sd_varlink *link, sd_json_variant *parameters, const char *key, name_op_t op) {
        const sd_json_dispatch_field table[] = {
                { key, SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, 0, SD_JSON_MANDATORY },
                { NULL }
        };
        Call call = vl_call(link);
        const char *name = NULL;
        int r;

        r = sd_varlink_dispatch(link, parameters, table, &name);
        if (r != 0)
                return r;
        return vl_reply_empty(link, &call, op(&call, name));
}

static int vl_release_vf(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        return vl_name_call(link, parameters, "lease", op_release);
}

static int vl_revoke_lease(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        return vl_name_call(link, parameters, "lease", op_revoke);
}

static int vl_rotate_token(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        return vl_name_call(link, parameters, "name", op_rotate_token);
}

static int vl_get_tenant_token(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        static const sd_json_dispatch_field table[] = {
                { "name", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, 0, SD_JSON_MANDATORY },
                { NULL }
        };
        Call call = vl_call(link);
        char token[TOKEN_STRING_MAX];
        const char *name = NULL;
        int r;

        r = sd_varlink_dispatch(link, parameters, table, &name);
        if (r != 0)
                return r;
        r = op_get_tenant_token(&call, name, token);
        if (r == 1)
                return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_STRING("token", token));
        return vl_outcome(link, &call, r);
}

static int vl_create_tenant(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        struct {
                const char *name;
                IdList uids, gids;
                Int64Param quota;
        } p = { 0 };
        static const sd_json_dispatch_field table[] = {
                { "name", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), name), SD_JSON_MANDATORY },
                { "uids", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_ids, offsetof(typeof(p), uids), 0 },
                { "gids", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_ids, offsetof(typeof(p), gids), 0 },
                { "quota", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_int64_param, offsetof(typeof(p), quota), 0 },
                { NULL }
        };
        Call call = vl_call(link);
        TenantArgs a = { .quota = 0 };
        int r;

        r = sd_varlink_dispatch(link, parameters, table, &p);
        if (r != 0)
                return r;
        a.name = p.name;
        if ((p.uids.set && (r = tenant_args_set_ids(&call, &a, true, p.uids.ids, p.uids.n)) < 0) ||
            (p.gids.set && (r = tenant_args_set_ids(&call, &a, false, p.gids.ids, p.gids.n)) < 0) ||
            (p.quota.set && (r = tenant_args_set_quota(&call, &a, p.quota.value < 0 ? 0 : (uint64_t) p.quota.value)) < 0))
                return vl_outcome(link, &call, r);
        return vl_reply_empty(link, &call, op_create_tenant(&call, &a));
}

static int vl_delete_tenant(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        struct {
                const char *name;
                bool force;
        } p = { 0 };
        static const sd_json_dispatch_field table[] = {
                { "name", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), name), SD_JSON_MANDATORY },
                { "force", SD_JSON_VARIANT_BOOLEAN, sd_json_dispatch_stdbool, offsetof(typeof(p), force), SD_JSON_NULLABLE },
                { NULL }
        };
        Call call = vl_call(link);
        int r;

        r = sd_varlink_dispatch(link, parameters, table, &p);
        if (r != 0)
                return r;
        return vl_reply_empty(link, &call, op_delete_tenant(&call, p.name, p.force));
}

static int vl_set_num_vfs(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        struct {
                const char *pf;
                uint32_t count;
        } p = { 0 };
        static const sd_json_dispatch_field table[] = {
                { "physicalFunction", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), pf), SD_JSON_MANDATORY },
                { "count", _SD_JSON_VARIANT_TYPE_INVALID, sd_json_dispatch_uint32, offsetof(typeof(p), count), SD_JSON_MANDATORY },
                { NULL }
        };
        Call call = vl_call(link);
        int r;

        r = sd_varlink_dispatch(link, parameters, table, &p);
        if (r != 0)
                return r;
        return vl_outcome(link, &call, op_set_num_vfs(&call, p.pf, p.count));
}

/* ---- listings: one JSON object per record ----------------------------------------------- */

typedef struct JsonList {
        sd_json_variant **items;
        size_t n, allocated;
} JsonList;

static void json_list_done(JsonList *l) {
        for (size_t i = 0; i < l->n; i++)
                sd_json_variant_unref(l->items[i]);
        free(l->items);
}

static int field_to_json(const Field *f, sd_json_variant **ret) {
        switch (f->type) {
        case FIELD_STRING:
                return sd_json_variant_new_string(ret, f->s);
        case FIELD_U32:
                return sd_json_variant_new_unsigned(ret, f->u);
        case FIELD_I32:
                return sd_json_variant_new_integer(ret, f->i);
        case FIELD_U64:
                return sd_json_variant_new_unsigned(ret, f->t);
        case FIELD_BOOL:
                return sd_json_variant_new_boolean(ret, f->b);
        case FIELD_STRV:
                return sd_json_variant_new_array_strv(ret, (char **) f->strv);
        case FIELD_U32_ARRAY: {
                _cleanup_free_ sd_json_variant **v = calloc(MAX(f->ids.n, 1), sizeof *v);
                int r = 0;

                if (!v)
                        return -ENOMEM;
                for (size_t i = 0; i < f->ids.n && r >= 0; i++)
                        r = sd_json_variant_new_unsigned(&v[i], f->ids.v[i]);
                if (r >= 0)
                        r = sd_json_variant_new_array(ret, v, f->ids.n);
                for (size_t i = 0; i < f->ids.n; i++)
                        sd_json_variant_unref(v[i]);
                return r;
        }
        }
        return -EINVAL;
}

/* Objects are made in one go from all their pairs, arrays from all their
 * items: appending one at a time copies, which at 16,384 VFs adds up. */
static int emit_json(void *userdata, const Field *fields, size_t n_fields) {
        JsonList *l = userdata;
        sd_json_variant *pairs[2 * RECORD_FIELDS_MAX] = { NULL };
        sd_json_variant *o = NULL;
        int r = 0;

        assert(n_fields <= RECORD_FIELDS_MAX);
        for (size_t i = 0; i < n_fields && r >= 0; i++) {
                r = sd_json_variant_new_string(&pairs[2 * i], fields[i].json_name);
                if (r >= 0)
                        r = field_to_json(&fields[i], &pairs[2 * i + 1]);
        }
        if (r >= 0)
                r = sd_json_variant_new_object(&o, pairs, 2 * n_fields);
        for (size_t i = 0; i < 2 * n_fields; i++)
                sd_json_variant_unref(pairs[i]);
        if (r < 0)
                return r;
        if (l->n == l->allocated) {
                size_t k = MAX(l->allocated * 2, 16U);
                sd_json_variant **items = realloc(l->items, k * sizeof *items);

                if (!items) {
                        sd_json_variant_unref(o);
                        return -ENOMEM;
                }
                l->items = items;
                l->allocated = k;
        }
        l->items[l->n++] = o;
        return 0;
}

typedef enum ListKind {
        LIST_PFS,
        LIST_VFS,
        LIST_LEASES,
        LIST_TENANTS,
} ListKind;

static int vl_reply_list(sd_varlink *link, Call *call, ListKind kind, const VfQuery *q) {
        static const char *const key[] = {
                [LIST_PFS] = "physicalFunctions",
                [LIST_VFS] = "virtualFunctions",
                [LIST_LEASES] = "leases",
                [LIST_TENANTS] = "tenants",
        };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *array = NULL;
        JsonList l = { NULL };
        int r = 0;

        switch (kind) {
        case LIST_PFS:
                r = op_list_pfs(call, emit_json, &l);
                break;
        case LIST_VFS:
                r = op_list_vfs(call, q, emit_json, &l);
                break;
        case LIST_LEASES:
                r = op_list_leases(call, emit_json, &l);
                break;
        case LIST_TENANTS:
                r = op_list_tenants(call, emit_json, &l);
                break;
        }
        if (r >= 0)
                r = sd_json_variant_new_array(&array, l.items, l.n);
        json_list_done(&l);
        if (r < 0)
                return vl_outcome(link, call, r);
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT(key[kind], array));
}

/* The listings that take no parameters. */
static int vl_list_all(sd_varlink *link, sd_json_variant *parameters, ListKind kind) {
        Call call = vl_call(link);
        int r;

        r = sd_varlink_dispatch(link, parameters, no_parameters, NULL);
        if (r != 0)
                return r;
        return vl_reply_list(link, &call, kind, NULL);
}

static int vl_list_pfs(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        return vl_list_all(link, parameters, LIST_PFS);
}

static int vl_list_vfs(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        struct {
                const char *pf, *state, *tenant;
        } p = { 0 };
        static const sd_json_dispatch_field table[] = {
                { "physicalFunction", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), pf), SD_JSON_NULLABLE },
                { "state", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), state), SD_JSON_NULLABLE },
                { "tenant", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(p), tenant), SD_JSON_NULLABLE },
                { NULL }
        };
        Call call = vl_call(link);
        VfQuery q = VF_QUERY_INIT;
        int r;

        r = sd_varlink_dispatch(link, parameters, table, &p);
        if (r != 0)
                return r;
        if ((p.pf && (r = vf_query_set_pf(&call, &q, p.pf)) < 0) ||
            (p.state && (r = vf_query_set_state(&call, &q, p.state)) < 0) ||
            (p.tenant && (r = vf_query_set_tenant(&call, &q, p.tenant)) < 0))
                return vl_outcome(link, &call, r);
        return vl_reply_list(link, &call, LIST_VFS, &q);
}

static int vl_list_leases(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        return vl_list_all(link, parameters, LIST_LEASES);
}

static int vl_list_tenants(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        return vl_list_all(link, parameters, LIST_TENANTS);
}

static int vl_get_status(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags, void *userdata) {
        Call call = vl_call(link);
        BrokerCounts n;
        int r;

        r = sd_varlink_dispatch(link, parameters, no_parameters, NULL);
        if (r != 0)
                return r;
        n = op_counts(call.client);
        return sd_varlink_replybo(link,
                                  SD_JSON_BUILD_PAIR_STRING("version", PACKAGE_VERSION),
                                  SD_JSON_BUILD_PAIR_UNSIGNED("physicalFunctions", n.pfs),
                                  SD_JSON_BUILD_PAIR_UNSIGNED("virtualFunctions", n.vfs),
                                  SD_JSON_BUILD_PAIR_UNSIGNED("leases", n.leases));
}

/* ---- connections ------------------------------------------------------------------------ */

/* Every connection gets a Client of its own, not on the D-Bus socket's
 * list: its identity is read here, once, from the socket (SO_PEERCRED,
 * SO_PEERGROUPS, a pidfd), and its polkit questions die with it. */
static void on_disconnect(sd_varlink_server *s, sd_varlink *link, void *userdata) {
        varlink_connection_disconnected(link);
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        return sd_event_source_set_enabled(m->varlink_listen_source, SD_EVENT_ON);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        int cfd, r;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        /* The socket stays readable: watching it would spin. */
                        log_warning_errno(errno, "Cannot accept Varlink connections: %s; pausing.", STRERROR(errno));
                        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                        (void) sd_event_source_set_time_relative(m->varlink_accept_retry, VARLINK_ACCEPT_RETRY_USEC);
                        (void) sd_event_source_set_enabled(m->varlink_accept_retry, SD_EVENT_ONESHOT);
                }
                return 0;
        }
        r = varlink_connection_new(m, m->varlink_server, cfd);
        if (r < 0)
                log_debug_errno(r, "Refusing a Varlink connection: %s", STRERROR(r));
        return 0;
}

int varlink_start(Manager *m, int listen_fd) {
        _cleanup_close_ int fd = listen_fd;
        _cleanup_(sd_varlink_server_unrefp) sd_varlink_server *s = NULL;
        const Config *cfg = m->config;
        int r;

        /* Per-uid accounting: a user that opens connections until its limit
         * locks out itself, nobody else. */
        r = sd_varlink_server_new(&s, SD_VARLINK_SERVER_ACCOUNT_UID);
        if (r < 0)
                return log_error_errno(r, "Cannot create the Varlink server: %s", STRERROR(r));
        (void) sd_varlink_server_set_description(s, "varlink");
        (void) sd_varlink_server_set_info(s, "vfbroker", "vfbrokerd", PACKAGE_VERSION, "https://github.com/vfbroker/vfbroker");
        sd_varlink_server_set_userdata(s, m);
        r = sd_varlink_server_set_connections_max(s, cfg->max_connections);
        if (r >= 0)
                r = sd_varlink_server_set_connections_per_uid_max(s, cfg->max_connections_per_user);
        if (r >= 0)
                r = sd_varlink_server_add_interface(s, &vl_interface_io_vfbroker_Broker);
        if (r >= 0)
                r = sd_varlink_server_bind_method_many(
                                s,
                                VARLINK_INTERFACE_NAME ".GetStatus", vl_get_status,
                                VARLINK_INTERFACE_NAME ".ListPhysicalFunctions", vl_list_pfs,
                                VARLINK_INTERFACE_NAME ".ListVirtualFunctions", vl_list_vfs,
                                VARLINK_INTERFACE_NAME ".ListLeases", vl_list_leases,
                                VARLINK_INTERFACE_NAME ".ListTenants", vl_list_tenants,
                                VARLINK_INTERFACE_NAME ".AcquireVF", vl_acquire_vf,
                                VARLINK_INTERFACE_NAME ".ReleaseVF", vl_release_vf,
                                VARLINK_INTERFACE_NAME ".RevokeLease", vl_revoke_lease,
                                VARLINK_INTERFACE_NAME ".CreateTenant", vl_create_tenant,
                                VARLINK_INTERFACE_NAME ".DeleteTenant", vl_delete_tenant,
                                VARLINK_INTERFACE_NAME ".RotateToken", vl_rotate_token,
                                VARLINK_INTERFACE_NAME ".GetTenantToken", vl_get_tenant_token,
                                VARLINK_INTERFACE_NAME ".SetNumVFs", vl_set_num_vfs);
        if (r >= 0)
                r = sd_varlink_server_bind_disconnect(s, on_disconnect);
        if (r >= 0)
                r = sd_varlink_server_attach_event(s, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the Varlink server: %s", STRERROR(r));

        /* Accepted here, not by sd-varlink: each connection gets its relay. */
        r = fcntl(fd, F_GETFL);
        if (r >= 0 && !(r & O_NONBLOCK))
                (void) fcntl(fd, F_SETFL, r | O_NONBLOCK);
        r = sd_event_add_io(m->event, &m->varlink_listen_source, fd, EPOLLIN, on_accept, m);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &m->varlink_accept_retry, CLOCK_MONOTONIC,
                                               VARLINK_ACCEPT_RETRY_USEC, 0, on_accept_retry, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->varlink_accept_retry, SD_EVENT_OFF);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the Varlink socket: %s", STRERROR(r));
        (void) sd_event_source_set_description(m->varlink_listen_source, "varlink-listen");
        m->varlink_fd = TAKE_FD(fd);

        log_info("Serving %s over Varlink too.", VARLINK_INTERFACE_NAME);
        m->varlink_server = TAKE_PTR(s);
        return 0;
}

void varlink_stop(Manager *m) {
        m->varlink_listen_source = sd_event_source_disable_unref(m->varlink_listen_source);
        m->varlink_accept_retry = sd_event_source_disable_unref(m->varlink_accept_retry);
        /* Every connection, and with it its Client and sd-varlink link. */
        varlink_connection_free_all(m);
        if (!m->varlink_server)
                return;
        (void) sd_varlink_server_shutdown(m->varlink_server);
        m->varlink_server = sd_varlink_server_unref(m->varlink_server);
}
