/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the D-Bus method handlers: per input a fresh daemon
 * (manager_new + manager_start on a fixture sysfs, a fake /dev/vfio and a
 * new store), one authenticated peer on a socketpair (client_new, the
 * daemon's own accept path), and a sequence of method calls decoded from the
 * input, each answered before the next unless the input says otherwise. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/vfio.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "client.h"
#include "fuzz-util.h"
#include "manager.h"

#define OBJECT_PATH "/org/vfbroker/Broker1"
#define INTERFACE "org.vfbroker.Broker1"

/* Bounds per input, so one input stays one short call sequence. */
#define CALLS_MAX 48
#define OPTIONS_MAX 20
#define ARRAY_MAX 300
#define STRING_MAX 300
#define REMEMBERED_MAX 8
/* A call the daemon never answers is a finding: sd-bus times it out. */
#define CALL_TIMEOUT_USEC (10ULL * 1000 * 1000)
/* OP_WAIT in all, per input. */
#define WAIT_BUDGET_USEC (250ULL * 1000)

static char *dir, *fixture_sysfs, *dev_root, *state_dir, *config_file, *dropin_dir, *listen_path;

/* ---- input decoding ---------------------------------------------------------- */

typedef struct Input {
        const uint8_t *data;
        size_t size;
} Input;

static uint8_t get_u8(Input *in) {
        uint8_t b;

        if (in->size == 0)
                return 0;
        b = in->data[0];
        in->data++;
        in->size--;
        return b;
}

static uint32_t get_u32(Input *in) {
        uint32_t v = 0;

        for (unsigned i = 0; i < 4; i++)
                v = v << 8 | get_u8(in);
        return v;
}

/* Strings the handlers treat specially, and some that are almost those. */
static const char *const words[] = {
        "acme", "beta", "fuzz", "gamma", "", ".x", "-x", "a_b.c-d",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  /* 64: longest name */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
        "0000:01:00.0", "01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:04:00.0",
        "0000:01:00.1", "0000:01:00.4", "0000:02:10.1", "0000:03:00.2", "0000:ff:1f.7", "0000:01:20.0",
        "0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789ABCDEF",
        "%s%s%n%x", "x\nFORGED-AUDIT Tenant 'root' created by uid 0.", "root", "nobody",
        "PhysicalFunction", "NumaNode", "Uids", "Gids", "Quota", "Force",
        "API", "iommufd", "group", "IOMMUFD",
};

static const char *const option_keys[] = {
        "PhysicalFunction", "NumaNode", "Uids", "Gids", "Quota", "Force", "", "Unknown", "physicalfunction",
        "API",
};

#define REPLIED_MAX 4096U

typedef struct State {
        Manager *manager;
        sd_bus *bus;
        unsigned pending;          /* calls sent, reply not yet seen */
        char *remembered[REMEMBERED_MAX]; /* lease ids and names from replies, for later calls */
        unsigned n_remembered;
        sd_bus_message *check_reply;      /* the ListLeases reply check_leases() looks at */
        uint64_t replied[REPLIED_MAX];    /* reply cookies seen, to catch a second reply to one call */
        unsigned n_replied;
} State;

static void remember(State *s, const char *v) {
        char *copy = strdup(v);
        unsigned i = s->n_remembered % REMEMBERED_MAX;

        if (!copy)
                abort();
        free(s->remembered[i]);
        s->remembered[i] = copy;
        s->n_remembered++;
}

/* A string: a word, something a reply handed back, or text from the input
 * (ASCII without NUL, which sd-bus would refuse to send). */
static char *get_string(Input *in, State *s, char buf[static STRING_MAX + 1]) {
        uint8_t how = get_u8(in);
        size_t n;

        switch (how % 4) {
        case 0:
        case 3:
                snprintf(buf, STRING_MAX + 1, "%s", words[get_u8(in) % ELEMENTSOF(words)]);
                if (how % 4 == 3 && buf[0])
                        /* Near misses: one character changed. */
                        buf[get_u8(in) % strlen(buf)] = (char) (get_u8(in) % 0x7f + 1);
                return buf;
        case 1:
                if (s->n_remembered > 0) {
                        unsigned i = get_u8(in) % MIN(s->n_remembered, REMEMBERED_MAX);
                        snprintf(buf, STRING_MAX + 1, "%s", s->remembered[i]);
                        return buf;
                }
                __attribute__((fallthrough));
        default:
                /* MIN() evaluates its arguments twice: read the length first. */
                n = (size_t) get_u8(in) + (how >= 128 ? 200 : 0);
                n = MIN(n, MIN(in->size, (size_t) STRING_MAX));
                for (size_t i = 0; i < n; i++) {
                        uint8_t c = get_u8(in);
                        buf[i] = c == 0 || c >= 0x80 ? '?' : (char) c;
                }
                buf[n] = '\0';
                return buf;
        }
}

static int append_ids(sd_bus_message *m, Input *in) {
        unsigned n = get_u8(in);
        int r;

        if (n > 250)
                n = 250 + (get_u8(in) % (ARRAY_MAX - 249)); /* around TENANT_IDS_MAX */
        r = sd_bus_message_open_container(m, 'a', "u");
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                uint8_t b = get_u8(in);
                uint32_t id = b < 200 ? b : b < 250 ? 65534 : get_u32(in);
                r = sd_bus_message_append(m, "u", id);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* One variant, of the type the key wants or of another. */
static int append_variant(sd_bus_message *m, Input *in, State *s) {
        char buf[STRING_MAX + 1];

        switch (get_u8(in) % 11) {
        case 0:
                return sd_bus_message_append(m, "v", "s", get_string(in, s, buf));
        case 1:
                return sd_bus_message_append(m, "v", "i", (int32_t) get_u32(in));
        case 2:
                return sd_bus_message_append(m, "v", "u", get_u32(in));
        case 3:
                return sd_bus_message_append(m, "v", "b", (int) (get_u8(in) & 1));
        case 4: {
                int r = sd_bus_message_open_container(m, 'v', "au");
                if (r >= 0)
                        r = append_ids(m, in);
                return r < 0 ? r : sd_bus_message_close_container(m);
        }
        case 5:
                return sd_bus_message_append(m, "v", "as", 2, get_string(in, s, buf), "x");
        case 6: {
                uint64_t hi = get_u32(in);
                return sd_bus_message_append(m, "v", "t", hi << 32 | get_u32(in));
        }
        case 7:
                return sd_bus_message_append(m, "v", "y", get_u8(in));
        case 8:
                return sd_bus_message_append(m, "v", "v", "s", get_string(in, s, buf));
        case 9:
                return sd_bus_message_append(m, "v", "a{sv}", 1, "Quota", "u", get_u32(in));
        default: {
                /* Small numbers are what the handlers compare against. */
                uint8_t b = get_u8(in);
                return sd_bus_message_append(m, "v", b & 1 ? "u" : "i", (uint32_t) (b >> 1) - 8);
        }
        }
}

static int append_options(sd_bus_message *m, Input *in, State *s) {
        unsigned n = get_u8(in) % (OPTIONS_MAX + 1);
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        for (unsigned i = 0; r >= 0 && i < n; i++) {
                char buf[STRING_MAX + 1];
                uint8_t k = get_u8(in);
                const char *key = k < 240 ? option_keys[k % ELEMENTSOF(option_keys)] : get_string(in, s, buf);

                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", key);
                if (r >= 0)
                        r = append_variant(m, in, s);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* Arguments of the right types in the wrong order or number: the vtable's
 * signature check, and whatever slips past it. */
static int append_random_args(sd_bus_message *m, Input *in, State *s) {
        unsigned n = get_u8(in) % 4;
        int r = 0;

        for (unsigned i = 0; r >= 0 && i < n; i++) {
                char buf[STRING_MAX + 1];

                switch (get_u8(in) % 6) {
                case 0:
                        r = sd_bus_message_append(m, "s", get_string(in, s, buf));
                        break;
                case 1:
                        r = sd_bus_message_append(m, "u", get_u32(in));
                        break;
                case 2:
                        r = append_options(m, in, s);
                        break;
                case 3:
                        r = sd_bus_message_append(m, "o", "/org/vfbroker/Broker1");
                        break;
                case 4:
                        r = sd_bus_message_append(m, "ay", 0);
                        break;
                default:
                        r = append_variant(m, in, s);
                }
        }
        return r;
}

/* ---- the calls ----------------------------------------------------------------- */

typedef enum ArgKind {
        ARGS_NONE,
        ARGS_S,
        ARGS_S_OPTIONS,
        ARGS_S_U,
} ArgKind;

typedef struct Method {
        const char *path, *interface, *member;
        ArgKind args;
} Method;

static const Method methods[] = {
        { OBJECT_PATH, INTERFACE, "ListPhysicalFunctions", ARGS_NONE },
        { OBJECT_PATH, INTERFACE, "ListVirtualFunctions", ARGS_NONE },
        { OBJECT_PATH, INTERFACE, "ListLeases", ARGS_NONE },
        { OBJECT_PATH, INTERFACE, "ListTenants", ARGS_NONE },
        { OBJECT_PATH, INTERFACE, "AcquireVF", ARGS_S_OPTIONS },
        { OBJECT_PATH, INTERFACE, "ReleaseVF", ARGS_S },
        { OBJECT_PATH, INTERFACE, "RevokeLease", ARGS_S },
        { OBJECT_PATH, INTERFACE, "CreateTenant", ARGS_S_OPTIONS },
        { OBJECT_PATH, INTERFACE, "DeleteTenant", ARGS_S_OPTIONS },
        { OBJECT_PATH, INTERFACE, "RotateToken", ARGS_S },
        { OBJECT_PATH, INTERFACE, "GetTenantToken", ARGS_S },
        { OBJECT_PATH, INTERFACE, "SetNumVFs", ARGS_S_U },
        { OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get", ARGS_NONE },   /* (ss) built below */
        { OBJECT_PATH, "org.freedesktop.DBus.Properties", "GetAll", ARGS_S },
        { OBJECT_PATH, "org.freedesktop.DBus.Introspectable", "Introspect", ARGS_NONE },
        { "/", "org.freedesktop.DBus.Introspectable", "Introspect", ARGS_NONE },
        { "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello", ARGS_NONE },
        { OBJECT_PATH, "org.freedesktop.DBus.Peer", "Ping", ARGS_NONE },
        { OBJECT_PATH, INTERFACE, "NoSuchMethod", ARGS_S },
        { "/org/vfbroker/Broker2", INTERFACE, "ListLeases", ARGS_NONE },
};

/* Operations that are not a method call. */
enum {
        OP_FAULT = ELEMENTSOF(methods), /* make the next VFIO ioctls fail */
        OP_WAIT,                        /* let the daemon's timers run a little (1-50 ms) */
        OP_RESTART,                     /* a new daemon on the same store and devices, a new peer */
        _OP_MAX,
};

/* The fake VFIO's fault injection: ioctls after the next fault_after ones
 * fail with fault_errno, fault_count times. */
static unsigned fault_after, fault_count;
static int fault_errno;

typedef struct Call {
        State *state;
        uint64_t sent_usec;
        const Method *method;
        bool wrong;
} Call;

/* $VFBROKER_FUZZ_REPLIES=1: one line per reply, to see what a corpus reaches. */
static bool show_replies;

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Call *call = userdata;
        State *s = call->state;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        uint64_t now = 0;

        (void) sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now);
        s->pending--;
        if (show_replies)
                fprintf(stderr, "fuzz-bus: %s%s -> %s%s%s\n", call->method->member, call->wrong ? " (wrong arguments)" : "",
                        e ? e->name : "ok", e ? ": " : "", e ? strna(e->message) : "");
        /* sd-bus's own NoReply after the timeout: the daemon never answered.
         * (NoReply because the daemon hung up comes sooner.) */
        if (e && sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) && now - call->sent_usec >= CALL_TIMEOUT_USEC) {
                fprintf(stderr, "fuzz-bus: a call got no reply within %llu s\n", CALL_TIMEOUT_USEC / 1000000ULL);
                abort();
        }
        /* The contract (proto/org.vfbroker.Broker1.xml): a well-formed call
         * of Broker1 fails only with one of the named org.vfbroker.Error.*
         * errors, never with an errno sd-bus made up from a handler's return. */
        if (e && !call->wrong && streq(call->method->path, OBJECT_PATH) && streq(call->method->interface, INTERFACE) &&
            !streq(call->method->member, "NoSuchMethod") && !sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) &&
            strncmp(e->name, "org.vfbroker.Error.", strlen("org.vfbroker.Error.")) != 0) {
                fprintf(stderr, "fuzz-bus: %s failed with %s (%s), not an org.vfbroker.Error\n",
                        call->method->member, e->name, strna(e->message));
                abort();
        }
        free(call);
        if (e || !streq_ptr(sd_bus_message_get_signature(reply, true), "ssuhhh"))
                return 0;
        /* AcquireVF: remember the lease for later ReleaseVF/RevokeLease. */
        const char *lease, *address;
        if (sd_bus_message_read(reply, "ss", &lease, &address) >= 0)
                remember(s, lease);
        return 0;
}

/* SIGTERM or SIGINT during an input reaches the daemon's signal sources (it
 * blocks both), which end its event loop: the user stopped the run. */
static void exit_if_stopped(State *s) {
        int code;

        if (sd_event_get_exit_code(s->manager->event, &code) < 0)
                return;
        fprintf(stderr, "fuzz-bus: stopped by a signal\n");
        fuzz_remove_tree(dir);
        _exit(130);
}

static void run_until(State *s, unsigned pending_at_most) {
        while (s->pending > pending_at_most) {
                int r = sd_event_run(s->manager->event, UINT64_MAX);
                exit_if_stopped(s);
                if (r < 0) {
                        fprintf(stderr, "fuzz-bus: sd_event_run: %s\n", strerror(-r));
                        abort();
                }
        }
}

static void run_for(State *s, uint64_t usec) {
        uint64_t start, now;

        (void) sd_event_now(s->manager->event, CLOCK_MONOTONIC, &start);
        do {
                (void) sd_event_run(s->manager->event, usec);
                exit_if_stopped(s);
                (void) sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now);
        } while (now - start < usec);
}

