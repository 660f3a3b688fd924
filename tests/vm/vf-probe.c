/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vf-probe: the VM suite's proof that VF fds work. Run by `vfbrokerctl run`, it
 * uses the fds it inherited; with --direct it opens a VF itself, as root would. */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VF_MAX 64
#define IOVA 0x100000ULL

static int n_fail;

static void result(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result(bool ok, const char *fmt, ...) {
        va_list ap;

        printf("%s - ", ok ? "ok" : "not ok");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        fflush(stdout);
        if (!ok)
                n_fail++;
}

static int env_fd(unsigned i, const char *what) {
        char name[64];
        const char *v;
        char *end;
        long fd;

        snprintf(name, sizeof(name), "VFBROKER_VF%u_%s", i, what);
        v = getenv(name);
        if (!v)
                return -ENOENT;
        errno = 0;
        fd = strtol(v, &end, 10);
        if (errno != 0 || *end != '\0' || fd < 0 || fd > 65535)
                return -EINVAL;
        return (int) fd;
}

/* The checks the suite asks of one VF: device info, region info, a config
 * space read, a DMA map and unmap through the container, a device reset. */
static void probe_vf(unsigned i, const char *addr, int container, int group, int device) {
        struct vfio_group_status gs = { .argsz = sizeof(gs) };
        struct vfio_device_info info = { .argsz = sizeof(info) };
        struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
        uint16_t ids[2] = { 0xffff, 0xffff };
        void *page;
        long psz = sysconf(_SC_PAGESIZE);

        if (ioctl(group, VFIO_GROUP_GET_STATUS, &gs) < 0)
                result(false, "VF%u %s: VFIO_GROUP_GET_STATUS on fd %d: %s", i, addr, group, strerror(errno));
        else
                result((gs.flags & VFIO_GROUP_FLAGS_VIABLE) && (gs.flags & VFIO_GROUP_FLAGS_CONTAINER_SET),
                       "VF%u %s: group viable and attached to its container (flags 0x%x)", i, addr, gs.flags);

        if (ioctl(device, VFIO_DEVICE_GET_INFO, &info) < 0)
                result(false, "VF%u %s: VFIO_DEVICE_GET_INFO on fd %d: %s", i, addr, device, strerror(errno));
        else
                result(info.flags & VFIO_DEVICE_FLAGS_PCI, "VF%u %s: VFIO_DEVICE_GET_INFO: PCI device, %u regions, %u irqs",
                       i, addr, info.num_regions, info.num_irqs);

        if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0) {
                result(false, "VF%u %s: VFIO_DEVICE_GET_REGION_INFO(config): %s", i, addr, strerror(errno));
        } else {
                result(reg.size >= 256, "VF%u %s: config region: size %" PRIu64 " at offset 0x%" PRIx64,
                       i, addr, (uint64_t) reg.size, (uint64_t) reg.offset);
                if (pread(device, ids, sizeof(ids), (off_t) reg.offset) != (ssize_t) sizeof(ids))
                        result(false, "VF%u %s: config space read: %s", i, addr, strerror(errno));
                else
                        result(ids[0] != 0xffff && ids[0] != 0, "VF%u %s: config space read: vendor 0x%04x device 0x%04x",
                               i, addr, ids[0], ids[1]);
        }

        page = mmap(NULL, (size_t) psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) {
                result(false, "VF%u %s: mmap of a DMA page: %s", i, addr, strerror(errno));
        } else {
                struct vfio_iommu_type1_dma_map map = {
                        .argsz = sizeof(map),
                        .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                        .vaddr = (uintptr_t) page,
                        .iova = IOVA,
                        .size = (uint64_t) psz,
                };
                struct vfio_iommu_type1_dma_unmap unmap = {
                        .argsz = sizeof(unmap),
                        .iova = IOVA,
                        .size = (uint64_t) psz,
                };

                memset(page, 0x5a, (size_t) psz);
                if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0) {
                        result(false, "VF%u %s: VFIO_IOMMU_MAP_DMA of one page on container fd %d: %s",
                               i, addr, container, strerror(errno));
                } else {
                        result(true, "VF%u %s: VFIO_IOMMU_MAP_DMA of one page at iova 0x%llx", i, addr, IOVA);
                        if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0)
                                result(false, "VF%u %s: VFIO_IOMMU_UNMAP_DMA: %s", i, addr, strerror(errno));
                        else
                                result(unmap.size == (uint64_t) psz, "VF%u %s: VFIO_IOMMU_UNMAP_DMA unmapped %" PRIu64 " bytes",
                                       i, addr, (uint64_t) unmap.size);
                }
                munmap(page, (size_t) psz);
        }

        if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
                result(false, "VF%u %s: the device offers no reset (flags 0x%x)", i, addr, info.flags);
        else if (ioctl(device, VFIO_DEVICE_RESET) < 0)
                result(false, "VF%u %s: VFIO_DEVICE_RESET: %s", i, addr, strerror(errno));
        else
                result(true, "VF%u %s: VFIO_DEVICE_RESET", i, addr);
}

