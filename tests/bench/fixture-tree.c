/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds the benchmark fixture: a sysfs look-alike with many PFs and VFs and
 * the matching fixture VFIO nodes. Relative *at() calls from directory fds,
 * so 16,384 VFs take a second or so, not a minute. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture-tree.h"

#define PF_VENDOR 0x8086
#define PF_DEVICE 0x1521 /* an i350 PF, as a many-VF host has them */
#define VF_DEVICE 0x1520

static int close_keep_errno(int fd, int r) {
        int saved = errno;

        if (fd >= 0)
                (void) close(fd);
        errno = saved;
        return r;
}

static int mkdirs_at(int dir_fd, const char *rel) {
        char buf[512];
        size_t n = strlen(rel);

        if (n >= sizeof buf)
                return -ENAMETOOLONG;
        memcpy(buf, rel, n + 1);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdirat(dir_fd, buf, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdirat(dir_fd, buf, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_at(int dir_fd, const char *rel, const char *content) {
        size_t n = strlen(content);
        ssize_t k;
        int fd;

        fd = openat(dir_fd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        k = n ? write(fd, content, n) : 0;
        if (k < 0)
                return close_keep_errno(fd, -errno);
        (void) close(fd);
        return (size_t) k == n ? 0 : -EIO;
}

static int symlink_at(int dir_fd, const char *target, const char *rel) {
        return symlinkat(target, dir_fd, rel) < 0 ? -errno : 0;
}

static int open_dir_at(int dir_fd, const char *rel) {
        int fd = openat(dir_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

void fixture_tree_pf_address(unsigned i, char buf[static FIXTURE_TREE_ADDRESS_MAX]) {
        snprintf(buf, FIXTURE_TREE_ADDRESS_MAX, "0000:%02x:00.0", (2 * i + 1) & 0xffu);
}

void fixture_tree_vf_address(unsigned i, unsigned j, char buf[static FIXTURE_TREE_ADDRESS_MAX]) {
        snprintf(buf, FIXTURE_TREE_ADDRESS_MAX, "0000:%02x:%02x.%x", (2 * i + 2) & 0xffu, (j / 8) & 0x1fu, j % 8);
}

/* One PCI function: its directory below devices/pci0000:00, the bus link,
 * ids, numa_node, driver and IOMMU group. Returns the directory's fd. */
static int add_function(int sys_fd, int pci_fd, int dev_vfio_fd, const char *bdf, unsigned device,
                        unsigned group, int numa_node) {
        char rel[128], target[128], value[32];
        int fd, r;

        if (mkdirat(pci_fd, bdf, 0755) < 0)
                return -errno;
        snprintf(rel, sizeof rel, "bus/pci/devices/%s", bdf);
        snprintf(target, sizeof target, "../../../devices/pci0000:00/%s", bdf);
        r = symlink_at(sys_fd, target, rel);
        if (r < 0)
                return r;

        fd = open_dir_at(pci_fd, bdf);
        if (fd < 0)
                return fd;
        snprintf(value, sizeof value, "0x%04x\n", PF_VENDOR);
        r = write_at(fd, "vendor", value);
        if (r >= 0) {
                snprintf(value, sizeof value, "0x%04x\n", device);
                r = write_at(fd, "device", value);
        }
        if (r >= 0) {
                snprintf(value, sizeof value, "%d\n", numa_node);
                r = write_at(fd, "numa_node", value);
        }
        if (r >= 0)
                r = write_at(fd, "driver_override", "vfio-pci\n");
        if (r >= 0)
                r = symlink_at(fd, "../../../bus/pci/drivers/vfio-pci", "driver");
        if (r >= 0) {
                snprintf(rel, sizeof rel, "kernel/iommu_groups/%u", group);
                r = mkdirat(sys_fd, rel, 0755) < 0 ? -errno : 0;
        }
        if (r >= 0) {
                snprintf(target, sizeof target, "../../../kernel/iommu_groups/%u", group);
                r = symlink_at(fd, target, "iommu_group");
        }
        if (r >= 0) {
                snprintf(rel, sizeof rel, "%u", group);
                r = write_at(dev_vfio_fd, rel, "");
        }
        if (r < 0)
                return close_keep_errno(fd, r);
        return fd;
}

static int add_pf(int sys_fd, int pci_fd, int dev_vfio_fd, unsigned i, unsigned m, unsigned *group) {
        char pf[FIXTURE_TREE_ADDRESS_MAX], value[32];
        int pf_fd, r;

        fixture_tree_pf_address(i, pf);
        pf_fd = add_function(sys_fd, pci_fd, dev_vfio_fd, pf, PF_DEVICE, (*group)++, (int) (i % 2));
        if (pf_fd < 0)
                return pf_fd;
        snprintf(value, sizeof value, "%u\n", m);
        r = write_at(pf_fd, "sriov_totalvfs", value);
        if (r >= 0)
                r = write_at(pf_fd, "sriov_numvfs", value);

        for (unsigned j = 0; j < m && r >= 0; j++) {
                char vf[FIXTURE_TREE_ADDRESS_MAX], name[32], target[64];
                int vf_fd;

                fixture_tree_vf_address(i, j, vf);
                vf_fd = add_function(sys_fd, pci_fd, dev_vfio_fd, vf, VF_DEVICE, (*group)++, (int) (i % 2));
                if (vf_fd < 0) {
                        r = vf_fd;
                        break;
                }
                snprintf(target, sizeof target, "../%s", pf);
                r = symlink_at(vf_fd, target, "physfn");
                (void) close(vf_fd);
                if (r < 0)
                        break;
                snprintf(name, sizeof name, "virtfn%u", j);
                snprintf(target, sizeof target, "../%s", vf);
                r = symlink_at(pf_fd, target, name);
        }
        return close_keep_errno(pf_fd, r);
}

int fixture_tree_create(const char *dir, unsigned n_pfs, unsigned vfs_per_pf) {
        int dir_fd = -EBADF, sys_fd = -EBADF, pci_fd = -EBADF, vfio_fd = -EBADF, r;
        unsigned group = 1;

        if (n_pfs > FIXTURE_TREE_PFS_MAX || vfs_per_pf > FIXTURE_TREE_VFS_MAX)
                return -ERANGE;

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        r = mkdirs_at(dir_fd, "root/sys/devices/pci0000:00");
        if (r >= 0)
                r = mkdirs_at(dir_fd, "root/sys/bus/pci/devices");
        if (r >= 0)
                r = mkdirs_at(dir_fd, "root/sys/bus/pci/drivers/vfio-pci");
        if (r >= 0)
                r = mkdirs_at(dir_fd, "root/sys/kernel/iommu_groups");
        if (r >= 0)
                r = mkdirs_at(dir_fd, "root/sys/module/vfio_pci/parameters");
        if (r >= 0)
                r = write_at(dir_fd, "root/sys/module/vfio_pci/parameters/enable_sriov", "Y\n");
        if (r >= 0)
                r = write_at(dir_fd, "root/sys/bus/pci/drivers_probe", "");
        if (r >= 0)
                r = write_at(dir_fd, "root/sys/bus/pci/drivers/vfio-pci/bind", "");
        if (r >= 0)
                r = write_at(dir_fd, "root/sys/bus/pci/drivers/vfio-pci/unbind", "");
        if (r >= 0)
                r = mkdirs_at(dir_fd, "dev/vfio");
        if (r >= 0)
                r = write_at(dir_fd, "dev/vfio/vfio", "");
        if (r < 0)
                goto finish;

        sys_fd = open_dir_at(dir_fd, "root/sys");
        pci_fd = open_dir_at(dir_fd, "root/sys/devices/pci0000:00");
        vfio_fd = open_dir_at(dir_fd, "dev/vfio");
        if (sys_fd < 0 || pci_fd < 0 || vfio_fd < 0) {
                r = sys_fd < 0 ? sys_fd : pci_fd < 0 ? pci_fd : vfio_fd;
                goto finish;
        }
        for (unsigned i = 0; i < n_pfs && r >= 0; i++)
                r = add_pf(sys_fd, pci_fd, vfio_fd, i, vfs_per_pf, &group);

finish:
        (void) close_keep_errno(vfio_fd, 0);
        (void) close_keep_errno(pci_fd, 0);
        (void) close_keep_errno(sys_fd, 0);
        (void) close_keep_errno(dir_fd, 0);
        return r;
}