static void do_call(State *s, Input *in, uint8_t op) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const Method *me = &methods[op % ELEMENTSOF(methods)];
        bool wrong = get_u8(in) < 24, pipeline = get_u8(in) < 64;
        char a[STRING_MAX + 1], b[STRING_MAX + 1];
        int r;

        r = sd_bus_message_new_method_call(s->bus, &m, NULL, me->path, me->interface, me->member);
        if (r < 0)
                abort();
        if (wrong)
                r = append_random_args(m, in, s);
        else if (streq(me->member, "Get")) {
                static const char *const properties[] = {
                        "Version", "PhysicalFunctions", "VirtualFunctions", "Leases", "Nope",
                };
                const char *iface = get_u8(in) & 1 ? INTERFACE : "org.nope";
                r = sd_bus_message_append(m, "ss", iface, properties[get_u8(in) % ELEMENTSOF(properties)]);
        }
        else
                switch (me->args) {
                case ARGS_NONE:
                        break;
                case ARGS_S:
                        r = sd_bus_message_append(m, "s", get_string(in, s, a));
                        break;
                case ARGS_S_OPTIONS:
                        r = sd_bus_message_append(m, "s", get_string(in, s, a));
                        if (r >= 0)
                                r = append_options(m, in, s);
                        if (r >= 0 && streq(me->member, "CreateTenant"))
                                remember(s, a);
                        break;
                case ARGS_S_U: {
                        const char *pf = get_string(in, s, b);
                        uint8_t k = get_u8(in);
                        r = sd_bus_message_append(m, "su", pf, k < 200 ? (uint32_t) k % 8 : get_u32(in));
                        break;
                }
                }
        if (r < 0)
                return; /* sd-bus refused to build it: nothing to send */

        Call *call = calloc(1, sizeof *call);
        if (!call)
                abort();
        call->state = s;
        call->method = me;
        call->wrong = wrong;
        (void) sd_event_now(s->manager->event, CLOCK_MONOTONIC, &call->sent_usec);
        r = sd_bus_call_async(s->bus, NULL, m, on_reply, call, CALL_TIMEOUT_USEC);
        if (r < 0) {
                free(call);
                return;
        }
        s->pending++;
        if (!pipeline)
                run_until(s, 0);
}

