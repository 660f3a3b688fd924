/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvfbroker: sd-bus peer-to-peer client of org.vfbroker.Broker1. Marshals the
 * contract's calls, bounds what the broker returns, and keeps the last error. */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "macro.h"
#include "protocol.h"
#include "vfbroker/vfbroker.h"

/* How long connecting (including authentication) may take; calls use sd-bus's
 * default method timeout (25 s) too. */
#define CONNECT_TIMEOUT_USEC (25ULL * 1000000ULL)

/* strerror() may share a buffer between threads; GNU strerror_r() with a
 * buffer of our own does not, and one connection per thread must be safe. */
#define ERRNO_STR(r) strerror_r(-(r), (char[128]) { 0 }, 128)

static_assert(sizeof(uid_t) == sizeof(uint32_t), "uid_t must be 32 bits (D-Bus 'u')");
static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t must be 32 bits (D-Bus 'u')");

/* What error messages call the broker on the system bus, in place of a path. */
#define SYSTEM_BUS_LABEL "the system bus (" VFBROKER_INTERFACE ")"

struct VfbrokerConnection {
        sd_bus *bus;
        bool system_bus;        /* vfbroker_connect_system(): path is SYSTEM_BUS_LABEL */
        char *path;
        char *error_name;
        char *error_message;
};


static void error_clear(VfbrokerConnection *c) {
        free(c->error_name);
        c->error_name = NULL;
        free(c->error_message);
        c->error_message = NULL;
}

/* Records a failure found on this side (no D-Bus name) and returns r. If even
 * the message cannot be allocated, vfbroker_last_error() returns NULL but the
 * errno still tells what failed. */
_printf_(3, 4)
static int error_local(VfbrokerConnection *c, int r, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        error_clear(c);
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        c->error_message = s;
        return r;
}

static const struct {
        const char *name;
        int errnum;
} broker_errors[] = {
        { VFBROKER_ERROR_PREFIX "NotAuthorized",           EACCES     },
        { VFBROKER_ERROR_PREFIX "UnknownTenant",           ENOENT     },
        { VFBROKER_ERROR_PREFIX "UnknownPhysicalFunction", ENOENT     },
        { VFBROKER_ERROR_PREFIX "UnknownLease",            ENOENT     },
        { VFBROKER_ERROR_PREFIX "NoFreeVF",                ENOSPC     },
        { VFBROKER_ERROR_PREFIX "QuotaExceeded",           EDQUOT     },
        { VFBROKER_ERROR_PREFIX "InvalidArgument",         EINVAL     },
        { VFBROKER_ERROR_PREFIX "Busy",                    EBUSY      },
        { VFBROKER_ERROR_PREFIX "Exists",                  EEXIST     },
        { VFBROKER_ERROR_PREFIX "NotSupported",            EOPNOTSUPP },
        { VFBROKER_ERROR_PREFIX "LimitExceeded",           ENOBUFS    },
        { VFBROKER_ERROR_PREFIX "Failed",                  EIO        },
};

/* Kept in a table here instead of sd_bus_error_add_map(), which would change
 * process-wide state in a program that merely links us. */
static int broker_error_to_errno(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(broker_errors); i++)
                if (strcmp(broker_errors[i].name, name) == 0)
                        return broker_errors[i].errnum;
        return EIO;
}

/* Failures sd-bus reports with a synthesized error for which no reply came
 * from the broker: the connection broke or the call timed out. */
static bool errno_is_transport(int r) {
        return r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ESHUTDOWN ||
               r == -ETIMEDOUT;
}

static int error_from_call(VfbrokerConnection *c, const char *method, const sd_bus_error *e, int r) {
        bool from_broker;
        int errnum;

        if (r >= 0)
                r = -EIO;

        /* sd_bus_call() names local failures too (a timeout becomes
         * org.freedesktop.DBus.Error.Timeout): only errors from the broker
         * keep their name, so programs branch on what the broker said. */
        from_broker = sd_bus_error_is_set(e) &&
                (strncmp(e->name, VFBROKER_ERROR_PREFIX, strlen(VFBROKER_ERROR_PREFIX)) == 0 || !errno_is_transport(r));
        if (!from_broker) {
                if (r == -ETIMEDOUT)
                        return error_local(c, r,
                                           "The broker at %s did not answer %s in time; "
                                           "check vfbrokerd with 'journalctl -u vfbroker.service'",
                                           c->path, method);
                if (errno_is_transport(r)) {
                        /* The connection is unusable: drop it so the next call reconnects. */
                        c->bus = sd_bus_flush_close_unref(c->bus);
                        return error_local(c, -ECONNRESET,
                                           "Lost the connection to the broker at %s during %s; "
                                           "the call may or may not have taken effect (list the leases to find out), "
                                           "the next call reconnects",
                                           c->path, method);
                }
                return error_local(c, r, "%s on %s failed: %s", method, c->path, ERRNO_STR(r));
        }

        error_clear(c);
        c->error_name = strdup(e->name);
        if (e->message && e->message[0] != '\0') {
                /* Out of memory: no message, as with the strdup() below. */
                if (asprintf(&c->error_message, "%s: %s", e->name, e->message) < 0)
                        c->error_message = NULL;
        } else
                c->error_message = strdup(e->name);

        if (strncmp(e->name, VFBROKER_ERROR_PREFIX, strlen(VFBROKER_ERROR_PREFIX)) == 0)
                errnum = broker_error_to_errno(e->name);
        else
                errnum = sd_bus_error_get_errno(e);
        return -(errnum > 0 ? errnum : EIO);
}

