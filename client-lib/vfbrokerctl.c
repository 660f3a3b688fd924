/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfbrokerctl: the command-line client of vfbrokerd, built on libvfbroker's
 * public API only: status, listings, tenant management, and `run`. */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vfbroker/vfbroker.h>

#include "build-config.h"
#include "output.h"
#include "protocol.h"

enum {
        EXIT_OK = 0,
        EXIT_GENERIC = 1,
        EXIT_USAGE = 2,
        EXIT_NOT_AUTHORIZED = 3,
        EXIT_NO_VF = 4,
        EXIT_CONNECT = 5,
        EXIT_UNKNOWN = 6,
};

/* Limits on what a user may ask for in one command. */
#define RUN_COUNT_MAX 64          /* 3 fds each, so at most fd 194 */

static const char *arg_socket = NULL;
static bool arg_system = false;
static bool arg_json = false;
static bool arg_legend = true;
static const char *arg_tenant = NULL;
static unsigned arg_count = 1;
static const char *arg_pf = NULL;
static int arg_numa_node = -1;
static VfbrokerApi arg_api = VFBROKER_API_GROUP;
static bool arg_api_given = false;
static bool arg_qemu = false;
static uint32_t arg_quota = 0;
static uid_t arg_uids[TENANT_IDS_MAX];
static size_t arg_n_uids = 0;
static gid_t arg_gids[TENANT_IDS_MAX];
static size_t arg_n_gids = 0;

/* The child `run` started; the signal handler forwards to it. */
static volatile pid_t run_child = 0;

enum {
        OPT_SOCKET = 0x100,
        OPT_SYSTEM,
        OPT_JSON,
        OPT_NO_LEGEND,
        OPT_VERSION,
        OPT_TENANT,
        OPT_COUNT,
        OPT_PF,
        OPT_NUMA_NODE,
        OPT_USER,
        OPT_GROUP,
        OPT_QUOTA,
        OPT_FORCE,
        OPT_API,
        OPT_QEMU,
};

/* Which command-specific options were given, to refuse them elsewhere. */
#define SEEN_RUN    (1u << 0)
#define SEEN_TENANT (1u << 1)
#define SEEN_FORCE  (1u << 2)
static unsigned seen = 0;
static bool arg_force = false;

static void help(FILE *f) {
        fprintf(f,
                "Usage: vfbrokerctl [OPTIONS] COMMAND ...\n"
                "\n"
                "Talk to vfbrokerd, which hands SR-IOV VFs to unprivileged programs as ready VFIO fds.\n"
                "\n"
                "Commands:\n"
                "  status                          Show the broker's version and counts\n"
                "  list-pfs                        List the physical functions\n"
                "  list-vfs                        List the virtual functions and their state\n"
                "  list-leases                     List the leases\n"
                "  list-tenants                    List the tenants (without tokens)\n"
                "  tenant create NAME [--user U]... [--group G]... [--quota N]\n"
                "                                  Create a tenant; U and G are names or numbers\n"
                "  tenant delete NAME [--force]    Delete a tenant that holds no leases\n"
                "                                  (--force: revoke its leases first)\n"
                "  tenant rotate NAME              Give a tenant a fresh token\n"
                "  tenant show-token NAME          Print a tenant's token (dedicated PFs only)\n"
                "  set-numvfs PF N                 Set how many VFs the PF at address PF has\n"
                "  release LEASE                   End a lease\n"
                "  revoke LEASE                    End somebody's lease now (forced where the PF's driver\n"
                "                                  can: vfbroker_vfio_pci; else the VF drains when its\n"
                "                                  holder closes it, and the exit code is 1)\n"
                "  run --tenant T [--count N] [--pf BDF] [--numa-node N] [--api API] [--qemu] -- CMD [ARGS...]\n"
                "                                  Lease N VFs (default 1, at most %d), run CMD with them,\n"
                "                                  release them when CMD exits\n"
                "\n"
                "Options:\n"
                "  --socket PATH     The broker's socket (default $VFBROKER_SOCKET, else %s)\n"
                "  --system          Call the broker on the system bus (SystemBus=yes) instead\n"
                "  --json            Print JSON instead of tables (status, list-*, tenant show-token)\n"
                "  --no-legend       Print tables without the header line\n"
                "  -h --help         Show this help\n"
                "  --version         Show the version\n"
                "\n"
                "run options:\n"
                "  --api group       VF i's fds are container = 3+3i, group = 4+3i, device = 5+3i (default)\n"
                "  --api iommufd     fd 3 is an open /dev/iommu shared by all VFs, fd 4+i VF i's unbound\n"
                "                    VFIO cdev: what QEMU, cloud-hypervisor and libvirt take (kernels with\n"
                "                    IOMMUFD and the VFIO cdev only)\n"
                "  --qemu            Implies --api iommufd and appends QEMU's arguments for every VF to CMD:\n"
                "                    -object iommufd,id=vfbroker-iommufd,fd=3\n"
                "                    -device vfio-pci,iommufd=vfbroker-iommufd,fd=4+i,id=vfbroker-vf<i>\n"
                "                    (also in $VFBROKER_QEMU_ARGS)\n"
                "run sets VFBROKER_API, VFBROKER_VF_COUNT and, for each i, VFBROKER_VF<i>_ADDRESS,\n"
                "_IOMMU_GROUP, _LEASE and _DEVICE_FD, and _CONTAINER_FD and _GROUP_FD (group) or\n"
                "VFBROKER_IOMMUFD_FD (iommufd). For a container: crun run --preserve-fds=N keeps fds\n"
                "3..N+2 (N = 1 + count with iommufd, 3 x count with group). SIGINT, SIGTERM, SIGHUP and\n"
                "SIGQUIT sent to vfbrokerctl are forwarded to CMD.\n"
                "\n"
                "Exit status:\n"
                "  0  success\n"
                "  1  failure not listed below\n"
                "  2  usage error, or the broker refused an argument (InvalidArgument)\n"
                "  3  not authorized (NotAuthorized)\n"
                "  4  no free VF, or the tenant's quota is used up (NoFreeVF, QuotaExceeded)\n"
                "  5  cannot connect to the broker (is vfbroker.socket running?)\n"
                "  6  unknown tenant, PF or lease (UnknownTenant, UnknownPhysicalFunction, UnknownLease)\n"
                "  run exits with CMD's status (128+N if a signal N killed it) once CMD has started.\n",
                RUN_COUNT_MAX, VFBROKER_SOCKET_DEFAULT);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nSee 'vfbrokerctl --help'.\n", stderr);
        return EXIT_USAGE;
}

