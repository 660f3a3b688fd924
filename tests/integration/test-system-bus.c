/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SystemBus=yes: the broker on a private bus with the default policy of
 * dbus's system.conf and policy/org.vfbroker.Broker1.conf. Callers are told
 * apart per message by the credentials the bus reports, polkit is asked
 * about their unique names, and what they can keep waiting is bounded. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NOBODY 65534
#define NAME "org.vfbroker.Broker1"
#define PATH "/org/vfbroker/Broker1"

static const char config_text[] =
        "[Broker]\n"
        "SystemBus=yes\n"
        "MaxCallsPerConnection=2\n"
        "MaxConnectionsPerUser=2\n"
        "\n"
        "[PhysicalFunction]\n"
        "Address=0000:01:00.0\n"
        "NumVFs=4\n"
        "Mode=pool\n"
        "\n"
        "[Tenant]\n"
        "Name=shared\n"
        "Users=nobody\n"
        "Quota=2\n"
        "\n"
        "[Tenant]\n"
        "Name=private\n"
        "Users=root\n"
        "Quota=1\n";

static Broker b;

static void sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static void wait_for_name(void) {
        sd_bus *bus = broker_connect_system(&b);

        for (int i = 0; i < 500; i++) {
                sd_bus_message *reply = NULL;
                int has = 0;

                if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", NULL, &reply, "s", NAME) >= 0 &&
                    sd_bus_message_read(reply, "b", &has) >= 0 && has) {
                        sd_bus_message_unref(reply);
                        sd_bus_flush_close_unref(bus);
                        return;
                }
                sd_bus_message_unref(reply);
                sleep_ms(10);
        }
        sd_bus_flush_close_unref(bus);
        cr_assert_fail("vfbrokerd did not take %s on the bus:\n%s", NAME, broker_log(&b));
}

static void setup(void) {
        const char *policy = getenv("VFBROKER_DBUS_POLICY");

        cr_assert_not_null(policy, "VFBROKER_DBUS_POLICY is not set (meson sets it)");
        broker_prepare(&b, config_text);
        broker_start_strict_bus(&b, policy);
        broker_start_polkit(&b);
        broker_start(&b);
        wait_for_name();
}

static void teardown(void) {
        broker_cleanup(&b);
}

TestSuite(system_bus, .init = setup, .fini = teardown, .timeout = 60);

typedef struct BusResult {
        int ok;
        int r;
        char error_name[128];
        char error_message[512];
        char sender[64];              /* the caller's unique name */
        pid_t pid;                    /* the caller's pid */
        unsigned n_items;             /* entries of a list reply */
} BusResult;

static void become(uid_t uid) {
        if (uid != 0 && (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
                _exit(3);
}

static void call_in_child(uid_t uid, const char *method, const char *arg, BusResult *res) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        const char *unique = NULL;
        sd_bus *bus;
        int r;

        become(uid);
        bus = broker_connect_system(&b);
        (void) sd_bus_get_unique_name(bus, &unique);
        snprintf(res->sender, sizeof res->sender, "%s", unique ? unique : "");
        res->pid = getpid();
        if (sd_bus_message_new_method_call(bus, &m, NAME, PATH, "org.vfbroker.Broker1", method) < 0)
                _exit(4);
        if (arg && sd_bus_message_append(m, "sa{sv}", arg, 0) < 0)
                _exit(4);
        r = sd_bus_call(bus, m, 30 * 1000000ULL, &error, &reply);
        res->ok = r >= 0;
        res->r = r;
        if (r < 0) {
                snprintf(res->error_name, sizeof res->error_name, "%s", error.name ? error.name : "");
                snprintf(res->error_message, sizeof res->error_message, "%s", error.message ? error.message : "");
        } else if (!arg) {
                /* a List* reply: aa{sv} */
                if (sd_bus_message_enter_container(reply, 'a', "a{sv}") < 0)
                        _exit(5);
                while (sd_bus_message_skip(reply, "a{sv}") > 0)
                        res->n_items++;
        }
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus);
}

