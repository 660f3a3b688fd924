/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A sysfs-shaped fixture of N PFs with M VFs each, and fixture VFIO nodes,
 * for the benchmarks (tests/bench only; the daemon never sees it in use). */
#pragma once

#include <stddef.h>

/* Limits of the address scheme below: bus 2i+1 holds PF i, bus 2i+2 its VFs. */
#define FIXTURE_TREE_PFS_MAX 127u
#define FIXTURE_TREE_VFS_MAX 256u
#define FIXTURE_TREE_ADDRESS_MAX 13

/* Creates, below dir (which must exist and be empty):
 *   dir/root: what vfbrokerd --sysfs-root expects, laid out as the kernel does
 *     (sys/devices/pci0000:00/<BDF> directories, sys/bus/pci/devices/<BDF>
 *     links to them, driver -> bus/pci/drivers/vfio-pci, iommu_group ->
 *     kernel/iommu_groups/<N>, virtfnJ -> ../<VF>, physfn -> ../<PF>),
 *     every PF with sriov_totalvfs = sriov_numvfs = vfs_per_pf, every function
 *     bound to vfio-pci in its own IOMMU group, enable_sriov already Y;
 *   dir/dev: what --dev-root expects: vfio/vfio and vfio/<group> for every
 *     group, as regular files (see vfio-shim.c for who answers their ioctls).
 * Returns 0 or a negative errno. */
int fixture_tree_create(const char *dir, unsigned n_pfs, unsigned vfs_per_pf);

/* The canonical address of PF i and of VF j of PF i in that tree. */
void fixture_tree_pf_address(unsigned i, char buf[static FIXTURE_TREE_ADDRESS_MAX]);
void fixture_tree_vf_address(unsigned i, unsigned j, char buf[static FIXTURE_TREE_ADDRESS_MAX]);
