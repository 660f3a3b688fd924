/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A sysfs look-alike in a temporary directory for the Sysfs and Vfio tests,
 * plus a log of every write() the code under test makes inside it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Laid out like the kernel's: real directories in sys/devices/pci0000:00/<BDF>,
 * sys/bus/pci/devices/<BDF> symlinks to them, driver -> .../drivers/<name>,
 * iommu_group -> .../kernel/iommu_groups/<N>, virtfnN -> ../<VF>, physfn -> ../<PF>.
 * Attributes are regular files; a write replaces their content. */
typedef struct Fixture {
        char *root; /* absolute, symlinks resolved */
} Fixture;

/* All helpers assert (criterion) on failure: a broken fixture is a failed test. */
Fixture *fixture_new(void);
void fixture_free(Fixture *f);

/* Absolute path of root/rel (malloc'd). */
char *fixture_path(const Fixture *f, const char *rel);
void fixture_write(const Fixture *f, const char *rel, const char *content);
/* Content of root/rel (malloc'd), or NULL if it does not exist. */
char *fixture_read(const Fixture *f, const char *rel);
void fixture_mkdir(const Fixture *f, const char *rel);
void fixture_symlink(const Fixture *f, const char *target, const char *rel);
void fixture_unlink(const Fixture *f, const char *rel);

/* A PCI function: vendor, device, numa_node "-1", driver_override "(null)". */
void fixture_add_pci(const Fixture *f, const char *bdf, uint16_t vendor, uint16_t device);
/* A PF: a PCI function with sriov_totalvfs and sriov_numvfs. */
void fixture_add_pf(const Fixture *f, const char *bdf, uint16_t vendor, uint16_t device,
                    unsigned totalvfs, unsigned numvfs);
/* A VF of pf: its function, pf's virtfn<index>, its physfn. */
void fixture_add_vf(const Fixture *f, const char *pf, unsigned index, const char *vf,
                    uint16_t vendor, uint16_t device);
/* Binds (driver link, creating drivers/<name>/{bind,unbind}) or, with NULL, unbinds. */
void fixture_set_driver(const Fixture *f, const char *bdf, const char *driver);
void fixture_set_iommu_group(const Fixture *f, const char *bdf, unsigned group);
void fixture_add_net(const Fixture *f, const char *bdf, const char *ifname);
void fixture_add_module_param(const Fixture *f, const char *module, const char *param,
                              const char *value);
/* Path relative to the device's attribute: "sys/bus/pci/devices/<bdf>/<attr>". */
char *fixture_device_attr(const Fixture *f, const char *bdf, const char *attr);

/* Write log: while on, every write() the process makes to a file below the
 * fixture root is recorded as "<path relative to root, symlinks resolved>=<data>".
 * The test binary links with -Wl,--wrap=write so the code under test is seen
 * unchanged. */
void write_log_start(const Fixture *f);
void write_log_stop(void);
size_t write_log_count(void);
const char *write_log_get(size_t i);
void write_log_clear(void);

/* Number of open fds of this process (to prove error paths leak none). */
unsigned count_open_fds(void);

ssize_t __wrap_write(int fd, const void *buf, size_t n);
