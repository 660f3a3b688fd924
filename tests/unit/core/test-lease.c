/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lease state machine with real pidfds and a real store: a lease ends on
 * release or when its holder exits, its VF drains and comes back free once
 * its group can be opened; a recycled or dead pid never holds a lease. The
 * group nodes are files in a fixture /dev (the host kernel has no VFIO;
 * EBUSY on a held group is proven in the VM suite). */

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "manager.h"

static char dir[] = "/tmp/vfbroker-lease-XXXXXX";
static Manager *m;
static ConfigPf cfg = { .mode = PF_MODE_POOL, .num_vfs = 2 };

static void setup(void) {
        char path[256], *error = NULL;
        Pf *pf = NULL;

        cr_assert_not_null(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/vfio", dir);
        cr_assert(mkdir(path, 0755) == 0);
        for (unsigned g = 10; g < 12; g++) {
                FILE *f;

                snprintf(path, sizeof path, "%s/vfio/%u", dir, g);
                f = fopen(path, "we");
                cr_assert_not_null(f);
                fclose(f);
        }

        m = calloc(1, sizeof *m);
        m->listen_fd = -EBADF;
        cr_assert(sd_event_new(&m->event) >= 0);
        snprintf(path, sizeof path, "%s/state.db", dir);
        cr_assert(store_open(path, &m->store, &error) >= 0, "%s", error);
        cr_assert(vfio_new(dir, &m->vfio) >= 0);
        cr_assert(store_tenant_add(m->store, &(StoreTenant) { .name = (char *) "t", .quota = 2,
                                                              .token = { { 1, 2, 3 } } }) >= 0);

        cr_assert(pf_new(m, &cfg, "0000:01:00.0", &pf) >= 0);
        pf->state = PF_READY;
        pf->n_vfs = 2;
        pf->vfs = calloc(2, sizeof(Vf));
        for (unsigned i = 0; i < 2; i++) {
                pf->vfs[i] = (Vf) { .pf = pf, .index = i, .iommu_group = 10 + i, .state = VF_FREE };
                snprintf(pf->vfs[i].address, sizeof pf->vfs[i].address, "0000:01:00.%u", i + 1);
        }
        m->pfs = calloc(1, sizeof(Pf *));
        m->pfs[0] = pf;
        m->n_pfs = 1;
}

static void teardown(void) {
        char cmd[300];

        manager_free(m);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) system(cmd);
}

TestSuite(lease, .init = setup, .fini = teardown, .timeout = 30);

static size_t stored_leases(void) {
        StoreLease *l = NULL;
        size_t n = 0;

        cr_assert(store_lease_list(m->store, &l, &n) >= 0);
        store_lease_list_free(l, n);
        return n;
}

/* What AcquireVF does once a VF is open: lease, watch, store, mark leased. */
static Lease *grant(Vf *vf, pid_t pid) {
        Lease *l = NULL;
        uint64_t st;

        cr_assert(process_get_start_time(pid, &st) >= 0);
        cr_assert(lease_new(m, vf, "t", getuid(), pid, st, 1, NULL, &l) >= 0);
        cr_assert(lease_watch_holder(l) >= 0);
        StoreLease sl = { .id = l->id, .tenant = l->tenant, .uid = l->uid, .pid = l->pid,
                          .pid_start_time = st, .created_usec = 1 };
        snprintf(sl.vf, sizeof sl.vf, "%s", vf->address);
        snprintf(sl.pf, sizeof sl.pf, "%s", vf->pf->address);
        cr_assert(store_lease_add(m->store, &sl) >= 0);
        vf->lease = l;
        vf->state = VF_LEASED;
        return l;
}

