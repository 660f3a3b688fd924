/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Allocator: the VF and lease life cycle in one place: acquire (choose,
 * token, open, lease, watch, store, roll back), end, revoke, drain, restore. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "allocator.h"
#include "log.h"
#include "time-util.h"
#include "manager.h"
#include "sysfs.h"

#define DRAIN_CHECK_INTERVAL_USEC (200ULL * 1000)

/* The iommufd a holder's VFs share on the iommufd path: a VMM attaches all
 * of them to one IOAS, which needs one iommufd. */
typedef struct HolderIommufd {
        pid_t pid;
        uint64_t pid_start_time;
        int fd;
        unsigned n_leases;
} HolderIommufd;

struct Allocator {
        Manager *manager;               /* the PF table, store, vfio, sysfs, event loop */
        Worker *worker;                 /* blocking kernel calls */
        sd_event_source *drain_timer;
        HolderIommufd *holders;         /* at most one per active lease on the iommufd path */
        size_t n_holders;
};

int allocator_new(Manager *m, Worker *worker, Allocator **ret) {
        Allocator *a;

        a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        a->manager = m;
        a->worker = worker;
        *ret = a;
        return 0;
}

Allocator *allocator_free(Allocator *a) {
        if (!a)
                return NULL;
        sd_event_source_disable_unref(a->drain_timer);
        for (size_t i = 0; i < a->n_holders; i++)
                safe_close(a->holders[i].fd);
        free(a->holders);
        free(a);
        return NULL;
}

/* ---- draining ------------------------------------------------------------ */

/* A draining VF is free once its group can be opened: nobody holds it. */
static int vf_refresh_draining(Vf *vf) {
        int r;

        /* A revocation still on its way to the kernel must not reach the next tenant. */
        if (vf->state != VF_DRAINING || vf->revocation_pending)
                return 0;
        r = vfio_group_is_free(vf->pf->manager->vfio, vf->iommu_group);
        if (r <= 0)
                return r;

        vf->state = VF_FREE;
        vf->lease = lease_free(vf->lease);
        log_info("VF %s is free again: nobody holds IOMMU group %u any more.", vf->address, vf->iommu_group);
        return 1;
}

static void vf_start_draining(Allocator *a, Vf *vf) {
        vf->state = VF_DRAINING;
        allocator_schedule_drain_check(a);
}

static int on_drain_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Allocator *a = userdata;
        Manager *m = a->manager;
        bool still_draining = false, changed = false;

        for (size_t i = 0; i < m->n_pfs; i++)
                for (unsigned j = 0; j < m->pfs[i]->n_vfs; j++) {
                        Vf *vf = &m->pfs[i]->vfs[j];

                        if (vf->state != VF_DRAINING)
                                continue;
                        if (vf_refresh_draining(vf) > 0)
                                changed = true;
                        else
                                still_draining = true;
                }

        if (changed)
                manager_update_status(m);
        if (still_draining)
                return sd_event_source_set_time_relative(s, DRAIN_CHECK_INTERVAL_USEC) < 0 ? 0 :
                       sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

void allocator_schedule_drain_check(Allocator *a) {
        int r;

        if (!a->drain_timer) {
                r = sd_event_add_time_relative(a->manager->event, &a->drain_timer, CLOCK_MONOTONIC,
                                               DRAIN_CHECK_INTERVAL_USEC, 0, on_drain_timer, a);
                if (r < 0) {
                        log_error_errno(r, "Cannot arm the draining timer: %s", STRERROR(r));
                        return;
                }
                (void) sd_event_source_set_description(a->drain_timer, "drain-check");
                return;
        }
        if (sd_event_source_get_enabled(a->drain_timer, NULL) > 0)
                return;
        (void) sd_event_source_set_time_relative(a->drain_timer, DRAIN_CHECK_INTERVAL_USEC);
        (void) sd_event_source_set_enabled(a->drain_timer, SD_EVENT_ONESHOT);
}