/* ---- the fake VFIO ------------------------------------------------------------- */

/* vfio.c's ioctls land here (the target links with --wrap=ioctl); those on
 * files below dev_root get the answers of a VFIO that works. */
int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);

static bool endswith_(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);

        return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool fd_is_fake(int fd) {
        char proc[64], target[PATH_MAX];
        size_t n = strlen(dev_root);
        ssize_t k;

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        k = readlink(proc, target, sizeof target - 1);
        if (k < 0)
                return false;
        target[k] = '\0';
        return strncmp(target, dev_root, n) == 0 && target[n] == '/';
}

int __wrap_ioctl(int fd, unsigned long request, ...) {
        va_list ap;
        void *arg;

        va_start(ap, request);
        arg = va_arg(ap, void *);
        va_end(ap);

        if (!fd_is_fake(fd))
                return __real_ioctl(fd, request, arg);

        if (fault_after > 0)
                fault_after--;
        else if (fault_count > 0) {
                fault_count--;
                errno = fault_errno;
                return -1;
        }

        switch (request) {
        case VFIO_GET_API_VERSION:
                return VFIO_API_VERSION;
        case VFIO_CHECK_EXTENSION:
                return 1;
        case VFIO_GROUP_GET_STATUS: {
                struct vfio_group_status *st = arg;
                st->flags = VFIO_GROUP_FLAGS_VIABLE;
                return 0;
        }
        case VFIO_GROUP_SET_CONTAINER:
        case VFIO_SET_IOMMU:
        case VFIO_DEVICE_FEATURE:
                return 0;
        case VFIO_GROUP_GET_DEVICE_FD: {
                char path[PATH_MAX];

                fuzz_touch(arg, strlen(arg) + 1);
                snprintf(path, sizeof path, "%s/vfio/device", dev_root);
                return open(path, O_RDWR | O_CLOEXEC);
        }
        case VFIO_DEVICE_GET_INFO: {
                struct vfio_device_info *info = arg;
                info->flags = VFIO_DEVICE_FLAGS_PCI;
                return 0;
        }
        default:
                errno = ENOTTY;
                return -1;
        }
}