Test(lease, release_ends_lease_and_frees_vf) {
        Vf *vf = &m->pfs[0]->vfs[0];
        Lease *l = grant(vf, getpid());

        cr_assert_eq(manager_count_active_leases(m, "t"), 1);
        cr_assert_eq(manager_count_active_leases(m, "other"), 0);
        cr_assert_eq(stored_leases(), 1);

        manager_end_lease(m, l, "released");
        /* Nobody holds the group: free at once, lease gone from memory and store. */
        cr_assert_eq(vf->state, VF_FREE);
        cr_assert_null(vf->lease);
        cr_assert_eq(stored_leases(), 0);
        cr_assert_eq(manager_count_active_leases(m, NULL), 0);
}

Test(lease, holder_exit_ends_lease) {
        Vf *vf = &m->pfs[0]->vfs[1];
        int p[2];
        pid_t child;

        cr_assert(pipe(p) == 0);
        child = fork();
        cr_assert(child >= 0);
        if (child == 0) {
                char c;
                close(p[1]);
                (void) read(p[0], &c, 1);
                _exit(0);
        }
        close(p[0]);
        grant(vf, child);
        cr_assert_eq(vf->state, VF_LEASED);

        /* Nothing happens while the holder lives. */
        cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        cr_assert_eq(vf->state, VF_LEASED);

        close(p[1]);
        for (int i = 0; i < 100 && vf->state == VF_LEASED; i++)
                cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        waitpid(child, NULL, 0);
        cr_assert_eq(vf->state, VF_FREE, "VF is %s", vf_state_to_string(vf->state));
        cr_assert_eq(stored_leases(), 0);
}

Test(lease, recycled_pid_is_not_the_holder) {
        Vf *vf = &m->pfs[0]->vfs[0];
        Lease *l = NULL;
        uint64_t st;

        cr_assert(process_get_start_time(getpid(), &st) >= 0);
        cr_assert(lease_new(m, vf, "t", 0, getpid(), st + 1, 1, NULL, &l) >= 0);
        cr_assert_eq(lease_watch_holder(l), -ESRCH);
        lease_free(l);
}

Test(lease, dead_holder_cannot_be_watched) {
        Vf *vf = &m->pfs[0]->vfs[0];
        Lease *l = NULL;
        pid_t child = fork();

        cr_assert(child >= 0);
        if (child == 0)
                _exit(0);
        waitpid(child, NULL, 0);
        cr_assert(lease_new(m, vf, "t", 0, child, 0, 1, NULL, &l) >= 0);
        cr_assert_eq(lease_watch_holder(l), -ESRCH);
        lease_free(l);
}

Test(lease, restored_ids_are_checked) {
        Lease *l = NULL;

        cr_assert_eq(lease_new(m, &m->pfs[0]->vfs[0], "t", 0, getpid(), 0, 1, "../../etc", &l), -EINVAL);
        cr_assert_null(l);
        cr_assert(lease_new(m, &m->pfs[0]->vfs[0], "t", 0, getpid(), 0, 1,
                            "00112233445566778899aabbccddeeff", &l) >= 0);
        cr_assert_str_eq(l->id, "00112233445566778899aabbccddeeff");
        lease_free(l);
}

Test(lease, draining_vf_stays_until_group_opens) {
        Vf *vf = &m->pfs[0]->vfs[0];
        char path[256];

        /* A group node that cannot be opened: the VF must not come back free. */
        snprintf(path, sizeof path, "%s/vfio/10", dir);
        cr_assert(unlink(path) == 0);
        cr_assert(mkdir(path, 0755) == 0);
        Lease *l = grant(vf, getpid());
        manager_end_lease(m, l, "released");
        cr_assert_eq(vf->state, VF_DRAINING);
        cr_assert_eq(manager_count_active_leases(m, "t"), 0, "an ended lease still counts against the quota");

        cr_assert(rmdir(path) == 0);
        FILE *f = fopen(path, "we");
        fclose(f);
        for (int i = 0; i < 50 && vf->state == VF_DRAINING; i++)
                cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        cr_assert_eq(vf->state, VF_FREE);
}
