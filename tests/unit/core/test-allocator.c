/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VF and lease life cycle, owned by the Allocator, without D-Bus: acquire
 * (choice, token, open, lease, holder watch, store, roll back), the
 * classification of open failures, release, holder exit, draining, restore
 * and revocation. Real pidfds, a real store; VFIO answers come from the
 * test-only stand-in (vfio-standin.c), since the host has no VFIO. */

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "manager.h"
#include "process-util.h"
#include "vfio-standin.h"

static char dir[] = "/tmp/vfbroker-allocator-XXXXXX";
static Manager *m;
static Allocator *a;
static ConfigPf cfg = { .mode = PF_MODE_POOL, .num_vfs = 3 };
static StoreTenant tenant = { .name = (char *) "t", .quota = 2, .token = { { 1, 2, 3 } } };

#define N_VFS 3

static void setup(void) {
        char path[256], *error = NULL;
        Pf *pf = NULL;

        memset(standin_groups, 0, sizeof standin_groups);
        standin_token_sets = 0;
        cr_assert_not_null(mkdtemp(dir));

        m = calloc(1, sizeof *m);
        m->listen_fd = -EBADF;
        cr_assert(sd_event_new(&m->event) >= 0);
        snprintf(path, sizeof path, "%s/state.db", dir);
        cr_assert(store_open(path, &m->store, &error) >= 0, "%s", error);
        cr_assert(vfio_new("/dev", &m->vfio) >= 0);
        cr_assert(allocator_new(m, &m->allocator) >= 0);
        a = m->allocator;
        cr_assert(store_tenant_add(m->store, &tenant) >= 0);

        cr_assert(pf_new(m, &cfg, "0000:01:00.0", &pf) >= 0);
        pf->state = PF_READY;
        pf->n_vfs = N_VFS;
        pf->vfs = calloc(N_VFS, sizeof(Vf));
        for (unsigned i = 0; i < N_VFS; i++) {
                pf->vfs[i] = (Vf) { .pf = pf, .index = i, .iommu_group = i, .state = VF_FREE, .numa_node = -1 };
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

TestSuite(allocator, .init = setup, .fini = teardown, .timeout = 30);

static Vf *vf_n(unsigned i) {
        return &m->pfs[0]->vfs[i];
}

static size_t stored_leases(void) {
        StoreLease *l = NULL;
        size_t n = 0;

        cr_assert(store_lease_list(m->store, &l, &n) >= 0);
        store_lease_list_free(l, n);
        return n;
}

/* Counts this process's fds, once the event loop has the timerfd a drain
 * creates on first use, so that only VF fds make a difference. */
static unsigned open_fds(void) {
        DIR *d;
        unsigned n = 0;

        allocator_schedule_drain_check(a);
        d = opendir("/proc/self/fd");

        cr_assert_not_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static AcquireRequest request_for(pid_t pid) {
        uint64_t st = 0;

        cr_assert(process_get_start_time(pid, &st) >= 0);
        return (AcquireRequest) { .tenant = &tenant, .numa_node = -1, .uid = getuid(), .pid = pid, .pid_start_time = st };
}

static Lease *acquire_ok(pid_t pid) {
        AcquireRequest req = request_for(pid);
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;

        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), 0);
        cr_assert_not_null(l);
        cr_assert(fds.container >= 0 && fds.group >= 0 && fds.device >= 0);
        vfio_vf_fds_close(&fds);
        return l;
}

/* A child that lives until the returned pipe end is closed. */
static pid_t spawn_holder(int *ret_release_fd) {
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
        *ret_release_fd = p[1];
        return child;
}

Test(allocator, acquire_leases_stores_and_hands_out_fds) {
        Lease *l = acquire_ok(getpid());

        cr_assert_eq(l->vf, vf_n(0));
        cr_assert_eq(vf_n(0)->state, VF_LEASED);
        cr_assert_eq(vf_n(0)->lease, l);
        cr_assert(l->active);
        cr_assert(l->pidfd >= 0, "the holder is watched");
        cr_assert_eq(stored_leases(), 1);
        cr_assert_eq(allocator_count_leases(a, "t"), 1);
        cr_assert_eq(allocator_count_leases(a, "other"), 0);
        cr_assert_eq(allocator_find_lease(a, l->id), l);
}

Test(allocator, quota_is_checked_before_anything_changes) {
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;

        acquire_ok(getpid());
        acquire_ok(getpid());
        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), ACQUIRE_QUOTA_EXCEEDED);
        cr_assert_eq(vf_n(2)->state, VF_FREE);
        cr_assert_eq(standin_groups[2].opens, 0, "a refused acquire opened a VF");
        cr_assert_eq(stored_leases(), 2);
}

