/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Vfio: the kernel interface the broker needs, and nothing else: open a PF and
 * keep it, set the PF's VF token, open a VF with a token, tell whether a VF is
 * free. Group/container API today (the only one Debian's kernels have); a
 * cdev/iommufd backend slots in behind the same functions. */
#pragma once

#include <stdbool.h>

#include "uuid-util.h"

typedef struct Vfio Vfio;

/* dev_root: "/dev" normally; a fixture directory in unit tests. */
int vfio_new(const char *dev_root, Vfio **ret);
Vfio *vfio_free(Vfio *v);
/* 0 if /dev/vfio/vfio can be opened and speaks VFIO_API_VERSION with type1v2;
 * -ENOENT / -ENODEV / -EACCES otherwise (the kernel has no VFIO, ...). */
int vfio_check_available(Vfio *v);

/* Opens the PF through VFIO (new container, the group, type1v2 IOMMU, device
 * fd). Returns the device fd, which keeps group and container alive. */
int vfio_open_pf(Vfio *v, unsigned iommu_group, const char *bdf, int *ret_device_fd);
/* VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN on the PF fd. */
int vfio_set_vf_token(int pf_device_fd, const Token *token);
typedef struct VfioVfFds {
        int container;
        int group;
        int device;
} VfioVfFds;
#define VFIO_VF_FDS_NULL ((VfioVfFds) { -EBADF, -EBADF, -EBADF })
void vfio_vf_fds_close(VfioVfFds *fds);

/* Opens the VF: new container, group, type1v2, device fd with
 * "BDF vf_token=UUID" (token NULL: no token option). The group being open by
 * someone else gives -EBUSY; a wrong token -EACCES. */
int vfio_open_vf(Vfio *v, unsigned iommu_group, const char *bdf, const Token *token, VfioVfFds *ret);
/* 1 if the group can be opened (nobody holds the VF), 0 if busy (EBUSY),
 * negative errno on other errors. Opens and closes at once. */
int vfio_group_is_free(Vfio *v, unsigned iommu_group);
