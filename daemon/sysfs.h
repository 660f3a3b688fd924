/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sysfs: everything the broker reads and writes under /sys/bus/pci and
 * /sys/module/vfio_pci, rooted at a configurable directory so unit tests can
 * point it at a fixture tree. Blocking writes; callers keep them off the
 * event loop where the kernel may block (sriov_numvfs with VFs in use). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "pci-address.h"

typedef struct Sysfs Sysfs;

/* root: "/" for the real system, or a fixture directory that contains
 * sys/bus/pci/devices/..., sys/bus/pci/drivers/..., sys/module/.... */
int sysfs_new(const char *root, Sysfs **ret);
Sysfs *sysfs_free(Sysfs *s);
const char *sysfs_root(const Sysfs *s);

bool sysfs_device_exists(Sysfs *s, const char *bdf);
int sysfs_read_ids(Sysfs *s, const char *bdf, uint16_t *ret_vendor, uint16_t *ret_device);
/* Every PCI function with these ids that has sriov_totalvfs (a PF), sorted. */
int sysfs_find_pfs_by_ids(Sysfs *s, uint16_t vendor, uint16_t device, char ***ret);
/* The PCI function that has net/IFNAME. -ENODEV if none. */
int sysfs_find_by_interface(Sysfs *s, const char *ifname, char ret[static PCI_ADDRESS_MAX]);

/* Name of the bound driver ("vfio-pci", "igb", ...), or -ENOENT if unbound. */
int sysfs_get_driver(Sysfs *s, const char *bdf, char **ret);
int sysfs_get_total_vfs(Sysfs *s, const char *bdf, unsigned *ret);
int sysfs_get_num_vfs(Sysfs *s, const char *bdf, unsigned *ret);
/* Writes sriov_numvfs (the kernel wants 0 before a different non-zero count:
 * this writes 0 first when needed). */
int sysfs_set_num_vfs(Sysfs *s, const char *bdf, unsigned n);
int sysfs_get_iommu_group(Sysfs *s, const char *bdf, unsigned *ret);
/* -1 when the platform has no NUMA information. */
int sysfs_get_numa_node(Sysfs *s, const char *bdf, int *ret);

/* Binds bdf to driver: driver_override, unbind from the old driver,
 * drivers_probe, then checks the driver link. A PF with VFs enabled under
 * another driver has them disabled first. No-op if already bound to it. */
int sysfs_bind_driver(Sysfs *s, const char *bdf, const char *driver);
/* /sys/module/vfio_pci/parameters/enable_sriov (and the kmod's own parameter
 * when driver is "vfbroker_vfio_pci"). -ENOENT if the module is not loaded. */
int sysfs_enable_sriov_parameter(Sysfs *s, const char *driver);
bool sysfs_module_loaded(Sysfs *s, const char *module);

/* VFs of a PF in virtfnN order, as canonical addresses (NULL-terminated). */
int sysfs_list_vfs(Sysfs *s, const char *pf_bdf, char ***ret);
/* Waits (polling, up to timeout_usec) until every VF of pf_bdf is bound to
 * driver. -ETIMEDOUT names nothing; the caller logs which PF. */
int sysfs_wait_vfs_bound(Sysfs *s, const char *pf_bdf, const char *driver, uint64_t timeout_usec);