Test(allocator, unknown_pf_is_refused) {
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;

        req.pf = "0000:09:00.0";
        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), ACQUIRE_UNKNOWN_PF);
        req.pf = "0000:01:00.0";
        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), 0);
        vfio_vf_fds_close(&fds);
}

Test(allocator, group_held_outside_a_lease_drains_and_the_next_vf_is_taken) {
        Lease *l;

        standin_groups[0].held = 1;
        l = acquire_ok(getpid());
        cr_assert_eq(l->vf, vf_n(1));
        cr_assert_eq(vf_n(0)->state, VF_DRAINING);

        /* Once the outside holder lets go, the drain timer frees it. */
        standin_groups[0].held = 0;
        for (int i = 0; i < 50 && vf_n(0)->state == VF_DRAINING; i++)
                cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        cr_assert_eq(vf_n(0)->state, VF_FREE);
}

Test(allocator, device_error_breaks_only_that_vf) {
        Lease *l;

        standin_groups[0].open_error = -ENODEV;
        l = acquire_ok(getpid());
        cr_assert_eq(l->vf, vf_n(1));
        cr_assert_eq(vf_n(0)->state, VF_BROKEN);
}

/* Issue: any open error but EBUSY marked the VF broken, so one call under fd
 * pressure could walk the whole pool to broken. */
Test(allocator, resource_errors_fail_the_call_and_leave_every_vf_free) {
        static const int errors[] = { -EMFILE, -ENFILE, -ENOMEM };

        for (size_t e = 0; e < ELEMENTSOF(errors); e++) {
                AcquireRequest req = request_for(getpid());
                VfioVfFds fds = VFIO_VF_FDS_NULL;
                Lease *l = NULL;

                for (unsigned g = 0; g < N_VFS; g++)
                        standin_groups[g].open_error = errors[e];
                cr_assert_eq(allocator_acquire(a, &req, &l, &fds), errors[e]);
                cr_assert_null(l);
                for (unsigned i = 0; i < N_VFS; i++)
                        cr_assert_eq(vf_n(i)->state, VF_FREE, "error %d: VF %u is %s", errors[e], i,
                                     vf_state_to_string(vf_n(i)->state));
                cr_assert_eq(stored_leases(), 0);
        }
        cr_assert_eq(standin_groups[1].opens, 0, "the allocator went on to the next VF after a resource error");
}

Test(allocator, a_refused_token_is_set_again_once) {
        Lease *l;

        m->pfs[0]->device_fd = 100; /* a PF fd for pf_apply_token; the stand-in does not use it */
        standin_groups[0].refuse_token = 1;
        l = acquire_ok(getpid());
        cr_assert_eq(l->vf, vf_n(0));
        cr_assert_eq(standin_token_sets, 1);
        m->pfs[0]->device_fd = -EBADF;
}

Test(allocator, a_token_refused_twice_is_the_pfs_problem_not_the_vfs) {
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;

        m->pfs[0]->device_fd = 100;
        standin_groups[0].refuse_token = 5;
        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), -EKEYREJECTED);
        cr_assert_eq(vf_n(0)->state, VF_FREE);
        cr_assert_eq(vf_n(1)->state, VF_FREE);
        cr_assert_eq(standin_token_sets, 1);
        m->pfs[0]->device_fd = -EBADF;
}

