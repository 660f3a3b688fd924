/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vf-probe: the VM suite's proof that VF fds work. Run by `vfbrokerctl run`, it
 * uses the fds it inherited; with --direct it opens a VF itself, as root would.
 * --iommufd does the same on the cdev path (an iommufd and unbound VF cdevs). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VF_MAX 64
#define IOVA 0x100000ULL

/* The cdev path's uapi (linux/iommufd.h, VFIO_DEVICE_BIND_IOMMUFD from 6.6,
 * the token flag from 6.17): the build host's headers may predate it, and the
 * ioctl numbers and layouts are ABI, so they are spelled out here. */
#define PROBE_IOMMUFD_TYPE ';'
#define PROBE_IOMMU_IOAS_ALLOC _IO(PROBE_IOMMUFD_TYPE, 0x81)
#define PROBE_IOMMU_IOAS_MAP _IO(PROBE_IOMMUFD_TYPE, 0x85)
#define PROBE_IOMMU_IOAS_UNMAP _IO(PROBE_IOMMUFD_TYPE, 0x86)
#define PROBE_IOAS_MAP_FIXED_IOVA (1u << 0)
#define PROBE_IOAS_MAP_WRITEABLE (1u << 1)
#define PROBE_IOAS_MAP_READABLE (1u << 2)
#define PROBE_VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#define PROBE_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#define PROBE_BIND_FLAG_TOKEN (1u << 0)

struct probe_bind_iommufd {
        uint32_t argsz;
        uint32_t flags;
        int32_t iommufd;
        uint32_t out_devid;
        uint64_t token_uuid_ptr; /* from 6.17, only read with the token flag */
};
struct probe_attach_pt {
        uint32_t argsz;
        uint32_t flags;
        uint32_t pt_id;
};
struct probe_ioas_alloc {
        uint32_t size;
        uint32_t flags;
        uint32_t out_ioas_id;
};
struct probe_ioas_map {
        uint32_t size;
        uint32_t flags;
        uint32_t ioas_id;
        uint32_t reserved;
        uint64_t user_va;
        uint64_t length;
        uint64_t iova;
};
struct probe_ioas_unmap {
        uint32_t size;
        uint32_t ioas_id;
        uint64_t iova;
        uint64_t length;
};

/* Exit statuses of --iommufd and --direct-cdev: the first step that failed. */
enum {
        EXIT_OK = 0,
        EXIT_OTHER = 1,
        EXIT_EACCES = 3,        /* open or bind refused: permission or VF token */
        EXIT_BIND = 4,          /* VFIO_DEVICE_BIND_IOMMUFD, not EACCES */
        EXIT_IOAS = 5,          /* IOMMU_IOAS_ALLOC */
        EXIT_ATTACH = 6,        /* VFIO_DEVICE_ATTACH_IOMMUFD_PT */
        EXIT_MEMLOCK = 7,       /* IOMMU_IOAS_MAP: ENOMEM, RLIMIT_MEMLOCK too small */
        EXIT_MAP = 8,           /* IOMMU_IOAS_MAP or UNMAP, anything else */
        EXIT_INFO = 9,          /* GET_INFO, region info or the config read */
        EXIT_RESET = 10,        /* VFIO_DEVICE_RESET */
        EXIT_ENV = 11,          /* no usable fds: environment or open */
        EXIT_REVOKED = 12,      /* --hold: the device fd went dead (ENODEV) */
};

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

/* --- the cdev path: an iommufd and unbound VF cdevs, bound here as QEMU does --- */

struct cdev_vf {
        unsigned i;
        const char *addr;
        int fd;
        bool bound;
};

static int first_exit;

static void fail_with(int code) {
        if (first_exit == 0)
                first_exit = code;
}

/* "2ab74924-c335-45f4-9b16-8569e5b08258" to the 16 bytes in string order, the
 * layout the kernel's uuid_parse() gives the PF's vf_token */