static bool name_is(const char *name, const char *suffix) {
        static const char prefix[] = VFBROKER_ERROR_PREFIX;

        return name && strncmp(name, prefix, strlen(prefix)) == 0 && strcmp(name + strlen(prefix), suffix) == 0;
}

static int exit_code_for(VfbrokerConnection *c, int r) {
        const char *name = vfbroker_last_error_name(c);

        if (name_is(name, "NotAuthorized") ||
            (name && (strcmp(name, "org.freedesktop.DBus.Error.AccessDenied") == 0 ||
                      strcmp(name, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") == 0)))
                return EXIT_NOT_AUTHORIZED;
        if (name_is(name, "NoFreeVF") || name_is(name, "QuotaExceeded"))
                return EXIT_NO_VF;
        if (name_is(name, "UnknownTenant") || name_is(name, "UnknownPhysicalFunction") ||
            name_is(name, "UnknownLease"))
                return EXIT_UNKNOWN;
        if (name_is(name, "InvalidArgument"))
                return EXIT_USAGE;
        if (!name && r == -ECONNRESET)
                return EXIT_CONNECT;
        return EXIT_GENERIC;
}

/* Prints why a call failed and returns the exit code for it. */
static int fail(VfbrokerConnection *c, int r, const char *what) {
        const char *msg = vfbroker_last_error(c);

        if (msg)
                fprintf(stderr, "Failed to %s: %s\n", what, msg);
        else
                fprintf(stderr, "Failed to %s: %s\n", what, strerror(-r));
        return exit_code_for(c, r);
}

static int connect_broker(VfbrokerConnection **ret) {
        const char *path = vfbroker_socket_path(arg_socket);
        int r;

        if (arg_system && arg_socket) {
                fprintf(stderr, "--system and --socket name two different ways to the broker; pass one.\n");
                return EXIT_USAGE;
        }
        if (arg_system) {
                r = vfbroker_connect_system(ret);
                if (r >= 0)
                        return EXIT_OK;
                fprintf(stderr, "Cannot connect to the system bus: %s. Is dbus running?\n", strerror(-r));
                return EXIT_CONNECT;
        }
        r = vfbroker_connect(arg_socket, ret);
        if (r >= 0)
                return EXIT_OK;
        if (r == -ENAMETOOLONG || r == -EINVAL) {
                fprintf(stderr, "Cannot use '%s' as the broker's socket: %s; pass a path shorter than 108 bytes.\n",
                        path, strerror(-r));
                return EXIT_USAGE;
        }
        fprintf(stderr,
                "Cannot connect to the broker at %s: %s. Is vfbroker.socket running? "
                "Start it with 'systemctl start vfbroker.socket', or point --socket or $VFBROKER_SOCKET "
                "at the broker's socket.\n",
                path, strerror(-r));
        return EXIT_CONNECT;
}

static int print_table(Table *t, const char *one, const char *many) {
        table_print(t, stdout, arg_legend);
        if (arg_legend)
                printf("\n%zu %s listed.\n", table_rows(t), table_rows(t) == 1 ? one : many);
        if (fflush(stdout) != 0)
                return EXIT_GENERIC;
        return EXIT_OK;
}

static int finish_json(Json *j) {
        if (json_finish(j) < 0) {
                fprintf(stderr, "Failed to write the JSON output: %s\n", strerror(errno));
                return EXIT_GENERIC;
        }
        return EXIT_OK;
}

static int oom(void) {
        fputs("Out of memory.\n", stderr);
        return EXIT_GENERIC;
}

/* ---- status and listings ---- */

static int verb_status(VfbrokerConnection *c, char **args) {
        VfbrokerStatus *s;
        int r;

        r = vfbroker_get_status(c, &s);
        if (r < 0)
                return fail(c, r, "read the broker's status");

        if (arg_json) {
                Json j;

                json_init(&j, stdout);
                json_begin_object(&j);
                json_key(&j, "Socket");
                json_string(&j, vfbroker_connection_socket_path(c) ? vfbroker_connection_socket_path(c) : "system bus");
                json_key(&j, "Version");
                json_string(&j, s->version);
                json_key(&j, "PhysicalFunctions");
                json_uint(&j, s->physical_functions);
                json_key(&j, "VirtualFunctions");
                json_uint(&j, s->virtual_functions);
                json_key(&j, "Leases");
                json_uint(&j, s->leases);
                json_end_object(&j);
                vfbroker_status_free(s);
                return finish_json(&j);
        }

        printf("            Socket: %s\n"
               "           Version: %s\n"
               "Physical functions: %" PRIu32 " ready\n"
               " Virtual functions: %" PRIu32 "\n"
               "            Leases: %" PRIu32 " active\n",
               vfbroker_connection_socket_path(c) ? vfbroker_connection_socket_path(c) : "system bus", s->version,
               s->physical_functions, s->virtual_functions, s->leases);
        vfbroker_status_free(s);
        return EXIT_OK;
}

static char *strv_join(char * const *l, const char *sep) {
        size_t n = 1;
        char *s, *p;

        for (char * const *i = l; *i; i++)
                n += strlen(*i) + strlen(sep);
        s = malloc(n);
        if (!s)
                return NULL;
        p = s;
        *p = '\0';
        for (char * const *i = l; *i; i++)
                p = stpcpy(stpcpy(p, i == l ? "" : sep), *i);
        return s;
}

static const char *dash_if_empty(const char *s) {
        return s && s[0] != '\0' ? s : "-";
}

static int verb_list_pfs(VfbrokerConnection *c, char **args) {
        static const char * const headers[] = {
                "ADDRESS", "INTERFACE", "DRIVER", "MODE", "TENANT", "STATE", "VFS", "TOTAL", "FREE", "FEATURES", "REASON",
        };
        VfbrokerPfInfo **l;
        Table *t = NULL;
        int r, ret = EXIT_OK;

        r = vfbroker_list_pfs(c, &l, NULL);
        if (r < 0)
                return fail(c, r, "list the physical functions");

        if (arg_json) {
                Json j;

                json_init(&j, stdout);
                json_begin_array(&j);
                for (VfbrokerPfInfo **i = l; *i; i++) {
                        json_begin_object(&j);
                        json_key(&j, "Address");
                        json_string(&j, (*i)->address);
                        json_key(&j, "Interface");
                        json_string(&j, (*i)->interface);
                        json_key(&j, "Driver");
                        json_string(&j, (*i)->driver);
                        json_key(&j, "Features");
                        json_begin_array(&j);
                        for (char **f = (*i)->features; *f; f++)
                                json_string(&j, *f);
                        json_end_array(&j);
                        json_key(&j, "Mode");
                        json_string(&j, (*i)->mode);
                        json_key(&j, "Tenant");
                        json_string(&j, (*i)->tenant);
                        json_key(&j, "State");
                        json_string(&j, (*i)->state);
                        json_key(&j, "Reason");
                        json_string(&j, (*i)->reason);
                        json_key(&j, "NumVFs");
                        json_uint(&j, (*i)->num_vfs);
                        json_key(&j, "TotalVFs");
                        json_uint(&j, (*i)->total_vfs);
                        json_key(&j, "FreeVFs");
                        json_uint(&j, (*i)->free_vfs);
                        json_key(&j, "APIs");
                        json_begin_array(&j);
                        for (char **f = (*i)->apis; f && *f; f++)
                                json_string(&j, *f);
                        json_end_array(&j);
                        json_key(&j, "IommufdUnavailableReason");
                        json_string(&j, (*i)->iommufd_unavailable_reason ? (*i)->iommufd_unavailable_reason : "");
                        json_end_object(&j);
                }
                json_end_array(&j);
                vfbroker_pf_list_free(l);
                return finish_json(&j);
        }

        if (table_new(&t, sizeof(headers) / sizeof(headers[0]), headers) < 0)
                goto oom;
        for (VfbrokerPfInfo **i = l; *i; i++) {
                char *features = strv_join((*i)->features, ",");

                if (!features)
                        goto oom;
                r = table_add(t, (*i)->address);
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->interface));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->driver));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->mode));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->tenant));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->state));
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (*i)->num_vfs);
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (*i)->total_vfs);
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (*i)->free_vfs);
                r = r < 0 ? r : table_add(t, dash_if_empty(features));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->reason));
                free(features);
                if (r < 0)
                        goto oom;
        }
        ret = print_table(t, "PF", "PFs");
        goto out;
