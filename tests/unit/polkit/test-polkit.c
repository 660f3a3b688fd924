/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for daemon/polkit.c against a private dbus-daemon and python-dbusmock's
 * polkitd template: answers, errors, reconnects, cancellation, the subject sent. */

#include <criterion/criterion.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "polkit.h"

#define DBUS_DAEMON "/usr/bin/dbus-daemon"
#define SYSTEM_PYTHON "/usr/bin/python3"
#define ACTION_ACQUIRE "org.vfbroker.acquire-vf"
#define ACTION_MANAGE "org.vfbroker.manage"

/* One private bus and one mock per test (criterion runs each test in its own
 * process, so these globals are per test). */
static char tmpdir[] = "/tmp/vfb-polkit-XXXXXX";
static char config_path[128], socket_path[128], address[160];
static pid_t daemon_pid = -1, mock_pid = -1;
static sd_event *event;

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static uint64_t now_usec(void) {
        struct timespec ts;

        cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static void stop_process(pid_t *pid, int sig) {
        if (*pid <= 0)
                return;
        (void) kill(*pid, sig);
        (void) waitpid(*pid, NULL, 0);
        *pid = -1;
}

static bool socket_accepts(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, r;

        if (strlen(path) >= sizeof sa.sun_path)
                return false;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        r = connect(fd, (struct sockaddr *) &sa, sizeof sa);
        close(fd);
        return r == 0;
}

static void start_bus(void) {
        cr_assert_eq(daemon_pid, -1);
        (void) unlink(socket_path);

        daemon_pid = fork();
        cr_assert_geq(daemon_pid, 0);
        if (daemon_pid == 0) {
                /* Dies with the test, even one that crashed or timed out. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO); /* "Failed to set fd limit" in containers */
                execl(DBUS_DAEMON, DBUS_DAEMON, "--nofork", "--nopidfile", "--nosyslog",
                      "--config-file", config_path, (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                if (socket_accepts(socket_path))
                        return;
                sleep_ms(20);
        }
        cr_assert_fail("dbus-daemon did not come up on %s", socket_path);
}

/* A synchronous connection of the test itself, to drive the mock. */
static sd_bus *test_bus(void) {
        sd_bus *bus = NULL;

        cr_assert_eq(sd_bus_new(&bus), 0);
        cr_assert_geq(sd_bus_set_address(bus, address), 0, "address %s", address);
        cr_assert_geq(sd_bus_set_bus_client(bus, 1), 0);
        cr_assert_geq(sd_bus_start(bus), 0);
        return bus;
}

static bool polkit_name_owned(void) {
        sd_bus *bus = test_bus();
        sd_bus_message *reply = NULL;
        int owned = 0, r;

        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "NameHasOwner", NULL, &reply, "s",
                               "org.freedesktop.PolicyKit1");
        if (r >= 0)
                (void) sd_bus_message_read(reply, "b", &owned);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return owned;
}

static void start_mock(void) {
        cr_assert_eq(mock_pid, -1);

        mock_pid = fork();
        cr_assert_geq(mock_pid, 0);
        if (mock_pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                dup2(null, STDOUT_FILENO); /* its call log; GetMethodCalls has it too */
                setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);
                execl(SYSTEM_PYTHON, SYSTEM_PYTHON, "-m", "dbusmock", "--template", "polkitd",
                      "--system", (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                if (polkit_name_owned())
                        return;
                sleep_ms(20);
        }
        cr_assert_fail("the dbusmock polkitd template did not take org.freedesktop.PolicyKit1");
}

static void mock_call(const char *method, const char *types, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus *bus = test_bus();
        va_list ap;
        int r;

        cr_assert_eq(sd_bus_message_new_method_call(bus, &m, "org.freedesktop.PolicyKit1",
                                                    "/org/freedesktop/PolicyKit1/Authority",
                                                    "org.freedesktop.DBus.Mock", method), 0);
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        cr_assert_geq(r, 0);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        cr_assert_geq(r, 0, "Mock.%s failed: %s", method, strna(error.message));
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus);
}

static void set_allowed(const char *action) {
        if (action)
                mock_call("SetAllowed", "as", 1, action);
        else
                mock_call("SetAllowed", "as", 0);
}

static void setup(void) {
        FILE *f;

        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(config_path, sizeof config_path, "%s/bus.conf", tmpdir);
        snprintf(socket_path, sizeof socket_path, "%s/bus", tmpdir);
        snprintf(address, sizeof address, "unix:path=%s", socket_path);

        /* No service directories: a missing polkitd stays missing
         * (ServiceUnknown), as on a host where it is not installed. */
        f = fopen(config_path, "we");
        cr_assert_not_null(f);
        fprintf(f,
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                "<busconfig>\n"
                "  <type>session</type>\n"
                "  <listen>unix:path=%s</listen>\n"
                "  <auth>EXTERNAL</auth>\n"
                "  <policy context=\"default\">\n"
                "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
                "    <allow eavesdrop=\"true\"/>\n"
                "    <allow own=\"*\"/>\n"
                "  </policy>\n"
                "</busconfig>\n", socket_path);
        cr_assert_eq(fclose(f), 0);

        cr_assert_eq(sd_event_new(&event), 0);
}

static void teardown(void) {
        event = sd_event_unref(event);
        stop_process(&mock_pid, SIGKILL);
        stop_process(&daemon_pid, SIGTERM);
        (void) unlink(socket_path);
        (void) unlink(config_path);
        (void) rmdir(tmpdir);
}

TestSuite(polkit, .init = setup, .fini = teardown, .timeout = 60);

typedef struct Answer {
        int calls;
        int result;
        char message[512];
} Answer;

static void on_answer(int result, const char *message, void *userdata) {
        Answer *a = userdata;

        a->calls++;
        a->result = result;
        snprintf(a->message, sizeof a->message, "%s", strempty(message));
}

/* Runs the loop until *calls is non-zero or seconds passed. */
static void run_until_answered_within(const int *calls, int seconds) {
        for (int i = 0; i < seconds * 100 && *calls == 0; i++)
                cr_assert_geq(sd_event_run(event, 10 * 1000), 0);
        cr_assert_neq(*calls, 0, "no polkit answer within %d s", seconds);
}

static void run_until_answered(const int *calls) {
        run_until_answered_within(calls, 15);
}

/* Runs the loop for a while, for "nothing must happen" checks. */
static void run_for_ms(int ms) {
        for (int i = 0; i < ms / 10; i++)
                cr_assert_geq(sd_event_run(event, 10 * 1000), 0);
}

static PolkitSubject self_subject(void) {
        PolkitSubject s = { .pid = getpid(), .uid = getuid() };

        cr_assert_eq(process_get_start_time(s.pid, &s.start_time), 0);
        return s;
}

static Answer check(Polkit *p, const char *action) {
        PolkitSubject s = self_subject();
        Answer a = {0};

        cr_assert_eq(polkit_check(p, action, &s, NULL, on_answer, &a, NULL), 0);
        cr_assert_eq(a.calls, 0, "the callback must not run inside polkit_check()");
        run_until_answered(&a.calls);
        cr_assert_eq(a.calls, 1);
        return a;
}

Test(polkit, allowed_and_denied) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        Answer a;

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        cr_assert_eq(polkit_new(event, address, &p), 0);

        a = check(p, ACTION_ACQUIRE);
        cr_assert_eq(a.result, 1, "acquire-vf: %d %s", a.result, a.message);
        a = check(p, ACTION_MANAGE);
        cr_assert_eq(a.result, 0, "manage: %d %s", a.result, a.message);
}

Test(polkit, set_allowed_changes_the_answer) {
        _cleanup_(polkit_freep) Polkit *p = NULL;

        start_bus();
        start_mock();
        cr_assert_eq(polkit_new(event, address, &p), 0);

        cr_assert_eq(check(p, ACTION_MANAGE).result, 0);
        set_allowed(ACTION_MANAGE);
        cr_assert_eq(check(p, ACTION_MANAGE).result, 1);
        set_allowed(NULL);
        cr_assert_eq(check(p, ACTION_MANAGE).result, 0);
}

Test(polkit, system_bus_from_environment) {
        _cleanup_(polkit_freep) Polkit *p = NULL;

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        cr_assert_eq(setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1), 0);
        cr_assert_eq(polkit_new(event, NULL, &p), 0);

        cr_assert_eq(check(p, ACTION_ACQUIRE).result, 1);
}

