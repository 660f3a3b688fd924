/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfbrokerctl against the fake broker: `run` fd placement, environment and
 * exit status, exit codes per error, JSON validity, tables, --help. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fake-broker.h"

#define PYTHON "/usr/bin/python3"

static FakeBroker fake;

static void start(void) {
        cr_assert_eq(fake_broker_start(&fake, FAKE_NORMAL), 0);
        setenv("VFBROKER_SOCKET", fake.socket_path, 1);
}

static void stop(void) {
        fake_broker_stop(&fake);
}

static const char *ctl_path(void) {
        const char *p = getenv("VFBROKERCTL");

        cr_assert_not_null(p, "VFBROKERCTL must point at the vfbrokerctl binary");
        return p;
}

static char *read_all(int fd) {
        size_t size = 4096, n = 0;
        char *buf = malloc(size);

        cr_assert_not_null(buf);
        for (;;) {
                ssize_t k;

                if (n + 1 >= size) {
                        size *= 2;
                        buf = realloc(buf, size);
                        cr_assert_not_null(buf);
                }
                k = read(fd, buf + n, size - n - 1);
                if (k < 0 && errno == EINTR)
                        continue;
                cr_assert_geq(k, 0);
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = '\0';
        return buf;
}

/* Starts argv with stdin from input (or /dev/null), stdout and stderr to pipes. */
static pid_t spawn(char * const *argv, const char *input, int *ret_out, int *ret_err) {
        int in[2], out[2], err[2];
        pid_t pid;

        cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
        cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
        fflush(NULL);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                dup2(err[1], 2);
                /* Criterion's own fds must not reach the program under test,
                 * or `run` would rightly pass them on to CMD. */
                close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
                execv(argv[0], argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        if (input)
                cr_assert_eq(write(in[1], input, strlen(input)), (ssize_t) strlen(input));
        close(in[1]);
        *ret_out = out[0];
        *ret_err = err[0];
        return pid;
}

static int wait_status(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                cr_assert_eq(errno, EINTR);
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}

/* Runs argv to completion; ret_out and ret_err get what it printed (may be NULL). */
static int run_argv(char * const *argv, const char *input, char **ret_out, char **ret_err) {
        int out, err, r;
        char *o, *e;
        pid_t pid = spawn(argv, input, &out, &err);

        /* Both are small here, so reading one after the other cannot block the child. */
        o = read_all(out);
        e = read_all(err);
        close(out);
        close(err);
        r = wait_status(pid);
        if (ret_out)
                *ret_out = o;
        else
                free(o);
        if (ret_err)
                *ret_err = e;
        else
                free(e);
        return r;
}

/* vfbrokerctl ARGS... (NULL-terminated). */
static int ctl(char **ret_out, char **ret_err, ...) {
        char *argv[64];
        size_t n = 0;
        va_list ap;

        argv[n++] = (char *) ctl_path();
        va_start(ap, ret_err);
        while ((argv[n] = va_arg(ap, char *)))
                cr_assert_lt(++n, 63);
        va_end(ap);
        return run_argv(argv, NULL, ret_out, ret_err);
}

/* Feeds json to python's parser and runs check (Python, `d` is the document). */
static void assert_json(const char *json, const char *check) {
        char code[2048];
        char *err = NULL;
        char *argv[] = { (char *) PYTHON, (char *) "-c", code, NULL };
        int r;

        snprintf(code, sizeof(code), "import json,sys\nd = json.load(sys.stdin)\n%s\n", check ? check : "");
        r = run_argv(argv, json, NULL, &err);
        cr_assert_eq(r, 0, "JSON check failed (%s) on: %s\n%s", check ? check : "parse", json, err);
        free(err);
}

static bool log_has(const char *line) {
        char *l = fake_broker_log(&fake);
        bool found = l && strstr(l, line);

        free(l);
        return found;
}

Test(cli, help_mentions_every_command_and_exit_code) {
        static const char * const words[] = {
                "status", "list-pfs", "list-vfs", "list-leases", "list-tenants", "tenant create", "tenant delete",
                "tenant rotate", "tenant show-token", "set-numvfs", "release", "run --tenant", "--socket", "--json",
                "--no-legend", "--version", "VFBROKER_VF_COUNT", "Exit status", "vfbroker.socket running",
        };
        char *out = NULL;

        cr_assert_eq(ctl(&out, NULL, "--help", NULL), 0);
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                cr_assert_not_null(strstr(out, words[i]), "--help does not mention '%s'", words[i]);
        for (int code = 0; code <= 6; code++) {
                char s[8];

                snprintf(s, sizeof(s), "  %d  ", code);
                cr_assert_not_null(strstr(out, s), "--help does not document exit code %d", code);
        }
        free(out);

        cr_assert_eq(ctl(&out, NULL, "--version", NULL), 0);
        cr_assert_eq(strncmp(out, "vfbrokerctl ", 12), 0);
        free(out);
}

Test(cli, usage_errors_exit_2) {
        char *err = NULL;

        cr_assert_eq(ctl(NULL, NULL, NULL), 2);
        cr_assert_eq(ctl(NULL, &err, "frobnicate", NULL), 2);
        cr_assert_not_null(strstr(err, "frobnicate"));
        free(err);
        cr_assert_eq(ctl(NULL, NULL, "tenant", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "tenant", "explode", "x", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "tenant", "create", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "list-pfs", "extra", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "list-pfs", "--quota", "2", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "release", "--tenant", "acme", "x", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "--bogus", "status", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "run", "--", "/bin/true", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", "--count", "0", "--", "/bin/true", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", "--count", "65", "--", "/bin/true", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", "--numa-node", "x", "--", "/bin/true", NULL), 2);
        cr_assert_eq(ctl(NULL, &err, "run", "--tenant", "acme", "--api", "vfio-user", "--", "/bin/true", NULL), 2);
        cr_assert_not_null(strstr(err, "iommufd"), "%s", err);
        free(err);
        cr_assert_eq(ctl(NULL, &err, "run", "--tenant", "acme", "--api", "group", "--qemu", "--", "/bin/true", NULL), 2);
        cr_assert_not_null(strstr(err, "--qemu"), "%s", err);
        free(err);
        cr_assert_eq(ctl(NULL, NULL, "list-pfs", "--api", "iommufd", NULL), 2);
        cr_assert_eq(ctl(NULL, NULL, "tenant", "create", "t", "--quota", "4097", NULL), 2);
        cr_assert_eq(ctl(NULL, &err, "tenant", "create", "t", "--user", "no-such-user-vfb", NULL), 2);
        cr_assert_not_null(strstr(err, "no-such-user-vfb"));
        free(err);
        cr_assert_eq(ctl(NULL, NULL, "set-numvfs", "0000:03:00.0", "many", NULL), 2);
        cr_assert_eq(ctl(NULL, &err, "status", "--socket", NULL), 2);
        cr_assert_not_null(strstr(err, "'--socket' needs an argument"));
        free(err);
}

Test(cli, cannot_connect_exit_5) {
        char *err = NULL;

        setenv("VFBROKER_SOCKET", "/nonexistent-vfbroker/bus", 1);
        cr_assert_eq(ctl(NULL, &err, "status", NULL), 5);
        cr_assert_not_null(strstr(err, "/nonexistent-vfbroker/bus"));
        cr_assert_not_null(strstr(err, "vfbroker.socket running?"));
        free(err);

        /* --socket wins over the environment. */
        cr_assert_eq(ctl(NULL, &err, "--socket", "/other-vfbroker/bus", "status", NULL), 5);
        cr_assert_not_null(strstr(err, "/other-vfbroker/bus"));
        free(err);
}

Test(cli, status_and_socket_option, .init = start, .fini = stop) {
        char *out = NULL;

        unsetenv("VFBROKER_SOCKET");
        cr_assert_eq(ctl(&out, NULL, "--socket", fake.socket_path, "status", NULL), 0);
        cr_assert_not_null(strstr(out, "0.1.0-fake"));
        free(out);

        cr_assert_eq(ctl(&out, NULL, "status", "--json", "--socket", fake.socket_path, NULL), 0);
        assert_json(out, "assert d['Version'] == '0.1.0-fake' and d['PhysicalFunctions'] == 2 "
                         "and d['VirtualFunctions'] == 11 and d['Leases'] == 1");
        free(out);
}

Test(cli, json_is_valid_and_escaped, .init = start, .fini = stop) {
        char *out = NULL;

        cr_assert_eq(ctl(&out, NULL, "--json", "list-pfs", NULL), 0);
        assert_json(out, "assert len(d) == 2\n"
                         "assert d[0]['Address'] == '0000:03:00.0' and d[0]['Features'] == [] and d[0]['NumVFs'] == 4\n"
                         "assert d[1]['Features'] == ['per-vf-token', 'revocation']\n"
                         "assert d[1]['Reason'] == 'sriov_numvfs \"write\" failed:\\n\\tback\\\\slash \\x01 \\u00e9t\\u00e9'");
        free(out);

        cr_assert_eq(ctl(&out, NULL, "--json", "list-vfs", NULL), 0);
        assert_json(out, "assert d[0]['NumaNode'] == 1 and d[1]['NumaNode'] == -1 and d[0]['IommuGroup'] == 42");
        free(out);

        cr_assert_eq(ctl(&out, NULL, "--json", "list-leases", NULL), 0);
        assert_json(out, "assert d[0]['Created'] == 1795000000123456 and d[0]['Uid'] == 1000 and d[0]['Pid'] == 4242");
        free(out);

        cr_assert_eq(ctl(&out, NULL, "--json", "list-tenants", NULL), 0);
        assert_json(out, "assert d[0]['Uids'] == [0, 1000] and d[0]['FromConfig'] is True and d[1]['Uids'] == []");
        free(out);

        cr_assert_eq(ctl(&out, NULL, "--json", "tenant", "show-token", "acme", NULL), 0);
        assert_json(out, "assert d == {'Name': 'acme', 'Token': '0b3e4c1a-7f5e-4a8c-9d2b-1c2d3e4f5a6b'}");
        free(out);
}

Test(cli, tables_are_aligned, .init = start, .fini = stop) {
        char *out = NULL, *row;
        const char *h, *v;

        cr_assert_eq(ctl(&out, NULL, "list-pfs", NULL), 0);
        cr_assert_eq(strncmp(out, "ADDRESS", 7), 0);
        cr_assert_not_null(strstr(out, "2 PFs listed."));
        row = strchr(out, '\n') + 1;
        h = strstr(out, "DRIVER");
        v = strstr(row, "vfio-pci");
        cr_assert(h && v && h - out == v - row, "DRIVER column not aligned:\n%s", out);
        h = strstr(out, "STATE");
        v = strstr(row, "ready");
        cr_assert(h && v && h - out == v - row, "STATE column not aligned:\n%s", out);
        /* Control characters from the broker are shown escaped, not obeyed. */
        cr_assert_not_null(strstr(out, "failed:\\n\\tback\\slash \\x01 "), "%s", out);
        free(out);

        cr_assert_eq(ctl(&out, NULL, "--no-legend", "list-vfs", NULL), 0);
        cr_assert_eq(strncmp(out, "0000:03:10.0", 12), 0);
        cr_assert_null(strstr(out, "listed"));
        free(out);

        cr_assert_eq(ctl(&out, NULL, "list-leases", NULL), 0);
        cr_assert_not_null(strstr(out, "2026-11-18 11:06:40 UTC"));
        free(out);

        cr_assert_eq(ctl(&out, NULL, "list-tenants", NULL), 0);
        cr_assert_not_null(strstr(out, "root"));
        free(out);

        cr_assert_eq(ctl(&out, NULL, "tenant", "show-token", "acme", NULL), 0);
        cr_assert_str_eq(out, "0b3e4c1a-7f5e-4a8c-9d2b-1c2d3e4f5a6b\n");
        free(out);
}

Test(cli, exit_codes_follow_broker_errors, .init = start, .fini = stop) {
        char *err = NULL;

        cr_assert_eq(ctl(NULL, &err, "run", "--tenant", "full", "--", "/bin/true", NULL), 4);
        cr_assert_not_null(strstr(err, "org.vfbroker.Error.QuotaExceeded: tenant 'full' holds 2 of 2 VFs"));
        free(err);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "empty", "--", "/bin/true", NULL), 4);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "denied", "--", "/bin/true", NULL), 3);
        cr_assert_eq(ctl(NULL, NULL, "tenant", "rotate", "denied", NULL), 3);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "ghost", "--", "/bin/true", NULL), 6);
        cr_assert_eq(ctl(NULL, NULL, "tenant", "delete", "ghost", NULL), 6);
        cr_assert_eq(ctl(NULL, &err, "release", "nosuchlease", NULL), 6);
        cr_assert_not_null(strstr(err, "nosuchlease"));
        free(err);
        cr_assert_eq(ctl(NULL, NULL, "set-numvfs", "0000:99:00.0", "2", NULL), 6);
        cr_assert_eq(ctl(NULL, NULL, "tenant", "create", "acme", NULL), 1);
        cr_assert_eq(ctl(NULL, NULL, "tenant", "show-token", "pool-only", NULL), 1);
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", "--pf", "0000:03:00.0", "--", "/bin/true", NULL), 0);
        cr_assert(log_has("AcquireVF tenant=acme pf=0000:03:00.0 numa=-1\n"));
}