oom:
        ret = oom();
out:
        table_free(t);
        vfbroker_pf_list_free(l);
        return ret;
}

static int verb_list_vfs(VfbrokerConnection *c, char **args) {
        static const char * const headers[] = {
                "ADDRESS", "PF", "INDEX", "GROUP", "NUMA", "STATE", "TENANT", "LEASE",
        };
        VfbrokerVfInfo **l;
        Table *t = NULL;
        int r, ret = EXIT_OK;

        r = vfbroker_list_vfs(c, &l, NULL);
        if (r < 0)
                return fail(c, r, "list the virtual functions");

        if (arg_json) {
                Json j;

                json_init(&j, stdout);
                json_begin_array(&j);
                for (VfbrokerVfInfo **i = l; *i; i++) {
                        json_begin_object(&j);
                        json_key(&j, "Address");
                        json_string(&j, (*i)->address);
                        json_key(&j, "PhysicalFunction");
                        json_string(&j, (*i)->physical_function);
                        json_key(&j, "Index");
                        json_uint(&j, (*i)->index);
                        json_key(&j, "IommuGroup");
                        json_uint(&j, (*i)->iommu_group);
                        json_key(&j, "NumaNode");
                        json_int(&j, (*i)->numa_node);
                        json_key(&j, "State");
                        json_string(&j, (*i)->state);
                        json_key(&j, "Lease");
                        json_string(&j, (*i)->lease);
                        json_key(&j, "Tenant");
                        json_string(&j, (*i)->tenant);
                        json_end_object(&j);
                }
                json_end_array(&j);
                vfbroker_vf_list_free(l);
                return finish_json(&j);
        }

        if (table_new(&t, sizeof(headers) / sizeof(headers[0]), headers) < 0)
                goto oom;
        for (VfbrokerVfInfo **i = l; *i; i++) {
                r = table_add(t, (*i)->address);
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->physical_function));
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (*i)->index);
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (*i)->iommu_group);
                if ((*i)->numa_node >= 0)
                        r = r < 0 ? r : table_addf(t, "%" PRIi32, (*i)->numa_node);
                else
                        r = r < 0 ? r : table_add(t, "-");
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->state));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->tenant));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->lease));
                if (r < 0)
                        goto oom;
        }
        ret = print_table(t, "VF", "VFs");
        goto out;
oom:
        ret = oom();
out:
        table_free(t);
        vfbroker_vf_list_free(l);
        return ret;
}

static int format_usec(uint64_t usec, char *buf, size_t size) {
        time_t sec = (time_t) (usec / 1000000ULL);
        struct tm tm;

        if (usec == 0 || !gmtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
                snprintf(buf, size, "-");
                return -EINVAL;
        }
        return 0;
}

