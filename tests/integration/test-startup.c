/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Start-up and restart of the real vfbrokerd: refusing bad configuration and
 * bad stores with one clear line, --check-config, --help, and restarting with
 * leases in the store. */

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static Broker b;

static void teardown(void) {
        broker_cleanup(&b);
}

static int run(const char *cmd, char *out, size_t size) {
        FILE *p = popen(cmd, "r");
        size_t n;
        int status;

        cr_assert_not_null(p);
        n = fread(out, 1, size - 1, p);
        out[n] = 0;
        status = pclose(p);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(startup, help_and_version, .fini = teardown) {
        char cmd[512], out[8192];

        memset(&b, 0, sizeof b);
        snprintf(cmd, sizeof cmd, "%s --help", getenv("VFBROKERD"));
        cr_assert_eq(run(cmd, out, sizeof out), 0);
        for (const char *const *o = (const char *const[]) { "--check-config", "--listen", "--config",
                                                            "--state-dir", "--no-sandbox", NULL };
             *o; o++)
                cr_assert(strstr(out, *o) != NULL, "--help does not mention %s", *o);
        snprintf(cmd, sizeof cmd, "%s --version", getenv("VFBROKERD"));
        cr_assert_eq(run(cmd, out, sizeof out), 0);
        cr_assert(strncmp(out, "vfbrokerd ", 10) == 0);
        snprintf(cmd, sizeof cmd, "%s --bogus 2>&1", getenv("VFBROKERD"));
        cr_assert_eq(run(cmd, out, sizeof out), 2);
}

Test(startup, bad_config_refused_with_file_and_line, .fini = teardown, .timeout = 30) {
        const char *const check[] = { "--check-config", NULL };
        char *log, expect[512];

        broker_prepare(&b, "[Broker]\nSystemBus=no\n\n[Tenant]\nName=ok\nQuota=zero\n");
        cr_assert_eq(broker_run_expect_exit(&b, check), 1);
        broker_start_bus(&b);
        cr_assert_eq(broker_run_expect_exit(&b, NULL), 1);
        log = broker_log(&b);
        snprintf(expect, sizeof expect, "%s:6:", b.config_file);
        cr_assert(strstr(log, expect) != NULL, "the error does not name %s:\n%s", expect, log);
        free(log);
}

Test(startup, check_config_accepts_good_file, .fini = teardown, .timeout = 30) {
        const char *const check[] = { "--check-config", NULL };

        broker_prepare(&b, "[PhysicalFunction]\nAddress=0000:01:00.0\nNumVFs=2\n\n[Tenant]\nName=t\nUsers=root\n");
        cr_assert_eq(broker_run_expect_exit(&b, check), 0);
}

static void write_db(const char *path, const char *sql) {
        sqlite3 *db;

        cr_assert(sqlite3_open(path, &db) == SQLITE_OK);
        cr_assert(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
        sqlite3_close(db);
}

Test(startup, newer_store_refused_and_untouched, .fini = teardown, .timeout = 30) {
        char path[512], *log;
        struct stat before, after;

        broker_prepare(&b, "");
        broker_start_bus(&b);
        mkdir(b.state_dir, 0700);
        snprintf(path, sizeof path, "%s/state.db", b.state_dir);
        write_db(path, "CREATE TABLE future(x); PRAGMA user_version=99;");
        cr_assert(stat(path, &before) == 0);
        cr_assert_eq(broker_run_expect_exit(&b, NULL), 1);
        cr_assert(stat(path, &after) == 0);
        cr_assert_eq(before.st_size, after.st_size);
        cr_assert_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
        cr_assert_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
        log = broker_log(&b);
        cr_assert(strstr(log, "newer") != NULL, "the refusal does not say the store is newer:\n%s", log);
        free(log);
}

Test(startup, garbage_store_refused_and_untouched, .fini = teardown, .timeout = 30) {
        char path[512], *log;
        FILE *f;

        broker_prepare(&b, "");
        broker_start_bus(&b);
        mkdir(b.state_dir, 0700);
        snprintf(path, sizeof path, "%s/state.db", b.state_dir);
        f = fopen(path, "we");
        fputs("this is not a database, but it might hold tokens somebody needs\n", f);
        fclose(f);
        cr_assert_eq(broker_run_expect_exit(&b, NULL), 1);
        f = fopen(path, "re");
        char buf[128] = "";
        cr_assert_not_null(fgets(buf, sizeof buf, f));
        fclose(f);
        cr_assert(strncmp(buf, "this is not a database", 22) == 0, "the file was changed");
        log = broker_log(&b);
        cr_assert(strstr(log, "store") != NULL, "%s", log);
        free(log);
}

Test(startup, restart_drops_leases_of_pfs_that_are_not_ready_on_host_kernel, .fini = teardown, .timeout = 60) {
        char path[512], sql[1024], *log;
        sqlite3 *db;
        sqlite3_stmt *st;
        int count = -1;

        broker_prepare(&b, "[PhysicalFunction]\nAddress=0000:01:00.0\nNumVFs=4\n\n[Tenant]\nName=t\nUsers=root\nQuota=2\n");
        broker_start_bus(&b);
        broker_start(&b);
        broker_stop(&b);

        /* A lease the last run left behind, held by this very process. */
        snprintf(path, sizeof path, "%s/state.db", b.state_dir);
        snprintf(sql, sizeof sql,
                 "INSERT INTO leases(id, vf, pf, tenant, uid, pid, pid_start_time, created) "
                 "VALUES('0123456789abcdef0123456789abcdef', '0000:01:00.1', '0000:01:00.0', 't', 0, %d, 0, 1);",
                 (int) getpid());
        write_db(path, sql);

        broker_start(&b);
        cr_assert(sqlite3_open(path, &db) == SQLITE_OK);
        cr_assert(sqlite3_prepare_v2(db, "SELECT count(*) FROM leases", -1, &st, NULL) == SQLITE_OK);
        cr_assert(sqlite3_step(st) == SQLITE_ROW);
        count = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        cr_assert_eq(count, 0, "the lease of a VF that is not ready was kept");
        log = broker_log(&b);
        cr_assert(strstr(log, "0123456789abcdef0123456789abcdef") != NULL, "the dropped lease is not logged:\n%s", log);
        free(log);
}

Test(startup, systemd_directories_are_honoured, .fini = teardown, .timeout = 30) {
        char cmd[2048], out[4096], conf[600], confdir[512];
        FILE *f;


        broker_prepare(&b, "");
        snprintf(confdir, sizeof confdir, "%s/etc-vfbroker", b.dir);
        cr_assert(mkdir(confdir, 0755) == 0);
        snprintf(conf, sizeof conf, "%s/vfbroker.conf", confdir);
        f = fopen(conf, "we");
        fputs("[Tenant]\nName=from-configuration-directory\nQuota=nope\n", f);
        fclose(f);

        /* ConfigurationDirectory= sets $CONFIGURATION_DIRECTORY: the file there is the one read. */
        snprintf(cmd, sizeof cmd, "CONFIGURATION_DIRECTORY=%s %s --check-config 2>&1", confdir, getenv("VFBROKERD"));
        cr_assert_eq(run(cmd, out, sizeof out), 1);
        cr_assert(strstr(out, conf) && strstr(out, ":3:"), "the error does not name %s:3:\n%s", conf, out);

        /* An explicit --config wins. */
        snprintf(cmd, sizeof cmd, "CONFIGURATION_DIRECTORY=%s %s --check-config --config=%s 2>&1", confdir,
                 getenv("VFBROKERD"), b.config_file);
        cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
}
