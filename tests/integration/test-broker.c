/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration tests: the real vfbrokerd on a temporary socket, with a fixture
 * sysfs tree, a private system bus and python-dbusmock's polkitd as the
 * authority. The host kernel has no VFIO, so the PFs come up broken and no VF
 * is ever handed out here; tests that need VFIO say so in their name and the
 * VM suite (tests/vm) proves those paths on a real kernel. */

#include <criterion/criterion.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char config_text[] =
        "[Broker]\n"
        "MaxCallsPerConnection=2\n"
        "MaxConnections=8\n"
        "\n"
        "[PhysicalFunction]\n"
        "Address=0000:01:00.0\n"
        "NumVFs=4\n"
        "Mode=pool\n"
        "\n"
        "[PhysicalFunction]\n"
        "Address=0000:02:00.0\n"
        "NumVFs=4\n"
        "Mode=dedicated\n"
        "Tenant=owner\n"
        "\n"
        "[Tenant]\n"
        "Name=shared\n"
        "Users=nobody\n"
        "Quota=2\n"
        "\n"
        "[Tenant]\n"
        "Name=owner\n"
        "Users=nobody\n"
        "Quota=4\n"
        "\n"
        "[Tenant]\n"
        "Name=private\n"
        "Users=root\n"
        "Quota=1\n";

static Broker b;

static void setup_full(void) {
        broker_prepare(&b, config_text);
        broker_start_bus(&b);
        broker_start_polkit(&b);
        broker_start(&b);
}

static void teardown_full(void) {
        broker_cleanup(&b);
}

#define assert_error(res, name)                                                             \
        do {                                                                                \
                cr_assert(!(res).ok, "call succeeded, expected %s", name);                  \
                cr_assert_str_eq((res).error_name, name, "got %s: %s", (res).error_name,    \
                                 (res).error_message);                                      \
        } while (0)

TestSuite(broker, .init = setup_full, .fini = teardown_full, .timeout = 60);

Test(broker, pfs_broken_without_vfio_on_host_kernel) {
        sd_bus *bus = broker_connect(&b);
        sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        unsigned n = 0, broken = 0;

        cr_assert(sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1",
                                     "ListPhysicalFunctions", &error, &reply, "") >= 0, "%s", error.message);
        cr_assert(sd_bus_message_enter_container(reply, 'a', "a{sv}") >= 0);
        while (sd_bus_message_enter_container(reply, 'a', "{sv}") > 0) {
                const char *key, *state = NULL, *reason = NULL, *mode = NULL, *no_iommufd = NULL;
                char **apis = NULL;

                while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                        cr_assert(sd_bus_message_read(reply, "s", &key) >= 0);
                        if (strcmp(key, "State") == 0)
                                cr_assert(sd_bus_message_read(reply, "v", "s", &state) >= 0);
                        else if (strcmp(key, "Reason") == 0)
                                cr_assert(sd_bus_message_read(reply, "v", "s", &reason) >= 0);
                        else if (strcmp(key, "Mode") == 0)
                                cr_assert(sd_bus_message_read(reply, "v", "s", &mode) >= 0);
                        else if (strcmp(key, "IommufdUnavailableReason") == 0)
                                cr_assert(sd_bus_message_read(reply, "v", "s", &no_iommufd) >= 0);
                        else if (strcmp(key, "APIs") == 0) {
                                cr_assert(sd_bus_message_enter_container(reply, 'v', "as") >= 0);
                                cr_assert(sd_bus_message_read_strv(reply, &apis) >= 0);
                                cr_assert(sd_bus_message_exit_container(reply) >= 0);
                        } else
                                cr_assert(sd_bus_message_skip(reply, "v") >= 0);
                        cr_assert(sd_bus_message_exit_container(reply) >= 0);
                }
                cr_assert(sd_bus_message_exit_container(reply) >= 0);
                n++;
                cr_assert_not_null(state);
                cr_assert_not_null(mode);
                /* No /dev/iommu under the test's device root: the group path only, and why. */
                cr_assert(apis && apis[0] && strcmp(apis[0], "group") == 0 && !apis[1]);
                cr_assert(no_iommufd && strstr(no_iommufd, "CONFIG_IOMMUFD"), "%s", no_iommufd ? no_iommufd : "(none)");
                for (char **i = apis; *i; i++)
                        free(*i);
                free(apis);
                if (strcmp(state, "broken") == 0) {
                        broken++;
                        cr_assert(strstr(reason, "VFIO") != NULL, "reason does not name VFIO: %s", reason);
                }
        }
        cr_assert_eq(n, 2);
        cr_assert_eq(broken, 2);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}

