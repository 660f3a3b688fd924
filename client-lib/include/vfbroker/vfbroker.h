/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvfbroker: the client side of org.vfbroker.Broker1. Connects to vfbrokerd,
 * lists its PFs, VFs, leases and tenants, and acquires ready VFIO fds. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Conventions for every function below:
 *
 * - Functions return 0 (or a documented positive value) on success and a
 *   negative errno on failure. Output parameters are written only on success.
 * - After a failed call, vfbroker_last_error() describes it and
 *   vfbroker_last_error_name() gives the D-Bus error name the broker replied
 *   with. Errors the broker names map to errno as follows:
 *     org.vfbroker.Error.NotAuthorized            -EACCES
 *     org.vfbroker.Error.UnknownTenant            -ENOENT
 *     org.vfbroker.Error.UnknownPhysicalFunction  -ENOENT
 *     org.vfbroker.Error.UnknownLease             -ENOENT
 *     org.vfbroker.Error.NoFreeVF                 -ENOSPC
 *     org.vfbroker.Error.QuotaExceeded            -EDQUOT
 *     org.vfbroker.Error.InvalidArgument          -EINVAL
 *     org.vfbroker.Error.Busy                     -EBUSY
 *     org.vfbroker.Error.Exists                   -EEXIST
 *     org.vfbroker.Error.NotSupported             -EOPNOTSUPP
 *     org.vfbroker.Error.LimitExceeded            -ENOBUFS
 *     org.vfbroker.Error.Failed and unknown names -EIO
 *   Standard org.freedesktop.DBus.Error.* names map as sd-bus maps them.
 *   Failures found on this side have no error name: -E2BIG when the broker
 *   returns more than VFBROKER_LIST_MAX entries, -EBADMSG for a malformed
 *   reply, -ECONNRESET when the connection was lost during the call.
 * - A VfbrokerConnection is not thread-safe; use one connection per thread.
 *   The library has no global state and never logs.
 * - Strings in returned structs are UTF-8, never NULL (absent values are "").
 * - Every fd the library returns has FD_CLOEXEC set.
 */

/* The broker's socket when neither an explicit path nor $VFBROKER_SOCKET is given. */
#define VFBROKER_SOCKET_DEFAULT "/run/vfbroker/bus"

/* The most entries the library accepts in any array the broker returns
 * (list replies, a tenant's uids, a PF's features). Larger replies fail with -E2BIG. */
#define VFBROKER_LIST_MAX 65536U

typedef struct VfbrokerConnection VfbrokerConnection;

/* Returns the socket path vfbroker_connect() would use: path itself if it is
 * non-NULL and non-empty, else $VFBROKER_SOCKET if set and non-empty, else
 * VFBROKER_SOCKET_DEFAULT. The result points into path, the environment or a
 * constant: do not free it. */
const char *vfbroker_socket_path(const char *path);

/* Connects to the broker at vfbroker_socket_path(path) (peer-to-peer D-Bus,
 * EXTERNAL authentication with the caller's credentials) and waits until the
 * connection is authenticated. On success *ret is a new connection the caller
 * frees with vfbroker_disconnect(). Fails with -ENOENT/-ECONNREFUSED when
 * nothing listens on the socket, -EACCES when the socket may not be opened,
 * -ENAMETOOLONG when the path does not fit a UNIX socket address, -ETIMEDOUT. */
int vfbroker_connect(const char *path, VfbrokerConnection **ret);

/* Since 0.2. Connects to the broker on the system bus ($DBUS_SYSTEM_BUS_ADDRESS
 * if set), where it serves the same interface under the name
 * org.vfbroker.Broker1 when vfbroker.conf says SystemBus=yes. Calls are then
 * authorized by the credentials the bus reports. A broker without SystemBus=
 * makes the first call fail with org.freedesktop.DBus.Error.ServiceUnknown
 * (-EHOSTUNREACH). vfbroker_connection_socket_path() returns NULL for such a
 * connection; reconnecting after a loss works as for the socket. */
int vfbroker_connect_system(VfbrokerConnection **ret);

/* Closes the connection and frees it. Accepts NULL; returns NULL. Leases stay
 * held until released or until the process that acquired them exits. */
VfbrokerConnection *vfbroker_disconnect(VfbrokerConnection *c);

/* The socket path this connection uses (NULL on the system bus). Owned by c. */
const char *vfbroker_connection_socket_path(VfbrokerConnection *c);

/* "Name: message" describing the most recent call on c if it failed, NULL if
 * it succeeded (every call resets it). Owned by c; valid until the next call
 * on c. For failures found on this side there is no name, only a message. */
const char *vfbroker_last_error(VfbrokerConnection *c);

/* The D-Bus error name of the most recent failed call on c (for instance
 * "org.vfbroker.Error.QuotaExceeded"), or NULL if it succeeded or failed
 * without a reply from the broker. Owned by c; valid until the next call. */
const char *vfbroker_last_error_name(VfbrokerConnection *c);

