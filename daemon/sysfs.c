/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sysfs: reading PCI functions, their SR-IOV state, drivers and IOMMU groups,
 * and the few writes the broker makes (driver binding, sriov_numvfs, enable_sriov). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "names.h"
#include "strv.h"
#include "sysfs.h"

/* Every attribute we read holds a number, an id or a bool: 64 bytes is far
 * more than the kernel writes, and anything bigger means the tree is not sysfs. */
#define ATTR_SIZE_MAX 64

struct Sysfs {
        char *root; /* without trailing '/': "" for "/" */
};

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

int sysfs_new(const char *root, Sysfs **ret) {
        _cleanup_free_ char *r = NULL;
        Sysfs *s;
        size_t n;

        if (!root || root[0] != '/' || !ret)
                return -EINVAL;
        n = strnlen(root, PATH_MAX);
        if (n >= PATH_MAX)
                return -ENAMETOOLONG;
        while (n > 0 && root[n - 1] == '/')
                n--;
        r = strndup(root, n);
        if (!r)
                return -ENOMEM;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->root = TAKE_PTR(r);
        *ret = s;
        return 0;
}

Sysfs *sysfs_free(Sysfs *s) {
        if (!s)
                return NULL;
        free(s->root);
        free(s);
        return NULL;
}

const char *sysfs_root(const Sysfs *s) {
        return s->root[0] ? s->root : "/";
}

/* Driver and module names end up in paths and in driver_override: allow only
 * what real driver names use, so "../x" or "a/b" can never reach a path. */