Test(broker, busctl_introspects_and_calls_over_the_socket) {
        char cmd[1024], line[512];
        bool found = false;
        FILE *p;
        int status;

        snprintf(cmd, sizeof cmd,
                 "busctl --address=unix:path=%s introspect org.vfbroker.Broker1 /org/vfbroker/Broker1 2>&1",
                 b.socket_path);
        p = popen(cmd, "r");
        cr_assert_not_null(p);
        while (fgets(line, sizeof line, p))
                if (strstr(line, ".AcquireVF") && strstr(line, "sa{sv}") && strstr(line, "ssuhhh"))
                        found = true;
        status = pclose(p);
        cr_assert_eq(WEXITSTATUS(status), 0, "busctl introspect failed");
        cr_assert(found, "busctl did not show AcquireVF with its signature");

        snprintf(cmd, sizeof cmd,
                 "busctl --address=unix:path=%s call org.vfbroker.Broker1 /org/vfbroker/Broker1 "
                 "org.vfbroker.Broker1 ListTenants 2>&1",
                 b.socket_path);
        p = popen(cmd, "r");
        cr_assert_not_null(p);
        found = false;
        while (fgets(line, sizeof line, p))
                if (strstr(line, "\"shared\"") && strstr(line, "\"owner\""))
                        found = true;
        status = pclose(p);
        cr_assert_eq(WEXITSTATUS(status), 0, "busctl call failed");
        cr_assert(found, "busctl call ListTenants did not list the configured tenants");
}

Test(broker, create_tenant_as_root_without_polkit) {
        CallResult r = call_as_root(&b, "CreateTenant", "sa{sv}", "fresh", NULL);
        char *snap;

        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        snap = store_snapshot(&b);
        cr_assert(strstr(snap, "fresh|") != NULL, "the new tenant is not in the store:\n%s", snap);
        free(snap);

        r = call_as_root(&b, "CreateTenant", "sa{sv}", "fresh", NULL);
        assert_error(r, "org.vfbroker.Error.Exists");
}

Test(broker, create_tenant_refused_by_polkit_leaves_store_unchanged) {
        char *before = store_snapshot(&b), *after;
        CallResult r = call_as_nobody(&b, "CreateTenant", "sa{sv}", "sneaky", NULL);

        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        cr_assert(strstr(r.error_message, "polkit") != NULL, "%s", r.error_message);
        after = store_snapshot(&b);
        cr_assert_str_eq(before, after);
        free(before);
        free(after);
}

Test(broker, create_tenant_allowed_by_polkit) {
        const char *const allowed[] = { "org.vfbroker.manage", NULL };
        CallResult r;

        polkit_set_allowed(&b, allowed);
        r = call_as_nobody(&b, "CreateTenant", "sa{sv}", "granted", NULL);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        r = call_as_nobody(&b, "DeleteTenant", "sa{sv}", "granted", NULL);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
}

Test(broker, polkit_unreachable_refuses_non_root) {
        char *before, *after;
        CallResult r;

        broker_stop_polkit(&b);
        before = store_snapshot(&b);
        r = call_as_nobody(&b, "RotateToken", "s", "shared", NULL);
        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        cr_assert(strstr(r.error_message, "polkit could not be asked") != NULL, "%s", r.error_message);
        after = store_snapshot(&b);
        cr_assert_str_eq(before, after);
        free(before);
        free(after);

        /* Root does not depend on polkit (RootSkipsPolkit=yes by default). */
        r = call_as_root(&b, "RotateToken", "s", "shared", NULL);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
}

