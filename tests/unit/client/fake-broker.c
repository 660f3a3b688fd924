/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test-only fake vfbrokerd bus side: an sd-bus peer-to-peer server in a child
 * process answering the contract's methods with canned data and errors. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "fake-broker.h"

#define ERR(name) "org.vfbroker.Error." name

typedef struct FakeState {
        FakeMode mode;
        FILE *log;
        unsigned n_leases;
        unsigned one_only_acquired;
        /* The properties, read by sd-bus's default getters at these offsets. */
        char *version;
        uint32_t physical_functions;
        uint32_t virtual_functions;
        uint32_t leases;
} FakeState;

static void logf_(FakeState *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(FakeState *s, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vfprintf(s->log, fmt, ap);
        va_end(ap);
        fputc('\n', s->log);
        fflush(s->log);
}

static int reply_list(sd_bus_message *m, sd_bus_message **ret) {
        int r;

        r = sd_bus_message_new_method_return(m, ret);
        if (r < 0)
                return r;
        return sd_bus_message_open_container(*ret, 'a', "a{sv}");
}

static int send_list(sd_bus_message *reply) {
        int r;

        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        r = sd_bus_send(NULL, reply, NULL);
        sd_bus_message_unref(reply);
        return r;
}

static int too_many(sd_bus_message *m) {
        sd_bus_message *reply;
        int r;

        r = reply_list(m, &reply);
        for (unsigned i = 0; r >= 0 && i < 65536 + 1; i++)
                r = sd_bus_message_append(reply, "a{sv}", 1, "Address", "s", "0000:01:00.0");
        if (r < 0)
                return r;
        return send_list(reply);
}

static int method_list_pfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        sd_bus_message *reply;
        int r;

        logf_(s, "ListPhysicalFunctions");
        if (s->mode == FAKE_TOO_MANY)
                return too_many(m);

        r = reply_list(m, &reply);
        if (r < 0)
                return r;
        /* A key this client does not know, with a type it never reads: must be skipped. */
        r = sd_bus_message_append(reply, "a{sv}", 13,
                                  "Address", "s", "0000:03:00.0",
                                  "Interface", "s", "enp3s0f0",
                                  "Driver", "s", "vfio-pci",
                                  "Features", "as", 0,
                                  "Mode", "s", "pool",
                                  "Tenant", "s", "",
                                  "State", "s", "ready",
                                  "Reason", "s", "",
                                  "NumVFs", "u", 4,
                                  "TotalVFs", "u", 7,
                                  "FreeVFs", "u", 3,
                                  "FutureKey", "a(ii)", 1, 4, 2,
                                  "Mode", "s", "pool");
        if (r < 0)
                return r;
        /* Strings JSON must escape: quote, backslash, newline, tab, a control byte, UTF-8. */
        r = sd_bus_message_append(reply, "a{sv}", 6,
                                  "Address", "s", "0000:04:00.0",
                                  "Driver", "s", "vfbroker_vfio_pci",
                                  "Features", "as", 2, "per-vf-token", "revocation",
                                  "State", "s", "broken",
                                  "Reason", "s", "sriov_numvfs \"write\" failed:\n\tback\\slash \x01 \xc3\xa9t\xc3\xa9",
                                  "TotalVFs", "u", 8);
        if (r < 0)
                return r;
        return send_list(reply);
}

static int method_list_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        sd_bus_message *reply;
        int r;

        logf_(s, "ListVirtualFunctions");
        if (s->mode == FAKE_TOO_MANY)
                return too_many(m);

        r = reply_list(m, &reply);
        if (r < 0)
                return r;
        if (s->mode == FAKE_BAD_TYPE)
                r = sd_bus_message_append(reply, "a{sv}", 2,
                                          "Address", "s", "0000:03:10.0",
                                          "Index", "s", "zero");
        else
                r = sd_bus_message_append(reply, "a{sv}a{sv}", 8,
                                          "Address", "s", "0000:03:10.0",
                                          "PhysicalFunction", "s", "0000:03:00.0",
                                          "Index", "u", 0,
                                          "IommuGroup", "u", 42,
                                          "NumaNode", "i", 1,
                                          "State", "s", "leased",
                                          "Lease", "s", "0123456789abcdef0123456789abcdef",
                                          "Tenant", "s", "acme",
                                          /* NumaNode absent: must read as -1. */
                                          3,
                                          "Address", "s", "0000:03:10.2",
                                          "Index", "u", 1,
                                          "State", "s", "free");
        if (r < 0)
                return r;
        return send_list(reply);
}