Test(cli, changes_reach_the_broker, .init = start, .fini = stop) {
        cr_assert_eq(ctl(NULL, NULL, "tenant", "create", "newt", "--user", "root", "--user", "1000",
                         "--group", "root", "--quota", "3", NULL), 0);
        cr_assert(log_has("CreateTenant newt uids=0,1000 gids=0 quota=3\n"));
        cr_assert_eq(ctl(NULL, NULL, "tenant", "delete", "newt", NULL), 0);
        cr_assert(log_has("DeleteTenant newt\n"));
        cr_assert_eq(ctl(NULL, NULL, "tenant", "rotate", "newt", NULL), 0);
        cr_assert(log_has("RotateToken newt\n"));
        cr_assert_eq(ctl(NULL, NULL, "set-numvfs", "0000:03:00.0", "6", NULL), 0);
        cr_assert(log_has("SetNumVFs 0000:03:00.0 6\n"));
        cr_assert_eq(ctl(NULL, NULL, "release", "abc", NULL), 0);
        cr_assert(log_has("ReleaseVF abc\n"));
}

/* Each failed check exits with its own code, so a failure says which one. */
static const char run_check[] =
        "fail() { echo \"$2\" >&2; exit $1; }\n"
        "name() { readlink /proc/$$/fd/$1; }\n"
        "case \"$(name 3)\" in /memfd:container*) ;; *) fail 10 \"fd 3: $(name 3)\";; esac\n"
        "case \"$(name 4)\" in /memfd:group*) ;; *) fail 11 \"fd 4: $(name 4)\";; esac\n"
        "case \"$(name 5)\" in /memfd:device*) ;; *) fail 12 \"fd 5: $(name 5)\";; esac\n"
        "case \"$(name 6)\" in /memfd:container*) ;; *) fail 13 \"fd 6: $(name 6)\";; esac\n"
        "case \"$(name 7)\" in /memfd:group*) ;; *) fail 14 \"fd 7: $(name 7)\";; esac\n"
        "case \"$(name 8)\" in /memfd:device*) ;; *) fail 15 \"fd 8: $(name 8)\";; esac\n"
        "for fd in 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do\n"
        "  [ -e /proc/$$/fd/$fd ] && fail 16 \"fd $fd leaked: $(name $fd)\"\n"
        "done\n"
        "[ \"$VFBROKER_VF_COUNT\" = 2 ] || fail 20 \"count=$VFBROKER_VF_COUNT\"\n"
        "[ \"$VFBROKER_VF0_CONTAINER_FD $VFBROKER_VF0_GROUP_FD $VFBROKER_VF0_DEVICE_FD\" = '3 4 5' ] || fail 21 vf0fds\n"
        "[ \"$VFBROKER_VF1_CONTAINER_FD $VFBROKER_VF1_GROUP_FD $VFBROKER_VF1_DEVICE_FD\" = '6 7 8' ] || fail 22 vf1fds\n"
        "[ \"$VFBROKER_VF0_LEASE $VFBROKER_VF1_LEASE\" = 'lease0 lease1' ] || fail 23 leases\n"
        "[ \"$VFBROKER_VF0_ADDRESS $VFBROKER_VF1_ADDRESS\" = '0000:03:10.0 0000:03:10.1' ] || fail 24 addresses\n"
        "[ \"$VFBROKER_VF0_IOMMU_GROUP $VFBROKER_VF1_IOMMU_GROUP\" = '40 41' ] || fail 25 groups\n"
        "[ -z \"$VFBROKER_VF5_ADDRESS\" ] || fail 26 'stale VFBROKER_VF5_ADDRESS passed on'\n"
        "[ \"$1\" = arg-one ] || fail 27 \"args: $*\"\n"
        /* vfbrokerctl drops its copies right after fork; give it a moment. */
        "tries=0\n"
        "while ls -l /proc/$PPID/fd/ 2>/dev/null | grep -q memfd:; do\n"
        "  tries=$((tries + 1)); [ $tries -lt 100 ] || fail 28 'vfbrokerctl kept the VF fds'; sleep 0.02\n"
        "done\n"
        "echo ok\n";