Test(broker, bad_tenant_names_refused_and_store_unchanged) {
        static const char *const bad[] = {
                "", ".", "..", "../etc", "a/b", "-rf", ".hidden", "with space", "tab\there",
                "0123456789012345678901234567890123456789012345678901234567890123456789",
        };
        char *before = store_snapshot(&b), *after;

        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                CallResult r = call_as_root(&b, "CreateTenant", "sa{sv}", bad[i], NULL);
                assert_error(r, "org.vfbroker.Error.InvalidArgument");
                r = call_as_nobody(&b, "AcquireVF", "sa{sv}", bad[i], NULL);
                assert_error(r, "org.vfbroker.Error.InvalidArgument");
        }
        after = store_snapshot(&b);
        cr_assert_str_eq(before, after);
        free(before);
        free(after);
}

Test(broker, acquire_unknown_tenant) {
        CallResult r = call_as_nobody(&b, "AcquireVF", "sa{sv}", "nosuch", NULL);

        assert_error(r, "org.vfbroker.Error.UnknownTenant");
        cr_assert(strstr(r.error_message, "nosuch") != NULL);
}

Test(broker, acquire_refused_for_non_member_before_polkit) {
        const char *const allowed[] = { "org.vfbroker.acquire-vf", NULL };
        CallResult r;

        polkit_set_allowed(&b, allowed);
        r = call_as_nobody(&b, "AcquireVF", "sa{sv}", "private", NULL);
        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        cr_assert(strstr(r.error_message, "not one of the users") != NULL, "%s", r.error_message);
}

Test(broker, acquire_refused_by_polkit) {
        CallResult r = call_as_nobody(&b, "AcquireVF", "sa{sv}", "shared", NULL);

        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        cr_assert(strstr(r.error_message, "org.vfbroker.acquire-vf") != NULL, "%s", r.error_message);
}

Test(broker, acquire_authorized_gets_no_free_vf_without_vfio_on_host_kernel) {
        const char *const allowed[] = { "org.vfbroker.acquire-vf", NULL };
        char *before, *after;
        CallResult r;

        polkit_set_allowed(&b, allowed);
        before = store_snapshot(&b);
        r = call_as_nobody(&b, "AcquireVF", "sa{sv}", "shared", NULL);
        assert_error(r, "org.vfbroker.Error.NoFreeVF");
        after = store_snapshot(&b);
        cr_assert_str_eq(before, after);
        free(before);
        free(after);
}

static CallResult acquire_with_option(const char *key, const char *type, const void *value) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus *bus = broker_connect(&b);
        CallResult res = { 0 };
        int r;

        cr_assert(sd_bus_message_new_method_call(bus, &m, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1",
                                                 "AcquireVF") >= 0);
        if (strcmp(type, "s") == 0)
                r = sd_bus_message_append(m, "sa{sv}", "shared", 1, key, "s", (const char *) value);
        else if (strcmp(type, "i") == 0)
                r = sd_bus_message_append(m, "sa{sv}", "shared", 1, key, "i", *(const int *) value);
        else
                r = sd_bus_message_append(m, "sa{sv}", "shared", 1, key, "u", *(const unsigned *) value);
        cr_assert(r >= 0);
        r = sd_bus_call(bus, m, 0, &error, &reply);
        res.ok = r >= 0;
        if (r < 0) {
                snprintf(res.error_name, sizeof res.error_name, "%s", error.name);
                snprintf(res.error_message, sizeof res.error_message, "%s", error.message);
        }
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return res;
}

Test(broker, acquire_options_checked) {
        int node = 5000, good_node = 0;
        unsigned u = 1;
        CallResult r;

        r = acquire_with_option("Colour", "s", "blue");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        cr_assert(strstr(r.error_message, "Colour") != NULL);
        r = acquire_with_option("PhysicalFunction", "s", "not-an-address");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = acquire_with_option("PhysicalFunction", "u", &u);
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = acquire_with_option("PhysicalFunction", "s", "0000:09:00.0");
        assert_error(r, "org.vfbroker.Error.UnknownPhysicalFunction");
        r = acquire_with_option("NumaNode", "i", &node);
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = acquire_with_option("API", "s", "vfio-user");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        cr_assert(strstr(r.error_message, "iommufd") != NULL, "%s", r.error_message);
        r = acquire_with_option("API", "u", &u);
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        /* Root, valid options: refused only because nothing is free on this kernel. */
        r = acquire_with_option("NumaNode", "i", &good_node);
        assert_error(r, "org.vfbroker.Error.NoFreeVF");
        r = acquire_with_option("API", "s", "iommufd");
        assert_error(r, "org.vfbroker.Error.NoFreeVF");
}