/* Reads one variant of the logged call and checks its type. */
static void enter_variant(sd_bus_message *m, const char *contents) {
        cr_assert_gt(sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents), 0,
                     "logged argument is not a %s", contents);
}

/* Asks the mock for the subject, allowed, then returns its call log with the
 * read position at the first argument's variant contents (the subject). */
static sd_bus_message *check_and_read_logged_subject(Polkit **p, const PolkitSubject *s, char **details,
                                                     sd_bus **ret_bus) {
        sd_bus_message *reply = NULL;
        uint64_t when;
        Answer a = {0};

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        cr_assert_eq(polkit_new(event, address, p), 0);
        cr_assert_eq(polkit_check(*p, ACTION_ACQUIRE, s, details, on_answer, &a, NULL), 0);
        run_until_answered(&a.calls);
        cr_assert_eq(a.result, 1);

        *ret_bus = test_bus();
        cr_assert_geq(sd_bus_call_method(*ret_bus, "org.freedesktop.PolicyKit1",
                                         "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.DBus.Mock", "GetMethodCalls", NULL, &reply,
                                         "s", "CheckAuthorization"), 0);
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(tav)"), 0);
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_STRUCT, "tav"), 0,
                     "the mock logged no CheckAuthorization call");
        cr_assert_gt(sd_bus_message_read(reply, "t", &when), 0);
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "v"), 0);
        enter_variant(reply, "(sa{sv})");
        return reply;
}