Test(run, fds_environment_and_release, .init = start, .fini = stop) {
        char *out = NULL, *err = NULL;
        int r;

        setenv("VFBROKER_VF5_ADDRESS", "stale", 1);
        r = ctl(&out, &err, "run", "--tenant", "acme", "--count", "2", "--numa-node", "1", "--",
                "/bin/sh", "-c", run_check, "sh", "arg-one", NULL);
        cr_assert_eq(r, 0, "check failed with %d: %s", r, err);
        cr_assert_str_eq(out, "ok\n");
        cr_assert(log_has("AcquireVF tenant=acme pf=- numa=1\n"));
        cr_assert(log_has("ReleaseVF lease0\n"));
        cr_assert(log_has("ReleaseVF lease1\n"));
        free(out);
        free(err);
}

Test(run, exit_status_passes_through, .init = start, .fini = stop) {
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", "--", "/bin/sh", "-c", "exit 7", NULL), 7);
        cr_assert(log_has("ReleaseVF lease0\n"));
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", "--", "/bin/sh", "-c", "kill -TERM $$", NULL), 128 + SIGTERM);
        cr_assert(log_has("ReleaseVF lease1\n"));
        cr_assert_eq(ctl(NULL, NULL, "run", "--tenant", "acme", "--", "/nonexistent-vfbroker-cmd", NULL), 127);
        cr_assert(log_has("ReleaseVF lease2\n"));
}