/* method with no argument (a listing) or with (arg, {}) as uid, in a child. */
static BusResult bus_call_as(uid_t uid, const char *method, const char *arg) {
        BusResult res = { 0 };
        int p[2];
        pid_t pid;

        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                call_in_child(uid, method, arg, &res);
                if (write(p[1], &res, sizeof res) != (ssize_t) sizeof res)
                        _exit(6);
                _exit(0);
        }
        close(p[1]);
        cr_assert(read(p[0], &res, sizeof res) == (ssize_t) sizeof res, "the uid %u child failed", (unsigned) uid);
        close(p[0]);
        waitpid(pid, NULL, 0);
        return res;
}

static char *read_file(const char *path) {
        char *text = NULL;
        size_t size = 0;
        FILE *in = fopen(path, "re"), *out = open_memstream(&text, &size);
        int c;

        while (in && (c = fgetc(in)) != EOF)
                fputc(c, out);
        if (in)
                fclose(in);
        fclose(out);
        return text;
}

#define assert_error(res, name)                                                             \
        do {                                                                                \
                cr_assert(!(res).ok, "call succeeded, expected %s", name);                  \
                cr_assert_str_eq((res).error_name, name, "got %s: %s", (res).error_name,    \
                                 (res).error_message);                                      \
        } while (0)

Test(system_bus, nobody_lists_pfs_through_the_policy) {
        BusResult r = bus_call_as(NOBODY, "ListPhysicalFunctions", NULL);

        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        cr_assert_eq(r.n_items, 1, "%u PFs listed", r.n_items);
}

Test(system_bus, identity_is_read_per_message) {
        BusResult r;

        /* One broker connection carries both: root skips polkit
         * (RootSkipsPolkit=yes), nobody is asked about and refused. */
        r = bus_call_as(0, "CreateTenant", "byroot");
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        r = bus_call_as(NOBODY, "CreateTenant", "bynobody");
        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        cr_assert(strstr(r.error_message, "polkit does not allow uid 65534") != NULL, "%s", r.error_message);
        r = bus_call_as(0, "CreateTenant", "byroot2");
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
}

Test(system_bus, non_member_refused_before_polkit) {
        BusResult r = bus_call_as(NOBODY, "AcquireVF", "private");
        char *log;

        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        cr_assert(strstr(r.error_message, "uid 65534 is not one of the users") != NULL, "%s", r.error_message);
        /* The audit record names the caller's own pid, from the bus. */
        char want[64];
        snprintf(want, sizeof want, "uid=65534 pid=%d", (int) r.pid);
        log = broker_log(&b);
        cr_assert(strstr(log, want) != NULL, "no '%s' in the log:\n%s", want, log);
        free(log);
}

Test(system_bus, polkit_is_asked_about_the_bus_name) {
        char path[512], want[128], *log;
        BusResult r = bus_call_as(NOBODY, "AcquireVF", "shared");

        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        cr_assert(strstr(r.error_message, "polkit does not allow uid 65534") != NULL, "%s", r.error_message);
        snprintf(path, sizeof path, "%s/polkit.log", b.dir);
        snprintf(want, sizeof want, "'%s'", r.sender);
        log = read_file(path);
        cr_assert(strstr(log, "CheckAuthorization") && strstr(log, "system-bus-name") && strstr(log, want),
                  "polkit was not asked about subject system-bus-name %s:\n%s", r.sender, log);
        free(log);
}

Test(system_bus, allowed_call_comes_back_from_polkit) {
        const char *const allowed[] = { "org.vfbroker.acquire-vf", NULL };
        BusResult r;

        polkit_set_allowed(&b, allowed);
        /* Past polkit, the call is dispatched again and reaches the
         * allocator: the host kernel has no VFIO, so no VF is free. */
        r = bus_call_as(NOBODY, "AcquireVF", "shared");
        assert_error(r, "org.vfbroker.Error.NoFreeVF");
}

