/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Store: vfbrokerd's persistent state in one SQLite file (WAL, 0600, schema
 * version in user_version). Each public change is one IMMEDIATE transaction. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "names.h"
#include "protocol.h"
#include "store.h"
#include "time-util.h"

/* Caps on what one tenant row may carry; the config has the same limits. */

typedef enum Durability {
        /* fsync on every commit: tenants, tokens and PF tokens must survive power loss. */
        DURABILITY_FULL,
        /* WAL without fsync per commit: survives a daemon crash, which is what
         * leases need (a power loss kills the holders, too). */
        DURABILITY_NORMAL,
} Durability;

struct Store {
        sqlite3 *db;
        char *path;
        Durability txn;                 /* of the write transaction under way */
};


static void sqlite3_finalizep(sqlite3_stmt **st) {
        if (*st)
                (void) sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/* One place that turns SQLite result codes into errnos. */
static int errno_from_sqlite(sqlite3 *db, int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_CONSTRAINT:
                return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -ENOENT : -EEXIST;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_RANGE:
        case SQLITE_MISUSE:
        case SQLITE_MISMATCH:
                return -EINVAL;
        case SQLITE_CANTOPEN: {
                int e = db ? sqlite3_system_errno(db) : 0;
                return e > 0 ? -e : -ENOENT;
        }
        default:
                return -EIO;
        }
}

static int store_fail(Store *s, int rc, const char *what) {
        int r = errno_from_sqlite(s->db, rc);

        log_debug("Store %s: %s failed: %s", s->path, what, sqlite3_errmsg(s->db));
        return r;
}

static int prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, sql);
        return 0;
}

/* Runs one statement that returns no rows we need. */
static int exec(Store *s, const char *sql) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_fail(s, rc, sql);
        return 0;
}

static int step_done(Store *s, sqlite3_stmt *st) {
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, sqlite3_sql(st));
        return 0;
}