void allocator_probe_pf(Allocator *a, Pf *pf) {
        for (unsigned i = 0; i < pf->n_vfs; i++) {
                Vf *vf = &pf->vfs[i];
                int r;

                if (vf->state != VF_FREE)
                        continue;
                r = vfio_group_is_free(pf->manager->vfio, vf->iommu_group);
                if (r == 0)
                        vf_start_draining(a, vf);
                else if (r < 0) {
                        log_warning_errno(r, "Cannot open IOMMU group %u of VF %s (%s); marking it broken.",
                                          vf->iommu_group, vf->address, STRERROR(r));
                        vf->state = VF_BROKEN;
                }
        }
}

/* ---- the iommufd path -------------------------------------------------------- */

static HolderIommufd *holder_find(Allocator *a, pid_t pid, uint64_t start_time) {
        for (size_t i = 0; i < a->n_holders; i++)
                if (a->holders[i].pid == pid && a->holders[i].pid_start_time == start_time)
                        return &a->holders[i];
        return NULL;
}

/* The holder's iommufd, opened on its first lease on this path. Borrowed: the
 * caller dups it for the reply. */
static int holder_get_iommufd(Allocator *a, pid_t pid, uint64_t start_time, HolderIommufd **ret) {
        HolderIommufd *h = holder_find(a, pid, start_time), *n;
        int fd, r;

        if (h) {
                *ret = h;
                return 0;
        }
        r = vfio_open_iommufd(a->manager->vfio, &fd);
        if (r < 0)
                return r;
        n = realloc(a->holders, (a->n_holders + 1) * sizeof *n);
        if (!n) {
                safe_close(fd);
                return -ENOMEM;
        }
        a->holders = n;
        a->holders[a->n_holders] = (HolderIommufd) { .pid = pid, .pid_start_time = start_time, .fd = fd };
        *ret = &a->holders[a->n_holders++];
        return 0;
}

/* had_lease: a lease on this path ended; else an acquire failed before its
 * lease counted. Once no lease is left the broker closes its copy (the holder
 * keeps its own). */
static void holder_put_iommufd(Allocator *a, pid_t pid, uint64_t start_time, bool had_lease) {
        HolderIommufd *h = holder_find(a, pid, start_time);

        if (!h)
                return;
        if (had_lease && h->n_leases > 0)
                h->n_leases--;
        if (h->n_leases > 0)
                return;
        safe_close(h->fd);
        *h = a->holders[--a->n_holders];
}

/* On a vfbroker_vfio_pci PF where the kernel checks the token at a cdev
 * bind (6.17+), the leased VF is armed for a tokenless bind through the
 * holder's iommufd; before 6.17 nothing checks a token there, and the module
 * answers EOPNOTSUPP. */
static bool vf_needs_arming(const Vf *vf) {
        return streq_ptr(vf->pf->driver, PF_DRIVER_NAME_KMOD) && vf->pf->manager->kernel_checks_cdev_token &&
               sysfs_driver_can_arm(vf->pf->manager->sysfs);
}

/* A VF stops accepting a tokenless bind. Disarming a VF that is not armed is
 * harmless, so this runs at every lease end. */
static void vf_disarm(Vf *vf) {
        int r;

        if (!vf_needs_arming(vf))
                return;
        r = sysfs_disarm_vf(vf->pf->manager->sysfs, vf->address);
        if (r < 0 && r != -ENODEV)
                log_warning_errno(r, "Cannot disarm VF %s in vfbroker_vfio_pci: %s; a holder of an unbound cdev fd "
                                  "of it and its iommufd could still bind it.", vf->address, STRERROR(r));
}

/* ---- leases ---------------------------------------------------------------- */

Lease *allocator_find_lease(Allocator *a, const char *id) {
        Manager *m = a->manager;

        for (size_t i = 0; i < m->n_pfs; i++)
                for (unsigned j = 0; j < m->pfs[i]->n_vfs; j++) {
                        Lease *l = m->pfs[i]->vfs[j].lease;

                        if (l && l->active && streq(l->id, id))
                                return l;
                }
        return NULL;
}