Test(broker, delete_tenant_rules) {
        CallResult r;

        r = call_as_root(&b, "DeleteTenant", "sa{sv}", "nosuch", NULL);
        assert_error(r, "org.vfbroker.Error.UnknownTenant");
        r = call_as_root(&b, "DeleteTenant", "sa{sv}", "shared", NULL);
        assert_error(r, "org.vfbroker.Error.Busy");
        cr_assert(strstr(r.error_message, "configuration") != NULL, "%s", r.error_message);
        r = call_as_root(&b, "CreateTenant", "sa{sv}", "temp", NULL);
        cr_assert(r.ok);
        r = call_as_root(&b, "DeleteTenant", "sa{sv}", "temp", NULL);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
}

static char *get_token(const char *tenant, bool as_nobody, CallResult *res) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        sd_bus *bus;
        const char *token;
        char *copy = NULL;
        int r;

        if (as_nobody) {
                *res = call_as_nobody(&b, "GetTenantToken", "s", tenant, NULL);
                return NULL;
        }
        bus = broker_connect(&b);
        r = sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1", "GetTenantToken",
                               &error, &reply, "s", tenant);
        memset(res, 0, sizeof *res);
        res->ok = r >= 0;
        if (r >= 0) {
                cr_assert(sd_bus_message_read(reply, "s", &token) >= 0);
                copy = strdup(token);
        } else {
                snprintf(res->error_name, sizeof res->error_name, "%s", error.name);
                snprintf(res->error_message, sizeof res->error_message, "%s", error.message);
        }
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return copy;
}

Test(broker, tenant_token_rules_and_rotation) {
        const char *const allowed[] = { "org.vfbroker.read-token", NULL };
        CallResult r;
        char *t1, *t2;

        /* Only tenants owning a dedicated PF can read their token. */
        t1 = get_token("shared", false, &r);
        assert_error(r, "org.vfbroker.Error.NotSupported");
        free(t1);

        t1 = get_token("owner", false, &r);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        cr_assert_eq(strlen(t1), 36);

        /* nobody belongs to 'owner' but polkit says no ... */
        get_token("owner", true, &r);
        assert_error(r, "org.vfbroker.Error.NotAuthorized");
        /* ... then yes. */
        polkit_set_allowed(&b, allowed);
        get_token("owner", true, &r);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);

        r = call_as_root(&b, "RotateToken", "s", "owner", NULL);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        t2 = get_token("owner", false, &r);
        cr_assert(r.ok);
        cr_assert_str_neq(t1, t2, "the token did not change on rotation");
        free(t1);
        free(t2);
}

Test(broker, set_num_vfs_checks) {
        CallResult r;

        r = call_as_root(&b, "SetNumVFs", "su", "garbage", "2");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = call_as_root(&b, "SetNumVFs", "su", "0000:07:00.0", "2");
        assert_error(r, "org.vfbroker.Error.UnknownPhysicalFunction");
        /* The PF exists but is broken on this kernel (no VFIO). */
        r = call_as_root(&b, "SetNumVFs", "su", "01:00.0", "2");
        assert_error(r, "org.vfbroker.Error.Failed");
        cr_assert(strstr(r.error_message, "broken") != NULL, "%s", r.error_message);
}

Test(broker, release_checks) {
        CallResult r;

        r = call_as_nobody(&b, "ReleaseVF", "s", "not-a-lease", NULL);
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = call_as_nobody(&b, "ReleaseVF", "s", "0123456789abcdef0123456789abcdef", NULL);
        assert_error(r, "org.vfbroker.Error.UnknownLease");
}

