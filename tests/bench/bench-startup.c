/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-startup: what the real vfbrokerd costs at scale on a fixture tree of
 * PFs x VFs (fixture-tree.c), with vfio-shim.so answering the VFIO ioctls:
 *   start-up   exec to READY=1 on a NOTIFY_SOCKET this program listens on
 *              (what systemd waits for), per PF count, median of --runs;
 *   list       ListVirtualFunctions round trip from a raw D-Bus client (write
 *              of the call to the last byte of the reply), the reply's size,
 *              and the daemon's Private_Dirty (smaps_rollup) idle, after one
 *              list and after --lists lists;
 *   config     vfbrokerd --check-config on 16 and on 4,096 sections.
 * Numbers only: nothing here passes or fails on time. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "fixture-tree.h"

#define SIZES_MAX 16
#define RUNS_MAX 1000
#define LISTS_MAX 10000
#define READY_TIMEOUT_MS 120000

static const char *arg_vfbrokerd;
static const char *arg_shim;
static const char *arg_dir;
static unsigned arg_sizes[SIZES_MAX] = { 0, 1, 4, 16, 64 };
static size_t arg_n_sizes = 5;
static unsigned arg_vfs = 256;
static unsigned arg_runs = 9;
static unsigned arg_lists = 40;
static bool arg_keep;

static char bench_dir[PATH_MAX];

static double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int compare_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof *v, compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fprintf(stderr, "bench-startup: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

static void pathf(char buf[static PATH_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char buf[static PATH_MAX], const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, PATH_MAX, fmt, ap);
        va_end(ap);
        if (n < 0 || n >= PATH_MAX)
                die("path too long");
}

static void mkdir_or_die(const char *path) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                die("mkdir %s: %s", path, strerror(errno));
}

static FILE *fopen_or_die(const char *path) {
        FILE *f = fopen(path, "we");

        if (!f)
                die("cannot write %s: %s", path, strerror(errno));
        return f;
}

static void fclose_or_die(FILE *f, const char *path) {
        if (fclose(f) != 0)
                die("cannot write %s: %s", path, strerror(errno));
}

/* ---- the daemon ---- */

typedef struct Daemon {
        pid_t pid;
        int notify_fd;
        char socket_path[PATH_MAX];
        char log_path[PATH_MAX];
} Daemon;

static int notify_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof sa.sun_path)
                die("notify socket path %s is too long", path);
        strcpy(sa.sun_path, path);
        (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                die("notify socket %s: %s", path, strerror(errno));
        return fd;
}

/* Reads every waiting notification; closes the fds that come with FDSTORE=1.
 * Returns true if one of them said READY=1. */
static bool notify_drain(int fd) {
        bool ready = false;

        for (;;) {
                char buf[4096];
                union {
                        struct cmsghdr h;
                        uint8_t b[CMSG_SPACE(sizeof(int) * 64)];
                } control;
                struct iovec iov = { buf, sizeof buf - 1 };
                struct msghdr mh = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = &control,
                        .msg_controllen = sizeof control,
                };
                ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ready;
                }
                for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                                int fds[64];

                                memcpy(fds, CMSG_DATA(c), k * sizeof(int));
                                for (size_t i = 0; i < k; i++)
                                        close(fds[i]);
                        }
                buf[n] = '\0';
                for (char *line = buf; line && *line;) {
                        char *next = strchr(line, '\n');

                        if (next)
                                *next++ = '\0';
                        if (strcmp(line, "READY=1") == 0)
                                ready = true;
                        line = next;
                }
        }
}

static void print_log_tail(const Daemon *d) {
        char cmd[PATH_MAX + 32];

        fprintf(stderr, "--- %s ---\n", d->log_path);
        snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", d->log_path);
        (void) system(cmd);
}

static void append_env(const char *name, const char *value) {
        const char *old = getenv(name);
        char buf[4096];

        snprintf(buf, sizeof buf, "%s%s%s", old && *old ? old : "", old && *old ? ":" : "", value);
        setenv(name, buf, 1);
}

/* Time pid has run on a CPU so far, in µs (/proc/PID/schedstat, in ns):
 * unlike the wall clock, the other load on the machine does not change it. */
