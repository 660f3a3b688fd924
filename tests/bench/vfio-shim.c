/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-shim.so: an LD_PRELOAD stand-in for the kernel's VFIO ioctls, for the
 * start-up benchmark only (the host has no VFIO, and without it every PF is
 * marked broken before its VFs are read, so nothing of interest would run).
 *
 * It answers VFIO ioctls (type ';') on regular files only: the fixture's
 * dev/vfio/vfio and dev/vfio/<group> (fixture-tree.c) are regular files,
 * a real VFIO node never is, and on a regular file the kernel would only
 * say ENOTTY. So the daemon's own code runs unchanged (it opens the nodes,
 * builds the names, walks the same sequence) and nothing real is faked.
 * Every other ioctl goes to the next definition (libc, or a sanitizer's). */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

int ioctl(int fd, unsigned long request, ...);

typedef int (*ioctl_fn)(int, unsigned long, ...);

static int fake_vfio_ioctl(int fd, unsigned long request, void *arg) {
        switch (request) {
        case VFIO_GET_API_VERSION:
                return VFIO_API_VERSION;
        case VFIO_CHECK_EXTENSION:
                /* An int passed through "...": only its low 32 bits are defined. */
                return (unsigned) (uintptr_t) arg == VFIO_TYPE1v2_IOMMU ? 1 : 0;
        case VFIO_SET_IOMMU:
        case VFIO_GROUP_SET_CONTAINER:
                return 0;
        case VFIO_GROUP_GET_STATUS: {
                struct vfio_group_status *s = arg;

                s->flags = VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET;
                return 0;
        }
        case VFIO_GROUP_GET_DEVICE_FD:
                /* The device fd is another file on the group node: the
                 * feature and info ioctls below answer on it as well. */
                return fcntl(fd, F_DUPFD_CLOEXEC, 3);
        case VFIO_DEVICE_FEATURE: {
                const struct vfio_device_feature *f = arg;

                if ((f->flags & VFIO_DEVICE_FEATURE_MASK) != VFIO_DEVICE_FEATURE_PCI_VF_TOKEN)
                        break;
                return 0;
        }
        case VFIO_DEVICE_GET_INFO: {
                struct vfio_device_info *info = arg;

                info->flags = VFIO_DEVICE_FLAGS_PCI;
                info->num_regions = VFIO_PCI_NUM_REGIONS;
                info->num_irqs = VFIO_PCI_NUM_IRQS;
                return 0;
        }
        default:
                break;
        }
        errno = ENOTTY;
        return -1;
}

int ioctl(int fd, unsigned long request, ...) {
        static ioctl_fn next;
        struct stat st;
        va_list ap;
        void *arg;

        va_start(ap, request);
        arg = va_arg(ap, void *);
        va_end(ap);

        if (_IOC_TYPE(request) == VFIO_TYPE && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                return fake_vfio_ioctl(fd, request, arg);

        if (!next) {
                /* POSIX's way to turn dlsym's void * into a function pointer. */
                *(void **) &next = dlsym(RTLD_NEXT, "ioctl");
                if (!next) {
                        errno = ENOSYS;
                        return -1;
                }
        }
        return next(fd, request, arg);
}