static int begin(Store *s, Durability d) {
        int r;

        /* SQLite refuses to change synchronous inside a transaction, so it is
         * set per write, before BEGIN. */
        r = exec(s, d == DURABILITY_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        if (r < 0)
                return r;
        s->txn = d;
        /* IMMEDIATE takes the write lock now, so a busy database fails here
         * (after busy_timeout) rather than half-way through. */
        return exec(s, "BEGIN IMMEDIATE");
}

static int commit(Store *s) {
        return exec(s, "COMMIT");
}

static void rollback(Store *s) {
        if (!sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Finishes a write transaction: commit on success, rollback on failure. A
 * durable change is also moved from the WAL into the main file before the
 * caller acknowledges it: WAL frames after a damaged one are dropped without a
 * word on recovery, and a tenant or token must never vanish that way. */
static int end(Store *s, int r) {
        if (r >= 0) {
                r = commit(s);
                if (r >= 0) {
                        if (s->txn == DURABILITY_FULL &&
                            sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
                                log_warning("Store %s: a durable change stays in the WAL for now (%s); it is written "
                                            "to the main file at the next checkpoint.", s->path, sqlite3_errmsg(s->db));
                        return 0;
                }
        }
        rollback(s);
        return r;
}

static const char schema_v1[] =
        "CREATE TABLE tenants ("
        "  name TEXT PRIMARY KEY NOT NULL,"
        "  token BLOB NOT NULL CHECK (length(token) = 16),"
        "  quota INTEGER NOT NULL,"
        "  from_config INTEGER NOT NULL,"
        "  created INTEGER NOT NULL"
        ");"
        "CREATE TABLE tenant_uids ("
        "  tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,"
        "  uid INTEGER NOT NULL,"
        "  PRIMARY KEY (tenant, uid)"
        ");"
        "CREATE TABLE tenant_gids ("
        "  tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,"
        "  gid INTEGER NOT NULL,"
        "  PRIMARY KEY (tenant, gid)"
        ");"
        "CREATE TABLE pfs ("
        "  address TEXT PRIMARY KEY NOT NULL,"
        "  mode TEXT NOT NULL CHECK (mode IN ('pool', 'dedicated')),"
        "  tenant TEXT,"
        "  pool_token BLOB CHECK (pool_token IS NULL OR length(pool_token) = 16)"
        ");"
        "CREATE TABLE leases ("
        "  id TEXT PRIMARY KEY NOT NULL,"
        "  vf TEXT NOT NULL UNIQUE,"
        "  pf TEXT NOT NULL,"
        "  tenant TEXT NOT NULL REFERENCES tenants(name),"
        "  uid INTEGER NOT NULL,"
        "  pid INTEGER NOT NULL,"
        "  pid_start_time INTEGER NOT NULL,"
        "  created INTEGER NOT NULL"
        ");"
        "CREATE INDEX leases_tenant ON leases(tenant);"
        "PRAGMA user_version = 1;";

_Static_assert(STORE_SCHEMA_VERSION == 1, "schema_v1 sets user_version; add a migration with the bump");

static int set_error(char **ret_error, const char *format, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *format, ...) {
        va_list ap;

        if (!ret_error)
                return 0;
        va_start(ap, format);
        if (vasprintf(ret_error, format, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return 0;
}

static int query_int(Store *s, const char *sql, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = prepare(s, sql, &st);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_fail(s, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, sql);
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

/* Opens the file without following symlinks, creating it 0600 if missing.
 * Only an O_PATH fd is kept, and only for fstat: closing an ordinary fd would
 * drop SQLite's POSIX locks if this process had the file open already. */
static int fix_mode(int opath_fd, const char *path) {
        char proc[64];

        /* fchmod() does not take O_PATH fds; /proc/self/fd does. */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", opath_fd);
        if (chmod(proc, 0600) >= 0)
                return 0;
        if (errno != ENOENT)
                return -errno;
        return chmod(path, 0600) < 0 ? -errno : 0;
}

/* " (the file system holding PATH is full)" where that explains an I/O
 * error, else "". */
static const char *space_hint(const char *path, char buf[static PATH_MAX + 64]) {
        char dir[PATH_MAX];
        struct statvfs sv;
        char *slash;

        snprintf(dir, sizeof dir, "%s", path);
        slash = strrchr(dir, '/');
        if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
        if (statvfs(slash ? dir : ".", &sv) < 0 || (sv.f_bfree > 0 && sv.f_ffree > 0)) {
                buf[0] = '\0';
                return buf;
        }
        snprintf(buf, PATH_MAX + 64, " (the file system holding %s has no space left: free some)", slash ? dir : ".");
        return buf;
}

/* Makes a new state database under a temporary name and links it into place
 * only once its schema is complete, so the daemon never takes an existing
 * file (an empty one left by a truncation, say) for a new one. -EEXIST if
 * path appeared meanwhile. */
static int create_new_file(const char *path, char **ret_error) {
        char tmp[PATH_MAX], hint[PATH_MAX + 64];
        sqlite3 *db = NULL;
        int fd, rc, r = 0;

        if (snprintf(tmp, sizeof tmp, "%s.new-XXXXXX", path) >= (int) sizeof tmp)
                return -ENAMETOOLONG;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                set_error(ret_error, "%s: cannot create state database: %s%s; check that the directory exists and is writable",
                          path, strerror(-r), space_hint(path, hint));
                return r;
        }
        safe_close(fd);

        rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, schema_v1, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                r = errno_from_sqlite(db, rc);
                set_error(ret_error, "%s: cannot create the schema: %s%s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
                          space_hint(path, hint));
        }
        /* Closing the last connection checkpoints and removes the WAL. */
        if (db && sqlite3_close(db) != SQLITE_OK && r >= 0) {
                r = -EIO;
                set_error(ret_error, "%s: cannot finish the new database%s", path, space_hint(path, hint));
        }
        if (r >= 0 && link(tmp, path) < 0) {
                r = -errno;
                if (r != -EEXIST)
                        set_error(ret_error, "%s: cannot put the new database in place: %s%s", path, strerror(-r),
                                  space_hint(path, hint));
        }
        (void) unlink(tmp);
        return r;
}

static int open_file(const char *path, int *ret_fd, char **ret_error) {
        for (unsigned attempt = 0; attempt < 8; attempt++) {
                int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0) {
                        *ret_fd = fd;
                        return 0;
                }
                if (errno != ENOENT) {
                        int r = -errno;
                        set_error(ret_error, "%s: cannot open state database: %s", path, strerror(-r));
                        return r;
                }

                int r = create_new_file(path, ret_error);
                if (r < 0 && r != -EEXIST)
                        return r;
                /* Ours, complete, or somebody else's that appeared meanwhile: look again. */
        }
        set_error(ret_error, "%s: keeps appearing and disappearing; is another program racing with vfbrokerd?", path);
        return -EAGAIN;
}

int store_open(const char *path, Store **ret, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        Store *s = NULL;
        struct stat st;
        int64_t version, objects;
        int rc, r, flags;

        if (!path || !ret)
                return -EINVAL;

        r = open_file(path, &fd, ret_error);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                set_error(ret_error, "%s: cannot stat state database: %s", path, strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                set_error(ret_error, "%s: is not a regular file (a symlink or special file?); move it away", path);
                return S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL;
        }
        if (st.st_size == 0) {
                set_error(ret_error, "%s: is empty (0 bytes): it was truncated, and every tenant and token it held is lost; "
                          "restore it from a backup, or remove it to start afresh (tenants of vfbroker.conf come back "
                          "with new tokens)", path);
                return -EBADMSG;
        }

        s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->path = strdup(path);
        if (!s->path) {
                r = -ENOMEM;
                goto fail;
        }

        flags = SQLITE_OPEN_READWRITE;
#ifdef SQLITE_OPEN_NOFOLLOW
        flags |= SQLITE_OPEN_NOFOLLOW;
#endif
        rc = sqlite3_open_v2(path, &s->db, flags, NULL);
        if (rc != SQLITE_OK) {
                r = errno_from_sqlite(s->db, rc);
                set_error(ret_error, "%s: cannot open state database: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
                goto fail;
        }
        sqlite3_extended_result_codes(s->db, 1);
        sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MSEC);

        /* Reading only until the file has proven to be ours and current: a
         * newer or foreign database must stay byte for byte as it was. */
        r = query_int(s, "PRAGMA user_version", &version);
        if (r == -EBADMSG) {
                if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_NOTADB)
                        set_error(ret_error, "%s: is not an SQLite database (%s); move it away so vfbrokerd can start a new one, "
                                  "or restore it from a backup", path, sqlite3_errmsg(s->db));
                else
                        set_error(ret_error, "%s: is damaged (%s); move it away so vfbrokerd can start a new one, "
                                  "or restore it from a backup", path, sqlite3_errmsg(s->db));
                goto fail;
        }
        if (r < 0) {
                char hint[PATH_MAX + 64];

                set_error(ret_error, "%s: cannot read the schema version: %s%s", path, sqlite3_errmsg(s->db),
                          space_hint(path, hint));
                goto fail;
        }
        if (version > STORE_SCHEMA_VERSION) {
                r = -EPROTONOSUPPORT;
                set_error(ret_error, "%s: has schema version %lld but this vfbrokerd knows version %d: it was written by a "
                          "newer vfbroker; refusing to touch it. Run the newer vfbroker again, or move the file away",
                          path, (long long) version, STORE_SCHEMA_VERSION);
                goto fail;
        }
        if (version < 0) {
                r = -EBADMSG;
                set_error(ret_error, "%s: has an invalid schema version %lld; move it away or restore it from a backup",
                          path, (long long) version);
                goto fail;
        }

        {
                _cleanup_stmt_ sqlite3_stmt *q = NULL;

                /* One finding is enough to refuse; the message stays one line. */
                r = prepare(s, "PRAGMA quick_check(1)", &q);
                if (r >= 0) {
                        rc = sqlite3_step(q);
                        if (rc != SQLITE_ROW)
                                r = errno_from_sqlite(s->db, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc);
                        else if (strcmp(strempty((const char *) sqlite3_column_text(q, 0)), "ok") != 0) {
                                char finding[256];

                                snprintf(finding, sizeof finding, "%s", strempty((const char *) sqlite3_column_text(q, 0)));
                                for (char *c = finding; *c; c++)
                                        if (*c == '\n')
                                                *c = ' ';
                                r = -EBADMSG;
                                set_error(ret_error, "%s: fails the integrity check (%s); move it away or restore it from a backup",
                                          path, finding);
                                goto fail;
                        }
                }
                if (r < 0) {
                        if (r == -EBADMSG)
                                set_error(ret_error, "%s: is damaged (%s); move it away or restore it from a backup",
                                          path, sqlite3_errmsg(s->db));
                        else
                                set_error(ret_error, "%s: integrity check failed: %s", path, sqlite3_errmsg(s->db));
                        goto fail;
                }
        }

        /* vfbrokerd writes the schema before a file gets this name: version 0
         * is somebody else's database. */
        if (version == 0) {
                r = query_int(s, "SELECT count(*) FROM sqlite_master", &objects);
                r = -EBADMSG;
                set_error(ret_error, "%s: is an SQLite database but not a vfbroker state database%s; move it away", path,
                          objects == 0 ? " (it has no tables)" : "");
                goto fail;
        }

        r = exec(s, "PRAGMA foreign_keys=ON");
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *q = NULL;

                r = prepare(s, "PRAGMA journal_mode=WAL", &q);
                if (r >= 0) {
                        rc = sqlite3_step(q);
                        if (rc != SQLITE_ROW)
                                r = store_fail(s, rc, "PRAGMA journal_mode=WAL");
                        else if (strcmp(strempty((const char *) sqlite3_column_text(q, 0)), "wal") != 0)
                                r = -EIO;
                }
        }
        /* The WAL stays small: durable changes are checkpointed at once, and
         * leases at least every 256 pages; a checkpoint truncates it to 1 MiB. */
        if (r >= 0)
                r = exec(s, "PRAGMA wal_autocheckpoint=256");
        if (r >= 0)
                r = exec(s, "PRAGMA journal_size_limit=1048576");
        if (r < 0) {
                char hint[PATH_MAX + 64];

                set_error(ret_error, "%s: cannot switch to WAL journal mode: %s%s", path, sqlite3_errmsg(s->db),
                          space_hint(path, hint));
                goto fail;
        }

        if ((st.st_mode & 07777) != 0600) {
                r = fix_mode(fd, path);
                if (r < 0) {
                        set_error(ret_error, "%s: cannot restrict its mode to 0600: %s", path, strerror(-r));
                        goto fail;
                }
        }

        *ret = s;
        return 0;

fail:
        store_free(s);
        return r;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;
        if (s->db)
                (void) sqlite3_close_v2(s->db);
        free(s->path);
        free(s);
        return NULL;
}

/* ---- tenants ---- */

static int check_tenant(const StoreTenant *t) {
        if (!t || !tenant_name_is_valid(t->name))
                return -EINVAL;
        if (t->quota < 1 || t->quota > TENANT_QUOTA_MAX)
                return -EINVAL;
        if (t->n_uids > TENANT_IDS_MAX || t->n_gids > TENANT_IDS_MAX)
                return -E2BIG;
        if ((t->n_uids > 0 && !t->uids) || (t->n_gids > 0 && !t->gids))
                return -EINVAL;
        if (token_is_null(&t->token))
                return -EINVAL;
        return 0;
}

static int insert_ids(Store *s, const char *sql, const char *name, const unsigned *ids, size_t n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (n == 0)
                return 0;
        r = prepare(s, sql, &st);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, (sqlite3_int64) ids[i]);
                r = step_done(s, st);
                if (r < 0)
                        return r;
                sqlite3_reset(st);
        }
        return 0;
}