Test(allocator, no_free_vf) {
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;

        for (unsigned g = 0; g < N_VFS; g++)
                standin_groups[g].open_error = -EIO;
        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), ACQUIRE_NO_FREE_VF);
}

Test(allocator, a_holder_gone_before_the_lease_rolls_back) {
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;
        unsigned before = open_fds();
        pid_t child = fork();

        cr_assert(child >= 0);
        if (child == 0)
                _exit(0);
        waitpid(child, NULL, 0);
        req.pid = child;
        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), ACQUIRE_HOLDER_GONE);
        cr_assert_null(l);
        cr_assert_eq(stored_leases(), 0);
        cr_assert_neq(vf_n(0)->state, VF_LEASED);
        cr_assert_null(vf_n(0)->lease);
        cr_assert_eq(open_fds(), before, "the rolled-back VF fds are still open");
}

Test(allocator, a_store_failure_rolls_back) {
        static StoreTenant ghost = { .name = (char *) "ghost", .quota = 1 };
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;
        unsigned before = open_fds();

        req.tenant = &ghost; /* not in the store: the lease row is refused */
        cr_assert_lt(allocator_acquire(a, &req, &l, &fds), 0);
        cr_assert_null(l);
        cr_assert_eq(stored_leases(), 0);
        cr_assert_neq(vf_n(0)->state, VF_LEASED);
        cr_assert_eq(open_fds(), before);
}

Test(allocator, release_ends_the_lease_and_frees_the_vf) {
        Lease *l = acquire_ok(getpid());

        allocator_end_lease(a, l, "released");
        /* Nobody holds the group: free at once, lease gone from memory and store. */
        cr_assert_eq(vf_n(0)->state, VF_FREE);
        cr_assert_null(vf_n(0)->lease);
        cr_assert_eq(stored_leases(), 0);
        cr_assert_eq(allocator_count_leases(a, NULL), 0);
}

Test(allocator, an_ended_lease_drains_until_the_group_opens) {
        Lease *l = acquire_ok(getpid());

        standin_groups[0].held = 1;   /* the holder passed its fds on */
        allocator_end_lease(a, l, "released");
        cr_assert_eq(vf_n(0)->state, VF_DRAINING);
        cr_assert_eq(allocator_count_leases(a, "t"), 0, "an ended lease still counts against the quota");
        cr_assert_null(allocator_find_lease(a, vf_n(0)->lease->id));
        for (int i = 0; i < 3; i++)
                cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        cr_assert_eq(vf_n(0)->state, VF_DRAINING);

        standin_groups[0].held = 0;
        for (int i = 0; i < 50 && vf_n(0)->state == VF_DRAINING; i++)
                cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        cr_assert_eq(vf_n(0)->state, VF_FREE);
        cr_assert_null(vf_n(0)->lease);
}

Test(allocator, holder_exit_ends_the_lease) {
        int release;
        pid_t child = spawn_holder(&release);
        Lease *l = acquire_ok(child);

        cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        cr_assert(l->active, "the lease ended while its holder lives");

        close(release);
        for (int i = 0; i < 100 && vf_n(0)->state == VF_LEASED; i++)
                cr_assert(sd_event_run(m->event, 100 * 1000) >= 0);
        waitpid(child, NULL, 0);
        cr_assert_eq(vf_n(0)->state, VF_FREE, "VF is %s", vf_state_to_string(vf_n(0)->state));
        cr_assert_eq(stored_leases(), 0);
}

Test(allocator, revoke_without_the_variant_driver_ends_the_lease_only) {
        Lease *l = acquire_ok(getpid());

        standin_groups[0].held = 1;
        cr_assert_eq(allocator_revoke(a, l), 0);
        cr_assert_not(l->active);
        cr_assert_eq(vf_n(0)->state, VF_DRAINING);
        cr_assert_eq(stored_leases(), 0);
}