unsigned allocator_count_leases(Allocator *a, const char *tenant) {
        Manager *m = a->manager;
        unsigned n = 0;

        for (size_t i = 0; i < m->n_pfs; i++)
                for (unsigned j = 0; j < m->pfs[i]->n_vfs; j++) {
                        Lease *l = m->pfs[i]->vfs[j].lease;

                        if (l && l->active && (!tenant || streq(l->tenant, tenant)))
                                n++;
                }
        return n;
}

void allocator_end_lease(Allocator *a, Lease *l, const char *why) {
        Manager *m = a->manager;
        Vf *vf = l->vf;
        int r;

        if (!l->active)
                return;

        r = store_lease_remove(m->store, l->id);
        if (r < 0 && r != -ENOENT)
                log_error_errno(r, "Cannot remove lease %s from the store: %s; it will be re-checked at the next start.",
                                l->id, STRERROR(r));

        l->active = false;
        l->pidfd_source = sd_event_source_disable_unref(l->pidfd_source);
        l->pidfd = safe_close(l->pidfd);

        log_audit(LOG_INFO,
                  &(AuditEvent) {
                          .message_id = LOG_MESSAGE_ID_RELEASED,
                          .action = "end-lease",
                          .result = why,
                          .tenant = l->tenant,
                          .vf = vf->address,
                          .lease = l->id,
                          .uid = l->uid,
                          .pid = l->pid,
                  },
                  "Lease %s of VF %s for tenant '%s' ended: %s.", l->id, vf->address, l->tenant, why);

        vf_clear_token(vf);
        vf_disarm(vf);
        if (l->on_iommufd)
                holder_put_iommufd(a, l->pid, l->pid_start_time, true);
        vf->state = VF_DRAINING;
        /* Often the holder closed everything already: check at once. An
         * unbound cdev fd passed on by the holder is invisible here (only a
         * bound one makes the group busy): on a vfbroker_vfio_pci PF the
         * disarm above keeps it from binding; see kmod/README.md. */
        if (vf_refresh_draining(vf) <= 0)
                allocator_schedule_drain_check(a);
        manager_update_status(m);
}

static void on_holder_exit(Lease *l, void *userdata) {
        allocator_end_lease(userdata, l, "holder exited");
}

typedef struct Revocation {
        Allocator *allocator;
        Vf *vf;
        char lease[LEASE_ID_LENGTH + 1];
        char address[PCI_ADDRESS_MAX];
        allocator_done_t done;
        void *userdata;
} Revocation;

/* In the worker thread: the write may wait in the variant driver (SRCU, the
 * reset), never on the holder. */
static int revocation_run(void *userdata) {
        Revocation *rv = userdata;

        return sysfs_revoke_vf(rv->allocator->manager->sysfs, rv->address);
}

static void revocation_done(int result, uint64_t duration_usec, void *userdata) {
        Revocation *rv = userdata;
        Allocator *a = rv->allocator;
        Vf *vf = rv->vf;
        Lease *l = allocator_find_lease(a, rv->lease);

        vf->revocation_pending = false;
        log_info("Revocation of VF %s took %" PRIu64 " us: %s.", rv->address, duration_usec,
                 result < 0 ? STRERROR(result) : "done");
        if (result >= 0) {
                if (l)
                        allocator_end_lease(a, l, "revoked by force");
        } else if (vf->state == VF_REVOKING)
                vf->state = VF_LEASED;
        /* Ended meanwhile (the holder exited): it may drain now. */
        if (vf->state == VF_DRAINING && vf_refresh_draining(vf) <= 0)
                allocator_schedule_drain_check(a);
        manager_update_status(a->manager);
        if (rv->done)
                rv->done(result, rv->userdata);
        free(rv);
}