static int write_tenant_ids(Store *s, const StoreTenant *t) {
        int r;

        /* OR IGNORE: a repeated id in the list is harmless, not a conflict. */
        r = insert_ids(s, "INSERT OR IGNORE INTO tenant_uids (tenant, uid) VALUES (?, ?)", t->name,
                       (const unsigned *) t->uids, t->n_uids);
        if (r < 0)
                return r;
        return insert_ids(s, "INSERT OR IGNORE INTO tenant_gids (tenant, gid) VALUES (?, ?)", t->name,
                          (const unsigned *) t->gids, t->n_gids);
}

int store_tenant_add(Store *s, const StoreTenant *t) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (!s)
                return -EINVAL;
        r = check_tenant(t);
        if (r < 0)
                return r;

        r = begin(s, DURABILITY_FULL);
        if (r < 0)
                return r;
        r = prepare(s, "INSERT INTO tenants (name, token, quota, from_config, created) VALUES (?, ?, ?, ?, ?)", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
                sqlite3_bind_blob(st, 2, t->token.bytes, TOKEN_SIZE, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, t->quota);
                sqlite3_bind_int(st, 4, t->from_config);
                sqlite3_bind_int64(st, 5, (sqlite3_int64) (t->created_usec ? t->created_usec : now_realtime_usec()));
                r = step_done(s, st);
        }
        if (r >= 0)
                r = write_tenant_ids(s, t);
        return end(s, r);
}