Test(run, partial_acquire_releases_and_does_not_run, .init = start, .fini = stop) {
        char marker[200], *err = NULL;
        struct stat st;

        snprintf(marker, sizeof(marker), "%s/ran", fake.dir);
        cr_assert_eq(ctl(NULL, &err, "run", "--tenant", "one-only", "--count", "2", "--",
                         "/usr/bin/touch", marker, NULL), 4);
        cr_assert_not_null(strstr(err, "VF 2 of 2"));
        cr_assert(log_has("ReleaseVF lease0\n"));
        cr_assert_neq(stat(marker, &st), 0);
        free(err);
}

Test(run, forwards_sigterm, .init = start, .fini = stop) {
        char *argv[] = {
                (char *) ctl_path(), (char *) "run", (char *) "--tenant", (char *) "acme", (char *) "--",
                (char *) "/bin/sh", (char *) "-c",
                (char *) "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done", NULL,
        };
        char buf[8] = "";
        int out, err;
        pid_t pid;

        pid = spawn(argv, NULL, &out, &err);
        cr_assert_eq(read(out, buf, 6), 6);
        cr_assert_str_eq(buf, "ready\n");
        cr_assert_eq(kill(pid, SIGTERM), 0);
        cr_assert_eq(wait_status(pid), 42);
        cr_assert(log_has("ReleaseVF lease0\n"));
        close(out);
        close(err);
}