/* polkit 124+ takes a pidfd in the unix-process subject; the pid, start time
 * and uid still go out for older ones, which skip the key. */
Test(polkit, a_pidfd_goes_out_next_to_pid_and_start_time) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        sd_bus_message *reply = NULL;
        PolkitSubject s = self_subject();
        const char *kind, *key;
        unsigned keys = 0;
        bool have_pidfd = false;
        sd_bus *bus = NULL;

        s.pidfd = (int) syscall(SYS_pidfd_open, getpid(), 0);
        cr_assert_gt(s.pidfd, 0);
        reply = check_and_read_logged_subject(&p, &s, NULL, &bus);
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_STRUCT, "sa{sv}"), 0);
        cr_assert_gt(sd_bus_message_read(reply, "s", &kind), 0);
        cr_assert_str_eq(kind, "unix-process");
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "{sv}"), 0);
        while (sd_bus_message_enter_container(reply, SD_BUS_TYPE_DICT_ENTRY, "sv") > 0) {
                cr_assert_gt(sd_bus_message_read(reply, "s", &key), 0);
                keys++;
                if (strcmp(key, "pidfd") == 0) {
                        char path[64], line[128];
                        bool same = false;
                        FILE *f;
                        int fd;

                        /* The mock hands the fd it got back: it must be a pidfd of this process. */
                        cr_assert_gt(sd_bus_message_read(reply, "v", "h", &fd), 0);
                        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
                        f = fopen(path, "re");
                        cr_assert_not_null(f);
                        while (fgets(line, sizeof line, f))
                                if (strncmp(line, "Pid:", 4) == 0 && atoi(line + 4) == (int) getpid())
                                        same = true;
                        fclose(f);
                        cr_assert(same, "the pidfd polkit got is not one of this process");
                        have_pidfd = true;
                } else
                        cr_assert_geq(sd_bus_message_skip(reply, "v"), 0);
                cr_assert_geq(sd_bus_message_exit_container(reply), 0);
        }
        cr_assert(have_pidfd, "no pidfd in the subject");
        cr_assert_eq(keys, 4, "pid, start-time, uid and pidfd");
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        close(s.pidfd);
}