int store_tenant_update_rules(Store *s, const StoreTenant *t) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *du = NULL, *dg = NULL;
        int r;

        if (!s || !t || !tenant_name_is_valid(t->name) || t->quota < 1 || t->quota > TENANT_QUOTA_MAX ||
            (t->n_uids > 0 && !t->uids) || (t->n_gids > 0 && !t->gids))
                return -EINVAL;
        if (t->n_uids > TENANT_IDS_MAX || t->n_gids > TENANT_IDS_MAX)
                return -E2BIG;

        r = begin(s, DURABILITY_FULL);
        if (r < 0)
                return r;
        r = prepare(s, "UPDATE tenants SET quota = ?, from_config = ? WHERE name = ?", &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, t->quota);
                sqlite3_bind_int(st, 2, t->from_config);
                sqlite3_bind_text(st, 3, t->name, -1, SQLITE_STATIC);
                r = step_done(s, st);
        }
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        if (r >= 0)
                r = prepare(s, "DELETE FROM tenant_uids WHERE tenant = ?", &du);
        if (r >= 0) {
                sqlite3_bind_text(du, 1, t->name, -1, SQLITE_STATIC);
                r = step_done(s, du);
        }
        if (r >= 0)
                r = prepare(s, "DELETE FROM tenant_gids WHERE tenant = ?", &dg);
        if (r >= 0) {
                sqlite3_bind_text(dg, 1, t->name, -1, SQLITE_STATIC);
                r = step_done(s, dg);
        }
        if (r >= 0)
                r = write_tenant_ids(s, t);
        return end(s, r);
}