int allocator_revoke(Allocator *a, Lease *l, allocator_done_t done, void *userdata) {
        Vf *vf = l->vf;
        Revocation *rv;
        int r;

        if (vf->revocation_pending)
                return -EBUSY;
        if (!pf_has_revocation(vf->pf)) {
                allocator_end_lease(a, l, "revoked; the holder keeps its fds until it closes them (vfio-pci cannot take them back)");
                return 0;
        }

        rv = calloc(1, sizeof *rv);
        if (!rv)
                return -ENOMEM;
        *rv = (Revocation) { .allocator = a, .vf = vf, .done = done, .userdata = userdata };
        snprintf(rv->lease, sizeof rv->lease, "%s", l->id);
        snprintf(rv->address, sizeof rv->address, "%s", vf->address);
        r = worker_submit(a->worker, revocation_run, revocation_done, rv);
        if (r < 0) {
                free(rv);
                return r;
        }
        vf->revocation_pending = true;
        vf->state = VF_REVOKING;
        manager_update_status(a->manager);
        return 1;
}

typedef struct TenantRevocation {
        unsigned pending;
        int result;
        allocator_done_t done;
        void *userdata;
} TenantRevocation;

static void tenant_revocation_step(int result, void *userdata) {
        TenantRevocation *tr = userdata;

        if (result < 0 && tr->result >= 0)
                tr->result = result;
        if (--tr->pending > 0)
                return;
        tr->done(tr->result, tr->userdata);
        free(tr);
}

int allocator_revoke_tenant(Allocator *a, const char *tenant, allocator_done_t done, void *userdata) {
        Manager *m = a->manager;
        TenantRevocation *tr;
        int r;

        tr = calloc(1, sizeof *tr);
        if (!tr)
                return -ENOMEM;
        *tr = (TenantRevocation) { .pending = 1, .done = done, .userdata = userdata };
        for (size_t i = 0; i < m->n_pfs; i++)
                for (unsigned j = 0; j < m->pfs[i]->n_vfs; j++) {
                        Vf *vf = &m->pfs[i]->vfs[j];
                        Lease *l = vf->lease;

                        if (!l || !l->active || !streq(l->tenant, tenant) || vf->revocation_pending)
                                continue;
                        tr->pending++;
                        r = allocator_revoke(a, l, tenant_revocation_step, tr);
                        if (r <= 0)
                                tr->pending--;
                        if (r < 0 && tr->result >= 0)
                                tr->result = r;
                }
        /* The one held for the loop itself. */
        if (--tr->pending == 0) {
                r = tr->result;
                free(tr);
                return r < 0 ? r : 0;
        }
        return 1;
}

/* ---- acquire ----------------------------------------------------------------- */

/* What an open failure says about the VF. */
typedef enum OpenFailure {
        OPEN_HELD,         /* someone outside any lease has the group: drain */
        OPEN_RESOURCES,    /* the broker is short of fds or memory: fail the call */
        OPEN_TOKEN,        /* the kernel refused the token: the PF's problem */
        OPEN_DEVICE,       /* the VF itself is unusable: broken */
} OpenFailure;

static OpenFailure classify_open_failure(int r) {
        switch (-r) {
        case EBUSY:
                return OPEN_HELD;
        case EMFILE:
        case ENFILE:
        case ENOMEM:
        case ENOBUFS:
        case EAGAIN:
        case EINTR:
                return OPEN_RESOURCES;
        case EACCES:
                return OPEN_TOKEN;
        default:
                return OPEN_DEVICE;
        }
}

/* Opens vf with the token it needs now. A refused token is set again on the
 * PF once (the kernel may have lost it, e.g. after the PF was rebound) before
 * the refusal counts. */
static int open_vf(Vf *vf, const char *tenant, VfioVfFds *ret) {
        Manager *m = vf->pf->manager;
        Token token;
        int r;

        for (int attempt = 0;; attempt++) {
                r = vf_prepare_token(vf, tenant, &token);
                if (r < 0)
                        return r;
                r = vfio_open_vf(m->vfio, vf->iommu_group, vf->address, &token, ret);
                if (r >= 0)
                        return 0;
                vf_clear_token(vf);
                if (r != -EACCES || attempt > 0)
                        return r;
                r = pf_apply_token(vf->pf);
                if (r < 0)
                        return -EACCES;
        }
}