Test(polkit, subject_action_and_details_go_out) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        char *details[] = { (char *) "tenant", (char *) "blue", (char *) "pf", (char *) "0000:01:00.0", NULL };
        sd_bus_message *reply = NULL;
        PolkitSubject s = self_subject();
        bool have_pid = false, have_start = false, have_uid = false;
        bool have_tenant = false, have_pf = false;
        const char *kind, *key, *value, *action, *cancel_id;
        uint32_t flags;
        sd_bus *bus = NULL;

        /* No pidfd (self_subject leaves 0): the three keys every polkit takes. */
        reply = check_and_read_logged_subject(&p, &s, details, &bus);

        /* Argument 1: the subject. */
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_STRUCT, "sa{sv}"), 0);
        cr_assert_gt(sd_bus_message_read(reply, "s", &kind), 0);
        cr_assert_str_eq(kind, "unix-process");
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "{sv}"), 0);
        while (sd_bus_message_enter_container(reply, SD_BUS_TYPE_DICT_ENTRY, "sv") > 0) {
                cr_assert_gt(sd_bus_message_read(reply, "s", &key), 0);
                if (strcmp(key, "pid") == 0) {
                        uint32_t pid;
                        cr_assert_gt(sd_bus_message_read(reply, "v", "u", &pid), 0);
                        cr_assert_eq(pid, (uint32_t) s.pid);
                        have_pid = true;
                } else if (strcmp(key, "start-time") == 0) {
                        uint64_t start;
                        cr_assert_gt(sd_bus_message_read(reply, "v", "t", &start), 0);
                        cr_assert_eq(start, s.start_time);
                        have_start = true;
                } else if (strcmp(key, "uid") == 0) {
                        int32_t uid;
                        cr_assert_gt(sd_bus_message_read(reply, "v", "i", &uid), 0);
                        cr_assert_eq(uid, (int32_t) s.uid);
                        have_uid = true;
                } else
                        cr_assert_fail("unexpected subject key %s", key);
                cr_assert_geq(sd_bus_message_exit_container(reply), 0);
        }
        cr_assert(have_pid && have_start && have_uid);
        cr_assert_geq(sd_bus_message_exit_container(reply), 0); /* a{sv} */
        cr_assert_geq(sd_bus_message_exit_container(reply), 0); /* struct */
        cr_assert_geq(sd_bus_message_exit_container(reply), 0); /* variant */

        /* Argument 2: the action. */
        cr_assert_gt(sd_bus_message_read(reply, "v", "s", &action), 0);
        cr_assert_str_eq(action, ACTION_ACQUIRE);

        /* Argument 3: the details. */
        enter_variant(reply, "a{ss}");
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "{ss}"), 0);
        while (sd_bus_message_read(reply, "{ss}", &key, &value) > 0) {
                if (strcmp(key, "tenant") == 0 && strcmp(value, "blue") == 0)
                        have_tenant = true;
                else if (strcmp(key, "pf") == 0 && strcmp(value, "0000:01:00.0") == 0)
                        have_pf = true;
                else
                        cr_assert_fail("unexpected detail %s=%s", key, value);
        }
        cr_assert(have_tenant && have_pf);
        cr_assert_geq(sd_bus_message_exit_container(reply), 0);
        cr_assert_geq(sd_bus_message_exit_container(reply), 0);

        /* Arguments 4 and 5: no interaction, no cancellation id. */
        cr_assert_gt(sd_bus_message_read(reply, "v", "u", &flags), 0);
        cr_assert_eq(flags, 0);
        cr_assert_gt(sd_bus_message_read(reply, "v", "s", &cancel_id), 0);
        cr_assert_str_eq(cancel_id, "");

        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}

/* On the system bus the subject is the caller's unique name, which polkitd
 * resolves itself with the bus daemon: nothing a recycled pid could match. */
