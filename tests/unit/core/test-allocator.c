/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VF and lease life cycle, owned by the Allocator, without D-Bus: acquire
 * (choice, token, open, lease, holder watch, store, roll back), the
 * classification of open failures, release, holder exit, draining, restore
 * and revocation. Real pidfds, a real store; VFIO answers come from the
 * test-only stand-in (vfio-standin.c), since the host has no VFIO. */

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
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
        cr_assert(sysfs_new(dir, &m->sysfs) >= 0);
        cr_assert(worker_new(m->event, &m->worker) >= 0);
        cr_assert(allocator_new(m, m->worker, &m->allocator) >= 0);
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

static char fifo_path[512];

static void teardown(void) {
        char cmd[300];

        /* A failed test may leave the worker in a FIFO write: let it through. */
        if (fifo_path[0]) {
                int fd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                char buf[64];

                for (int i = 0; fd >= 0 && i < 50 && read(fd, buf, sizeof buf) <= 0; i++)
                        usleep(10 * 1000);
                if (fd >= 0)
                        close(fd);
                fifo_path[0] = '\0';
        }
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
        cr_assert_eq(allocator_revoke(a, l, NULL, NULL), 0);
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
        m->pfs[0]->total_vfs = 8;
        acquire_ok(getpid());
        cr_assert_eq(allocator_set_num_vfs(a, m->pfs[0], 0, NULL, NULL), -EBUSY);
        cr_assert_eq(allocator_set_num_vfs(a, m->pfs[0], 99, NULL, NULL), -ERANGE);
}

/* ---- blocking kernel calls run in the worker; the loop goes on ------------- */

/* A sysfs attribute of the fixture as a FIFO: a write to it blocks until the
 * test opens it for reading, which stands for a kernel call that takes its time. */
static void make_fifo_attr(const char *bdf, const char *attr, char path[static 512]) {
        char cmd[600];

        snprintf(path, 512, "%s/sys/bus/pci/devices/%s", dir, bdf);
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
        cr_assert_eq(system(cmd), 0);
        snprintf(path, 512, "%s/sys/bus/pci/devices/%s/%s", dir, bdf, attr);
        cr_assert_eq(mkfifo(path, 0600), 0);
        snprintf(fifo_path, sizeof fifo_path, "%s", path);
}

/* Lets the pending write through and returns what was written. */
static void release_fifo(const char *path, char *buf, size_t size) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t k;

        cr_assert(fd >= 0);
        k = read(fd, buf, size - 1);
        buf[k > 0 ? k : 0] = '\0';
        close(fd);
}

/* An allocator_done_t that stores the result for the test to look at. */
static void done_cb(int result, void *userdata) {
        *(int *) userdata = result;
}

static int ticks;
static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        ticks++;
        return sd_event_source_set_time_relative(s, 10 * 1000) < 0 ? 0 : sd_event_source_set_enabled(s, SD_EVENT_ON);
}

