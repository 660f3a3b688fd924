/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.vfbroker.Broker over Varlink (libsystemd 257+ only): the real vfbrokerd
 * with --varlink, real sd-varlink clients, python-dbusmock's polkitd. The
 * interface it serves must be proto/io.vfbroker.Broker.varlink, and its
 * answers those of the D-Bus API: the same store, errors and polkit checks.
 * The fixture has no VFIO, so no VF is handed out here: the VM suite's
 * 20-varlink.sh does that on a real kernel. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-json.h>
#include <systemd/sd-varlink.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NOBODY 65534
#define IFACE "io.vfbroker.Broker"

/* After "[Broker]\n" and what a test adds to that section. */
static const char config_text[] =
        "MaxConnectionsPerUser=3\n"
        "\n"
        "[PhysicalFunction]\n"
        "Address=0000:01:00.0\n"
        "NumVFs=4\n"
        "Mode=pool\n"
        "\n"
        "[Tenant]\n"
        "Name=shared\n"
        "Users=nobody\n"
        "Quota=2\n"
        "\n"
        "[Tenant]\n"
        "Name=private\n"
        "Users=root\n"
        "Quota=1\n";

static Broker b;
static char varlink_path[320];

/* broker_extra: more [Broker] keys, "" for none */
static void setup_with(const char *broker_extra) {
        static char text[sizeof config_text + 128];
        char arg[340];
        const char *const extra[] = { arg, NULL };

        snprintf(text, sizeof text, "[Broker]\n%s%s", broker_extra, config_text);
        broker_prepare(&b, text);
        broker_start_bus(&b);
        broker_start_polkit(&b);
        snprintf(varlink_path, sizeof varlink_path, "%s/varlink", b.dir);
        snprintf(arg, sizeof arg, "--varlink=%s", varlink_path);
        broker_start_with(&b, extra);
}

static void setup(void) {
        setup_with("");
}

static void setup_idle(void) {
        setup_with("IdleTimeoutSec=1\n");
}

static void teardown(void) {
        broker_cleanup(&b);
}

/* The outcome of one call: the reply as JSON text, or the error's id and message. */
typedef struct VlResult {
        int ok;
        char error_id[128];
        char message[512];
        char reply[16384];
} VlResult;

static void vl_do(const char *method, const char *params_json, VlResult *res) {
        sd_varlink *v = NULL;
        sd_json_variant *params = NULL, *reply = NULL;
        const char *error_id = NULL;
        char *text = NULL;
        int r;

        memset(res, 0, sizeof *res);
        r = sd_varlink_connect_address(&v, varlink_path);
        if (r < 0) {
                snprintf(res->error_id, sizeof res->error_id, "(connect)");
                snprintf(res->message, sizeof res->message, "%s", strerror(-r));
                return;
        }
        r = sd_json_parse(params_json, 0, &params, NULL, NULL);
        if (r >= 0)
                r = sd_varlink_call(v, method, params, &reply, &error_id);
        if (r < 0) {
                snprintf(res->error_id, sizeof res->error_id, "(call)");
                snprintf(res->message, sizeof res->message, "%s", strerror(-r));
        } else if (error_id) {
                sd_json_variant *m = sd_json_variant_by_key(reply, "message");

                snprintf(res->error_id, sizeof res->error_id, "%s", error_id);
                snprintf(res->message, sizeof res->message, "%s", m && sd_json_variant_is_string(m) ? sd_json_variant_string(m) : "");
        } else
                res->ok = 1;
        if (reply && sd_json_variant_format(reply, 0, &text) >= 0) {
                snprintf(res->reply, sizeof res->reply, "%s", text);
                free(text);
        }
        sd_json_variant_unref(params);
        sd_varlink_unref(v);
}

static VlResult vl_as_root(const char *method, const char *params_json) {
        VlResult res;

        vl_do(method, params_json, &res);
        return res;
}