static double cpu_us(pid_t pid) {
        char path[64];
        unsigned long long ns = 0;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/schedstat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        if (fscanf(f, "%llu", &ns) != 1)
                ns = 0;
        fclose(f);
        return (double) ns / 1e3;
}

/* Starts vfbrokerd on config dir conf (vfbroker.conf + vfbroker.conf.d) and
 * state dir state; returns the microseconds from fork() to READY=1, and in
 * *ret_cpu_us the CPU time the daemon used until then. */
static double daemon_start(Daemon *d, const char *conf, const char *state, const char *tag, double *ret_cpu_us) {
        char a[8][PATH_MAX], notify_path[PATH_MAX];
        double t0, t;
        int status;

        pathf(notify_path, "%s/notify", bench_dir);
        pathf(d->socket_path, "%s/bus-%s", bench_dir, tag);
        pathf(d->log_path, "%s/vfbrokerd-%s.log", bench_dir, tag);
        d->notify_fd = notify_socket(notify_path);

        pathf(a[0], "--listen=%s", d->socket_path);
        pathf(a[1], "--state-dir=%s", state);
        pathf(a[2], "--config=%s/vfbroker.conf", conf);
        pathf(a[3], "--config-dir=%s/vfbroker.conf.d", conf);
        pathf(a[4], "--sysfs-root=%s/tree/root", bench_dir);
        pathf(a[5], "--dev-root=%s/tree/dev", bench_dir);

        t0 = now_us();
        d->pid = fork();
        if (d->pid < 0)
                die("fork: %s", strerror(errno));
        if (d->pid == 0) {
                char *argv[] = { (char *) arg_vfbrokerd, a[0], a[1], a[2], a[3], a[4], a[5], NULL };
                int fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                if (fd >= 0) {
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                setenv("NOTIFY_SOCKET", notify_path, 1);
                unsetenv("LISTEN_FDS");
                unsetenv("LISTEN_PID");
                unsetenv("LISTEN_FDNAMES");
                unsetenv("JOURNAL_STREAM");
                /* Polkit is never asked here; keep the daemon off the host's bus. */
                pathf(a[7], "unix:path=%s/no-system-bus", bench_dir);
                setenv("DBUS_SYSTEM_BUS_ADDRESS", a[7], 1);
                append_env("LD_PRELOAD", arg_shim);
                /* A sanitized daemon: its runtime is not first with the shim preloaded. */
                append_env("ASAN_OPTIONS", "verify_asan_link_order=0");
                execv(arg_vfbrokerd, argv);
                _exit(127);
        }

        for (;;) {
                struct pollfd p = { .fd = d->notify_fd, .events = POLLIN };
                int k = poll(&p, 1, 50);

                if (k > 0 && notify_drain(d->notify_fd)) {
                        t = now_us() - t0;
                        if (ret_cpu_us)
                                *ret_cpu_us = cpu_us(d->pid);
                        return t;
                }
                if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
                        print_log_tail(d);
                        die("vfbrokerd exited during start-up (status 0x%x)", (unsigned) status);
                }
                t = now_us() - t0;
                if (t > READY_TIMEOUT_MS * 1000.0) {
                        print_log_tail(d);
                        die("vfbrokerd sent no READY=1 within %u s", READY_TIMEOUT_MS / 1000);
                }
        }
}

static void daemon_stop(Daemon *d) {
        int status;

        if (d->pid > 0) {
                kill(d->pid, SIGTERM);
                for (int i = 0; i < 1000; i++) {
                        (void) notify_drain(d->notify_fd);
                        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
                                d->pid = 0;
                                break;
                        }
                        usleep(10000);
                }
                if (d->pid > 0) {
                        kill(d->pid, SIGKILL);
                        waitpid(d->pid, NULL, 0);
                        d->pid = 0;
                }
        }
        if (d->notify_fd >= 0)
                close(d->notify_fd);
        d->notify_fd = -1;
}

/* Private_Dirty of the whole process, in kB (-1 if unreadable). */
static long private_dirty_kb(pid_t pid) {
        char path[64], line[256];
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "Private_Dirty: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

/* ---- a raw D-Bus client: exact reply sizes, no client-side parsing ---- */

static void write_all(int fd, const void *buf, size_t n) {
        const uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        die("write to vfbrokerd: %s", strerror(errno));
                p += k;
                n -= (size_t) k;
        }
}