static int verb_list_leases(VfbrokerConnection *c, char **args) {
        static const char * const headers[] = {
                "LEASE", "VF", "PF", "TENANT", "UID", "PID", "CREATED", "STATE",
        };
        VfbrokerLeaseInfo **l;
        Table *t = NULL;
        int r, ret = EXIT_OK;

        r = vfbroker_list_leases(c, &l, NULL);
        if (r < 0)
                return fail(c, r, "list the leases");

        if (arg_json) {
                Json j;

                json_init(&j, stdout);
                json_begin_array(&j);
                for (VfbrokerLeaseInfo **i = l; *i; i++) {
                        json_begin_object(&j);
                        json_key(&j, "Id");
                        json_string(&j, (*i)->id);
                        json_key(&j, "VirtualFunction");
                        json_string(&j, (*i)->virtual_function);
                        json_key(&j, "PhysicalFunction");
                        json_string(&j, (*i)->physical_function);
                        json_key(&j, "Tenant");
                        json_string(&j, (*i)->tenant);
                        json_key(&j, "Uid");
                        json_uint(&j, (*i)->uid);
                        json_key(&j, "Pid");
                        json_uint(&j, (uint32_t) (*i)->pid);
                        json_key(&j, "Created");
                        json_uint(&j, (*i)->created_usec);
                        json_key(&j, "State");
                        json_string(&j, (*i)->state);
                        json_end_object(&j);
                }
                json_end_array(&j);
                vfbroker_lease_list_free(l);
                return finish_json(&j);
        }

        if (table_new(&t, sizeof(headers) / sizeof(headers[0]), headers) < 0)
                goto oom;
        for (VfbrokerLeaseInfo **i = l; *i; i++) {
                char created[64];

                (void) format_usec((*i)->created_usec, created, sizeof(created));
                r = table_add(t, (*i)->id);
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->virtual_function));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->physical_function));
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->tenant));
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (uint32_t) (*i)->uid);
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (uint32_t) (*i)->pid);
                r = r < 0 ? r : table_add(t, created);
                r = r < 0 ? r : table_add(t, dash_if_empty((*i)->state));
                if (r < 0)
                        goto oom;
        }
        ret = print_table(t, "lease", "leases");
        goto out;
oom:
        ret = oom();
out:
        table_free(t);
        vfbroker_lease_list_free(l);
        return ret;
}

/* "name" where the id resolves, else the number; joined with ','. */
static char *ids_to_string(const uint32_t *ids, size_t n, bool users) {
        size_t size = 1, len = 0;
        char *s = malloc(size);

        if (!s)
                return NULL;
        s[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                char num[16], *ns;
                const char *name = NULL;
                size_t add;

                if (users) {
                        struct passwd *pw = getpwuid(ids[i]);
                        name = pw ? pw->pw_name : NULL;
                } else {
                        struct group *gr = getgrgid(ids[i]);
                        name = gr ? gr->gr_name : NULL;
                }
                if (!name) {
                        snprintf(num, sizeof(num), "%" PRIu32, ids[i]);
                        name = num;
                }
                add = strlen(name) + (i > 0);
                ns = realloc(s, size + add);
                if (!ns) {
                        free(s);
                        return NULL;
                }
                s = ns;
                if (i > 0)
                        s[len++] = ',';
                memcpy(s + len, name, strlen(name) + 1);
                len += strlen(name);
                size += add;
        }
        return s;
}

static int verb_list_tenants(VfbrokerConnection *c, char **args) {
        static const char * const headers[] = {
                "NAME", "QUOTA", "LEASES", "SOURCE", "USERS", "GROUPS",
        };
        VfbrokerTenantInfo **l;
        Table *t = NULL;
        int r, ret = EXIT_OK;

        r = vfbroker_list_tenants(c, &l, NULL);
        if (r < 0)
                return fail(c, r, "list the tenants");

        if (arg_json) {
                Json j;

                json_init(&j, stdout);
                json_begin_array(&j);
                for (VfbrokerTenantInfo **i = l; *i; i++) {
                        json_begin_object(&j);
                        json_key(&j, "Name");
                        json_string(&j, (*i)->name);
                        json_key(&j, "Uids");
                        json_begin_array(&j);
                        for (size_t k = 0; k < (*i)->n_uids; k++)
                                json_uint(&j, (*i)->uids[k]);
                        json_end_array(&j);
                        json_key(&j, "Gids");
                        json_begin_array(&j);
                        for (size_t k = 0; k < (*i)->n_gids; k++)
                                json_uint(&j, (*i)->gids[k]);
                        json_end_array(&j);
                        json_key(&j, "Quota");
                        json_uint(&j, (*i)->quota);
                        json_key(&j, "Leases");
                        json_uint(&j, (*i)->leases);
                        json_key(&j, "FromConfig");
                        json_bool(&j, (*i)->from_config);
                        json_end_object(&j);
                }
                json_end_array(&j);
                vfbroker_tenant_list_free(l);
                return finish_json(&j);
        }

        if (table_new(&t, sizeof(headers) / sizeof(headers[0]), headers) < 0)
                goto oom;
        for (VfbrokerTenantInfo **i = l; *i; i++) {
                char *users = ids_to_string((*i)->uids, (*i)->n_uids, true);
                char *groups = ids_to_string((*i)->gids, (*i)->n_gids, false);

                r = users && groups ? 0 : -ENOMEM;
                r = r < 0 ? r : table_add(t, (*i)->name);
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (*i)->quota);
                r = r < 0 ? r : table_addf(t, "%" PRIu32, (*i)->leases);
                r = r < 0 ? r : table_add(t, (*i)->from_config ? "config" : "runtime");
                r = r < 0 ? r : table_add(t, dash_if_empty(users));
                r = r < 0 ? r : table_add(t, dash_if_empty(groups));
                free(users);
                free(groups);
                if (r < 0)
                        goto oom;
        }
        ret = print_table(t, "tenant", "tenants");
        goto out;
oom:
        ret = oom();
out:
        table_free(t);
        vfbroker_tenant_list_free(l);
        return ret;
}

/* ---- changes ---- */

static int verb_tenant_create(VfbrokerConnection *c, char **args) {
        int r;

        r = vfbroker_tenant_create(c, args[0], arg_uids, arg_n_uids, arg_gids, arg_n_gids, arg_quota);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof(what), "create tenant '%.64s'", args[0]);
                return fail(c, r, what);
        }
        return EXIT_OK;
}

static int verb_tenant_delete(VfbrokerConnection *c, char **args) {
        int r;

        r = arg_force ? vfbroker_tenant_delete_forced(c, args[0]) : vfbroker_tenant_delete(c, args[0]);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof(what), "delete tenant '%.64s'", args[0]);
                return fail(c, r, what);
        }
        return EXIT_OK;
}