static int probe_inherited(void) {
        const char *v = getenv("VFBROKER_VF_COUNT");
        char name[64];
        unsigned n;

        if (!v || sscanf(v, "%u", &n) != 1 || n == 0 || n > VF_MAX) {
                result(false, "VFBROKER_VF_COUNT is '%s': run me under `vfbrokerctl run`", v ? v : "(unset)");
                return -EINVAL;
        }
        printf("# %u VF(s) from the broker\n", n);
        for (unsigned i = 0; i < n; i++) {
                const char *addr, *grp, *lease;
                int c = env_fd(i, "CONTAINER_FD"), g = env_fd(i, "GROUP_FD"), d = env_fd(i, "DEVICE_FD");

                snprintf(name, sizeof(name), "VFBROKER_VF%u_ADDRESS", i);
                addr = getenv(name);
                snprintf(name, sizeof(name), "VFBROKER_VF%u_IOMMU_GROUP", i);
                grp = getenv(name);
                snprintf(name, sizeof(name), "VFBROKER_VF%u_LEASE", i);
                lease = getenv(name);
                if (!addr || c < 0 || g < 0 || d < 0) {
                        result(false, "VF%u: incomplete VFBROKER_VF%u_* environment", i, i);
                        continue;
                }
                printf("# VF%u: address %s, IOMMU group %s, lease %s, fds container=%d group=%d device=%d, uid %u\n",
                       i, addr, grp ? grp : "?", lease ? lease : "?", c, g, d, (unsigned) getuid());
                probe_vf(i, addr, c, g, d);
        }
        return n_fail > 0 ? -EIO : 0;
}