static int on_flood_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        unsigned *counts = userdata;

        if (sd_bus_message_is_method_error(reply, "org.vfbroker.Error.LimitExceeded"))
                counts[0]++;
        return 0;
}

/* Sends n AcquireVF calls without waiting, as uid 65534, and counts the replies by error name. */
static void flood_as_nobody(unsigned n, unsigned *ret_limit, unsigned *ret_pending) {
        int p[2];
        pid_t pid;

        cr_assert(pipe(p) == 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                unsigned counts[2] = { 0, 0 };
                sd_bus *bus;

                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                bus = broker_connect(&b);
                for (unsigned i = 0; i < n; i++) {
                        sd_bus_message *m = NULL;

                        if (sd_bus_message_new_method_call(bus, &m, NULL, "/org/vfbroker/Broker1",
                                                           "org.vfbroker.Broker1", "AcquireVF") < 0 ||
                            sd_bus_message_append(m, "sa{sv}", "shared", 0) < 0 ||
                            sd_bus_call_async(bus, NULL, m, on_flood_reply, counts, 0) < 0)
                                _exit(4);
                        sd_bus_message_unref(m);
                }
                /* Collect replies for a second: refused ones come back at once, the
                 * ones waiting for the hanging polkit do not. */
                for (int k = 0; k < 50; k++) {
                        while (sd_bus_process(bus, NULL) > 0)
                                ;
                        (void) sd_bus_wait(bus, 20000);
                }
                counts[1] = n - counts[0];
                if (write(p[1], counts, sizeof counts) != (ssize_t) sizeof counts)
                        _exit(5);
                _exit(0);
        }
        close(p[1]);
        unsigned counts[2];
        cr_assert(read(p[0], counts, sizeof counts) == (ssize_t) sizeof counts);
        close(p[0]);
        waitpid(pid, NULL, 0);
        *ret_limit = counts[0];
        *ret_pending = counts[1];
}

Test(broker, calls_in_flight_limited_per_connection) {
        unsigned limited, pending;

        polkit_simulate_hang(&b, true);
        flood_as_nobody(5, &limited, &pending);
        /* MaxCallsPerConnection=2 in this configuration. */
        cr_assert_eq(pending, 2, "%u calls were let through to polkit", pending);
        cr_assert_eq(limited, 3);
}

Test(broker, client_dying_mid_call_is_harmless) {
        const char *const allowed[] = { "org.vfbroker.manage", NULL };
        CallResult r;

        polkit_simulate_hang(&b, true);
        /* The child exits while its calls wait for polkit. */
        unsigned limited, pending;
        flood_as_nobody(2, &limited, &pending);
        cr_assert_eq(pending, 2);

        polkit_set_allowed(&b, allowed);
        polkit_simulate_hang(&b, false);
        /* Answers for the dead client arrive now; the broker must carry on. */
        r = call_as_nobody(&b, "CreateTenant", "sa{sv}", "after", NULL);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        cr_assert_eq(kill(b.broker_pid, 0), 0, "vfbrokerd died");
}

Test(broker, connection_limit) {
        int fds[10];
        unsigned refused = 0;

        /* MaxConnections=8: the 9th and 10th are closed at once. */
        for (int i = 0; i < 10; i++) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };

                fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                cr_assert(strlen(b.socket_path) < sizeof sa.sun_path);
                memcpy(sa.sun_path, b.socket_path, strlen(b.socket_path) + 1);
                cr_assert(connect(fds[i], (struct sockaddr *) &sa, sizeof sa) == 0);
                /* Let the broker accept them one by one. */
                usleep(20000);
        }
        for (int i = 0; i < 10; i++) {
                char c;
                struct timeval tv = { 0, 200000 };

                setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                if (recv(fds[i], &c, 1, 0) == 0)
                        refused++;
                close(fds[i]);
        }
        cr_assert_eq(refused, 2, "%u connections were closed", refused);
}

Test(broker, store_file_is_private) {
        char path[512];
        struct stat st;

        snprintf(path, sizeof path, "%s/state.db", b.state_dir);
        cr_assert(stat(path, &st) == 0);
        cr_assert_eq(st.st_mode & 0777, 0600, "state.db has mode %o", st.st_mode & 0777);
}