Test(allocator, revocation_waits_in_the_worker_not_in_the_loop) {
        char attr[512], written[16];
        sd_event_source *tick = NULL;
        Lease *l = acquire_ok(getpid());
        char id[LEASE_ID_LENGTH + 1];
        int result = 1;

        free(m->pfs[0]->driver);
        m->pfs[0]->driver = strdup(PF_DRIVER_NAME_KMOD);
        make_fifo_attr(vf_n(0)->address, "vfbroker_revoke", attr);
        snprintf(id, sizeof id, "%s", l->id);

        cr_assert_eq(allocator_revoke(a, l, done_cb, &result), 1);
        cr_assert_eq(vf_n(0)->state, VF_REVOKING);
        cr_assert_eq(allocator_revoke(a, l, done_cb, &result), -EBUSY, "a second revocation was started");

        /* The write is stuck in the "kernel"; the loop must go on meanwhile. */
        ticks = 0;
        cr_assert(sd_event_add_time_relative(m->event, &tick, CLOCK_MONOTONIC, 10 * 1000, 0, on_tick, NULL) >= 0);
        for (int i = 0; i < 20; i++)
                cr_assert(sd_event_run(m->event, 20 * 1000) >= 0);
        cr_assert_geq(ticks, 5, "the event loop stalled while a revocation was written (%d ticks)", ticks);
        cr_assert_eq(result, 1, "the revocation finished before the kernel let it");
        cr_assert_not_null(allocator_find_lease(a, id), "the lease ended before the revocation was done");

        release_fifo(attr, written, sizeof written);
        for (int i = 0; i < 100 && result == 1; i++)
                cr_assert(sd_event_run(m->event, 20 * 1000) >= 0);
        cr_assert_eq(result, 0);
        cr_assert_str_eq(written, "1\n");
        cr_assert_null(allocator_find_lease(a, id));
        cr_assert_eq(vf_n(0)->state, VF_FREE);
        sd_event_source_disable_unref(tick);
}

/* A holder that exits while its VF is being revoked must not free the VF
 * before the revocation reached the kernel: the next tenant would get it. */
Test(allocator, a_vf_under_revocation_is_never_free) {
        char attr[512], written[16];
        int release, result = 1;
        pid_t child = spawn_holder(&release);
        Lease *l = acquire_ok(child);
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *other = NULL;

        free(m->pfs[0]->driver);
        m->pfs[0]->driver = strdup(PF_DRIVER_NAME_KMOD);
        make_fifo_attr(vf_n(0)->address, "vfbroker_revoke", attr);
        /* The variant driver's per-VF token attribute, written at the next acquire. */
        for (unsigned i = 0; i < N_VFS; i++) {
                char tok[600];

                snprintf(tok, sizeof tok, "%s/sys/bus/pci/devices/%s/vfbroker_token", dir, vf_n(i)->address);
                if (i > 0) {
                        char mk[700];

                        snprintf(mk, sizeof mk, "mkdir -p '%s/sys/bus/pci/devices/%s'", dir, vf_n(i)->address);
                        cr_assert_eq(system(mk), 0);
                }
                FILE *t = fopen(tok, "we");
                cr_assert_not_null(t);
                fclose(t);
        }
        cr_assert_eq(allocator_revoke(a, l, done_cb, &result), 1);

        close(release);
        waitpid(child, NULL, 0);
        for (int i = 0; i < 20; i++)
                cr_assert(sd_event_run(m->event, 20 * 1000) >= 0);
        cr_assert_neq(vf_n(0)->state, VF_FREE, "the VF came back free with its revocation still pending");
        int r = allocator_acquire(a, &req, &other, &fds);
        cr_assert_eq(r, 0, "acquire returned %d", r);
        cr_assert_neq(other->vf, vf_n(0), "a VF under revocation was leased again");
        vfio_vf_fds_close(&fds);

        release_fifo(attr, written, sizeof written);
        for (int i = 0; i < 100 && (result == 1 || vf_n(0)->state != VF_FREE); i++)
                cr_assert(sd_event_run(m->event, 20 * 1000) >= 0);
        cr_assert_eq(result, 0);
        cr_assert_eq(vf_n(0)->state, VF_FREE);
}

/* The change waits in the worker until the new VF is bound, as the kernel
 * binds VFs some time after sriov_numvfs was written; the test binds it. */
