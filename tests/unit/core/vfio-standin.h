/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the test-only VFIO stand-in answers, per IOMMU group. */
#pragma once

#define STANDIN_GROUPS_MAX 16U

typedef struct StandinGroup {
        int open_error;         /* vfio_open_vf returns this (negative errno), if set */
        int probe_error;        /* vfio_group_is_free returns this, if set */
        int held;               /* someone has the group: opens EBUSY, probes 0 */
        int refuse_token;       /* opens give EACCES until the PF token was set this many times */
        unsigned opens;         /* vfio_open_vf calls seen */
} StandinGroup;

extern StandinGroup standin_groups[STANDIN_GROUPS_MAX];
extern unsigned standin_token_sets;   /* vfio_set_vf_token calls seen */

/* The iommufd path: /dev/iommu "exists" if set; opens of it and of cdevs seen. */
extern int standin_iommufd_available;
extern int standin_iommufd_open_error;  /* vfio_open_iommufd returns this, if set */
extern unsigned standin_iommufd_opens;
extern unsigned standin_cdev_opens;
