/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager: start-up (configuration, store, PFs, leases from the last run,
 * socket, sandbox) and the accept loop. The VF and lease life cycle is the
 * Allocator's (allocator.c). */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <systemd/sd-daemon.h>

#include "build-config.h"
#include "bus.h"
#include "varlink.h"
#include "log.h"
#include "time-util.h"
#include "manager.h"
#include "sandbox.h"
#include "strv.h"

#define LISTEN_BACKLOG 64
/* How long accepting pauses when the broker is out of fds. */
#define ACCEPT_RETRY_USEC (250ULL * 1000)

static void manager_stop_varlink(Manager *m) {
#if HAVE_VARLINK
        varlink_stop(m);
#endif
}

int manager_new(const ManagerOptions *options, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->options = *options;
        m->listen_fd = m->varlink_fd = -EBADF;
        m->under_systemd = !!getenv("NOTIFY_SOCKET");

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        /* Now, while threads may still be started: the sandbox allows none. */
        r = worker_new(m->event, &m->worker);
        if (r < 0)
                return r;
        r = allocator_new(m, m->worker, &m->allocator);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        /* First: the jobs' completions reply to their callers and need the rest. */
        m->worker = worker_free(m->worker);
        manager_stop_varlink(m);
        while (m->clients)
                client_free(m->clients);
        m->system_bus = client_free(m->system_bus);
        for (size_t i = 0; i < m->n_pfs; i++)
                pf_free(m->pfs[i]);
        free(m->pfs);
        allocator_free(m->allocator);

        sd_event_source_disable_unref(m->listen_source);
        sd_event_source_disable_unref(m->accept_retry);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        if (m->listen_fd_owned_path && m->options.listen_path)
                (void) unlink(m->options.listen_path);
        safe_close(m->listen_fd);
        safe_close(m->varlink_fd);
        if (m->varlink_owned_path && m->options.varlink_path)
                (void) unlink(m->options.varlink_path);

        polkit_free(m->polkit);
        vfio_free(m->vfio);
        sysfs_free(m->sysfs);
        store_free(m->store);
        config_free(m->config);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

Pf *manager_find_pf(Manager *m, const char *address) {
        for (size_t i = 0; i < m->n_pfs; i++)
                if (streq(m->pfs[i]->address, address))
                        return m->pfs[i];
        return NULL;
}

Vf *manager_find_vf(Manager *m, const char *address) {
        for (size_t i = 0; i < m->n_pfs; i++)
                for (unsigned j = 0; j < m->pfs[i]->n_vfs; j++)
                        if (streq(m->pfs[i]->vfs[j].address, address))
                                return &m->pfs[i]->vfs[j];
        return NULL;
}

void manager_update_status(Manager *m) {
        unsigned pfs = 0, broken = 0, vfs = 0, free_vfs = 0;

        if (!m->under_systemd)
                return;
        for (size_t i = 0; i < m->n_pfs; i++) {
                if (m->pfs[i]->state != PF_READY) {
                        broken++;
                        continue;
                }
                pfs++;
                vfs += m->pfs[i]->n_vfs;
                free_vfs += pf_count_vfs(m->pfs[i], VF_FREE);
        }
        (void) sd_notifyf(false, "READY=1\nSTATUS=%u PFs (%u broken), %u VFs (%u free), %u leases, %u clients",
                          pfs, broken, vfs, free_vfs, allocator_count_leases(m->allocator, NULL), m->n_clients);
}

/* FDNAME= for a PF: ':' separates names in $LISTEN_FDNAMES, so the BDF is written with '-'. */
static void pf_fd_name(const char *address, char buf[static 32]) {
        snprintf(buf, 32, "pf-%s", address);
        for (char *p = buf; *p; p++)
                if (*p == ':')
                        *p = '-';
}

int manager_store_pf_fd(Manager *m, Pf *pf) {
        char name[32], msg[64];

        if (!m->under_systemd || pf->device_fd < 0)
                return 0;
        pf_fd_name(pf->address, name);
        snprintf(msg, sizeof msg, "FDSTORE=1\nFDNAME=%s", name);
        return sd_pid_notify_with_fds(0, false, msg, &pf->device_fd, 1);
}

int manager_drop_stored_pf_fd(Manager *m, const char *address) {
        char name[32];

        if (!m->under_systemd)
                return 0;
        pf_fd_name(address, name);
        return sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}

/* ---- start-up ------------------------------------------------------------------ */

static int manager_sync_config_tenants(Manager *m) {
        for (size_t i = 0; i < m->config->n_tenants; i++) {
                const ConfigTenant *ct = &m->config->tenants[i];
                StoreTenant t = {
                        .name = ct->name,
                        .quota = ct->quota,
                        .uids = ct->uids,
                        .n_uids = ct->n_uids,
                        .gids = ct->gids,
                        .n_gids = ct->n_gids,
                        .from_config = true,
                };
                int r;

                r = store_tenant_update_rules(m->store, &t);
                if (r == -ENOENT) {
                        t.created_usec = now_realtime_usec();
                        r = token_generate(&t.token);
                        if (r < 0)
                                return log_error_errno(r, "Cannot generate a token for tenant '%s': %s", ct->name, STRERROR(r));
                        r = store_tenant_add(m->store, &t);
                        if (r >= 0)
                                log_audit(LOG_INFO,
                                          &(AuditEvent) {
                                                  .message_id = LOG_MESSAGE_ID_TENANT,
                                                  .action = "create-tenant",
                                                  .result = "granted",
                                                  .tenant = ct->name,
                                                  .uid = -1,
                                                  .pid = -1,
                                          },
                                          "Tenant '%s' created from %s.", ct->name, strna(ct->source));
                }
                if (r < 0)
                        return log_error_errno(r, "Cannot store tenant '%s' from %s: %s", ct->name, strna(ct->source), STRERROR(r));
        }
        return 0;
}

static int manager_add_pf(Manager *m, const ConfigPf *cpf, const char *address) {
        _cleanup_(pf_freep) Pf *pf = NULL;
        Pf **a;
        int r;

        if (manager_find_pf(m, address)) {
                log_warning("PF %s matches more than one [PhysicalFunction] section (%s); using the first.",
                            address, strna(cpf->source));
                return 0;
        }
        r = pf_new(m, cpf, address, &pf);
        if (r < 0)
                return r;
        a = realloc(m->pfs, (m->n_pfs + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        m->pfs = a;
        m->pfs[m->n_pfs++] = TAKE_PTR(pf);
        return 0;
}

static int manager_resolve_pfs(Manager *m) {
        for (size_t i = 0; i < m->config->n_pfs; i++) {
                const ConfigPf *cpf = &m->config->pfs[i];
                int r;

                switch (cpf->match) {
                case PF_MATCH_ADDRESS:
                        r = manager_add_pf(m, cpf, cpf->address);
                        break;
                case PF_MATCH_INTERFACE: {
                        char address[PCI_ADDRESS_MAX];

                        r = sysfs_find_by_interface(m->sysfs, cpf->interface, address);
                        if (r < 0) {
                                log_error_errno(r, "%s: no PCI device has network interface '%s' (%s); it is not set up.",
                                                strna(cpf->source), cpf->interface, STRERROR(r));
                                r = 0;
                                break;
                        }
                        r = manager_add_pf(m, cpf, address);
                        break;
                }
                case PF_MATCH_VENDOR_DEVICE: {
                        _cleanup_strv_free_ char **found = NULL;

                        r = sysfs_find_pfs_by_ids(m->sysfs, cpf->vendor, cpf->device, &found);
                        if (r < 0 || strv_length(found) == 0) {
                                log_error("%s: no SR-IOV PF with ids %04x:%04x.", strna(cpf->source), cpf->vendor, cpf->device);
                                r = 0;
                                break;
                        }
                        for (char **a = found; *a && r >= 0; a++)
                                r = manager_add_pf(m, cpf, *a);
                        break;
                }
                default:
                        r = -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* fds from systemd: the activated socket, and PF fds from the fd store. */
static int manager_take_fds(Manager *m, int **ret_pf_fds) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ int *pf_fds = NULL;
        int n;

        pf_fds = malloc(MAX(m->n_pfs, 1) * sizeof(int));
        if (!pf_fds)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_pfs; i++)
                pf_fds[i] = -EBADF;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0)
                return log_error_errno(n, "Cannot read the fds systemd passed: %s", STRERROR(n));

        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                const char *name = names && names[i] ? names[i] : "";

                if (strncmp(name, "pf-", 3) == 0) {
                        char address[PCI_ADDRESS_MAX];
                        char buf[PCI_ADDRESS_MAX + 8];
                        bool used = false;

                        snprintf(buf, sizeof buf, "%s", name + 3);
                        for (char *p = buf; *p; p++)
                                if (*p == '-')
                                        *p = ':';
                        if (pci_address_normalize(buf, address) >= 0)
                                for (size_t j = 0; j < m->n_pfs; j++)
                                        if (streq(m->pfs[j]->address, address) && pf_fds[j] < 0) {
                                                pf_fds[j] = fd;
                                                used = true;
                                        }
                        if (!used) {
                                log_info("Dropping stored fd '%s': no such PF in the configuration any more.", name);
                                (void) sd_notifyf(false, "FDSTOREREMOVE=1\nFDNAME=%s", name);
                                safe_close(fd);
                        }
                        continue;
                }

                /* vfbroker-varlink.socket (FileDescriptorName=varlink) */
                if (streq(name, "varlink") && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0 && m->varlink_fd < 0) {
                        m->varlink_fd = fd;
                        continue;
                }
                if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0 && m->listen_fd < 0) {
                        m->listen_fd = fd;
                        continue;
                }
                log_warning("Ignoring unexpected fd %d ('%s') from systemd.", fd, name);
                safe_close(fd);
        }

        *ret_pf_fds = TAKE_PTR(pf_fds);
        return 0;
}

static int on_accept_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        return sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON);
}