/* ---- the fake sriov_numvfs ------------------------------------------------------ */

static const struct {
        const char *pf, *vf_prefix, *driver;
        unsigned group, vfs;
        bool kmod;
} pfs[] = {
        { "0000:01:00.0", "0000:01:00.", "vfio-pci", 1, 4, false },
        { "0000:02:00.0", "0000:02:10.", "vfio-pci", 2, 2, false },
        { "0000:03:00.0", "0000:03:00.", "vfbroker_vfio_pci", 3, 2, true },
};

/* Off while the fixture is built, whose own writes are not the daemon's. */
static bool fake_kernel;
/* What the fake kernel has enabled, per PF: sriov_numvfs as written last. */
static unsigned numvfs[ELEMENTSOF(pfs)];

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);

/* A write to a PF's sriov_numvfs acts like the kernel's: refused with EBUSY
 * from one non-zero count to another, and the virtfnN links follow the new
 * count (the VFs' own directories stay: nothing reaches them but through
 * the links). The target links with --wrap=write. */
ssize_t __wrap_write(int fd, const void *buf, size_t n) {
        char proc[64], path[PATH_MAX], value[16], cur[16] = "";
        size_t root = strlen(fixture_sysfs);
        ssize_t k;
        unsigned want, now;
        int e = 0;

        if (!fake_kernel)
                return __real_write(fd, buf, n);
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        k = readlink(proc, path, sizeof path - 1);
        if (k < 0)
                return __real_write(fd, buf, n);
        path[k] = '\0';
        if (strncmp(path, fixture_sysfs, root) != 0 || !endswith_(path, "/sriov_numvfs"))
                return __real_write(fd, buf, n);

        for (size_t i = 0; i < ELEMENTSOF(pfs); i++) {
                char pf_dir[PATH_MAX], entry[PATH_MAX + 16], target[64];
                snprintf(pf_dir, sizeof pf_dir, "%s/sys/bus/pci/devices/%s", fixture_sysfs, pfs[i].pf);
                if (strncmp(path, pf_dir, strlen(pf_dir)) != 0)
                        continue;
                snprintf(value, sizeof value, "%.*s", (int) MIN(n, sizeof value - 1), (const char *) buf);
                now = numvfs[i];
                want = now;
                if (sscanf(value, "%u", &want) != 1)
                        e = EINVAL;
                else if (want > pfs[i].vfs)
                        e = ERANGE;
                else if (now != 0 && want != 0 && now != want)
                        e = EBUSY;
                if (e != 0) {
                        /* open(O_TRUNC) emptied the file; the kernel's would still say now. */
                        snprintf(cur, sizeof cur, "%u\n", now);
                        (void) __real_write(fd, cur, strlen(cur));
                        errno = e;
                        return -1;
                }
                numvfs[i] = want;
                for (unsigned v = 0; v < pfs[i].vfs; v++) {
                        snprintf(entry, sizeof entry, "%s/virtfn%u", pf_dir, v);
                        snprintf(target, sizeof target, "../%s%u", pfs[i].vf_prefix, v + 1);
                        if (v >= want)
                                (void) unlink(entry);
                        else if (symlink(target, entry) < 0 && errno != EEXIST)
                                abort();
                }
                break;
        }
        return __real_write(fd, buf, n);
}

