/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager: owns the event loop, the configuration, the store, the PF table,
 * the listening socket and the clients. main() is a thin layer over it. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "allocator.h"
#include "client.h"
#include "config.h"
#include "lease.h"
#include "pf.h"
#include "polkit.h"
#include "store.h"
#include "sysfs.h"
#include "vfio.h"
#include "worker.h"

typedef struct ManagerOptions {
        const char *config_file;
        const char *config_dropin_dir;
        const char *state_dir;
        const char *sysfs_root;
        const char *dev_root;
        const char *listen_path;        /* NULL: socket activation */
        const char *varlink_path;       /* NULL: socket activation ("varlink"), or no Varlink */
        bool sandbox;
} ManagerOptions;

struct Manager {
        ManagerOptions options;
        sd_event *event;
        Config *config;
        Store *store;
        Sysfs *sysfs;
        Vfio *vfio;
        Polkit *polkit;
        Allocator *allocator;           /* the VF and lease life cycle */
        Worker *worker;                 /* the thread for kernel calls that may block */

        /* The cdev/iommufd path (pf_iommufd_refusal): /dev/iommu exists, and
         * whether this kernel checks the VF token when a cdev is bound (6.17+). */
        bool iommufd_available;
        bool kernel_checks_cdev_token;
        char kernel_release[65];

        Pf **pfs;
        size_t n_pfs;

        Client *clients;
        Client *system_bus;             /* SystemBus=yes: every caller on the system bus */
        unsigned n_clients;
        uint64_t next_client_id;

        int listen_fd;
        bool listen_fd_owned_path;      /* we bound listen_path ourselves: unlink at exit */
        sd_event_source *listen_source;
        sd_event_source *accept_retry;  /* re-enables listen_source after running out of fds */
        unsigned accept_failures;       /* since accepting paused; logged once per pause */
        sd_event_source *sigterm_source, *sigint_source;

        int varlink_fd;                 /* until the Varlink server takes it */
        bool varlink_owned_path;
        struct sd_varlink_server *varlink_server;       /* HAVE_VARLINK only */
        struct VarlinkConnection *varlink_connections;
        sd_event_source *varlink_listen_source, *varlink_accept_retry;
        bool under_systemd;
};

int manager_new(const ManagerOptions *options, Manager **ret);
Manager *manager_free(Manager *m);
/* Everything up to READY=1: PFs, leases, socket, sandbox. */
int manager_start(Manager *m);
int manager_run(Manager *m);

Vf *manager_find_vf(Manager *m, const char *address);
Pf *manager_find_pf(Manager *m, const char *address);
/* Sends STATUS= (and READY=1 once) to systemd. */
void manager_update_status(Manager *m);
/* Hands the PF fd to systemd's fd store (no-op when not under systemd). */
int manager_store_pf_fd(Manager *m, Pf *pf);
/* Makes systemd close its copy of a PF fd, which would otherwise keep the
 * PF open: rebinding the PF waits until every fd of it is gone. */
int manager_drop_stored_pf_fd(Manager *m, const char *address);

DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free)
