/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The integration harness: private system bus, dbusmock polkitd, fixture
 * sysfs and the real vfbrokerd, all below one temporary directory. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
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

#include "harness.h"

#define NOBODY 65534

static bool streq_(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

static void write_file(const char *path, const char *content) {
        FILE *f = fopen(path, "we");

        cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
        fputs(content, f);
        fclose(f);
}

static void pathf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        cr_assert(n > 0 && (size_t) n < size, "path too long");
}

static void mkdir_p(const char *path) {
        char tmp[512];

        snprintf(tmp, sizeof tmp, "%s", path);
        for (char *p = tmp + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        (void) mkdir(tmp, 0755);
                        *p = '/';
                }
        cr_assert(mkdir(tmp, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", tmp, strerror(errno));
}

static void attr(Broker *b, const char *bdf, const char *name, const char *value) {
        char p[512];

        pathf(p, sizeof p, "%s/sys/bus/pci/devices/%s/%s", b->sysfs_root, bdf, name);
        write_file(p, value);
}

static void link_attr(Broker *b, const char *bdf, const char *name, const char *target) {
        char p[512];

        pathf(p, sizeof p, "%s/sys/bus/pci/devices/%s/%s", b->sysfs_root, bdf, name);
        cr_assert(symlink(target, p) == 0, "symlink %s: %s", p, strerror(errno));
}

static void fixture_function(Broker *b, const char *bdf, const char *vendor, const char *device, unsigned group) {
        char p[512], target[128];

        pathf(p, sizeof p, "%s/sys/bus/pci/devices/%s", b->sysfs_root, bdf);
        mkdir_p(p);
        attr(b, bdf, "vendor", vendor);
        attr(b, bdf, "device", device);
        attr(b, bdf, "numa_node", "-1\n");
        attr(b, bdf, "driver_override", "(null)\n");
        link_attr(b, bdf, "driver", "../../drivers/vfio-pci");
        pathf(p, sizeof p, "%s/sys/kernel/iommu_groups/%u", b->sysfs_root, group);
        mkdir_p(p);
        snprintf(target, sizeof target, "../../../kernel/iommu_groups/%u", group);
        link_attr(b, bdf, "iommu_group", target);
}

/* Two PFs as QEMU's nvme and igb emulation show them, already on vfio-pci. */
static void fixture_tree(Broker *b) {
        static const struct {
                const char *pf, *vendor, *device, *vf_prefix;
                unsigned group;
        } pfs[] = {
                { "0000:01:00.0", "0x1b36\n", "0x0010\n", "0000:01:00.", 1 },
                { "0000:02:00.0", "0x8086\n", "0x10c9\n", "0000:02:10.", 2 },
        };
        char p[512];

        for (size_t i = 0; i < 2; i++) {
                fixture_function(b, pfs[i].pf, pfs[i].vendor, pfs[i].device, pfs[i].group);
                attr(b, pfs[i].pf, "sriov_totalvfs", "4\n");
                attr(b, pfs[i].pf, "sriov_numvfs", "4\n");
                for (unsigned v = 0; v < 4; v++) {
                        char vf[32], name[32], target[64];

                        snprintf(vf, sizeof vf, "%s%u", pfs[i].vf_prefix, v + 1);
                        fixture_function(b, vf, pfs[i].vendor, "0x10ca\n", 10 + (unsigned) i * 10 + v);
                        link_attr(b, vf, "physfn", "../" /* sibling */);
                        snprintf(name, sizeof name, "virtfn%u", v);
                        snprintf(target, sizeof target, "../%s", vf);
                        link_attr(b, pfs[i].pf, name, target);
                }
        }
        pathf(p, sizeof p, "%s/sys/bus/pci/drivers/vfio-pci", b->sysfs_root);
        mkdir_p(p);
        pathf(p, sizeof p, "%s/sys/bus/pci/drivers_probe", b->sysfs_root);
        write_file(p, "");
        pathf(p, sizeof p, "%s/sys/module/vfio_pci/parameters", b->sysfs_root);
        mkdir_p(p);
        pathf(p, sizeof p, "%s/sys/module/vfio_pci/parameters/enable_sriov", b->sysfs_root);
        write_file(p, "N\n");
}

void broker_prepare(Broker *b, const char *config_text) {
        memset(b, 0, sizeof *b);
        snprintf(b->dir, sizeof b->dir, "/tmp/vfbroker-it-XXXXXX");
        cr_assert_not_null(mkdtemp(b->dir));
        /* uid 65534 must reach the socket. */
        cr_assert(chmod(b->dir, 0755) == 0);

        pathf(b->socket_path, sizeof b->socket_path, "%s/bus", b->dir);
        pathf(b->state_dir, sizeof b->state_dir, "%s/state", b->dir);
        pathf(b->config_file, sizeof b->config_file, "%s/vfbroker.conf", b->dir);
        pathf(b->config_dir, sizeof b->config_dir, "%s/vfbroker.conf.d", b->dir);
        pathf(b->sysfs_root, sizeof b->sysfs_root, "%s/root", b->dir);
        pathf(b->dev_root, sizeof b->dev_root, "%s/dev", b->dir);
        pathf(b->log_path, sizeof b->log_path, "%s/vfbrokerd.log", b->dir);
        mkdir_p(b->config_dir);
        mkdir_p(b->dev_root);
        mkdir_p(b->sysfs_root);
        fixture_tree(b);
        write_file(b->config_file, config_text);
}

static pid_t spawn(const char *log_path, char *const argv[], const char *bus_address) {
        pid_t pid = fork();

        cr_assert(pid >= 0);
        if (pid == 0) {
                int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                /* A crashed or timed-out test must not leave daemons behind. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);

                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                if (bus_address)
                        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_address, 1);
                unsetenv("NOTIFY_SOCKET");
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                execv(argv[0], argv);
                _exit(127);
        }
        return pid;
}

static void stop_pid(pid_t *pid) {
        if (*pid <= 0)
                return;
        kill(*pid, SIGTERM);
        for (int i = 0; i < 200; i++) {
                if (waitpid(*pid, NULL, WNOHANG) == *pid) {
                        *pid = 0;
                        return;
                }
                sleep_ms(10);
        }
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
}

/* Writes a bus configuration with the given policy part, starts dbus-daemon on it. */
static void start_dbus_daemon(Broker *b, const char *policy) {
        char conf[512], log[512], sock[512], text[8192];

        pathf(conf, sizeof conf, "%s/system-bus.conf", b->dir);
        pathf(log, sizeof log, "%s/dbus.log", b->dir);
        pathf(sock, sizeof sock, "%s/system_bus_socket", b->dir);
        snprintf(text, sizeof text,
                 "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
                 " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                 "<busconfig>\n"
                 "  <type>system</type>\n"
                 "  <listen>unix:path=%s</listen>\n"
                 "  <auth>EXTERNAL</auth>\n"
                 "%s"
                 "</busconfig>\n", sock, policy);
        write_file(conf, text);
        pathf(b->bus_address, sizeof b->bus_address, "unix:path=%s", sock);

        char config_arg[600];
        snprintf(config_arg, sizeof config_arg, "--config-file=%s", conf);
        char *argv[] = { (char *) "/usr/bin/dbus-daemon", config_arg, (char *) "--nofork", (char *) "--nopidfile", NULL };
        b->dbus_pid = spawn(log, argv, NULL);

        for (int i = 0; i < 500; i++) {
                if (access(sock, F_OK) == 0)
                        return;
                sleep_ms(10);
        }
        cr_assert_fail("the private dbus-daemon did not come up (see %s)", log);
}

void broker_start_bus(Broker *b) {
        start_dbus_daemon(b,
                          "  <policy context=\"default\">\n"
                          "    <allow user=\"*\"/>\n"
                          "    <allow own=\"*\"/>\n"
                          "    <allow send_type=\"method_call\"/>\n"
                          "    <allow send_destination=\"*\"/>\n"
                          "    <allow receive_sender=\"*\"/>\n"
                          "  </policy>\n");
}

void broker_start_strict_bus(Broker *b, const char *policy_file) {
        char policy[4096];

        /* The default policy of dbus's system.conf, the polkit mock (which
         * runs as root) in place of polkitd's own policy file, and ours. */
        snprintf(policy, sizeof policy,
                 "  <policy context=\"default\">\n"
                 "    <allow user=\"*\"/>\n"
                 "    <deny own=\"*\"/>\n"
                 "    <deny send_type=\"method_call\"/>\n"
                 "    <allow send_type=\"signal\"/>\n"
                 "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
                 "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
                 "    <allow receive_type=\"method_call\"/>\n"
                 "    <allow receive_type=\"method_return\"/>\n"
                 "    <allow receive_type=\"error\"/>\n"
                 "    <allow receive_type=\"signal\"/>\n"
                 "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
                 "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
                 "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Properties\"/>\n"
                 "    <deny send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\" send_member=\"UpdateActivationEnvironment\"/>\n"
                 "  </policy>\n"
                 "  <policy user=\"root\">\n"
                 "    <allow own=\"org.freedesktop.PolicyKit1\"/>\n"
                 "    <allow send_destination=\"org.freedesktop.PolicyKit1\"/>\n"
                 "  </policy>\n"
                 "  <include>%s</include>\n", policy_file);
        start_dbus_daemon(b, policy);
}

static sd_bus *system_bus(Broker *b) {
        sd_bus *bus = NULL;

        cr_assert(sd_bus_new(&bus) >= 0);
        cr_assert(sd_bus_set_address(bus, b->bus_address) >= 0);
        cr_assert(sd_bus_set_bus_client(bus, 1) >= 0);
        /* dbus-daemon creates its socket file a moment before it listens. */
        for (int i = 0; i < 200; i++) {
                if (sd_bus_start(bus) >= 0)
                        return bus;
                sd_bus_unref(bus);
                sleep_ms(10);
                cr_assert(sd_bus_new(&bus) >= 0);
                cr_assert(sd_bus_set_address(bus, b->bus_address) >= 0);
                cr_assert(sd_bus_set_bus_client(bus, 1) >= 0);
        }
        cr_assert_fail("cannot connect to the private system bus");
        return NULL;
}

sd_bus *broker_connect_system(Broker *b) {
        return system_bus(b);
}

void broker_start_polkit(Broker *b) {
        char log[512];
        char *argv[] = { (char *) "/usr/bin/python3", (char *) "-m", (char *) "dbusmock",
                         (char *) "--template", (char *) "polkitd", (char *) "--system", NULL };
        sd_bus *bus;

        pathf(log, sizeof log, "%s/polkit.log", b->dir);
        b->polkit_pid = spawn(log, argv, b->bus_address);

        bus = system_bus(b);
        for (int i = 0; i < 1000; i++) {
                sd_bus_message *reply = NULL;
                int has = 0;

                if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", NULL, &reply, "s", "org.freedesktop.PolicyKit1") >= 0 &&
                    sd_bus_message_read(reply, "b", &has) >= 0 && has) {
                        sd_bus_message_unref(reply);
                        sd_bus_flush_close_unref(bus);
                        return;
                }
                sd_bus_message_unref(reply);
                sleep_ms(20);
        }
        sd_bus_flush_close_unref(bus);
        cr_assert_fail("python-dbusmock's polkitd did not come up (see %s)", log);
}

void broker_stop_polkit(Broker *b) {
        stop_pid(&b->polkit_pid);
}

static void polkit_mock_call(Broker *b, const char *method, char **strv, const char *sig, ...) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL;
        sd_bus *bus = system_bus(b);
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.DBus.Mock", method);
        cr_assert(r >= 0);
        if (strv)
                r = sd_bus_message_append_strv(m, strv);
        else {
                va_start(ap, sig);
                r = sd_bus_message_appendv(m, sig, ap);
                va_end(ap);
        }
        cr_assert(r >= 0);
        r = sd_bus_call(bus, m, 0, &error, NULL);
        cr_assert(r >= 0, "polkit mock %s failed: %s", method, error.message);
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus);
}

void polkit_set_allowed(Broker *b, const char *const *actions) {
        polkit_mock_call(b, "SetAllowed", (char **) actions, "");
}

void polkit_simulate_hang(Broker *b, bool hang) {
        polkit_mock_call(b, "SimulateHang", NULL, "b", (int) hang);
}

void polkit_release_hanging(Broker *b) {
        polkit_mock_call(b, "ReleaseHangingCalls", NULL, "");
}

static void broker_argv(Broker *b, char **argv, size_t max, const char *const *extra) {
        static char buf[8][600];
        const char *exe = getenv("VFBROKERD");
        size_t n = 0;

        cr_assert_not_null(exe, "VFBROKERD is not set (meson sets it)");
        argv[n++] = (char *) exe;
        snprintf(buf[0], sizeof buf[0], "--listen=%s", b->socket_path);
        snprintf(buf[1], sizeof buf[1], "--state-dir=%s", b->state_dir);
        snprintf(buf[2], sizeof buf[2], "--config=%s", b->config_file);
        snprintf(buf[3], sizeof buf[3], "--config-dir=%s", b->config_dir);
        snprintf(buf[4], sizeof buf[4], "--sysfs-root=%s", b->sysfs_root);
        snprintf(buf[5], sizeof buf[5], "--dev-root=%s", b->dev_root);
        for (int i = 0; i < 6; i++)
                argv[n++] = buf[i];
        argv[n++] = (char *) "--verbose";
        for (; extra && *extra && n + 1 < max; extra++)
                argv[n++] = (char *) *extra;
        argv[n] = NULL;
}

static bool socket_connectable(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok;

        if (strlen(path) >= sizeof sa.sun_path)
                return false;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        ok = connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
        close(fd);
        return ok;
}

void broker_start(Broker *b) {
        broker_start_with(b, NULL);
}

void broker_start_with(Broker *b, const char *const *extra) {
        char *argv[24];
        int status;

        broker_argv(b, argv, 24, extra);
        b->broker_pid = spawn(b->log_path, argv, b->bus_address);
        for (int i = 0; i < 1000; i++) {
                if (socket_connectable(b->socket_path))
                        return;
                if (waitpid(b->broker_pid, &status, WNOHANG) == b->broker_pid) {
                        b->broker_pid = 0;
                        cr_assert_fail("vfbrokerd exited during start-up:\n%s", broker_log(b));
                }
                sleep_ms(10);
        }
        cr_assert_fail("vfbrokerd did not open its socket:\n%s", broker_log(b));
}

int broker_run_expect_exit(Broker *b, const char *const *extra) {
        char *argv[24];
        int status;
        pid_t pid;

        broker_argv(b, argv, 24, extra);
        pid = spawn(b->log_path, argv, b->bus_address);
        for (int i = 0; i < 1000; i++) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                sleep_ms(10);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        cr_assert_fail("vfbrokerd kept running although it was expected to exit");
        return -1;
}

void broker_stop(Broker *b) {
        stop_pid(&b->broker_pid);
}

void broker_cleanup(Broker *b) {
        char cmd[600];

        broker_stop(b);
        stop_pid(&b->polkit_pid);
        stop_pid(&b->dbus_pid);
        if (b->dir[0] && !getenv("VFBROKER_KEEP_TEST_DIRS")) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
                (void) system(cmd);
        }
}