int store_tenant_set_token(Store *s, const char *name, const Token *t) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (!s || !tenant_name_is_valid(name) || !t || token_is_null(t))
                return -EINVAL;

        r = begin(s, DURABILITY_FULL);
        if (r < 0)
                return r;
        r = prepare(s, "UPDATE tenants SET token = ? WHERE name = ?", &st);
        if (r >= 0) {
                sqlite3_bind_blob(st, 1, t->bytes, TOKEN_SIZE, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
                r = step_done(s, st);
        }
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return end(s, r);
}

static int count_leases(Store *s, const char *tenant, int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc, r;

        r = prepare(s, "SELECT count(*) FROM leases WHERE tenant = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "counting leases");
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_tenant_remove(Store *s, const char *name) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t n = 0;
        int r;

        if (!s || !tenant_name_is_valid(name))
                return -EINVAL;

        r = begin(s, DURABILITY_FULL);
        if (r < 0)
                return r;
        /* Checked inside the transaction, so no lease can sneak in between. */
        r = count_leases(s, name, &n);
        if (r >= 0 && n > 0)
                r = -EBUSY;
        if (r >= 0)
                r = prepare(s, "DELETE FROM tenants WHERE name = ?", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
                r = step_done(s, st);
        }
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return end(s, r);
}

StoreTenant *store_tenant_free(StoreTenant *t) {
        if (!t)
                return NULL;
        free(t->name);
        free(t->uids);
        free(t->gids);
        free(t);
        return NULL;
}

void store_tenant_list_free(StoreTenant **l, size_t n) {
        if (!l)
                return;
        for (size_t i = 0; i < n; i++)
                store_tenant_free(l[i]);
        free(l);
}

static int read_ids(Store *s, const char *sql, const char *name, unsigned **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ unsigned *ids = NULL;
        size_t n = 0, allocated = 0;
        int rc, r;

        r = prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == allocated) {
                        size_t a = allocated ? allocated * 2 : 8;
                        unsigned *m = realloc(ids, a * sizeof(unsigned));
                        if (!m)
                                return -ENOMEM;
                        ids = m;
                        allocated = a;
                }
                ids[n++] = (unsigned) sqlite3_column_int64(st, 0);
        }
        if (rc != SQLITE_DONE)
                return store_fail(s, rc, sql);
        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}