Test(broker, revoke_checks) {
        CallResult r;

        r = call_as_root(&b, "RevokeLease", "s", "bogus", NULL);
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = call_as_root(&b, "RevokeLease", "s", "0123456789abcdef0123456789abcdef", NULL);
        assert_error(r, "org.vfbroker.Error.UnknownLease");
}

static CallResult delete_with_option(const char *name, const char *key, int value) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus = broker_connect(&b);
        CallResult res = { 0 };
        int r;

        r = sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1", "DeleteTenant", &error,
                               NULL, "sa{sv}", name, 1, key, "b", value);
        res.ok = r >= 0;
        if (r < 0) {
                snprintf(res.error_name, sizeof res.error_name, "%s", error.name);
                snprintf(res.error_message, sizeof res.error_message, "%s", error.message);
        }
        sd_bus_error_free(&error);
        sd_bus_flush_close_unref(bus);
        return res;
}

Test(broker, delete_tenant_force_option) {
        CallResult r;

        r = delete_with_option("shared", "Sideways", 1);
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        /* Force revokes leases; it does not override the configuration. */
        r = delete_with_option("shared", "Force", 1);
        assert_error(r, "org.vfbroker.Error.Busy");
        r = call_as_root(&b, "CreateTenant", "sa{sv}", "doomed", NULL);
        cr_assert(r.ok);
        r = delete_with_option("doomed", "Force", 1);
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
}

/* Every refusal, whatever its reason, leaves the store as it was. */
Test(broker, every_refused_call_leaves_the_store_unchanged) {
        static const struct {
                bool as_root;
                const char *method, *signature, *arg1, *arg2;
        } calls[] = {
                /* polkit says no to uid 65534 */
                { false, "CreateTenant", "sa{sv}", "newcomer", NULL },
                { false, "DeleteTenant", "sa{sv}", "shared", NULL },
                { false, "RotateToken", "s", "shared", NULL },
                { false, "SetNumVFs", "su", "0000:01:00.0", "1" },
                { false, "AcquireVF", "sa{sv}", "shared", NULL },
                { false, "GetTenantToken", "s", "owner", NULL },
                /* not a member, unknown things, bad arguments */
                { false, "AcquireVF", "sa{sv}", "private", NULL },
                { false, "GetTenantToken", "s", "private", NULL },
                { false, "AcquireVF", "sa{sv}", "nosuch", NULL },
                { false, "ReleaseVF", "s", "0123456789abcdef0123456789abcdef", NULL },
                { false, "RevokeLease", "s", "0123456789abcdef0123456789abcdef", NULL },
                { true, "CreateTenant", "sa{sv}", "../escape", NULL },
                { true, "CreateTenant", "sa{sv}", "shared", NULL },
                { true, "DeleteTenant", "sa{sv}", "owner", NULL },
                { true, "DeleteTenant", "sa{sv}", "nosuch", NULL },
                { true, "RotateToken", "s", "nosuch", NULL },
                { true, "GetTenantToken", "s", "shared", NULL },
                { true, "SetNumVFs", "su", "0000:01:00.0", "99" },
                { true, "SetNumVFs", "su", "01:00.0;rm", "1" },
                { true, "ReleaseVF", "s", "not-a-lease", NULL },
                { true, "AcquireVF", "sa{sv}", "shared", NULL }, /* NoFreeVF: no VFIO on this kernel */
        };
        char *before = store_snapshot(&b), *after;

        for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
                CallResult r = calls[i].as_root
                        ? call_as_root(&b, calls[i].method, calls[i].signature, calls[i].arg1, calls[i].arg2)
                        : call_as_nobody(&b, calls[i].method, calls[i].signature, calls[i].arg1, calls[i].arg2);

                cr_assert(!r.ok, "%s(%s) as %s was not refused", calls[i].method, calls[i].arg1,
                          calls[i].as_root ? "root" : "uid 65534");
                cr_assert(strncmp(r.error_name, "org.vfbroker.Error.", 19) == 0, "%s(%s): %s: %s",
                          calls[i].method, calls[i].arg1, r.error_name, r.error_message);
        }
        after = store_snapshot(&b);
        cr_assert_str_eq(before, after, "a refused call changed the store");
        free(before);
        free(after);
}

