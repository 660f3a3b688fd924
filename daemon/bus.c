/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus: org.vfbroker.Broker1 as an sd-bus vtable. Reads and type-checks each
 * call's arguments, runs its operation (operation.h: the checks, polkit and
 * the work, shared with the Varlink front end) and turns the outcome into a
 * D-Bus reply. The only place that knows D-Bus. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "bus.h"
#include "client.h"
#include "config.h"
#include "lease.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "process-util.h"
#include "tenant.h"

/* Supplementary groups read per caller on the system bus, as on the socket (client.c). */
#define BUS_CALLER_GROUPS_MAX 1024U
/* The well-known name on the system bus is the interface's name. */
#define BUS_NAME VFBROKER_INTERFACE

/* ---- the transport: what an operation needs of a D-Bus call ---------------------- */

static void *bus_ref(void *handle) {
        return sd_bus_message_ref(handle);
}

static void bus_unref(void *handle) {
        sd_bus_message_unref(handle);
}

static int bus_dispatch_again(Client *c, void *handle) {
        int r;

        r = sd_bus_message_rewind(handle, true);
        if (r < 0)
                return r;
        return sd_bus_enqueue_for_read(c->bus, handle);
}

static void bus_reply_done(void *handle) {
        (void) sd_bus_reply_method_return(handle, NULL);
}

static void bus_reply_error(void *handle, const CallError *e) {
        (void) sd_bus_reply_method_errorf(handle, e->name, "%s", e->message);
}

static const CallTransport bus_transport = {
        .ref = bus_ref,
        .unref = bus_unref,
        .dispatch_again = bus_dispatch_again,
        .reply_done = bus_reply_done,
        .reply_error = bus_reply_error,
};

static Call bus_call(Client *c, sd_bus_message *m) {
        return (Call) {
                .client = c,
                .transport = &bus_transport,
                .handle = m,
                .bus_sender = c->on_system_bus ? sd_bus_message_get_sender(m) : NULL,
        };
}

/* What a handler returns for an operation's outcome r (operation.h) that
 * sent no reply yet: the refusal as a D-Bus error, or 1 (handled: the reply
 * comes later). sd-bus takes 0 for "not mine". */
static int bus_outcome(Call *call, int r, sd_bus_error *error) {
        if (r >= 0)
                return 1;
        if (call->error.name)
                return sd_bus_error_set(error, call->error.name, call->error.message);
        return r;
}