static ssize_t read_all(int fd, void *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t n = read(fd, (char *) buf + done, size - done);

                if (n <= 0)
                        return n < 0 ? n : (ssize_t) done;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

/* Forks a child that runs as uid 65534: 0 in it, its pid in the parent. */
static pid_t fork_nobody(void) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0 && (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0))
                _exit(3);
        return pid;
}

/* Starts a call as uid 65534 in a forked child; its result comes back
 * through the returned pipe (vl_nobody_finish). */
static int vl_nobody_start(const char *method, const char *params_json, pid_t *ret_pid) {
        VlResult res = { 0 };
        int p[2];

        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        *ret_pid = fork_nobody();
        if (*ret_pid == 0) {
                vl_do(method, params_json, &res);
                _exit(write(p[1], &res, sizeof res) == (ssize_t) sizeof res ? 0 : 4);
        }
        close(p[1]);
        return p[0];
}

static VlResult vl_nobody_finish(int fd, pid_t pid) {
        VlResult res = { 0 };
        int status = 0;
        ssize_t n;

        n = read_all(fd, &res, sizeof res);
        close(fd);
        waitpid(pid, &status, 0);
        cr_assert(n == (ssize_t) sizeof res, "the uid 65534 child failed (status %d)", status);
        return res;
}

static VlResult vl_as_nobody(const char *method, const char *params_json) {
        pid_t pid;
        int fd = vl_nobody_start(method, params_json, &pid);

        return vl_nobody_finish(fd, pid);
}

static char *read_file(const char *path) {
        FILE *f = fopen(path, "re");
        char *text = NULL;
        size_t size = 0;

        cr_assert_not_null(f, "cannot open %s", path);
        cr_assert(getdelim(&text, &size, '\0', f) > 0);
        fclose(f);
        return text;
}

Test(varlink, serves_the_interface_of_proto, .init = setup, .fini = teardown) {
        const char *proto = getenv("VFBROKER_PROTO_VARLINK");
        VlResult r;
        sd_json_variant *reply = NULL, *d;
        char *want;

        cr_assert_not_null(proto, "VFBROKER_PROTO_VARLINK is not set (meson sets it)");
        want = read_file(proto);
        r = vl_as_nobody("org.varlink.service.GetInterfaceDescription", "{\"interface\":\"" IFACE "\"}");
        cr_assert(r.ok, "GetInterfaceDescription failed: %s %s", r.error_id, r.message);
        cr_assert(sd_json_parse(r.reply, 0, &reply, NULL, NULL) >= 0);
        d = sd_json_variant_by_key(reply, "description");
        cr_assert(d && sd_json_variant_is_string(d));
        cr_assert_str_eq(sd_json_variant_string(d), want,
                         "the daemon serves another interface than proto/io.vfbroker.Broker.varlink; "
                         "update the file from 'varlinkctl introspect' if the change is meant");
        sd_json_variant_unref(reply);
        free(want);
}

/* What D-Bus says about the broker, for comparison. */
static uint32_t bus_property(sd_bus *bus, const char *name) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t v = 0;

        cr_assert(sd_bus_get_property_trivial(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1", name, &error, 'u', &v) >= 0,
                  "%s: %s", name, error.message);
        return v;
}

static unsigned json_uint(sd_json_variant *o, const char *key) {
        sd_json_variant *v = sd_json_variant_by_key(o, key);

        cr_assert(v && sd_json_variant_is_unsigned(v), "no unsigned field %s", key);
        return (unsigned) sd_json_variant_unsigned(v);
}

static const char *json_str(sd_json_variant *o, const char *key) {
        sd_json_variant *v = sd_json_variant_by_key(o, key);

        cr_assert(v && sd_json_variant_is_string(v), "no string field %s", key);
        return sd_json_variant_string(v);
}