/* The iommufd path: fd 3 the iommufd, 4 and 5 the cdevs, nothing else; and
 * --qemu appends QEMU's words, which also land in VFBROKER_QEMU_ARGS. */
static const char run_iommufd_check[] =
        "fail() { echo \"$2\" >&2; exit $1; }\n"
        "name() { readlink /proc/$$/fd/$1; }\n"
        "case \"$(name 3)\" in /memfd:iommufd*) ;; *) fail 10 \"fd 3: $(name 3)\";; esac\n"
        "case \"$(name 4)\" in /memfd:cdev*) ;; *) fail 11 \"fd 4: $(name 4)\";; esac\n"
        "case \"$(name 5)\" in /memfd:cdev*) ;; *) fail 12 \"fd 5: $(name 5)\";; esac\n"
        "for fd in 6 7 8 9 10 11 12 13 14 15 16; do\n"
        "  [ -e /proc/$$/fd/$fd ] && fail 16 \"fd $fd leaked: $(name $fd)\"\n"
        "done\n"
        "[ \"$VFBROKER_API $VFBROKER_IOMMUFD_FD $VFBROKER_VF_COUNT\" = 'iommufd 3 2' ] || fail 20 \"api=$VFBROKER_API\"\n"
        "[ \"$VFBROKER_VF0_DEVICE_FD $VFBROKER_VF1_DEVICE_FD\" = '4 5' ] || fail 21 devfds\n"
        "[ -z \"$VFBROKER_VF0_CONTAINER_FD$VFBROKER_VF0_GROUP_FD\" ] || fail 22 'container/group variables on the iommufd path'\n"
        "[ \"$VFBROKER_VF0_LEASE $VFBROKER_VF1_LEASE\" = 'lease0 lease1' ] || fail 23 leases\n"
        "echo \"args: $*\"\n"
        "echo \"env: $VFBROKER_QEMU_ARGS\"\n";

