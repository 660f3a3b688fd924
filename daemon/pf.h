/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pf / Vf: one object per PCI function the broker owns. A PF is set up once
 * (bound to vfio-pci, opened, token set, VFs enabled) and then only read.
 * A VF moves free -> leased -> draining -> free, or is broken; only the
 * Allocator (allocator.h) moves it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "macro.h"
#include "pci-address.h"
#include "uuid-util.h"

typedef struct Manager Manager;
typedef struct Lease Lease;
typedef struct Pf Pf;

typedef enum VfState {
        VF_FREE,
        VF_LEASED,
        VF_DRAINING,   /* lease ended, but some process still holds the group */
        VF_BROKEN,
        VF_REVOKING,   /* leased, and the variant driver is taking it back */
        _VF_STATE_MAX,
} VfState;

typedef struct Vf {
        Pf *pf;
        unsigned index;                 /* N of virtfnN */
        char address[PCI_ADDRESS_MAX];
        unsigned iommu_group;
        int numa_node;
        VfState state;
        Lease *lease;                   /* while leased (and while draining, if known) */
        bool revocation_pending;        /* a revocation job has not finished: never free meanwhile */
} Vf;

typedef enum PfState {
        PF_READY,
        PF_BROKEN,
        PF_CHANGING,   /* sriov_numvfs is being rewritten: no VF is offered */
} PfState;

#define PF_DRIVER_NAME_VFIO_PCI "vfio-pci"
#define PF_DRIVER_NAME_KMOD "vfbroker_vfio_pci"

/* How long new VFs may take to bind to the PF's driver. */
#define VF_BIND_TIMEOUT_USEC (10ULL * 1000 * 1000)

/* Upper bound on VFs per PF: PCIe allows more, no SR-IOV device we target has more. */
#define PF_VFS_MAX 256U

struct Pf {
        Manager *manager;
        char address[PCI_ADDRESS_MAX];
        char *interface;                /* NULL unless matched by Interface= */
        const ConfigPf *config;
        PfMode mode;
        char *tenant;                   /* dedicated: the owner */
        char *driver;                   /* driver the PF is bound to once ready */
        PfState state;
        char *reason;                   /* why broken */
        int device_fd;                  /* VFIO fd of the PF, also in systemd's fd store */
        unsigned total_vfs;
        Vf *vfs;
        unsigned n_vfs;
};

int pf_new(Manager *m, const ConfigPf *config, const char *address, Pf **ret);
Pf *pf_free(Pf *pf);

/* Binds, opens, sets the token, enables the VFs, reads their facts. On
 * failure the PF is marked broken with a reason and the error is returned;
 * the daemon goes on with the other PFs. stored_fd: the PF's fd from the fd
 * store (taken over), or -EBADF. */
int pf_setup(Pf *pf, int stored_fd);
void pf_mark_broken(Pf *pf, int error, const char *format, ...) _printf_(3, 4);
/* Sets the kernel VF token of the PF to the token this PF's VFs must be opened with. */
int pf_apply_token(Pf *pf);
/* The token VFs of this PF are opened with (pool secret or owner's token). */
int pf_get_token(Pf *pf, Token *ret);
/* Re-reads the PF's VFs after sriov_numvfs changed (all free or broken). */
int pf_reload_vfs(Pf *pf);
const char *pf_state_to_string(PfState s);
/* A VF is leased, draining, or its group does not open (held outside the broker). */
bool pf_any_vf_held(Pf *pf);
unsigned pf_count_vfs(const Pf *pf, VfState state);
/* What the PF's driver offers beyond vfio-pci (kmod/: vfbroker_vfio_pci). */
bool pf_has_per_vf_tokens(const Pf *pf);
bool pf_has_revocation(const Pf *pf);

/* The kernel interface a VF's fds are handed out for (AcquireVF's "API"). */
typedef enum VfApi {
        VF_API_GROUP,           /* container, group, device: every VFIO kernel */
        VF_API_IOMMUFD,         /* /dev/iommu and the VF's unbound cdev */
        _VF_API_MAX,
} VfApi;
const char *vf_api_to_string(VfApi api);
/* -EINVAL for a name that is none of them. */
int vf_api_from_string(const char *s);

/* NULL if the PF's VFs can be handed out on the iommufd path; otherwise why
 * not and what to do, as one sentence for the client (static storage or buf). */
const char *pf_iommufd_refusal(const Pf *pf, char *buf, size_t size);

/* What an acquire asks for. numa_node -1: any. pf NULL: any. */
typedef struct VfFilter {
        const char *tenant;
        const char *pf;
        int numa_node;
        VfApi api;              /* only PFs that offer it */
} VfFilter;

/* The first free VF of a ready PF that matches: the tenant's dedicated PFs
 * first, then the shared pool, each in table order. NULL if there is none. */
Vf *pf_table_find_free_vf(Pf *const *pfs, size_t n_pfs, const VfFilter *filter);

/* The token to open vf with for tenant: with per-VF tokens on a pool PF the
 * tenant's own, written to the VF first; otherwise the PF's (pf_get_token). */
int vf_prepare_token(Vf *vf, const char *tenant, Token *ret);
/* After a lease: clears a per-VF token so the VF opens with the PF token again. */
void vf_clear_token(Vf *vf);

const char *vf_state_to_string(VfState s);

DEFINE_TRIVIAL_CLEANUP_FUNC(Pf *, pf_free)