/* With the fd table full the listening socket stays readable: watching it
 * would spin. Stop, say so once until a connection is accepted again, and
 * look again a little later. */
static void pause_accepting(Manager *m, int error) {
        if (m->accept_failures++ == 0)
                log_warning_errno(error, "Cannot accept connections: %s; pausing for %llu ms.", STRERROR(error),
                                  (unsigned long long) (ACCEPT_RETRY_USEC / 1000));
        (void) sd_event_source_set_enabled(m->listen_source, SD_EVENT_OFF);
        (void) sd_event_source_set_time_relative(m->accept_retry, ACCEPT_RETRY_USEC);
        (void) sd_event_source_set_enabled(m->accept_retry, SD_EVENT_ONESHOT);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        _cleanup_close_ int cfd = -EBADF;
        Client *c;
        int r;

        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                        return 0;
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                        pause_accepting(m, -errno);
                        return 0;
                }
                log_warning_errno(errno, "accept() failed: %s", STRERROR(errno));
                return 0;
        }

        if (m->n_clients >= m->config->max_connections) {
                log_warning("Refusing a connection: %u clients already (MaxConnections=%u).",
                            m->n_clients, m->config->max_connections);
                return 0;
        }

        r = client_new(m, TAKE_FD(cfd), &c);
        if (r == -EMFILE || r == -ENFILE)
                pause_accepting(m, r);
        else if (r < 0)
                log_debug_errno(r, "Cannot set up a client connection: %s", STRERROR(r));
        else if (m->accept_failures > 0) {
                log_notice("Accepting connections again (%u failed tries while out of fds).", m->accept_failures);
                m->accept_failures = 0;
        }
        return 0;
}