Test(run, iommufd_fds_and_environment, .init = start, .fini = stop) {
        char *out = NULL, *err = NULL;
        int r;

        setenv("VFBROKER_QEMU_ARGS", "stale", 1);
        r = ctl(&out, &err, "run", "--tenant", "acme", "--count", "2", "--api", "iommufd", "--",
                "/bin/sh", "-c", run_iommufd_check, "sh", "arg-one", NULL);
        unsetenv("VFBROKER_QEMU_ARGS");
        cr_assert_eq(r, 0, "check failed with %d: %s", r, err);
        cr_assert_str_eq(out, "args: arg-one\nenv: \n", "%s", out);
        cr_assert(log_has("AcquireVF tenant=acme pf=- numa=-1 api=iommufd\n"));
        cr_assert(log_has("ReleaseVF lease1\n"));
        free(out);
        free(err);
}

Test(run, qemu_appends_the_arguments_for_every_vf, .init = start, .fini = stop) {
        static const char words[] =
                "-object iommufd,id=vfbroker-iommufd,fd=3 "
                "-device vfio-pci,iommufd=vfbroker-iommufd,fd=4,id=vfbroker-vf0 "
                "-device vfio-pci,iommufd=vfbroker-iommufd,fd=5,id=vfbroker-vf1";
        char *out = NULL, *err = NULL, expect[512];
        int r;

        r = ctl(&out, &err, "run", "--tenant", "acme", "--count", "2", "--qemu", "--",
                "/bin/sh", "-c", run_iommufd_check, "sh", "-M", "q35", NULL);
        cr_assert_eq(r, 0, "check failed with %d: %s", r, err);
        snprintf(expect, sizeof expect, "args: -M q35 %s\nenv: %s\n", words, words);
        cr_assert_str_eq(out, expect);
        cr_assert(log_has("AcquireVF tenant=acme pf=- numa=-1 api=iommufd\n"));
        free(out);
        free(err);
}

Test(run, iommufd_refusal_names_the_reason_and_runs_nothing, .init = start, .fini = stop) {
        char *err = NULL;

        cr_assert_eq(ctl(NULL, &err, "run", "--tenant", "nocdev", "--qemu", "--", "/bin/sh", "-c", "echo ran", NULL), 1);
        cr_assert_not_null(strstr(err, "NotSupported"), "%s", err);
        cr_assert_not_null(strstr(err, "IOMMUFD"), "%s", err);
        free(err);
}