Test(system_bus, only_root_may_own_the_name) {
        int p[2], r = 0;
        pid_t pid;

        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                sd_bus *bus;

                become(NOBODY);
                bus = broker_connect_system(&b);
                r = sd_bus_request_name(bus, NAME, SD_BUS_NAME_QUEUE);
                if (write(p[1], &r, sizeof r) != (ssize_t) sizeof r)
                        _exit(6);
                _exit(0);
        }
        close(p[1]);
        cr_assert(read(p[0], &r, sizeof r) == (ssize_t) sizeof r);
        close(p[0]);
        waitpid(pid, NULL, 0);
        cr_assert_eq(r, -EACCES, "uid 65534 asked for %s: %d (%s)", NAME, r, strerror(-r));
}

/* counts: LimitExceeded replies, (unused), all replies. */
static int on_flood_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        unsigned *counts = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (e && sd_bus_error_has_name(e, "org.vfbroker.Error.LimitExceeded"))
                counts[0]++;
        counts[2]++;
        return 0;
}

/* As nobody, opens n_conns bus connections and sends per_conn AcquireVF on
 * each without waiting; counts LimitExceeded replies and calls with no reply
 * after a second (waiting for the hanging polkit). */
static void flood(unsigned n_conns, unsigned per_conn, unsigned *ret_limited, unsigned *ret_pending) {
        unsigned counts[3] = { 0, 0, 0 };
        int p[2];
        pid_t pid;

        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                sd_bus *buses[8];

                if (n_conns > 8)
                        _exit(2);
                become(NOBODY);
                for (unsigned k = 0; k < n_conns; k++) {
                        buses[k] = broker_connect_system(&b);
                        for (unsigned i = 0; i < per_conn; i++) {
                                sd_bus_message *m = NULL;

                                if (sd_bus_message_new_method_call(buses[k], &m, NAME, PATH, "org.vfbroker.Broker1",
                                                                   "AcquireVF") < 0 ||
                                    sd_bus_message_append(m, "sa{sv}", "shared", 0) < 0 ||
                                    sd_bus_call_async(buses[k], NULL, m, on_flood_reply, counts, 0) < 0)
                                        _exit(4);
                                sd_bus_message_unref(m);
                        }
                }
                for (int t = 0; t < 50; t++) {
                        for (unsigned k = 0; k < n_conns; k++)
                                while (sd_bus_process(buses[k], NULL) > 0)
                                        ;
                        sleep_ms(20);
                }
                counts[1] = n_conns * per_conn - counts[2];
                if (write(p[1], counts, sizeof counts) != (ssize_t) sizeof counts)
                        _exit(5);
                _exit(0);
        }
        close(p[1]);
        cr_assert(read(p[0], counts, sizeof counts) == (ssize_t) sizeof counts, "the flooding child failed");
        close(p[0]);
        waitpid(pid, NULL, 0);
        *ret_limited = counts[0];
        *ret_pending = counts[1];
}

Test(system_bus, calls_waiting_for_polkit_are_bounded_per_connection) {
        unsigned limited, pending;

        polkit_simulate_hang(&b, true);
        flood(1, 5, &limited, &pending);
        /* MaxCallsPerConnection=2. */
        cr_assert_eq(pending, 2, "%u calls of one connection wait for polkit", pending);
        cr_assert_eq(limited, 3, "%u calls refused with LimitExceeded", limited);
}

Test(system_bus, calls_waiting_for_polkit_are_bounded_per_user) {
        unsigned limited, pending;

        polkit_simulate_hang(&b, true);
        /* Each connection stays within MaxCallsPerConnection=2, but uid
         * 65534 may have only 2 x MaxConnectionsPerUser=2 waiting in all,
         * however many connections it opens. */
        flood(4, 2, &limited, &pending);
        cr_assert_eq(pending, 4, "%u calls of uid 65534 wait for polkit", pending);
        cr_assert_eq(limited, 4, "%u calls refused with LimitExceeded", limited);
}

