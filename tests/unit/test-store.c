/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/store.c: schema creation, CRUD with its error codes,
 * persistence, refusal of foreign/newer/damaged files, mode, concurrency. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "names.h"
#include "store.h"

static char tmpdir[] = "/tmp/test-store-XXXXXX";
static char db_path[PATH_MAX];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p);
}

static void setup(void) {
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(db_path, sizeof db_path, "%s/state.db", tmpdir);
}

static void teardown(void) {
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free)

static Store *open_ok(void) {
        _cleanup_free_ char *err = NULL;
        Store *s = NULL;
        int r;

        r = store_open(db_path, &s, &err);
        cr_assert_eq(r, 0, "store_open: %d %s", r, strna(err));
        cr_assert_not_null(s);
        return s;
}

/* A second, plain SQLite connection, to look at the file from outside. */
static sqlite3 *raw_open(void) {
        sqlite3 *db = NULL;

        cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        sqlite3_busy_timeout(db, 10000);
        return db;
}

static long long raw_int(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        long long v;

        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
        v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return v;
}

static char *raw_text(sqlite3 *db, const char *sql) {
        sqlite3_stmt *st = NULL;
        char *v;

        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        v = strdup((const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return v;
}

static void raw_exec(sqlite3 *db, const char *sql) {
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
}

static char *read_all(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        cr_assert_not_null(f, "%s", path);
        cr_assert_eq(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        rewind(f);
        buf = malloc((size_t) n + 1);
        cr_assert_not_null(buf);
        cr_assert_eq(fread(buf, 1, (size_t) n, f), (size_t) n);
        fclose(f);
        *ret_size = (size_t) n;
        return buf;
}

static void write_all(const char *path, const void *data, size_t size) {
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(data, 1, size, f), size);
        cr_assert_eq(fclose(f), 0);
}

/* Opens the store expecting failure `want`, and checks the file is byte for byte unchanged. */
static void expect_refused_unchanged(int want, const char *needle) {
        _cleanup_free_ char *before = NULL, *after = NULL, *err = NULL;
        size_t n_before, n_after;
        Store *s = (Store *) 0x1;
        struct stat st_before, st_after;
        int r;

        cr_assert_eq(stat(db_path, &st_before), 0);
        before = read_all(db_path, &n_before);
        r = store_open(db_path, &s, &err);
        cr_assert_eq(r, want, "store_open returned %d (%s), wanted %d", r, strna(err), want);
        cr_assert_eq(s, (Store *) 0x1, "ret written on failure");
        cr_assert_not_null(err);
        cr_assert_not_null(strstr(err, db_path), "error must name the file: %s", err);
        cr_assert_not_null(strstr(err, needle), "error \"%s\" lacks \"%s\"", err, needle);
        cr_assert_null(strchr(err, '\n'), "error must be one line: %s", err);
        after = read_all(db_path, &n_after);
        cr_assert_eq(n_after, n_before, "file size changed");
        cr_assert_eq(memcmp(before, after, n_before), 0, "file bytes changed");
        cr_assert_eq(stat(db_path, &st_after), 0);
        cr_assert_eq(st_after.st_mode, st_before.st_mode, "mode of a refused file changed");
}

static StoreTenant make_tenant(const char *name, unsigned quota) {
        StoreTenant t = { .name = (char *) name, .quota = quota };
        cr_assert_eq(token_generate(&t.token), 0);
        return t;
}

static StoreLease lease(const char *id, const char *vf, const char *tenant) {
        StoreLease l = {
                .id = (char *) id,
                .tenant = (char *) tenant,
                .uid = 1000,
                .pid = 4242,
                .pid_start_time = 123456789012345ull,
        };

        snprintf(l.vf, sizeof l.vf, "%s", vf);
        snprintf(l.pf, sizeof l.pf, "%s", "0000:01:00.0");
        return l;
}

#define ID1 "00000000000000000000000000000001"
#define ID2 "00000000000000000000000000000002"
#define ID3 "00000000000000000000000000000003"

/* ---- opening ---- */

Test(store, create_schema_mode_wal) {
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *jm = NULL;
        struct stat st;
        sqlite3 *db;
        mode_t old = umask(0);

        s = open_ok();
        umask(old);
        cr_assert_eq(stat(db_path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0600, "mode is %o", st.st_mode & 07777);

        db = raw_open();
        cr_assert_eq(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        jm = raw_text(db, "PRAGMA journal_mode");
        cr_assert_str_eq(jm, "wal");
        cr_assert_eq(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                                 "('tenants', 'tenant_uids', 'tenant_gids', 'pfs', 'leases')"), 5);
        sqlite3_close(db);

        /* WAL side files are private too. */
        char wal[PATH_MAX + 8];
        snprintf(wal, sizeof wal, "%s-wal", db_path);
        if (stat(wal, &st) == 0)
                cr_assert_eq(st.st_mode & 077, 0, "WAL file mode is %o", st.st_mode & 07777);
}

Test(store, reopen_fixes_broad_mode) {
        struct stat st;

        store_free(open_ok());
        cr_assert_eq(chmod(db_path, 0644), 0);
        store_free(open_ok());
        cr_assert_eq(stat(db_path, &st), 0);
        cr_assert_eq(st.st_mode & 07777, 0600);
}

/* Issue: a zero-length state.db was taken for a new one: every tenant was
 * lost and dedicated PFs got new tokens without a word. */
Test(store, empty_existing_file_is_refused_untouched) {
        write_all(db_path, "", 0);
        cr_assert_eq(chmod(db_path, 0640), 0);
        expect_refused_unchanged(-EBADMSG, "is empty (0 bytes)");
}

Test(store, sqlite_database_without_tables_is_refused_untouched) {
        sqlite3 *db;

        cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
        raw_exec(db, "PRAGMA page_size=4096; VACUUM;");
        sqlite3_close(db);
        expect_refused_unchanged(-EBADMSG, "not a vfbroker state database (it has no tables)");
}

Test(store, a_new_database_appears_complete_or_not_at_all) {
        char tmp_glob[PATH_MAX + 16];
        DIR *d;
        struct dirent *e;

        store_free(open_ok());
        snprintf(tmp_glob, sizeof tmp_glob, "%s", db_path);
        d = opendir(tmpdir);
        cr_assert_not_null(d);
        while ((e = readdir(d)))
                cr_assert_null(strstr(e->d_name, ".new-"), "a temporary file was left behind: %s", e->d_name);
        closedir(d);
}

Test(store, refuses_symlink_and_missing_parent) {
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        char target[PATH_MAX + 16], missing[PATH_MAX + 16];
        Store *s = NULL;

        snprintf(target, sizeof target, "%s/target.db", tmpdir);
        cr_assert_eq(symlink(target, db_path), 0);
        cr_assert_eq(store_open(db_path, &s, &err), -ELOOP);
        cr_assert_null(s);
        cr_assert_not_null(strstr(err, db_path));
        cr_assert_eq(access(target, F_OK), -1, "must not create the symlink target");

        snprintf(missing, sizeof missing, "%s/nodir/state.db", tmpdir);
        cr_assert_eq(store_open(missing, &s, &err2), -ENOENT);
        cr_assert_not_null(strstr(err2, missing));
}

Test(store, refuses_newer_schema_untouched) {
        char version[64];
        sqlite3 *db;

        store_free(open_ok());
        db = raw_open();
        snprintf(version, sizeof version, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION + 1);
        raw_exec(db, version);
        sqlite3_close(db);

        expect_refused_unchanged(-EPROTONOSUPPORT, "newer vfbroker; refusing to touch it");
        {
                _cleanup_free_ char *err = NULL;
                Store *s = NULL;
                cr_assert_eq(store_open(db_path, &s, &err), -EPROTONOSUPPORT);
                cr_assert_not_null(strstr(err, "version 2"), "%s", err);
                cr_assert_not_null(strstr(err, "version 1"), "%s", err);
        }
}

Test(store, refuses_garbage_untouched) {
        char buf[8192];

        for (size_t i = 0; i < sizeof buf; i++)
                buf[i] = (char) ('a' + i % 26);
        write_all(db_path, buf, sizeof buf);
        cr_assert_eq(chmod(db_path, 0644), 0);
        expect_refused_unchanged(-EBADMSG, "not an SQLite database");

        write_all(db_path, "hello\n", 6);
        expect_refused_unchanged(-EBADMSG, "not an SQLite database");
}

Test(store, refuses_foreign_sqlite_untouched) {
        sqlite3 *db;

        cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
        raw_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
        sqlite3_close(db);
        expect_refused_unchanged(-EBADMSG, "not a vfbroker state database");
}

static void fill(Store *s, unsigned n) {
        char name[32];

        for (unsigned i = 0; i < n; i++) {
                StoreTenant t = make_tenant(name, 1);
                uid_t uids[16];
                for (unsigned k = 0; k < 16; k++)
                        uids[k] = 1000 + k;
                snprintf(name, sizeof name, "tenant-%05u", i);
                t.uids = uids;
                t.n_uids = 16;
                cr_assert_eq(store_tenant_add(s, &t), 0);
        }
}

static void make_big_db(void) {
        Store *s = open_ok();
        sqlite3 *db;

        fill(s, 300);
        store_free(s);
        /* Fold the WAL into the main file so damage to it is damage to the data. */
        db = raw_open();
        raw_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
        raw_exec(db, "PRAGMA journal_mode=DELETE");
        sqlite3_close(db);
}

Test(store, refuses_truncated) {
        struct stat st;

        make_big_db();
        cr_assert_eq(stat(db_path, &st), 0);
        cr_assert_gt(st.st_size, 16 * 4096, "need a multi-page database, got %lld bytes", (long long) st.st_size);
        cr_assert_eq(truncate(db_path, st.st_size / 2), 0);
        expect_refused_unchanged(-EBADMSG, "restore it from a backup");
}

Test(store, refuses_corrupted) {
        _cleanup_free_ char *data = NULL;
        size_t n;

        make_big_db();
        data = read_all(db_path, &n);
        /* Scribble over every page but the first (the header stays valid). */
        for (size_t i = 4096; i < n; i += 4096)
                memset(data + i + 16, 0xa5, 512);
        write_all(db_path, data, n);
        expect_refused_unchanged(-EBADMSG, "fails the integrity check");
}

/* ---- tenants ---- */

Test(store, tenant_crud) {
        _cleanup_(store_freep) Store *s = open_ok();
        StoreTenant a = make_tenant("acme", 2), b = make_tenant("beta", 1), *got = NULL, **l = NULL;
        uid_t uids[] = { 1000, 0, 1000 };
        gid_t gids[] = { 2000 };
        size_t n;
        Token t2;

        a.uids = uids;
        a.n_uids = 3;
        a.gids = gids;
        a.n_gids = 1;
        a.from_config = true;
        cr_assert_eq(store_tenant_add(s, &b), 0);
        cr_assert_eq(store_tenant_add(s, &a), 0);
        cr_assert_eq(store_tenant_add(s, &a), -EEXIST);

        cr_assert_eq(store_tenant_get(s, "acme", &got), 0);
        cr_assert_str_eq(got->name, "acme");
        cr_assert_eq(memcmp(got->token.bytes, a.token.bytes, TOKEN_SIZE), 0);
        cr_assert_eq(got->quota, 2);
        cr_assert_eq(got->from_config, true);
        cr_assert_eq(got->n_uids, 2, "duplicate uids are folded");
        cr_assert_eq(got->uids[0], 0);
        cr_assert_eq(got->uids[1], 1000);
        cr_assert_eq(got->n_gids, 1);
        cr_assert_eq(got->gids[0], 2000);
        cr_assert_gt(got->created_usec, 1600000000ull * 1000000ull);
        got = store_tenant_free(got);

        cr_assert_eq(store_tenant_list(s, &l, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(l[0]->name, "acme");
        cr_assert_str_eq(l[1]->name, "beta");
        cr_assert_eq(l[1]->n_uids, 0);
        store_tenant_list_free(l, n);

        /* Update rules: replaces the id lists. */
        a.quota = 7;
        a.from_config = false;
        a.n_uids = 0;
        a.gids = (gid_t[]) { 3000, 3001 };
        a.n_gids = 2;
        cr_assert_eq(store_tenant_update_rules(s, &a), 0);
        cr_assert_eq(store_tenant_get(s, "acme", &got), 0);
        cr_assert_eq(got->quota, 7);
        cr_assert_eq(got->from_config, false);
        cr_assert_eq(got->n_uids, 0);
        cr_assert_eq(got->n_gids, 2);
        cr_assert_eq(got->gids[1], 3001);
        got = store_tenant_free(got);

        cr_assert_eq(token_generate(&t2), 0);
        cr_assert_eq(store_tenant_set_token(s, "acme", &t2), 0);
        cr_assert_eq(store_tenant_get(s, "acme", &got), 0);
        cr_assert_eq(memcmp(got->token.bytes, t2.bytes, TOKEN_SIZE), 0);
        got = store_tenant_free(got);

        /* -ENOENT paths, and nothing written on failure. */
        StoreTenant ghost = make_tenant("ghost", 1);
        cr_assert_eq(store_tenant_update_rules(s, &ghost), -ENOENT);
        cr_assert_eq(store_tenant_set_token(s, "ghost", &t2), -ENOENT);
        cr_assert_eq(store_tenant_remove(s, "ghost"), -ENOENT);
        got = (StoreTenant *) 0x1;
        cr_assert_eq(store_tenant_get(s, "ghost", &got), -ENOENT);
        cr_assert_eq(got, (StoreTenant *) 0x1);

        /* Remove cascades to the id tables. */
        cr_assert_eq(store_tenant_remove(s, "acme"), 0);
        cr_assert_eq(store_tenant_get(s, "acme", &got), -ENOENT);
        sqlite3 *db = raw_open();
        cr_assert_eq(raw_int(db, "SELECT count(*) FROM tenant_gids"), 0);
        cr_assert_eq(raw_int(db, "SELECT count(*) FROM tenants"), 1);
        sqlite3_close(db);

        cr_assert_null(store_tenant_free(NULL));
        store_tenant_list_free(NULL, 0);
}

Test(store, tenant_invalid_input) {
        _cleanup_(store_freep) Store *s = open_ok();
        StoreTenant t = make_tenant("..", 1);
        Token null = { .bytes = { 0 } };

        cr_assert_eq(store_tenant_add(s, &t), -EINVAL);
        t.name = (char *) "-x";
        cr_assert_eq(store_tenant_add(s, &t), -EINVAL);
        t.name = (char *) "ok";
        t.quota = 0;
        cr_assert_eq(store_tenant_add(s, &t), -EINVAL);
        t.quota = 1;
        t.token = null;
        cr_assert_eq(store_tenant_add(s, &t), -EINVAL, "a null token is never stored");
        cr_assert_eq(token_generate(&t.token), 0);
        t.n_uids = 1025;
        t.uids = calloc(1025, sizeof(uid_t));
        cr_assert_eq(store_tenant_add(s, &t), -E2BIG);
        free(t.uids);
        t.uids = NULL;
        t.n_uids = 0;
        cr_assert_eq(store_tenant_add(s, &t), 0);
        cr_assert_eq(store_tenant_set_token(s, "ok", &null), -EINVAL);
}

Test(store, tokens_and_leases_survive_reopen) {
        StoreTenant a = make_tenant("acme", 4), *got = NULL;
        StoreLease l1 = lease(ID1, "0000:01:00.1", "acme"), *ls = NULL;
        StorePf pf = { .address = "0000:01:00.0", .mode = (char *) "pool" }, *gpf = NULL;
        size_t n;
        Store *s;

        cr_assert_eq(token_generate(&pf.pool_token), 0);
        s = open_ok();
        cr_assert_eq(store_tenant_add(s, &a), 0);
        cr_assert_eq(store_pf_put(s, &pf), 0);
        cr_assert_eq(store_lease_add(s, &l1), 0);
        store_free(s);

        s = open_ok();
        cr_assert_eq(store_tenant_get(s, "acme", &got), 0);
        cr_assert_eq(memcmp(got->token.bytes, a.token.bytes, TOKEN_SIZE), 0, "token changed over a reopen");
        store_tenant_free(got);
        cr_assert_eq(store_pf_get(s, "01:00.0", &gpf), 0);
        cr_assert_eq(memcmp(gpf->pool_token.bytes, pf.pool_token.bytes, TOKEN_SIZE), 0);
        store_pf_free(gpf);
        cr_assert_eq(store_lease_list(s, &ls, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(ls[0].id, ID1);
        cr_assert_str_eq(ls[0].vf, "0000:01:00.1");
        cr_assert_str_eq(ls[0].pf, "0000:01:00.0");
        cr_assert_str_eq(ls[0].tenant, "acme");
        cr_assert_eq(ls[0].uid, 1000);
        cr_assert_eq(ls[0].pid, 4242);
        cr_assert_eq(ls[0].pid_start_time, 123456789012345ull);
        cr_assert_gt(ls[0].created_usec, 0);
        store_lease_list_free(ls, n);
        store_free(s);
}

/* ---- PFs ---- */

Test(store, pf_put_get_replace) {
        _cleanup_(store_freep) Store *s = open_ok();
        StorePf pool = { .address = "01:00.0", .mode = (char *) "pool" }, *got = NULL;
        StorePf ded = { .address = "0000:01:00.0", .mode = (char *) "dedicated", .tenant = (char *) "acme" };

        cr_assert_eq(store_pf_get(s, "0000:01:00.0", &got), -ENOENT);
        cr_assert_eq(store_pf_put(s, &pool), 0);
        cr_assert_eq(store_pf_get(s, "0000:01:00.0", &got), 0);
        cr_assert_str_eq(got->address, "0000:01:00.0");
        cr_assert_str_eq(got->mode, "pool");
        cr_assert_null(got->tenant);
        cr_assert(token_is_null(&got->pool_token));
        got = store_pf_free(got);

        cr_assert_eq(store_pf_put(s, &ded), 0, "put replaces");
        cr_assert_eq(store_pf_get(s, "01:00.0", &got), 0);
        cr_assert_str_eq(got->mode, "dedicated");
        cr_assert_str_eq(got->tenant, "acme");
        got = store_pf_free(got);

        StorePf bad = { .address = "0000:01:00.8", .mode = (char *) "pool" };
        cr_assert_eq(store_pf_put(s, &bad), -EINVAL);
        bad = (StorePf) { .address = "0000:01:00.1", .mode = (char *) "shared" };
        cr_assert_eq(store_pf_put(s, &bad), -EINVAL);
        bad = (StorePf) { .address = "0000:01:00.1", .mode = (char *) "dedicated" };
        cr_assert_eq(store_pf_put(s, &bad), -EINVAL, "dedicated needs a tenant");
        bad = (StorePf) { .address = "0000:01:00.1", .mode = (char *) "pool", .tenant = (char *) "acme" };
        cr_assert_eq(store_pf_put(s, &bad), -EINVAL, "pool takes no tenant");
        cr_assert_eq(store_pf_get(s, "garbage", &got), -EINVAL);
        cr_assert_null(store_pf_free(NULL));
}

/* ---- leases ---- */

Test(store, lease_crud_and_conflicts) {
        _cleanup_(store_freep) Store *s = open_ok();
        StoreTenant a = make_tenant("acme", 4), b = make_tenant("beta", 4);
        StoreLease l1 = lease(ID1, "0000:01:00.1", "acme");
        StoreLease l2 = lease(ID2, "01:00.2", "acme");
        StoreLease *ls = NULL;
        size_t n;

        cr_assert_eq(store_tenant_add(s, &a), 0);
        cr_assert_eq(store_tenant_add(s, &b), 0);

        cr_assert_eq(store_lease_add(s, &l1), 0);
        cr_assert_eq(store_lease_add(s, &l2), 0);

        /* Same id, same VF (in another spelling), unknown tenant. */
        StoreLease dup_id = lease(ID1, "0000:01:00.3", "beta");
        StoreLease dup_vf = lease(ID3, "01:00.1", "beta");
        StoreLease no_tenant = lease(ID3, "0000:01:00.4", "nobody-here");
        cr_assert_eq(store_lease_add(s, &dup_id), -EEXIST);
        cr_assert_eq(store_lease_add(s, &dup_vf), -EEXIST);
        cr_assert_eq(store_lease_add(s, &no_tenant), -ENOENT);
        StoreLease bad_id = lease("XYZ", "0000:01:00.4", "beta");
        cr_assert_eq(store_lease_add(s, &bad_id), -EINVAL);

        cr_assert_eq(store_lease_list(s, &ls, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(ls[1].vf, "0000:01:00.2", "VF addresses are stored canonical");
        store_lease_list_free(ls, n);

        /* A tenant with leases cannot go away. */
        cr_assert_eq(store_tenant_remove(s, "acme"), -EBUSY);
        cr_assert_eq(store_lease_remove(s, ID1), 0);
        cr_assert_eq(store_lease_remove(s, ID1), -ENOENT);
        cr_assert_eq(store_lease_remove(s, "not-an-id"), -ENOENT);
        cr_assert_eq(store_tenant_remove(s, "acme"), -EBUSY);
        cr_assert_eq(store_lease_remove(s, ID2), 0);
        cr_assert_eq(store_tenant_remove(s, "acme"), 0);

        cr_assert_eq(store_lease_list(s, &ls, &n), 0);
        cr_assert_eq(n, 0);
        store_lease_list_free(ls, n);
}

/* ---- durability ---- */

static void copy_file(const char *from, const char *to) {
        _cleanup_free_ char *data = NULL;
        size_t n;

        if (access(from, F_OK) < 0) {
                (void) unlink(to);
                return;
        }
        data = read_all(from, &n);
        write_all(to, data, n);
}

/* Issue: one flipped byte in the WAL silently dropped three acknowledged
 * tenants. What a crash leaves on disk (the database and its WAL as they are
 * while the store is open), with a damaged WAL, must still hold every
 * acknowledged tenant and token. */
Test(store, acknowledged_tenant_and_token_survive_a_damaged_wal) {
        _cleanup_(store_freep) Store *s = open_ok();
        _cleanup_(store_freep) Store *c = NULL;
        StoreTenant a = make_tenant("acme", 4), b = make_tenant("beta", 1), *got = NULL;
        StoreLease l1 = lease(ID1, "0000:01:00.1", "acme");
        char snap[PATH_MAX + 16], wal[PATH_MAX + 16], snap_wal[PATH_MAX + 16];
        _cleanup_free_ char *err = NULL;
        Token t;

        cr_assert_eq(store_tenant_add(s, &a), 0);
        cr_assert_eq(store_tenant_add(s, &b), 0);
        cr_assert_eq(token_generate(&t), 0);
        cr_assert_eq(store_tenant_set_token(s, "acme", &t), 0);
        cr_assert_eq(store_lease_add(s, &l1), 0);

        snprintf(snap, sizeof snap, "%s.crash", db_path);
        snprintf(wal, sizeof wal, "%s-wal", db_path);
        snprintf(snap_wal, sizeof snap_wal, "%s.crash-wal", db_path);
        copy_file(db_path, snap);
        copy_file(wal, snap_wal);
        if (access(snap_wal, F_OK) == 0) {
                _cleanup_free_ char *w = NULL;
                size_t n;

                w = read_all(snap_wal, &n);
                /* The WAL header is 32 bytes, each frame header 24: damage the
                 * first frame's page, so every frame of the file is dropped. */
                if (n > 32 + 24 + 100) {
                        w[32 + 24 + 100] ^= 0x5a;
                        write_all(snap_wal, w, n);
                }
        }

        cr_assert_eq(store_open(snap, &c, &err), 0, "%s", strna(err));
        cr_assert_eq(store_tenant_get(c, "acme", &got), 0, "an acknowledged tenant vanished with the WAL");
        cr_assert_eq(memcmp(&got->token, &t, sizeof t), 0, "an acknowledged token change vanished with the WAL");
        store_tenant_free(got);
        got = NULL;
        cr_assert_eq(store_tenant_get(c, "beta", &got), 0);
        store_tenant_free(got);
}

Test(store, the_wal_stays_bounded) {
        _cleanup_(store_freep) Store *s = open_ok();
        char wal[PATH_MAX + 16];
        struct stat st;

        /* Leases are not checkpointed one by one; autocheckpoint and the size limit bound them. */
        StoreTenant a = make_tenant("acme", 4000);
        cr_assert_eq(store_tenant_add(s, &a), 0);
        for (unsigned i = 0; i < 3000; i++) {
                char id[LEASE_ID_LENGTH + 1], vf[PCI_ADDRESS_MAX];
                StoreLease l;

                snprintf(id, sizeof id, "%032x", i + 1);
                snprintf(vf, sizeof vf, "0000:%02x:%02x.%u", 1 + i / 256, (i / 8) % 32, i % 8);
                l = lease(id, vf, "acme");
                cr_assert_eq(store_lease_add(s, &l), 0);
                cr_assert_eq(store_lease_remove(s, id), 0);
        }
        snprintf(wal, sizeof wal, "%s-wal", db_path);
        cr_assert_eq(stat(wal, &st), 0);
        cr_assert_leq(st.st_size, 2 * 1024 * 1024, "the WAL grew to %lld bytes", (long long) st.st_size);
}

/* Issue: on a full disk start-up said only "disk I/O error". */
Test(store, a_full_file_system_is_named) {
        char dir[PATH_MAX], path[PATH_MAX + 16], cmd[PATH_MAX + 64];
        _cleanup_free_ char *err = NULL;
        Store *s = NULL;

        snprintf(dir, sizeof dir, "%s/full", tmpdir);
        cr_assert_eq(mkdir(dir, 0700), 0);
        if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") < 0)
                cr_skip_test("cannot mount a tmpfs here (%s): needs CAP_SYS_ADMIN", strerror(errno));
        snprintf(path, sizeof path, "%s/state.db", dir);
        cr_assert_eq(store_open(path, &s, &err), 0, "%s", strna(err));
        s = store_free(s);
        snprintf(cmd, sizeof cmd, "dd if=/dev/zero of=%s/fill bs=4k 2>/dev/null", dir);
        (void) system(cmd);
        /* An existing store on a full disk, and a new one. */
        int r = store_open(path, &s, &err);
        if (r >= 0)
                s = store_free(s);
        char path2[PATH_MAX + 16];
        _cleanup_free_ char *err2 = NULL;
        snprintf(path2, sizeof path2, "%s/other.db", dir);
        int r2 = store_open(path2, &s, &err2);
        (void) umount2(dir, MNT_DETACH);
        cr_assert_lt(r, 0, "the store opened on a full disk");
        cr_assert_not_null(strstr(strempty(err), "has no space left"), "the error does not say the disk is full: %s", strna(err));
        cr_assert_lt(r2, 0);
        cr_assert_not_null(strstr(strempty(err2), "has no space left"), "the error does not say the disk is full: %s", strna(err2));
}

/* ---- concurrency ---- */

static uint64_t now_msec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Forks a child that holds a write transaction for hold_msec, then commits one
 * tenant "child". Returns once the child holds the lock. */
static pid_t fork_writer(unsigned hold_msec) {
        int p[2];
        pid_t pid;
        char c;

        cr_assert_eq(pipe(p), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                sqlite3 *db = NULL;
                int ok = 1;

                close(p[0]);
                ok &= sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK;
                ok &= sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO tenants VALUES "
                                       "('child', zeroblob(16), 1, 0, 0);", NULL, NULL, NULL) == SQLITE_OK;
                (void) write(p[1], ok ? "y" : "n", 1);
                usleep(hold_msec * 1000);
                ok &= sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
                sqlite3_close(db);
                _exit(ok ? 0 : 1);
        }
        close(p[1]);
        cr_assert_eq(read(p[0], &c, 1), 1);
        cr_assert_eq(c, 'y', "child could not start its transaction");
        close(p[0]);
        return pid;
}

static void wait_ok(pid_t pid) {
        int status;

        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer child failed");
}

static void check_integrity(void) {
        _cleanup_free_ char *qc = NULL;
        sqlite3 *db = raw_open();

        qc = raw_text(db, "PRAGMA integrity_check");
        cr_assert_str_eq(qc, "ok");
        sqlite3_close(db);
}

Test(store, concurrent_writer_waits_for_lock) {
        _cleanup_(store_freep) Store *s = open_ok();
        StoreTenant a = make_tenant("acme", 1), *got = NULL;
        uint64_t t0;
        pid_t pid;

        pid = fork_writer(500);
        t0 = now_msec();
        cr_assert_eq(store_tenant_add(s, &a), 0, "busy_timeout must make the write wait, not fail");
        cr_assert_geq(now_msec() - t0, 300, "the write did not wait for the other transaction");
        wait_ok(pid);

        cr_assert_eq(store_tenant_get(s, "child", &got), 0);
        store_tenant_free(got);
        cr_assert_eq(store_tenant_get(s, "acme", &got), 0);
        store_tenant_free(got);
        check_integrity();
}

Test(store, concurrent_writer_times_out_with_ebusy) {
        _cleanup_(store_freep) Store *s = open_ok();
        StoreTenant a = make_tenant("acme", 1), *got = NULL;
        StoreTenant **l = NULL;
        size_t n;
        pid_t pid;

        /* Past the store's own 5 s busy timeout. */
        pid = fork_writer(STORE_BUSY_TIMEOUT_MSEC + 1500);
        cr_assert_eq(store_tenant_add(s, &a), -EBUSY);
        wait_ok(pid);

        /* Nothing half-written; the store is usable again and the file is sound. */
        cr_assert_eq(store_tenant_get(s, "acme", &got), -ENOENT);
        cr_assert_eq(store_tenant_add(s, &a), 0);
        cr_assert_eq(store_tenant_list(s, &l, &n), 0);
        cr_assert_eq(n, 2);
        store_tenant_list_free(l, n);
        check_integrity();
}

Test(store, two_stores_write_concurrently) {
        _cleanup_(store_freep) Store *s = open_ok();
        StoreTenant **l = NULL;
        size_t n;
        pid_t pid;

        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                Store *c = NULL;
                int ok = store_open(db_path, &c, NULL) == 0;
                char name[32];

                for (unsigned i = 0; ok && i < 200; i++) {
                        StoreTenant t = { .name = name, .quota = 1 };
                        snprintf(name, sizeof name, "child-%u", i);
                        ok = token_generate(&t.token) == 0 && store_tenant_add(c, &t) == 0;
                }
                store_free(c);
                _exit(ok ? 0 : 1);
        }
        for (unsigned i = 0; i < 200; i++) {
                char name[32];
                StoreTenant t = { .name = name, .quota = 1 };
                snprintf(name, sizeof name, "parent-%u", i);
                cr_assert_eq(token_generate(&t.token), 0);
                cr_assert_eq(store_tenant_add(s, &t), 0);
        }
        wait_ok(pid);

        cr_assert_eq(store_tenant_list(s, &l, &n), 0);
        cr_assert_eq(n, 400);
        store_tenant_list_free(l, n);
        check_integrity();
}