static void read_all(int fd, void *buf, size_t n) {
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = read(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k == 0)
                        die("vfbrokerd closed the connection");
                if (k < 0)
                        die("read from vfbrokerd: %s", strerror(errno));
                p += k;
                n -= (size_t) k;
        }
}

static int dbus_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char uid[16], auth[64], line[256];
        size_t n = 0;
        int fd;

        if (strlen(path) >= sizeof sa.sun_path)
                die("socket path %s is too long", path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                die("connect %s: %s", path, strerror(errno));

        snprintf(uid, sizeof uid, "%u", (unsigned) getuid());
        n = (size_t) snprintf(auth, sizeof auth, "%cAUTH EXTERNAL ", 0);
        for (const char *c = uid; *c; c++)
                n += (size_t) snprintf(auth + n, sizeof auth - n, "%02x", (unsigned) (unsigned char) *c);
        n += (size_t) snprintf(auth + n, sizeof auth - n, "\r\n");
        write_all(fd, auth, n);

        for (n = 0; n + 1 < sizeof line;) {
                read_all(fd, line + n, 1);
                if (line[n++] == '\n')
                        break;
        }
        line[n] = '\0';
        if (strncmp(line, "OK ", 3) != 0)
                die("vfbrokerd refused the authentication: %s", line);
        write_all(fd, "BEGIN\r\n", 7);

        /* Let the daemon consume BEGIN before the first call arrives, so the
         * two never share one read (issue 7 item 8: such a call may wait). */
        for (int i = 0; i < 1000; i++) {
                int queued = 0;

                if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued == 0)
                        break;
                usleep(1000);
        }
        return fd;
}

static size_t align_to(size_t n, size_t a) {
        return (n + a - 1) / a * a;
}

static size_t put_field(uint8_t *buf, size_t n, uint8_t code, char type, const char *value) {
        uint32_t len = (uint32_t) strlen(value);

        n = align_to(n, 8);
        buf[n++] = code;
        buf[n++] = 1;
        buf[n++] = (uint8_t) type;
        buf[n++] = 0;
        n = align_to(n, 4);
        memcpy(buf + n, &len, 4);
        n += 4;
        memcpy(buf + n, value, len + 1);
        return n + len + 1;
}

/* A METHOD_CALL without arguments, little-endian. */
static size_t build_call(uint8_t buf[static 512], uint32_t serial, const char *member) {
        uint32_t zero = 0, fields;
        size_t n;

        memset(buf, 0, 512);
        buf[0] = 'l';
        buf[1] = 1; /* METHOD_CALL */
        buf[2] = 0;
        buf[3] = 1;
        memcpy(buf + 4, &zero, 4);
        memcpy(buf + 8, &serial, 4);
        n = 16;
        n = put_field(buf, n, 1, 'o', "/org/vfbroker/Broker1");
        n = put_field(buf, n, 2, 's', "org.vfbroker.Broker1");
        n = put_field(buf, n, 3, 's', member);
        fields = (uint32_t) (n - 16);
        memcpy(buf + 12, &fields, 4);
        return align_to(n, 8);
}

/* One call; returns the round trip in µs and the reply's size in bytes. */
static double dbus_call(int fd, uint32_t serial, const char *member, size_t *ret_size) {
        static uint8_t *reply;
        static size_t reply_size;
        uint8_t call[512];
        uint32_t body, fields;
        size_t n = build_call(call, serial, member), total;
        double t0 = now_us();

        write_all(fd, call, n);
        read_all(fd, call, 16);
        if (call[0] != 'l')
                die("vfbrokerd replied big-endian; this client reads only little-endian");
        memcpy(&body, call + 4, 4);
        memcpy(&fields, call + 12, 4);
        total = 16 + align_to(fields, 8) + body;
        if (total > reply_size) {
                free(reply);
                reply = malloc(total);
                if (!reply)
                        die("out of memory");
                reply_size = total;
        }
        read_all(fd, reply, total - 16);
        if (call[1] != 2)
                die("%s failed (message type %u)", member, call[1]);
        *ret_size = total;
        return now_us() - t0;
}

/* ---- the runs ---- */

