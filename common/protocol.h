/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract shared by vfbrokerd and libvfbroker: D-Bus names (as in
 * proto/org.vfbroker.Broker1.xml) and the limits both sides enforce on what
 * a tenant may hold. One definition, so the two cannot drift. */
#pragma once

#define VFBROKER_SOCKET_NAME "bus"              /* in /run/vfbroker */
#define VFBROKER_OBJECT_PATH "/org/vfbroker/Broker1"
#define VFBROKER_INTERFACE "org.vfbroker.Broker1"
/* The same operations over Varlink (libsystemd 257+), on VFBROKER_VARLINK_PATH;
 * error org.vfbroker.Error.X there is VARLINK_INTERFACE_NAME ".X". */
#define VARLINK_INTERFACE_NAME "io.vfbroker.Broker"

#define VFBROKER_ERROR_PREFIX "org.vfbroker.Error."
#define VFBROKER_ERROR_NOT_AUTHORIZED VFBROKER_ERROR_PREFIX "NotAuthorized"
#define VFBROKER_ERROR_UNKNOWN_TENANT VFBROKER_ERROR_PREFIX "UnknownTenant"
#define VFBROKER_ERROR_UNKNOWN_PF VFBROKER_ERROR_PREFIX "UnknownPhysicalFunction"
#define VFBROKER_ERROR_UNKNOWN_LEASE VFBROKER_ERROR_PREFIX "UnknownLease"
#define VFBROKER_ERROR_NO_FREE_VF VFBROKER_ERROR_PREFIX "NoFreeVF"
#define VFBROKER_ERROR_QUOTA_EXCEEDED VFBROKER_ERROR_PREFIX "QuotaExceeded"
#define VFBROKER_ERROR_INVALID_ARGUMENT VFBROKER_ERROR_PREFIX "InvalidArgument"
#define VFBROKER_ERROR_BUSY VFBROKER_ERROR_PREFIX "Busy"
#define VFBROKER_ERROR_EXISTS VFBROKER_ERROR_PREFIX "Exists"
#define VFBROKER_ERROR_NOT_SUPPORTED VFBROKER_ERROR_PREFIX "NotSupported"
#define VFBROKER_ERROR_LIMIT_EXCEEDED VFBROKER_ERROR_PREFIX "LimitExceeded"
#define VFBROKER_ERROR_FAILED VFBROKER_ERROR_PREFIX "Failed"

/* Users= / Groups= entries of one tenant, from the configuration, CreateTenant
 * or the store alike. */
#define TENANT_IDS_MAX 1024U
/* VFs one tenant may hold at once (Quota=, DefaultQuota=). */
#define TENANT_QUOTA_MAX 4096U
/* NUMA nodes an acquire may ask for: the kernel's MAX_NUMNODES is at most 1024. */
#define NUMA_NODE_MAX 1023

/* AcquireVF's "API" option: which kernel interface the fds are for. */
#define VFBROKER_API_NAME_GROUP "group"      /* container, group, device (the default) */
#define VFBROKER_API_NAME_IOMMUFD "iommufd"  /* /dev/iommu and the VF's unbound cdev */