/* Replies with no result for a done operation, else as bus_outcome. */
static int bus_reply_empty(sd_bus_message *m, Call *call, int r, sd_bus_error *error) {
        if (r == 1)
                return sd_bus_reply_method_return(m, NULL);
        return bus_outcome(call, r, error);
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
 * answered for gets its answer (call_take_answer), for this one dispatch
 * only. On the system bus one connection carries every caller: the identity
 * the handler sees is read here, per message, from the bus. */
static int bus_filter(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;
        int r;

        call_take_answer(c, m);
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

/* ---- arguments -------------------------------------------------------------------- */

/* Parses the value of one option whose key the caller read; refuses unknown keys. */
typedef int (*option_parser_t)(sd_bus_message *m, const char *key, void *userdata, Call *call);

/* Walks an a{sv} of options (at most OPTIONS_MAX), handing each entry to parse. */
static int read_options(sd_bus_message *m, Call *call, const char *action, option_parser_t parse, void *userdata) {
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
                        return op_refuse_too_many_options(call, action);
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                r = parse(m, key, userdata, call);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

/* Reads a variant of type "s" into *ret, or refuses naming key. */
static int read_variant_string(sd_bus_message *m, Call *call, const char *action, const char *key, const char **ret) {
        char what[80];

        if (sd_bus_message_read(m, "v", "s", ret) >= 0)
                return 0;
        snprintf(what, sizeof what, "%s %s", streq(action, "list-vfs") ? "filter" : "option", key);
        return op_refuse_option_type(call, action, what, "a string (s)");
}

static int parse_acquire_option(sd_bus_message *m, const char *key, void *userdata, Call *call) {
        AcquireArgs *a = userdata;
        const char *s;
        int r;

        if (streq(key, "PhysicalFunction") || streq(key, "API")) {
                r = read_variant_string(m, call, "acquire", key, &s);
                if (r < 0)
                        return r;
                return streq(key, "API") ? acquire_args_set_api(call, a, s) : acquire_args_set_pf(call, a, s);
        }
        if (streq(key, "NumaNode")) {
                int32_t node;

                r = sd_bus_message_read(m, "v", "i", &node);
                if (r < 0)
                        return op_refuse_option_type(call, "acquire", "option NumaNode", "an int32 (i)");
                return acquire_args_set_numa_node(call, a, node);
        }
        return op_refuse_unknown_option(call, "acquire", "option", key, "AcquireVF knows PhysicalFunction, NumaNode and API");
}

static int parse_tenant_option(sd_bus_message *m, const char *key, void *userdata, Call *call) {
        TenantArgs *a = userdata;
        int r;

        if (streq(key, "Uids") || streq(key, "Gids")) {
                const uint32_t *ids;
                size_t n;

                r = read_variant_u32_array(m, TENANT_IDS_MAX, &ids, &n);
                if (r == -E2BIG)
                        return tenant_args_set_ids(call, a, streq(key, "Uids"), NULL, (size_t) TENANT_IDS_MAX + 1);
                if (r < 0) {
                        char what[32];

                        snprintf(what, sizeof what, "option %s", key);
                        return op_refuse_option_type(call, "create-tenant", what, "an array of uint32 (au)");
                }
                return tenant_args_set_ids(call, a, streq(key, "Uids"), ids, n);
        }
        if (streq(key, "Quota")) {
                uint32_t q;

                r = sd_bus_message_read(m, "v", "u", &q);
                if (r < 0)
                        return op_refuse_option_type(call, "create-tenant", "option Quota", "a uint32 (u)");
                return tenant_args_set_quota(call, a, q);
        }
        return op_refuse_unknown_option(call, "create-tenant", "option", key, "CreateTenant knows Uids, Gids and Quota");
}

static int parse_delete_option(sd_bus_message *m, const char *key, void *userdata, Call *call) {
        bool *force = userdata;
        int b, r;

        if (!streq(key, "Force"))
                return op_refuse_unknown_option(call, "delete-tenant", "option", key, "DeleteTenant knows Force");
        r = sd_bus_message_read(m, "v", "b", &b);
        if (r < 0)
                return op_refuse_option_type(call, "delete-tenant", "option Force", "a boolean (b)");
        *force = b;
        return 0;
}

static int parse_vf_query_option(sd_bus_message *m, const char *key, void *userdata, Call *call) {
        VfQuery *q = userdata;
        const char *v;
        int r;

        if (!streq(key, "PhysicalFunction") && !streq(key, "State") && !streq(key, "Tenant"))
                return op_refuse_unknown_option(call, "list-vfs", "filter", key,
                                                "FindVirtualFunctions knows PhysicalFunction, State and Tenant");
        r = read_variant_string(m, call, "list-vfs", key, &v);
        if (r < 0)
                return r;
        if (streq(key, "PhysicalFunction"))
                return vf_query_set_pf(call, q, v);
        if (streq(key, "State"))
                return vf_query_set_state(call, q, v);
        return vf_query_set_tenant(call, q, v);
}

/* ---- the methods -------------------------------------------------------------------- */

static int method_acquire_vf(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        AcquireArgs a = ACQUIRE_ARGS_INIT;
        AcquireResult res;
        int r;

        r = sd_bus_message_read(m, "s", &a.tenant);
        if (r < 0)
                return r;
        r = read_options(m, &call, "acquire", parse_acquire_option, &a);
        if (r < 0)
                return bus_outcome(&call, r, error);
        r = op_acquire(&call, &a, &res);
        if (r <= 0)
                return bus_outcome(&call, r, error);

        /* The iommufd path has no group: the iommufd stands in both places. */
        r = sd_bus_reply_method_return(m, "ssuhhh", res.lease->id, res.lease->vf->address, res.lease->vf->iommu_group,
                                       res.fds.container, a.api == VF_API_IOMMUFD ? res.fds.container : res.fds.group,
                                       res.fds.device);
        op_acquire_sent(&call, &a, &res, r);
        /* Replied (or the lease undone): 1, or sd-bus would answer UnknownMethod as well. */
        return 1;
}

static int method_release_vf(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        const char *id;
        int r;

        r = sd_bus_message_read(m, "s", &id);
        if (r < 0)
                return r;
        return bus_reply_empty(m, &call, op_release(&call, id), error);
}

static int method_revoke_lease(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        const char *id;
        int r;

        r = sd_bus_message_read(m, "s", &id);
        if (r < 0)
                return r;
        return bus_reply_empty(m, &call, op_revoke(&call, id), error);
}

static int method_create_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        TenantArgs a = { .quota = 0 };
        int r;

        r = sd_bus_message_read(m, "s", &a.name);
        if (r < 0)
                return r;
        r = read_options(m, &call, "create-tenant", parse_tenant_option, &a);
        if (r < 0)
                return bus_outcome(&call, r, error);
        return bus_reply_empty(m, &call, op_create_tenant(&call, &a), error);
}

static int method_delete_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        const char *name;
        bool force = false;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = read_options(m, &call, "delete-tenant", parse_delete_option, &force);
        if (r < 0)
                return bus_outcome(&call, r, error);
        return bus_reply_empty(m, &call, op_delete_tenant(&call, name, force), error);
}

static int method_rotate_token(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        return bus_reply_empty(m, &call, op_rotate_token(&call, name), error);
}

static int method_get_tenant_token(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        char token[TOKEN_STRING_MAX];
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = op_get_tenant_token(&call, name, token);
        if (r == 1)
                return sd_bus_reply_method_return(m, "s", token);
        return bus_outcome(&call, r, error);
}

static int method_set_num_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        const char *pf;
        uint32_t n;
        int r;

        r = sd_bus_message_read(m, "su", &pf, &n);
        if (r < 0)
                return r;
        return bus_outcome(&call, op_set_num_vfs(&call, pf, n), error);
}

