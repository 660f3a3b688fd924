/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Vfio over the group/container API: container and group setup, PF and VF
 * device fds, the PF's VF token, the group-busy probe. The only file that
 * includes <linux/vfio.h>. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "pci-address.h"
#include "vfio.h"

struct Vfio {
        char *dev_root; /* without trailing '/': "" for "/" */
};

/* "dddd:bb:dd.f vf_token=" and a UUID: the longest name we hand the kernel. */
#define DEVICE_NAME_MAX (PCI_ADDRESS_MAX + sizeof(" vf_token=") + TOKEN_STRING_MAX)

int vfio_new(const char *dev_root, Vfio **ret) {
        _cleanup_free_ char *r = NULL;
        Vfio *v;
        size_t n;

        if (!dev_root || dev_root[0] != '/' || !ret)
                return -EINVAL;
        n = strnlen(dev_root, PATH_MAX);
        if (n >= PATH_MAX)
                return -ENAMETOOLONG;
        while (n > 0 && dev_root[n - 1] == '/')
                n--;
        r = strndup(dev_root, n);
        if (!r)
                return -ENOMEM;

        v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->dev_root = TAKE_PTR(r);
        *ret = v;
        return 0;
}

Vfio *vfio_free(Vfio *v) {
        if (!v)
                return NULL;
        free(v->dev_root);
        free(v);
        return NULL;
}

void vfio_vf_fds_close(VfioVfFds *fds) {
        if (!fds)
                return;
        fds->device = safe_close(fds->device);
        fds->group = safe_close(fds->group);
        fds->container = safe_close(fds->container);
}

/* An ioctl the node does not know (ENOTTY) means the node is not VFIO at all:
 * say "no such device" rather than leak ENOTTY's "inappropriate ioctl". */
static int ioctl_errno_not_vfio(void) {
        return errno == ENOTTY ? -ENODEV : negative_errno();
}