Test(polkit, system_bus_name_subject_goes_out) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        sd_bus_message *reply = NULL;
        PolkitSubject s = self_subject();
        const char *kind, *key, *name = NULL;
        uint64_t when;
        unsigned n_keys = 0;
        sd_bus *bus;
        Answer a = {0};

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        s.system_bus_name = ":1.42";
        cr_assert_eq(polkit_new(event, address, &p), 0);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_answer, &a, NULL), 0);
        run_until_answered(&a.calls);
        cr_assert_eq(a.result, 1);

        bus = test_bus();
        cr_assert_geq(sd_bus_call_method(bus, "org.freedesktop.PolicyKit1",
                                         "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.DBus.Mock", "GetMethodCalls", NULL, &reply,
                                         "s", "CheckAuthorization"), 0);
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(tav)"), 0);
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_STRUCT, "tav"), 0,
                     "the mock logged no CheckAuthorization call");
        cr_assert_gt(sd_bus_message_read(reply, "t", &when), 0);
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "v"), 0);
        enter_variant(reply, "(sa{sv})");
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_STRUCT, "sa{sv}"), 0);
        cr_assert_gt(sd_bus_message_read(reply, "s", &kind), 0);
        cr_assert_str_eq(kind, "system-bus-name");
        cr_assert_gt(sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "{sv}"), 0);
        while (sd_bus_message_enter_container(reply, SD_BUS_TYPE_DICT_ENTRY, "sv") > 0) {
                cr_assert_gt(sd_bus_message_read(reply, "s", &key), 0);
                cr_assert_str_eq(key, "name", "unexpected subject key %s", key);
                cr_assert_gt(sd_bus_message_read(reply, "v", "s", &name), 0);
                n_keys++;
                cr_assert_geq(sd_bus_message_exit_container(reply), 0);
        }
        cr_assert_eq(n_keys, 1);
        cr_assert_str_eq(name, ":1.42");
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}

Test(polkit, polkitd_not_on_the_bus) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        Answer a;

        start_bus();
        cr_assert_eq(polkit_new(event, address, &p), 0);

        a = check(p, ACTION_ACQUIRE);
        cr_assert_eq(a.result, -EHOSTUNREACH);
        cr_assert(strstr(a.message, "polkit could not be asked") &&
                  strstr(a.message, "is polkitd running?"), "message: %s", a.message);
        cr_assert(strstr(a.message, "org.freedesktop.DBus.Error.ServiceUnknown"), "message: %s", a.message);
}

Test(polkit, no_bus_at_all) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        Answer a;

        /* setup() made the address, start_bus() was not called: nothing listens. */
        cr_assert_eq(polkit_new(event, address, &p), 0);
        a = check(p, ACTION_ACQUIRE);
        cr_assert_eq(a.result, -EHOSTUNREACH);
        cr_assert(strstr(a.message, "is polkitd running?") && strstr(a.message, socket_path),
                  "message: %s", a.message);

        /* The bus appears later: the next check connects. */
        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        cr_assert_eq(check(p, ACTION_ACQUIRE).result, 1);
}

Test(polkit, mock_killed_then_restarted) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        Answer a;

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        cr_assert_eq(polkit_new(event, address, &p), 0);
        cr_assert_eq(check(p, ACTION_ACQUIRE).result, 1);

        stop_process(&mock_pid, SIGKILL);
        a = check(p, ACTION_ACQUIRE);
        cr_assert_eq(a.result, -EHOSTUNREACH, "%d %s", a.result, a.message);
        cr_assert(strstr(a.message, "is polkitd running?"), "message: %s", a.message);

        start_mock();
        set_allowed(ACTION_ACQUIRE);
        a = check(p, ACTION_ACQUIRE);
        cr_assert_eq(a.result, 1, "%d %s", a.result, a.message);
}

/* Used by bus_restarted_with_check_pending: starts the next check from inside
 * the callback of the failed one, while sd-bus is still closing the old
 * connection. */
typedef struct Chain {
        Polkit *polkit;
        Answer first, second;
} Chain;

static void on_first_then_check_again(int result, const char *message, void *userdata) {
        Chain *c = userdata;
        PolkitSubject s = self_subject();

        on_answer(result, message, &c->first);
        cr_assert_eq(polkit_check(c->polkit, ACTION_ACQUIRE, &s, NULL, on_answer, &c->second, NULL), 0);
}

