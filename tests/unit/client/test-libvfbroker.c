/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvfbroker against the fake broker: list parsing, fd ownership on acquire,
 * error name/message propagation, reply limits, reconnecting. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <vfbroker/vfbroker.h>

#include "fake-broker.h"

static FakeBroker fake;
static VfbrokerConnection *conn;

static void start_normal(void) {
        cr_assert_eq(fake_broker_start(&fake, FAKE_NORMAL), 0);
        cr_assert_eq(vfbroker_connect(fake.socket_path, &conn), 0);
}

static void stop(void) {
        conn = vfbroker_disconnect(conn);
        fake_broker_stop(&fake);
}

static bool log_has(const char *line) {
        char *l = fake_broker_log(&fake);
        bool found;

        cr_assert_not_null(l);
        found = strstr(l, line) != NULL;
        free(l);
        return found;
}

static bool fd_is_cloexec_memfd(int fd, const char *name) {
        char link[64], target[128], want[64];
        ssize_t n;
        int flags = fcntl(fd, F_GETFD);

        if (flags < 0 || !(flags & FD_CLOEXEC))
                return false;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return false;
        target[n] = '\0';
        snprintf(want, sizeof(want), "/memfd:%s ", name);
        return strncmp(target, want, strlen(want)) == 0;
}

Test(socket_path, explicit_then_environment_then_default) {
        cr_assert_str_eq(vfbroker_socket_path("/x/bus"), "/x/bus");
        unsetenv("VFBROKER_SOCKET");
        cr_assert_str_eq(vfbroker_socket_path(NULL), VFBROKER_SOCKET_DEFAULT);
        cr_assert_str_eq(vfbroker_socket_path(""), "/run/vfbroker/bus");
        setenv("VFBROKER_SOCKET", "/env/bus", 1);
        cr_assert_str_eq(vfbroker_socket_path(NULL), "/env/bus");
        cr_assert_str_eq(vfbroker_socket_path("/x/bus"), "/x/bus");
        setenv("VFBROKER_SOCKET", "", 1);
        cr_assert_str_eq(vfbroker_socket_path(NULL), "/run/vfbroker/bus");
}

Test(connect, missing_socket_and_bad_paths) {
        char path[200];
        VfbrokerConnection *c = NULL;

        cr_assert_eq(vfbroker_connect("/nonexistent-vfbroker-dir/bus", &c), -ENOENT);
        cr_assert_null(c);

        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        cr_assert_eq(vfbroker_connect(path, &c), -ENAMETOOLONG);
        cr_assert_eq(vfbroker_connect("/x", NULL), -EINVAL);
        cr_assert_null(c);
}

Test(connect, via_environment) {
        VfbrokerConnection *c = NULL;
        VfbrokerStatus *s = NULL;

        cr_assert_eq(fake_broker_start(&fake, FAKE_NORMAL), 0);
        setenv("VFBROKER_SOCKET", fake.socket_path, 1);
        cr_assert_eq(vfbroker_connect(NULL, &c), 0);
        cr_assert_str_eq(vfbroker_connection_socket_path(c), fake.socket_path);
        cr_assert_eq(vfbroker_get_status(c, &s), 0);
        vfbroker_status_free(s);
        vfbroker_disconnect(c);
        fake_broker_stop(&fake);
}

Test(connect, path_needing_address_escapes) {
        char odd[192];
        VfbrokerConnection *c = NULL;
        VfbrokerStatus *s = NULL;

        /* Characters D-Bus addresses reserve (, ; = %) or that need escaping (space, é). */
        cr_assert_eq(fake_broker_start(&fake, FAKE_NORMAL), 0);
        snprintf(odd, sizeof(odd), "%s/b u%%s,x=1;\xc3\xa9", fake.dir);
        cr_assert_eq(rename(fake.socket_path, odd), 0);
        cr_assert_eq(vfbroker_connect(odd, &c), 0);
        cr_assert_eq(vfbroker_get_status(c, &s), 0);
        vfbroker_status_free(s);
        vfbroker_disconnect(c);
        cr_assert_eq(rename(odd, fake.socket_path), 0);
        fake_broker_stop(&fake);
}

Test(calls, status, .init = start_normal, .fini = stop) {
        VfbrokerStatus *s = NULL;

        cr_assert_eq(vfbroker_get_status(conn, &s), 0);
        cr_assert_str_eq(s->version, "0.1.0-fake");
        cr_assert_eq(s->physical_functions, 2);
        cr_assert_eq(s->virtual_functions, 11);
        cr_assert_eq(s->leases, 1);
        cr_assert_null(vfbroker_last_error(conn));
        cr_assert_null(vfbroker_status_free(s));
}