Test(varlink, answers_as_dbus_does, .init = setup, .fini = teardown) {
        sd_bus *bus = broker_connect(&b);
        sd_json_variant *reply = NULL, *pfs, *tenants;
        VlResult r;

        r = vl_as_nobody(IFACE ".GetStatus", "{}");
        cr_assert(r.ok, "GetStatus: %s %s", r.error_id, r.message);
        cr_assert(sd_json_parse(r.reply, 0, &reply, NULL, NULL) >= 0);
        cr_assert_str_eq(json_str(reply, "version"), "0.1.0");
        cr_assert_eq(json_uint(reply, "physicalFunctions"), bus_property(bus, "PhysicalFunctions"));
        cr_assert_eq(json_uint(reply, "virtualFunctions"), bus_property(bus, "VirtualFunctions"));
        cr_assert_eq(json_uint(reply, "leases"), bus_property(bus, "Leases"));
        reply = sd_json_variant_unref(reply);

        /* The fixture's PF is broken (no VFIO): the reason is the D-Bus one. */
        r = vl_as_nobody(IFACE ".ListPhysicalFunctions", "{}");
        cr_assert(r.ok, "ListPhysicalFunctions: %s %s", r.error_id, r.message);
        cr_assert(sd_json_parse(r.reply, 0, &reply, NULL, NULL) >= 0);
        pfs = sd_json_variant_by_key(reply, "physicalFunctions");
        cr_assert(pfs && sd_json_variant_elements(pfs) == 1);
        {
                sd_bus_error error = SD_BUS_ERROR_NULL;
                sd_bus_message *m = NULL;
                const char *key, *s, *state = NULL, *reason = NULL, *address = NULL;
                sd_json_variant *pf = sd_json_variant_by_index(pfs, 0);

                cr_assert(sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.vfbroker.Broker1",
                                             "ListPhysicalFunctions", &error, &m, "") >= 0, "%s", error.message);
                cr_assert(sd_bus_message_enter_container(m, 'a', "a{sv}") > 0);
                cr_assert(sd_bus_message_enter_container(m, 'a', "{sv}") > 0);
                while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                        cr_assert(sd_bus_message_read(m, "s", &key) >= 0);
                        if (strcmp(key, "Address") == 0 || strcmp(key, "State") == 0 || strcmp(key, "Reason") == 0) {
                                cr_assert(sd_bus_message_read(m, "v", "s", &s) >= 0);
                                if (strcmp(key, "Address") == 0)
                                        address = s;
                                else if (strcmp(key, "State") == 0)
                                        state = s;
                                else
                                        reason = s;
                        } else
                                cr_assert(sd_bus_message_skip(m, "v") >= 0);
                        cr_assert(sd_bus_message_exit_container(m) >= 0);
                }
                cr_assert_str_eq(json_str(pf, "address"), address);
                cr_assert_str_eq(json_str(pf, "state"), state);
                cr_assert_str_eq(json_str(pf, "reason"), reason);
                cr_assert_str_eq(json_str(pf, "state"), "broken");
                sd_bus_message_unref(m);
        }
        reply = sd_json_variant_unref(reply);

        /* A tenant made over Varlink is one D-Bus lists, and the other way round. */
        r = vl_as_root(IFACE ".CreateTenant", "{\"name\":\"viavarlink\",\"uids\":[65534,1000],\"quota\":3}");
        cr_assert(r.ok, "CreateTenant: %s %s", r.error_id, r.message);
        CallResult cr = call_as_root(&b, "CreateTenant", "sa{sv}", "viabus", NULL);
        cr_assert(cr.ok, "CreateTenant over D-Bus: %s", cr.error_message);
        r = vl_as_nobody(IFACE ".ListTenants", "{}");
        cr_assert(r.ok);
        cr_assert(sd_json_parse(r.reply, 0, &reply, NULL, NULL) >= 0);
        tenants = sd_json_variant_by_key(reply, "tenants");
        cr_assert(tenants && sd_json_variant_elements(tenants) == 4, "tenants: %s", r.reply);
        cr_assert(strstr(r.reply, "{\"name\":\"viavarlink\",\"quota\":3,\"leases\":0,\"fromConfig\":false,\"uids\":[1000,65534],\"gids\":[]}"),
                  "tenants: %s", r.reply);
        cr_assert(strstr(r.reply, "\"name\":\"viabus\""), "tenants: %s", r.reply);
        reply = sd_json_variant_unref(reply);
        r = vl_as_root(IFACE ".DeleteTenant", "{\"name\":\"viabus\"}");
        cr_assert(r.ok, "DeleteTenant: %s %s", r.error_id, r.message);
        cr = call_as_root(&b, "DeleteTenant", "sa{sv}", "viabus", NULL);
        cr_assert(!cr.ok && strcmp(cr.error_name, "org.vfbroker.Error.UnknownTenant") == 0, "%s", cr.error_name);
        sd_bus_flush_close_unref(bus);
}

