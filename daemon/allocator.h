/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Allocator: the one owner of the VF and lease life cycle. Nothing else
 * writes vf->state or vf->lease: it chooses a free VF, sets its token, opens
 * it, leases it, watches the holder, stores the lease and rolls back on any
 * failure; it ends leases (release, holder exit, revocation), drains VFs and
 * restores leases after a restart. It knows nothing of D-Bus. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "lease.h"
#include "macro.h"
#include "pf.h"
#include "store.h"
#include "vfio.h"
#include "worker.h"

typedef struct Manager Manager;
typedef struct Allocator Allocator;

/* Refusals a client must see, as positive codes; failures of the broker
 * itself are negative errno. */
typedef enum AcquireRefusal {
        ACQUIRE_QUOTA_EXCEEDED = 1,
        ACQUIRE_UNKNOWN_PF,
        ACQUIRE_NO_FREE_VF,
        ACQUIRE_HOLDER_GONE,    /* the calling process exited before the lease was made */
        ACQUIRE_API_UNSUPPORTED, /* no PF that matches offers the API (pf_iommufd_refusal says why) */
} AcquireRefusal;

typedef struct AcquireRequest {
        const StoreTenant *tenant;      /* name, quota; the caller checked membership */
        const char *pf;                 /* NULL: any PF */
        int numa_node;                  /* -1: any node */
        uid_t uid;                      /* the holder: the caller's process */
        pid_t pid;
        uint64_t pid_start_time;
        VfApi api;
} AcquireRequest;

/* worker: where blocking kernel calls run (not owned). */
int allocator_new(Manager *m, Worker *worker, Allocator **ret);
Allocator *allocator_free(Allocator *a);

/* Leases a VF for req. 0: *ret_lease (owned by the allocator, the VF is
 * leased and the lease stored) and *ret_fds (the caller's: close them once
 * the reply is sent). On VF_API_IOMMUFD, ret_fds->container is the holder's
 * iommufd (one /dev/iommu file for every VF the holder has on this path, kept
 * by the allocator while any of them is leased), ->device the VF's unbound
 * cdev, ->group -EBADF; on a vfbroker_vfio_pci PF the VF is armed for a
 * tokenless bind through that iommufd until the lease ends. >0: an AcquireRefusal, nothing changed. <0: the
 * broker failed; no VF changed state for the broker's own trouble:
 *   -EMFILE, -ENFILE, -ENOMEM  out of resources: the VF stays free;
 *   -EKEYREJECTED  the kernel refused the PF's VF token even after it was
 *                  set again: the PF's problem, the VF stays free;
 *   other          from the store. A VF whose open failed for a device error
 *                  is marked broken and the next one is tried; one held outside
 *                  any lease drains. */
int allocator_acquire(Allocator *a, const AcquireRequest *req, Lease **ret_lease, VfioVfFds *ret_fds);

/* Ends an active lease (release, holder exit, a failed reply): drops it
 * from the store and drains its VF. A no-op on an ended lease. */
void allocator_end_lease(Allocator *a, Lease *l, const char *why);
/* Called from the event loop once a revocation or an sriov_numvfs change
 * is over: result 0 or negative errno. */
typedef void (*allocator_done_t)(int result, void *userdata);

/* Without revocation in the PF's driver: ends the lease and leaves the VF
 * draining until the holder lets go, and returns 0 (done is not called).
 * With it: the VF is "revoking" while the worker writes the revocation,
 * returns 1, and done follows; on success the lease has ended, on failure
 * the lease stays. -EBUSY if a revocation of it is under way already. */
int allocator_revoke(Allocator *a, Lease *l, allocator_done_t done, void *userdata);
/* Ends every active lease of tenant the same way; done once all are over,
 * with the first failure. Returns 0 if nothing was left to wait for (done not
 * called), 1 if done follows. */
int allocator_revoke_tenant(Allocator *a, const char *tenant, allocator_done_t done, void *userdata);

Lease *allocator_find_lease(Allocator *a, const char *id);
/* Active leases, of one tenant or (NULL) of all. */
unsigned allocator_count_leases(Allocator *a, const char *tenant_or_null);

/* After a PF's VFs were (re)read: a VF nobody has a lease on may still be
 * held (a holder of the last run, fds passed on): only an openable group is
 * free, a busy one drains, an unusable one is broken. */
void allocator_probe_pf(Allocator *a, Pf *pf);
/* Re-creates the stored leases of the last run; a lease whose holder is gone
 * ends at once. */
int allocator_restore(Allocator *a);
/* Rewrites sriov_numvfs in the worker, the PF "changing" meanwhile, then
 * re-reads its VFs and calls done. -EBUSY while a VF of pf is leased,
 * draining, revoking or held, -EALREADY while a change is under way, -ERANGE
 * past sriov_totalvfs. */
int allocator_set_num_vfs(Allocator *a, Pf *pf, unsigned n, allocator_done_t done, void *userdata);

/* Re-checks draining VFs now and then until each is free. */
void allocator_schedule_drain_check(Allocator *a);

DEFINE_TRIVIAL_CLEANUP_FUNC(Allocator *, allocator_free)
