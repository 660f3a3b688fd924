/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Config: vfbroker.conf plus vfbroker.conf.d/\*.conf drop-ins, parsed and
 * checked. Every error names file:line and what is wrong. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pci-address.h"

typedef enum PfMode {
        PF_MODE_POOL,
        PF_MODE_DEDICATED,
} PfMode;

typedef enum PfDriver {
        PF_DRIVER_AUTO,              /* the kmod if loaded or loadable, else vfio-pci */
        PF_DRIVER_VFIO_PCI,
        PF_DRIVER_VFBROKER_VFIO_PCI,
} PfDriver;

typedef enum PfMatch {
        PF_MATCH_ADDRESS,        /* Address=0000:01:00.0 */
        PF_MATCH_VENDOR_DEVICE,  /* VendorDevice=8086:10c9 (every such PF) */
        PF_MATCH_INTERFACE,      /* Interface=enp1s0 (resolved at start-up) */
} PfMatch;

typedef struct ConfigPf {
        PfMatch match;
        char address[PCI_ADDRESS_MAX];   /* PF_MATCH_ADDRESS */
        uint16_t vendor, device;         /* PF_MATCH_VENDOR_DEVICE */
        char *interface;                 /* PF_MATCH_INTERFACE */
        unsigned num_vfs;                /* NumVFs=, required, >= 1 */
        PfMode mode;                     /* Mode=pool|dedicated, default pool */
        char *tenant;                    /* Tenant=, required iff dedicated */
        PfDriver driver;                 /* Driver=, default auto */
        char *source;                    /* "file:line" of the section header */
} ConfigPf;

typedef struct ConfigTenant {
        char *name;                      /* Name=, tenant_name_is_valid() */
        uid_t *uids;                     /* Users= names or numbers, resolved */
        size_t n_uids;
        gid_t *gids;                     /* Groups= names or numbers, resolved */
        size_t n_gids;
        unsigned quota;                  /* Quota=, max concurrent leases, default 1 */
        char *source;
} ConfigTenant;

typedef struct Config {
        /* [Broker] */
        bool system_bus;                 /* SystemBus=, also serve on the system bus; default no */
        bool root_skips_polkit;          /* RootSkipsPolkit=, default yes */
        unsigned max_connections;        /* MaxConnections=, default 256 */
        unsigned max_calls_per_connection; /* MaxCallsPerConnection=, calls in flight, default 8 */
        unsigned max_tenants;            /* MaxTenants=, default 1024 */
        unsigned default_quota;          /* DefaultQuota=, for tenants made by CreateTenant, default 1 */
        unsigned max_connections_per_user; /* MaxConnectionsPerUser=, per uid but root, default 16 */
        unsigned reserved_connections;   /* ReservedConnections=, of MaxConnections only root and the
                                          * manage action's admins may take, default 8 (unset: at
                                          * most a quarter of MaxConnections=) */
        unsigned idle_timeout_sec;       /* IdleTimeoutSec=, an authenticated connection with no call
                                          * in flight is closed after this long, default 300 */

        ConfigPf *pfs;
        size_t n_pfs;
        ConfigTenant *tenants;
        size_t n_tenants;
} Config;

/* Reads main_path (missing is fine: an empty configuration) and then every
 * "*.conf" in dropin_dir in lexical order (missing dir is fine). Later
 * [Broker] keys override earlier ones; [PhysicalFunction] and [Tenant]
 * sections accumulate. On a bad file returns -EINVAL and sets *ret_error to
 * one line "FILE:LINE: what is wrong" (caller frees); I/O errors return
 * -errno with *ret_error naming the file. */
int config_load(const char *main_path, const char *dropin_dir, Config **ret, char **ret_error);
Config *config_free(Config *c);

const char *pf_mode_to_string(PfMode m);
const char *pf_driver_to_string(PfDriver d);
const ConfigTenant *config_find_tenant(const Config *c, const char *name);
