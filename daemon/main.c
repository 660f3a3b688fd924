/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfbrokerd: command line, then the Manager does everything. */

#include <getopt.h>
#include <malloc.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"
#include "config.h"
#include "log.h"
#include "manager.h"

static void help(void) {
        printf("Usage: vfbrokerd [OPTIONS]\n"
               "\n"
               "Owns SR-IOV physical functions through vfio-pci and hands VF file descriptors\n"
               "to authorized, unprivileged clients over %s (D-Bus peer to peer).\n"
               "Normally started by systemd through vfbroker.socket.\n"
               "\n"
               "  -h --help              Show this help and exit\n"
               "     --version           Show the version and exit\n"
               "     --check-config      Check the configuration, print a summary, exit\n"
               "                         (exit status 0 if it is good, 1 if not)\n"
               "     --listen PATH       Serve on PATH instead of the socket systemd passes\n"
               "                         (for running by hand)\n"
               "     --varlink PATH      Serve io.vfbroker.Broker over Varlink on PATH instead\n"
               "                         of the socket systemd passes (%s)\n"
               "     --config FILE       Main configuration file (default %s,\n"
               "                         or vfbroker.conf in $CONFIGURATION_DIRECTORY)\n"
               "     --config-dir DIR    Drop-in directory (default %s,\n"
               "                         or vfbroker.conf.d in $CONFIGURATION_DIRECTORY)\n"
               "     --state-dir DIR     Where state.db lives (default %s,\n"
               "                         or $STATE_DIRECTORY when systemd sets it)\n"
               "     --sysfs-root DIR    Root under which sys/bus/pci is found (default /)\n"
               "     --dev-root DIR      Where vfio/ device nodes are found (default /dev)\n"
               "     --no-sandbox        Do not install the seccomp filter (debugging only)\n"
               "  -v --verbose           Log debug messages\n"
               "\n"
               "Polkit is asked on the system bus ($DBUS_SYSTEM_BUS_ADDRESS if set).\n",
               VFBROKER_SOCKET_PATH,
               HAVE_VARLINK ? VFBROKER_VARLINK_PATH : "not in this build: libsystemd " LIBSYSTEMD_VERSION " has no sd-varlink",
               VFBROKER_CONFIG_FILE, VFBROKER_CONFIG_DROPIN_DIR, VFBROKER_STATE_DIR);
}

/* $STATE_DIRECTORY and friends may list several paths separated by ':'. */
static const char *first_path(const char *list, char *buf, size_t size) {
        size_t n = strcspn(list, ":");

        snprintf(buf, size, "%.*s", (int) MIN(n, size - 1), list);
        return buf;
}

static int check_config(const ManagerOptions *o) {
        _cleanup_free_ char *error = NULL;
        Config *c = NULL;
        int r;

        r = config_load(o->config_file, o->config_dropin_dir, &c, &error);
        if (r < 0) {
                fprintf(stderr, "%s\n", error ? error : strerror(-r));
                return 1;
        }
        printf("Configuration is valid: %zu physical function section(s), %zu tenant(s) (%s, %s/*.conf).\n",
               c->n_pfs, c->n_tenants, o->config_file, o->config_dropin_dir);
        for (size_t i = 0; i < c->n_pfs; i++)
                printf("  %s: NumVFs=%u Mode=%s%s%s Driver=%s\n", c->pfs[i].source, c->pfs[i].num_vfs,
                       pf_mode_to_string(c->pfs[i].mode), c->pfs[i].tenant ? " Tenant=" : "", strempty(c->pfs[i].tenant),
                       pf_driver_to_string(c->pfs[i].driver));
        for (size_t i = 0; i < c->n_tenants; i++)
                printf("  %s: tenant '%s', Quota=%u, %zu users, %zu groups\n", c->tenants[i].source, c->tenants[i].name,
                       c->tenants[i].quota, c->tenants[i].n_uids, c->tenants[i].n_gids);
        config_free(c);
        return 0;
}

/* Large buffers (a listing of thousands of VFs is megabytes) get pages of
 * their own, given back when freed: glibc's adaptive threshold would move
 * them onto the heap after the first, where the daemon keeps them. */