/* ---- the fixture ----------------------------------------------------------------- */

static void fixture_file(const char *rel, const char *content) {
        char *p;

        if (asprintf(&p, "%s/%s", fixture_sysfs, rel) < 0)
                abort();
        fuzz_write_string(p, content);
        free(p);
}

static void fixture_dir(const char *rel) {
        char *p;

        if (asprintf(&p, "%s/%s", fixture_sysfs, rel) < 0)
                abort();
        fuzz_mkdir(p);
        free(p);
}

static void fixture_link(const char *target, const char *rel) {
        char *p;

        if (asprintf(&p, "%s/%s", fixture_sysfs, rel) < 0)
                abort();
        fuzz_symlink(target, p);
        free(p);
}

static void dev_file(const char *name) {
        char *p;

        if (asprintf(&p, "%s/vfio/%s", dev_root, name) < 0)
                abort();
        fuzz_write_string(p, "");
        free(p);
}

static void fixture_function(const char *bdf, const char *driver, unsigned group, bool kmod_attrs) {
        char rel[256], target[128], g[16];

        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s", bdf);
        fixture_dir(rel);
#define ATTR(name, value)                                                        \
        do {                                                                     \
                snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/%s", bdf, name); \
                fixture_file(rel, value);                                        \
        } while (0)
        ATTR("vendor", "0x8086\n");
        ATTR("device", "0x10ca\n");
        ATTR("numa_node", group % 2 ? "1\n" : "0\n");
        ATTR("driver_override", "(null)\n");
        if (kmod_attrs) {
                ATTR("vfbroker_token", "\n");
                ATTR("vfbroker_revoke", "0\n");
        }
#undef ATTR
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/driver", bdf);
        snprintf(target, sizeof target, "../../drivers/%s", driver);
        fixture_link(target, rel);
        snprintf(rel, sizeof rel, "sys/kernel/iommu_groups/%u", group);
        fixture_dir(rel);
        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/iommu_group", bdf);
        snprintf(target, sizeof target, "../../../kernel/iommu_groups/%u", group);
        fixture_link(target, rel);
        snprintf(g, sizeof g, "%u", group);
        dev_file(g);
}

/* PFs: 01:00.0 pool on vfio-pci (4 VFs), 02:00.0 dedicated to acme (2 VFs),
 * 03:00.0 pool on the variant driver, found by its interface (2 VFs). */
static void fixture_build(void) {
        fake_kernel = false;
        for (size_t i = 0; i < ELEMENTSOF(pfs); i++)
                numvfs[i] = pfs[i].vfs;
        char rel[256], target[64], vf[32], n[16];

        fuzz_remove_tree(fixture_sysfs);
        fuzz_remove_tree(dev_root);
        fuzz_mkdir(fixture_sysfs);
        snprintf(rel, sizeof rel, "%s/vfio", dev_root);
        fuzz_mkdir(rel);
        dev_file("vfio");
        dev_file("device");

        fixture_dir("sys/bus/pci/drivers/vfio-pci");
        fixture_dir("sys/bus/pci/drivers/vfbroker_vfio_pci");
        fixture_file("sys/bus/pci/drivers_probe", "");
        fixture_dir("sys/module/vfio_pci/parameters");
        fixture_file("sys/module/vfio_pci/parameters/enable_sriov", "Y\n");
        fixture_dir("sys/module/vfbroker_vfio_pci/parameters");
        fixture_file("sys/module/vfbroker_vfio_pci/parameters/enable_sriov", "N\n");

        for (size_t i = 0; i < ELEMENTSOF(pfs); i++) {
                fixture_function(pfs[i].pf, pfs[i].driver, pfs[i].group, false);
                snprintf(n, sizeof n, "%u\n", pfs[i].vfs);
                snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/sriov_totalvfs", pfs[i].pf);
                fixture_file(rel, n);
                snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/sriov_numvfs", pfs[i].pf);
                fixture_file(rel, n);
                for (unsigned v = 0; v < pfs[i].vfs; v++) {
                        snprintf(vf, sizeof vf, "%s%u", pfs[i].vf_prefix, v + 1);
                        fixture_function(vf, pfs[i].driver, 10 * (unsigned) (i + 1) + v, pfs[i].kmod);
                        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/physfn", vf);
                        snprintf(target, sizeof target, "../%s", pfs[i].pf);
                        fixture_link(target, rel);
                        snprintf(rel, sizeof rel, "sys/bus/pci/devices/%s/virtfn%u", pfs[i].pf, v);
                        snprintf(target, sizeof target, "../%s", vf);
                        fixture_link(target, rel);
                }
        }
        fixture_dir("sys/bus/pci/devices/0000:03:00.0/net/enp3s0");
        fake_kernel = true;
}

static const char config_text[] =
        "[Broker]\n"
        "RootSkipsPolkit=yes\n"
        "MaxTenants=6\n"
        "DefaultQuota=2\n"
        "MaxCallsPerConnection=4\n"
        "\n"
        "[PhysicalFunction]\n"
        "Address=0000:01:00.0\n"
        "NumVFs=4\n"
        "Driver=vfio-pci\n"
        "\n"
        "[PhysicalFunction]\n"
        "Address=0000:02:00.0\n"
        "NumVFs=2\n"
        "Mode=dedicated\n"
        "Tenant=acme\n"
        "\n"
        "[PhysicalFunction]\n"
        "Interface=enp3s0\n"
        "NumVFs=2\n"
        "Driver=vfbroker_vfio_pci\n"
        "\n"
        "[PhysicalFunction]\n"
        "Address=0000:04:00.0\n"  /* not in the fixture: a broken PF */
        "NumVFs=1\n"
        "\n"
        "[Tenant]\n"
        "Name=acme\n"
        "Users=0 1000\n"
        "Quota=2\n"
        "\n"
        "[Tenant]\n"
        "Name=beta\n"
        "Users=1000\n"
        "Groups=0\n"
        "Quota=1\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_setup_logs();
        /* Calls from a non-root peer go to polkit; here it is never reachable,
         * so they are refused without leaving the process. */
        setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/vfbroker-fuzz", 1);
        show_replies = getenv("VFBROKER_FUZZ_REPLIES") != NULL;
        unsetenv("NOTIFY_SOCKET");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");

        dir = fuzz_make_temp_dir("bus");
        if (asprintf(&fixture_sysfs, "%s/root", dir) < 0 || asprintf(&dev_root, "%s/dev", dir) < 0 ||
            asprintf(&state_dir, "%s/state", dir) < 0 || asprintf(&config_file, "%s/vfbroker.conf", dir) < 0 ||
            asprintf(&dropin_dir, "%s/vfbroker.conf.d", dir) < 0 || asprintf(&listen_path, "%s/bus", dir) < 0)
                abort();
        fuzz_write_string(config_file, config_text);
        return 0;
}