static int verb_tenant_rotate(VfbrokerConnection *c, char **args) {
        int r;

        r = vfbroker_tenant_rotate_token(c, args[0]);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof(what), "rotate the token of tenant '%.64s'", args[0]);
                return fail(c, r, what);
        }
        return EXIT_OK;
}

static int verb_tenant_show_token(VfbrokerConnection *c, char **args) {
        char *token;
        int r;

        r = vfbroker_tenant_get_token(c, args[0], &token);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof(what), "read the token of tenant '%.64s'", args[0]);
                return fail(c, r, what);
        }
        if (arg_json) {
                Json j;

                json_init(&j, stdout);
                json_begin_object(&j);
                json_key(&j, "Name");
                json_string(&j, args[0]);
                json_key(&j, "Token");
                json_string(&j, token);
                json_end_object(&j);
                free(token);
                return finish_json(&j);
        }
        printf("%s\n", token);
        free(token);
        return EXIT_OK;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret) {
        unsigned long v;
        char *end;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int check_set_numvfs(char **args) {
        unsigned long n;

        if (parse_uint(args[1], UINT32_MAX, &n) < 0)
                return usage_error("Invalid VF count '%s': pass a number from 0 to the PF's TotalVFs "
                                   "(see 'vfbrokerctl list-pfs').", args[1]);
        return EXIT_OK;
}

static int verb_set_numvfs(VfbrokerConnection *c, char **args) {
        unsigned long n = 0;
        int r;

        /* check_set_numvfs() accepted it before we connected. */
        (void) parse_uint(args[1], UINT32_MAX, &n);
        r = vfbroker_set_num_vfs(c, args[0], (uint32_t) n);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof(what), "set the VF count of PF %.32s to %lu", args[0], n);
                return fail(c, r, what);
        }
        return EXIT_OK;
}

static int verb_release(VfbrokerConnection *c, char **args) {
        int r;

        r = vfbroker_release(c, args[0]);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof(what), "release lease %.64s", args[0]);
                return fail(c, r, what);
        }
        return EXIT_OK;
}

static int verb_revoke(VfbrokerConnection *c, char **args) {
        int r;

        r = vfbroker_revoke_lease(c, args[0]);
        if (r < 0) {
                char what[128];

                snprintf(what, sizeof(what), "revoke lease %.64s", args[0]);
                return fail(c, r, what);
        }
        return EXIT_OK;
}

/* ---- run ---- */

static void forward_signal(int sig, siginfo_t *si, void *ucontext) {
        int saved = errno;

        /* Signals the terminal generates (SI_KERNEL) already reach CMD, which
         * shares our process group; forwarding those would deliver them twice. */
        if (run_child > 0 && si->si_code != SI_KERNEL)
                (void) kill(run_child, sig);
        errno = saved;
}

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* Drops the VFBROKER_VF*, _API, _IOMMUFD_FD and _QEMU_ARGS variables we
 * inherited, so CMD never sees stale ones from an outer `run` next to ours. */
static int clear_vf_environment(void) {
        for (;;) {
                char **e, name[256];
                size_t len;

                for (e = environ; *e; e++)
                        if (strncmp(*e, "VFBROKER_VF", strlen("VFBROKER_VF")) == 0 ||
                            strncmp(*e, "VFBROKER_API=", strlen("VFBROKER_API=")) == 0 ||
                            strncmp(*e, "VFBROKER_IOMMUFD_FD=", strlen("VFBROKER_IOMMUFD_FD=")) == 0 ||
                            strncmp(*e, "VFBROKER_QEMU_ARGS=", strlen("VFBROKER_QEMU_ARGS=")) == 0)
                                break;
                if (!*e)
                        return 0;
                len = strcspn(*e, "=");
                if (len >= sizeof(name))
                        return -ENAMETOOLONG;
                memcpy(name, *e, len);
                name[len] = '\0';
                if (unsetenv(name) < 0)
                        return -errno;
        }
}

static int set_vf_environment(VfbrokerVf **vfs, unsigned n, bool iommufd) {
        char name[64], value[64];
        int r;

        r = clear_vf_environment();
        if (r < 0)
                return r;
        snprintf(value, sizeof(value), "%u", n);
        if (setenv("VFBROKER_VF_COUNT", value, 1) < 0)
                return -errno;
        if (setenv("VFBROKER_API", iommufd ? "iommufd" : "group", 1) < 0)
                return -errno;
        if (iommufd && setenv("VFBROKER_IOMMUFD_FD", "3", 1) < 0)
                return -errno;
        for (unsigned i = 0; i < n; i++) {
                const struct {
                        const char *suffix;
                        const char *s;
                        unsigned long v;
                } vars[] = {
                        { "ADDRESS",      vfs[i]->address, 0 },
                        { "LEASE",        vfs[i]->lease, 0 },
                        { "IOMMU_GROUP",  NULL, vfs[i]->iommu_group },
                        { "DEVICE_FD",    NULL, iommufd ? 4 + i : 5 + 3 * i },
                        { "CONTAINER_FD", NULL, 3 + 3 * i },
                        { "GROUP_FD",     NULL, 4 + 3 * i },
                };
                /* The iommufd path has no container or group. */
                size_t n_vars = sizeof(vars) / sizeof(vars[0]) - (iommufd ? 2 : 0);

                for (size_t k = 0; k < n_vars; k++) {
                        snprintf(name, sizeof(name), "VFBROKER_VF%u_%s", i, vars[k].suffix);
                        if (!vars[k].s)
                                snprintf(value, sizeof(value), "%lu", vars[k].v);
                        if (setenv(name, vars[k].s ? vars[k].s : value, 1) < 0)
                                return -errno;
                }
        }
        return 0;
}

/* In the child: puts VF i's fds at 3+3i, 4+3i, 5+3i without clobbering any
 * source. Every source first moves above the target range, so no dup2()
 * below can land on a source that is still needed; the dup2() copies come
 * without FD_CLOEXEC, every other fd of ours keeps it. */