Test(system_bus, caller_gone_before_polkit_answers) {
        const char *const allowed[] = { "org.vfbroker.acquire-vf", NULL };
        unsigned limited, pending;
        BusResult r;
        char *log;

        polkit_simulate_hang(&b, true);
        /* The child and its connection are gone when polkit answers. */
        flood(1, 2, &limited, &pending);
        cr_assert_eq(pending, 2);
        polkit_set_allowed(&b, allowed);
        polkit_simulate_hang(&b, false);
        polkit_release_hanging(&b);
        /* Dispatched again, the calls find no sender to read credentials of. */
        for (int i = 0; i < 200; i++) {
                log = broker_log(&b);
                if (strstr(log, "Cannot read the credentials of"))
                        break;
                free(log);
                log = NULL;
                sleep_ms(10);
        }
        cr_assert_not_null(log, "the calls of the gone caller were not refused:\n%s", broker_log(&b));
        free(log);
        r = bus_call_as(NOBODY, "ListPhysicalFunctions", NULL);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
}

Test(system_bus, broker_stops_when_the_bus_goes_away) {
        int status = 0;
        char *log;

        kill(b.dbus_pid, SIGTERM);
        waitpid(b.dbus_pid, NULL, 0);
        b.dbus_pid = 0;
        for (int i = 0; i < 500; i++) {
                if (waitpid(b.broker_pid, &status, WNOHANG) == b.broker_pid)
                        break;
                sleep_ms(10);
                cr_assert_neq(i, 499, "vfbrokerd kept running without its bus");
        }
        b.broker_pid = 0;
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "vfbrokerd exited with status %d", status);
        log = broker_log(&b);
        cr_assert(strstr(log, "Lost the connection to the system bus"), "%s", log);
        free(log);
}

Test(system_bus, vfbrokerctl_system_lists_pfs) {
        const char *ctl = getenv("VFBROKERCTL");
        char cmd[1024], out[4096];
        size_t n;
        FILE *f;

        cr_assert_not_null(ctl, "VFBROKERCTL is not set (meson sets it)");
        snprintf(cmd, sizeof cmd, "DBUS_SYSTEM_BUS_ADDRESS='%s' setpriv --reuid=65534 --regid=65534 --clear-groups '%s' --system list-pfs 2>&1",
                 b.bus_address, ctl);
        f = popen(cmd, "r");
        cr_assert_not_null(f);
        n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        cr_assert_eq(pclose(f), 0, "vfbrokerctl --system list-pfs failed:\n%s", out);
        cr_assert(strstr(out, "0000:01:00.0") != NULL, "%s", out);
}

/* ---- start-up: SystemBus=yes is all or nothing ---------------------------------- */

static Broker sb;

static void teardown_start(void) {
        broker_cleanup(&sb);
}

Test(system_bus_start, refused_without_the_policy_file, .fini = teardown_start, .timeout = 30) {
        char empty[512], *log;
        FILE *f;
        int rc;

        broker_prepare(&sb, "[Broker]\nSystemBus=yes\n");
        snprintf(empty, sizeof empty, "%s/empty-policy.conf", sb.dir);
        f = fopen(empty, "we");
        cr_assert_not_null(f);
        fputs("<busconfig/>\n", f);
        fclose(f);
        /* system.conf's default policy alone: nobody may own the name. */
        broker_start_strict_bus(&sb, empty);
        rc = broker_run_expect_exit(&sb, NULL);
        log = broker_log(&sb);
        cr_assert_eq(rc, 1, "vfbrokerd exited with %d:\n%s", rc, log);
        cr_assert(strstr(log, "Cannot take the name org.vfbroker.Broker1") && strstr(log, "org.vfbroker.Broker1.conf"),
                  "%s", log);
        free(log);
}

Test(system_bus_start, refused_without_a_bus, .fini = teardown_start, .timeout = 30) {
        char *log;
        int rc;

        broker_prepare(&sb, "[Broker]\nSystemBus=yes\n");
        snprintf(sb.bus_address, sizeof sb.bus_address, "unix:path=%s/no-such-bus", sb.dir);
        rc = broker_run_expect_exit(&sb, NULL);
        log = broker_log(&sb);
        cr_assert_eq(rc, 1, "vfbrokerd exited with %d:\n%s", rc, log);
        cr_assert(strstr(log, "SystemBus=yes, but the system bus cannot be reached"), "%s", log);
        free(log);
}