_public_ const char *vfbroker_socket_path(const char *path) {
        const char *e;

        if (path && path[0] != '\0')
                return path;
        e = getenv("VFBROKER_SOCKET");
        if (e && e[0] != '\0')
                return e;
        return VFBROKER_SOCKET_DEFAULT;
}

/* D-Bus address values escape every byte outside [-0-9A-Za-z_/.\*] as %XX. */
static int address_from_path(const char *path, char **ret) {
        static const char hex[] = "0123456789abcdef";
        size_t n = strlen(path);
        char *a, *p;

        if (n == 0)
                return -EINVAL;
        if (n >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return -ENAMETOOLONG;

        a = malloc(strlen("unix:path=") + n * 3 + 1);
        if (!a)
                return -ENOMEM;
        p = stpcpy(a, "unix:path=");
        for (const unsigned char *s = (const unsigned char *) path; *s; s++) {
                if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                    strchr("-_/.\\*", *s))
                        *p++ = (char) *s;
                else {
                        *p++ = '%';
                        *p++ = hex[*s >> 4];
                        *p++ = hex[*s & 15];
                }
        }
        *p = '\0';
        *ret = a;
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* Opens a peer-to-peer connection and waits until authentication is done, so
 * that a refused or missing socket shows up here and not in the first call. */
/* Without fd passing AcquireVF cannot work; say so at connect rather than later. */
static int require_fd_passing(sd_bus *bus) {
        int r = sd_bus_can_send(bus, SD_BUS_TYPE_UNIX_FD);

        if (r < 0)
                return r;
        return r == 0 ? -EPROTONOSUPPORT : 0;
}

static int bus_open(const char *path, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *address = NULL;
        uint64_t deadline;
        int r;

        r = address_from_path(path, &address);
        if (r < 0)
                return r;

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, address);
        if (r < 0)
                return r;
        /* Peer to peer: the broker is the other end, there is no bus daemon to say Hello to. */
        r = sd_bus_set_bus_client(bus, 0);
        if (r < 0)
                return r;
        r = sd_bus_negotiate_fds(bus, 1);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;

        deadline = now_usec() + CONNECT_TIMEOUT_USEC;
        for (;;) {
                uint64_t n;

                r = sd_bus_is_ready(bus);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                n = now_usec();
                if (n >= deadline)
                        return -ETIMEDOUT;
                r = sd_bus_wait(bus, deadline - n);
                if (r < 0)
                        return r;
        }

        r = require_fd_passing(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

/* The system bus (honouring $DBUS_SYSTEM_BUS_ADDRESS), where the broker owns
 * the interface's name when SystemBus=yes. */
static int bus_open_system(sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return r;
        r = require_fd_passing(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static int connection_open(VfbrokerConnection *c) {
        return c->system_bus ? bus_open_system(&c->bus) : bus_open(c->path, &c->bus);
}

/* path: the socket, or SYSTEM_BUS_LABEL with system_bus. */
static int connect_to(const char *path, bool system_bus, VfbrokerConnection **ret) {
        VfbrokerConnection *c;
        int r;

        if (!ret)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->system_bus = system_bus;
        c->path = strdup(path);
        if (!c->path) {
                free(c);
                return -ENOMEM;
        }
        r = connection_open(c);
        if (r < 0) {
                vfbroker_disconnect(c);
                return r;
        }
        *ret = c;
        return 0;
}

_public_ int vfbroker_connect_system(VfbrokerConnection **ret) {
        return connect_to(SYSTEM_BUS_LABEL, true, ret);
}

_public_ int vfbroker_connect(const char *path, VfbrokerConnection **ret) {
        return connect_to(vfbroker_socket_path(path), false, ret);
}

_public_ VfbrokerConnection *vfbroker_disconnect(VfbrokerConnection *c) {
        if (!c)
                return NULL;
        sd_bus_flush_close_unref(c->bus);
        error_clear(c);
        free(c->path);
        free(c);
        return NULL;
}

_public_ const char *vfbroker_connection_socket_path(VfbrokerConnection *c) {
        return c && !c->system_bus ? c->path : NULL;
}

_public_ const char *vfbroker_last_error(VfbrokerConnection *c) {
        return c ? c->error_message : NULL;
}

_public_ const char *vfbroker_last_error_name(VfbrokerConnection *c) {
        return c ? c->error_name : NULL;
}

/* Every call starts here: forget the last error, notice whether the broker
 * hung up while we were idle (a restart), and reconnect before sending. */
static int connection_begin(VfbrokerConnection *c) {
        int r;

        error_clear(c);

        if (c->bus) {
                /* Only a hang-up or stray messages can be pending on an idle
                 * peer connection; processing them is cheap and never blocks. */
                do
                        r = sd_bus_process(c->bus, NULL);
                while (r > 0);
                if (r < 0 || sd_bus_is_open(c->bus) <= 0)
                        c->bus = sd_bus_flush_close_unref(c->bus);
        }
        if (c->bus)
                return 0;

        r = connection_open(c);
        if (r < 0)
                return error_local(c, r, "Failed to reconnect to the broker at %s: %s; is vfbroker.socket running?",
                                   c->path, ERRNO_STR(r));
        return 0;
}

/* Peer to peer there is nobody else to address; on the bus, the broker's name. */
static const char *destination(const VfbrokerConnection *c) {
        return c->system_bus ? VFBROKER_INTERFACE : NULL;
}

static int method_new(VfbrokerConnection *c, const char *member, sd_bus_message **ret) {
        int r;

        r = connection_begin(c);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(c->bus, ret, destination(c), VFBROKER_OBJECT_PATH, VFBROKER_INTERFACE, member);
        if (r < 0)
                return error_local(c, r, "Failed to create a %s call: %s", member, ERRNO_STR(r));
        return 0;
}

static int call(VfbrokerConnection *c, sd_bus_message *m, sd_bus_message **ret_reply) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char member[64];
        int r;

        /* A copy: sealing the message on send may move the memory the
         * member name points into. */
        snprintf(member, sizeof(member), "%s", strempty(sd_bus_message_get_member(m)));

        r = sd_bus_call(c->bus, m, 0, &e, ret_reply);
        if (r < 0)
                r = error_from_call(c, member, &e, r);
        sd_bus_error_free(&e);
        return r < 0 ? r : 0;
}

static int append_failed(VfbrokerConnection *c, const char *member, int r) {
        if (r == -EINVAL)
                return error_local(c, r, "Cannot send %s: an argument is not valid UTF-8 or too long", member);
        return error_local(c, r, "Failed to build the %s call: %s", member, ERRNO_STR(r));
}

static int bad_reply(VfbrokerConnection *c, const char *member, int r) {
        if (r == -E2BIG)
                return error_local(c, r, "The broker at %s returned more than %u entries for %s; refusing the reply",
                                   c->path, VFBROKER_LIST_MAX, member);
        if (r == -ENOMEM)
                return error_local(c, r, "Out of memory reading the %s reply", member);
        return error_local(c, -EBADMSG,
                           "The broker at %s sent a malformed %s reply (%s); is vfbrokerd the same version as libvfbroker?",
                           c->path, member, ERRNO_STR(r));
}

/* ---- Reading a{sv} dictionaries into structs, driven by a field table ---- */

typedef enum FieldType {
        FIELD_STRING,
        FIELD_U32,
        FIELD_I32,
        FIELD_U64,
        FIELD_BOOL,
        FIELD_STRV,
        FIELD_U32_ARRAY, /* with a size_t count at offset_n */
} FieldType;

typedef struct Field {
        const char *key;
        FieldType type;
        size_t offset;
        size_t offset_n;
} Field;

static const char *field_signature(FieldType t) {
        switch (t) {
        case FIELD_STRING:    return "s";
        case FIELD_U32:       return "u";
        case FIELD_I32:       return "i";
        case FIELD_U64:       return "t";
        case FIELD_BOOL:      return "b";
        case FIELD_STRV:      return "as";
        case FIELD_U32_ARRAY: return "au";
        }
        return NULL;
}

#define FIELD_PTR(obj, f, type) ((type *) ((uint8_t *) (obj) + (f)->offset))

static void fields_free(void *obj, const Field *fields, size_t n_fields) {
        for (size_t i = 0; i < n_fields; i++) {
                const Field *f = fields + i;

                switch (f->type) {
                case FIELD_STRING:
                case FIELD_U32_ARRAY:
                        free(*FIELD_PTR(obj, f, void *));
                        break;
                case FIELD_STRV:
                        strv_free(*FIELD_PTR(obj, f, char **));
                        break;
                default:
                        break;
                }
        }
        free(obj);
}

static int read_strv(sd_bus_message *m, char ***ret) {
        char **l = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (;;) {
                const char *s;
                char **nl;

                r = sd_bus_message_read_basic(m, 's', &s);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                if (n >= VFBROKER_LIST_MAX) {
                        r = -E2BIG;
                        goto fail;
                }
                nl = realloc(l, (n + 2) * sizeof(char *));
                if (!nl) {
                        r = -ENOMEM;
                        goto fail;
                }
                l = nl;
                l[n] = strdup(s);
                if (!l[n]) {
                        r = -ENOMEM;
                        goto fail;
                }
                l[++n] = NULL;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                goto fail;
        if (!l) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
        }
        *ret = l;
        return 0;
fail:
        if (l)
                l[n] = NULL;
        strv_free(l);
        return r;
}

static int read_u32_array(sd_bus_message *m, uint32_t **ret, size_t *ret_n) {
        const void *p;
        size_t size;
        uint32_t *a = NULL;
        int r;

        r = sd_bus_message_read_array(m, 'u', &p, &size);
        if (r < 0)
                return r;
        if (size / sizeof(uint32_t) > VFBROKER_LIST_MAX)
                return -E2BIG;
        if (size > 0) {
                a = malloc(size);
                if (!a)
                        return -ENOMEM;
                memcpy(a, p, size);
        }
        *ret = a;
        *ret_n = size / sizeof(uint32_t);
        return 0;
}

static int read_field(sd_bus_message *m, void *obj, const Field *f) {
        int r;

        switch (f->type) {
        case FIELD_STRING: {
                const char *s;
                char *d;

                r = sd_bus_message_read_basic(m, 's', &s);
                if (r < 0)
                        return r;
                d = strdup(s);
                if (!d)
                        return -ENOMEM;
                /* A key sent twice: the last one counts. */
                free(*FIELD_PTR(obj, f, char *));
                *FIELD_PTR(obj, f, char *) = d;
                return 0;
        }
        case FIELD_U32:
                return sd_bus_message_read_basic(m, 'u', FIELD_PTR(obj, f, uint32_t));
        case FIELD_I32:
                return sd_bus_message_read_basic(m, 'i', FIELD_PTR(obj, f, int32_t));
        case FIELD_U64:
                return sd_bus_message_read_basic(m, 't', FIELD_PTR(obj, f, uint64_t));
        case FIELD_BOOL: {
                int b;

                r = sd_bus_message_read_basic(m, 'b', &b);
                if (r < 0)
                        return r;
                *FIELD_PTR(obj, f, int) = !!b;
                return 0;
        }
        case FIELD_STRV: {
                char **l;

                r = read_strv(m, &l);
                if (r < 0)
                        return r;
                strv_free(*FIELD_PTR(obj, f, char **));
                *FIELD_PTR(obj, f, char **) = l;
                return 0;
        }
        case FIELD_U32_ARRAY: {
                uint32_t *a;
                size_t n;

                r = read_u32_array(m, &a, &n);
                if (r < 0)
                        return r;
                free(*FIELD_PTR(obj, f, uint32_t *));
                *FIELD_PTR(obj, f, uint32_t *) = a;
                *(size_t *) ((uint8_t *) obj + f->offset_n) = n;
                return 0;
        }
        }
        return -EINVAL;
}

/* Fills obj from one a{sv}. Unknown keys are skipped (a newer broker may send
 * more); a known key with the wrong type fails with -EBADMSG. Absent strings
 * become "" and absent lists empty, so callers never see NULL. */
static int read_dict(sd_bus_message *m, void *obj, const Field *fields, size_t n_fields) {
        size_t n_entries = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        for (;;) {
                const Field *f = NULL;
                const char *key, *contents;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (++n_entries > VFBROKER_LIST_MAX)
                        return -E2BIG;

                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_fields; i++)
                        if (strcmp(fields[i].key, key) == 0) {
                                f = fields + i;
                                break;
                        }
                if (!f) {
                        r = sd_bus_message_skip(m, "v");
                        if (r < 0)
                                return r;
                } else {
                        r = sd_bus_message_peek_type(m, NULL, &contents);
                        if (r < 0)
                                return r;
                        if (!contents || strcmp(contents, field_signature(f->type)) != 0)
                                return -EBADMSG;
                        r = sd_bus_message_enter_container(m, 'v', contents);
                        if (r < 0)
                                return r;
                        r = read_field(m, obj, f);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_fields; i++) {
                const Field *f = fields + i;

                if (f->type == FIELD_STRING && !*FIELD_PTR(obj, f, char *)) {
                        *FIELD_PTR(obj, f, char *) = strdup("");
                        if (!*FIELD_PTR(obj, f, char *))
                                return -ENOMEM;
                } else if (f->type == FIELD_STRV && !*FIELD_PTR(obj, f, char **)) {
                        *FIELD_PTR(obj, f, char **) = calloc(1, sizeof(char *));
                        if (!*FIELD_PTR(obj, f, char **))
                                return -ENOMEM;
                }
        }
        return 0;
}

typedef struct ListType {
        const char *method;
        const Field *fields;
        size_t n_fields;
        size_t size;
        void (*init)(void *obj);
} ListType;

static void list_free(void **l, const ListType *t) {
        if (!l)
                return;
        for (void **i = l; *i; i++)
                fields_free(*i, t->fields, t->n_fields);
        free(l);
}

static int list_call(VfbrokerConnection *c, const ListType *t, void ***ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        void **l = NULL;
        size_t n = 0, allocated = 0;
        int r;

        if (!c || !ret)
                return -EINVAL;

        r = method_new(c, t->method, &m);
        if (r < 0)
                return r;
        r = call(c, m, &reply);
        if (r < 0)
                return r;

        r = sd_bus_message_enter_container(reply, 'a', "a{sv}");
        if (r < 0)
                return bad_reply(c, t->method, r);

        l = calloc(1, sizeof(void *));
        if (!l)
                return bad_reply(c, t->method, -ENOMEM);
        allocated = 1;

        for (;;) {
                void *obj;

                r = sd_bus_message_peek_type(reply, NULL, NULL);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                if (n >= VFBROKER_LIST_MAX) {
                        r = -E2BIG;
                        goto fail;
                }
                if (n + 2 > allocated) {
                        size_t na = allocated * 2;
                        void **nl = realloc(l, na * sizeof(void *));

                        if (!nl) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        l = nl;
                        allocated = na;
                }
                obj = calloc(1, t->size);
                if (!obj) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (t->init)
                        t->init(obj);
                r = read_dict(reply, obj, t->fields, t->n_fields);
                if (r < 0) {
                        fields_free(obj, t->fields, t->n_fields);
                        goto fail;
                }
                l[n++] = obj;
                l[n] = NULL;
        }
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                goto fail;

        *ret = l;
        if (ret_n)
                *ret_n = n;
        return 0;
fail:
        list_free(l, t);
        return bad_reply(c, t->method, r);
}

#define F(st, k, ty, member) { .key = k, .type = ty, .offset = offsetof(st, member) }

static const Field pf_fields[] = {
        F(VfbrokerPfInfo, "Address",   FIELD_STRING, address),
        F(VfbrokerPfInfo, "Interface", FIELD_STRING, interface),
        F(VfbrokerPfInfo, "Driver",    FIELD_STRING, driver),
        F(VfbrokerPfInfo, "Features",  FIELD_STRV,   features),
        F(VfbrokerPfInfo, "Mode",      FIELD_STRING, mode),
        F(VfbrokerPfInfo, "Tenant",    FIELD_STRING, tenant),
        F(VfbrokerPfInfo, "State",     FIELD_STRING, state),
        F(VfbrokerPfInfo, "Reason",    FIELD_STRING, reason),
        F(VfbrokerPfInfo, "NumVFs",    FIELD_U32,    num_vfs),
        F(VfbrokerPfInfo, "TotalVFs",  FIELD_U32,    total_vfs),
        F(VfbrokerPfInfo, "FreeVFs",   FIELD_U32,    free_vfs),
        F(VfbrokerPfInfo, "APIs",      FIELD_STRV,   apis),
        F(VfbrokerPfInfo, "IommufdUnavailableReason", FIELD_STRING, iommufd_unavailable_reason),
};

static const ListType pf_list = {
        "ListPhysicalFunctions", pf_fields, ELEMENTSOF(pf_fields), sizeof(VfbrokerPfInfo), NULL,
};

_public_ int vfbroker_list_pfs(VfbrokerConnection *c, VfbrokerPfInfo ***ret, size_t *ret_n) {
        return list_call(c, &pf_list, (void ***) ret, ret_n);
}

_public_ VfbrokerPfInfo **vfbroker_pf_list_free(VfbrokerPfInfo **l) {
        list_free((void **) l, &pf_list);
        return NULL;
}

static const Field vf_fields[] = {
        F(VfbrokerVfInfo, "Address",          FIELD_STRING, address),
        F(VfbrokerVfInfo, "PhysicalFunction", FIELD_STRING, physical_function),
        F(VfbrokerVfInfo, "Index",            FIELD_U32,    index),
        F(VfbrokerVfInfo, "IommuGroup",       FIELD_U32,    iommu_group),
        F(VfbrokerVfInfo, "NumaNode",         FIELD_I32,    numa_node),
        F(VfbrokerVfInfo, "State",            FIELD_STRING, state),
        F(VfbrokerVfInfo, "Lease",            FIELD_STRING, lease),
        F(VfbrokerVfInfo, "Tenant",           FIELD_STRING, tenant),
};

static void vf_info_init(void *obj) {
        ((VfbrokerVfInfo *) obj)->numa_node = -1;
}

static const ListType vf_list = {
        "ListVirtualFunctions", vf_fields, ELEMENTSOF(vf_fields), sizeof(VfbrokerVfInfo), vf_info_init,
};

_public_ int vfbroker_list_vfs(VfbrokerConnection *c, VfbrokerVfInfo ***ret, size_t *ret_n) {
        return list_call(c, &vf_list, (void ***) ret, ret_n);
}

_public_ VfbrokerVfInfo **vfbroker_vf_list_free(VfbrokerVfInfo **l) {
        list_free((void **) l, &vf_list);
        return NULL;
}

static_assert(sizeof(pid_t) == sizeof(uint32_t), "pid_t must be 32 bits (D-Bus 'u')");

static const Field lease_fields[] = {
        F(VfbrokerLeaseInfo, "Id",               FIELD_STRING, id),
        F(VfbrokerLeaseInfo, "VirtualFunction",  FIELD_STRING, virtual_function),
        F(VfbrokerLeaseInfo, "PhysicalFunction", FIELD_STRING, physical_function),
        F(VfbrokerLeaseInfo, "Tenant",           FIELD_STRING, tenant),
        F(VfbrokerLeaseInfo, "Uid",              FIELD_U32,    uid),
        F(VfbrokerLeaseInfo, "Pid",              FIELD_U32,    pid),
        F(VfbrokerLeaseInfo, "Created",          FIELD_U64,    created_usec),
        F(VfbrokerLeaseInfo, "State",            FIELD_STRING, state),
};

static const ListType lease_list = {
        "ListLeases", lease_fields, ELEMENTSOF(lease_fields), sizeof(VfbrokerLeaseInfo), NULL,
};

_public_ int vfbroker_list_leases(VfbrokerConnection *c, VfbrokerLeaseInfo ***ret, size_t *ret_n) {
        return list_call(c, &lease_list, (void ***) ret, ret_n);
}

_public_ VfbrokerLeaseInfo **vfbroker_lease_list_free(VfbrokerLeaseInfo **l) {
        list_free((void **) l, &lease_list);
        return NULL;
}

static const Field tenant_fields[] = {
        F(VfbrokerTenantInfo, "Name",       FIELD_STRING, name),
        { "Uids", FIELD_U32_ARRAY, offsetof(VfbrokerTenantInfo, uids), offsetof(VfbrokerTenantInfo, n_uids) },
        { "Gids", FIELD_U32_ARRAY, offsetof(VfbrokerTenantInfo, gids), offsetof(VfbrokerTenantInfo, n_gids) },
        F(VfbrokerTenantInfo, "Quota",      FIELD_U32,    quota),
        F(VfbrokerTenantInfo, "Leases",     FIELD_U32,    leases),
        F(VfbrokerTenantInfo, "FromConfig", FIELD_BOOL,   from_config),
};

static const ListType tenant_list = {
        "ListTenants", tenant_fields, ELEMENTSOF(tenant_fields), sizeof(VfbrokerTenantInfo), NULL,
};

_public_ int vfbroker_list_tenants(VfbrokerConnection *c, VfbrokerTenantInfo ***ret, size_t *ret_n) {
        return list_call(c, &tenant_list, (void ***) ret, ret_n);
}

_public_ VfbrokerTenantInfo **vfbroker_tenant_list_free(VfbrokerTenantInfo **l) {
        list_free((void **) l, &tenant_list);
        return NULL;
}

/* ---- Status ---- */

static const Field status_fields[] = {
        F(VfbrokerStatus, "Version",           FIELD_STRING, version),
        F(VfbrokerStatus, "PhysicalFunctions", FIELD_U32,    physical_functions),
        F(VfbrokerStatus, "VirtualFunctions",  FIELD_U32,    virtual_functions),
        F(VfbrokerStatus, "Leases",            FIELD_U32,    leases),
};

_public_ VfbrokerStatus *vfbroker_status_free(VfbrokerStatus *s) {
        if (s)
                fields_free(s, status_fields, ELEMENTSOF(status_fields));
        return NULL;
}

_public_ int vfbroker_get_status(VfbrokerConnection *c, VfbrokerStatus **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        VfbrokerStatus *s;
        int r;

        if (!c || !ret)
                return -EINVAL;

        r = connection_begin(c);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(c->bus, &m, destination(c), VFBROKER_OBJECT_PATH,
                                           "org.freedesktop.DBus.Properties", "GetAll");
        if (r < 0)
                return append_failed(c, "GetAll", r);
        r = sd_bus_message_append(m, "s", VFBROKER_INTERFACE);
        if (r < 0)
                return append_failed(c, "GetAll", r);
        r = call(c, m, &reply);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return bad_reply(c, "GetAll", -ENOMEM);
        r = read_dict(reply, s, status_fields, ELEMENTSOF(status_fields));
        if (r < 0) {
                vfbroker_status_free(s);
                return bad_reply(c, "GetAll", r);
        }
        *ret = s;
        return 0;
}

/* ---- Leases ---- */

_public_ VfbrokerVf *vfbroker_vf_free(VfbrokerVf *vf) {
        if (!vf)
                return NULL;
        safe_close(vf->container_fd);
        safe_close(vf->group_fd);
        safe_close(vf->device_fd);
        safe_close(vf->iommufd_fd);
        free(vf->lease);
        free(vf->address);
        free(vf);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(VfbrokerVf *, vfbroker_vf_free)

static int acquire(VfbrokerConnection *c, const char *tenant, const VfbrokerAcquireOptions *opts,
                   VfbrokerApi api, VfbrokerVf **ret) {
        static const char member[] = "AcquireVF";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(vfbroker_vf_freep) VfbrokerVf *vf = NULL;
        const char *lease, *address;
        uint32_t group;
        int fds[3];
        int r;

        if (!c || !tenant || !ret)
                return -EINVAL;
        if (opts)
                for (size_t i = 0; i < ELEMENTSOF(opts->reserved); i++)
                        if (opts->reserved[i] != 0)
                                return error_local(c, -EINVAL,
                                                   "VfbrokerAcquireOptions.reserved must be zero; "
                                                   "initialize options with VFBROKER_ACQUIRE_OPTIONS_INIT");

        r = method_new(c, member, &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", tenant);
        if (r < 0)
                return append_failed(c, member, r);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return append_failed(c, member, r);
        if (opts && opts->physical_function) {
                r = sd_bus_message_append(m, "{sv}", "PhysicalFunction", "s", opts->physical_function);
                if (r < 0)
                        return append_failed(c, member, r);
        }
        if (opts && opts->numa_node >= 0) {
                r = sd_bus_message_append(m, "{sv}", "NumaNode", "i", (int32_t) opts->numa_node);
                if (r < 0)
                        return append_failed(c, member, r);
        }
        /* Only when asked: a broker from before the option refuses it. */
        if (api == VFBROKER_API_IOMMUFD) {
                r = sd_bus_message_append(m, "{sv}", "API", "s", VFBROKER_API_NAME_IOMMUFD);
                if (r < 0)
                        return append_failed(c, member, r);
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return append_failed(c, member, r);

        r = call(c, m, &reply);
        if (r < 0)
                return r;

        r = sd_bus_message_read(reply, "ssuhhh", &lease, &address, &group, &fds[0], &fds[1], &fds[2]);
        if (r < 0)
                return bad_reply(c, member, r);

        vf = calloc(1, sizeof(*vf));
        if (!vf)
                return bad_reply(c, member, -ENOMEM);
        vf->container_fd = vf->group_fd = vf->device_fd = vf->iommufd_fd = -1;
        vf->lease = strdup(lease);
        vf->address = strdup(address);
        if (!vf->lease || !vf->address)
                return bad_reply(c, member, -ENOMEM);
        vf->iommu_group = group;

        /* The reply owns the received fds; the caller gets its own copies,
         * at 3 or above so they never land on stdin/stdout/stderr. On the
         * iommufd path the broker sends the iommufd in both first places. */
        int *targets[3] = { &vf->container_fd, &vf->group_fd, &vf->device_fd };
        if (api == VFBROKER_API_IOMMUFD) {
                targets[0] = &vf->iommufd_fd;
                targets[1] = NULL;
        }
        for (size_t i = 0; i < 3; i++) {
                if (!targets[i])
                        continue;
                *targets[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (*targets[i] < 0) {
                        r = negative_errno();
                        return error_local(c, r, "Failed to duplicate the fds of VF %s: %s; "
                                           "raise the fd limit (ulimit -n) or close unused fds",
                                           address, ERRNO_STR(r));
                }
        }

        *ret = TAKE_PTR(vf);
        return 0;
}

_public_ int vfbroker_acquire(VfbrokerConnection *c, const char *tenant,
                              const VfbrokerAcquireOptions *opts, VfbrokerVf **ret) {
        return acquire(c, tenant, opts, VFBROKER_API_GROUP, ret);
}

_public_ int vfbroker_acquire_with_api(VfbrokerConnection *c, const char *tenant,
                                       const VfbrokerAcquireOptions *opts, VfbrokerApi api, VfbrokerVf **ret) {
        if (api != VFBROKER_API_GROUP && api != VFBROKER_API_IOMMUFD)
                return c ? error_local(c, -EINVAL, "Unknown VfbrokerApi %d: use VFBROKER_API_GROUP or VFBROKER_API_IOMMUFD",
                                       (int) api) : -EINVAL;
        return acquire(c, tenant, opts, api, ret);
}

/* Calls a method taking the given string arguments and returning nothing. */
static int call_simple(VfbrokerConnection *c, const char *member, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = method_new(c, member, &m);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(m, types, ap);
        va_end(ap);
        if (r < 0)
                return append_failed(c, member, r);
        return call(c, m, NULL);
}

_public_ int vfbroker_release(VfbrokerConnection *c, const char *lease) {
        if (!c || !lease)
                return -EINVAL;
        return call_simple(c, "ReleaseVF", "s", lease);
}

_public_ int vfbroker_revoke_lease(VfbrokerConnection *c, const char *lease) {
        if (!c || !lease)
                return -EINVAL;
        return call_simple(c, "RevokeLease", "s", lease);
}

_public_ int vfbroker_tenant_create(VfbrokerConnection *c, const char *name,
                                    const uid_t *uids, size_t n_uids,
                                    const gid_t *gids, size_t n_gids,
                                    uint32_t quota) {
        static const char member[] = "CreateTenant";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!c || !name || (n_uids > 0 && !uids) || (n_gids > 0 && !gids))
                return -EINVAL;
        if (n_uids > VFBROKER_LIST_MAX || n_gids > VFBROKER_LIST_MAX)
                return error_local(c, -E2BIG, "A tenant may list at most %u users and %u groups",
                                   VFBROKER_LIST_MAX, VFBROKER_LIST_MAX);

        r = method_new(c, member, &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r < 0)
                return append_failed(c, member, r);
        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return append_failed(c, member, r);

        const struct {
                const char *key;
                const uint32_t *ids;
                size_t n;
        } lists[] = {
                { "Uids", uids, n_uids },
                { "Gids", gids, n_gids },
        };
        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", lists[i].key);
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "au");
                if (r >= 0)
                        r = sd_bus_message_append_array(m, 'u', lists[i].ids, lists[i].n * sizeof(uint32_t));
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return append_failed(c, member, r);
        }
        if (quota > 0) {
                r = sd_bus_message_append(m, "{sv}", "Quota", "u", quota);
                if (r < 0)
                        return append_failed(c, member, r);
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return append_failed(c, member, r);

        return call(c, m, NULL);
}

_public_ int vfbroker_tenant_delete(VfbrokerConnection *c, const char *name) {
        if (!c || !name)
                return -EINVAL;
        return call_simple(c, "DeleteTenant", "sa{sv}", name, (unsigned) 0);
}

_public_ int vfbroker_tenant_delete_forced(VfbrokerConnection *c, const char *name) {
        if (!c || !name)
                return -EINVAL;
        return call_simple(c, "DeleteTenant", "sa{sv}", name, (unsigned) 1, "Force", "b", 1);
}

_public_ int vfbroker_tenant_rotate_token(VfbrokerConnection *c, const char *name) {
        if (!c || !name)
                return -EINVAL;
        return call_simple(c, "RotateToken", "s", name);
}

_public_ int vfbroker_tenant_get_token(VfbrokerConnection *c, const char *name, char **ret) {
        static const char member[] = "GetTenantToken";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *token;
        char *t;
        int r;

        if (!c || !name || !ret)
                return -EINVAL;

        r = method_new(c, member, &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", name);
        if (r < 0)
                return append_failed(c, member, r);
        r = call(c, m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "s", &token);
        if (r < 0)
                return bad_reply(c, member, r);
        /* A token is a UUID; anything longer is not one and is not passed on. */
        if (strlen(token) != 36)
                return bad_reply(c, member, -EBADMSG);
        t = strdup(token);
        if (!t)
                return bad_reply(c, member, -ENOMEM);
        *ret = t;
        return 0;
}

_public_ int vfbroker_set_num_vfs(VfbrokerConnection *c, const char *pf, uint32_t count) {
        if (!c || !pf)
                return -EINVAL;
        return call_simple(c, "SetNumVFs", "su", pf, count);
}