/* A new container that speaks our API version and has type1v2. */
static int container_open(Vfio *v, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        char path[PATH_MAX];
        int r;

        if (snprintf(path, sizeof path, "%s/vfio/vfio", v->dev_root) >= (int) sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        r = ioctl(fd, VFIO_GET_API_VERSION);
        if (r < 0)
                return ioctl_errno_not_vfio();
        if (r != VFIO_API_VERSION)
                return -ENODEV;
        r = ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
        if (r < 0)
                return ioctl_errno_not_vfio();
        if (r != 1)
                return -EOPNOTSUPP;

        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int group_path(Vfio *v, unsigned iommu_group, char path[static PATH_MAX]) {
        if (snprintf(path, PATH_MAX, "%s/vfio/%u", v->dev_root, iommu_group) >= PATH_MAX)
                return -ENAMETOOLONG;
        return 0;
}

int vfio_check_available(Vfio *v) {
        _cleanup_close_ int fd = -EBADF;

        if (!v)
                return -EINVAL;
        return container_open(v, &fd);
}

/* Builds "BDF" or "BDF vf_token=UUID" from a BDF in any accepted spelling. */
static int device_name(const char *bdf, const Token *token, char buf[static DEVICE_NAME_MAX]) {
        char canon[PCI_ADDRESS_MAX], t[TOKEN_STRING_MAX];

        if (pci_address_normalize(bdf, canon) < 0)
                return -EINVAL;
        if (!token) {
                snprintf(buf, DEVICE_NAME_MAX, "%s", canon);
                return 0;
        }
        /* The kernel reads a null UUID as a token like any other, but the
         * broker never hands one out: a null here is a caller's bug. */
        if (token_is_null(token))
                return -EINVAL;
        snprintf(buf, DEVICE_NAME_MAX, "%s vf_token=%s", canon, token_to_string(token, t));
        return 0;
}

/* Container, group, IOMMU, device: the whole group-API sequence. The device
 * fd comes from the kernel with O_CLOEXEC already (vfio_group_ioctl_get_device_fd). */
static int open_device(Vfio *v, unsigned iommu_group, const char *name, VfioVfFds *ret) {
        _cleanup_close_ int container = -EBADF, group = -EBADF, device = -EBADF;
        struct vfio_group_status status = { .argsz = sizeof(status) };
        char path[PATH_MAX];
        int r;

        r = group_path(v, iommu_group, path);
        if (r < 0)
                return r;
        r = container_open(v, &container);
        if (r < 0)
                return r;

        group = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (group < 0)
                return -errno;
        if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
                return ioctl_errno_not_vfio();
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
                return -EPERM;
        if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
                return negative_errno();
        if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
                return negative_errno();

        device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);
        if (device < 0)
                return negative_errno();

        ret->container = TAKE_FD(container);
        ret->group = TAKE_FD(group);
        ret->device = TAKE_FD(device);
        return 0;
}

int vfio_open_pf_with_token(Vfio *v, unsigned iommu_group, const char *bdf, const Token *token,
                            int *ret_device_fd) {
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        char name[DEVICE_NAME_MAX];
        int r;

        if (!v || !ret_device_fd)
                return -EINVAL;
        r = device_name(bdf, token, name);
        if (r < 0)
                return r;
        r = open_device(v, iommu_group, name, &fds);
        if (r < 0)
                return r;

        /* The device fd holds the group, the group holds the container. */
        *ret_device_fd = TAKE_FD(fds.device);
        vfio_vf_fds_close(&fds);
        return 0;
}

int vfio_set_vf_token(int pf_device_fd, const Token *token) {
        /* struct vfio_device_feature ends in a flexible array: the UUID follows
         * it in one buffer, aligned for the header. */
        alignas(struct vfio_device_feature) uint8_t buf[sizeof(struct vfio_device_feature) + TOKEN_SIZE];
        struct vfio_device_feature *f = (struct vfio_device_feature *) buf;

        if (!token || token_is_null(token))
                return -EINVAL;
        if (pf_device_fd < 0)
                return -EBADF;

        memset(buf, 0, sizeof buf);
        f->argsz = sizeof buf;
        f->flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
        memcpy(f->data, token->bytes, TOKEN_SIZE);
        if (ioctl(pf_device_fd, VFIO_DEVICE_FEATURE, buf) < 0)
                return negative_errno();
        return 0;
}

int vfio_open_vf(Vfio *v, unsigned iommu_group, const char *bdf, const Token *token, VfioVfFds *ret) {
        char name[DEVICE_NAME_MAX];
        int r;

        if (!v || !ret)
                return -EINVAL;
        r = device_name(bdf, token, name);
        if (r < 0)
                return r;
        return open_device(v, iommu_group, name, ret);
}

int vfio_group_is_free(Vfio *v, unsigned iommu_group) {
        char path[PATH_MAX];
        int fd, r;

        if (!v)
                return -EINVAL;
        r = group_path(v, iommu_group, path);
        if (r < 0)
                return r;
        /* vfio_group_fops_open lets one file have the group at a time, and a
         * device fd keeps its group file: EBUSY means someone holds the VF. */
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == EBUSY ? 0 : -errno;
        safe_close(fd);
        return 1;
}

int vfio_iommufd_available(Vfio *v) {
        char path[PATH_MAX];
        struct stat st;

        if (!v)
                return -EINVAL;
        if (snprintf(path, sizeof path, "%s/iommu", v->dev_root) >= (int) sizeof path)
                return -ENAMETOOLONG;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISCHR(st.st_mode) ? 0 : -ENODEV;
}

int vfio_open_iommufd(Vfio *v, int *ret_fd) {
        char path[PATH_MAX];
        int fd;

        if (!v || !ret_fd)
                return -EINVAL;
        if (snprintf(path, sizeof path, "%s/iommu", v->dev_root) >= (int) sizeof path)
                return -ENAMETOOLONG;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

static bool cdev_name_valid(const char *name) {
        size_t n;

        if (!name || strncmp(name, "vfio", 4) != 0)
                return false;
        n = strspn(name + 4, "0123456789");
        return n > 0 && n <= 10 && name[4 + n] == '\0';
}

int vfio_open_cdev(Vfio *v, const char *cdev_name, int *ret_fd) {
        char path[PATH_MAX];
        int fd;

        if (!v || !ret_fd || !cdev_name_valid(cdev_name))
                return -EINVAL;
        if (snprintf(path, sizeof path, "%s/vfio/devices/%s", v->dev_root, cdev_name) >= (int) sizeof path)
                return -ENAMETOOLONG;
        /* vfio_device_fops_cdev_open: every open gets its own unbound file;
         * the bind that follows is exclusive. */
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int vfio_device_get_info(int device_fd, unsigned *ret_flags) {
        struct vfio_device_info info = { .argsz = sizeof(info) };

        if (device_fd < 0)
                return -EBADF;
        if (ioctl(device_fd, VFIO_DEVICE_GET_INFO, &info) < 0)
                return negative_errno();
        if (ret_flags)
                *ret_flags = info.flags;
        return 0;
}

int vfio_device_is_pci(int device_fd) {
        unsigned flags;
        int r;

        r = vfio_device_get_info(device_fd, &flags);
        if (r < 0)
                return r;
        return !!(flags & VFIO_DEVICE_FLAGS_PCI);
}