/* The iommufd path: the group must open (nobody has the VF bound; a free
 * VF can still be held by somebody outside any lease), then the unbound cdev.
 * The token is prepared as on the group path, for a client that binds with
 * it; stock VMMs bind without, which the kernel allows before 6.17 and
 * vfbroker_vfio_pci allows on an armed VF. */
static int open_vf_cdev(Vf *vf, const char *tenant, VfioVfFds *ret) {
        Manager *m = vf->pf->manager;
        char cdev[SYSFS_CDEV_NAME_MAX];
        Token token;
        int r;

        r = vfio_group_is_free(m->vfio, vf->iommu_group);
        if (r == 0)
                return -EBUSY;
        if (r < 0)
                return r;
        r = sysfs_get_vf_cdev_name(m->sysfs, vf->address, cdev);
        if (r < 0)
                return r;
        r = vf_prepare_token(vf, tenant, &token);
        if (r < 0)
                return r;
        r = vfio_open_cdev(m->vfio, cdev, &ret->device);
        if (r < 0)
                vf_clear_token(vf);
        return r;
}

/* Gives fds the holder's iommufd (a dup, the caller's) and arms the VF for it. */
static int attach_iommufd(Allocator *a, Vf *vf, const AcquireRequest *req, VfioVfFds *fds) {
        HolderIommufd *h;
        int r;

        r = holder_get_iommufd(a, req->pid, req->pid_start_time, &h);
        if (r < 0)
                return log_error_errno(r, "Cannot open /dev/iommu for VF %s: %s; the VF stays free.", vf->address, STRERROR(r));
        /* Before the fds leave: a VMM binding at once must find the VF armed. */
        if (vf_needs_arming(vf)) {
                r = sysfs_arm_vf(a->manager->sysfs, vf->address, h->fd);
                if (r < 0) {
                        holder_put_iommufd(a, req->pid, req->pid_start_time, false);
                        return log_error_errno(r, "vfbroker_vfio_pci refused to arm VF %s for a tokenless bind: %s; "
                                               "the VF stays free.", vf->address, STRERROR(r));
                }
        }
        fds->container = fcntl(h->fd, F_DUPFD_CLOEXEC, 3);
        if (fds->container < 0) {
                r = -errno;
                vf_disarm(vf);
                holder_put_iommufd(a, req->pid, req->pid_start_time, false);
                return log_error_errno(r, "Cannot duplicate the iommufd for VF %s: %s; the VF stays free.",
                                       vf->address, STRERROR(r));
        }
        h->n_leases++;
        return 0;
}

static int record_lease(Allocator *a, Vf *vf, const AcquireRequest *req, Lease **ret) {
        _cleanup_(lease_freep) Lease *lease = NULL;
        int r;

        r = lease_new(a->manager->event, vf, req->tenant->name, req->uid, req->pid, req->pid_start_time,
                      now_realtime_usec(), NULL, on_holder_exit, a, &lease);
        if (r < 0)
                return r;
        lease->on_iommufd = req->api == VF_API_IOMMUFD;
        r = lease_watch_holder(lease);
        if (r < 0)
                return r;

        StoreLease sl = {
                .id = lease->id,
                .tenant = lease->tenant,
                .uid = lease->uid,
                .pid = lease->pid,
                .pid_start_time = lease->pid_start_time,
                .created_usec = lease->created_usec,
        };
        snprintf(sl.vf, sizeof sl.vf, "%s", vf->address);
        snprintf(sl.pf, sizeof sl.pf, "%s", vf->pf->address);
        r = store_lease_add(a->manager->store, &sl);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(lease);
        return 0;
}