Test(polkit, bus_restarted_with_check_pending) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        PolkitSubject s = self_subject();
        Chain c = {0};

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        cr_assert_eq(polkit_new(event, address, &p), 0);
        cr_assert_eq(check(p, ACTION_ACQUIRE).result, 1);

        /* A check in flight when dbus-daemon goes away fails... */
        mock_call("SimulateHang", "b", 1);
        c.polkit = p;
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_first_then_check_again, &c, NULL), 0);
        run_for_ms(300);
        cr_assert_eq(c.first.calls, 0, "the mock was told to hang");
        stop_process(&mock_pid, SIGKILL);
        stop_process(&daemon_pid, SIGKILL);
        run_until_answered(&c.first.calls);
        cr_assert_eq(c.first.result, -EHOSTUNREACH, "%d %s", c.first.result, c.first.message);

        /* ...and so does the one started from its callback, bus still down. */
        run_until_answered(&c.second.calls);
        cr_assert_eq(c.second.result, -EHOSTUNREACH, "%d %s", c.second.result, c.second.message);

        /* A new dbus-daemon on the same address: the next check reconnects. */
        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        cr_assert_eq(check(p, ACTION_ACQUIRE).result, 1);
}

Test(polkit, hanging_polkitd_times_out) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        PolkitSubject s = self_subject();
        uint64_t start, end;
        Answer a = {0};

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        mock_call("SimulateHang", "b", 1);
        cr_assert_eq(polkit_new(event, address, &p), 0);

        start = now_usec();
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_answer, &a, NULL), 0);
        run_until_answered_within(&a.calls, POLKIT_CALL_TIMEOUT_USEC / 1000000 + 15);
        end = now_usec();

        cr_assert_eq(a.result, -EHOSTUNREACH, "%d %s", a.result, a.message);
        cr_assert(strstr(a.message, "is polkitd running?"), "message: %s", a.message);
        cr_assert_geq(end - start, POLKIT_CALL_TIMEOUT_USEC - 1000000, "gave up after %llu us",
                      (unsigned long long) (end - start));
}

Test(polkit, cancel_means_no_callback) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        PolkitSubject s = self_subject();
        PolkitQuery *q = NULL;
        Answer cancelled = {0}, other = {0};

        start_bus();
        start_mock();
        set_allowed(ACTION_ACQUIRE);
        mock_call("SimulateHang", "b", 1);
        cr_assert_eq(polkit_new(event, address, &p), 0);

        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_answer, &cancelled, &q), 0);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_answer, &other, NULL), 0);
        cr_assert_not_null(q);
        run_for_ms(300);
        cr_assert_null(polkit_query_cancel(q));

        /* The mock now answers both calls; only the uncancelled one may arrive. */
        mock_call("ReleaseHangingCalls", "");
        run_until_answered(&other.calls);
        run_for_ms(300);
        cr_assert_eq(other.result, 1);
        cr_assert_eq(cancelled.calls, 0);
}

Test(polkit, cancel_before_unreachable_is_reported) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        PolkitSubject s = self_subject();
        PolkitQuery *q = NULL;
        Answer a = {0};

        /* No bus: the failure is delivered from the event loop, and a cancel
         * before that must suppress it too. */
        cr_assert_eq(polkit_new(event, address, &p), 0);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_answer, &a, &q), 0);
        polkit_query_cancel(q);
        run_for_ms(200);
        cr_assert_eq(a.calls, 0);
}

Test(polkit, free_with_checks_pending) {
        PolkitSubject s = self_subject();
        Polkit *p = NULL;
        Answer a = {0}, b = {0};

        start_bus();
        start_mock();
        mock_call("SimulateHang", "b", 1);
        cr_assert_eq(polkit_new(event, address, &p), 0);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_answer, &a, NULL), 0);
        cr_assert_eq(polkit_new(event, "unix:path=/nonexistent/vfb-bus", NULL) , -EINVAL);
        run_for_ms(200);
        cr_assert_null(polkit_free(p));

        /* A second object whose check failed before reaching any bus. */
        cr_assert_eq(polkit_new(event, "unix:path=/nonexistent/vfb-bus", &p), 0);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, on_answer, &b, NULL), 0);
        cr_assert_null(polkit_free(p));

        mock_call("ReleaseHangingCalls", "");
        run_for_ms(300);
        cr_assert_eq(a.calls, 0);
        cr_assert_eq(b.calls, 0);
}