static int parse_uuid(const char *s, uint8_t ret[16]) {
        unsigned n = 0;

        if (strlen(s) != 36)
                return -EINVAL;
        for (size_t k = 0; k < 36; k++) {
                unsigned v;

                if (k == 8 || k == 13 || k == 18 || k == 23) {
                        if (s[k] != '-')
                                return -EINVAL;
                        continue;
                }
                if (sscanf(s + k, "%1x", &v) != 1)
                        return -EINVAL;
                if (n % 2 == 0)
                        ret[n / 2] = (uint8_t) (v << 4);
                else
                        ret[n / 2] |= (uint8_t) v;
                n++;
        }
        return 0;
}

/* 4096, 64K, 2M, 1G; at most 1 GiB, which is more than any check here needs */
static int parse_size(const char *s, uint64_t *ret) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        switch (*end) {
        case 'K': case 'k': v <<= 10; end++; break;
        case 'M': case 'm': v <<= 20; end++; break;
        case 'G': case 'g': v <<= 30; end++; break;
        default: break;
        }
        if (*end != '\0' || v == 0 || v > (1ULL << 30))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* try_open PATH: 0 if this process can open PATH read-write, else errno */
static int try_open(const char *path) {
        int fd = open(path, O_RDWR | O_CLOEXEC);

        if (fd < 0)
                return errno;
        close(fd);
        return 0;
}

static void isolated_result(bool check, const char *path) {
        int e = try_open(path);

        printf("# %s: %s\n", path, e ? strerror(e) : "opens");
        if (check)
                result(e == ENOENT || e == EACCES, "%s cannot be opened by path (%s)", path, e ? strerror(e) : "opens");
}

/* What this process could reach by itself: the suite shows that a holder only
 * has the fds it was given. /dev/iommu and each VF's cdev and group node must
 * not open; /dev/vfio/vfio (0666 on Debian, an empty container that reaches
 * no device) is only shown. Without sysfs (a container) /dev/vfio itself. */