/* ---- checks made before polkit are made again with its answer ---------------- */

static const char one_slot_config[] =
        "[Broker]\n"
        "MaxCallsPerConnection=16\n"
        "MaxTenants=2\n"
        "\n"
        "[Tenant]\n"
        "Name=existing\n"
        "Users=nobody\n";

static Broker lb;

static void setup_one_slot(void) {
        broker_prepare(&lb, one_slot_config);
        broker_start_bus(&lb);
        broker_start_polkit(&lb);
        broker_start(&lb);
}

static void teardown_one_slot(void) {
        broker_cleanup(&lb);
}

static int on_create_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        unsigned *counts = userdata;   /* created, limit exceeded, other */

        if (!sd_bus_message_is_method_error(reply, NULL))
                counts[0]++;
        else if (sd_bus_message_is_method_error(reply, "org.vfbroker.Error.LimitExceeded"))
                counts[1]++;
        else
                counts[2]++;
        return 0;
}

/* Issue: with one slot left under MaxTenants, 8 CreateTenant calls waiting on
 * polkit all succeeded, because the limit was checked only before polkit. */
Test(limits, tenant_limit_holds_for_calls_that_waited_on_polkit, .init = setup_one_slot, .fini = teardown_one_slot,
     .timeout = 60) {
        const char *const allowed[] = { "org.vfbroker.manage", NULL };
        enum { N = 8 };
        int ready[2], go[2];
        unsigned counts[3];
        pid_t pid;

        /* The mock fixes each answer when the call arrives, from SetAllowed. */
        polkit_set_allowed(&lb, allowed);
        polkit_simulate_hang(&lb, true);
        cr_assert(pipe(ready) == 0 && pipe(go) == 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                unsigned c[3] = { 0, 0, 0 };
                char name[16], byte = 1;
                sd_bus *bus;

                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                bus = broker_connect(&lb);
                for (unsigned i = 0; i < N; i++) {
                        sd_bus_message *m = NULL;

                        snprintf(name, sizeof name, "racer%u", i);
                        if (sd_bus_message_new_method_call(bus, &m, NULL, "/org/vfbroker/Broker1",
                                                           "org.vfbroker.Broker1", "CreateTenant") < 0 ||
                            sd_bus_message_append(m, "sa{sv}", name, 0) < 0 ||
                            sd_bus_call_async(bus, NULL, m, on_create_reply, c, 0) < 0)
                                _exit(4);
                        sd_bus_message_unref(m);
                }
                /* The broker handles a connection's calls in order: once this
                 * is answered, all N have passed their checks and wait on polkit. */
                if (sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1",
                                       "ListTenants", NULL, NULL, "") < 0)
                        _exit(5);
                if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1)
                        _exit(6);
                for (;;) {
                        while (sd_bus_process(bus, NULL) > 0)
                                ;
                        if (c[0] + c[1] + c[2] >= N)
                                break;
                        if (sd_bus_wait(bus, 5 * 1000 * 1000) <= 0)
                                _exit(7);
                }
                if (write(ready[1], c, sizeof c) != (ssize_t) sizeof c)
                        _exit(8);
                _exit(0);
        }
        close(ready[1]);
        close(go[0]);
        char byte;
        cr_assert(read(ready[0], &byte, 1) == 1, "the child could not queue its calls");
        cr_assert_eq(sd_bus_call_method(broker_connect(&lb), NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1",
                                        "ListTenants", NULL, NULL, ""), 1);

        polkit_simulate_hang(&lb, false);
        polkit_release_hanging(&lb);
        cr_assert(write(go[1], &byte, 1) == 1);
        cr_assert(read(ready[0], counts, sizeof counts) == (ssize_t) sizeof counts, "the child got no replies; broker log:\n%s",
                  broker_log(&lb));
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);

        cr_assert_eq(counts[0], 1, "%u tenants were created with one slot left under MaxTenants=2", counts[0]);
        cr_assert_eq(counts[1], N - 1);
        cr_assert_eq(counts[2], 0);
}

