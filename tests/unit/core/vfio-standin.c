/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stand-in for daemon/vfio.c, linked into the Allocator's unit test only:
 * the host kernel has no VFIO, so what each IOMMU group's open answers is
 * set by the test (vfio-standin.h). Opened "VF fds" are pipes, so the test
 * can tell that every fd the allocator got is closed again. The real
 * vfio.c is proven against vfio-pci in the VM suite. */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "macro.h"
#include "vfio-standin.h"
#include "vfio.h"

StandinGroup standin_groups[STANDIN_GROUPS_MAX];
unsigned standin_token_sets;
int standin_iommufd_available;
int standin_iommufd_open_error;
unsigned standin_iommufd_opens;
unsigned standin_cdev_opens;

struct Vfio {
        int unused;
};

int vfio_new(const char *dev_root, Vfio **ret) {
        *ret = calloc(1, sizeof(Vfio));
        return *ret ? 0 : -ENOMEM;
}

Vfio *vfio_free(Vfio *v) {
        free(v);
        return NULL;
}

int vfio_check_available(Vfio *v) {
        return 0;
}

void vfio_vf_fds_close(VfioVfFds *fds) {
        fds->container = safe_close(fds->container);
        fds->group = safe_close(fds->group);
        fds->device = safe_close(fds->device);
}

int vfio_open_pf_with_token(Vfio *v, unsigned iommu_group, const char *bdf, const Token *token, int *ret_device_fd) {
        return -ENOSYS;
}

int vfio_set_vf_token(int pf_device_fd, const Token *token) {
        standin_token_sets++;
        for (unsigned g = 0; g < STANDIN_GROUPS_MAX; g++)
                if (standin_groups[g].refuse_token > 0)
                        standin_groups[g].refuse_token--;
        return 0;
}

static int pipe_fd(void) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        close(p[1]);
        return p[0];
}

int vfio_open_vf(Vfio *v, unsigned iommu_group, const char *bdf, const Token *token, VfioVfFds *ret) {
        StandinGroup *g;

        if (iommu_group >= STANDIN_GROUPS_MAX)
                return -ENOENT;
        g = &standin_groups[iommu_group];
        g->opens++;
        if (g->open_error)
                return g->open_error;
        if (g->held)
                return -EBUSY;
        if (g->refuse_token > 0)
                return -EACCES;

        ret->container = pipe_fd();
        ret->group = pipe_fd();
        ret->device = pipe_fd();
        if (ret->container < 0 || ret->group < 0 || ret->device < 0) {
                vfio_vf_fds_close(ret);
                return -EMFILE;
        }
        return 0;
}

int vfio_iommufd_available(Vfio *v) {
        return standin_iommufd_available ? 0 : -ENOENT;
}

int vfio_open_iommufd(Vfio *v, int *ret_fd) {
        int fd;

        if (standin_iommufd_open_error)
                return standin_iommufd_open_error;
        fd = pipe_fd();
        if (fd < 0)
                return fd;
        standin_iommufd_opens++;
        *ret_fd = fd;
        return 0;
}

int vfio_open_cdev(Vfio *v, const char *cdev_name, int *ret_fd) {
        int fd = pipe_fd();

        if (fd < 0)
                return fd;
        standin_cdev_opens++;
        *ret_fd = fd;
        return 0;
}

int vfio_group_is_free(Vfio *v, unsigned iommu_group) {
        if (iommu_group >= STANDIN_GROUPS_MAX)
                return -ENOENT;
        if (standin_groups[iommu_group].probe_error)
                return standin_groups[iommu_group].probe_error;
        return standin_groups[iommu_group].held ? 0 : 1;
}

int vfio_device_get_info(int device_fd, unsigned *ret_flags) {
        return -ENOTTY;
}

int vfio_device_is_pci(int device_fd) {
        return -ENOTTY;
}
