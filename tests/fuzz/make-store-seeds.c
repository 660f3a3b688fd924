/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the binary seeds of fuzz-store with the store's own code:
 *   make-store-seeds OUTDIR
 * state.db with tenants, PFs and a lease (mode byte 0), and the same before
 * its checkpoint, as state.db plus state.db-wal (mode byte 1). The SQL
 * seeds (mode byte 2) are text, written by hand. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "store.h"

static unsigned char *read_all(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "re");
        unsigned char *d;
        long n;

        if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
                abort();
        d = malloc((size_t) n + 1);
        if (!d || fread(d, 1, (size_t) n, f) != (size_t) n)
                abort();
        fclose(f);
        *ret_size = (size_t) n;
        return d;
}

static void fill(Store *s) {
        uid_t uids[] = { 0, 1000 };
        gid_t gids[] = { 100, 2000 };
        StoreTenant acme = { .name = (char *) "acme", .token = { { 0xa, 0xc, 0xe } }, .quota = 3,
                             .uids = uids, .n_uids = 2, .gids = gids, .n_gids = 2, .from_config = true,
                             .created_usec = 1700000000000000ULL };
        StoreTenant beta = { .name = (char *) "beta.team-1", .token = { { 0xb } }, .quota = 1,
                             .uids = uids + 1, .n_uids = 1, .created_usec = 1700000000000001ULL };
        StoreLease l = { .id = (char *) "0123456789abcdef0123456789abcdef", .vf = "0000:01:00.1",
                         .pf = "0000:01:00.0", .tenant = (char *) "acme", .uid = 1000, .pid = 4242,
                         .pid_start_time = 77, .created_usec = 1700000000000002ULL };

        if (store_tenant_add(s, &acme) < 0 || store_tenant_add(s, &beta) < 0 ||
            store_pf_put(s, &(StorePf) { .address = "0000:01:00.0", .mode = (char *) "pool",
                                          .pool_token = { { 1, 1, 1 } } }) < 0 ||
            store_pf_put(s, &(StorePf) { .address = "0000:02:00.0", .mode = (char *) "dedicated",
                                          .tenant = (char *) "acme" }) < 0 ||
            store_lease_add(s, &l) < 0)
                abort();
}

static void write_seed(const char *out, const char *name, unsigned char mode, const char *db, const char *wal) {
        unsigned char *a, *b = NULL, *seed;
        size_t na, nb = 0, n = 0;
        char *path;

        a = read_all(db, &na);
        if (wal)
                b = read_all(wal, &nb);
        seed = malloc(3 + na + nb);
        if (!seed)
                abort();
        seed[n++] = mode;
        if (wal) {
                /* The database part is a whole number of 16-byte units: pages are. */
                if (na % 16 || na / 16 > 0xffff)
                        abort();
                seed[n++] = (unsigned char) (na / 16);
                seed[n++] = (unsigned char) (na / 16 >> 8);
        }
        memcpy(seed + n, a, na);
        n += na;
        if (wal) {
                memcpy(seed + n, b, nb);
                n += nb;
        }
        if (asprintf(&path, "%s/%s", out, name) < 0)
                abort();
        fuzz_write_file(path, seed, n);
        printf("%s: %zu bytes\n", path, n);
        free(path);
        free(seed);
        free(a);
        free(b);
}

int main(int argc, char **argv) {
        char *dir, *db, *wal, *error = NULL;
        Store *s = NULL;

        if (argc != 2) {
                fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
                return EXIT_FAILURE;
        }
        dir = fuzz_make_temp_dir("seeds");
        if (asprintf(&db, "%s/state.db", dir) < 0 || asprintf(&wal, "%s/state.db-wal", dir) < 0)
                abort();

        if (store_open(db, &s, &error) < 0) {
                fprintf(stderr, "%s\n", error);
                return EXIT_FAILURE;
        }
        fill(s);
        /* Still open: the rows are in the WAL, not yet in state.db. */
        write_seed(argv[1], "db-wal-uncheckpointed", 1, db, wal);
        store_free(s);
        /* Closed: SQLite checkpointed and removed the WAL. */
        write_seed(argv[1], "db-full", 0, db, NULL);

        /* The same rows on 512-byte pages: an eighth of the bytes for the
         * fuzzer to wade through, every structure still there. */
        {
                sqlite3 *q = NULL;

                if (sqlite3_open(db, &q) != SQLITE_OK ||
                    sqlite3_exec(q, "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM; PRAGMA journal_mode=WAL;",
                                 NULL, NULL, NULL) != SQLITE_OK)
                        abort();
                sqlite3_close(q);
        }
        write_seed(argv[1], "db-full-512", 0, db, NULL);

        (void) unlink(db);
        if (store_open(db, &s, &error) < 0)
                return EXIT_FAILURE;
        store_free(s);
        write_seed(argv[1], "db-empty-schema", 0, db, NULL);
        free(db);
        free(wal);
        return EXIT_SUCCESS;
}