/* Connection loss: when the broker closed the connection while it was idle
 * (for instance it was restarted), the next call reconnects to the same path
 * before sending anything. When the connection is lost while a call is under
 * way, that call fails with -ECONNRESET (it may or may not have taken effect;
 * list the leases to find out) and the next call reconnects. */

/* ---- Status ---- */

typedef struct VfbrokerStatus {
        char *version;               /* the daemon's version string */
        uint32_t physical_functions; /* ready PFs */
        uint32_t virtual_functions;  /* VFs of the ready PFs */
        uint32_t leases;             /* active leases */
} VfbrokerStatus;

/* Reads the broker's four properties. *ret is allocated; free it with
 * vfbroker_status_free(). */
int vfbroker_get_status(VfbrokerConnection *c, VfbrokerStatus **ret);
/* Accepts NULL; returns NULL. */
VfbrokerStatus *vfbroker_status_free(VfbrokerStatus *s);

/* ---- Listing ----
 *
 * Each list function stores a NULL-terminated array of pointers in *ret and
 * the number of entries in *ret_n (ret_n may be NULL). The caller frees the
 * array and every entry with the matching *_list_free(), which accepts NULL
 * and returns NULL. Fields may be appended to these structs in later versions
 * without a soname change: only the library allocates them. Keys the broker
 * sends that this version does not know are ignored; keys it omits read as ""
 * or 0 (NumaNode as -1). */

typedef struct VfbrokerPfInfo {
        char *address;    /* PCI address, "0000:01:00.0" */
        char *interface;  /* network interface name or "" */
        char *driver;     /* "vfio-pci" or "vfbroker_vfio_pci" */
        char **features;  /* NULL-terminated: "per-vf-token", "revocation" */
        char *mode;       /* "pool" or "dedicated" */
        char *tenant;     /* owner of a dedicated PF, else "" */
        char *state;      /* "ready" or "broken" */
        char *reason;     /* why it is broken, else "" */
        uint32_t num_vfs;
        uint32_t total_vfs;
        uint32_t free_vfs;
        /* since 0.2 (LIBVFBROKER_0.2); NULL from a broker that predates them */
        char **apis;      /* NULL-terminated: "group", and "iommufd" where offered */
        char *iommufd_unavailable_reason; /* why not "iommufd", else "" */
} VfbrokerPfInfo;

int vfbroker_list_pfs(VfbrokerConnection *c, VfbrokerPfInfo ***ret, size_t *ret_n);
VfbrokerPfInfo **vfbroker_pf_list_free(VfbrokerPfInfo **l);

typedef struct VfbrokerVfInfo {
        char *address;
        char *physical_function;
        uint32_t index;         /* N of the PF's virtfnN */
        uint32_t iommu_group;
        int32_t numa_node;      /* -1 if unknown */
        char *state;            /* "free", "leased", "draining" or "broken" */
        char *lease;            /* lease id or "" */
        char *tenant;           /* the lease's tenant or "" */
} VfbrokerVfInfo;

int vfbroker_list_vfs(VfbrokerConnection *c, VfbrokerVfInfo ***ret, size_t *ret_n);
VfbrokerVfInfo **vfbroker_vf_list_free(VfbrokerVfInfo **l);

typedef struct VfbrokerLeaseInfo {
        char *id;
        char *virtual_function;
        char *physical_function;
        char *tenant;
        uid_t uid;              /* the holder */
        pid_t pid;
        uint64_t created_usec;  /* CLOCK_REALTIME, µs since the epoch */
        char *state;            /* "active" or "ended" (the VF is draining) */
} VfbrokerLeaseInfo;

int vfbroker_list_leases(VfbrokerConnection *c, VfbrokerLeaseInfo ***ret, size_t *ret_n);
VfbrokerLeaseInfo **vfbroker_lease_list_free(VfbrokerLeaseInfo **l);

typedef struct VfbrokerTenantInfo {
        char *name;
        uid_t *uids;            /* n_uids entries (NULL if none) */
        size_t n_uids;
        gid_t *gids;            /* n_gids entries (NULL if none) */
        size_t n_gids;
        uint32_t quota;         /* VFs it may hold at once */
        uint32_t leases;        /* active leases */
        int from_config;        /* 1 if defined in vfbroker.conf, else 0 */
} VfbrokerTenantInfo;

int vfbroker_list_tenants(VfbrokerConnection *c, VfbrokerTenantInfo ***ret, size_t *ret_n);
VfbrokerTenantInfo **vfbroker_tenant_list_free(VfbrokerTenantInfo **l);

/* ---- Leasing VFs ---- */

typedef struct VfbrokerAcquireOptions {
        const char *physical_function; /* only VFs of this PF; NULL for any */
        int numa_node;                 /* only VFs on this NUMA node; -1 for any */
        uint64_t reserved[4];          /* must be zero */
} VfbrokerAcquireOptions;

/* Use this to initialize options, so later fields get their "any" values. */
#define VFBROKER_ACQUIRE_OPTIONS_INIT { .physical_function = NULL, .numa_node = -1 }