sd_bus *broker_connect(Broker *b) {
        char address[400];
        sd_bus *bus = NULL;

        snprintf(address, sizeof address, "unix:path=%s", b->socket_path);
        cr_assert(sd_bus_new(&bus) >= 0);
        cr_assert(sd_bus_set_address(bus, address) >= 0);
        cr_assert(sd_bus_negotiate_fds(bus, 1) >= 0);
        cr_assert(sd_bus_start(bus) >= 0, "cannot connect to vfbrokerd");
        return bus;
}

/* No cr_assert here: call_as_nobody runs this in a forked child, where a
 * failed assertion reaches criterion from a pid it does not know and the
 * test hangs until its timeout instead of failing. Every failure is in res. */
static void do_call(Broker *b, const char *method, const char *signature, const char *arg1, const char *arg2,
                    CallResult *res) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        char address[400];
        sd_bus *bus = NULL;
        int r;

        memset(res, 0, sizeof *res);
        snprintf(address, sizeof address, "unix:path=%s", b->socket_path);
        r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_address(bus, address);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, 1);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                snprintf(res->error_name, sizeof res->error_name, "(connect)");
                snprintf(res->error_message, sizeof res->error_message, "cannot connect to vfbrokerd: %s", strerror(-r));
                sd_bus_unref(bus);
                return;
        }

        r = sd_bus_message_new_method_call(bus, &m, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1", method);
        if (streq_(signature, "s"))
                r = sd_bus_message_append(m, "s", arg1);
        else if (streq_(signature, "sa{sv}"))
                r = sd_bus_message_append(m, "sa{sv}", arg1, 0);
        else if (streq_(signature, "su"))
                r = sd_bus_message_append(m, "su", arg1, (uint32_t) strtoul(arg2, NULL, 10));
        else
                r = 0;
        if (r >= 0)
                r = sd_bus_call(bus, m, 30 * 1000000ULL, &error, &reply);
        res->ok = r >= 0;
        if (r < 0) {
                snprintf(res->error_name, sizeof res->error_name, "%s", error.name ? error.name : "");
                snprintf(res->error_message, sizeof res->error_message, "%s", error.message ? error.message : "");
        }
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}