static void malloc_setup(void) {
        (void) mallopt(M_MMAP_THRESHOLD, 256 * 1024);
        (void) mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

int main(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CHECK_CONFIG,
                ARG_LISTEN,
                ARG_VARLINK,
                ARG_CONFIG,
                ARG_CONFIG_DIR,
                ARG_STATE_DIR,
                ARG_SYSFS_ROOT,
                ARG_DEV_ROOT,
                ARG_NO_SANDBOX,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "varlink", required_argument, NULL, ARG_VARLINK },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "sysfs-root", required_argument, NULL, ARG_SYSFS_ROOT },
                { "dev-root", required_argument, NULL, ARG_DEV_ROOT },
                { "no-sandbox", no_argument, NULL, ARG_NO_SANDBOX },
                { "verbose", no_argument, NULL, 'v' },
                { NULL, 0, NULL, 0 },
        };
        ManagerOptions o = {
                .config_file = VFBROKER_CONFIG_FILE,
                .config_dropin_dir = VFBROKER_CONFIG_DROPIN_DIR,
                .state_dir = VFBROKER_STATE_DIR,
                .sysfs_root = "/",
                .dev_root = "/dev",
                .sandbox = true,
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        bool check = false, state_dir_given = false, config_given = false, config_dir_given = false;
        static char state_dir_buf[PATH_MAX], config_dir_buf[PATH_MAX], config_file_buf[PATH_MAX + 32],
                config_dropin_buf[PATH_MAX + 32];
        int level = LOG_INFO, c, r;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("vfbrokerd %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_CHECK_CONFIG:
                        check = true;
                        break;
                case ARG_LISTEN:
                        o.listen_path = optarg;
                        break;
                case ARG_VARLINK:
                        o.varlink_path = optarg;
                        break;
                case ARG_CONFIG:
                        o.config_file = optarg;
                        config_given = true;
                        break;
                case ARG_CONFIG_DIR:
                        o.config_dropin_dir = optarg;
                        config_dir_given = true;
                        break;
                case ARG_STATE_DIR:
                        o.state_dir = optarg;
                        state_dir_given = true;
                        break;
                case ARG_SYSFS_ROOT:
                        o.sysfs_root = optarg;
                        break;
                case ARG_DEV_ROOT:
                        o.dev_root = optarg;
                        break;
                case ARG_NO_SANDBOX:
                        o.sandbox = false;
                        break;
                case 'v':
                        level = LOG_DEBUG;
                        break;
                default:
                        fprintf(stderr, "Try 'vfbrokerd --help'.\n");
                        return 2;
                }
        /* Under systemd, StateDirectory= and ConfigurationDirectory= say where
         * things are; they win over the compiled-in paths (which follow the
         * build's prefix), but not over options given on the command line. */
        if (!state_dir_given && getenv("STATE_DIRECTORY"))
                o.state_dir = first_path(getenv("STATE_DIRECTORY"), state_dir_buf, sizeof state_dir_buf);
        if (!config_given && getenv("CONFIGURATION_DIRECTORY")) {
                const char *dir = first_path(getenv("CONFIGURATION_DIRECTORY"), config_dir_buf, sizeof config_dir_buf);

                snprintf(config_file_buf, sizeof config_file_buf, "%s/vfbroker.conf", dir);
                snprintf(config_dropin_buf, sizeof config_dropin_buf, "%s/vfbroker.conf.d", dir);
                o.config_file = config_file_buf;
                if (!config_dir_given)
                        o.config_dropin_dir = config_dropin_buf;
        }

        if (optind < argc) {
                fprintf(stderr, "vfbrokerd takes no arguments ('%s'); try 'vfbrokerd --help'.\n", argv[optind]);
                return 2;
        }

        if (check)
                return check_config(&o);

        log_setup(LOG_TARGET_AUTO, level);
        malloc_setup();

        r = manager_new(&o, &m);
        if (r < 0) {
                log_error_errno(r, "Cannot allocate the manager: %s", STRERROR(r));
                return 1;
        }
        r = manager_start(m);
        if (r < 0)
                return 1;
        r = manager_run(m);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %s", STRERROR(r));
                return 1;
        }
        log_info("vfbrokerd stopping; PF fds stay in systemd's fd store, leases in the store.");
        return 0;
}