typedef struct VfbrokerVf {
        char *lease;        /* the lease id, for vfbroker_release() */
        char *address;      /* the VF's PCI address */
        uint32_t iommu_group;
        int container_fd;   /* /dev/vfio/vfio, group attached, type1v2 IOMMU set */
        int group_fd;       /* /dev/vfio/GROUP */
        int device_fd;      /* the VF's device fd, opened with the token; on the
                             * iommufd path its unbound cdev */
        /* since 0.2: on the iommufd path the open /dev/iommu (container_fd and
         * group_fd are -1 there), else -1 */
        int iommufd_fd;
} VfbrokerVf;

/* Which kernel interface vfbroker_acquire_with_api() asks the fds for. */
typedef enum VfbrokerApi {
        VFBROKER_API_GROUP = 0,   /* container, group, device: what vfbroker_acquire() gives */
        VFBROKER_API_IOMMUFD = 1, /* /dev/iommu (iommufd_fd) and the VF's unbound cdev (device_fd) */
} VfbrokerApi;


/* Leases a free VF for tenant and hands over its fds. opts may be NULL (any
 * VF); a non-NULL opts must have reserved[] zeroed (-EINVAL otherwise). On
 * success *ret is allocated; the caller owns it and its three fds (all
 * FD_CLOEXEC, all >= 3). vfbroker_vf_free() closes the fds still >= 0: to
 * keep one, copy it and set the field to -1 before freeing. The lease ends
 * with vfbroker_release() or when the calling process exits; the VF returns
 * to the pool once every copy of its fds is closed. */
int vfbroker_acquire(VfbrokerConnection *c, const char *tenant,
                     const VfbrokerAcquireOptions *opts, VfbrokerVf **ret);

/* Since 0.2. As vfbroker_acquire(), on the kernel interface api asks for.
 * VFBROKER_API_IOMMUFD (kernels with IOMMUFD and the VFIO cdev) gives what
 * VMMs accept: iommufd_fd, one /dev/iommu file shared by every VF this
 * process holds on that path, and device_fd, the VF's cdev, not yet bound:
 * bind it (VFIO_DEVICE_BIND_IOMMUFD) and attach it yourself, or pass both to
 * QEMU (-object iommufd,id=I,fd=N -device vfio-pci,iommufd=I,fd=M). Memory
 * you map is charged to your RLIMIT_MEMLOCK. -EOPNOTSUPP (NotSupported, with
 * the broker's reason in vfbroker_last_error()) where no matching PF offers
 * it; -EINVAL for an unknown api. */
int vfbroker_acquire_with_api(VfbrokerConnection *c, const char *tenant,
                              const VfbrokerAcquireOptions *opts, VfbrokerApi api, VfbrokerVf **ret);

/* Closes the fds still >= 0 and frees vf. Does not release the lease.
 * Accepts NULL; returns NULL. */
VfbrokerVf *vfbroker_vf_free(VfbrokerVf *vf);

/* Ends a lease (by its id). */
int vfbroker_release(VfbrokerConnection *c, const char *lease);

/* Ends somebody else's lease now (org.vfbroker.manage). Where the PF's driver
 * can (vfbroker_vfio_pci), the holder's fds stop working at once. Under stock
 * vfio-pci the lease still ends but the call fails with -EOPNOTSUPP
 * (NotSupported): the VF stays draining until its holder closes it. */
int vfbroker_revoke_lease(VfbrokerConnection *c, const char *lease);

/* ---- Tenants and PFs (org.vfbroker.manage unless said otherwise) ---- */

/* Creates a tenant with a fresh token. uids/gids say who may act for it
 * (n_uids/n_gids entries each, at most VFBROKER_LIST_MAX; the arrays may be
 * NULL when the count is 0). quota is how many VFs it may hold at once, 1 to
 * 4096, or 0 to leave it to the broker's default. */
int vfbroker_tenant_create(VfbrokerConnection *c, const char *name,
                           const uid_t *uids, size_t n_uids,
                           const gid_t *gids, size_t n_gids,
                           uint32_t quota);

/* Deletes a tenant and its token; refused (-EBUSY) while it holds leases. */
int vfbroker_tenant_delete(VfbrokerConnection *c, const char *name);
/* Deletes a tenant after revoking its leases (as vfbroker_revoke_lease()). */
int vfbroker_tenant_delete_forced(VfbrokerConnection *c, const char *name);

/* Gives a tenant a fresh token; fds already handed out stay valid. */
int vfbroker_tenant_rotate_token(VfbrokerConnection *c, const char *name);

/* Reads a tenant's token (action org.vfbroker.read-token; only for tenants
 * with a dedicated PF). *ret is a new 36-character UUID string the caller
 * frees with free(). */
int vfbroker_tenant_get_token(VfbrokerConnection *c, const char *name, char **ret);

/* Sets how many VFs the PF at address pf has (0 to its TotalVFs). */
int vfbroker_set_num_vfs(VfbrokerConnection *c, const char *pf, uint32_t count);

#ifdef __cplusplus
}
#endif