CallResult call_as_root(Broker *b, const char *method, const char *signature, const char *arg1, const char *arg2) {
        CallResult res;

        do_call(b, method, signature, arg1, arg2, &res);
        return res;
}

CallResult call_as_nobody(Broker *b, const char *method, const char *signature, const char *arg1, const char *arg2) {
        CallResult res = { 0 };
        int p[2];
        pid_t pid;

        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
                        _exit(3);
                do_call(b, method, signature, arg1, arg2, &res);
                if (write(p[1], &res, sizeof res) != (ssize_t) sizeof res)
                        _exit(4);
                _exit(0);
        }
        close(p[1]);
        ssize_t n = read(p[0], &res, sizeof res);
        int status = 0;

        close(p[0]);
        waitpid(pid, &status, 0);
        cr_assert(n == (ssize_t) sizeof res, "the uid 65534 child failed (exit status %d)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return res;
}

char *store_snapshot(Broker *b) {
        static const char *const tables[] = { "tenants", "tenant_uids", "tenant_gids", "pfs", "leases" };
        char path[512], *text = NULL;
        size_t size = 0;
        sqlite3 *db = NULL;
        FILE *f;

        pathf(path, sizeof path, "file:%s/state.db?mode=ro", b->state_dir);
        cr_assert(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK,
                  "cannot open the broker's store");
        f = open_memstream(&text, &size);
        for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
                sqlite3_stmt *st = NULL;
                char sql[128];

                snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", tables[i]);
                fprintf(f, "[%s]\n", tables[i]);
                if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                        continue;
                while (sqlite3_step(st) == SQLITE_ROW) {
                        for (int c = 0; c < sqlite3_column_count(st); c++) {
                                if (sqlite3_column_type(st, c) == SQLITE_BLOB) {
                                        const unsigned char *blob = sqlite3_column_blob(st, c);
                                        for (int k = 0; k < sqlite3_column_bytes(st, c); k++)
                                                fprintf(f, "%02x", blob[k]);
                                } else
                                        fprintf(f, "%s", sqlite3_column_type(st, c) == SQLITE_NULL ? "NULL" : (const char *) sqlite3_column_text(st, c));
                                fputc('|', f);
                        }
                        fputc('\n', f);
                }
                sqlite3_finalize(st);
        }
        fclose(f);
        sqlite3_close(db);
        return text;
}

char *broker_log(Broker *b) {
        char *text = NULL;
        size_t size = 0;
        FILE *in = fopen(b->log_path, "re"), *out = open_memstream(&text, &size);
        int c;

        while (in && (c = fgetc(in)) != EOF)
                fputc(c, out);
        if (in)
                fclose(in);
        fclose(out);
        return text;
}