Test(varlink, refusals_carry_the_dbus_error_and_sentence, .init = setup, .fini = teardown) {
        static const struct {
                const char *method, *params, *error_id, *text;
        } cases[] = {
                { IFACE ".AcquireVF", "{\"tenant\":\"nosuch\"}", IFACE ".UnknownTenant", "no tenant 'nosuch'" },
                { IFACE ".AcquireVF", "{\"tenant\":\"private\"}", IFACE ".NotAuthorized", "is not one of the users or groups of tenant 'private'" },
                { IFACE ".AcquireVF", "{\"tenant\":\"bad name\"}", IFACE ".InvalidArgument", "is not a valid tenant name" },
                { IFACE ".AcquireVF", "{\"tenant\":\"shared\",\"api\":\"bogus\"}", IFACE ".InvalidArgument", "API 'bogus' is unknown" },
                { IFACE ".AcquireVF", "{\"tenant\":\"shared\",\"numaNode\":5000}", IFACE ".InvalidArgument", "NumaNode 5000 is out of range" },
                { IFACE ".AcquireVF", "{\"tenant\":\"shared\",\"physicalFunction\":\"zz\"}", IFACE ".InvalidArgument", "is not a PCI address" },
                /* polkit (the mock) allows nothing yet */
                { IFACE ".AcquireVF", "{\"tenant\":\"shared\"}", IFACE ".NotAuthorized", "polkit does not allow uid 65534" },
                { IFACE ".CreateTenant", "{\"name\":\"mine\"}", IFACE ".NotAuthorized", "polkit does not allow uid 65534" },
                { IFACE ".ReleaseVF", "{\"lease\":\"0123456789abcdef0123456789abcdef\"}", IFACE ".UnknownLease", "no active lease" },
                { IFACE ".SetNumVFs", "{\"physicalFunction\":\"0000:09:00.0\",\"count\":1}", IFACE ".UnknownPhysicalFunction", "owns no PF 0000:09:00.0" },
                { IFACE ".ListVirtualFunctions", "{\"state\":\"gone\"}", IFACE ".InvalidArgument", "State 'gone' is none of" },
                { IFACE ".GetTenantToken", "{\"name\":\"shared\"}", IFACE ".NotSupported", "no PF is dedicated to tenant 'shared'" },
                /* sd-varlink's own checks against the interface */
                { IFACE ".AcquireVF", "{\"tenant\":\"shared\",\"numaNode\":\"x\"}", "org.varlink.service.InvalidParameter", "" },
                { IFACE ".AcquireVF", "{}", "org.varlink.service.InvalidParameter", "" },
                { IFACE ".GetStatus", "{\"extra\":1}", "org.varlink.service.InvalidParameter", "" },
                { IFACE ".NoSuchMethod", "{}", "org.varlink.service.MethodNotFound", "" },
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                VlResult r = vl_as_nobody(cases[i].method, cases[i].params);

                cr_assert(!r.ok, "%s %s succeeded", cases[i].method, cases[i].params);
                cr_assert_str_eq(r.error_id, cases[i].error_id, "%s %s: %s (%s)", cases[i].method, cases[i].params,
                                 r.error_id, r.message);
                cr_assert(strstr(r.message, cases[i].text), "%s %s: message '%s' lacks '%s'", cases[i].method,
                          cases[i].params, r.message, cases[i].text);
        }
        /* Every refusal is in the journal, as on D-Bus. */
        char *log = broker_log(&b);
        cr_assert(strstr(log, "Refused acquire for uid 65534"), "%s", log);
        free(log);
}

