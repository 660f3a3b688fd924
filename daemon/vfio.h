/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Vfio: the kernel interface the broker needs, and nothing else: open a PF and
 * keep it, set the PF's VF token, open a VF with a token, tell whether a VF is
 * free. The group/container API (the only one Debian's kernels have), and
 * the opens of the cdev/iommufd path, whose binding is the client's. */
#pragma once

#include <errno.h>
#include <stdbool.h>

#include "uuid-util.h"

/* Errors shared by the functions below:
 *   -EINVAL   malformed argument (BDF, null token); nothing was opened;
 *   -ENOENT   no /dev/vfio/vfio or no /dev/vfio/<group>: the kernel has no VFIO,
 *             or the device is not bound to a VFIO driver;
 *   -ENODEV   the node exists but does not speak VFIO (its ioctls fail with
 *             ENOTTY) or speaks another VFIO_API_VERSION;
 *   -EOPNOTSUPP  the container has no VFIO_TYPE1v2_IOMMU;
 *   -EPERM    the group is not viable (a device in it is bound to a non-VFIO driver);
 *   -EBUSY    the group is open elsewhere (someone holds the device);
 *   -EACCES   no permission on the node, or the kernel refused the VF token;
 *   otherwise the errno of the failing open/ioctl. */

typedef struct Vfio Vfio;

/* dev_root: "/dev" normally; a fixture directory in unit tests. Absolute. */
int vfio_new(const char *dev_root, Vfio **ret);
Vfio *vfio_free(Vfio *v);
/* 0 if /dev/vfio/vfio can be opened and speaks VFIO_API_VERSION with type1v2;
 * -ENOENT / -ENODEV / -EOPNOTSUPP / -EACCES otherwise. */
int vfio_check_available(Vfio *v);

/* Opens the PF through VFIO (new container, the group, type1v2 IOMMU, device
 * fd) by "BDF vf_token=UUID": while no VF is open this also SETS the PF's VF
 * token; while VFs are open the token must match (EACCES otherwise). The
 * device fd keeps group and container alive. */
int vfio_open_pf_with_token(Vfio *v, unsigned iommu_group, const char *bdf, const Token *token,
                            int *ret_device_fd);
/* VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN on the PF fd.
 * -ENOTTY if the fd is not a VFIO PF. Affects later VF opens only. */
int vfio_set_vf_token(int pf_device_fd, const Token *token);
typedef struct VfioVfFds {
        int container;
        int group;
        int device;
} VfioVfFds;
#define VFIO_VF_FDS_NULL ((VfioVfFds) { -EBADF, -EBADF, -EBADF })
/* Closes what is open and sets every member to -EBADF. */
void vfio_vf_fds_close(VfioVfFds *fds);

/* Opens the VF: new container, group, type1v2, device fd with
 * "BDF vf_token=UUID" (token NULL: no token option). The group being open by
 * someone else gives -EBUSY; a wrong token -EACCES. */
int vfio_open_vf(Vfio *v, unsigned iommu_group, const char *bdf, const Token *token, VfioVfFds *ret);
/* 1 if the group can be opened (nobody holds the VF), 0 if busy (EBUSY),
 * negative errno on other errors. Opens and closes at once. */
int vfio_group_is_free(Vfio *v, unsigned iommu_group);

/* ---- the cdev/iommufd path (kernels with CONFIG_IOMMUFD and
 * CONFIG_VFIO_DEVICE_CDEV) ---- */
/* 0 if /dev/iommu exists and is a character device; -ENOENT where the kernel
 * has no IOMMUFD. Opens nothing. */
int vfio_iommufd_available(Vfio *v);
/* A fresh iommufd: /dev/iommu, opened O_RDWR|O_CLOEXEC. */
int vfio_open_iommufd(Vfio *v, int *ret_fd);
/* The VF's cdev /dev/vfio/devices/<cdev_name> (cdev_name "vfioN", from
 * sysfs_get_vf_cdev_name), opened O_RDWR|O_CLOEXEC and left UNBOUND: the
 * client binds it to an iommufd itself (VFIO_DEVICE_BIND_IOMMUFD), which only
 * one fd of the VF can do at a time. -EINVAL for a name that is not vfioN. */
int vfio_open_cdev(Vfio *v, const char *cdev_name, int *ret_fd);

/* VFIO_DEVICE_GET_INFO on device_fd: the kernel's VFIO_DEVICE_FLAGS_*.
 * -ENOTTY if the fd is not a VFIO device. */
int vfio_device_get_info(int device_fd, unsigned *ret_flags);
/* For fds coming back from systemd's fd store: 1 if device_fd is a VFIO PCI
 * device, 0 if a VFIO device of another bus, -ENOTTY if not VFIO at all. */
int vfio_device_is_pci(int device_fd);