/* Binds and listens on path, mode 0666: everybody may connect, polkit and
 * the tenant rules decide. For running without socket activation. */
static int listen_on_path(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof sa.sun_path)
                return log_error_errno(-ENAMETOOLONG, "Socket path %s is too long.", path);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Cannot create a socket: %s", STRERROR(errno));
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return log_error_errno(errno, "Cannot bind %s: %s", path, STRERROR(errno));
        if (chmod(path, 0666) < 0)
                return log_error_errno(errno, "Cannot chmod %s: %s", path, STRERROR(errno));
        if (listen(fd, LISTEN_BACKLOG) < 0)
                return log_error_errno(errno, "Cannot listen on %s: %s", path, STRERROR(errno));
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int manager_listen(Manager *m) {
        int r;

        if (m->listen_fd < 0 && m->options.listen_path) {
                r = listen_on_path(m->options.listen_path, &m->listen_fd);
                if (r < 0)
                        return r;
                m->listen_fd_owned_path = true;
        }
        if (m->listen_fd < 0)
                return log_error_errno(-EBADF,
                                       "No socket to serve: start vfbrokerd through vfbroker.socket, or pass --listen PATH.");

        r = fcntl(m->listen_fd, F_GETFL);
        if (r >= 0 && !(r & O_NONBLOCK))
                (void) fcntl(m->listen_fd, F_SETFL, r | O_NONBLOCK);

        r = sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_accept, m);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the listening socket: %s", STRERROR(r));
        (void) sd_event_source_set_description(m->listen_source, "listen");

        /* Made now, while fds are to be had: it is needed when they are not. */
        r = sd_event_add_time_relative(m->event, &m->accept_retry, CLOCK_MONOTONIC, ACCEPT_RETRY_USEC, 0,
                                       on_accept_retry, m);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the accept retry timer: %s", STRERROR(r));
        (void) sd_event_source_set_description(m->accept_retry, "accept-retry");
        return sd_event_source_set_enabled(m->accept_retry, SD_EVENT_OFF);
}

