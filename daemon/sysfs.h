/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sysfs: everything the broker reads and writes under /sys/bus/pci and
 * /sys/module/vfio_pci, rooted at a configurable directory so unit tests can
 * point it at a fixture tree. Blocking writes; callers keep them off the
 * event loop where the kernel may block (sriov_numvfs with VFs in use). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "pci-address.h"
#include "uuid-util.h"

/* Errors, the same in every function below:
 *   -EINVAL    an argument is malformed (a BDF that is not a PCI address, a
 *              driver or module name outside [A-Za-z0-9_-]); nothing was touched;
 *   -ENOENT    the device, attribute or link does not exist;
 *   -EBADMSG   sysfs content is not what the kernel writes (so the root is not
 *              sysfs, or a kernel we do not understand);
 *   -EFBIG     an attribute is larger than any value the kernel writes there;
 *   -ERANGE    a number is out of range (more than SYSFS_VFS_MAX VFs, ...);
 *   otherwise  the errno of the failing open/read/write/readlink. */

/* Most VFs one PF may have here: bounds every per-PF list and loop. */
#define SYSFS_VFS_MAX 256u
/* Longest driver / module name accepted as an argument. */
#define SYSFS_DRIVER_NAME_MAX 64

typedef struct Sysfs Sysfs;

/* root: "/" for the real system, or a fixture directory that contains
 * sys/bus/pci/devices/..., sys/bus/pci/drivers/..., sys/module/....
 * Must be an absolute path. */
int sysfs_new(const char *root, Sysfs **ret);
Sysfs *sysfs_free(Sysfs *s);
const char *sysfs_root(const Sysfs *s);

bool sysfs_device_exists(Sysfs *s, const char *bdf);
int sysfs_read_ids(Sysfs *s, const char *bdf, uint16_t *ret_vendor, uint16_t *ret_device);
/* Every PCI function with these ids that has sriov_totalvfs (a PF), sorted,
 * canonical addresses, NULL-terminated; an empty list (not NULL) if none. */
int sysfs_find_pfs_by_ids(Sysfs *s, uint16_t vendor, uint16_t device, char ***ret);
/* The PCI function that has net/IFNAME (the lowest address if, oddly, more
 * than one has). -ENODEV if none, -EINVAL if ifname is not a valid name. */
int sysfs_find_by_interface(Sysfs *s, const char *ifname, char ret[static PCI_ADDRESS_MAX]);

/* Name of the bound driver ("vfio-pci", "igb", ...), or -ENOENT if unbound. */
int sysfs_get_driver(Sysfs *s, const char *bdf, char **ret);
int sysfs_get_total_vfs(Sysfs *s, const char *bdf, unsigned *ret);
int sysfs_get_num_vfs(Sysfs *s, const char *bdf, unsigned *ret);
/* Writes sriov_numvfs (the kernel wants 0 before a different non-zero count:
 * this writes 0 first when needed), then reads it back (-EIO if it differs).
 * n > SYSFS_VFS_MAX: -ERANGE, nothing written. */
int sysfs_set_num_vfs(Sysfs *s, const char *bdf, unsigned n);
int sysfs_get_iommu_group(Sysfs *s, const char *bdf, unsigned *ret);
/* -1 when the platform has no NUMA information. */
int sysfs_get_numa_node(Sysfs *s, const char *bdf, int *ret);

/* Binds bdf to driver: driver_override, unbind from the old driver,
 * drivers_probe, then checks the driver link (-ENXIO if the driver did not
 * take the device: module not loaded, or it refused it). A PF with VFs
 * enabled under another driver has them disabled first. No-op if already
 * bound to it. */
int sysfs_bind_driver(Sysfs *s, const char *bdf, const char *driver);
/* Writes 1 to /sys/module/vfio_pci/parameters/enable_sriov for "vfio-pci",
 * or to /sys/module/vfbroker_vfio_pci/parameters/enable_sriov for
 * "vfbroker_vfio_pci"; nothing if it already reads Y. -ENOENT if the module
 * is not loaded, -EOPNOTSUPP for any other driver. */