static bool driver_name_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, SYSFS_DRIVER_NAME_MAX + 1);
        if (n == 0 || n > SYSFS_DRIVER_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

static int path_format(char buf[static PATH_MAX], const char *fmt, ...) _printf_(2, 3);
static int path_format(char buf[static PATH_MAX], const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vsnprintf(buf, PATH_MAX, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -EINVAL;
        if (k >= PATH_MAX)
                return -ENAMETOOLONG;
        return 0;
}

/* root/sys/bus/pci/devices/<canonical bdf>[/attr]. The BDF is validated and
 * canonicalized here, before any path exists, so a caller's string can never
 * walk out of the devices directory. */
static int device_path(const Sysfs *s, const char *bdf, const char *attr, char buf[static PATH_MAX]) {
        char canon[PCI_ADDRESS_MAX];

        if (pci_address_normalize(bdf, canon) < 0)
                return -EINVAL;
        if (attr)
                return path_format(buf, "%s/sys/bus/pci/devices/%s/%s", s->root, canon, attr);
        return path_format(buf, "%s/sys/bus/pci/devices/%s", s->root, canon);
}

/* Reads a whole small file at dir_fd/path into buf (size bytes with the NUL),
 * dropping one trailing newline. -EFBIG if it does not fit. */
static int read_attr_at(int dir_fd, const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        for (;;) {
                char extra;
                ssize_t k;

                /* Once the buffer is full, one more byte decides: EOF or too big. */
                if (n < size - 1)
                        k = read(fd, buf + n, size - 1 - n);
                else
                        k = read(fd, &extra, 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                if (n >= size - 1)
                        return -EFBIG;
                n += (size_t) k;
                /* A sysfs attribute comes whole from its first read (kernfs
                 * hands over the complete show() output when it fits), so a
                 * read that left room is the end: no second read for EOF,
                 * which at start-up is one syscall per VF. */
                if (n < size - 1)
                        break;
        }

        buf[n] = '\0';
        if (strlen(buf) != n)
                return -EBADMSG; /* embedded NUL: not a sysfs text attribute */
        if (n > 0 && buf[n - 1] == '\n')
                buf[--n] = '\0';
        return 0;
}

static int read_attr(const char *path, char *buf, size_t size) {
        return read_attr_at(AT_FDCWD, path, buf, size);
}

/* One open, one write: sysfs stores take the whole value in one write() call.
 * O_TRUNC is what a shell's "echo >" does; sysfs ignores it. */
static int write_attr(const char *path, const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        ssize_t k;

        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        do
                k = write(fd, value, len);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        if ((size_t) k != len)
                return -EIO;
        return 0;
}

/* Decimal without sign, spaces or anything after it. */
static int parse_unsigned(const char *s, unsigned *ret) {
        unsigned long long v = 0;

        if (!s || !*s)
                return -EBADMSG;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EBADMSG;
                v = v * 10 + (unsigned) (*p - '0');
                if (v > UINT_MAX)
                        return -ERANGE;
        }
        *ret = (unsigned) v;
        return 0;
}

/* "0x" and exactly four hex digits: how the kernel prints vendor and device. */
static int parse_hex16(const char *s, uint16_t *ret) {
        unsigned v = 0;

        if (strlen(s) != 6 || s[0] != '0' || s[1] != 'x')
                return -EBADMSG;
        for (size_t i = 2; i < 6; i++) {
                int d = unhexchar(s[i]);

                if (d < 0)
                        return -EBADMSG;
                v = v << 4 | (unsigned) d;
        }
        *ret = (uint16_t) v;
        return 0;
}

static int read_device_unsigned(Sysfs *s, const char *bdf, const char *attr, unsigned *ret) {
        char path[PATH_MAX], buf[ATTR_SIZE_MAX];
        unsigned v;
        int r;

        r = device_path(s, bdf, attr, path);
        if (r < 0)
                return r;
        r = read_attr(path, buf, sizeof buf);
        if (r < 0)
                return r;
        r = parse_unsigned(buf, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

/* readlink into buf and return the last component. With parent set, the
 * component before it must be exactly parent ("drivers", "iommu_groups"):
 * the kernel's links always look so, anything else is not sysfs. */
static int readlink_leaf_at(int dir_fd, const char *path, const char *parent,
                            char buf[static PATH_MAX], const char **ret_leaf) {
        const char *leaf;
        ssize_t n;

        n = readlinkat(dir_fd, path, buf, PATH_MAX);
        if (n < 0)
                return errno == EINVAL ? -EBADMSG : -errno; /* EINVAL: not a symlink */
        if (n >= PATH_MAX)
                return -ENAMETOOLONG;
        buf[n] = '\0';

        leaf = strrchr(buf, '/');
        leaf = leaf ? leaf + 1 : buf;
        if (!*leaf || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
                return -EBADMSG;

        if (parent) {
                size_t pl = strlen(parent);
                const char *start;

                if (leaf == buf)
                        return -EBADMSG;
                /* The component before the leaf spans [start, leaf - 1). */
                start = leaf - 1;
                while (start > buf && start[-1] != '/')
                        start--;
                if ((size_t) (leaf - 1 - start) != pl || strncmp(start, parent, pl) != 0)
                        return -EBADMSG;
        }

        *ret_leaf = leaf;
        return 0;
}

bool sysfs_device_exists(Sysfs *s, const char *bdf) {
        char path[PATH_MAX];
        struct stat st;

        if (device_path(s, bdf, NULL, path) < 0)
                return false;
        return stat(path, &st) >= 0 && S_ISDIR(st.st_mode);
}

static int read_ids_at(int dir_fd, const char *canon, uint16_t *ret_vendor, uint16_t *ret_device) {
        char path[PCI_ADDRESS_MAX + 16], buf[ATTR_SIZE_MAX];
        uint16_t vendor, device;
        int r;

        snprintf(path, sizeof path, "%s/vendor", canon);
        r = read_attr_at(dir_fd, path, buf, sizeof buf);
        if (r < 0)
                return r;
        r = parse_hex16(buf, &vendor);
        if (r < 0)
                return r;

        snprintf(path, sizeof path, "%s/device", canon);
        r = read_attr_at(dir_fd, path, buf, sizeof buf);
        if (r < 0)
                return r;
        r = parse_hex16(buf, &device);
        if (r < 0)
                return r;

        if (ret_vendor)
                *ret_vendor = vendor;
        if (ret_device)
                *ret_device = device;
        return 0;
}

int sysfs_read_ids(Sysfs *s, const char *bdf, uint16_t *ret_vendor, uint16_t *ret_device) {
        char path[PATH_MAX], canon[PCI_ADDRESS_MAX];

        if (pci_address_normalize(bdf, canon) < 0)
                return -EINVAL;
        if (path_format(path, "%s/sys/bus/pci/devices", s->root) < 0)
                return -ENAMETOOLONG;
        _cleanup_close_ int dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        return read_ids_at(dir_fd, canon, ret_vendor, ret_device);
}

static int open_devices_dir(Sysfs *s, DIR **ret) {
        char path[PATH_MAX];
        DIR *d;
        int r;

        r = path_format(path, "%s/sys/bus/pci/devices", s->root);
        if (r < 0)
                return r;
        d = opendir(path);
        if (!d)
                return -errno;
        *ret = d;
        return 0;
}

/* The entry is a device name exactly as the kernel spells one; copies it to
 * a bounded buffer so paths built from it have a known length. */
static bool dirent_is_bdf(const struct dirent *de, char canon[static PCI_ADDRESS_MAX]) {
        return pci_address_normalize(de->d_name, canon) >= 0 && strcmp(canon, de->d_name) == 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

int sysfs_find_pfs_by_ids(Sysfs *s, uint16_t vendor, uint16_t device, char ***ret) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_strv_free_ char **l = NULL;
        struct dirent *de;
        size_t n = 0;
        int r;

        if (!ret)
                return -EINVAL;
        r = open_devices_dir(s, &d);
        if (r < 0)
                return r;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;

        for (errno = 0; (de = readdir(d)); errno = 0) {
                char canon[PCI_ADDRESS_MAX], path[PCI_ADDRESS_MAX + 32];
                uint16_t v, dv;

                if (!dirent_is_bdf(de, canon))
                        continue;
                /* sriov_totalvfs first: VFs and plain functions (most of a large
                 * tree) are skipped with one syscall. */
                snprintf(path, sizeof path, "%s/sriov_totalvfs", canon);
                if (faccessat(dirfd(d), path, F_OK, 0) < 0)
                        continue;
                r = read_ids_at(dirfd(d), canon, &v, &dv);
                if (r == -ENOENT)
                        continue; /* removed while we looked */
                if (r < 0)
                        return r;
                if (v != vendor || dv != device)
                        continue;
                r = strv_extend(&l, canon);
                if (r < 0)
                        return r;
                n++;
        }
        if (errno > 0)
                return -errno;

        qsort(l, n, sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return 0;
}

int sysfs_find_by_interface(Sysfs *s, const char *ifname, char ret[static PCI_ADDRESS_MAX]) {
        _cleanup_closedir_ DIR *d = NULL;
        char best[PCI_ADDRESS_MAX] = "";
        struct dirent *de;
        int r;

        if (!ifname_is_valid(ifname))
                return -EINVAL;
        r = open_devices_dir(s, &d);
        if (r < 0)
                return r;

        for (errno = 0; (de = readdir(d)); errno = 0) {
                char canon[PCI_ADDRESS_MAX], path[PCI_ADDRESS_MAX + 32];
                struct stat st;

                if (!dirent_is_bdf(de, canon))
                        continue;
                snprintf(path, sizeof path, "%s/net/%s", canon, ifname);
                if (fstatat(dirfd(d), path, &st, 0) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (!best[0] || strcmp(canon, best) < 0)
                        memcpy(best, canon, PCI_ADDRESS_MAX);
        }
        if (errno > 0)
                return -errno;
        if (!best[0])
                return -ENODEV;

        memcpy(ret, best, PCI_ADDRESS_MAX);
        return 0;
}

int sysfs_get_driver(Sysfs *s, const char *bdf, char **ret) {
        char path[PATH_MAX], target[PATH_MAX];
        const char *leaf;
        char *name;
        int r;

        if (!ret)
                return -EINVAL;
        r = device_path(s, bdf, "driver", path);
        if (r < 0)
                return r;
        r = readlink_leaf_at(AT_FDCWD, path, "drivers", target, &leaf);
        if (r < 0)
                return r;
        name = strdup(leaf);
        if (!name)
                return -ENOMEM;
        *ret = name;
        return 0;
}

int sysfs_get_total_vfs(Sysfs *s, const char *bdf, unsigned *ret) {
        if (!ret)
                return -EINVAL;
        return read_device_unsigned(s, bdf, "sriov_totalvfs", ret);
}

int sysfs_get_num_vfs(Sysfs *s, const char *bdf, unsigned *ret) {
        if (!ret)
                return -EINVAL;
        return read_device_unsigned(s, bdf, "sriov_numvfs", ret);
}

int sysfs_set_num_vfs(Sysfs *s, const char *bdf, unsigned n) {
        char path[PATH_MAX], value[16];
        unsigned cur;
        int r;

        r = device_path(s, bdf, "sriov_numvfs", path);
        if (r < 0)
                return r;
        if (n > SYSFS_VFS_MAX)
                return -ERANGE;

        r = sysfs_get_num_vfs(s, bdf, &cur);
        if (r < 0)
                return r;
        if (cur == n)
                return 0;
        /* The kernel refuses a new non-zero count while VFs exist (EBUSY). */
        if (cur != 0 && n != 0) {
                r = write_attr(path, "0");
                if (r < 0)
                        return r;
        }
        snprintf(value, sizeof value, "%u", n);
        r = write_attr(path, value);
        if (r < 0)
                return r;

        r = sysfs_get_num_vfs(s, bdf, &cur);
        if (r < 0)
                return r;
        return cur == n ? 0 : -EIO;
}

int sysfs_get_iommu_group(Sysfs *s, const char *bdf, unsigned *ret) {
        char path[PATH_MAX], target[PATH_MAX];
        const char *leaf;
        unsigned group;
        int r;

        if (!ret)
                return -EINVAL;
        r = device_path(s, bdf, "iommu_group", path);
        if (r < 0)
                return r;
        r = readlink_leaf_at(AT_FDCWD, path, "iommu_groups", target, &leaf);
        if (r < 0)
                return r;
        r = parse_unsigned(leaf, &group);
        if (r < 0)
                return r;
        *ret = group;
        return 0;
}

int sysfs_get_numa_node(Sysfs *s, const char *bdf, int *ret) {
        char path[PATH_MAX], buf[ATTR_SIZE_MAX];
        unsigned v;
        int r;

        if (!ret)
                return -EINVAL;
        r = device_path(s, bdf, "numa_node", path);
        if (r < 0)
                return r;
        r = read_attr(path, buf, sizeof buf);
        if (r == -ENOENT && sysfs_device_exists(s, bdf)) {
                /* Kernels built without CONFIG_NUMA have no numa_node at all. */
                *ret = -1;
                return 0;
        }
        if (r < 0)
                return r;
        if (strcmp(buf, "-1") == 0) {
                *ret = -1;
                return 0;
        }
        r = parse_unsigned(buf, &v);
        if (r < 0)
                return r;
        if (v > INT_MAX)
                return -ERANGE;
        *ret = (int) v;
        return 0;
}

int sysfs_bind_driver(Sysfs *s, const char *bdf, const char *driver) {
        char canon[PCI_ADDRESS_MAX], path[PATH_MAX];
        _cleanup_free_ char *old = NULL, *now = NULL;
        bool bound;
        int r;

        if (pci_address_normalize(bdf, canon) < 0 || !driver_name_is_valid(driver))
                return -EINVAL;

        r = sysfs_get_driver(s, canon, &old);
        if (r < 0 && r != -ENOENT)
                return r;
        bound = r >= 0;
        if (bound && strcmp(old, driver) == 0)
                return 0;

        if (bound) {
                unsigned numvfs;

                /* vfio-pci refuses a PF whose VFs are enabled (EBUSY); disable
                 * them under the old driver while it still owns the PF. */
                r = sysfs_get_num_vfs(s, canon, &numvfs);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0 && numvfs > 0) {
                        r = sysfs_set_num_vfs(s, canon, 0);
                        if (r < 0)
                                return r;
                }
        }

        r = device_path(s, canon, "driver_override", path);
        if (r < 0)
                return r;
        r = write_attr(path, driver);
        if (r < 0)
                return r;

        if (bound) {
                r = device_path(s, canon, "driver/unbind", path);
                if (r < 0)
                        return r;
                r = write_attr(path, canon);
                /* ENODEV: the driver let go between our look and the write. */
                if (r < 0 && r != -ENODEV)
                        return r;
        }

        r = path_format(path, "%s/sys/bus/pci/drivers_probe", s->root);
        if (r < 0)
                return r;
        r = write_attr(path, canon);
        if (r < 0)
                return r;

        r = sysfs_get_driver(s, canon, &now);
        if (r == -ENOENT)
                return -ENXIO;
        if (r < 0)
                return r;
        return strcmp(now, driver) == 0 ? 0 : -ENXIO;
}

/* Module names in /sys/module use '_' where modprobe also accepts '-'. */
static int module_dir_name(const char *module, char buf[static SYSFS_DRIVER_NAME_MAX + 1]) {
        size_t n;

        if (!driver_name_is_valid(module))
                return -EINVAL;
        n = strlen(module);
        for (size_t i = 0; i < n; i++)
                buf[i] = module[i] == '-' ? '_' : module[i];
        buf[n] = '\0';
        return 0;
}

bool sysfs_module_loaded(Sysfs *s, const char *module) {
        char name[SYSFS_DRIVER_NAME_MAX + 1], path[PATH_MAX];
        struct stat st;

        if (module_dir_name(module, name) < 0)
                return false;
        if (path_format(path, "%s/sys/module/%s", s->root, name) < 0)
                return false;
        return stat(path, &st) >= 0 && S_ISDIR(st.st_mode);
}

int sysfs_enable_sriov_parameter(Sysfs *s, const char *driver) {
        char path[PATH_MAX], buf[ATTR_SIZE_MAX];
        const char *module;
        int r;

        if (!driver_name_is_valid(driver))
                return -EINVAL;
        if (strcmp(driver, "vfio-pci") == 0)
                module = "vfio_pci";
        else if (strcmp(driver, "vfbroker_vfio_pci") == 0)
                module = "vfbroker_vfio_pci";
        else
                return -EOPNOTSUPP;

        r = path_format(path, "%s/sys/module/%s/parameters/enable_sriov", s->root, module);
        if (r < 0)
                return r;
        /* Reading first means a system configured through modprobe.d needs no write. */
        r = read_attr(path, buf, sizeof buf);
        if (r < 0)
                return r;
        if (strcmp(buf, "Y") == 0)
                return 0;
        return write_attr(path, "1");
}

static int cmp_vf(const void *a, const void *b) {
        const SysfsVf *x = a, *y = b;

        return (x->index > y->index) - (x->index < y->index);
}

/* "virtfnN" with N in canonical decimal (no leading zeros) below SYSFS_VFS_MAX. */
static int parse_virtfn(const char *name, unsigned *ret) {
        const char *p;
        unsigned idx;
        int r;

        if (strncmp(name, "virtfn", 6) != 0)
                return -EBADMSG;
        p = name + 6;
        if (p[0] == '0' && p[1] != '\0')
                return -EBADMSG;
        r = parse_unsigned(p, &idx);
        if (r < 0)
                return r;
        if (idx >= SYSFS_VFS_MAX)
                return -ERANGE;
        *ret = idx;
        return 0;
}

/* Opens the PF's directory: the one walk from the root per PF. Everything
 * about its VFs is then looked up relative to dirfd(*ret). */
static int open_pf_dir(Sysfs *s, const char *pf_bdf, DIR **ret) {
        char path[PATH_MAX];
        DIR *d;
        int r;

        r = device_path(s, pf_bdf, NULL, path);
        if (r < 0)
                return r;
        d = opendir(path);
        if (!d)
                return -errno;
        *ret = d;
        return 0;
}

/* Reads the PF's virtfnN links, sorted by N, each address canonicalised
 * once here. e holds SYSFS_VFS_MAX entries. */
static int collect_vfs(DIR *d, SysfsVf *e, size_t *ret_n) {
        struct dirent *de;
        size_t n = 0;
        int r;

        for (errno = 0; (de = readdir(d)); errno = 0) {
                char target[PATH_MAX];
                const char *leaf;
                unsigned idx;

                if (strncmp(de->d_name, "virtfn", 6) != 0)
                        continue;
                r = parse_virtfn(de->d_name, &idx);
                if (r < 0)
                        return r;
                if (n >= SYSFS_VFS_MAX)
                        return -ERANGE;
                r = readlink_leaf_at(dirfd(d), de->d_name, NULL, target, &leaf);
                if (r < 0)
                        return r;
                if (pci_address_normalize(leaf, e[n].address) < 0)
                        return -EBADMSG;
                e[n].index = idx;
                e[n].iommu_group = 0;
                e[n].iommu_group_error = 0;
                e[n].numa_node = -1;
                n++;
        }
        if (errno > 0)
                return -errno;

        qsort(e, n, sizeof(SysfsVf), cmp_vf);
        *ret_n = n;
        return 0;
}

/* Relative paths below the PF's directory: "virtfnN/attr" resolves through
 * the virtfn link to the VF's own directory, with no walk from the root. */
static void vf_attr_path(char buf[static 48], unsigned index, const char *attr) {
        char digits[12];
        size_t n, k = 0, a = strlen(attr);

        /* By hand, not snprintf: three of these per VF at start-up. index
         * is below SYSFS_VFS_MAX, attr one of our short literals. */
        do
                digits[k++] = (char) ('0' + index % 10);
        while ((index /= 10) > 0);
        memcpy(buf, "virtfn", 6);
        n = 6;
        while (k > 0)
                buf[n++] = digits[--k];
        buf[n++] = '/';
        a = MIN(a, 47 - n); /* never shortens: at most "virtfn255/" and 11 */
        memcpy(buf + n, attr, a);
        buf[n + a] = '\0';
}

/* The IOMMU group and NUMA node of one VF. A missing numa_node means a
 * kernel without CONFIG_NUMA when the VF itself is there: -1, like an
 * unreadable one (a VF that vanished has no IOMMU group either). */
static void read_vf_facts(int pf_fd, SysfsVf *vf) {
        char path[48], target[PATH_MAX], buf[ATTR_SIZE_MAX];
        const char *leaf;
        unsigned v;
        int r;

        vf_attr_path(path, vf->index, "iommu_group");
        r = readlink_leaf_at(pf_fd, path, "iommu_groups", target, &leaf);
        if (r >= 0)
                r = parse_unsigned(leaf, &vf->iommu_group);
        vf->iommu_group_error = MIN(r, 0);

        vf->numa_node = -1;
        vf_attr_path(path, vf->index, "numa_node");
        if (read_attr_at(pf_fd, path, buf, sizeof buf) >= 0 && strcmp(buf, "-1") != 0 &&
            parse_unsigned(buf, &v) >= 0 && v <= INT_MAX)
                vf->numa_node = (int) v;
}

/* One pass over the PF's VFs. With driver: 1 if sriov_numvfs VFs exist and
 * every one is bound to driver, 0 if not yet. With facts: also reads each
 * VF's IOMMU group and NUMA node. e holds SYSFS_VFS_MAX entries. */
static int read_vfs_pass(DIR *d, const char *driver, bool facts, SysfsVf *e, size_t *ret_n) {
        size_t n;
        int r;

        if (driver) {
                char buf[ATTR_SIZE_MAX];
                unsigned numvfs;

                r = read_attr_at(dirfd(d), "sriov_numvfs", buf, sizeof buf);
                if (r < 0)
                        return r;
                r = parse_unsigned(buf, &numvfs);
                if (r < 0)
                        return r;
                r = collect_vfs(d, e, &n);
                if (r < 0)
                        return r;
                if (n < numvfs)
                        return 0;
        } else {
                r = collect_vfs(d, e, &n);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; (driver || facts) && i < n; i++) {
                if (driver) {
                        char path[48], target[PATH_MAX];
                        const char *leaf;

                        vf_attr_path(path, e[i].index, "driver");
                        r = readlink_leaf_at(dirfd(d), path, "drivers", target, &leaf);
                        if (r == -ENOENT)
                                return 0;
                        if (r < 0)
                                return r;
                        if (strcmp(leaf, driver) != 0)
                                return 0;
                }
                if (facts)
                        read_vf_facts(dirfd(d), &e[i]);
        }
        *ret_n = n;
        return 1;
}

static int read_vfs(Sysfs *s, const char *pf_bdf, const char *driver, bool facts, SysfsVf **ret, size_t *ret_n) {
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ SysfsVf *e = NULL;
        size_t n = 0;
        int r;

        r = open_pf_dir(s, pf_bdf, &d);
        if (r < 0)
                return r;
        /* Bounded by SYSFS_VFS_MAX: one allocation up front, no growth. */
        e = calloc(SYSFS_VFS_MAX, sizeof(SysfsVf));
        if (!e)
                return -ENOMEM;
        r = read_vfs_pass(d, driver, facts, e, &n);
        if (r <= 0)
                return r;
        if (ret) {
                *ret = n > 0 ? TAKE_PTR(e) : NULL;
                *ret_n = n;
        }
        return 1;
}

int sysfs_list_vfs(Sysfs *s, const char *pf_bdf, char ***ret) {
        _cleanup_free_ SysfsVf *e = NULL;
        size_t n = 0;
        char **l;
        int r;

        if (!ret)
                return -EINVAL;
        r = read_vfs(s, pf_bdf, NULL, false, &e, &n);
        if (r < 0)
                return r;

        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(e[i].address);
                if (!l[i]) {
                        strv_free(l);
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

int sysfs_read_vfs(Sysfs *s, const char *pf_bdf, SysfsVf **ret, size_t *ret_n) {
        SysfsVf *e = NULL;
        size_t n = 0;
        int r;

        if (!ret || !ret_n)
                return -EINVAL;
        r = read_vfs(s, pf_bdf, NULL, true, &e, &n);
        if (r < 0)
                return r;
        *ret = e;
        *ret_n = n;
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000) + (uint64_t) ts.tv_nsec / 1000;
}

int sysfs_wait_vfs_bound_read(Sysfs *s, const char *pf_bdf, const char *driver, uint64_t timeout_usec,
                              SysfsVf **ret, size_t *ret_n) {
        uint64_t deadline, now;
        int r;

        if (!pci_address_is_valid(pf_bdf) || !driver_name_is_valid(driver) || !ret != !ret_n)
                return -EINVAL;

        now = now_usec();
        deadline = timeout_usec > UINT64_MAX - now ? UINT64_MAX : now + timeout_usec;
        for (;;) {
                struct timespec ts;
                uint64_t step;

                /* Facts only when the caller wants them: the pass that finds
                 * every VF bound is then the one whose list it gets. */
                r = read_vfs(s, pf_bdf, driver, ret != NULL, ret, ret_n);
                if (r != 0)
                        return r < 0 ? r : 0;

                now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                step = MIN(deadline - now, UINT64_C(10000));
                ts.tv_sec = 0;
                ts.tv_nsec = (long) (step * 1000);
                /* Relative sleep; EINTR just means we look again sooner. */
                (void) clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        }
}

int sysfs_wait_vfs_bound(Sysfs *s, const char *pf_bdf, const char *driver, uint64_t timeout_usec) {
        return sysfs_wait_vfs_bound_read(s, pf_bdf, driver, timeout_usec, NULL, NULL);
}

/* The kmod's per-VF attributes (kmod/main.c): absent under stock vfio-pci,
 * where the open fails with ENOENT and the caller learns the driver lacks them. */
int sysfs_set_vf_token(Sysfs *s, const char *bdf, const Token *token) {
        char path[PATH_MAX], value[TOKEN_STRING_MAX + 1];
        int r;

        r = device_path(s, bdf, "vfbroker_token", path);
        if (r < 0)
                return r;
        if (token) {
                token_to_string(token, value);
                strcat(value, "\n");
        } else
                strcpy(value, "\n");
        return write_attr(path, value);
}

int sysfs_revoke_vf(Sysfs *s, const char *bdf) {
        char path[PATH_MAX], canon[PCI_ADDRESS_MAX], value[PCI_ADDRESS_MAX + 1];
        int r;

        if (pci_address_normalize(bdf, canon) < 0)
                return -EINVAL;
        /* The driver's attribute takes the VF's address and stays while an
         * unbind or sriov_numvfs=0 waits for the holder, when the VF's own
         * attributes are gone already; builds of the module before it have
         * only the VF's. */
        r = path_format(path, "%s/sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_revoke", s->root);
        if (r < 0)
                return r;
        snprintf(value, sizeof value, "%s\n", canon);
        r = write_attr(path, value);
        if (r != -ENOENT)
                return r;
        r = device_path(s, canon, "vfbroker_revoke", path);
        if (r < 0)
                return r;
        return write_attr(path, "1\n");
}

int sysfs_get_vf_cdev_name(Sysfs *s, const char *bdf, char ret[static SYSFS_CDEV_NAME_MAX]) {
        _cleanup_closedir_ DIR *d = NULL;
        char path[PATH_MAX];
        struct dirent *de;
        int r;

        r = device_path(s, bdf, "vfio-dev", path);
        if (r < 0)
                return r;
        /* vfio_device_add: one child "vfioN" while the device is bound to a
         * VFIO driver on a kernel with CONFIG_VFIO_DEVICE_CDEV. */
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);

                if (strncmp(de->d_name, "vfio", 4) != 0 || n <= 4 || n >= SYSFS_CDEV_NAME_MAX ||
                    strspn(de->d_name + 4, "0123456789") != n - 4)
                        continue;
                memcpy(ret, de->d_name, n + 1);
                return 0;
        }
        return -ENOENT;
}

static int driver_attr_path(Sysfs *s, const char *attr, char path[static PATH_MAX]) {
        return path_format(path, "%s/sys/bus/pci/drivers/vfbroker_vfio_pci/%s", s->root, attr);
}

bool sysfs_driver_can_arm(Sysfs *s) {
        char path[PATH_MAX];

        return driver_attr_path(s, "vfbroker_arm", path) >= 0 && access(path, F_OK) >= 0;
}

int sysfs_arm_vf(Sysfs *s, const char *bdf, int iommufd) {
        char path[PATH_MAX], canon[PCI_ADDRESS_MAX], value[PCI_ADDRESS_MAX + 16];
        int r;

        if (pci_address_normalize(bdf, canon) < 0 || iommufd < 0)
                return -EINVAL;
        r = driver_attr_path(s, "vfbroker_arm", path);
        if (r < 0)
                return r;
        /* The driver resolves the number in this process's fd table. */
        snprintf(value, sizeof value, "%s %d\n", canon, iommufd);
        return write_attr(path, value);
}

int sysfs_disarm_vf(Sysfs *s, const char *bdf) {
        char path[PATH_MAX], canon[PCI_ADDRESS_MAX], value[PCI_ADDRESS_MAX + 1];
        int r;

        if (pci_address_normalize(bdf, canon) < 0)
                return -EINVAL;
        r = driver_attr_path(s, "vfbroker_disarm", path);
        if (r < 0)
                return r;
        snprintf(value, sizeof value, "%s\n", canon);
        return write_attr(path, value);
}