/* Clients go before the loop ends: sd-bus's own exit hook would flush each
 * connection, and flushing one that never authenticated waits for its 90 s
 * authentication timeout. Nothing a client holds needs its connection: leases
 * live in the store and are watched through the holder's pidfd. */
static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        manager_stop_varlink(m);
        while (m->clients)
                client_free(m->clients);
        m->system_bus = client_free(m->system_bus);
        return sd_event_exit(m->event, 0);
}

/* From 6.17 (commit 86624ba3b522, "Do vf_token checks for
 * VFIO_DEVICE_BIND_IOMMUFD") a VF of a vfio-pci PF needs its token when its
 * cdev is bound; before, only the node's mode protects it. The release is
 * all a process can ask: "MAJOR.MINOR..." as uname(2) gives it. */
static bool kernel_checks_cdev_token(const char *release) {
        unsigned major = 0, minor = 0;

        if (sscanf(release, "%u.%u", &major, &minor) != 2)
                return true;    /* unknown: assume the stricter kernel */
        return major > 6 || (major == 6 && minor >= 17);
}

static void manager_probe_iommufd(Manager *m) {
        struct utsname u;

        if (uname(&u) >= 0)
                snprintf(m->kernel_release, sizeof m->kernel_release, "%s", u.release);
        m->kernel_checks_cdev_token = kernel_checks_cdev_token(m->kernel_release);
        m->iommufd_available = vfio_iommufd_available(m->vfio) >= 0;
        if (m->iommufd_available)
                log_info("Kernel %s has IOMMUFD and VFIO cdevs: AcquireVF offers API \"iommufd\"%s.", m->kernel_release,
                         m->kernel_checks_cdev_token ? " (the kernel checks VF tokens at bind)" :
                         " (the kernel checks no VF token at bind: only the root-only nodes protect VFs)");
}

/* io.vfbroker.Broker on the socket systemd passed as "varlink", or on
 * --varlink PATH. Without sd-varlink (libsystemd < 257) a passed socket is
 * closed, saying why: connections to it are then refused, not left hanging. */
static int manager_start_varlink(Manager *m) {
        int r;

        if (m->varlink_fd < 0 && m->options.varlink_path) {
                r = listen_on_path(m->options.varlink_path, &m->varlink_fd);
                if (r < 0)
                        return r;
                m->varlink_owned_path = true;
        }
        if (m->varlink_fd < 0)
                return 0;
#if HAVE_VARLINK
        r = varlink_start(m, TAKE_FD(m->varlink_fd));
        if (r < 0)
                return r;
#else
        log_warning("A Varlink socket was passed, but this vfbrokerd was built without Varlink (libsystemd %s has no "
                    "sd-varlink; 257 or later has): closing it. D-Bus serves every call.", LIBSYSTEMD_VERSION);
        m->varlink_fd = safe_close(m->varlink_fd);
#endif
        return 0;
}