Test(allocator, sriov_numvfs_is_written_in_the_worker_and_the_pf_says_so) {
        char pf_dir[512], cmd[1600], value[16];
        AcquireRequest req = request_for(getpid());
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        Lease *l = NULL;
        int result = 1, ticks_before;
        sd_event_source *tick = NULL;
        FILE *f;

        m->pfs[0]->total_vfs = 8;
        snprintf(pf_dir, sizeof pf_dir, "%s/sys/bus/pci/devices/%s", dir, m->pfs[0]->address);
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s/sys/bus/pci/drivers/vfio-pci' && echo 0 > '%s/sriov_numvfs'",
                 pf_dir, dir, pf_dir);
        cr_assert_eq(system(cmd), 0);

        int r = allocator_set_num_vfs(a, m->pfs[0], 1, done_cb, &result);
        cr_assert_eq(r, 0, "set_num_vfs returned %d", r);
        cr_assert_eq(m->pfs[0]->state, PF_CHANGING);
        cr_assert_str_eq(pf_state_to_string(m->pfs[0]->state), "changing");
        cr_assert_eq(allocator_set_num_vfs(a, m->pfs[0], 1, done_cb, &result), -EALREADY);

        ticks = 0;
        cr_assert(sd_event_add_time_relative(m->event, &tick, CLOCK_MONOTONIC, 10 * 1000, 0, on_tick, NULL) >= 0);
        for (int i = 0; i < 20; i++)
                cr_assert(sd_event_run(m->event, 20 * 1000) >= 0);
        ticks_before = ticks;
        cr_assert_geq(ticks_before, 5, "the event loop stalled while sriov_numvfs was changed (%d ticks)", ticks_before);
        cr_assert_eq(result, 1, "the change finished before the VF was bound");
        cr_assert_eq(allocator_acquire(a, &req, &l, &fds), ACQUIRE_NO_FREE_VF, "a VF of a changing PF was leased");
        f = fopen(strcat(strcpy(cmd, pf_dir), "/sriov_numvfs"), "re");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(value, sizeof value, f));
        fclose(f);
        cr_assert_eq(atoi(value), 1);

        /* The "kernel" binds the new VF. */
        snprintf(cmd, sizeof cmd,
                 "cd '%s/sys/bus/pci/devices' && mkdir -p 0000:01:00.7 && ln -s ../../../bus/pci/drivers/vfio-pci 0000:01:00.7/driver"
                 " && ln -s ../0000:01:00.7 '%s/virtfn0'", dir, pf_dir);
        cr_assert_eq(system(cmd), 0);
        for (int i = 0; i < 200 && result == 1; i++)
                cr_assert(sd_event_run(m->event, 20 * 1000) >= 0);
        cr_assert_eq(result, 0, "result %d", result);
        cr_assert_eq(m->pfs[0]->state, PF_READY);
        cr_assert_eq(m->pfs[0]->n_vfs, 1, "the VFs were not read again (%u)", m->pfs[0]->n_vfs);
        cr_assert_str_eq(m->pfs[0]->vfs[0].address, "0000:01:00.7");
        sd_event_source_disable_unref(tick);
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

/* ---- the iommufd path ---------------------------------------------------------- */

static void write_file(const char *rel, const char *content) {
        char path[512], cmd[600];
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, rel);
        snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
        cr_assert_eq(system(cmd), 0);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fputs(content, f);
        fclose(f);
}

static char *read_file(const char *rel) {
        char path[512], *buf = calloc(1, 256);
        FILE *f;

        snprintf(path, sizeof path, "%s/%s", dir, rel);
        f = fopen(path, "r");
        cr_assert_not_null(f, "%s exists", rel);
        (void) !fread(buf, 1, 255, f);
        fclose(f);
        return buf;
}

/* The kernel as a 6.12 with IOMMUFD: each VF has its cdev in sysfs. */
static void iommufd_kernel(bool checks_token) {
        char rel[256];

        standin_iommufd_available = 1;
        m->iommufd_available = true;
        m->kernel_checks_cdev_token = checks_token;
        snprintf(m->kernel_release, sizeof m->kernel_release, "%s", checks_token ? "7.3.4" : "6.12.0");
        for (unsigned i = 0; i < N_VFS; i++) {
                snprintf(rel, sizeof rel, "sys/bus/pci/devices/0000:01:00.%u/vfio-dev/vfio%u/dev", i + 1, i);
                write_file(rel, "");
        }
}