/* A peer with the given effective uid: SO_PEERCRED reports who created the socket. */
static void make_socketpair(uid_t uid, int fds[2]) {
        bool switched = uid != geteuid() && geteuid() == 0;

        if (switched && seteuid(uid) < 0)
                abort();
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                abort();
        if (switched && seteuid(0) < 0)
                abort();
}

static void start_daemon(State *s) {
        ManagerOptions o = {
                .config_file = config_file,
                .config_dropin_dir = dropin_dir,
                .state_dir = state_dir,
                .sysfs_root = fixture_sysfs,
                .dev_root = dev_root,
                .listen_path = listen_path,
                .sandbox = false,
        };

        if (manager_new(&o, &s->manager) < 0 || manager_start(s->manager) < 0) {
                fprintf(stderr, "fuzz-bus: the daemon did not start\n");
                abort();
        }
}

/* Every reply the peer gets, matched or not: one call, one reply. sd-bus
 * drops a second reply for a call it has already completed, so the async
 * callbacks alone would never see it. */
static int on_any_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        State *s = userdata;
        uint64_t cookie;
        uint8_t type;

        if (sd_bus_message_get_type(m, &type) < 0 ||
            (type != SD_BUS_MESSAGE_METHOD_RETURN && type != SD_BUS_MESSAGE_METHOD_ERROR) ||
            sd_bus_message_get_reply_cookie(m, &cookie) < 0)
                return 0;
        for (unsigned i = 0; i < MIN(s->n_replied, REPLIED_MAX); i++)
                if (s->replied[i] == cookie) {
                        fprintf(stderr, "fuzz-bus: a second reply (%s) to call %llu\n",
                                type == SD_BUS_MESSAGE_METHOD_ERROR ? strna(sd_bus_message_get_error(m)->name) : "return",
                                (unsigned long long) cookie);
                        abort();
                }
        s->replied[s->n_replied++ % REPLIED_MAX] = cookie;
        return 0;
}