/* polkit answers later than the call came: the call runs again with the
 * answer (sd_varlink_dispatch_again), gets past polkit and on to the
 * allocator, which has no free VF in the fixture. */
Test(varlink, polkit_answer_resumes_the_call, .init = setup, .fini = teardown) {
        const char *const allowed[] = { "org.vfbroker.acquire-vf", NULL };
        VlResult res;
        pid_t pid;
        int fd;

        polkit_set_allowed(&b, allowed);
        polkit_simulate_hang(&b, true);
        fd = vl_nobody_start(IFACE ".AcquireVF", "{\"tenant\":\"shared\"}", &pid);
        /* No answer while polkit holds it back. */
        cr_assert_eq(poll(&(struct pollfd) { .fd = fd, .events = POLLIN }, 1, 1000), 0,
                     "the call was answered before polkit was");
        /* Other callers are served meanwhile. */
        VlResult s = vl_as_root(IFACE ".GetStatus", "{}");
        cr_assert(s.ok, "GetStatus while polkit is asked: %s %s", s.error_id, s.message);
        polkit_release_hanging(&b);
        res = vl_nobody_finish(fd, pid);
        cr_assert_str_eq(res.error_id, IFACE ".NoFreeVF", "%s: %s", res.error_id, res.message);
        cr_assert(strstr(res.message, "no free VF for tenant 'shared'"), "%s", res.message);
}

/* A caller that hangs up while polkit is asked: its question is cancelled
 * with the connection and the broker goes on. */
Test(varlink, disconnect_while_polkit_is_asked, .init = setup, .fini = teardown) {
        const char *const allowed[] = { "org.vfbroker.acquire-vf", NULL };

        polkit_set_allowed(&b, allowed);
        polkit_simulate_hang(&b, true);
        for (int i = 0; i < 3; i++) {
                pid_t pid = fork_nobody();
                int status = 0;

                if (pid == 0) {
                        sd_varlink *v = NULL;

                        if (sd_varlink_connect_address(&v, varlink_path) < 0)
                                _exit(4);
                        if (sd_varlink_invokebo(v, IFACE ".AcquireVF", SD_JSON_BUILD_PAIR_STRING("tenant", "shared")) < 0)
                                _exit(5);
                        (void) sd_varlink_flush(v);
                        usleep(200 * 1000);
                        _exit(0); /* hangs up with the call in flight */
                }
                waitpid(pid, &status, 0);
                cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        }
        polkit_release_hanging(&b);
        usleep(300 * 1000);
        cr_assert(kill(b.broker_pid, 0) == 0, "vfbrokerd is gone:\n%s", broker_log(&b));
        VlResult s = vl_as_nobody(IFACE ".GetStatus", "{}");
        cr_assert(s.ok, "GetStatus after the hang-ups: %s %s", s.error_id, s.message);
}

/* MaxConnectionsPerUser=3: a user that holds three connections gets no
 * fourth, and locks out nobody else. */