Test(polkit, arguments_are_checked) {
        _cleanup_(polkit_freep) Polkit *p = NULL;
        PolkitSubject s = self_subject(), bad = s;
        char *odd[] = { (char *) "key", NULL };
        char *many[2 * POLKIT_DETAILS_MAX + 3];
        char long_value[POLKIT_DETAIL_LENGTH_MAX + 2];
        char *too_long[] = { (char *) "key", long_value, NULL };
        char long_action[POLKIT_ACTION_LENGTH_MAX + 2];
        Answer a = {0};

        cr_assert_eq(polkit_new(event, address, &p), 0);
        for (size_t i = 0; i < ELEMENTSOF(many) - 1; i++)
                many[i] = (char *) "x";
        many[ELEMENTSOF(many) - 1] = NULL;
        memset(long_value, 'v', sizeof long_value - 1);
        long_value[sizeof long_value - 1] = '\0';
        memset(long_action, 'a', sizeof long_action - 1);
        long_action[sizeof long_action - 1] = '\0';

        cr_assert_eq(polkit_check(p, "", &s, NULL, on_answer, &a, NULL), -EINVAL);
        cr_assert_eq(polkit_check(p, long_action, &s, NULL, on_answer, &a, NULL), -EINVAL);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, odd, on_answer, &a, NULL), -EINVAL);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, many, on_answer, &a, NULL), -E2BIG);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, too_long, on_answer, &a, NULL), -E2BIG);
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &s, NULL, NULL, &a, NULL), -EINVAL);
        bad.pid = 0;
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &bad, NULL, on_answer, &a, NULL), -EINVAL);
        /* A bus subject must be a unique name: a well-known one is whoever owns it now. */
        bad = s;
        bad.system_bus_name = "org.example.Name";
        cr_assert_eq(polkit_check(p, ACTION_ACQUIRE, &bad, NULL, on_answer, &a, NULL), -EINVAL);
        run_for_ms(100);
        cr_assert_eq(a.calls, 0);
}

Test(polkit, start_time_with_parenthesis_in_comm) {
        static const char evil[] = "a) (b c) d";
        uint64_t before, after, reaped;
        int to_child[2], from_child[2];
        char buf[64], c = 0;
        pid_t pid;
        int fd;
        ssize_t n;

        cr_assert_eq(pipe2(to_child, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(from_child, O_CLOEXEC), 0);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                /* Wait for "rename", rename, say so, wait for "exit". */
                if (read(to_child[0], &c, 1) != 1)
                        _exit(1);
                if (prctl(PR_SET_NAME, evil, 0, 0, 0) < 0)
                        _exit(2);
                if (write(from_child[1], "r", 1) != 1)
                        _exit(3);
                (void) read(to_child[0], &c, 1);
                _exit(0);
        }

        /* With a plain comm any parser finds field 22. */
        cr_assert_eq(process_get_start_time(pid, &before), 0);
        cr_assert_eq(write(to_child[1], "r", 1), 1);
        cr_assert_eq(read(from_child[0], &c, 1), 1);

        snprintf(buf, sizeof buf, "/proc/%d/comm", (int) pid);
        fd = open(buf, O_RDONLY | O_CLOEXEC);
        cr_assert_geq(fd, 0);
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        cr_assert_gt(n, 0);
        buf[n] = '\0';
        cr_assert_str_eq(buf, "a) (b c) d\n", "the child's comm is %s", buf);

        cr_assert_eq(process_get_start_time(pid, &after), 0);
        cr_assert_eq(after, before, "start time read through \"%s\": %llu, before: %llu", evil,
                     (unsigned long long) after, (unsigned long long) before);
        cr_assert_gt(before, 0);

        cr_assert_eq(write(to_child[1], "x", 1), 1);
        cr_assert_eq(waitpid(pid, NULL, 0), pid);
        cr_assert_eq(process_get_start_time(pid, &reaped), -ESRCH);
        cr_assert_eq(process_get_start_time(0, &reaped), -EINVAL);
}