Test(allocator, restore_keeps_live_holders_and_ends_dead_ones) {
        int release;
        pid_t live = spawn_holder(&release), dead = fork();
        char live_id[LEASE_ID_LENGTH + 1], dead_id[LEASE_ID_LENGTH + 1];
        Lease *l;

        cr_assert(dead >= 0);
        if (dead == 0)
                _exit(0);
        l = acquire_ok(live);
        snprintf(live_id, sizeof live_id, "%s", l->id);
        l = acquire_ok(dead);
        snprintf(dead_id, sizeof dead_id, "%s", l->id);
        waitpid(dead, NULL, 0);

        /* A restart: the table is read again, the leases come from the store. */
        for (unsigned i = 0; i < N_VFS; i++) {
                vf_n(i)->lease = lease_free(vf_n(i)->lease);
                vf_n(i)->state = VF_FREE;
        }
        cr_assert_eq(allocator_restore(a), 0);

        l = allocator_find_lease(a, live_id);
        cr_assert_not_null(l);
        cr_assert_eq(l->vf->state, VF_LEASED);
        cr_assert_null(allocator_find_lease(a, dead_id), "a lease of a dead holder came back");
        cr_assert_eq(stored_leases(), 1);
        close(release);
        waitpid(live, NULL, 0);
}

Test(allocator, restore_drops_leases_of_vfs_that_are_gone) {
        StoreLease sl = { .id = (char *) "00112233445566778899aabbccddeeff", .tenant = (char *) "t",
                          .pid = getpid(), .created_usec = 1 };

        snprintf(sl.vf, sizeof sl.vf, "0000:01:07.0");
        snprintf(sl.pf, sizeof sl.pf, "0000:01:00.0");
        cr_assert(store_lease_add(m->store, &sl) >= 0);
        cr_assert_eq(allocator_restore(a), 0);
        cr_assert_eq(stored_leases(), 0);
}

Test(allocator, probe_drains_held_and_breaks_unusable_groups) {
        standin_groups[0].held = 1;
        standin_groups[1].probe_error = -ENOENT;
        allocator_probe_pf(a, m->pfs[0]);
        cr_assert_eq(vf_n(0)->state, VF_DRAINING);
        cr_assert_eq(vf_n(1)->state, VF_BROKEN);
        cr_assert_eq(vf_n(2)->state, VF_FREE);
}

Test(allocator, sriov_numvfs_is_not_touched_while_a_vf_is_held) {
        acquire_ok(getpid());
        cr_assert_eq(allocator_set_num_vfs(a, m->pfs[0], 0), -EBUSY);
        cr_assert_eq(allocator_set_num_vfs(a, m->pfs[0], 99), -ERANGE);
}

/* The Lease object itself. */

Test(allocator, recycled_pid_is_not_the_holder) {
        Lease *l = NULL;
        uint64_t st;

        cr_assert(process_get_start_time(getpid(), &st) >= 0);
        cr_assert(lease_new(m->event, vf_n(0), "t", 0, getpid(), st + 1, 1, NULL, NULL, NULL, &l) >= 0);
        cr_assert_eq(lease_watch_holder(l), -ESRCH);
        lease_free(l);
}

Test(allocator, restored_ids_are_checked) {
        Lease *l = NULL;

        cr_assert_eq(lease_new(m->event, vf_n(0), "t", 0, getpid(), 0, 1, "../../etc", NULL, NULL, &l), -EINVAL);
        cr_assert_null(l);
        cr_assert(lease_new(m->event, vf_n(0), "t", 0, getpid(), 0, 1, "00112233445566778899aabbccddeeff",
                            NULL, NULL, &l) >= 0);
        cr_assert_str_eq(l->id, "00112233445566778899aabbccddeeff");
        lease_free(l);
}