Test(varlink, connections_per_user_are_bounded, .init = setup, .fini = teardown) {
        int p[2], status = 0;
        char verdict = 0;
        pid_t pid;

        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        pid = fork_nobody();
        if (pid == 0) {
                sd_varlink *held[3] = { NULL };
                VlResult r;

                for (int i = 0; i < 3; i++) {
                        sd_json_variant *reply = NULL;
                        const char *error_id = NULL;

                        if (sd_varlink_connect_address(&held[i], varlink_path) < 0 ||
                            sd_varlink_call(held[i], IFACE ".GetStatus", NULL, &reply, &error_id) < 0 || error_id)
                                _exit(10 + i);
                }
                vl_do(IFACE ".GetStatus", "{}", &r);
                verdict = r.ok ? 'y' : 'n';
                _exit(write(p[1], &verdict, 1) == 1 ? 0 : 4);
        }
        close(p[1]);
        cr_assert(read(p[0], &verdict, 1) == 1);
        close(p[0]);
        waitpid(pid, &status, 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
        cr_assert_eq(verdict, 'n', "a fourth connection of uid 65534 was served");
        VlResult s = vl_as_root(IFACE ".GetStatus", "{}");
        cr_assert(s.ok, "root was locked out: %s %s", s.error_id, s.message);
}

/* No call takes an fd: one a client attaches is never kept. If the broker
 * held the write end of our pipe, its read end would not see EOF. */
Test(varlink, fds_sent_by_a_client_are_not_kept, .init = setup, .fini = teardown) {
        static const char call[] = "{\"method\":\"" IFACE ".GetStatus\",\"parameters\":{}}";
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = { 0 };
        struct iovec iov = { .iov_base = (void *) call, .iov_len = sizeof call }; /* with its NUL */
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        char reply[512], c;
        int pipefd[2], s;
        ssize_t n;

        cr_assert(pipe2(pipefd, O_CLOEXEC) == 0);
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memcpy(sa.sun_path, varlink_path, strlen(varlink_path) + 1);
        cr_assert(connect(s, (struct sockaddr *) &sa, sizeof sa) == 0);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &pipefd[1], sizeof(int));
        cr_assert(sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t) sizeof call);
        close(pipefd[1]);
        n = recv(s, reply, sizeof reply - 1, 0);
        cr_assert(n > 0, "no reply");
        reply[n] = 0;
        cr_assert(strstr(reply, "\"version\""), "reply: %s", reply);
        /* EOF: nobody holds the write end any more. */
        cr_assert_eq(poll(&(struct pollfd) { .fd = pipefd[0], .events = POLLIN }, 1, 2000), 1);
        cr_assert_eq(read(pipefd[0], &c, 1), 0, "the broker keeps the fd the client sent");
        close(pipefd[0]);
        close(s);
}

/* IdleTimeoutSec=: a connection that sends no call, or half of one, is
 * closed; one whose call waits on polkit is not. */
Test(varlink, idle_connections_are_closed, .init = setup_idle, .fini = teardown) {
        const char *const allowed[] = { "org.vfbroker.acquire-vf", NULL };
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        sd_varlink *v = NULL;
        sd_json_variant *reply = NULL;
        const char *error_id = NULL;
        char c;
        int s, r;

        cr_assert(sd_varlink_connect_address(&v, varlink_path) >= 0);
        cr_assert(sd_varlink_call(v, IFACE ".GetStatus", NULL, &reply, &error_id) >= 0 && !error_id);
        /* half a message, then nothing */
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        memcpy(sa.sun_path, varlink_path, strlen(varlink_path) + 1);
        cr_assert(connect(s, (struct sockaddr *) &sa, sizeof sa) == 0);
        cr_assert(send(s, "{\"method\":\"" IFACE ".GetSt", 30, MSG_NOSIGNAL) == 30);
        sleep(3);
        r = sd_varlink_call(v, IFACE ".GetStatus", NULL, &reply, &error_id);
        cr_assert(r < 0 || (error_id && strcmp(error_id, SD_VARLINK_ERROR_DISCONNECTED) == 0),
                  "an idle connection was kept (r=%d, error %s)", r, error_id ? error_id : "none");
        cr_assert_eq(poll(&(struct pollfd) { .fd = s, .events = POLLIN }, 1, 2000), 1);
        cr_assert_eq(recv(s, &c, 1, 0), 0, "a connection with half a message was kept");
        close(s);
        sd_varlink_unref(v);

        /* A call waiting on polkit for longer than that gets its answer. */
        polkit_set_allowed(&b, allowed);
        polkit_simulate_hang(&b, true);
        {
                pid_t pid;
                int fd = vl_nobody_start(IFACE ".AcquireVF", "{\"tenant\":\"shared\"}", &pid);
                VlResult res;

                sleep(3);
                polkit_release_hanging(&b);
                res = vl_nobody_finish(fd, pid);
                cr_assert_str_eq(res.error_id, IFACE ".NoFreeVF", "%s: %s", res.error_id, res.message);
        }
}

static int connect_raw(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        cr_assert_geq(s, 0);
        memcpy(sa.sun_path, varlink_path, strlen(varlink_path) + 1);
        cr_assert(connect(s, (struct sockaddr *) &sa, sizeof sa) == 0);
        return s;
}