int sysfs_enable_sriov_parameter(Sysfs *s, const char *driver);
/* /sys/module/<module> exists ('-' and '_' are the same, as for modprobe). */
bool sysfs_module_loaded(Sysfs *s, const char *module);

/* VFs of a PF in virtfnN order, as canonical addresses (NULL-terminated; an
 * empty list if SR-IOV is off). More than SYSFS_VFS_MAX: -ERANGE. */
int sysfs_list_vfs(Sysfs *s, const char *pf_bdf, char ***ret);

/* What the broker keeps of a VF. Read through the PF's directory fd
 * (virtfnN/...), never by a walk from the root. */
typedef struct SysfsVf {
        unsigned index;                 /* N of virtfnN */
        char address[PCI_ADDRESS_MAX];  /* canonical */
        unsigned iommu_group;           /* valid if iommu_group_error == 0 */
        int iommu_group_error;          /* 0, or why the VF has no usable IOMMU group */
        int numa_node;                  /* -1 if unknown (no NUMA, unreadable) */
} SysfsVf;

/* The VFs of a PF in virtfnN order with their facts (*ret: malloc'd, *ret_n
 * entries, at most SYSFS_VFS_MAX; NULL and 0 if SR-IOV is off). A VF
 * without an IOMMU group is listed with iommu_group_error set; errors
 * reading the list itself fail the call, as for sysfs_list_vfs. */
int sysfs_read_vfs(Sysfs *s, const char *pf_bdf, SysfsVf **ret, size_t *ret_n);
/* Waits (polling every 10 ms, up to timeout_usec) until sriov_numvfs VFs of
 * pf_bdf exist and every one is bound to driver. Start-up only: it sleeps.
 * -ETIMEDOUT names nothing; the caller logs which PF. */
int sysfs_wait_vfs_bound(Sysfs *s, const char *pf_bdf, const char *driver, uint64_t timeout_usec);
/* The same wait, returning the VFs as sysfs_read_vfs does, read in the pass
 * that saw them all bound: no second walk over the VFs afterwards. ret and
 * ret_n are written only on success. */
int sysfs_wait_vfs_bound_read(Sysfs *s, const char *pf_bdf, const char *driver, uint64_t timeout_usec,
                              SysfsVf **ret, size_t *ret_n);

/* vfbroker_vfio_pci only (kmod/): sets the VF's own token (NULL clears it, so
 * opens fall back to the PF token); -ENOENT under a driver without it. */
int sysfs_set_vf_token(Sysfs *s, const char *bdf, const Token *token);
/* "vfioN" in BDF/vfio-dev/: the name of the VF's cdev under /dev/vfio/devices.
 * -ENOENT where the kernel has no VFIO cdev (CONFIG_VFIO_DEVICE_CDEV) or the
 * device is not bound to a VFIO driver. */
#define SYSFS_CDEV_NAME_MAX 16
int sysfs_get_vf_cdev_name(Sysfs *s, const char *bdf, char ret[static SYSFS_CDEV_NAME_MAX]);
/* vfbroker_vfio_pci with the arming attributes (kmod/README.md): lets a
 * tokenless VFIO_DEVICE_BIND_IOMMUFD of the VF through, but only to the
 * iommufd that iommufd (an fd of this process) refers to; disarm ends that.
 * The driver keeps its own reference to the iommufd. */
bool sysfs_driver_can_arm(Sysfs *s);
int sysfs_arm_vf(Sysfs *s, const char *bdf, int iommufd);
int sysfs_disarm_vf(Sysfs *s, const char *bdf);
/* vfbroker_vfio_pci only: revokes every open fd of the VF at once, through
 * the driver's vfbroker_revoke (works while an unbind waits for the holder),
 * else the VF's own attribute. */
int sysfs_revoke_vf(Sysfs *s, const char *bdf);