int allocator_acquire(Allocator *a, const AcquireRequest *req, Lease **ret_lease, VfioVfFds *ret_fds) {
        Manager *m = a->manager;
        VfioVfFds fds = VFIO_VF_FDS_NULL;
        VfFilter filter = { .tenant = req->tenant->name, .pf = req->pf, .numa_node = req->numa_node, .api = req->api };
        Lease *lease = NULL;
        Vf *vf = NULL, *cand;
        int r;

        if (req->pf && !manager_find_pf(m, req->pf))
                return ACQUIRE_UNKNOWN_PF;
        if (allocator_count_leases(a, req->tenant->name) >= req->tenant->quota)
                return ACQUIRE_QUOTA_EXCEEDED;

        /* Each candidate that cannot be opened for its own reasons leaves the
         * free state, so this ends; the broker's own trouble ends it at once. */
        while (!vf && (cand = pf_table_find_free_vf(m->pfs, m->n_pfs, &filter))) {
                r = req->api == VF_API_IOMMUFD ? open_vf_cdev(cand, req->tenant->name, &fds) :
                                                 open_vf(cand, req->tenant->name, &fds);
                if (r >= 0) {
                        vf = cand;
                        break;
                }
                switch (classify_open_failure(r)) {
                case OPEN_HELD:
                        log_warning("VF %s is held by somebody outside any lease; draining it.", cand->address);
                        vf_start_draining(a, cand);
                        continue;
                case OPEN_RESOURCES:
                        return log_error_errno(r, "Cannot open VF %s: %s; the VF stays free.", cand->address, STRERROR(r));
                case OPEN_TOKEN:
                        log_error_errno(r, "The kernel refuses the VF token of PF %s for VF %s, even after setting it again; "
                                        "the VF stays free.", cand->pf->address, cand->address);
                        return -EKEYREJECTED;
                case OPEN_DEVICE:
                        log_error_errno(r, "Cannot open VF %s (group %u): %s; marking it broken.",
                                        cand->address, cand->iommu_group, STRERROR(r));
                        cand->state = VF_BROKEN;
                        continue;
                }
        }
        if (!vf) {
                if (req->api == VF_API_IOMMUFD) {
                        filter.api = VF_API_GROUP;
                        /* Free VFs exist, only not on this path: say why rather than "none free". */
                        if (pf_table_find_free_vf(m->pfs, m->n_pfs, &filter))
                                return ACQUIRE_API_UNSUPPORTED;
                }
                return ACQUIRE_NO_FREE_VF;
        }

        if (req->api == VF_API_IOMMUFD) {
                r = attach_iommufd(a, vf, req, &fds);
                if (r < 0) {
                        vfio_vf_fds_close(&fds);
                        vf_clear_token(vf);
                        return r;
                }
        }

        r = record_lease(a, vf, req, &lease);
        if (r < 0) {
                vfio_vf_fds_close(&fds);
                vf_clear_token(vf);
                if (req->api == VF_API_IOMMUFD) {
                        vf_disarm(vf);
                        holder_put_iommufd(a, req->pid, req->pid_start_time, true);
                }
                /* Our own fds were just open: the group may be busy a little longer. */
                vf_start_draining(a, vf);
                return r == -ESRCH ? ACQUIRE_HOLDER_GONE : r;
        }

        vf->state = VF_LEASED;
        vf->lease = lease;
        manager_update_status(m);
        *ret_lease = lease;
        *ret_fds = fds;
        return 0;
}

/* ---- restore and sriov_numvfs ------------------------------------------------ */