/* Reads one tenant; the caller holds a transaction so the three reads agree. */
static int tenant_read(Store *s, const char *name, StoreTenant **ret) {
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        unsigned *ids = NULL;
        size_t n = 0;
        int rc, r;

        r = prepare(s, "SELECT token, quota, from_config, created FROM tenants WHERE name = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "reading tenant");

        t = calloc(1, sizeof(StoreTenant));
        if (!t)
                return -ENOMEM;
        t->name = strdup(name);
        if (!t->name)
                return -ENOMEM;
        if (sqlite3_column_bytes(st, 0) != TOKEN_SIZE)
                return -EBADMSG;
        memcpy(t->token.bytes, sqlite3_column_blob(st, 0), TOKEN_SIZE);
        t->quota = (unsigned) sqlite3_column_int64(st, 1);
        t->from_config = sqlite3_column_int(st, 2) != 0;
        t->created_usec = (uint64_t) sqlite3_column_int64(st, 3);

        r = read_ids(s, "SELECT uid FROM tenant_uids WHERE tenant = ? ORDER BY uid", name, &ids, &n);
        if (r < 0)
                return r;
        t->uids = (uid_t *) ids;
        t->n_uids = n;
        r = read_ids(s, "SELECT gid FROM tenant_gids WHERE tenant = ? ORDER BY gid", name, &ids, &n);
        if (r < 0)
                return r;
        t->gids = (gid_t *) ids;
        t->n_gids = n;

        *ret = TAKE_PTR(t);
        return 0;
}

/* Read transactions: a consistent snapshot across several SELECTs. */
static int begin_read(Store *s) {
        return exec(s, "BEGIN DEFERRED");
}

static int end_read(Store *s, int r) {
        if (r >= 0)
                return commit(s) < 0 ? (rollback(s), -EIO) : r;
        rollback(s);
        return r;
}

int store_tenant_get(Store *s, const char *name, StoreTenant **ret) {
        StoreTenant *t = NULL;
        int r;

        if (!s || !ret)
                return -EINVAL;
        if (!tenant_name_is_valid(name))
                return -ENOENT;

        r = begin_read(s);
        if (r < 0)
                return r;
        r = end_read(s, tenant_read(s, name, &t));
        if (r < 0) {
                store_tenant_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

int store_tenant_list(Store *s, StoreTenant ***ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        StoreTenant **l = NULL;
        size_t n = 0, allocated = 0;
        int rc, r;

        if (!s || !ret || !ret_n)
                return -EINVAL;

        r = begin_read(s);
        if (r < 0)
                return r;
        r = prepare(s, "SELECT name FROM tenants ORDER BY name", &st);
        while (r >= 0 && (rc = sqlite3_step(st)) != SQLITE_DONE) {
                StoreTenant *t = NULL;

                if (rc != SQLITE_ROW) {
                        r = store_fail(s, rc, "listing tenants");
                        break;
                }
                if (n == allocated) {
                        size_t a = allocated ? allocated * 2 : 16;
                        StoreTenant **m = realloc(l, a * sizeof(StoreTenant *));
                        if (!m) {
                                r = -ENOMEM;
                                break;
                        }
                        l = m;
                        allocated = a;
                }
                r = tenant_read(s, (const char *) sqlite3_column_text(st, 0), &t);
                if (r >= 0)
                        l[n++] = t;
        }
        sqlite3_finalize(TAKE_PTR(st));
        r = end_read(s, r);
        if (r < 0) {
                store_tenant_list_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

/* ---- PFs ---- */

int store_pf_put(Store *s, const StorePf *pf) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char address[PCI_ADDRESS_MAX];
        bool dedicated;
        int r;

        if (!s || !pf || !pf->mode || pci_address_normalize(pf->address, address) < 0)
                return -EINVAL;
        if (strcmp(pf->mode, "pool") == 0)
                dedicated = false;
        else if (strcmp(pf->mode, "dedicated") == 0)
                dedicated = true;
        else
                return -EINVAL;
        /* A tenant only makes sense for dedicated PFs, and there it is required. */
        if (dedicated != (pf->tenant != NULL) || (pf->tenant && !tenant_name_is_valid(pf->tenant)))
                return -EINVAL;

        r = begin(s, DURABILITY_FULL);
        if (r < 0)
                return r;
        r = prepare(s, "INSERT OR REPLACE INTO pfs (address, mode, tenant, pool_token) VALUES (?, ?, ?, ?)", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, pf->mode, -1, SQLITE_STATIC);
                if (pf->tenant)
                        sqlite3_bind_text(st, 3, pf->tenant, -1, SQLITE_STATIC);
                else
                        sqlite3_bind_null(st, 3);
                if (token_is_null(&pf->pool_token))
                        sqlite3_bind_null(st, 4);
                else
                        sqlite3_bind_blob(st, 4, pf->pool_token.bytes, TOKEN_SIZE, SQLITE_STATIC);
                r = step_done(s, st);
        }
        return end(s, r);
}

StorePf *store_pf_free(StorePf *pf) {
        if (!pf)
                return NULL;
        free(pf->mode);
        free(pf->tenant);
        free(pf);
        return NULL;
}

int store_pf_get(Store *s, const char *address, StorePf **ret) {
        _cleanup_(store_pf_freep) StorePf *pf = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char a[PCI_ADDRESS_MAX];
        int rc, r;

        if (!s || !ret)
                return -EINVAL;
        if (pci_address_normalize(address, a) < 0)
                return -EINVAL;

        r = prepare(s, "SELECT mode, tenant, pool_token FROM pfs WHERE address = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return store_fail(s, rc, "reading PF");

        pf = calloc(1, sizeof(StorePf));
        if (!pf)
                return -ENOMEM;
        memcpy(pf->address, a, sizeof a);
        pf->mode = strdup(strempty((const char *) sqlite3_column_text(st, 0)));
        if (!pf->mode)
                return -ENOMEM;
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
                pf->tenant = strdup((const char *) sqlite3_column_text(st, 1));
                if (!pf->tenant)
                        return -ENOMEM;
        }
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
                if (sqlite3_column_bytes(st, 2) != TOKEN_SIZE)
                        return -EBADMSG;
                memcpy(pf->pool_token.bytes, sqlite3_column_blob(st, 2), TOKEN_SIZE);
        }

        *ret = TAKE_PTR(pf);
        return 0;
}

/* ---- leases ---- */

int store_lease_add(Store *s, const StoreLease *l) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char vf[PCI_ADDRESS_MAX], pf[PCI_ADDRESS_MAX];
        int r;

        if (!s || !l || !lease_id_is_valid(l->id) || !tenant_name_is_valid(l->tenant) ||
            pci_address_normalize(l->vf, vf) < 0 || pci_address_normalize(l->pf, pf) < 0 || l->pid <= 0)
                return -EINVAL;

        r = begin(s, DURABILITY_NORMAL);
        if (r < 0)
                return r;
        r = prepare(s, "INSERT INTO leases (id, vf, pf, tenant, uid, pid, pid_start_time, created) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, l->id, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, vf, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, pf, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, l->tenant, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 5, (sqlite3_int64) l->uid);
                sqlite3_bind_int64(st, 6, (sqlite3_int64) l->pid);
                sqlite3_bind_int64(st, 7, (sqlite3_int64) l->pid_start_time);
                sqlite3_bind_int64(st, 8, (sqlite3_int64) (l->created_usec ? l->created_usec : now_realtime_usec()));
                /* Maps a taken id or VF to -EEXIST and an unknown tenant to -ENOENT. */
                r = step_done(s, st);
        }
        return end(s, r);
}

int store_lease_remove(Store *s, const char *id) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (!s)
                return -EINVAL;
        if (!lease_id_is_valid(id))
                return -ENOENT;

        r = begin(s, DURABILITY_NORMAL);
        if (r < 0)
                return r;
        r = prepare(s, "DELETE FROM leases WHERE id = ?", &st);
        if (r >= 0) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                r = step_done(s, st);
        }
        if (r >= 0 && sqlite3_changes(s->db) == 0)
                r = -ENOENT;
        return end(s, r);
}