static int method_list_leases(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        sd_bus_message *reply;
        int r;

        logf_(s, "ListLeases");
        r = reply_list(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "a{sv}", 8,
                                  "Id", "s", "0123456789abcdef0123456789abcdef",
                                  "VirtualFunction", "s", "0000:03:10.0",
                                  "PhysicalFunction", "s", "0000:03:00.0",
                                  "Tenant", "s", "acme",
                                  "Uid", "u", 1000,
                                  "Pid", "u", 4242,
                                  "Created", "t", UINT64_C(1795000000123456),
                                  "State", "s", "active");
        if (r < 0)
                return r;
        return send_list(reply);
}

static int method_list_tenants(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        sd_bus_message *reply;
        int r;

        logf_(s, "ListTenants");
        r = reply_list(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "a{sv}a{sv}", 6,
                                  "Name", "s", "acme",
                                  "Uids", "au", 2, 0, 1000,
                                  "Gids", "au", 1, 0,
                                  "Quota", "u", 2,
                                  "Leases", "u", 1,
                                  "FromConfig", "b", 1,
                                  2,
                                  "Name", "s", "beta",
                                  "Quota", "u", 1);
        if (r < 0)
                return r;
        return send_list(reply);
}

static int memfd(const char *name) {
        int fd = memfd_create(name, MFD_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

static int method_acquire(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        const char *tenant, *pf = NULL, *api = "group";
        int32_t numa = -1;
        char lease[64], address[32];
        int fds[3], r;

        r = sd_bus_message_read(m, "s", &tenant);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (strcmp(key, "PhysicalFunction") == 0)
                        r = sd_bus_message_read(m, "v", "s", &pf);
                else if (strcmp(key, "NumaNode") == 0)
                        r = sd_bus_message_read(m, "v", "i", &numa);
                else if (strcmp(key, "API") == 0)
                        r = sd_bus_message_read(m, "v", "s", &api);
                else
                        return sd_bus_error_setf(error, ERR("InvalidArgument"),
                                                 "unknown option '%s'; AcquireVF takes PhysicalFunction, NumaNode and API", key);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        if (strcmp(api, "group") == 0)
                logf_(s, "AcquireVF tenant=%s pf=%s numa=%d", tenant, pf ? pf : "-", (int) numa);
        else
                logf_(s, "AcquireVF tenant=%s pf=%s numa=%d api=%s", tenant, pf ? pf : "-", (int) numa, api);
        if (strcmp(api, "group") != 0 && strcmp(api, "iommufd") != 0)
                return sd_bus_error_setf(error, ERR("InvalidArgument"), "API '%s' is unknown", api);
        if (strcmp(api, "iommufd") == 0 && strcmp(tenant, "nocdev") == 0)
                return sd_bus_error_setf(error, ERR("NotSupported"),
                                         "no free VF for tenant 'nocdev' can be handed out with API \"iommufd\": this kernel has no IOMMUFD");

        if (strcmp(tenant, "full") == 0)
                return sd_bus_error_setf(error, ERR("QuotaExceeded"),
                                         "tenant 'full' holds 2 of 2 VFs; release one or raise Quota= in vfbroker.conf");
        if (strcmp(tenant, "empty") == 0)
                return sd_bus_error_setf(error, ERR("NoFreeVF"), "no free VF; wait for a lease to end");
        if (strcmp(tenant, "denied") == 0)
                return sd_bus_error_setf(error, ERR("NotAuthorized"),
                                         "uid 1000 may not act for tenant 'denied'; add it with Users=");
        if (strcmp(tenant, "ghost") == 0)
                return sd_bus_error_setf(error, ERR("UnknownTenant"),
                                         "no tenant 'ghost'; create it with 'vfbrokerctl tenant create ghost'");
        if (strcmp(tenant, "one-only") == 0 && s->one_only_acquired++ > 0)
                return sd_bus_error_setf(error, ERR("NoFreeVF"), "no free VF; wait for a lease to end");

        snprintf(lease, sizeof(lease), "lease%u", s->n_leases);
        snprintf(address, sizeof(address), "0000:03:10.%u", s->n_leases % 8);
        /* The real broker sends the iommufd as container and group on that path. */
        fds[0] = memfd(strcmp(api, "iommufd") == 0 ? "iommufd" : "container");
        fds[1] = strcmp(api, "iommufd") == 0 ? fcntl(fds[0], F_DUPFD_CLOEXEC, 3) : memfd("group");
        fds[2] = memfd(strcmp(api, "iommufd") == 0 ? "cdev" : "device");
        if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
                return -EMFILE;
        r = sd_bus_reply_method_return(m, "ssuhhh", lease, address, 40 + s->n_leases, fds[0], fds[1], fds[2]);
        /* sd-bus sent copies; ours go. */
        for (unsigned i = 0; i < 3; i++)
                close(fds[i]);
        s->n_leases++;
        return r;
}

static int method_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        const char *lease;
        int r;

        r = sd_bus_message_read(m, "s", &lease);
        if (r < 0)
                return r;
        logf_(s, "ReleaseVF %s", lease);
        if (strcmp(lease, "hangup") == 0) {
                /* The broker dies in the middle of the call: no reply, connection gone. */
                shutdown(sd_bus_get_fd(sd_bus_message_get_bus(m)), SHUT_RDWR);
                return 0;
        }
        if (strcmp(lease, "nosuchlease") == 0)
                return sd_bus_error_setf(error, ERR("UnknownLease"),
                                         "no lease 'nosuchlease'; list them with 'vfbrokerctl list-leases'");
        return sd_bus_reply_method_return(m, NULL);
}

static int read_ids(sd_bus_message *m, char *buf, size_t size) {
        const uint32_t *ids;
        size_t n, len = 0;
        int r;

        r = sd_bus_message_read_array(m, 'u', (const void **) &ids, &n);
        if (r < 0)
                return r;
        buf[0] = '\0';
        for (size_t i = 0; i < n / sizeof(uint32_t) && len < size; i++)
                len += (size_t) snprintf(buf + len, size - len, "%s%u", i ? "," : "", ids[i]);
        return 0;
}

static int method_create_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        const char *name;
        char uids[256] = "", gids[256] = "";
        uint32_t quota = 0;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (strcmp(key, "Quota") == 0)
                        r = sd_bus_message_read(m, "v", "u", &quota);
                else if (strcmp(key, "Uids") == 0 || strcmp(key, "Gids") == 0) {
                        r = sd_bus_message_enter_container(m, 'v', "au");
                        if (r >= 0)
                                r = read_ids(m, key[0] == 'U' ? uids : gids, sizeof(uids));
                        if (r >= 0)
                                r = sd_bus_message_exit_container(m);
                } else
                        return sd_bus_error_setf(error, ERR("InvalidArgument"), "unknown option '%s'", key);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        logf_(s, "CreateTenant %s uids=%s gids=%s quota=%u", name, uids, gids, quota);
        if (strcmp(name, "acme") == 0)
                return sd_bus_error_setf(error, ERR("Exists"), "tenant 'acme' exists; pick another name");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_delete_tenant(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = sd_bus_message_skip(m, "a{sv}");
        if (r < 0)
                return r;
        logf_(s, "DeleteTenant %s", name);
        if (strcmp(name, "ghost") == 0)
                return sd_bus_error_setf(error, ERR("UnknownTenant"), "no tenant 'ghost'");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_rotate(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        logf_(s, "RotateToken %s", name);
        if (strcmp(name, "denied") == 0)
                return sd_bus_error_setf(error, ERR("NotAuthorized"),
                                         "org.vfbroker.manage is not granted to uid 1000; ask an administrator");
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_token(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        logf_(s, "GetTenantToken %s", name);
        if (strcmp(name, "pool-only") == 0)
                return sd_bus_error_setf(error, ERR("NotSupported"),
                                         "no PF is dedicated to tenant 'pool-only'; its VFs are only handed out as fds");
        if (strcmp(name, "badtoken") == 0)
                return sd_bus_reply_method_return(m, "s", "not-a-uuid");
        return sd_bus_reply_method_return(m, "s", "0b3e4c1a-7f5e-4a8c-9d2b-1c2d3e4f5a6b");
}

static int method_set_num_vfs(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeState *s = userdata;
        const char *pf;
        uint32_t n;
        int r;

        r = sd_bus_message_read(m, "su", &pf, &n);
        if (r < 0)
                return r;
        logf_(s, "SetNumVFs %s %u", pf, n);
        if (strcmp(pf, "0000:99:00.0") == 0)
                return sd_bus_error_setf(error, ERR("UnknownPhysicalFunction"),
                                         "no PF 0000:99:00.0; list them with 'vfbrokerctl list-pfs'");
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable broker_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("ListPhysicalFunctions", "", "aa{sv}", method_list_pfs, 0),
        SD_BUS_METHOD("ListVirtualFunctions", "", "aa{sv}", method_list_vfs, 0),
        SD_BUS_METHOD("ListLeases", "", "aa{sv}", method_list_leases, 0),
        SD_BUS_METHOD("ListTenants", "", "aa{sv}", method_list_tenants, 0),
        SD_BUS_METHOD("AcquireVF", "sa{sv}", "ssuhhh", method_acquire, 0),
        SD_BUS_METHOD("ReleaseVF", "s", "", method_release, 0),
        SD_BUS_METHOD("CreateTenant", "sa{sv}", "", method_create_tenant, 0),
        SD_BUS_METHOD("DeleteTenant", "sa{sv}", "", method_delete_tenant, 0),
        SD_BUS_METHOD("RotateToken", "s", "", method_rotate, 0),
        SD_BUS_METHOD("GetTenantToken", "s", "s", method_get_token, 0),
        SD_BUS_METHOD("SetNumVFs", "su", "", method_set_num_vfs, 0),
        SD_BUS_PROPERTY("Version", "s", NULL, offsetof(FakeState, version), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PhysicalFunctions", "u", NULL, offsetof(FakeState, physical_functions), 0),
        SD_BUS_PROPERTY("VirtualFunctions", "u", NULL, offsetof(FakeState, virtual_functions), 0),
        SD_BUS_PROPERTY("Leases", "u", NULL, offsetof(FakeState, leases), 0),
        SD_BUS_VTABLE_END
};

static int on_accept(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        FakeState *s = userdata;
        sd_bus *bus = NULL;
        sd_id128_t id;
        int cfd, r;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
                return 0;
        r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_fd(bus, cfd, cfd);
        if (r >= 0)
                r = sd_bus_set_server(bus, 1, id);
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, 1);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1",
                                             broker_vtable, s);
        if (r >= 0)
                r = sd_bus_attach_event(bus, sd_event_source_get_event(es), 0);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                fprintf(stderr, "fake broker: cannot serve a connection: %s\n", strerror(-r));
                _exit(1);
        }
        /* Each connection lives until the process is killed. */
        return 0;
}

static void serve(int listen_fd, FakeMode mode, const char *log_path) {
        FakeState s = {
                .mode = mode,
                .version = (char *) "0.1.0-fake",
                .physical_functions = 2,
                .virtual_functions = 11,
                .leases = 1,
        };
        sd_event *e = NULL;
        int r;

        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        s.log = fopen(log_path, "ae");
        if (!s.log)
                _exit(1);
        r = sd_event_new(&e);
        if (r >= 0)
                r = sd_event_add_io(e, NULL, listen_fd, EPOLLIN, on_accept, &s);
        if (r >= 0)
                r = sd_event_loop(e);
        fprintf(stderr, "fake broker: event loop failed: %s\n", strerror(-r));
        _exit(1);
}

static int start_server(FakeBroker *f, FakeMode mode) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;
        pid_t pid;

        if (strlen(f->socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        (void) unlink(f->socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        memcpy(sa.sun_path, f->socket_path, strlen(f->socket_path) + 1);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        if (pid == 0)
                serve(fd, mode, f->log_path);
        close(fd);
        f->pid = pid;
        return 0;
}

int fake_broker_start(FakeBroker *f, FakeMode mode) {
        *f = (FakeBroker) { .pid = 0 };
        snprintf(f->dir, sizeof(f->dir), "/tmp/vfbroker-fake-XXXXXX");
        if (!mkdtemp(f->dir))
                return -errno;
        snprintf(f->socket_path, sizeof(f->socket_path), "%s/bus", f->dir);
        snprintf(f->log_path, sizeof(f->log_path), "%s/log", f->dir);
        return start_server(f, mode);
}

void fake_broker_kill(FakeBroker *f) {
        if (f->pid > 0) {
                (void) kill(f->pid, SIGKILL);
                (void) waitpid(f->pid, NULL, 0);
        }
        f->pid = 0;
}

int fake_broker_restart(FakeBroker *f, FakeMode mode) {
        fake_broker_kill(f);
        return start_server(f, mode);
}

void fake_broker_stop(FakeBroker *f) {
        fake_broker_kill(f);
        (void) unlink(f->socket_path);
        (void) unlink(f->log_path);
        (void) rmdir(f->dir);
}

char *fake_broker_log(const FakeBroker *f) {
        FILE *l = fopen(f->log_path, "re");
        char *buf;
        size_t n;

        if (!l)
                return strdup("");
        buf = calloc(1, 65536);
        if (!buf) {
                fclose(l);
                return NULL;
        }
        n = fread(buf, 1, 65535, l);
        buf[n] = '\0';
        fclose(l);
        return buf;
}