Test(calls, list_pfs, .init = start_normal, .fini = stop) {
        VfbrokerPfInfo **l = NULL;
        size_t n = 0;

        cr_assert_eq(vfbroker_list_pfs(conn, &l, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_null(l[2]);

        cr_assert_str_eq(l[0]->address, "0000:03:00.0");
        cr_assert_str_eq(l[0]->interface, "enp3s0f0");
        cr_assert_str_eq(l[0]->driver, "vfio-pci");
        cr_assert_str_eq(l[0]->mode, "pool");
        cr_assert_str_eq(l[0]->tenant, "");
        cr_assert_str_eq(l[0]->state, "ready");
        cr_assert_not_null(l[0]->features);
        cr_assert_null(l[0]->features[0]);
        cr_assert_eq(l[0]->num_vfs, 4);
        cr_assert_eq(l[0]->total_vfs, 7);
        cr_assert_eq(l[0]->free_vfs, 3);

        /* Keys the broker left out read as "" and 0, never NULL. */
        cr_assert_str_eq(l[1]->address, "0000:04:00.0");
        cr_assert_str_eq(l[1]->interface, "");
        cr_assert_str_eq(l[1]->mode, "");
        cr_assert_str_eq(l[1]->features[0], "per-vf-token");
        cr_assert_str_eq(l[1]->features[1], "revocation");
        cr_assert_null(l[1]->features[2]);
        cr_assert_eq(l[1]->num_vfs, 0);
        cr_assert_eq(l[1]->total_vfs, 8);
        cr_assert(strstr(l[1]->reason, "\"write\" failed:\n\tback\\slash") != NULL);

        cr_assert_null(vfbroker_pf_list_free(l));
        cr_assert_null(vfbroker_pf_list_free(NULL));
}

Test(calls, list_vfs, .init = start_normal, .fini = stop) {
        VfbrokerVfInfo **l = NULL;

        /* ret_n is optional. */
        cr_assert_eq(vfbroker_list_vfs(conn, &l, NULL), 0);
        cr_assert_not_null(l[0]);
        cr_assert_not_null(l[1]);
        cr_assert_null(l[2]);
        cr_assert_str_eq(l[0]->address, "0000:03:10.0");
        cr_assert_str_eq(l[0]->physical_function, "0000:03:00.0");
        cr_assert_eq(l[0]->index, 0);
        cr_assert_eq(l[0]->iommu_group, 42);
        cr_assert_eq(l[0]->numa_node, 1);
        cr_assert_str_eq(l[0]->state, "leased");
        cr_assert_str_eq(l[0]->lease, "0123456789abcdef0123456789abcdef");
        cr_assert_str_eq(l[0]->tenant, "acme");
        cr_assert_eq(l[1]->index, 1);
        cr_assert_eq(l[1]->numa_node, -1);
        cr_assert_str_eq(l[1]->lease, "");
        vfbroker_vf_list_free(l);
}

Test(calls, list_leases_and_tenants, .init = start_normal, .fini = stop) {
        VfbrokerLeaseInfo **leases = NULL;
        VfbrokerTenantInfo **tenants = NULL;
        size_t n;

        cr_assert_eq(vfbroker_list_leases(conn, &leases, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(leases[0]->id, "0123456789abcdef0123456789abcdef");
        cr_assert_str_eq(leases[0]->virtual_function, "0000:03:10.0");
        cr_assert_str_eq(leases[0]->physical_function, "0000:03:00.0");
        cr_assert_str_eq(leases[0]->tenant, "acme");
        cr_assert_eq(leases[0]->uid, 1000);
        cr_assert_eq(leases[0]->pid, 4242);
        cr_assert_eq(leases[0]->created_usec, UINT64_C(1795000000123456));
        cr_assert_str_eq(leases[0]->state, "active");
        vfbroker_lease_list_free(leases);

        cr_assert_eq(vfbroker_list_tenants(conn, &tenants, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(tenants[0]->name, "acme");
        cr_assert_eq(tenants[0]->n_uids, 2);
        cr_assert_eq(tenants[0]->uids[0], 0);
        cr_assert_eq(tenants[0]->uids[1], 1000);
        cr_assert_eq(tenants[0]->n_gids, 1);
        cr_assert_eq(tenants[0]->gids[0], 0);
        cr_assert_eq(tenants[0]->quota, 2);
        cr_assert_eq(tenants[0]->leases, 1);
        cr_assert_eq(tenants[0]->from_config, 1);
        cr_assert_str_eq(tenants[1]->name, "beta");
        cr_assert_eq(tenants[1]->n_uids, 0);
        cr_assert_null(tenants[1]->uids);
        cr_assert_eq(tenants[1]->from_config, 0);
        vfbroker_tenant_list_free(tenants);
}

Test(acquire, caller_owns_three_fds, .init = start_normal, .fini = stop) {
        VfbrokerAcquireOptions opts = VFBROKER_ACQUIRE_OPTIONS_INIT;
        VfbrokerVf *vf = NULL;
        int kept;

        opts.physical_function = "0000:03:00.0";
        opts.numa_node = 1;
        cr_assert_eq(vfbroker_acquire(conn, "acme", &opts, &vf), 0);
        cr_assert(log_has("AcquireVF tenant=acme pf=0000:03:00.0 numa=1\n"));
        cr_assert_str_eq(vf->lease, "lease0");
        cr_assert_str_eq(vf->address, "0000:03:10.0");
        cr_assert_eq(vf->iommu_group, 40);

        /* The reply that carried them is gone: these are the caller's own copies. */
        cr_assert_geq(vf->container_fd, 3);
        cr_assert_geq(vf->group_fd, 3);
        cr_assert_geq(vf->device_fd, 3);
        cr_assert(fd_is_cloexec_memfd(vf->container_fd, "container"));
        cr_assert(fd_is_cloexec_memfd(vf->group_fd, "group"));
        cr_assert(fd_is_cloexec_memfd(vf->device_fd, "device"));

        /* Taking one fd out (field set to -1) keeps it open; free closes the rest. */
        kept = vf->device_fd;
        vf->device_fd = -1;
        int container = vf->container_fd, group = vf->group_fd;
        cr_assert_null(vfbroker_vf_free(vf));
        cr_assert(fd_is_cloexec_memfd(kept, "device"));
        cr_assert_eq(fcntl(container, F_GETFD), -1);
        cr_assert_eq(fcntl(group, F_GETFD), -1);
        close(kept);
        cr_assert_null(vfbroker_vf_free(NULL));

        cr_assert_eq(vfbroker_release(conn, "lease0"), 0);
        cr_assert(log_has("ReleaseVF lease0\n"));
}

Test(acquire, default_options_and_reserved, .init = start_normal, .fini = stop) {
        VfbrokerAcquireOptions opts = VFBROKER_ACQUIRE_OPTIONS_INIT;
        VfbrokerVf *vf = NULL;

        cr_assert_eq(vfbroker_acquire(conn, "acme", NULL, &vf), 0);
        cr_assert(log_has("AcquireVF tenant=acme pf=- numa=-1\n"));
        vfbroker_vf_free(vf);

        opts.reserved[1] = 1;
        vf = NULL;
        cr_assert_eq(vfbroker_acquire(conn, "acme", &opts, &vf), -EINVAL);
        cr_assert_null(vf);
        cr_assert_not_null(strstr(vfbroker_last_error(conn), "VFBROKER_ACQUIRE_OPTIONS_INIT"));
}

Test(errors, broker_errors_keep_name_and_message, .init = start_normal, .fini = stop) {
        static const struct {
                const char *tenant;
                int r;
                const char *name;
        } cases[] = {
                { "full",   -EDQUOT, "org.vfbroker.Error.QuotaExceeded" },
                { "empty",  -ENOSPC, "org.vfbroker.Error.NoFreeVF"      },
                { "denied", -EACCES, "org.vfbroker.Error.NotAuthorized" },
                { "ghost",  -ENOENT, "org.vfbroker.Error.UnknownTenant" },
        };
        VfbrokerStatus *s = NULL;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                VfbrokerVf *vf = NULL;

                cr_assert_eq(vfbroker_acquire(conn, cases[i].tenant, NULL, &vf), cases[i].r, "tenant %s", cases[i].tenant);
                cr_assert_null(vf);
                cr_assert_str_eq(vfbroker_last_error_name(conn), cases[i].name);
                cr_assert_eq(strncmp(vfbroker_last_error(conn), cases[i].name, strlen(cases[i].name)), 0);
        }
        cr_assert_eq(vfbroker_acquire(conn, "full", NULL, &(VfbrokerVf *) { NULL }), -EDQUOT);
        cr_assert_str_eq(vfbroker_last_error(conn),
                         "org.vfbroker.Error.QuotaExceeded: tenant 'full' holds 2 of 2 VFs; "
                         "release one or raise Quota= in vfbroker.conf");

        /* The next call that succeeds clears it. */
        cr_assert_eq(vfbroker_get_status(conn, &s), 0);
        cr_assert_null(vfbroker_last_error(conn));
        cr_assert_null(vfbroker_last_error_name(conn));
        vfbroker_status_free(s);

        cr_assert_eq(vfbroker_release(conn, "nosuchlease"), -ENOENT);
        cr_assert_str_eq(vfbroker_last_error_name(conn), "org.vfbroker.Error.UnknownLease");
        cr_assert_eq(vfbroker_set_num_vfs(conn, "0000:99:00.0", 2), -ENOENT);
        cr_assert_str_eq(vfbroker_last_error_name(conn), "org.vfbroker.Error.UnknownPhysicalFunction");
        cr_assert_eq(vfbroker_tenant_create(conn, "acme", NULL, 0, NULL, 0, 0), -EEXIST);
        cr_assert_eq(vfbroker_tenant_get_token(conn, "pool-only", &(char *) { NULL }), -EOPNOTSUPP);
        cr_assert_eq(vfbroker_tenant_rotate_token(conn, "denied"), -EACCES);
}

Test(tenants, create_marshals_ids_and_quota, .init = start_normal, .fini = stop) {
        uid_t uids[] = { 0, 1000 };
        gid_t gids[] = { 100 };
        char *token = NULL;

        cr_assert_eq(vfbroker_tenant_create(conn, "newt", uids, 2, gids, 1, 3), 0);
        cr_assert(log_has("CreateTenant newt uids=0,1000 gids=100 quota=3\n"));
        cr_assert_eq(vfbroker_tenant_create(conn, "bare", NULL, 0, NULL, 0, 0), 0);
        cr_assert(log_has("CreateTenant bare uids= gids= quota=0\n"));
        cr_assert_eq(vfbroker_tenant_create(conn, "bad", NULL, 1, NULL, 0, 0), -EINVAL);
        cr_assert_eq(vfbroker_tenant_create(conn, "big", uids, VFBROKER_LIST_MAX + 1, NULL, 0, 0), -E2BIG);

        cr_assert_eq(vfbroker_tenant_delete(conn, "newt"), 0);
        cr_assert(log_has("DeleteTenant newt\n"));
        cr_assert_eq(vfbroker_tenant_rotate_token(conn, "newt"), 0);
        cr_assert(log_has("RotateToken newt\n"));
        cr_assert_eq(vfbroker_set_num_vfs(conn, "0000:03:00.0", 5), 0);
        cr_assert(log_has("SetNumVFs 0000:03:00.0 5\n"));

        cr_assert_eq(vfbroker_tenant_get_token(conn, "acme", &token), 0);
        cr_assert_str_eq(token, "0b3e4c1a-7f5e-4a8c-9d2b-1c2d3e4f5a6b");
        free(token);

        /* A token that is not a UUID is not passed on. */
        token = NULL;
        cr_assert_eq(vfbroker_tenant_get_token(conn, "badtoken", &token), -EBADMSG);
        cr_assert_null(token);
        cr_assert_null(vfbroker_last_error_name(conn));
        cr_assert_not_null(strstr(vfbroker_last_error(conn), "malformed GetTenantToken reply"));
}

Test(limits, too_many_entries_refused) {
        VfbrokerPfInfo **pfs = NULL;
        VfbrokerVfInfo **vfs = NULL;
        VfbrokerStatus *s = NULL;

        cr_assert_eq(fake_broker_start(&fake, FAKE_TOO_MANY), 0);
        cr_assert_eq(vfbroker_connect(fake.socket_path, &conn), 0);

        cr_assert_eq(vfbroker_list_pfs(conn, &pfs, NULL), -E2BIG);
        cr_assert_null(pfs);
        cr_assert_null(vfbroker_last_error_name(conn));
        cr_assert_not_null(strstr(vfbroker_last_error(conn), "more than 65536 entries"));
        cr_assert_eq(vfbroker_list_vfs(conn, &vfs, NULL), -E2BIG);

        /* The refused reply leaves the connection usable. */
        cr_assert_eq(vfbroker_get_status(conn, &s), 0);
        vfbroker_status_free(s);
        stop();
}

Test(limits, wrong_type_is_bad_message) {
        VfbrokerVfInfo **vfs = NULL;

        cr_assert_eq(fake_broker_start(&fake, FAKE_BAD_TYPE), 0);
        cr_assert_eq(vfbroker_connect(fake.socket_path, &conn), 0);
        cr_assert_eq(vfbroker_list_vfs(conn, &vfs, NULL), -EBADMSG);
        cr_assert_null(vfs);
        cr_assert_not_null(strstr(vfbroker_last_error(conn), "malformed ListVirtualFunctions reply"));
        stop();
}

Test(reconnect, after_broker_restart, .init = start_normal, .fini = stop) {
        VfbrokerStatus *s = NULL;
        VfbrokerPfInfo **pfs = NULL;

        cr_assert_eq(vfbroker_get_status(conn, &s), 0);
        s = vfbroker_status_free(s);

        /* Restarted while we were idle: the next call reconnects before sending. */
        cr_assert_eq(fake_broker_restart(&fake, FAKE_NORMAL), 0);
        cr_assert_eq(vfbroker_list_pfs(conn, &pfs, NULL), 0);
        vfbroker_pf_list_free(pfs);

        /* Gone for good: the call fails, naming the socket. */
        fake_broker_kill(&fake);
        cr_assert_lt(vfbroker_get_status(conn, &s), 0);
        cr_assert_null(s);
        cr_assert_not_null(strstr(vfbroker_last_error(conn), fake.socket_path));
        cr_assert_not_null(strstr(vfbroker_last_error(conn), "vfbroker.socket"));

        /* Back again: the same connection object works. */
        cr_assert_eq(fake_broker_restart(&fake, FAKE_NORMAL), 0);
        cr_assert_eq(vfbroker_get_status(conn, &s), 0);
        vfbroker_status_free(s);
}

Test(reconnect, hangup_during_call, .init = start_normal, .fini = stop) {
        VfbrokerStatus *s = NULL;

        cr_assert_eq(vfbroker_release(conn, "hangup"), -ECONNRESET);
        cr_assert_null(vfbroker_last_error_name(conn));
        cr_assert_not_null(strstr(vfbroker_last_error(conn), "Lost the connection"));
        cr_assert_not_null(strstr(vfbroker_last_error(conn), "ReleaseVF"));

        cr_assert_eq(vfbroker_get_status(conn, &s), 0);
        vfbroker_status_free(s);
}

Test(api, null_arguments) {
        cr_assert_eq(vfbroker_list_pfs(NULL, NULL, NULL), -EINVAL);
        cr_assert_eq(vfbroker_acquire(NULL, "t", NULL, NULL), -EINVAL);
        cr_assert_eq(vfbroker_release(NULL, "x"), -EINVAL);
        cr_assert_null(vfbroker_last_error(NULL));
        cr_assert_null(vfbroker_last_error_name(NULL));
        cr_assert_null(vfbroker_disconnect(NULL));
}

Test(acquire, iommufd_path_gives_the_iommufd_and_the_cdev, .init = start_normal, .fini = stop) {
        VfbrokerVf *vf = NULL, *plain = NULL;
        int iommufd;

        cr_assert_eq(vfbroker_acquire_with_api(conn, "acme", NULL, VFBROKER_API_IOMMUFD, &vf), 0);
        cr_assert(log_has("AcquireVF tenant=acme pf=- numa=-1 api=iommufd\n"));
        cr_assert(fd_is_cloexec_memfd(vf->iommufd_fd, "iommufd"));
        cr_assert(fd_is_cloexec_memfd(vf->device_fd, "cdev"));
        cr_assert_eq(vf->container_fd, -1);
        cr_assert_eq(vf->group_fd, -1);
        iommufd = vf->iommufd_fd;
        cr_assert_null(vfbroker_vf_free(vf));
        cr_assert_eq(fcntl(iommufd, F_GETFD), -1, "vfbroker_vf_free closes the iommufd too");

        /* The group path asks without the option (an older broker refuses it)
         * and has no iommufd. */
        cr_assert_eq(vfbroker_acquire_with_api(conn, "acme", NULL, VFBROKER_API_GROUP, &plain), 0);
        cr_assert(log_has("AcquireVF tenant=acme pf=- numa=-1\n"));
        cr_assert_eq(plain->iommufd_fd, -1);
        cr_assert_geq(plain->container_fd, 3);
        vfbroker_vf_free(plain);

        vf = NULL;
        cr_assert_eq(vfbroker_acquire_with_api(conn, "acme", NULL, (VfbrokerApi) 7, &vf), -EINVAL);
        cr_assert_null(vf);
        cr_assert_eq(vfbroker_acquire_with_api(conn, "nocdev", NULL, VFBROKER_API_IOMMUFD, &vf), -EOPNOTSUPP);
        cr_assert_str_eq(vfbroker_last_error_name(conn), "org.vfbroker.Error.NotSupported");
}