static void write_config(const char *conf, unsigned n_pfs) {
        char path[PATH_MAX];
        FILE *f;

        mkdir_or_die(conf);
        pathf(path, "%s/vfbroker.conf.d", conf);
        mkdir_or_die(path);
        pathf(path, "%s/vfbroker.conf", conf);
        f = fopen_or_die(path);
        fprintf(f, "[Broker]\nRootSkipsPolkit=yes\n");
        for (unsigned i = 0; i < n_pfs; i++) {
                char a[FIXTURE_TREE_ADDRESS_MAX];

                fixture_tree_pf_address(i, a);
                fprintf(f, "\n[PhysicalFunction]\nAddress=%s\nNumVFs=%u\nDriver=vfio-pci\n", a, arg_vfs);
        }
        fclose_or_die(f, path);
}

typedef struct SizeResult {
        unsigned n_pfs;
        double ready_us;
        double cpu_us;
        double list_us;
        size_t reply_bytes;
        long mem_idle_kb, mem_one_kb, mem_after_kb;
} SizeResult;

static void bench_size(SizeResult *res) {
        char conf[PATH_MAX], state[PATH_MAX], tag[32];
        double *ready = calloc(arg_runs, sizeof(double));
        double *cpu = calloc(arg_runs, sizeof(double));
        double *lists = calloc(arg_lists, sizeof(double));
        Daemon d = { .notify_fd = -1 };
        size_t size = 0;
        int fd;

        if (!ready || !cpu || !lists)
                die("out of memory");
        snprintf(tag, sizeof tag, "%u", res->n_pfs);
        pathf(conf, "%s/conf-%u", bench_dir, res->n_pfs);
        pathf(state, "%s/state-%u", bench_dir, res->n_pfs);
        write_config(conf, res->n_pfs);

        /* The first start creates state.db and every PF's token: not counted. */
        (void) daemon_start(&d, conf, state, tag, NULL);
        daemon_stop(&d);
        for (unsigned r = 0; r < arg_runs; r++) {
                ready[r] = daemon_start(&d, conf, state, tag, &cpu[r]);
                daemon_stop(&d);
        }
        res->ready_us = median(ready, arg_runs);
        res->cpu_us = median(cpu, arg_runs);

        (void) daemon_start(&d, conf, state, tag, NULL);
        fd = dbus_connect(d.socket_path);
        (void) notify_drain(d.notify_fd);
        res->mem_idle_kb = private_dirty_kb(d.pid);
        for (unsigned i = 0; i < arg_lists; i++) {
                lists[i] = dbus_call(fd, i + 1, "ListVirtualFunctions", &size);
                (void) notify_drain(d.notify_fd);
                if (i == 0)
                        res->mem_one_kb = private_dirty_kb(d.pid);
        }
        res->mem_after_kb = private_dirty_kb(d.pid);
        res->reply_bytes = size;
        res->list_us = median(lists, arg_lists);
        close(fd);
        daemon_stop(&d);
        free(ready);
        free(cpu);
        free(lists);
}

/* --check-config on n sections: [Broker], then half PFs and the rest
 * tenants, all distinct (n is at most the parser's limit of 4,096). */
static double bench_check_config(unsigned n) {
        char conf[PATH_MAX], path[PATH_MAX], a1[PATH_MAX], a2[PATH_MAX];
        double *t = calloc(arg_runs, sizeof(double));
        double result;
        FILE *f;

        if (!t)
                die("out of memory");
        pathf(conf, "%s/check-%u", bench_dir, n);
        mkdir_or_die(conf);
        pathf(path, "%s/vfbroker.conf.d", conf);
        mkdir_or_die(path);
        pathf(path, "%s/vfbroker.conf", conf);
        f = fopen_or_die(path);
        fprintf(f, "[Broker]\nMaxTenants=%u\n\n", n);
        for (unsigned i = 0; i < n / 2; i++)
                fprintf(f, "[PhysicalFunction]\nAddress=%04x:%02x:%02x.%x\nNumVFs=1\n\n",
                        i >> 16, (i >> 8) & 0xff, (i >> 3) & 0x1f, i & 7);
        for (unsigned i = 0; i + 1 < n - n / 2; i++)
                fprintf(f, "[Tenant]\nName=tenant-%u\n\n", i);
        fclose_or_die(f, path);

        pathf(a1, "--config=%s/vfbroker.conf", conf);
        pathf(a2, "--config-dir=%s/vfbroker.conf.d", conf);
        for (unsigned r = 0; r < arg_runs; r++) {
                char *argv[] = { (char *) arg_vfbrokerd, (char *) "--check-config", a1, a2, NULL };
                double t0 = now_us();
                int status;
                pid_t pid = fork();

                if (pid < 0)
                        die("fork: %s", strerror(errno));
                if (pid == 0) {
                        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                        if (null >= 0)
                                dup2(null, STDOUT_FILENO);
                        execv(arg_vfbrokerd, argv);
                        _exit(127);
                }
                if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        die("vfbrokerd --check-config failed on %s", path);
                t[r] = now_us() - t0;
        }
        result = median(t, arg_runs);
        free(t);
        return result;
}