static int place_fds(VfbrokerVf **vfs, unsigned n, bool iommufd) {
        int src[3 * RUN_COUNT_MAX], high[3 * RUN_COUNT_MAX];
        unsigned n_fds = 0;
        int top;

        /* iommufd: VF 0's iommufd at 3 for all (a cdev binds to any
         * iommufd; the broker hands the same file to each anyway), cdevs at 4+i. */
        if (iommufd)
                src[n_fds++] = vfs[0]->iommufd_fd;
        for (unsigned i = 0; i < n; i++) {
                if (!iommufd) {
                        src[n_fds++] = vfs[i]->container_fd;
                        src[n_fds++] = vfs[i]->group_fd;
                }
                src[n_fds++] = vfs[i]->device_fd;
        }
        top = 3 + (int) n_fds;
        for (unsigned k = 0; k < n_fds; k++) {
                high[k] = fcntl(src[k], F_DUPFD_CLOEXEC, top);
                if (high[k] < 0)
                        return -errno;
        }
        for (unsigned k = 0; k < n_fds; k++)
                if (dup2(high[k], 3 + (int) k) < 0)
                        return -errno;
        return 0;
}

/* --qemu: CMD's arguments and then QEMU's for each VF, and the same words
 * joined by spaces in *ret_joined. */
static int qemu_arguments(char **cmd, unsigned n, char ***ret_argv, char **ret_joined) {
        size_t n_cmd = 0, n_words = 2 + 2 * (size_t) n, len = 0;
        char **argv, **words;
        char *joined;

        while (cmd[n_cmd])
                n_cmd++;
        argv = calloc(n_cmd + n_words + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        memcpy(argv, cmd, n_cmd * sizeof(char *));
        words = argv + n_cmd;
        words[0] = strdup("-object");
        words[1] = strdup("iommufd,id=vfbroker-iommufd,fd=3");
        for (unsigned i = 0; i < n; i++) {
                words[2 + 2 * i] = strdup("-device");
                if (asprintf(&words[3 + 2 * i], "vfio-pci,iommufd=vfbroker-iommufd,fd=%u,id=vfbroker-vf%u", 4 + i, i) < 0)
                        words[3 + 2 * i] = NULL;
        }
        for (size_t k = 0; k < n_words; k++) {
                if (!words[k])
                        goto oom;
                len += strlen(words[k]) + 1;
        }
        joined = malloc(len);
        if (!joined)
                goto oom;
        joined[0] = '\0';
        for (size_t k = 0; k < n_words; k++) {
                if (k > 0)
                        strcat(joined, " ");
                strcat(joined, words[k]);
        }
        *ret_argv = argv;
        *ret_joined = joined;
        return 0;
oom:
        for (size_t k = 0; k < n_words; k++)
                free(words[k]);
        free(argv);
        return -ENOMEM;
}

static void release_all(VfbrokerConnection *c, VfbrokerVf **vfs, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                int r = vfbroker_release(c, vfs[i]->lease);

                if (r < 0) {
                        const char *msg = vfbroker_last_error(c);

                        fprintf(stderr, "Failed to release lease %s of VF %s: %s; "
                                "release it with 'vfbrokerctl release %s' (it also ends when this process exits).\n",
                                vfs[i]->lease, vfs[i]->address, msg ? msg : strerror(-r), vfs[i]->lease);
                }
        }
}

static size_t n_cmd_words(char **cmd) {
        size_t n = 0;

        while (cmd[n])
                n++;
        return n;
}

static int verb_run(VfbrokerConnection *c, char **cmd_in) {
        VfbrokerAcquireOptions opts = VFBROKER_ACQUIRE_OPTIONS_INIT;
        bool iommufd = arg_api == VFBROKER_API_IOMMUFD || arg_qemu;
        char **cmd = cmd_in, **qemu_argv = NULL, *qemu_joined = NULL;
        VfbrokerVf *vfs[RUN_COUNT_MAX] = { NULL };
        struct sigaction sa, old_sa[sizeof(forwarded_signals) / sizeof(forwarded_signals[0])];
        sigset_t mask, old_mask;
        unsigned n = 0;
        int r, ret, status;
        pid_t pid;

        memset(&sa, 0, sizeof(sa));
        opts.physical_function = arg_pf;
        opts.numa_node = arg_numa_node;

        if (iommufd && arg_qemu) {
                r = qemu_arguments(cmd, arg_count, &qemu_argv, &qemu_joined);
                if (r < 0)
                        return oom();
                cmd = qemu_argv;
        }

        for (n = 0; n < arg_count; n++) {
                r = iommufd ? vfbroker_acquire_with_api(c, arg_tenant, &opts, VFBROKER_API_IOMMUFD, &vfs[n]) :
                              vfbroker_acquire(c, arg_tenant, &opts, &vfs[n]);
                if (r < 0) {
                        char what[160];

                        snprintf(what, sizeof(what), "acquire VF %u of %u for tenant '%.64s'",
                                 n + 1, arg_count, arg_tenant);
                        ret = fail(c, r, what);
                        goto release;
                }
        }

        r = set_vf_environment(vfs, n, iommufd);
        if (r == 0 && qemu_joined && setenv("VFBROKER_QEMU_ARGS", qemu_joined, 1) < 0)
                r = -errno;
        if (r < 0) {
                fprintf(stderr, "Failed to set the VFBROKER_VF* environment for %s: %s\n", cmd[0], strerror(-r));
                ret = EXIT_GENERIC;
                goto release;
        }

        /* Block the forwarded signals until the handler knows the child's pid. */
        sigemptyset(&mask);
        for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
                sigaddset(&mask, forwarded_signals[i]);
        sigprocmask(SIG_BLOCK, &mask, &old_mask);

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "Failed to start %s: fork: %s\n", cmd[0], strerror(errno));
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                ret = EXIT_GENERIC;
                goto release;
        }
        if (pid == 0) {
                sigprocmask(SIG_SETMASK, &old_mask, NULL);
                r = place_fds(vfs, n, iommufd);
                if (r < 0) {
                        fprintf(stderr, "Failed to pass the VF fds to %s: %s; raise the fd limit (ulimit -n).\n",
                                cmd[0], strerror(-r));
                        _exit(EXIT_GENERIC);
                }
                execvp(cmd[0], cmd);
                r = errno;
                fprintf(stderr, "Failed to execute %s: %s; check that it is installed and on $PATH.\n",
                        cmd[0], strerror(r));
                _exit(r == ENOENT ? 127 : 126);
        }

        run_child = pid;
        sa.sa_sigaction = forward_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
                sigaction(forwarded_signals[i], &sa, &old_sa[i]);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);

        /* Only CMD may hold the VF now: when it exits, the VF can drain. */
        for (unsigned i = 0; i < n; i++) {
                close(vfs[i]->container_fd);
                close(vfs[i]->group_fd);
                close(vfs[i]->device_fd);
                close(vfs[i]->iommufd_fd);
                vfs[i]->container_fd = vfs[i]->group_fd = vfs[i]->device_fd = vfs[i]->iommufd_fd = -1;
        }

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        fprintf(stderr, "Failed to wait for %s (pid %d): %s\n", cmd[0], (int) pid, strerror(errno));
                        status = -1;
                        break;
                }
        run_child = 0;
        for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
                sigaction(forwarded_signals[i], &old_sa[i], NULL);

        if (status == -1)
                ret = EXIT_GENERIC;
        else if (WIFEXITED(status))
                ret = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                ret = 128 + WTERMSIG(status);
        else
                ret = EXIT_GENERIC;