static double now_us(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* Opens BDF the way the broker does (new container, group, type1, device fd
 * by name with the token if given). Returns 0 or -errno of the step that failed. */
static int open_direct(const char *bdf, const char *token, bool keep, int *ret_fds) {
        char path[PATH_MAX], link[PATH_MAX], name[128];
        const char *g;
        ssize_t l;
        int c = -1, grp = -1, d = -1, r;

        /* a PCI address and a UUID: anything longer is not one */
        if (strlen(bdf) > 32 || (token && strlen(token) > 36))
                return -EINVAL;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
        l = readlink(path, link, sizeof(link) - 1);
        if (l < 0)
                return -errno;
        link[l] = '\0';
        g = strrchr(link, '/');
        g = g ? g + 1 : link;
        snprintf(path, sizeof(path), "/dev/vfio/%.32s", g);
        c = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (c < 0)
                return -errno;
        grp = open(path, O_RDWR | O_CLOEXEC);
        if (grp < 0) {
                r = -errno;
                goto fail;
        }
        if (ioctl(grp, VFIO_GROUP_SET_CONTAINER, &c) < 0 || ioctl(c, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
                r = -errno;
                goto fail;
        }
        if (token)
                snprintf(name, sizeof(name), "%s vf_token=%s", bdf, token);
        else
                snprintf(name, sizeof(name), "%s", bdf);
        d = ioctl(grp, VFIO_GROUP_GET_DEVICE_FD, name);
        if (d < 0) {
                r = -errno;
                goto fail;
        }
        if (keep) {
                ret_fds[0] = c;
                ret_fds[1] = grp;
                ret_fds[2] = d;
                return 0;
        }
        close(d);
        close(grp);
        close(c);
        return 0;
fail:
        if (grp >= 0)
                close(grp);
        close(c);
        return r;
}

static void usage(void) {
        printf("usage: vf-probe [--hold S] [--grandchild S --pidfile FILE]\n"
               "       vf-probe --direct BDF [--token UUID] [--expect ok|EACCES|...] [--repeat N] [--check]\n"
               "Without --direct, checks the VFs that `vfbrokerctl run` passed (VFBROKER_VF*),\n"
               "printing one TAP line per check; exit status 0 only if all passed.\n"
               "--hold S keeps the fds S seconds afterwards; --grandchild S leaves a detached\n"
               "process holding them S seconds (its pid in --pidfile) and exits at once.\n"
               "--direct opens BDF itself (group API); --repeat prints the median open time.\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_HOLD = 0x100, ARG_GRANDCHILD, ARG_PIDFILE, ARG_DIRECT, ARG_TOKEN, ARG_REPEAT, ARG_CHECK };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "hold", required_argument, NULL, ARG_HOLD },
                { "grandchild", required_argument, NULL, ARG_GRANDCHILD },
                { "pidfile", required_argument, NULL, ARG_PIDFILE },
                { "direct", required_argument, NULL, ARG_DIRECT },
                { "token", required_argument, NULL, ARG_TOKEN },
                { "repeat", required_argument, NULL, ARG_REPEAT },
                { "check", no_argument, NULL, ARG_CHECK },
                { NULL, 0, NULL, 0 }
        };
        const char *direct = NULL, *token = NULL, *pidfile = NULL;
        unsigned hold = 0, grandchild = 0, repeat = 0;
        bool check = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        usage();
                        return 0;
                case ARG_HOLD:
                        hold = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_GRANDCHILD:
                        grandchild = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case ARG_PIDFILE:
                        pidfile = optarg;
                        break;
                case ARG_DIRECT:
                        direct = optarg;
                        break;
                case ARG_TOKEN:
                        token = optarg;
                        break;
                case ARG_REPEAT:
                        repeat = (unsigned) strtoul(optarg, NULL, 10);
                        if (repeat > 100000)
                                repeat = 100000;
                        break;
                case ARG_CHECK:
                        check = true;
                        break;
                default:
                        return 2;
                }

        if (direct) {
                int fds[3];

                if (repeat > 0) {
                        double *t = calloc(repeat, sizeof(double));

                        if (!t)
                                return 1;
                        for (unsigned i = 0; i < repeat; i++) {
                                double t0 = now_us();

                                r = open_direct(direct, token, false, NULL);
                                t[i] = now_us() - t0;
                                if (r < 0) {
                                        fprintf(stderr, "vf-probe: direct open of %s: %s\n", direct, strerror(-r));
                                        free(t);
                                        return 1;
                                }
                        }
                        qsort(t, repeat, sizeof(double), cmp_double);
                        printf("median_us=%.0f n=%u\n", t[repeat / 2], repeat);
                        free(t);
                        return 0;
                }
                r = open_direct(direct, token, check, fds);
                printf("direct open of %s %s token: %s\n", direct, token ? "with" : "without",
                       r < 0 ? strerror(-r) : "ok");
                if (r < 0)
                        return r == -EACCES ? 3 : 1;
                if (check)
                        probe_vf(0, direct, fds[0], fds[1], fds[2]);
                return n_fail > 0 ? 1 : 0;
        }

        r = probe_inherited();
        if (grandchild > 0) {
                pid_t pid = fork();

                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        pid_t gc;

                        setsid();
                        gc = fork();
                        if (gc != 0)
                                _exit(gc < 0 ? 1 : 0);
                        if (pidfile) {
                                FILE *f = fopen(pidfile, "we");

                                if (f) {
                                        fprintf(f, "%d\n", (int) getpid());
                                        fclose(f);
                                }
                        }
                        fclose(stdout);
                        sleep(grandchild);
                        _exit(0);
                }
                /* wait for the middle child, so the pid file exists when we exit */
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                for (int i = 0; pidfile && i < 100 && access(pidfile, F_OK) < 0; i++)
                        usleep(10000);
        }
        if (hold > 0)
                sleep(hold);
        return r < 0 ? 1 : 0;
}