void store_lease_list_free(StoreLease *l, size_t n) {
        if (!l)
                return;
        for (size_t i = 0; i < n; i++) {
                free(l[i].id);
                free(l[i].tenant);
        }
        free(l);
}

static int copy_address(const unsigned char *text, char out[static PCI_ADDRESS_MAX]) {
        return pci_address_normalize((const char *) text, out) < 0 ? -EBADMSG : 0;
}

int store_lease_list(Store *s, StoreLease **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        StoreLease *l = NULL;
        size_t n = 0, allocated = 0;
        int rc, r;

        if (!s || !ret || !ret_n)
                return -EINVAL;

        r = prepare(s, "SELECT id, vf, pf, tenant, uid, pid, pid_start_time, created FROM leases ORDER BY created, id", &st);
        while (r >= 0 && (rc = sqlite3_step(st)) != SQLITE_DONE) {
                StoreLease *e;

                if (rc != SQLITE_ROW) {
                        r = store_fail(s, rc, "listing leases");
                        break;
                }
                if (n == allocated) {
                        size_t a = allocated ? allocated * 2 : 16;
                        StoreLease *m = realloc(l, a * sizeof(StoreLease));
                        if (!m) {
                                r = -ENOMEM;
                                break;
                        }
                        l = m;
                        allocated = a;
                }
                e = &l[n];
                *e = (StoreLease) {
                        .uid = (uid_t) sqlite3_column_int64(st, 4),
                        .pid = (pid_t) sqlite3_column_int64(st, 5),
                        .pid_start_time = (uint64_t) sqlite3_column_int64(st, 6),
                        .created_usec = (uint64_t) sqlite3_column_int64(st, 7),
                };
                e->id = strdup(strempty((const char *) sqlite3_column_text(st, 0)));
                e->tenant = strdup(strempty((const char *) sqlite3_column_text(st, 3)));
                n++;
                if (!e->id || !e->tenant) {
                        r = -ENOMEM;
                        break;
                }
                r = copy_address(sqlite3_column_text(st, 1), e->vf);
                if (r >= 0)
                        r = copy_address(sqlite3_column_text(st, 2), e->pf);
        }
        if (r < 0) {
                store_lease_list_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

