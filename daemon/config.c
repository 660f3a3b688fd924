/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Config: a small systemd-style INI parser for vfbroker.conf and its drop-ins,
 * and the checks on what it says. Every error names file:line and the fix. */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "names.h"
#include "protocol.h"
#include "strv.h"

/* Limits on what a configuration may hold; each is checked before allocating. */
#define CONFIG_LINE_MAX 4096u
#define CONFIG_FILE_MAX (1024u * 1024u)
#define CONFIG_SECTIONS_MAX 4096u
#define CONFIG_DROPINS_MAX 1024u

typedef enum Section {
        SECTION_NONE,
        SECTION_BROKER,
        SECTION_PF,
        SECTION_TENANT,
} Section;

typedef struct Parser {
        Config *config;
        const char *path;
        unsigned line;
        Section section;
        unsigned section_line;
        uint32_t seen;            /* bit per key index of the current section */
        unsigned n_sections;      /* across all files */
        char *error;
        /* "file:line" of the last ReservedConnections=, for the check against
         * MaxConnections= once every file is read. */
        char reserved_where[PATH_MAX + 32];
        uint32_t *pf_index;       /* SectionIndex of the finished [PhysicalFunction]s */
        uint32_t *tenant_index;   /* and of the [Tenant]s, by name */
} Parser;

static const char *const broker_keys[] = {
        "SystemBus", "RootSkipsPolkit", "MaxConnections", "MaxCallsPerConnection",
        "MaxTenants", "DefaultQuota", "MaxConnectionsPerUser", "ReservedConnections", "IdleTimeoutSec", NULL,
};
static const char *const pf_keys[] = {
        "Address", "VendorDevice", "Interface", "NumVFs", "Mode", "Tenant", "Driver", NULL,
};
static const char *const tenant_keys[] = {
        "Name", "Users", "Groups", "Quota", NULL,
};

enum { PF_KEY_ADDRESS, PF_KEY_VENDOR_DEVICE, PF_KEY_INTERFACE, PF_KEY_NUM_VFS, PF_KEY_MODE,
       PF_KEY_TENANT, PF_KEY_DRIVER };
enum { TENANT_KEY_NAME, TENANT_KEY_USERS, TENANT_KEY_GROUPS, TENANT_KEY_QUOTA };

static const char *section_name(Section s) {
        switch (s) {
        case SECTION_BROKER:
                return "Broker";
        case SECTION_PF:
                return "PhysicalFunction";
        case SECTION_TENANT:
                return "Tenant";
        default:
                return "";
        }
}