static void connect_peer(State *s, Input *in) {
        static const uid_t uids[] = { 0, 0, 0, 65534, 1000 };
        Client *c = NULL;
        int fds[2], r;

        make_socketpair(uids[get_u8(in) % ELEMENTSOF(uids)], fds);
        r = client_new(s->manager, fds[0], &c);
        if (r < 0) {
                fprintf(stderr, "fuzz-bus: client_new: %s\n", strerror(-r));
                abort();
        }
        s->n_replied = 0;
        if (sd_bus_new(&s->bus) < 0 || sd_bus_set_fd(s->bus, fds[1], fds[1]) < 0 ||
            sd_bus_negotiate_fds(s->bus, 1) < 0 || sd_bus_add_filter(s->bus, NULL, on_any_message, s) < 0 ||
            sd_bus_attach_event(s->bus, s->manager->event, 0) < 0 || sd_bus_start(s->bus) < 0)
                abort();
}

static int on_check_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        State *s = userdata;

        s->pending--;
        s->check_reply = sd_bus_message_ref(reply);
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

/* Once every call is answered, the leases the daemon reports active are
 * exactly the leases in its store: an acknowledged lease must not be
 * missing from disk, and no lease may stay on disk after it ended. */
static void check_leases(State *s) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        char *active[64], *stored[64];
        size_t n_active = 0, n_stored = 0;
        StoreLease *l = NULL;
        size_t n = 0;
        int r;

        if (sd_bus_is_open(s->bus) <= 0)
                return; /* the daemon hung up on this peer: nothing to ask */
        if (sd_bus_message_new_method_call(s->bus, &m, NULL, OBJECT_PATH, INTERFACE, "ListLeases") < 0 ||
            sd_bus_call_async(s->bus, NULL, m, on_check_reply, s, CALL_TIMEOUT_USEC) < 0)
                abort();
        s->pending++;
        run_until(s, 0);
        m = sd_bus_message_unref(m);
        m = TAKE_PTR(s->check_reply);
        if (sd_bus_message_is_method_error(m, NULL))
                return; /* e.g. the peer was dropped meanwhile */

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                const char *id = NULL, *state = NULL;

                while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                        const char *key;

                        if (sd_bus_message_read(m, "s", &key) < 0)
                                abort();
                        if (streq(key, "Id"))
                                r = sd_bus_message_read(m, "v", "s", &id);
                        else if (streq(key, "State"))
                                r = sd_bus_message_read(m, "v", "s", &state);
                        else
                                r = sd_bus_message_skip(m, "v");
                        if (r < 0 || sd_bus_message_exit_container(m) < 0)
                                abort();
                }
                if (r < 0 || sd_bus_message_exit_container(m) < 0 || !id || !state)
                        abort();
                if (streq(state, "active")) {
                        if (n_active >= ELEMENTSOF(active))
                                abort();
                        active[n_active++] = strdup(id);
                }
        }
        if (r < 0) {
                fprintf(stderr, "fuzz-bus: cannot parse the ListLeases reply: %s\n", strerror(-r));
                abort();
        }

        if (store_lease_list(s->manager->store, &l, &n) < 0)
                abort();
        for (size_t i = 0; i < n && n_stored < ELEMENTSOF(stored); i++)
                stored[n_stored++] = strdup(l[i].id);
        store_lease_list_free(l, n);

        qsort(active, n_active, sizeof(char *), cmp_str);
        qsort(stored, n_stored, sizeof(char *), cmp_str);
        bool same = n_active == n_stored;
        for (size_t i = 0; same && i < n_active; i++)
                same = active[i] && stored[i] && streq(active[i], stored[i]);
        if (!same) {
                fprintf(stderr, "fuzz-bus: %zu active leases, %zu in the store:\n", n_active, n_stored);
                for (size_t i = 0; i < n_active; i++)
                        fprintf(stderr, "  active %s\n", strna(active[i]));
                for (size_t i = 0; i < n_stored; i++)
                        fprintf(stderr, "  stored %s\n", strna(stored[i]));
                abort();
        }
        for (size_t i = 0; i < n_active; i++)
                free(active[i]);
        for (size_t i = 0; i < n_stored; i++)
                free(stored[i]);
}