static void parse_sizes(const char *s) {
        char *copy = strdup(s), *save = NULL;

        arg_n_sizes = 0;
        for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
                char *end;
                unsigned long v = strtoul(w, &end, 10);

                if (*end || v > FIXTURE_TREE_PFS_MAX || arg_n_sizes >= SIZES_MAX)
                        die("--sizes takes up to %u PF counts of at most %u, comma separated", SIZES_MAX,
                            FIXTURE_TREE_PFS_MAX);
                arg_sizes[arg_n_sizes++] = (unsigned) v;
        }
        free(copy);
}

static unsigned parse_count(const char *s, unsigned max, const char *what) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (!*s || *end || v < 1 || v > max)
                die("%s must be between 1 and %u", what, max);
        return (unsigned) v;
}

static void help(void) {
        printf("Usage: bench-startup [OPTIONS]\n"
               "  --vfbrokerd PATH   the daemon (default $VFBROKERD)\n"
               "  --shim PATH        vfio-shim.so (default $VFBROKER_BENCH_SHIM)\n"
               "  --sizes LIST       PF counts, comma separated (default 0,1,4,16,64)\n"
               "  --vfs N            VFs per PF (default 256)\n"
               "  --runs N           start-ups per size, median printed (default 9)\n"
               "  --lists N          ListVirtualFunctions calls per size (default 40)\n"
               "  --dir DIR          where the fixture goes (default /dev/shm, else $TMPDIR or /tmp)\n"
               "  --keep             keep the fixture and the daemon logs\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "vfbrokerd", required_argument, NULL, 'd' },
                { "shim", required_argument, NULL, 's' },
                { "sizes", required_argument, NULL, 'S' },
                { "vfs", required_argument, NULL, 'v' },
                { "runs", required_argument, NULL, 'r' },
                { "lists", required_argument, NULL, 'l' },
                { "dir", required_argument, NULL, 'D' },
                { "keep", no_argument, NULL, 'k' },
                { NULL, 0, NULL, 0 },
        };
        SizeResult res[SIZES_MAX] = { { 0 } };
        unsigned max_pfs = 0;
        char tree[PATH_MAX];
        double t0, base_cpu_us = -1;
        struct stat st;
        int c, r;

        arg_vfbrokerd = getenv("VFBROKERD");
        arg_shim = getenv("VFBROKER_BENCH_SHIM");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'd':
                        arg_vfbrokerd = optarg;
                        break;
                case 's':
                        arg_shim = optarg;
                        break;
                case 'S':
                        parse_sizes(optarg);
                        break;
                case 'v':
                        arg_vfs = parse_count(optarg, FIXTURE_TREE_VFS_MAX, "--vfs");
                        break;
                case 'r':
                        arg_runs = parse_count(optarg, RUNS_MAX, "--runs");
                        break;
                case 'l':
                        arg_lists = parse_count(optarg, LISTS_MAX, "--lists");
                        break;
                case 'D':
                        arg_dir = optarg;
                        break;
                case 'k':
                        arg_keep = true;
                        break;
                default:
                        return 2;
                }
        if (!arg_vfbrokerd || !arg_shim)
                die("set --vfbrokerd and --shim (or $VFBROKERD and $VFBROKER_BENCH_SHIM; meson does)");
        if (!arg_dir)
                arg_dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                          : getenv("TMPDIR")                                  ? getenv("TMPDIR")
                                                                              : "/tmp";
        /* A relative LD_PRELOAD would be looked up from the daemon's cwd. */
        if (arg_shim[0] != '/' || arg_vfbrokerd[0] != '/')
                die("--vfbrokerd and --shim must be absolute paths");

        pathf(bench_dir, "%s/vfb-bench-XXXXXX", arg_dir);
        if (!mkdtemp(bench_dir))
                die("mkdtemp %s: %s", bench_dir, strerror(errno));
        for (size_t i = 0; i < arg_n_sizes; i++)
                if (arg_sizes[i] > max_pfs)
                        max_pfs = arg_sizes[i];

        pathf(tree, "%s/tree", bench_dir);
        mkdir_or_die(tree);
        t0 = now_us();
        r = fixture_tree_create(tree, max_pfs, arg_vfs);
        if (r < 0)
                die("cannot build the fixture in %s: %s", tree, strerror(-r));
        printf("fixture: %u PFs x %u VFs in %s (built in %.0f ms); each size configures the first N PFs\n", max_pfs,
               arg_vfs, tree, (now_us() - t0) / 1e3);
        printf("daemon: %s, VFIO ioctls answered by %s\n\n", arg_vfbrokerd, arg_shim);
        fflush(stdout);

        for (size_t i = 0; i < arg_n_sizes; i++) {
                res[i].n_pfs = arg_sizes[i];
                bench_size(&res[i]);
                if (res[i].n_pfs == 0)
                        base_cpu_us = res[i].cpu_us;
        }

        printf("start-up: fork+exec to READY=1 on NOTIFY_SOCKET (wall clock), and the daemon's CPU time until then\n"
               "(/proc/PID/schedstat), medians of %u runs after one unmeasured first start\n",
               arg_runs);
        printf("%6s %7s %10s %8s %10s %8s %10s\n", "PFs", "VFs", "ready ms", "us/VF", "cpu ms", "us/VF", "cpu-0 us/VF");
        for (size_t i = 0; i < arg_n_sizes; i++) {
                unsigned vfs = res[i].n_pfs * arg_vfs;

                if (vfs == 0) {
                        printf("%6u %7u %10.1f %8s %10.1f %8s %10s\n", res[i].n_pfs, vfs, res[i].ready_us / 1e3, "-",
                               res[i].cpu_us / 1e3, "-", "-");
                        continue;
                }
                printf("%6u %7u %10.1f %8.2f %10.1f %8.2f", res[i].n_pfs, vfs, res[i].ready_us / 1e3,
                       res[i].ready_us / vfs, res[i].cpu_us / 1e3, res[i].cpu_us / vfs);
                if (base_cpu_us >= 0)
                        printf(" %10.2f", (res[i].cpu_us - base_cpu_us) / vfs);
                printf("\n");
        }

        printf("\nListVirtualFunctions: raw client, call written to last reply byte read, median of %u;\n"
               "Private_Dirty of vfbrokerd (smaps_rollup): idle, after 1 list, after %u lists\n",
               arg_lists, arg_lists);
        printf("%6s %7s %10s %12s %10s %10s %10s\n", "PFs", "VFs", "list ms", "reply bytes", "idle kB", "1 list kB",
               "after kB");
        for (size_t i = 0; i < arg_n_sizes; i++)
                printf("%6u %7u %10.2f %12zu %10ld %10ld %10ld\n", res[i].n_pfs, res[i].n_pfs * arg_vfs,
                       res[i].list_us / 1e3, res[i].reply_bytes, res[i].mem_idle_kb, res[i].mem_one_kb,
                       res[i].mem_after_kb);

        printf("\nvfbrokerd --check-config, median of %u runs\n", arg_runs);
        printf("%10s %10s\n", "sections", "ms");
        printf("%10u %10.1f\n", 16u, bench_check_config(16) / 1e3);
        printf("%10u %10.1f\n", 4096u, bench_check_config(4096) / 1e3);

        if (arg_keep)
                printf("\nkept: %s\n", bench_dir);
        else {
                char cmd[PATH_MAX + 16];

                snprintf(cmd, sizeof cmd, "rm -rf '%s'", bench_dir);
                (void) system(cmd);
        }
        return 0;
}