static CallResult find_vfs(const char *key, const char *value) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        CallResult res = { 0 };
        sd_bus *bus = broker_connect(&b);
        int r;

        r = sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1", "FindVirtualFunctions",
                               &error, &reply, "a{sv}", 1, key, "s", value);
        res.ok = r >= 0;
        if (error.name)
                snprintf(res.error_name, sizeof res.error_name, "%s", error.name);
        if (error.message)
                snprintf(res.error_message, sizeof res.error_message, "%s", error.message);
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
        return res;
}

Test(broker, find_vfs_filters_are_checked) {
        CallResult r;

        r = find_vfs("PhysicalFunction", "0000:01:00.0");
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        r = find_vfs("State", "free");
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        r = find_vfs("Tenant", "shared");
        cr_assert(r.ok, "%s: %s", r.error_name, r.error_message);
        r = find_vfs("PhysicalFunction", "not-an-address");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = find_vfs("State", "sleeping");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = find_vfs("Tenant", "../etc");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        r = find_vfs("Colour", "blue");
        assert_error(r, "org.vfbroker.Error.InvalidArgument");
        cr_assert_not_null(strstr(r.error_message, "unknown filter"));
}

/* sd-bus reads a whole message into memory before it looks at it (up to
 * 128 MiB): the relay refuses one that announces more than 64 KiB at its
 * header, before the body comes. The largest real call, CreateTenant with
 * 1024 uids and 1024 gids, passes. */
Test(broker, oversized_messages_close_the_connection) {
        static const char auth[] = "\0AUTH EXTERNAL 30\r\nBEGIN\r\n"; /* "0": uid 0 in hex */
        static const uint8_t header[] = { 'l', 1, 0, 1, 0, 0, 0xf0, 0 /* 15 MiB */, 1, 0, 0, 0, 0, 0, 0, 0 };
        static uint8_t body[1024 * 1024];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ssize_t k = 0;

        memcpy(sa.sun_path, b.socket_path, strlen(b.socket_path) + 1);
        cr_assert(connect(s, (struct sockaddr *) &sa, sizeof sa) == 0);
        cr_assert(send(s, auth, sizeof auth - 1, MSG_NOSIGNAL) == (ssize_t) sizeof auth - 1);
        cr_assert(send(s, header, sizeof header, MSG_NOSIGNAL) == (ssize_t) sizeof header);
        for (int i = 0; i < 15 && k >= 0; i++)
                k = send(s, body, sizeof body, MSG_NOSIGNAL);
        cr_assert(k < 0, "15 MiB of a message were taken");
        close(s);
        char *log = broker_log(&b);
        cr_assert(strstr(log, "it sent a message of more than 64 KiB"), "%s", log);
        free(log);

        sd_bus *bus = broker_connect(&b);
        sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        static uint32_t ids[1024];

        for (unsigned i = 0; i < 1024; i++)
                ids[i] = 4000000000U + i;
        cr_assert(sd_bus_message_new_method_call(bus, &m, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1",
                                                 "CreateTenant") >= 0);
        cr_assert(sd_bus_message_append(m, "s", "many") >= 0);
        cr_assert(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
        for (int u = 0; u < 2; u++) {
                cr_assert(sd_bus_message_open_container(m, 'e', "sv") >= 0);
                cr_assert(sd_bus_message_append(m, "s", u ? "Uids" : "Gids") >= 0);
                cr_assert(sd_bus_message_open_container(m, 'v', "au") >= 0);
                cr_assert(sd_bus_message_append_array(m, 'u', ids, sizeof ids) >= 0);
                cr_assert(sd_bus_message_close_container(m) >= 0);
                cr_assert(sd_bus_message_close_container(m) >= 0);
        }
        cr_assert(sd_bus_message_close_container(m) >= 0);
        cr_assert(sd_bus_call(bus, m, 0, &error, NULL) >= 0, "CreateTenant with 2048 ids: %s", error.message);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus);
}
