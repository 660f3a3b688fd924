/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Store: the daemon's persistent state in SQLite (WAL, mode 0600, schema
 * version in PRAGMA user_version): tenants and their tokens, PF modes and
 * pool tokens, leases. Every change is one transaction. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "pci-address.h"
#include "uuid-util.h"

#define STORE_SCHEMA_VERSION 1

/* How long a write waits for another connection's write lock (an admin's
 * sqlite3, say) before it fails with -EBUSY. */
#define STORE_BUSY_TIMEOUT_MSEC 5000u

typedef struct Store Store;

typedef struct StoreTenant {
        char *name;
        Token token;
        unsigned quota;
        uid_t *uids;
        size_t n_uids;
        gid_t *gids;
        size_t n_gids;
        bool from_config;     /* defined by a [Tenant] section, not CreateTenant */
        uint64_t created_usec; /* CLOCK_REALTIME */
} StoreTenant;

typedef struct StorePf {
        char address[PCI_ADDRESS_MAX];
        char *mode;           /* "pool" / "dedicated" */
        char *tenant;         /* dedicated only, else NULL */
        Token pool_token;     /* the broker's secret for pool PFs */
} StorePf;

typedef struct StoreLease {
        char *id;
        char vf[PCI_ADDRESS_MAX];
        char pf[PCI_ADDRESS_MAX];
        char *tenant;
        uid_t uid;
        pid_t pid;
        uint64_t pid_start_time; /* /proc/PID/stat field 22, to tell pid reuse */
        uint64_t created_usec;
} StoreLease;

/* Opens or creates the database (0600; parent must exist). A file with a
 * newer schema returns -EPROTONOSUPPORT, a file that is not a database or
 * fails the integrity check returns -EBADMSG; in both cases *ret_error says
 * what is wrong and the file is left untouched. */
int store_open(const char *path, Store **ret, char **ret_error);
Store *store_free(Store *s);


/* Tenants. Durable: fsync'd and checkpointed into the main file before
 * the call returns, so a damaged WAL cannot take them. */
int store_tenant_add(Store *s, const StoreTenant *t);                  /* -EEXIST */
int store_tenant_update_rules(Store *s, const StoreTenant *t);         /* quota, uids, gids, from_config; -ENOENT */
int store_tenant_set_token(Store *s, const char *name, const Token *t); /* -ENOENT */
int store_tenant_remove(Store *s, const char *name);                   /* -ENOENT, -EBUSY while it holds leases */
int store_tenant_get(Store *s, const char *name, StoreTenant **ret);   /* -ENOENT */
int store_tenant_list(Store *s, StoreTenant ***ret, size_t *ret_n);    /* sorted by name */
StoreTenant *store_tenant_free(StoreTenant *t);
void store_tenant_list_free(StoreTenant **l, size_t n);

/* PFs: pool tokens survive restarts so a restarted broker keeps opening VFs
 * with the token the kernel already has. Durable. */
int store_pf_put(Store *s, const StorePf *pf);                         /* insert or replace */
int store_pf_get(Store *s, const char *address, StorePf **ret);        /* -ENOENT */
StorePf *store_pf_free(StorePf *pf);

/* Leases. Durable against a daemon crash (synchronous=NORMAL in WAL). */
int store_lease_add(Store *s, const StoreLease *l);   /* -EEXIST if the VF or id is taken, -ENOENT for an unknown tenant */
int store_lease_remove(Store *s, const char *id);     /* -ENOENT */
int store_lease_list(Store *s, StoreLease **ret, size_t *ret_n); /* array of structs */
void store_lease_list_free(StoreLease *l, size_t n);

DEFINE_TRIVIAL_CLEANUP_FUNC(StoreTenant *, store_tenant_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(StorePf *, store_pf_free)