int manager_start(Manager *m) {
        _cleanup_free_ char *error_text = NULL;
        _cleanup_free_ char *db_path = NULL;
        _cleanup_free_ int *pf_fds = NULL;
        unsigned ready = 0;
        int r;

        r = config_load(m->options.config_file, m->options.config_dropin_dir, &m->config, &error_text);
        if (r < 0)
                return log_error_errno(r, "Bad configuration, not starting: %s", strna(error_text));

        if (mkdir(m->options.state_dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Cannot create state directory %s: %s", m->options.state_dir, STRERROR(errno));
        if (asprintf(&db_path, "%s/state.db", m->options.state_dir) < 0)
                return log_oom();
        error_text = mfree(error_text);
        r = store_open(db_path, &m->store, &error_text);
        if (r < 0)
                return log_error_errno(r, "Cannot open the store, not starting: %s", strna(error_text));

        r = sysfs_new(m->options.sysfs_root, &m->sysfs);
        if (r < 0)
                return log_error_errno(r, "Cannot set up sysfs access: %s", STRERROR(r));
        r = vfio_new(m->options.dev_root, &m->vfio);
        if (r < 0)
                return log_error_errno(r, "Cannot set up VFIO access: %s", STRERROR(r));
        r = polkit_new(m->event, NULL, &m->polkit);
        if (r < 0)
                return log_error_errno(r, "Cannot set up the polkit client: %s", STRERROR(r));

        r = manager_sync_config_tenants(m);
        if (r < 0)
                return r;
        r = manager_resolve_pfs(m);
        if (r < 0)
                return log_error_errno(r, "Cannot resolve the configured PFs: %s", STRERROR(r));
        r = manager_take_fds(m, &pf_fds);
        if (r < 0)
                return r;

        manager_probe_iommufd(m);
        r = vfio_check_available(m->vfio);
        for (size_t i = 0; i < m->n_pfs; i++) {
                Pf *pf = m->pfs[i];

                if (r < 0) {
                        pf_mark_broken(pf, r, "this kernel offers no usable VFIO under %s (%s); load vfio-pci and vfio_iommu_type1",
                                       m->options.dev_root, STRERROR(r));
                        pf_fds[i] = safe_close(pf_fds[i]);
                        continue;
                }
                if (pf_setup(pf, TAKE_FD(pf_fds[i])) >= 0) {
                        allocator_probe_pf(m->allocator, pf);
                        ready++;
                }
        }

        r = allocator_restore(m->allocator);
        if (r < 0)
                return r;
        r = manager_listen(m);
        if (r < 0)
                return r;
        if (m->config->system_bus) {
                r = bus_system_start(m, &m->system_bus);
                if (r < 0)
                        return r;
        }
        r = manager_start_varlink(m);
        if (r < 0)
                return r;

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Cannot block SIGTERM and SIGINT: %s", STRERROR(errno));
        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_terminate, m);
        if (r < 0)
                return log_error_errno(r, "Cannot handle SIGTERM: %s", STRERROR(r));
        r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_terminate, m);
        if (r < 0)
                return log_error_errno(r, "Cannot handle SIGINT: %s", STRERROR(r));

        if (m->options.sandbox) {
                r = sandbox_install();
                if (r < 0)
                        return log_error_errno(r, "Cannot install the seccomp filter: %s (pass --no-sandbox to debug without it)", STRERROR(r));
        }

        log_info("vfbrokerd %s ready: %u of %zu PFs set up, %u leases.", PACKAGE_VERSION, ready, m->n_pfs,
                 allocator_count_leases(m->allocator, NULL));
        manager_update_status(m);
        return 0;
}

int manager_run(Manager *m) {
        return sd_event_loop(m->event);
}