release:
        release_all(c, vfs, n);
        for (unsigned i = 0; i < n; i++)
                vfbroker_vf_free(vfs[i]);
        if (qemu_argv)
                for (char **w = qemu_argv + n_cmd_words(cmd_in); *w; w++)
                        free(*w);
        free(qemu_argv);
        free(qemu_joined);
        return ret;
}

/* ---- command line ---- */

static int parse_user(const char *s, uid_t *ret) {
        unsigned long v;
        struct passwd *pw;

        if (parse_uint(s, UINT32_MAX - 1, &v) == 0) {
                *ret = (uid_t) v;
                return 0;
        }
        errno = 0;
        pw = getpwnam(s);
        if (!pw)
                return usage_error("Unknown user '%s': pass a user name known to this system or a numeric uid.", s);
        *ret = pw->pw_uid;
        return 0;
}

static int parse_group(const char *s, gid_t *ret) {
        unsigned long v;
        struct group *gr;

        if (parse_uint(s, UINT32_MAX - 1, &v) == 0) {
                *ret = (gid_t) v;
                return 0;
        }
        errno = 0;
        gr = getgrnam(s);
        if (!gr)
                return usage_error("Unknown group '%s': pass a group name known to this system or a numeric gid.", s);
        *ret = gr->gr_gid;
        return 0;
}

static const struct option options[] = {
        { "help",      no_argument,       NULL, 'h'           },
        { "version",   no_argument,       NULL, OPT_VERSION   },
        { "socket",    required_argument, NULL, OPT_SOCKET    },
        { "system",    no_argument,       NULL, OPT_SYSTEM    },
        { "json",      no_argument,       NULL, OPT_JSON      },
        { "no-legend", no_argument,       NULL, OPT_NO_LEGEND },
        { "tenant",    required_argument, NULL, OPT_TENANT    },
        { "count",     required_argument, NULL, OPT_COUNT     },
        { "pf",        required_argument, NULL, OPT_PF        },
        { "numa-node", required_argument, NULL, OPT_NUMA_NODE },
        { "user",      required_argument, NULL, OPT_USER      },
        { "group",     required_argument, NULL, OPT_GROUP     },
        { "quota",     required_argument, NULL, OPT_QUOTA     },
        { "force",     no_argument,       NULL, OPT_FORCE     },
        { "api",       required_argument, NULL, OPT_API       },
        { "qemu",      no_argument,       NULL, OPT_QEMU      },
        { NULL,        0,                 NULL, 0             },
};

/* Returns -1 to go on, else the exit code (for --help, --version, errors). */
static int parse_options(int argc, char **argv, const char *optstring) {
        unsigned long v;
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, optstring, options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help(stdout);
                        return EXIT_OK;
                case OPT_VERSION:
                        printf("vfbrokerctl %s\n", PACKAGE_VERSION);
                        return EXIT_OK;
                case OPT_SOCKET:
                        arg_socket = optarg;
                        break;
                case OPT_SYSTEM:
                        arg_system = true;
                        break;
                case OPT_JSON:
                        arg_json = true;
                        break;
                case OPT_NO_LEGEND:
                        arg_legend = false;
                        break;
                case OPT_TENANT:
                        arg_tenant = optarg;
                        seen |= SEEN_RUN;
                        break;
                case OPT_COUNT:
                        if (parse_uint(optarg, RUN_COUNT_MAX, &v) < 0 || v == 0)
                                return usage_error("Invalid --count '%s': pass a number from 1 to %d.",
                                                   optarg, RUN_COUNT_MAX);
                        arg_count = (unsigned) v;
                        seen |= SEEN_RUN;
                        break;
                case OPT_PF:
                        arg_pf = optarg;
                        seen |= SEEN_RUN;
                        break;
                case OPT_API:
                        if (strcmp(optarg, "group") == 0)
                                arg_api = VFBROKER_API_GROUP;
                        else if (strcmp(optarg, "iommufd") == 0)
                                arg_api = VFBROKER_API_IOMMUFD;
                        else
                                return usage_error("Invalid --api '%s': pass group (container, group and device fds) "
                                                   "or iommufd (/dev/iommu and the VF's cdev, what QEMU takes).", optarg);
                        arg_api_given = true;
                        seen |= SEEN_RUN;
                        break;
                case OPT_QEMU:
                        arg_qemu = true;
                        seen |= SEEN_RUN;
                        break;
                case OPT_NUMA_NODE:
                        if (parse_uint(optarg, NUMA_NODE_MAX, &v) < 0)
                                return usage_error("Invalid --numa-node '%s': pass a node number from 0 to %d "
                                                   "(see /sys/devices/system/node/).", optarg, NUMA_NODE_MAX);
                        arg_numa_node = (int) v;
                        seen |= SEEN_RUN;
                        break;
                case OPT_USER:
                        if (arg_n_uids >= TENANT_IDS_MAX)
                                return usage_error("Too many --user options: at most %u.", TENANT_IDS_MAX);
                        if (parse_user(optarg, &arg_uids[arg_n_uids]) != 0)
                                return EXIT_USAGE;
                        arg_n_uids++;
                        seen |= SEEN_TENANT;
                        break;
                case OPT_GROUP:
                        if (arg_n_gids >= TENANT_IDS_MAX)
                                return usage_error("Too many --group options: at most %u.", TENANT_IDS_MAX);
                        if (parse_group(optarg, &arg_gids[arg_n_gids]) != 0)
                                return EXIT_USAGE;
                        arg_n_gids++;
                        seen |= SEEN_TENANT;
                        break;
                case OPT_QUOTA:
                        if (parse_uint(optarg, TENANT_QUOTA_MAX, &v) < 0 || v == 0)
                                return usage_error("Invalid --quota '%s': pass a number from 1 to %d.",
                                                   optarg, TENANT_QUOTA_MAX);
                        arg_quota = (uint32_t) v;
                        seen |= SEEN_TENANT;
                        break;
                case OPT_FORCE:
                        arg_force = true;
                        seen |= SEEN_FORCE;
                        break;
                case ':':
                        return usage_error("Option '%s' needs an argument.", argv[optind - 1]);
                default:
                        return usage_error("Unknown option '%s'.", argv[optind - 1]);
                }
        if (arg_qemu && arg_api_given && arg_api == VFBROKER_API_GROUP)
                return usage_error("--qemu cannot go with --api group: QEMU takes passed fds only on its iommufd "
                                   "backend; drop --api or use --api iommufd.");
        return -1;
}

