/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VF selection: which free VF an acquire gets, given dedicated and pool PFs,
 * a PF filter and a NUMA filter. In-memory PFs; no kernel needed. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf.h"

static ConfigPf pool_cfg = { .mode = PF_MODE_POOL, .num_vfs = 2 };
static ConfigPf dedicated_cfg = { .mode = PF_MODE_DEDICATED, .tenant = (char *) "acme", .num_vfs = 2 };
static Pf *pfs[3];

static Pf *make_pf(const ConfigPf *cfg, const char *address, int numa0, int numa1) {
        Pf *pf = NULL;

        cr_assert(pf_new(NULL, cfg, address, &pf) >= 0);
        pf->state = PF_READY;
        pf->n_vfs = 2;
        pf->vfs = calloc(2, sizeof(Vf));
        for (unsigned i = 0; i < 2; i++) {
                pf->vfs[i].pf = pf;
                pf->vfs[i].index = i;
                pf->vfs[i].state = VF_FREE;
                pf->vfs[i].iommu_group = i;
                snprintf(pf->vfs[i].address, sizeof pf->vfs[i].address, "%.10s%u", address, i + 1);
        }
        pf->vfs[0].numa_node = numa0;
        pf->vfs[1].numa_node = numa1;
        return pf;
}

static void setup(void) {
        pfs[0] = make_pf(&pool_cfg, "0000:01:00.0", 0, 0);
        pfs[1] = make_pf(&dedicated_cfg, "0000:02:00.0", 0, 1);
        pfs[2] = make_pf(&pool_cfg, "0000:03:00.0", 1, 1);
}

static void teardown(void) {
        for (size_t i = 0; i < 3; i++)
                pfs[i] = pf_free(pfs[i]);
}

TestSuite(select, .init = setup, .fini = teardown);

Test(select, owner_gets_its_dedicated_pf_first) {
        Vf *vf = pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "acme", .numa_node = -1 });

        cr_assert_not_null(vf);
        cr_assert_str_eq(vf->pf->address, "0000:02:00.0");
}

Test(select, owner_falls_back_to_the_pool) {
        pfs[1]->vfs[0].state = VF_LEASED;
        pfs[1]->vfs[1].state = VF_DRAINING;
        Vf *vf = pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "acme", .numa_node = -1 });

        cr_assert_not_null(vf);
        cr_assert_str_eq(vf->pf->address, "0000:01:00.0");
}

Test(select, others_never_get_a_dedicated_pf) {
        for (size_t i = 0; i < 2; i++) {
                pfs[0]->vfs[i].state = VF_LEASED;
                pfs[2]->vfs[i].state = VF_BROKEN;
        }
        cr_assert_null(pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "other", .numa_node = -1 }));
        /* The owner still gets one. */
        cr_assert_not_null(pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "acme", .numa_node = -1 }));
}

Test(select, pf_filter) {
        Vf *vf = pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "other", .pf = "0000:03:00.0", .numa_node = -1 });

        cr_assert_not_null(vf);
        cr_assert_str_eq(vf->pf->address, "0000:03:00.0");
        /* A dedicated PF named by another tenant gives nothing. */
        cr_assert_null(pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "other", .pf = "0000:02:00.0", .numa_node = -1 }));
}

Test(select, numa_filter) {
        Vf *vf = pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "other", .numa_node = 1 });

        cr_assert_not_null(vf);
        cr_assert_str_eq(vf->pf->address, "0000:03:00.0");
        vf = pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "acme", .numa_node = 1 });
        cr_assert_not_null(vf);
        cr_assert_str_eq(vf->address, pfs[1]->vfs[1].address);
        cr_assert_null(pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "other", .numa_node = 7 }));
}

Test(select, broken_pfs_and_busy_vfs_are_skipped) {
        pfs[0]->state = PF_BROKEN;
        pfs[2]->vfs[0].state = VF_DRAINING;
        Vf *vf = pf_table_find_free_vf(pfs, 3, &(VfFilter) { .tenant = "other", .numa_node = -1 });

        cr_assert_not_null(vf);
        cr_assert_eq(vf, &pfs[2]->vfs[1]);
}

Test(select, empty_table) {
        cr_assert_null(pf_table_find_free_vf(NULL, 0, &(VfFilter) { .tenant = "x", .numa_node = -1 }));
}