/* Formats "PATH:LINE: message" into p->error (first error wins) and returns -EINVAL. */
static int parse_error_at(Parser *p, const char *where, const char *format, ...) _printf_(3, 4);
static int parse_error_at(Parser *p, const char *where, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        if (p->error)
                return -EINVAL;

        va_start(ap, format);
        r = vasprintf(&msg, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (asprintf(&p->error, "%s: %s", where, msg) < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

#define parse_error_line(p, line, ...)                                          \
        __extension__ ({                                                        \
                char _w_[PATH_MAX + 32];                                        \
                snprintf(_w_, sizeof _w_, "%s:%u", (p)->path, (line));         \
                parse_error_at((p), _w_, __VA_ARGS__);                          \
        })
#define parse_error(p, ...) parse_error_line((p), (p)->line, __VA_ARGS__)

static char *trim(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                *--e = '\0';
        return s;
}

/* A '#' or ';' that follows whitespace starts a comment, so values such as
 * "Interface=a#b" keep theirs. Values never contain whitespace-then-'#'. */
static void strip_inline_comment(char *s) {
        for (char *c = s; *c; c++)
                if ((*c == '#' || *c == ';') && c > s && (c[-1] == ' ' || c[-1] == '\t')) {
                        *c = '\0';
                        return;
                }
}

static int parse_bool(const char *v, bool *ret) {
        static const char *const yes[] = { "yes", "true", "1", "on" };
        static const char *const no[] = { "no", "false", "0", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

/* Decimal digits only: no sign, no spaces, no hex, so "1e3" or "-1" never slip through. */
static int parse_unsigned(const char *v, unsigned long long max, unsigned long long *ret) {
        unsigned long long x = 0;

        if (!*v || strlen(v) > 20)
                return -EINVAL;
        for (const char *c = v; *c; c++) {
                if (*c < '0' || *c > '9')
                        return -EINVAL;
                if (x > (ULLONG_MAX - (unsigned) (*c - '0')) / 10)
                        return -ERANGE;
                x = x * 10 + (unsigned) (*c - '0');
        }
        if (x > max)
                return -ERANGE;
        *ret = x;
        return 0;
}

static int parse_range(Parser *p, const char *key, const char *v, unsigned min, unsigned max, unsigned *ret) {
        unsigned long long x;

        if (parse_unsigned(v, ULLONG_MAX, &x) < 0 || x < min || x > max)
                return parse_error(p, "%s=%s is not a number between %u and %u; use a decimal number in that range",
                                   key, v, min, max);
        *ret = (unsigned) x;
        return 0;
}

static ConfigPf *current_pf(Parser *p) {
        return &p->config->pfs[p->config->n_pfs - 1];
}

static ConfigTenant *current_tenant(Parser *p) {
        return &p->config->tenants[p->config->n_tenants - 1];
}

static int make_source(Parser *p, char **ret) {
        if (asprintf(ret, "%s:%u", p->path, p->line) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int begin_pf(Parser *p) {
        _cleanup_free_ char *source = NULL;
        ConfigPf *a;

        if (make_source(p, &source) < 0)
                return -ENOMEM;
        a = realloc(p->config->pfs, (p->config->n_pfs + 1) * sizeof(ConfigPf));
        if (!a)
                return -ENOMEM;
        p->config->pfs = a;
        a[p->config->n_pfs++] = (ConfigPf) {
                .match = PF_MATCH_ADDRESS,
                .mode = PF_MODE_POOL,
                .driver = PF_DRIVER_AUTO,
                .source = TAKE_PTR(source),
        };
        return 0;
}

static int begin_tenant(Parser *p) {
        _cleanup_free_ char *source = NULL;
        ConfigTenant *a;

        if (make_source(p, &source) < 0)
                return -ENOMEM;
        a = realloc(p->config->tenants, (p->config->n_tenants + 1) * sizeof(ConfigTenant));
        if (!a)
                return -ENOMEM;
        p->config->tenants = a;
        a[p->config->n_tenants++] = (ConfigTenant) {
                .quota = 1,
                .source = TAKE_PTR(source),
        };
        return 0;
}

/* Index of the finished sections, so that each duplicate check is one hash
 * look-up instead of a pass over every earlier section (4,096 sections made
 * that quadratic). Open addressing; a slot holds the section's position + 1,
 * 0 is empty. At most CONFIG_SECTIONS_MAX entries, so the table is at most
 * half full and a probe always ends. */
#define SECTION_INDEX_SIZE (2 * CONFIG_SECTIONS_MAX)

typedef bool (*SectionMatch)(const Config *c, size_t i, const void *key);

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n) {
        const unsigned char *b = data;

        /* FNV-1a: short keys, and the input is the administrator's file. */
        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * UINT64_C(0x100000001b3);
        return h;
}

#define HASH_INIT UINT64_C(0xcbf29ce484222325)

static uint64_t name_hash(const char *name) {
        return hash_bytes(HASH_INIT, name, strlen(name));
}

static uint64_t pf_hash(const ConfigPf *pf) {
        uint8_t match = (uint8_t) pf->match;
        uint64_t h = hash_bytes(HASH_INIT, &match, 1);

        switch (pf->match) {
        case PF_MATCH_ADDRESS:
                return hash_bytes(h, pf->address, strlen(pf->address));
        case PF_MATCH_VENDOR_DEVICE:
                h = hash_bytes(h, &pf->vendor, sizeof pf->vendor);
                return hash_bytes(h, &pf->device, sizeof pf->device);
        default:
                return hash_bytes(h, pf->interface, strlen(pf->interface));
        }
}

static bool pf_same(const Config *c, size_t i, const void *key) {
        const ConfigPf *o = &c->pfs[i], *pf = key;

        if (o->match != pf->match)
                return false;
        switch (pf->match) {
        case PF_MATCH_ADDRESS:
                return strcmp(o->address, pf->address) == 0;
        case PF_MATCH_VENDOR_DEVICE:
                return o->vendor == pf->vendor && o->device == pf->device;
        default:
                return strcmp(o->interface, pf->interface) == 0;
        }
}

static bool tenant_named(const Config *c, size_t i, const void *key) {
        return strcmp(c->tenants[i].name, key) == 0;
}

/* Looks for an indexed section that matches key. Returns 1 and its position
 * in *ret_other if there is one; otherwise adds position add (unless it is
 * SIZE_MAX: look-up only) and returns 0. */
static int section_index_find(uint32_t **table, uint64_t hash, const Config *c, const void *key, SectionMatch match,
                              size_t add, size_t *ret_other) {
        size_t slot = (size_t) (hash & (SECTION_INDEX_SIZE - 1));

        if (!*table) {
                if (add == SIZE_MAX)
                        return 0;
                *table = calloc(SECTION_INDEX_SIZE, sizeof(uint32_t));
                if (!*table)
                        return -ENOMEM;
        }
        for (; (*table)[slot] != 0; slot = (slot + 1) & (SECTION_INDEX_SIZE - 1))
                if (match(c, (*table)[slot] - 1, key)) {
                        *ret_other = (*table)[slot] - 1;
                        return 1;
                }
        if (add != SIZE_MAX)
                (*table)[slot] = (uint32_t) add + 1;
        return 0;
}

/* Checks a finished [PhysicalFunction] section on its own and against the
 * ones before it; errors point at its header line. */
static int finish_pf(Parser *p) {
        Config *c = p->config;
        ConfigPf *pf = current_pf(p);
        size_t other;
        int r;
        unsigned n_match = !!(p->seen & (1u << PF_KEY_ADDRESS)) +
                           !!(p->seen & (1u << PF_KEY_VENDOR_DEVICE)) +
                           !!(p->seen & (1u << PF_KEY_INTERFACE));

        if (n_match != 1)
                return parse_error_line(p, p->section_line,
                                        "[PhysicalFunction] needs exactly one of Address=, VendorDevice= or Interface= (found %u); "
                                        "keep one of them", n_match);
        if (!(p->seen & (1u << PF_KEY_NUM_VFS)))
                return parse_error_line(p, p->section_line,
                                        "[PhysicalFunction] has no NumVFs=; add NumVFs= with the number of VFs to create (1..256)");
        if (pf->mode == PF_MODE_DEDICATED && !pf->tenant)
                return parse_error_line(p, p->section_line,
                                        "[PhysicalFunction] with Mode=dedicated has no Tenant=; name the tenant that owns it");
        if (pf->mode == PF_MODE_POOL && pf->tenant)
                return parse_error_line(p, p->section_line,
                                        "[PhysicalFunction] has Tenant= but Mode=pool; set Mode=dedicated or remove Tenant=");

        r = section_index_find(&p->pf_index, pf_hash(pf), c, pf, pf_same, c->n_pfs - 1, &other);
        if (r < 0)
                return r;
        if (r > 0)
                return parse_error_line(p, p->section_line,
                                        "this [PhysicalFunction] names the same device as the one at %s; "
                                        "remove one of the two sections", c->pfs[other].source);
        return 0;
}

static int finish_tenant(Parser *p) {
        Config *c = p->config;
        ConfigTenant *t = current_tenant(p);
        size_t other;
        int r;

        if (!t->name)
                return parse_error_line(p, p->section_line, "[Tenant] has no Name=; add Name= with the tenant's name");
        r = section_index_find(&p->tenant_index, name_hash(t->name), c, t->name, tenant_named, c->n_tenants - 1, &other);
        if (r < 0)
                return r;
        if (r > 0)
                return parse_error_line(p, p->section_line,
                                        "tenant \"%s\" is already defined at %s; remove or rename one of the two sections",
                                        t->name, c->tenants[other].source);
        return 0;
}

static int finish_section(Parser *p) {
        switch (p->section) {
        case SECTION_PF:
                return finish_pf(p);
        case SECTION_TENANT:
                return finish_tenant(p);
        default:
                return 0;
        }
}

static int start_section(Parser *p, char *header) {
        char *e = strchr(header, ']');
        Section s;
        int r;

        if (!e || trim(e + 1)[0] != '\0')
                return parse_error(p, "malformed section header \"%s\"; write it as [Name]", header);
        *e = '\0';
        if (strcmp(header + 1, "Broker") == 0)
                s = SECTION_BROKER;
        else if (strcmp(header + 1, "PhysicalFunction") == 0)
                s = SECTION_PF;
        else if (strcmp(header + 1, "Tenant") == 0)
                s = SECTION_TENANT;
        else
                return parse_error(p, "unknown section [%s]; known sections are [Broker], [PhysicalFunction] and [Tenant]",
                                   header + 1);

        r = finish_section(p);
        if (r < 0)
                return r;

        if (++p->n_sections > CONFIG_SECTIONS_MAX)
                return parse_error(p, "more than %u sections; merge or remove sections", CONFIG_SECTIONS_MAX);

        p->section = s;
        p->section_line = p->line;
        p->seen = 0;
        if (s == SECTION_PF)
                return begin_pf(p);
        if (s == SECTION_TENANT)
                return begin_tenant(p);
        return 0;
}

/* Users=/Groups=: names or numbers, space separated, every one must resolve. */
static int parse_ids(Parser *p, const char *key, char *value, bool groups, unsigned **ret, size_t *ret_n) {
        _cleanup_free_ unsigned *ids = NULL;
        size_t n = 0;
        char *save = NULL;

        ids = calloc(TENANT_IDS_MAX, sizeof(unsigned));
        if (!ids)
                return -ENOMEM;

        for (char *w = strtok_r(value, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                unsigned long long x;
                unsigned id;
                bool dup = false;

                if (parse_unsigned(w, UINT_MAX - 1, &x) >= 0)
                        /* (uid_t) -1 means "no change" to the kernel, so it is refused. */
                        id = (unsigned) x;
                else if (w[0] >= '0' && w[0] <= '9')
                        return parse_error(p, "%s= entry \"%s\" is not a valid %s; use a name or a number below 4294967295",
                                           key, w, groups ? "group id" : "user id");
                else {
                        char buf[16384];
                        int r;

                        if (groups) {
                                struct group gr, *res = NULL;
                                r = getgrnam_r(w, &gr, buf, sizeof buf, &res);
                                if (r == 0 && res)
                                        id = (unsigned) res->gr_gid;
                                else if (r == 0 || r == ENOENT || r == ESRCH)
                                        return parse_error(p, "unknown group \"%s\" in Groups=; create the group or use its number", w);
                                else
                                        return parse_error(p, "cannot look up group \"%s\" in Groups=: %s; check NSS", w, strerror(r));
                        } else {
                                struct passwd pw, *res = NULL;
                                r = getpwnam_r(w, &pw, buf, sizeof buf, &res);
                                if (r == 0 && res)
                                        id = (unsigned) res->pw_uid;
                                else if (r == 0 || r == ENOENT || r == ESRCH)
                                        return parse_error(p, "unknown user \"%s\" in Users=; create the user or use its number", w);
                                else
                                        return parse_error(p, "cannot look up user \"%s\" in Users=: %s; check NSS", w, strerror(r));
                        }
                }

                for (size_t i = 0; i < n; i++)
                        if (ids[i] == id)
                                dup = true;
                if (dup)
                        continue;
                if (n >= TENANT_IDS_MAX)
                        return parse_error(p, "%s= lists more than %u entries; use a group instead", key, TENANT_IDS_MAX);
                ids[n++] = id;
        }

        *ret = TAKE_PTR(ids);
        *ret_n = n;
        return 0;
}

static int assign_broker(Parser *p, unsigned k, const char *key, const char *v) {
        Config *c = p->config;

        switch (k) {
        case 0:
        case 1: {
                bool b;
                if (parse_bool(v, &b) < 0)
                        return parse_error(p, "%s=%s is not a boolean; use yes or no", key, v);
                if (k == 0)
                        c->system_bus = b;
                else
                        c->root_skips_polkit = b;
                return 0;
        }
        case 2:
                return parse_range(p, key, v, 1, 65536, &c->max_connections);
        case 3:
                return parse_range(p, key, v, 1, 1024, &c->max_calls_per_connection);
        case 4:
                return parse_range(p, key, v, 1, 65536, &c->max_tenants);
        case 5:
                return parse_range(p, key, v, 1, TENANT_QUOTA_MAX, &c->default_quota);
        case 6:
                return parse_range(p, key, v, 1, 65536, &c->max_connections_per_user);
        case 7:
                snprintf(p->reserved_where, sizeof p->reserved_where, "%s:%u", p->path, p->line);
                return parse_range(p, key, v, 0, 65535, &c->reserved_connections);
        default:
                return parse_range(p, key, v, 1, 86400, &c->idle_timeout_sec);
        }
}

static int assign_pf(Parser *p, unsigned k, const char *key, const char *v) {
        ConfigPf *pf = current_pf(p);

        switch (k) {
        case PF_KEY_ADDRESS:
                if (pci_address_normalize(v, pf->address) < 0)
                        return parse_error(p, "Address=%s is not a PCI address; write it as 0000:01:00.0", v);
                pf->match = PF_MATCH_ADDRESS;
                return 0;
        case PF_KEY_VENDOR_DEVICE:
                if (pci_id_pair_parse(v, &pf->vendor, &pf->device) < 0)
                        return parse_error(p, "VendorDevice=%s is not a vendor:device pair; write it as 8086:10c9", v);
                pf->match = PF_MATCH_VENDOR_DEVICE;
                return 0;
        case PF_KEY_INTERFACE:
                if (!ifname_is_valid(v))
                        return parse_error(p, "Interface=%s is not a valid network interface name; use the name shown by \"ip link\"", v);
                pf->interface = strdup(v);
                if (!pf->interface)
                        return -ENOMEM;
                pf->match = PF_MATCH_INTERFACE;
                return 0;
        case PF_KEY_NUM_VFS:
                return parse_range(p, key, v, 1, 256, &pf->num_vfs);
        case PF_KEY_MODE:
                if (strcmp(v, "pool") == 0)
                        pf->mode = PF_MODE_POOL;
                else if (strcmp(v, "dedicated") == 0)
                        pf->mode = PF_MODE_DEDICATED;
                else
                        return parse_error(p, "Mode=%s is not known; use pool or dedicated", v);
                return 0;
        case PF_KEY_TENANT:
                if (!tenant_name_is_valid(v))
                        return parse_error(p, "Tenant=%s is not a valid tenant name; use 1-%d characters of A-Z a-z 0-9 _ . - "
                                           "not starting with . or -", v, TENANT_NAME_MAX);
                pf->tenant = strdup(v);
                return pf->tenant ? 0 : -ENOMEM;
        default:
                if (strcmp(v, "auto") == 0)
                        pf->driver = PF_DRIVER_AUTO;
                else if (strcmp(v, "vfio-pci") == 0)
                        pf->driver = PF_DRIVER_VFIO_PCI;
                else if (strcmp(v, "vfbroker_vfio_pci") == 0)
                        pf->driver = PF_DRIVER_VFBROKER_VFIO_PCI;
                else
                        return parse_error(p, "Driver=%s is not known; use auto, vfio-pci or vfbroker_vfio_pci", v);
                return 0;
        }
}

static int assign_tenant(Parser *p, unsigned k, const char *key, char *v) {
        ConfigTenant *t = current_tenant(p);

        switch (k) {
        case TENANT_KEY_NAME:
                if (!tenant_name_is_valid(v))
                        return parse_error(p, "Name=%s is not a valid tenant name; use 1-%d characters of A-Z a-z 0-9 _ . - "
                                           "not starting with . or -", v, TENANT_NAME_MAX);
                t->name = strdup(v);
                return t->name ? 0 : -ENOMEM;
        case TENANT_KEY_USERS: {
                unsigned *ids = NULL;
                size_t n = 0;
                int r = parse_ids(p, key, v, false, &ids, &n);
                if (r < 0)
                        return r;
                /* uid_t and gid_t are unsigned int on Linux. */
                t->uids = (uid_t *) ids;
                t->n_uids = n;
                return 0;
        }
        case TENANT_KEY_GROUPS: {
                unsigned *ids = NULL;
                size_t n = 0;
                int r = parse_ids(p, key, v, true, &ids, &n);
                if (r < 0)
                        return r;
                t->gids = (gid_t *) ids;
                t->n_gids = n;
                return 0;
        }
        default:
                return parse_range(p, key, v, 1, TENANT_QUOTA_MAX, &t->quota);
        }
}

_Static_assert(sizeof(uid_t) == sizeof(unsigned) && sizeof(gid_t) == sizeof(unsigned),
               "uid_t and gid_t are expected to be unsigned int");

static int parse_assignment(Parser *p, char *l) {
        const char *const *keys;
        char *eq, *key, *value;
        unsigned k;

        eq = strchr(l, '=');
        if (!eq)
                return parse_error(p, "line is neither a section header nor Key=Value; fix or comment it out with #");
        *eq = '\0';
        key = trim(l);
        value = trim(eq + 1);

        if (p->section == SECTION_NONE)
                return parse_error(p, "%s= appears before any section; put it under [Broker], [PhysicalFunction] or [Tenant]", key);
        if (!*key)
                return parse_error(p, "assignment without a key; write Key=Value");

        keys = p->section == SECTION_BROKER ? broker_keys :
               p->section == SECTION_PF ? pf_keys : tenant_keys;
        for (k = 0; keys[k]; k++)
                if (strcmp(keys[k], key) == 0)
                        break;
        if (!keys[k])
                return parse_error(p, "unknown key %s= in [%s]; check the spelling (keys are case-sensitive)",
                                   key, section_name(p->section));
        if (p->seen & (1u << k))
                return parse_error(p, "%s= is set twice in this [%s] section; keep one", key, section_name(p->section));
        p->seen |= 1u << k;

        if (!*value)
                return parse_error(p, "%s= has no value; give one or remove the line", key);
        if (value[strlen(value) - 1] == '\\')
                return parse_error(p, "%s= ends in a backslash, but line continuation is not supported; put the value on one line", key);

        switch (p->section) {
        case SECTION_BROKER:
                return assign_broker(p, k, key, value);
        case SECTION_PF:
                return assign_pf(p, k, key, value);
        default:
                return assign_tenant(p, k, key, value);
        }
}

static int parse_buffer(Parser *p, char *data, size_t size) {
        char *line = data, *end = data + size;

        p->line = 0;
        p->section = SECTION_NONE;
        p->seen = 0;

        while (line < end) {
                char *nl = memchr(line, '\n', (size_t) (end - line));
                char *next = nl ? nl + 1 : end;
                size_t len = (size_t) ((nl ? nl : end) - line);
                char *l;
                int r;

                p->line++;
                if (len > CONFIG_LINE_MAX)
                        return parse_error(p, "line is longer than %u bytes; shorten it", CONFIG_LINE_MAX);
                if (memchr(line, '\0', len))
                        return parse_error(p, "line contains a NUL byte; this is not a text file, remove it");
                line[len] = '\0';
                if (len > 0 && line[len - 1] == '\r')
                        line[len - 1] = '\0';

                l = trim(line);
                if (*l == '#' || *l == ';' || *l == '\0') {
                        line = next;
                        continue;
                }
                strip_inline_comment(l);
                l = trim(l);

                if (*l == '[')
                        r = start_section(p, l);
                else
                        r = parse_assignment(p, l);
                if (r < 0)
                        return r;
                line = next;
        }

        return finish_section(p);
}

static int set_io_error(char **ret_error, int r, const char *path, const char *what) {
        if (asprintf(ret_error, "%s: %s: %s", path, what, strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

/* Reads one file (missing_ok for the main file) and parses it into p->config. */
static int parse_file(Parser *p, const char *path, bool missing_ok) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t size = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && missing_ok)
                        return 0;
                return set_io_error(&p->error, -errno, path, "cannot open configuration file");
        }
        if (fstat(fd, &st) < 0)
                return set_io_error(&p->error, -errno, path, "cannot stat configuration file");
        if (!S_ISREG(st.st_mode))
                return parse_error_at(p, path, "is not a regular file; replace it with a configuration file or remove it");
        if (st.st_size > (off_t) CONFIG_FILE_MAX)
                return parse_error_at(p, path, "is larger than %u bytes; split it into drop-ins or shorten it", CONFIG_FILE_MAX);

        /* One byte more than the limit, so a file that grew after fstat is caught too. */
        data = malloc(CONFIG_FILE_MAX + 2);
        if (!data)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, data + size, CONFIG_FILE_MAX + 1 - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return set_io_error(&p->error, -errno, path, "cannot read configuration file");
                }
                if (k == 0)
                        break;
                size += (size_t) k;
                if (size > CONFIG_FILE_MAX)
                        return parse_error_at(p, path, "is larger than %u bytes; split it into drop-ins or shorten it", CONFIG_FILE_MAX);
        }
        data[size] = '\0';

        p->path = path;
        return parse_buffer(p, data, size);
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static bool is_dropin_name(const char *n) {
        size_t l = strlen(n);

        /* Hidden files are editor and package-manager leftovers, not configuration. */
        return n[0] != '.' && l > 5 && strcmp(n + l - 5, ".conf") == 0;
}

static int list_dropins(Parser *p, const char *dir, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        DIR *d;
        struct dirent *de;
        size_t n = 0;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = NULL;
                        return 0;
                }
                return set_io_error(&p->error, -errno, dir, "cannot open drop-in directory");
        }

        for (;;) {
                struct stat st;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = set_io_error(&p->error, -errno, dir, "cannot read drop-in directory");
                        break;
                }
                if (!is_dropin_name(de->d_name))
                        continue;
                /* Symlinks are followed, like systemd's drop-ins; only regular
                 * files count, so a dangling link or a directory is skipped. */
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                if (n >= CONFIG_DROPINS_MAX) {
                        r = parse_error_at(p, dir, "holds more than %u drop-ins; merge some of them", CONFIG_DROPINS_MAX);
                        break;
                }
                r = strv_extend(&l, de->d_name);
                if (r < 0)
                        break;
                n++;
        }
        closedir(d);
        if (r < 0)
                return r;

        if (n > 0)
                qsort(l, n, sizeof(char *), strcmp_ptr);
        *ret = TAKE_PTR(l);
        return 0;
}

/* Checks that need the whole configuration: references between sections and totals. */
static int check_config(Parser *p) {
        Config *c = p->config;

        for (size_t i = 0; i < c->n_pfs; i++) {
                const ConfigPf *pf = &c->pfs[i];
                size_t t;

                if (pf->tenant &&
                    section_index_find(&p->tenant_index, name_hash(pf->tenant), c, pf->tenant, tenant_named, SIZE_MAX, &t) == 0)
                        return parse_error_at(p, pf->source,
                                              "Tenant=%s names no [Tenant] section; add a [Tenant] with Name=%s or fix the name",
                                              pf->tenant, pf->tenant);
        }
        /* Unset, the reservation follows a small MaxConnections= down (a quarter
         * of it, at most 8), so configurations that predate the key still load. */
        if (!p->reserved_where[0])
                c->reserved_connections = MIN(c->reserved_connections, c->max_connections / 4);
        if (c->reserved_connections >= c->max_connections)
                return parse_error_at(p, p->reserved_where,
                                      "ReservedConnections=%u leaves no connection for anybody else under MaxConnections=%u; "
                                   "lower ReservedConnections= or raise MaxConnections=",
                                   c->reserved_connections, c->max_connections);
        if (c->n_tenants > c->max_tenants)
                return parse_error_at(p, c->tenants[c->max_tenants].source,
                                      "this is [Tenant] number %u, but MaxTenants=%u; raise MaxTenants= or remove tenants",
                                      c->max_tenants + 1, c->max_tenants);
        return 0;
}

int config_load(const char *main_path, const char *dropin_dir, Config **ret, char **ret_error) {
        _cleanup_strv_free_ char **dropins = NULL;
        Parser p = { .config = NULL };
        Config *c;
        int r;

        c = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;
        *c = (Config) {
                .system_bus = false,
                .root_skips_polkit = true,
                .max_connections = 256,
                .max_calls_per_connection = 8,
                .max_tenants = 1024,
                .default_quota = 1,
                .max_connections_per_user = 16,
                .reserved_connections = 8,
                .idle_timeout_sec = 300,
        };
        p.config = c;

        if (main_path) {
                r = parse_file(&p, main_path, true);
                if (r < 0)
                        goto fail;
        }

        if (dropin_dir) {
                r = list_dropins(&p, dropin_dir, &dropins);
                if (r < 0)
                        goto fail;
                for (char **i = dropins; i && *i; i++) {
                        _cleanup_free_ char *path = NULL;

                        if (asprintf(&path, "%s/%s", dropin_dir, *i) < 0) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        r = parse_file(&p, path, false);
                        if (r < 0)
                                goto fail;
                }
        }

        r = check_config(&p);
        if (r < 0)
                goto fail;

        free(p.pf_index);
        free(p.tenant_index);
        *ret = c;
        return 0;

fail:
        free(p.pf_index);
        free(p.tenant_index);
        config_free(c);
        if (ret_error)
                *ret_error = TAKE_PTR(p.error);
        free(p.error);
        return r;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_pfs; i++) {
                free(c->pfs[i].interface);
                free(c->pfs[i].tenant);
                free(c->pfs[i].source);
        }
        free(c->pfs);
        for (size_t i = 0; i < c->n_tenants; i++) {
                free(c->tenants[i].name);
                free(c->tenants[i].uids);
                free(c->tenants[i].gids);
                free(c->tenants[i].source);
        }
        free(c->tenants);
        free(c);
        return NULL;
}

const char *pf_mode_to_string(PfMode m) {
        switch (m) {
        case PF_MODE_POOL:
                return "pool";
        case PF_MODE_DEDICATED:
                return "dedicated";
        default:
                return NULL;
        }
}

const char *pf_driver_to_string(PfDriver d) {
        switch (d) {
        case PF_DRIVER_AUTO:
                return "auto";
        case PF_DRIVER_VFIO_PCI:
                return "vfio-pci";
        case PF_DRIVER_VFBROKER_VFIO_PCI:
                return "vfbroker_vfio_pci";
        default:
                return NULL;
        }
}

const ConfigTenant *config_find_tenant(const Config *c, const char *name) {
        if (!c || !name)
                return NULL;
        for (size_t i = 0; i < c->n_tenants; i++)
                if (c->tenants[i].name && strcmp(c->tenants[i].name, name) == 0)
                        return &c->tenants[i];
        return NULL;
}