int allocator_restore(Allocator *a) {
        Manager *m = a->manager;
        StoreLease *leases = NULL;
        size_t n = 0;
        int r;

        r = store_lease_list(m->store, &leases, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot read leases from the store: %s", STRERROR(r));

        for (size_t i = 0; i < n; i++) {
                StoreLease *sl = &leases[i];
                _cleanup_(lease_freep) Lease *l = NULL;
                Vf *vf = manager_find_vf(m, sl->vf);

                if (!vf || vf->pf->state != PF_READY) {
                        log_warning("Lease %s names VF %s, which is not ready now; dropping it.", sl->id, sl->vf);
                        (void) store_lease_remove(m->store, sl->id);
                        continue;
                }

                r = lease_new(m->event, vf, sl->tenant, sl->uid, sl->pid, sl->pid_start_time, sl->created_usec, sl->id,
                              on_holder_exit, a, &l);
                if (r < 0) {
                        log_error_errno(r, "Cannot restore lease %s: %s; dropping it.", sl->id, STRERROR(r));
                        (void) store_lease_remove(m->store, sl->id);
                        continue;
                }

                lease_free(vf->lease);
                vf->lease = TAKE_PTR(l);
                vf->state = VF_LEASED;

                r = lease_watch_holder(vf->lease);
                if (r < 0) {
                        /* The holder went away while we were down: the lease ends now. */
                        allocator_end_lease(a, vf->lease,
                                            r == -ESRCH ? "holder exited while the broker was down" : "holder cannot be watched");
                        continue;
                }
                log_info("Lease %s of VF %s (tenant '%s', pid %d) restored.", sl->id, sl->vf, sl->tenant, (int) sl->pid);
        }

        store_lease_list_free(leases, n);

        /* vfbroker_vfio_pci keeps arm state across our restarts: a VF armed
         * for a lease of the last run that ended while we were down must not
         * stay open to a tokenless bind. */
        for (size_t i = 0; i < m->n_pfs; i++)
                for (unsigned j = 0; j < m->pfs[i]->n_vfs; j++) {
                        Vf *vf = &m->pfs[i]->vfs[j];

                        if (!vf->lease || !vf->lease->active)
                                vf_disarm(vf);
                }
        return 0;
}

typedef struct NumVfsChange {
        Allocator *allocator;
        Pf *pf;
        char address[PCI_ADDRESS_MAX];
        char driver[64];
        unsigned n;
        allocator_done_t done;
        void *userdata;
} NumVfsChange;

/* In the worker thread: the write probes every new VF, then they bind. */
static int num_vfs_run(void *userdata) {
        NumVfsChange *c = userdata;
        Sysfs *sysfs = c->allocator->manager->sysfs;
        int r;

        r = sysfs_set_num_vfs(sysfs, c->address, c->n);
        if (r < 0 || c->n == 0)
                return r;
        return sysfs_wait_vfs_bound(sysfs, c->address, c->driver, VF_BIND_TIMEOUT_USEC);
}

static void num_vfs_done(int result, uint64_t duration_usec, void *userdata) {
        NumVfsChange *c = userdata;
        Pf *pf = c->pf;
        int r;

        log_info("sriov_numvfs=%u of PF %s took %" PRIu64 " us: %s.", c->n, c->address, duration_usec,
                 result < 0 ? STRERROR(result) : "done");
        /* Whatever the kernel did, the table follows what exists now. */
        r = pf_reload_vfs(pf);
        pf->state = PF_READY;
        if (r < 0)
                pf_mark_broken(pf, r, "cannot read the VFs of %s after changing sriov_numvfs: %s", pf->address, STRERROR(r));
        else
                allocator_probe_pf(c->allocator, pf);
        manager_update_status(c->allocator->manager);
        c->done(result < 0 ? result : r, c->userdata);
        free(c);
}

int allocator_set_num_vfs(Allocator *a, Pf *pf, unsigned n, allocator_done_t done, void *userdata) {
        NumVfsChange *c;
        int r;

        if (pf->state == PF_CHANGING)
                return -EALREADY;
        if (n > pf->total_vfs)
                return -ERANGE;
        if (pf_any_vf_held(pf))
                return -EBUSY;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (NumVfsChange) { .allocator = a, .pf = pf, .n = n, .done = done, .userdata = userdata };
        snprintf(c->address, sizeof c->address, "%s", pf->address);
        snprintf(c->driver, sizeof c->driver, "%s", pf->driver ? pf->driver : PF_DRIVER_NAME_VFIO_PCI);
        r = worker_submit(a->worker, num_vfs_run, num_vfs_done, c);
        if (r < 0) {
                free(c);
                return r;
        }
        pf->state = PF_CHANGING;
        manager_update_status(a->manager);
        return 0;
}
