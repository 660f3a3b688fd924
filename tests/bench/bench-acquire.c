/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-acquire: what the broker costs. Measures in one run, on one PF
 * dedicated to a tenant, the median time of
 *   broker-root     AcquireVF as root (RootSkipsPolkit: no polkit check)
 *   broker-user     AcquireVF as an unprivileged uid (one polkit check)
 *   direct          root opening the same VF with the same ioctls
 *   direct+polkit   the same plus one CheckAuthorization round trip
 * and prints the ratios. Numbers only: nothing here passes or fails on time. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>
#include <vfbroker/vfbroker.h>

#define ITERATIONS_MAX 100000

static const char *arg_tenant = "bench";
static const char *arg_pf;
static unsigned arg_iterations = 50;
static uid_t arg_uid = 65534;

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
        qsort(v, n, sizeof *v, compare_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Acquire + close + release, n times; fills times[] with the acquire round
 * trips (closing, which resets the VF, and releasing are not timed). */
static int bench_broker(double *times, unsigned n) {
        VfbrokerAcquireOptions opts = VFBROKER_ACQUIRE_OPTIONS_INIT;
        VfbrokerConnection *c = NULL;
        int r;

        opts.physical_function = arg_pf;
        r = vfbroker_connect(NULL, &c);
        if (r < 0) {
                fprintf(stderr, "cannot connect to the broker: %s\n", strerror(-r));
                return r;
        }
        for (unsigned i = 0; i < n; i++) {
                VfbrokerVf *vf = NULL;
                char *lease;
                double t0 = now_us();

                r = vfbroker_acquire(c, arg_tenant, &opts, &vf);
                times[i] = now_us() - t0;
                if (r < 0) {
                        fprintf(stderr, "acquire %u failed: %s\n", i, vfbroker_last_error(c));
                        break;
                }
                lease = strdup(vf->lease);
                vfbroker_vf_free(vf);
                r = vfbroker_release(c, lease);
                free(lease);
                if (r < 0) {
                        fprintf(stderr, "release %u failed: %s\n", i, vfbroker_last_error(c));
                        break;
                }
        }
        vfbroker_disconnect(c);
        return r < 0 ? r : 0;
}

/* The same in a child running as arg_uid; times come back through a pipe. */
static int bench_broker_as_user(double *times, unsigned n) {
        int p[2], status;
        pid_t pid;

        if (pipe(p) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                close(p[0]);
                if (setgroups(0, NULL) < 0 || setgid(arg_uid) < 0 || setuid(arg_uid) < 0)
                        _exit(2);
                if (bench_broker(times, n) < 0)
                        _exit(1);
                if (write(p[1], times, n * sizeof *times) != (ssize_t) (n * sizeof *times))
                        _exit(3);
                _exit(0);
        }
        close(p[1]);
        size_t got = 0, want = n * sizeof *times;
        while (got < want) {
                ssize_t k = read(p[0], (char *) times + got, want - got);
                if (k <= 0)
                        break;
                got += (size_t) k;
        }
        close(p[0]);
        waitpid(pid, &status, 0);
        return got == want && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

typedef struct DirectFds {
        int container, group, device;
} DirectFds;

static void direct_close(DirectFds *f) {
        /* Closing the last fd resets the VF (vfio_pci_core_disable); that is
         * outside the timed part, as the broker's clients close after the call. */
        if (f->device >= 0)
                close(f->device);
        if (f->group >= 0)
                close(f->group);
        if (f->container >= 0)
                close(f->container);
        *f = (DirectFds) { -1, -1, -1 };
}

/* Root doing what the broker does for one acquire: container, group, IOMMU, device with token. */
static int open_direct(unsigned group, const char *bdf, const char *token, DirectFds *f) {
        char path[64], name[128];

        *f = (DirectFds) { -1, -1, -1 };
        f->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (f->container < 0)
                return -errno;
        snprintf(path, sizeof path, "/dev/vfio/%u", group);
        f->group = open(path, O_RDWR | O_CLOEXEC);
        if (f->group < 0)
                return -errno;
        snprintf(name, sizeof name, "%s vf_token=%s", bdf, token);
        if (ioctl(f->group, VFIO_GROUP_SET_CONTAINER, &f->container) < 0 ||
            ioctl(f->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0 ||
            (f->device = ioctl(f->group, VFIO_GROUP_GET_DEVICE_FD, name)) < 0)
                return -errno;
        return 0;
}

static int check_authorization(sd_bus *bus) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        int r, authorized = 0, challenge = 0;

        r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sa{sv})sa{ss}us", "unix-process", 3,
                                          "pid", "u", (uint32_t) getpid(),
                                          "start-time", "t", (uint64_t) 0,
                                          "uid", "i", (int32_t) arg_uid,
                                          "org.vfbroker.acquire-vf", 1, "tenant", arg_tenant, 0, "");
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                fprintf(stderr, "CheckAuthorization failed: %s\n", error.message ? error.message : strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        return r;
}

static int find_free_vf(VfbrokerConnection *c, unsigned *ret_group, char **ret_address) {
        VfbrokerVfInfo **vfs = NULL;
        size_t n = 0;
        int r;

        r = vfbroker_list_vfs(c, &vfs, &n);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (size_t i = 0; i < n; i++)
                if (strcmp(vfs[i]->physical_function, arg_pf) == 0 && strcmp(vfs[i]->state, "free") == 0) {
                        *ret_group = vfs[i]->iommu_group;
                        *ret_address = strdup(vfs[i]->address);
                        r = 0;
                        break;
                }
        vfbroker_vf_list_free(vfs);
        return r;
}

static int bench_direct(double *times, double *times_polkit, unsigned n) {
        VfbrokerConnection *c = NULL;
        sd_bus *bus = NULL;
        char *token = NULL, *address = NULL;
        unsigned group = 0;
        int r;

        r = vfbroker_connect(NULL, &c);
        if (r < 0)
                return r;
        r = vfbroker_tenant_get_token(c, arg_tenant, &token);
        if (r < 0) {
                fprintf(stderr, "cannot read the token of '%s' (it needs a dedicated PF): %s\n", arg_tenant,
                        vfbroker_last_error(c));
                goto finish;
        }
        r = find_free_vf(c, &group, &address);
        if (r < 0) {
                fprintf(stderr, "no free VF on %s\n", arg_pf);
                goto finish;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "cannot connect to the system bus: %s\n", strerror(-r));
                goto finish;
        }
        for (unsigned i = 0; i < n && r >= 0; i++) {
                DirectFds f;
                double t0 = now_us();

                r = open_direct(group, address, token, &f);
                times[i] = now_us() - t0;
                direct_close(&f);
                if (r < 0)
                        break;
                t0 = now_us();
                r = check_authorization(bus);
                if (r >= 0)
                        r = open_direct(group, address, token, &f);
                times_polkit[i] = now_us() - t0;
                direct_close(&f);
        }
        if (r < 0)
                fprintf(stderr, "direct open of %s failed: %s\n", address, strerror(-r));
finish:
        sd_bus_flush_close_unref(bus);
        free(token);
        free(address);
        vfbroker_disconnect(c);
        return r < 0 ? r : 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "tenant", required_argument, NULL, 't' },
                { "pf", required_argument, NULL, 'p' },
                { "iterations", required_argument, NULL, 'n' },
                { "uid", required_argument, NULL, 'u' },
                { NULL, 0, NULL, 0 },
        };
        double *root_t, *user_t, *direct_t, *direct_pk_t;
        int c;

        while ((c = getopt_long(argc, argv, "ht:p:n:u:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        printf("Usage: bench-acquire --pf BDF [--tenant T] [--iterations N] [--uid UID]\n"
                               "Run as root next to a running vfbrokerd. The PF must be dedicated to the\n"
                               "tenant (the direct opens need its token), the tenant must admit root and\n"
                               "UID, and polkit must allow UID org.vfbroker.acquire-vf.\n");
                        return 0;
                case 't':
                        arg_tenant = optarg;
                        break;
                case 'p':
                        arg_pf = optarg;
                        break;
                case 'n':
                        arg_iterations = (unsigned) strtoul(optarg, NULL, 10);
                        if (arg_iterations < 1 || arg_iterations > ITERATIONS_MAX) {
                                fprintf(stderr, "--iterations must be 1..%d\n", ITERATIONS_MAX);
                                return 2;
                        }
                        break;
                case 'u':
                        arg_uid = (uid_t) strtoul(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }
        if (!arg_pf) {
                fprintf(stderr, "--pf BDF is required; see --help\n");
                return 2;
        }

        root_t = calloc(arg_iterations, sizeof(double));
        user_t = calloc(arg_iterations, sizeof(double));
        direct_t = calloc(arg_iterations, sizeof(double));
        direct_pk_t = calloc(arg_iterations, sizeof(double));
        if (!root_t || !user_t || !direct_t || !direct_pk_t)
                return 1;

        if (bench_broker(root_t, arg_iterations) < 0 || bench_broker_as_user(user_t, arg_iterations) < 0 ||
            bench_direct(direct_t, direct_pk_t, arg_iterations) < 0)
                return 1;

        double mr = median(root_t, arg_iterations), mu = median(user_t, arg_iterations);
        double md = median(direct_t, arg_iterations), mdp = median(direct_pk_t, arg_iterations);
        printf("bench-acquire: %u iterations on %s, kernel medians in microseconds\n", arg_iterations, arg_pf);
        printf("  direct (root, same ioctls)       %10.1f\n", md);
        printf("  direct + one polkit check        %10.1f\n", mdp);
        printf("  broker AcquireVF, root, no polkit %9.1f   ratio to direct        %.2f\n", mr, mr / md);
        printf("  broker AcquireVF, uid %u, polkit %8.1f   ratio to direct+polkit %.2f\n", (unsigned) arg_uid, mu, mu / mdp);
        free(root_t);
        free(user_t);
        free(direct_t);
        free(direct_pk_t);
        return 0;
}