/* ---- listings: aa{sv}, one a{sv} per record ------------------------------------------- */

/* One {sv} entry of a basic type, appended without sd_bus_message_append()'s
 * format parser: at 16,384 VFs the listing is eight of these per VF. */
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

static int append_field(sd_bus_message *reply, const Field *f) {
        int b, r;

        switch (f->type) {
        case FIELD_STRING:
                return append_entry(reply, f->bus_name, 's', f->s);
        case FIELD_U32:
                return append_entry(reply, f->bus_name, 'u', &f->u);
        case FIELD_I32:
                return append_entry(reply, f->bus_name, 'i', &f->i);
        case FIELD_U64:
                return append_entry(reply, f->bus_name, 't', &f->t);
        case FIELD_BOOL:
                b = f->b;
                return append_entry(reply, f->bus_name, 'b', &b);
        case FIELD_STRV:
        case FIELD_U32_ARRAY:
                break;
        }
        r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r < 0)
                return r;
        r = sd_bus_message_append_basic(reply, 's', f->bus_name);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'v', f->type == FIELD_STRV ? "as" : "au");
        if (r < 0)
                return r;
        if (f->type == FIELD_STRV)
                r = sd_bus_message_append_strv(reply, (char **) f->strv);
        else
                r = sd_bus_message_append_array(reply, 'u', f->ids.v, f->ids.n * sizeof(uint32_t));
        if (r < 0)
                return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int emit_record(void *userdata, const Field *fields, size_t n_fields) {
        sd_bus_message *reply = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_fields; i++) {
                r = append_field(reply, &fields[i]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

typedef enum ListKind {
        LIST_PFS,
        LIST_VFS,
        LIST_LEASES,
        LIST_TENANTS,
} ListKind;

static int reply_list(sd_bus_message *m, Call *call, ListKind kind, const VfQuery *q, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r < 0)
                return r;
        switch (kind) {
        case LIST_PFS:
                r = op_list_pfs(call, emit_record, reply);
                break;
        case LIST_VFS:
                r = op_list_vfs(call, q, emit_record, reply);
                break;
        case LIST_LEASES:
                r = op_list_leases(call, emit_record, reply);
                break;
        case LIST_TENANTS:
                r = op_list_tenants(call, emit_record, reply);
                break;
        }
        if (r < 0)
                return bus_outcome(call, r, error);
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_list_pfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);

        return reply_list(m, &call, LIST_PFS, NULL, error);
}

static int method_list_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);

        return reply_list(m, &call, LIST_VFS, NULL, error);
}

static int method_find_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);
        VfQuery q = VF_QUERY_INIT;
        int r;

        r = read_options(m, &call, "list-vfs", parse_vf_query_option, &q);
        if (r < 0)
                return bus_outcome(&call, r, error);
        return reply_list(m, &call, LIST_VFS, &q, error);
}

static int method_list_leases(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);

        return reply_list(m, &call, LIST_LEASES, NULL, error);
}

static int method_list_tenants(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Call call = bus_call(userdata, m);

        return reply_list(m, &call, LIST_TENANTS, NULL, error);
}

/* ---- properties ------------------------------------------------------------------- */

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        BrokerCounts n = op_counts(userdata);

        return sd_bus_message_append(reply, "u",
                                     streq(property, "Leases") ? n.leases :
                                     streq(property, "PhysicalFunctions") ? n.pfs : n.vfs);
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