typedef struct Verb {
        const char *name;
        const char *sub;       /* for "tenant SUB", else NULL */
        int n_args;            /* exactly this many; -1: CMD... for run */
        unsigned allowed;      /* SEEN_* options it takes */
        int (*check)(char **args);  /* validates the arguments before connecting */
        int (*run)(VfbrokerConnection *c, char **args);
} Verb;

static const Verb verbs[] = {
        { "status",       NULL,         0,  0,           NULL,             verb_status            },
        { "list-pfs",     NULL,         0,  0,           NULL,             verb_list_pfs          },
        { "list-vfs",     NULL,         0,  0,           NULL,             verb_list_vfs          },
        { "list-leases",  NULL,         0,  0,           NULL,             verb_list_leases       },
        { "list-tenants", NULL,         0,  0,           NULL,             verb_list_tenants      },
        { "tenant",       "create",     1,  SEEN_TENANT, NULL,             verb_tenant_create     },
        { "tenant",       "delete",     1,  SEEN_FORCE,  NULL,             verb_tenant_delete     },
        { "tenant",       "rotate",     1,  0,           NULL,             verb_tenant_rotate     },
        { "tenant",       "show-token", 1,  0,           NULL,             verb_tenant_show_token },
        { "set-numvfs",   NULL,         2,  0,           check_set_numvfs, verb_set_numvfs        },
        { "release",      NULL,         1,  0,           NULL,             verb_release           },
        { "revoke",       NULL,         1,  0,           NULL,             verb_revoke            },
        { "run",          NULL,         -1, SEEN_RUN,    NULL,             verb_run               },
};

int main(int argc, char **argv) {
        const Verb *verb = NULL;
        VfbrokerConnection *c = NULL;
        char **rest;
        int n_rest, r;

        /* Global options up to the command; getopt stops at the first non-option. */
        r = parse_options(argc, argv, "+:h");
        if (r >= 0)
                return r;
        if (optind >= argc)
                return usage_error("Missing command.");

        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(verbs[i].name, argv[optind]) == 0) {
                        verb = &verbs[i];
                        break;
                }
        if (!verb)
                return usage_error("Unknown command '%s'.", argv[optind]);

        /* The command's options: anywhere among its arguments, except for run,
         * where everything from CMD on belongs to CMD. Restart getopt on the
         * tail, whose first element (the command) plays argv[0]. */
        rest = argv + optind;
        n_rest = argc - optind;
        optind = 0;
        r = parse_options(n_rest, rest, verb->n_args < 0 ? "+:h" : ":h");
        if (r >= 0)
                return r;
        rest += optind;
        n_rest -= optind;

        if (verb->sub) {
                if (n_rest == 0)
                        return usage_error("Missing subcommand: tenant create|delete|rotate|show-token.");
                for (const Verb *v = verb; v < verbs + sizeof(verbs) / sizeof(verbs[0]); v++)
                        if (strcmp(v->name, verb->name) == 0 && strcmp(v->sub, rest[0]) == 0) {
                                verb = v;
                                break;
                        }
                if (strcmp(verb->sub, rest[0]) != 0)
                        return usage_error("Unknown subcommand 'tenant %s'.", rest[0]);
                rest++;
                n_rest--;
        }

        if (seen & ~verb->allowed)
                return usage_error("%s is not valid with '%s%s%s'.",
                                   (seen & ~verb->allowed & SEEN_RUN) ? "--tenant/--count/--pf/--numa-node" :
                                   (seen & ~verb->allowed & SEEN_FORCE) ? "--force" : "--user/--group/--quota",
                                   verb->name, verb->sub ? " " : "", verb->sub ? verb->sub : "");
        if (verb->n_args >= 0 && n_rest != verb->n_args)
                return usage_error("'%s%s%s' takes %d argument%s, %d given.",
                                   verb->name, verb->sub ? " " : "", verb->sub ? verb->sub : "",
                                   verb->n_args, verb->n_args == 1 ? "" : "s", n_rest);
        if (verb->n_args < 0) {
                if (!arg_tenant)
                        return usage_error("run needs --tenant NAME: the tenant to charge for the VFs.");
                if (n_rest == 0)
                        return usage_error("run needs a command: vfbrokerctl run --tenant NAME -- CMD [ARGS...].");
        }

        if (verb->check) {
                r = verb->check(rest);
                if (r != EXIT_OK)
                        return r;
        }

        r = connect_broker(&c);
        if (r != EXIT_OK)
                return r;
        r = verb->run(c, rest);
        vfbroker_disconnect(c);
        return r;
}
