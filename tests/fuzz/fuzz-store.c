/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the store loader: arbitrary bytes as state.db (and
 * state.db-wal), or SQL run on a fresh state.db, then store_open() and every
 * read and write the daemon makes. SQLite is not the target: what the store
 * does with whatever SQLite hands it back is. */

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "store.h"

/* The first byte picks how the rest is used. */
enum {
        MODE_DB,        /* the rest is state.db */
        MODE_DB_WAL,    /* two bytes of length/16, then state.db, then state.db-wal */
        MODE_SQL,       /* SQL run on a state.db the store has just created */
        _MODE_MAX,
};

/* SQL mode must neither take forever nor reach beyond the database. */
#define SQL_STEPS_MAX 200000
#define SQL_LENGTH_MAX 100000

static char *dir, *db_path, *wal_path, *shm_path;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_setup_logs();
        dir = fuzz_make_temp_dir("store");
        if (asprintf(&db_path, "%s/state.db", dir) < 0 ||
            asprintf(&wal_path, "%s/state.db-wal", dir) < 0 ||
            asprintf(&shm_path, "%s/state.db-shm", dir) < 0)
                abort();
        return 0;
}

static void remove_files(void) {
        (void) unlink(db_path);
        (void) unlink(wal_path);
        (void) unlink(shm_path);
}

static int progress_stop(void *userdata) {
        unsigned *n = userdata;

        return ++*n > SQL_STEPS_MAX / 1000;
}

static int authorize(void *userdata, int action, const char *a, const char *b, const char *c, const char *d) {
        /* ATTACH and VACUUM INTO would write files outside the directory. */
        if (action == SQLITE_ATTACH || action == SQLITE_DETACH)
                return SQLITE_DENY;
        return SQLITE_OK;
}

/* Builds state.db with the store's own code, then lets the input rewrite it. */
static void prepare_sql(const uint8_t *data, size_t size) {
        Store *s = NULL;
        sqlite3 *db = NULL;
        char *sql, *error = NULL;
        unsigned steps = 0;

        if (store_open(db_path, &s, &error) < 0) {
                fprintf(stderr, "cannot create a fresh store: %s\n", error);
                abort();
        }
        store_free(s);

        sql = strndup((const char *) data, size);
        if (!sql)
                abort();
        /* VACUUM INTO names a file to write; no statement of the daemon's needs it. */
        if (strcasestr(sql, "vacuum")) {
                free(sql);
                return;
        }
        if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
                abort();
        sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
        sqlite3_limit(db, SQLITE_LIMIT_LENGTH, SQL_LENGTH_MAX);
        sqlite3_progress_handler(db, 1000, progress_stop, &steps);
        sqlite3_set_authorizer(db, authorize, NULL);
        /* Lets the input write what the schema's constraints forbid, as a
         * damaged or hand-edited file would hold. */
        (void) sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 0, NULL);
        (void) sqlite3_exec(db, sql, NULL, NULL, NULL);
        (void) sqlite3_close_v2(db);
        free(sql);
}

static void exercise(Store *s) {
        StoreTenant **tenants = NULL;
        StoreLease *leases = NULL;
        size_t n_tenants = 0, n_leases = 0;
        int r;

        r = store_tenant_list(s, &tenants, &n_tenants);
        if (r >= 0) {
                for (size_t i = 0; i < n_tenants; i++) {
                        StoreTenant *t = NULL;

                        if (!tenants[i] || !tenants[i]->name)
                                abort();
                        fuzz_touch(tenants[i]->uids, tenants[i]->n_uids * sizeof(uid_t));
                        fuzz_touch(tenants[i]->gids, tenants[i]->n_gids * sizeof(gid_t));
                        if (store_tenant_get(s, tenants[i]->name, &t) >= 0) {
                                if (!t || strcmp(t->name, tenants[i]->name) != 0)
                                        abort();
                                store_tenant_free(t);
                        }
                }
                store_tenant_list_free(tenants, n_tenants);
        }

        r = store_lease_list(s, &leases, &n_leases);
        if (r >= 0) {
                for (size_t i = 0; i < n_leases; i++) {
                        StorePf *pf = NULL;

                        if (!leases[i].id || !leases[i].tenant)
                                abort();
                        if (!pci_address_is_valid(leases[i].vf) || !pci_address_is_valid(leases[i].pf))
                                abort();
                        if (store_pf_get(s, leases[i].pf, &pf) >= 0) {
                                if (!pf || !pf->mode)
                                        abort();
                                store_pf_free(pf);
                        }
                }
                store_lease_list_free(leases, n_leases);
        }

        /* The writes start-up and the handlers make, on whatever was loaded. */
        {
                StorePf *pf = NULL;

                if (store_pf_get(s, "0000:01:00.0", &pf) >= 0)
                        store_pf_free(pf);
        }
        uid_t uids[] = { 0, 1000 };
        gid_t gids[] = { 100 };
        StoreTenant t = {
                .name = (char *) "fuzz",
                .token = { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } },
                .quota = 2,
                .uids = uids,
                .n_uids = 2,
                .gids = gids,
                .n_gids = 1,
                .from_config = true,
                .created_usec = 1,
        };
        (void) store_tenant_add(s, &t);
        t.quota = 3;
        (void) store_tenant_update_rules(s, &t);
        (void) store_tenant_set_token(s, "fuzz", &(Token) { { 16, 15, 14 } });
        (void) store_pf_put(s, &(StorePf) { .address = "0000:01:00.0", .mode = (char *) "pool",
                                             .pool_token = { { 9, 9, 9 } } });
        (void) store_pf_put(s, &(StorePf) { .address = "0000:02:00.0", .mode = (char *) "dedicated",
                                             .tenant = (char *) "fuzz" });
        StoreLease l = {
                .id = (char *) "0123456789abcdef0123456789abcdef",
                .vf = "0000:01:00.1",
                .pf = "0000:01:00.0",
                .tenant = (char *) "fuzz",
                .uid = 1000,
                .pid = 1,
                .pid_start_time = 1,
                .created_usec = 1,
        };
        (void) store_lease_add(s, &l);
        (void) store_tenant_remove(s, "fuzz");
        (void) store_lease_remove(s, l.id);
        (void) store_tenant_remove(s, "fuzz");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Store *s = NULL;
        char *error = NULL;
        int r;

        if (size < 1)
                return -1;
        remove_files();

        switch (data[0] % _MODE_MAX) {
        case MODE_DB:
                fuzz_write_file(db_path, data + 1, size - 1);
                break;
        case MODE_DB_WAL: {
                size_t n;

                if (size < 3)
                        return -1;
                n = MIN((size_t) (data[1] | data[2] << 8) * 16, size - 3);
                fuzz_write_file(db_path, data + 3, n);
                fuzz_write_file(wal_path, data + 3 + n, size - 3 - n);
                break;
        }
        default:
                prepare_sql(data + 1, size - 1);
        }

        r = store_open(db_path, &s, &error);
        if (r >= 0) {
                if (!s)
                        abort();
                exercise(s);
                store_free(s);
        } else if (!error && r != -ENOMEM)
                /* The contract: a refused file comes with what is wrong. */
                abort();
        free(error);
        return 0;
}