/* A call longer than the 64 KiB any real call needs closes its connection
 * (sd-varlink alone would hold 16 MiB of it); a CreateTenant with the most
 * ids a tenant may have is far below and goes through. */
Test(varlink, oversized_messages_close_the_connection, .init = setup, .fini = teardown) {
        static char big[100 * 1024];
        char json[24 * 1024], c;
        size_t n = 0;
        ssize_t k;
        int s;

        s = connect_raw();
        memset(big, 'a', sizeof big);
        memcpy(big, "{\"method\":\"" IFACE ".GetStatus\",\"parameters\":{\"x\":\"", 47);
        for (size_t off = 0; off < sizeof big; off += (size_t) k) {
                k = send(s, big + off, sizeof big - off, MSG_NOSIGNAL);
                if (k < 0)
                        break; /* closed under us: EPIPE or ECONNRESET */
        }
        cr_assert_eq(poll(&(struct pollfd) { .fd = s, .events = POLLIN }, 1, 5000), 1);
        k = recv(s, &c, 1, 0);
        cr_assert(k == 0 || (k < 0 && errno == ECONNRESET), "a 100 KiB message was taken (recv %zd)", k);
        close(s);
        char *log = broker_log(&b);
        cr_assert(strstr(log, "it sent a message of more than 64 KiB"), "%s", log);
        free(log);

        n += (size_t) snprintf(json + n, sizeof json - n, "{\"name\":\"many\",\"uids\":[");
        for (unsigned i = 0; i < 1024; i++)
                n += (size_t) snprintf(json + n, sizeof json - n, "%s%u", i ? "," : "", 4000000000U + i);
        n += (size_t) snprintf(json + n, sizeof json - n, "],\"gids\":[");
        for (unsigned i = 0; i < 1024; i++)
                n += (size_t) snprintf(json + n, sizeof json - n, "%s%u", i ? "," : "", 4000000000U + i);
        snprintf(json + n, sizeof json - n, "]}");
        VlResult r = vl_as_root(IFACE ".CreateTenant", json);
        cr_assert(r.ok, "CreateTenant with 2048 ids (%zu bytes): %s %s", strlen(json), r.error_id, r.message);
}

/* Calls sent all at once, without reading: each gets its answer, in order
 * (the relay hands sd-varlink one call at a time). */
Test(varlink, pipelined_calls_are_answered_in_order, .init = setup, .fini = teardown) {
        static const char call_ok[] = "{\"method\":\"" IFACE ".GetStatus\",\"parameters\":{}}";
        static const char call_bad[] = "{\"method\":\"" IFACE ".AcquireVF\",\"parameters\":{\"tenant\":\"nosuch\"}}";
        char all[8192], reply[65536];
        size_t n = 0, got = 0;
        unsigned replies = 0;
        int s = connect_raw();

        for (int i = 0; i < 40; i++) {
                const char *c = i % 2 ? call_bad : call_ok;

                memcpy(all + n, c, strlen(c) + 1);
                n += strlen(c) + 1;
        }
        cr_assert(send(s, all, n, MSG_NOSIGNAL) == (ssize_t) n);
        while (replies < 40 && poll(&(struct pollfd) { .fd = s, .events = POLLIN }, 1, 5000) == 1) {
                ssize_t k = recv(s, reply + got, sizeof reply - got - 1, 0);

                cr_assert(k > 0, "the connection closed after %u replies", replies);
                for (ssize_t i = 0; i < k; i++)
                        if (reply[got + (size_t) i] == 0)
                                replies++;
                got += (size_t) k;
        }
        cr_assert_eq(replies, 40);
        /* in order: an answer with "version", then the UnknownTenant error, and so on */
        const char *p = reply;
        for (int i = 0; i < 40; i++, p += strlen(p) + 1)
                cr_assert(strstr(p, i % 2 ? "UnknownTenant" : "\"version\""), "reply %d: %s", i, p);
        close(s);
}
