/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Operation: the broker's calls, written once for every front end (bus.c
 * for D-Bus, varlink.c for Varlink). A front end reads a call's arguments
 * into the structs below (the setters check every value), runs the
 * operation and turns its outcome into a reply in its own protocol. The
 * checks, the polkit questions, the work and the audit records live here.
 *
 * Every op_*() returns
 *   1   done: the front end replies now (with what the op filled in);
 *   0   the reply comes later: polkit is being asked (the front end's
 *       dispatch_again runs the call again, from the top, with the answer
 *       in hand), or a worker job finishes it (reply_done/reply_error);
 *   <0  refused or failed: call->error names the error and says why, or,
 *       with no name set, a plain errno the front end passes on. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pci-address.h"
#include "pf.h"
#include "protocol.h"
#include "tenant.h"
#include "vfio.h"

typedef struct Client Client;
typedef struct Lease Lease;
typedef struct PendingCall PendingCall;

/* Limits on what a client may send. */
#define OPTIONS_MAX 16U

/* A refusal: one of the VFBROKER_ERROR_* names (protocol.h) and a sentence
 * that names the thing and the fix. */
typedef struct CallError {
        const char *name;
        char message[1024];
} CallError;

/* What an operation needs of the front end. handle is the front end's
 * call: an sd_bus_message, or the sd_varlink connection it came on. */
typedef struct CallTransport {
        void *(*ref)(void *handle);
        void (*unref)(void *handle);
        /* polkit answered: process the call again (sd_bus_enqueue_for_read,
         * sd_varlink_dispatch_again) */
        int (*dispatch_again)(Client *c, void *handle);
        /* the late reply of a call a worker job finished */
        void (*reply_done)(void *handle);
        void (*reply_error)(void *handle, const CallError *error);
} CallTransport;

typedef struct Call {
        Client *client;
        const CallTransport *transport;
        void *handle;
        const char *bus_sender;         /* the system bus: the caller's unique name */
        CallError error;
} Call;

/* Before a call is processed: hands it polkit's answer if it is one that
 * came back (see CallTransport.dispatch_again), for this dispatch only. */
void call_take_answer(Client *c, void *handle);
/* Cancels a call waiting for polkit (its client went away): no reply is sent. */
PendingCall *pending_call_free(PendingCall *pc);

/* ---- arguments: each setter refuses a bad value (returns <0, error set) ---- */

typedef struct AcquireArgs {
        const char *tenant;
        const char *pf;                 /* NULL: any */
        int numa_node;                  /* -1: any */
        VfApi api;
        char pf_buf[PCI_ADDRESS_MAX];
} AcquireArgs;
#define ACQUIRE_ARGS_INIT { .numa_node = -1, .api = VF_API_GROUP }
int acquire_args_set_pf(Call *call, AcquireArgs *a, const char *pf);
int acquire_args_set_numa_node(Call *call, AcquireArgs *a, int64_t node);
int acquire_args_set_api(Call *call, AcquireArgs *a, const char *api);

typedef struct TenantArgs {
        const char *name;
        uid_t uids[TENANT_IDS_MAX];
        size_t n_uids;
        gid_t gids[TENANT_IDS_MAX];
        size_t n_gids;
        unsigned quota;                 /* 0: DefaultQuota= */
} TenantArgs;
/* ids: n entries, or n > TENANT_IDS_MAX to say the client sent too many. */
int tenant_args_set_ids(Call *call, TenantArgs *a, bool uids, const uint32_t *ids, size_t n);
int tenant_args_set_quota(Call *call, TenantArgs *a, uint64_t quota);

/* What FindVirtualFunctions asks for; unset members match everything. */
typedef struct VfQuery {
        const char *pf;
        int state;                      /* -1: any */
        const char *tenant;
        char pf_buf[PCI_ADDRESS_MAX];
} VfQuery;
#define VF_QUERY_INIT { .state = -1 }
int vf_query_set_pf(Call *call, VfQuery *q, const char *pf);
int vf_query_set_state(Call *call, VfQuery *q, const char *state);
int vf_query_set_tenant(Call *call, VfQuery *q, const char *tenant);

/* An argument of the wrong type, a key the call does not know, too many
 * options: the refusals every front end words the same way. what names
 * the call's action ("acquire", "create-tenant", ...). */
int op_refuse_option_type(Call *call, const char *action, const char *key, const char *type);
/* kind: "option" or "filter"; known: "AcquireVF knows PhysicalFunction, ..." */
int op_refuse_unknown_option(Call *call, const char *action, const char *kind, const char *key, const char *known);
int op_refuse_too_many_options(Call *call, const char *action);

/* ---- the operations ----------------------------------------------------------- */

typedef struct AcquireResult {
        Lease *lease;                   /* owned by the allocator */
        VfioVfFds fds;                  /* the caller's to send, then op_acquire_sent() closes them */
} AcquireResult;
int op_acquire(Call *call, const AcquireArgs *a, AcquireResult *ret);
/* After the reply: sent says whether it went out. Closes the fds, records
 * the grant, or ends the lease again when the client never got it. */
void op_acquire_sent(Call *call, const AcquireArgs *a, AcquireResult *res, int sent);

int op_release(Call *call, const char *lease_id);
int op_revoke(Call *call, const char *lease_id);
int op_create_tenant(Call *call, TenantArgs *a);
int op_delete_tenant(Call *call, const char *name, bool force);
int op_rotate_token(Call *call, const char *name);
/* ret: TOKEN_STRING_MAX bytes */
int op_get_tenant_token(Call *call, const char *name, char *ret);
int op_set_num_vfs(Call *call, const char *pf, uint64_t count);

/* ---- listings: one record per item, each a list of typed fields ----------------- */

typedef enum FieldType {
        FIELD_STRING,
        FIELD_U32,
        FIELD_I32,
        FIELD_U64,
        FIELD_BOOL,
        FIELD_STRV,                     /* NULL-terminated */
        FIELD_U32_ARRAY,
} FieldType;

typedef struct Field {
        const char *bus_name;           /* the a{sv} key: "IommuGroup" */
        const char *json_name;          /* the Varlink field: "iommuGroup" */
        FieldType type;
        union {
                const char *s;
                uint32_t u;
                int32_t i;
                uint64_t t;
                bool b;
                const char * const *strv;
                struct {
                        const uint32_t *v;
                        size_t n;
                } ids;
        };
} Field;

/* Called once per record; returns <0 to stop. */
typedef int (*record_emit_t)(void *userdata, const Field *fields, size_t n_fields);

int op_list_pfs(Call *call, record_emit_t emit, void *userdata);
/* q: NULL lists every VF */
int op_list_vfs(Call *call, const VfQuery *q, record_emit_t emit, void *userdata);
int op_list_leases(Call *call, record_emit_t emit, void *userdata);
int op_list_tenants(Call *call, record_emit_t emit, void *userdata);

typedef struct BrokerCounts {
        uint32_t pfs, vfs, leases;      /* ready PFs, their VFs, active leases */
} BrokerCounts;
BrokerCounts op_counts(Client *c);