static int acquire_iommufd(pid_t pid, Lease **ret, VfioVfFds *fds) {
        AcquireRequest req = request_for(pid);

        req.api = VF_API_IOMMUFD;
        *fds = VFIO_VF_FDS_NULL;
        return allocator_acquire(a, &req, ret, fds);
}

Test(allocator, iommufd_hands_out_the_cdev_and_one_iommufd_per_holder) {
        VfioVfFds f1, f2;
        Lease *l1, *l2;
        unsigned before;

        iommufd_kernel(false);
        before = open_fds();
        cr_assert_eq(acquire_iommufd(getpid(), &l1, &f1), 0);
        cr_assert(f1.container >= 0 && f1.device >= 0 && f1.group < 0, "iommufd and cdev, no group");
        cr_assert(l1->on_iommufd);
        cr_assert_eq(acquire_iommufd(getpid(), &l2, &f2), 0);
        cr_assert_eq(standin_cdev_opens, 2);
        cr_assert_eq(standin_iommufd_opens, 1, "the second VF of the same holder shares its iommufd");
        cr_assert_eq(standin_groups[0].opens, 0, "the group path was not taken");
        vfio_vf_fds_close(&f1);
        vfio_vf_fds_close(&f2);

        allocator_end_lease(a, l1, "test");
        cr_assert_gt(open_fds(), before, "the broker keeps the iommufd while the holder has a lease on it");
        allocator_end_lease(a, l2, "test");
        cr_assert_eq(open_fds(), before, "the broker's iommufd is closed with the holder's last lease");
}

Test(allocator, iommufd_of_another_holder_is_its_own) {
        VfioVfFds f1, f2;
        Lease *l1, *l2;
        int release_fd;
        pid_t other = spawn_holder(&release_fd);

        iommufd_kernel(false);
        cr_assert_eq(acquire_iommufd(getpid(), &l1, &f1), 0);
        cr_assert_eq(acquire_iommufd(other, &l2, &f2), 0);
        cr_assert_eq(standin_iommufd_opens, 2, "two holders, two iommufds");
        vfio_vf_fds_close(&f1);
        vfio_vf_fds_close(&f2);
        close(release_fd);
        waitpid(other, NULL, 0);
}

Test(allocator, iommufd_is_refused_on_a_kernel_without_it_and_group_still_works) {
        VfioVfFds f;
        Lease *l;
        char buf[512];

        cr_assert_eq(acquire_iommufd(getpid(), &l, &f), ACQUIRE_API_UNSUPPORTED);
        cr_assert_eq(vf_n(0)->state, VF_FREE);
        cr_assert_eq(standin_cdev_opens, 0);
        cr_assert_not_null(strstr(pf_iommufd_refusal(m->pfs[0], buf, sizeof buf), "CONFIG_IOMMUFD"));
        acquire_ok(getpid());
}

Test(allocator, iommufd_is_refused_for_a_stock_pool_pf_where_the_kernel_checks_the_token) {
        VfioVfFds f;
        Lease *l;
        char buf[512];
        const char *why;

        iommufd_kernel(true);
        cr_assert_eq(acquire_iommufd(getpid(), &l, &f), ACQUIRE_API_UNSUPPORTED);
        why = pf_iommufd_refusal(m->pfs[0], buf, sizeof buf);
        cr_assert_not_null(why);
        cr_assert_not_null(strstr(why, "Driver=vfbroker_vfio_pci"), "%s", why);
        cr_assert_not_null(strstr(why, "7.3.4"), "%s", why);

        /* A dedicated PF's owner knows the token and can bind with it. */
        m->pfs[0]->mode = PF_MODE_DEDICATED;
        cr_assert_null(pf_iommufd_refusal(m->pfs[0], buf, sizeof buf));
        m->pfs[0]->mode = PF_MODE_POOL;
}