/* Waits for every reply, hangs up as a client does, and lets the daemon see it. */
static void disconnect_peer(State *s) {
        run_until(s, 0);
        sd_bus_detach_event(s->bus);
        s->bus = sd_bus_close_unref(s->bus);
        for (unsigned i = 0; i < 100 && s->manager->n_clients > 0; i++)
                (void) sd_event_run(s->manager->event, 10 * 1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Input in = { data, size };
        State s = { NULL };
        uint64_t wait_budget_usec = WAIT_BUDGET_USEC;

        fault_after = fault_count = 0;
        fixture_build();
        fuzz_remove_tree(state_dir);
        start_daemon(&s);
        connect_peer(&s, &in);

        for (unsigned n = 0; n < CALLS_MAX && in.size > 0; n++) {
                uint8_t op = get_u8(&in) % _OP_MAX;

                if (op == OP_FAULT) {
                        static const int errnos[] = { EBUSY, ENOMEM, EMFILE, ENFILE, ENODEV, EPERM, EINVAL, EIO };

                        fault_after = get_u8(&in) % 8;
                        fault_count = 1 + get_u8(&in) % 4;
                        fault_errno = errnos[get_u8(&in) % ELEMENTSOF(errnos)];
                } else if (op == OP_WAIT) {
                        /* Waiting costs wall time, not coverage: a little
                         * each time, and one drain tick (200 ms) per input. */
                        uint64_t usec = 1000 * (uint64_t) (1 + get_u8(&in) % 50);
                        usec = MIN(usec, wait_budget_usec);
                        wait_budget_usec -= usec;
                        run_for(&s, usec);
                }
                else if (op == OP_RESTART) {
                        /* Like a daemon that died: leases stay in the store and
                         * their holder (this process) is alive, so they come back. */
                        disconnect_peer(&s);
                        s.manager = manager_free(s.manager);
                        start_daemon(&s);
                        connect_peer(&s, &in);
                } else
                        do_call(&s, &in, op);
        }

        run_until(&s, 0);
        check_leases(&s);
        disconnect_peer(&s);
        manager_free(s.manager);
        /* manager_start() blocked SIGTERM and SIGINT for its signal sources;
         * unblocked, they reach libFuzzer's handlers again, so a run can be
         * stopped (a signal that came meanwhile is delivered now). */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void) sigprocmask(SIG_UNBLOCK, &mask, NULL);
        for (unsigned i = 0; i < REMEMBERED_MAX; i++)
                free(s.remembered[i]);
        return 0;
}