static void show_isolation(const struct cdev_vf *vfs, unsigned n, bool check) {
        char line[256], path[PATH_MAX], link[PATH_MAX], node[PATH_MAX];
        unsigned long long cap = ~0ULL;
        FILE *f = fopen("/proc/self/status", "re");

        if (f) {
                while (fgets(line, sizeof(line), f))
                        if (sscanf(line, "CapEff: %llx", &cap) == 1)
                                break;
                fclose(f);
        }
        printf("# uid %u gid %u, CapEff %016llx\n", (unsigned) getuid(), (unsigned) getgid(), cap);
        if (check)
                result(cap == 0, "no effective capabilities (CapEff %016llx)", cap);
        isolated_result(check, "/dev/iommu");
        isolated_result(false, "/dev/vfio/vfio");
        for (unsigned k = 0; k < n; k++) {
                struct dirent *de;
                DIR *d;
                ssize_t l;

                if (strlen(vfs[k].addr) > 32)
                        continue;
                snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", vfs[k].addr);
                l = readlink(path, link, sizeof(link) - 1);
                if (l < 0) {
                        printf("# %s: no sysfs here (%s)\n", vfs[k].addr, strerror(errno));
                        isolated_result(check, "/dev/vfio");
                        continue;
                }
                link[l] = '\0';
                snprintf(node, sizeof(node), "/dev/vfio/%.64s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
                isolated_result(check, node);
                snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", vfs[k].addr);
                d = opendir(path);
                while (d && (de = readdir(d)))
                        if (strncmp(de->d_name, "vfio", 4) == 0 && strlen(de->d_name) < 32) {
                                snprintf(node, sizeof(node), "/dev/vfio/devices/%.31s", de->d_name);
                                isolated_result(check, node);
                        }
                if (d)
                        closedir(d);
        }
}

static void check_device(struct cdev_vf *v, bool reset) {
        struct vfio_device_info info = { .argsz = sizeof(info) };
        struct vfio_region_info reg = { .argsz = sizeof(reg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
        uint16_t ids[2] = { 0xffff, 0xffff };

        if (ioctl(v->fd, VFIO_DEVICE_GET_INFO, &info) < 0) {
                result(false, "VF%u %s: VFIO_DEVICE_GET_INFO on cdev fd %d: %s", v->i, v->addr, v->fd, strerror(errno));
                fail_with(EXIT_INFO);
                return;
        }
        result(info.flags & VFIO_DEVICE_FLAGS_PCI, "VF%u %s: VFIO_DEVICE_GET_INFO: PCI device, %u regions, %u irqs",
               v->i, v->addr, info.num_regions, info.num_irqs);
        if (ioctl(v->fd, VFIO_DEVICE_GET_REGION_INFO, &reg) < 0 ||
            pread(v->fd, ids, sizeof(ids), (off_t) reg.offset) != (ssize_t) sizeof(ids)) {
                result(false, "VF%u %s: config space read: %s", v->i, v->addr, strerror(errno));
                fail_with(EXIT_INFO);
                return;
        }
        result(ids[0] != 0xffff && ids[0] != 0, "VF%u %s: config space read: vendor 0x%04x device 0x%04x",
               v->i, v->addr, ids[0], ids[1]);
        if (ids[0] == 0xffff || ids[0] == 0)
                fail_with(EXIT_INFO);
        if (!reset)
                return;
        if (!(info.flags & VFIO_DEVICE_FLAGS_RESET)) {
                result(false, "VF%u %s: the device offers no reset (flags 0x%x)", v->i, v->addr, info.flags);
                fail_with(EXIT_RESET);
        } else if (ioctl(v->fd, VFIO_DEVICE_RESET) < 0) {
                result(false, "VF%u %s: VFIO_DEVICE_RESET: %s", v->i, v->addr, strerror(errno));
                fail_with(EXIT_RESET);
        } else {
                result(true, "VF%u %s: VFIO_DEVICE_RESET", v->i, v->addr);
        }
}

struct cdev_map {
        void *buf;
        uint64_t size;
        uint32_t ioas;
        bool mapped;
};

/* Pinned pages are charged to the mapping process's user against this
 * process's RLIMIT_MEMLOCK (iommufd's default accounting; CAP_IPC_LOCK skips
 * it), so a too small limit is the holder's problem and is named as such. */
static void map_buffer(int iommufd, struct cdev_map *m) {
        struct probe_ioas_map map = {
                .size = sizeof(map),
                .flags = PROBE_IOAS_MAP_FIXED_IOVA | PROBE_IOAS_MAP_READABLE | PROBE_IOAS_MAP_WRITEABLE,
                .ioas_id = m->ioas,
                .length = m->size,
                .iova = IOVA,
        };

        m->buf = mmap(NULL, (size_t) m->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m->buf == MAP_FAILED) {
                m->buf = NULL;
                result(false, "mmap of %" PRIu64 " bytes: %s", m->size, strerror(errno));
                fail_with(EXIT_OTHER);
                return;
        }
        memset(m->buf, 0x5a, (size_t) m->size);
        map.user_va = (uintptr_t) m->buf;
        if (ioctl(iommufd, PROBE_IOMMU_IOAS_MAP, &map) < 0) {
                int e = errno;
                struct rlimit rl = { 0, 0 };

                getrlimit(RLIMIT_MEMLOCK, &rl);
                if (e == ENOMEM) {
                        result(false, "IOMMU_IOAS_MAP of %" PRIu64 " KiB: %s: the pinned pages are charged to uid %u, "
                               "whose RLIMIT_MEMLOCK here is %llu KiB: raise it (ulimit -l) for this process",
                               m->size >> 10, strerror(e), (unsigned) getuid(),
                               rl.rlim_cur == RLIM_INFINITY ? 0ULL : (unsigned long long) rl.rlim_cur >> 10);
                        fail_with(EXIT_MEMLOCK);
                } else {
                        result(false, "IOMMU_IOAS_MAP of %" PRIu64 " KiB at iova 0x%llx: %s", m->size >> 10, IOVA,
                               strerror(e));
                        fail_with(EXIT_MAP);
                }
                return;
        }
        m->mapped = true;
        result(true, "IOMMU_IOAS_MAP of %" PRIu64 " KiB at iova 0x%llx into IOAS %u", m->size >> 10, IOVA, m->ioas);
}

static void unmap_buffer(int iommufd, struct cdev_map *m) {
        struct probe_ioas_unmap unmap = {
                .size = sizeof(unmap),
                .ioas_id = m->ioas,
                .iova = IOVA,
                .length = m->size,
        };

        if (m->mapped) {
                if (ioctl(iommufd, PROBE_IOMMU_IOAS_UNMAP, &unmap) < 0) {
                        result(false, "IOMMU_IOAS_UNMAP: %s", strerror(errno));
                        fail_with(EXIT_MAP);
                } else {
                        result(unmap.length == m->size, "IOMMU_IOAS_UNMAP unmapped %" PRIu64 " KiB",
                               (uint64_t) unmap.length >> 10);
                }
                m->mapped = false;
        }
        if (m->buf)
                munmap(m->buf, (size_t) m->size);
        m->buf = NULL;
}

/* QEMU's order (hw/vfio/iommufd.c): bind each device to the iommufd, one IOAS,
 * attach, map, then use the device. */
static void probe_cdev(int iommufd, struct cdev_vf *vfs, unsigned n, const uint8_t *token, struct cdev_map *m) {
        struct probe_ioas_alloc alloc = { .size = sizeof(alloc) };
        bool have_ioas = false;

        for (unsigned k = 0; k < n; k++) {
                struct cdev_vf *v = &vfs[k];
                struct probe_bind_iommufd bind = {
                        /* the pre-6.17 size unless a token goes with it, as QEMU sends it */
                        .argsz = token ? sizeof(bind) : offsetof(struct probe_bind_iommufd, token_uuid_ptr),
                        .flags = token ? PROBE_BIND_FLAG_TOKEN : 0,
                        .iommufd = iommufd,
                        .token_uuid_ptr = (uintptr_t) token,
                };
                struct probe_attach_pt attach = { .argsz = sizeof(attach) };

                if (ioctl(v->fd, PROBE_VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
                        int e = errno;

                        result(false, "VF%u %s: VFIO_DEVICE_BIND_IOMMUFD of cdev fd %d to iommufd %d %s token: %s",
                               v->i, v->addr, v->fd, iommufd, token ? "with the" : "without a", strerror(e));
                        fail_with(e == EACCES ? EXIT_EACCES : EXIT_BIND);
                        continue;
                }
                result(true, "VF%u %s: VFIO_DEVICE_BIND_IOMMUFD of cdev fd %d to iommufd %d %s token (devid %u)",
                       v->i, v->addr, v->fd, iommufd, token ? "with the" : "without a", bind.out_devid);
                if (!have_ioas) {
                        if (ioctl(iommufd, PROBE_IOMMU_IOAS_ALLOC, &alloc) < 0) {
                                result(false, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
                                fail_with(EXIT_IOAS);
                                return;
                        }
                        result(true, "IOMMU_IOAS_ALLOC: IOAS %u", alloc.out_ioas_id);
                        have_ioas = true;
                }
                attach.pt_id = alloc.out_ioas_id;
                if (ioctl(v->fd, PROBE_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) < 0) {
                        result(false, "VF%u %s: VFIO_DEVICE_ATTACH_IOMMUFD_PT to IOAS %u: %s", v->i, v->addr,
                               alloc.out_ioas_id, strerror(errno));
                        fail_with(EXIT_ATTACH);
                        continue;
                }
                result(true, "VF%u %s: VFIO_DEVICE_ATTACH_IOMMUFD_PT to IOAS %u (hwpt %u)", v->i, v->addr,
                       alloc.out_ioas_id, attach.pt_id);
                v->bound = true;
        }
        if (!have_ioas)
                return;
        m->ioas = alloc.out_ioas_id;
        map_buffer(iommufd, m);
        for (unsigned k = 0; k < n; k++)
                if (vfs[k].bound)
                        check_device(&vfs[k], true);
}

/* --hold: keep everything (binding, IOAS, mapping) for S seconds or until
 * FILE exists, asking each device every 200 ms whether it still answers: a
 * revoked VF (kmod/) answers ENODEV. At the end the devices are checked again. */
static void hold_cdev(struct cdev_vf *vfs, unsigned n, unsigned hold, const char *until) {
        double t0 = now_us();

        while ((now_us() - t0) / 1e6 < hold && !(until && access(until, F_OK) == 0)) {
                for (unsigned k = 0; k < n; k++) {
                        struct vfio_device_info info = { .argsz = sizeof(info) };

                        if (!vfs[k].bound || ioctl(vfs[k].fd, VFIO_DEVICE_GET_INFO, &info) == 0)
                                continue;
                        printf("# VF%u %s: the device fd stopped answering after %.1f s: VFIO_DEVICE_GET_INFO: %s\n",
                               vfs[k].i, vfs[k].addr, (now_us() - t0) / 1e6, strerror(errno));
                        fflush(stdout);
                        fail_with(errno == ENODEV ? EXIT_REVOKED : EXIT_INFO);
                        return;
                }
                usleep(200000);
        }
        printf("# held %.1f s\n", (now_us() - t0) / 1e6);
        for (unsigned k = 0; k < n; k++)
                if (vfs[k].bound)
                        check_device(&vfs[k], false);
}

static int env_int(const char *name, int max) {
        const char *v = getenv(name);
        char *end;
        long x;

        if (!v)
                return -ENOENT;
        errno = 0;
        x = strtol(v, &end, 10);
        if (errno != 0 || *end != '\0' || x < 0 || x > max)
                return -EINVAL;
        return (int) x;
}

/* The cdev node of BDF (sysfs vfio-dev/vfioN), opened as root would. */
static int open_cdev(const char *bdf, int *ret_iommufd, int *ret_device) {
        char path[PATH_MAX], node[64] = "";
        DIR *d;
        struct dirent *de;
        int i, dev;

        if (strlen(bdf) > 32)
                return -EINVAL;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, "vfio", 4) == 0 && strlen(de->d_name) < 32)
                        snprintf(node, sizeof(node), "/dev/vfio/devices/%.31s", de->d_name);
        closedir(d);
        if (!node[0])
                return -ENODEV;
        i = open("/dev/iommu", O_RDWR | O_CLOEXEC);
        if (i < 0)
                return -errno;
        dev = open(node, O_RDWR | O_CLOEXEC);
        if (dev < 0) {
                int r = -errno;

                close(i);
                return r;
        }
        *ret_iommufd = i;
        *ret_device = dev;
        return 0;
}

struct cdev_opts {
        const uint8_t *token;
        uint64_t map_size;
        unsigned hold;
        const char *until;
        bool isolated;
};

static int run_cdev(int iommufd, struct cdev_vf *vfs, unsigned n, const struct cdev_opts *o) {
        struct cdev_map m = { .size = o->map_size };

        show_isolation(vfs, n, o->isolated);
        probe_cdev(iommufd, vfs, n, o->token, &m);
        if (o->hold > 0)
                hold_cdev(vfs, n, o->hold, o->until);
        unmap_buffer(iommufd, &m);
        if (first_exit == 0 && n_fail > 0)
                first_exit = EXIT_OTHER;
        return first_exit;
}

static int probe_inherited_cdev(const struct cdev_opts *o) {
        struct cdev_vf vfs[VF_MAX];
        int iommufd = env_int("VFBROKER_IOMMUFD_FD", 65535), n = env_int("VFBROKER_VF_COUNT", VF_MAX);
        const char *api = getenv("VFBROKER_API");
        char name[64];

        if (iommufd < 0 || n <= 0) {
                result(false, "VFBROKER_IOMMUFD_FD / VFBROKER_VF_COUNT unset or bad: run me under "
                       "`vfbrokerctl run --api iommufd`");
                return EXIT_ENV;
        }
        printf("# API %s, iommufd fd %d, %d VF(s) from the broker\n", api ? api : "(unset)", iommufd, n);
        for (int k = 0; k < n; k++) {
                vfs[k] = (struct cdev_vf) { .i = (unsigned) k, .fd = -1 };
                snprintf(name, sizeof(name), "VFBROKER_VF%d_DEVICE_FD", k);
                vfs[k].fd = env_int(name, 65535);
                snprintf(name, sizeof(name), "VFBROKER_VF%d_ADDRESS", k);
                /* a container gets the fd numbers, which vfbrokerctl fixes, maybe not the address */
                vfs[k].addr = getenv(name) ? getenv(name) : "(address not given)";
                if (vfs[k].fd < 0) {
                        result(false, "VF%d: incomplete VFBROKER_VF%d_* environment", k, k);
                        return EXIT_ENV;
                }
                printf("# VF%d: address %s, cdev fd %d\n", k, vfs[k].addr, vfs[k].fd);
        }
        return run_cdev(iommufd, vfs, (unsigned) n, o);
}

static int direct_cdev_open(const char *bdf, unsigned repeat, bool check, const struct cdev_opts *o) {
        struct cdev_vf vf = { .addr = bdf, .fd = -1 };
        int iommufd = -1, r;

        if (repeat > 0) {
                double *t = calloc(repeat, sizeof(double));

                if (!t)
                        return EXIT_OTHER;
                for (unsigned k = 0; k < repeat; k++) {
                        double t0 = now_us();

                        r = open_cdev(bdf, &iommufd, &vf.fd);
                        if (r >= 0) {
                                close(vf.fd);
                                close(iommufd);
                        }
                        t[k] = now_us() - t0;
                        if (r < 0) {
                                fprintf(stderr, "vf-probe: direct open of %s's cdev and /dev/iommu: %s\n", bdf, strerror(-r));
                                free(t);
                                return r == -EACCES ? EXIT_EACCES : EXIT_ENV;
                        }
                }
                qsort(t, repeat, sizeof(double), cmp_double);
                printf("median_us=%.0f n=%u\n", t[repeat / 2], repeat);
                free(t);
                return EXIT_OK;
        }
        r = open_cdev(bdf, &iommufd, &vf.fd);
        printf("direct open of %s's cdev and /dev/iommu as uid %u: %s\n", bdf, (unsigned) getuid(),
               r < 0 ? strerror(-r) : "ok");
        if (r < 0)
                return r == -EACCES ? EXIT_EACCES : EXIT_ENV;
        if (!check)
                return EXIT_OK;
        return run_cdev(iommufd, &vf, 1, o);
}

static void usage(void) {
        printf("usage: vf-probe [--hold S] [--grandchild S --pidfile FILE]\n"
               "       vf-probe --direct BDF [--token UUID] [--expect ok|EACCES|...] [--repeat N] [--check]\n"
               "Without --direct, checks the VFs that `vfbrokerctl run` passed (VFBROKER_VF*),\n"
               "printing one TAP line per check; exit status 0 only if all passed.\n"
               "--hold S keeps the fds S seconds afterwards; --grandchild S leaves a detached\n"
               "process holding them S seconds (its pid in --pidfile) and exits at once.\n"
               "--direct opens BDF itself (group API); --repeat prints the median open time.\n"
               "\n"
               "       vf-probe --iommufd [--token UUID] [--map-size SIZE] [--hold S [--until FILE]] [--isolated]\n"
               "       vf-probe --direct-cdev BDF [--check [--token UUID] ...] [--repeat N]\n"
               "--iommufd checks the cdev path's fds from `vfbrokerctl run --api iommufd`\n"
               "(VFBROKER_IOMMUFD_FD, VFBROKER_VF<i>_DEVICE_FD): bind (with --token: the VF\n"
               "token flag), IOAS alloc, attach, IOAS map of SIZE bytes (default 2M), device\n"
               "info, config read, reset. --hold keeps it all S seconds (or until FILE exists),\n"
               "watching the device. --isolated also asserts that no capability and no VFIO or\n"
               "iommufd node is reachable by path. --direct-cdev opens BDF's cdev and /dev/iommu.\n"
               "Exit: 0 ok, 3 EACCES (open or bind), 4 bind, 5 IOAS alloc, 6 attach,\n"
               "7 RLIMIT_MEMLOCK too small, 8 map, 9 info/config, 10 reset, 11 no fds, 12 revoked.\n");
}

int main(int argc, char *argv[]) {
        enum {
                ARG_HOLD = 0x100, ARG_GRANDCHILD, ARG_PIDFILE, ARG_DIRECT, ARG_TOKEN, ARG_REPEAT, ARG_CHECK,
                ARG_IOMMUFD, ARG_DIRECT_CDEV, ARG_MAP_SIZE, ARG_UNTIL, ARG_ISOLATED,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "hold", required_argument, NULL, ARG_HOLD },
                { "grandchild", required_argument, NULL, ARG_GRANDCHILD },
                { "pidfile", required_argument, NULL, ARG_PIDFILE },
                { "direct", required_argument, NULL, ARG_DIRECT },
                { "token", required_argument, NULL, ARG_TOKEN },
                { "repeat", required_argument, NULL, ARG_REPEAT },
                { "check", no_argument, NULL, ARG_CHECK },
                { "iommufd", no_argument, NULL, ARG_IOMMUFD },
                { "direct-cdev", required_argument, NULL, ARG_DIRECT_CDEV },
                { "map-size", required_argument, NULL, ARG_MAP_SIZE },
                { "until", required_argument, NULL, ARG_UNTIL },
                { "isolated", no_argument, NULL, ARG_ISOLATED },
                { NULL, 0, NULL, 0 }
        };
        const char *direct = NULL, *token = NULL, *pidfile = NULL, *direct_cdev = NULL;
        unsigned hold = 0, grandchild = 0, repeat = 0;
        bool check = false, iommufd = false;
        struct cdev_opts copts = { .map_size = 2 << 20 };
        uint8_t token_bytes[16];
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
                case ARG_IOMMUFD:
                        iommufd = true;
                        break;
                case ARG_DIRECT_CDEV:
                        direct_cdev = optarg;
                        break;
                case ARG_MAP_SIZE:
                        if (parse_size(optarg, &copts.map_size) < 0) {
                                fprintf(stderr, "vf-probe: --map-size '%s': a size up to 1G (K, M, G suffixes)\n", optarg);
                                return 2;
                        }
                        break;
                case ARG_UNTIL:
                        copts.until = optarg;
                        break;
                case ARG_ISOLATED:
                        copts.isolated = true;
                        break;
                default:
                        return 2;
                }

        if (iommufd || direct_cdev) {
                if (token) {
                        if (parse_uuid(token, token_bytes) < 0) {
                                fprintf(stderr, "vf-probe: --token '%s' is not a UUID\n", token);
                                return 2;
                        }
                        copts.token = token_bytes;
                }
                copts.hold = hold;
                if (direct_cdev)
                        return direct_cdev_open(direct_cdev, repeat, check, &copts);
                return probe_inherited_cdev(&copts);
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