Test(allocator, iommufd_vf_held_by_somebody_drains_and_the_next_is_taken) {
        VfioVfFds f;
        Lease *l;

        iommufd_kernel(false);
        standin_groups[0].held = 1;
        cr_assert_eq(acquire_iommufd(getpid(), &l, &f), 0);
        cr_assert_eq(l->vf, vf_n(1));
        cr_assert_eq(vf_n(0)->state, VF_DRAINING);
        cr_assert_eq(standin_cdev_opens, 1, "the held VF's cdev was never opened");
        vfio_vf_fds_close(&f);
}

Test(allocator, iommufd_on_the_variant_driver_arms_the_vf_and_disarms_it_at_the_end) {
        VfioVfFds f;
        Lease *l;
        char expect[64], *got;

        iommufd_kernel(true);
        free(m->pfs[0]->driver);
        m->pfs[0]->driver = strdup("vfbroker_vfio_pci");
        write_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_arm", "");
        write_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_disarm", "");
        write_file("sys/bus/pci/devices/0000:01:00.1/vfbroker_token", "");

        cr_assert_eq(acquire_iommufd(getpid(), &l, &f), 0);
        got = read_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_arm");
        /* The number is the broker's own copy, which the driver resolves in
         * the writer: it is not the one handed out. */
        cr_assert(strncmp(got, "0000:01:00.1 ", 13) == 0, "armed: '%s'", got);
        cr_assert_gt(atoi(got + 13), 2);
        free(got);
        vfio_vf_fds_close(&f);

        allocator_end_lease(a, l, "test");
        got = read_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_disarm");
        snprintf(expect, sizeof expect, "0000:01:00.1\n");
        cr_assert_str_eq(got, expect);
        free(got);
}

Test(allocator, iommufd_on_an_old_variant_driver_is_refused) {
        VfioVfFds f;
        Lease *l;
        char buf[512];

        iommufd_kernel(true);
        free(m->pfs[0]->driver);
        m->pfs[0]->driver = strdup("vfbroker_vfio_pci");
        cr_assert_eq(acquire_iommufd(getpid(), &l, &f), ACQUIRE_API_UNSUPPORTED);
        cr_assert_not_null(strstr(pf_iommufd_refusal(m->pfs[0], buf, sizeof buf), "vfbroker_arm"));
}

Test(allocator, restore_disarms_the_vfs_without_a_lease) {
        char *got;

        m->kernel_checks_cdev_token = true;
        free(m->pfs[0]->driver);
        m->pfs[0]->driver = strdup("vfbroker_vfio_pci");
        write_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_arm", "");
        write_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_disarm", "");
        cr_assert_eq(allocator_restore(a), 0);
        got = read_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_disarm");
        /* One write per VF; the attribute file keeps the last (O_TRUNC). */
        cr_assert_str_eq(got, "0000:01:00.3\n");
        free(got);
}

Test(allocator, iommufd_on_the_variant_driver_before_6_17_needs_no_arming) {
        VfioVfFds f;
        Lease *l;
        char *got;

        iommufd_kernel(false);
        free(m->pfs[0]->driver);
        m->pfs[0]->driver = strdup("vfbroker_vfio_pci");
        /* The attributes exist but answer EOPNOTSUPP there: never written. */
        write_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_arm", "");
        write_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_disarm", "");
        write_file("sys/bus/pci/devices/0000:01:00.1/vfbroker_token", "");
        cr_assert_eq(acquire_iommufd(getpid(), &l, &f), 0);
        vfio_vf_fds_close(&f);
        allocator_end_lease(a, l, "test");
        got = read_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_arm");
        cr_assert_str_eq(got, "");
        free(got);
        got = read_file("sys/bus/pci/drivers/vfbroker_vfio_pci/vfbroker_disarm");
        cr_assert_str_eq(got, "");
        free(got);
}
