/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client: one peer-to-peer D-Bus connection on the broker's socket, with the
 * peer's identity read once at accept. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus-framer.h"
#include "bus.h"
#include "operation.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "polkit.h"
#include "process-util.h"

/* Supplementary groups we read per peer; NGROUPS_MAX is 65536, no caller needs that many. */
#define CLIENT_GROUPS_MAX 1024
/* One read from a client; sd-bus takes it from the socketpair. */
#define CLIENT_READ_CHUNK (64U * 1024U)
/* SCM_MAX_FD: the most fds one message can carry; all are closed at once. */
#define CLIENT_SCM_FDS_MAX 253U
/* Replies sd-bus may hold for a client whose socket is full (it does not
 * read): past this the client is dropped instead of growing the daemon. */
#define CLIENT_QUEUED_REPLIES_MAX 64U
/* Kernel buffer of replies per connection: sd-bus asks for 8 MiB (and, as
 * root, forces it); 256 connections must not pin 2 GiB. */
#define CLIENT_SNDBUF (256 * 1024)
/* Messages dispatched per kick before other clients get their turn. */
#define CLIENT_DISPATCH_BATCH 64

/* A connection must finish SASL within this (or IdleTimeoutSec=, if
 * shorter); sd-bus's own limit is 90 s. */
#define CLIENT_AUTH_TIMEOUT_USEC (10ULL * 1000 * 1000)
/* Refused connections are logged at most this often. */
#define CLIENT_REFUSAL_LOG_INTERVAL_USEC (1000ULL * 1000)

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16 */
#endif

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* A pidfd of the peer for polkit 124+, or -EBADF (polkit is then asked by pid
 * and start time alone, as before). SO_PEERPIDFD (Linux 6.5+) names the
 * process that connected, whatever became of its pid since; earlier kernels
 * get pidfd_open(pid), which counts only if the process is still the one
 * whose start time was read. */
static int peer_pidfd(int fd, pid_t pid, uint64_t start_time) {
        _cleanup_close_ int pidfd = -EBADF;
        socklen_t len = sizeof pidfd;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) >= 0 && pidfd >= 0) {
                /* Alive still, so pid is still this process and start_time its own. */
                if (poll(&(struct pollfd) { .fd = pidfd, .events = POLLIN }, 1, 0) == 0)
                        return TAKE_FD(pidfd);
                return -EBADF;
        }
        pidfd = process_open_pidfd(pid, start_time);
        return pidfd < 0 ? -EBADF : TAKE_FD(pidfd);
}

static int read_peer_groups(int fd, gid_t **ret, size_t *ret_n) {
        socklen_t len = 64 * sizeof(gid_t);

        for (;;) {
                _cleanup_free_ gid_t *groups = malloc(len);

                if (!groups)
                        return -ENOMEM;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) >= 0) {
                        *ret_n = len / sizeof(gid_t);
                        *ret = TAKE_PTR(groups);
                        return 0;
                }
                if (errno != ERANGE || len > CLIENT_GROUPS_MAX * sizeof(gid_t))
                        return negative_errno();
        }
}

/* Closes the connection soon (from the event loop), saying why at that level. */
static void client_drop(Client *c, int level, const char *why) {
        if (c->dropped)
                return;
        c->dropped = true;
        log_full(level, "Closing the connection of uid %u pid %d: %s.", (unsigned) c->identity.uid,
                 (int) c->identity.pid, why);
        (void) sd_event_source_set_enabled(c->input_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->relay_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->kick_source, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->timer_source, SD_EVENT_OFF);
        /* Freeing the bus from inside its own callbacks is not allowed: defer. */
        (void) sd_event_source_set_enabled(c->free_source, SD_EVENT_ONESHOT);
}

static uint64_t now_usec(Client *c) {
        uint64_t t = 0;

        (void) sd_event_now(c->manager->event, CLOCK_MONOTONIC, &t);
        return t;
}

/* First the authentication deadline, then the idle timeout: an
 * authenticated connection with no call in flight is closed after
 * IdleTimeoutSec=. Nothing depends on it: leases follow their holder's pidfd,
 * and libvfbroker reconnects. */
static int on_client_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Client *c = userdata;
        uint64_t idle = c->manager->config->idle_timeout_sec * 1000000ULL, now = now_usec(c);

        if (sd_bus_is_ready(c->bus) <= 0) {
                client_drop(c, LOG_DEBUG, "it did not authenticate in time");
                return 0;
        }
        if (c->calls_in_flight == 0 && now >= c->last_input_usec + idle) {
                client_drop(c, LOG_DEBUG, "it was idle for IdleTimeoutSec=");
                return 0;
        }
        (void) sd_event_source_set_time(s, MAX(c->last_input_usec + idle, now + 1000000ULL));
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void on_admission(int result, const char *message, void *userdata) {
        Client *c = userdata;

        c->admission = NULL;
        if (result <= 0)
                client_drop(c, LOG_NOTICE, "only root and the administrators of org.vfbroker.manage may use the "
                            "reserved connections (ReservedConnections=)");
}

/* 0: a connection slot of its own; 1: a reserved slot, if polkit says the
 * caller may manage the broker; -EUSERS: refused, with the reason logged
 * (rate-limited: a refused user may try again and again). */
static int client_admit(Client *c) {
        static uint64_t last_log;
        static unsigned suppressed;
        Manager *m = c->manager;
        const Config *cfg = m->config;
        unsigned mine = 0;
        char why[160];

        if (c->identity.uid == 0)
                return 0;
        for (Client *i = m->clients; i; i = i->next)
                if (i->identity.uid == c->identity.uid)
                        mine++;
        if (mine >= cfg->max_connections_per_user)
                snprintf(why, sizeof why, "uid %u has %u connections already (MaxConnectionsPerUser=%u)",
                         (unsigned) c->identity.uid, mine, cfg->max_connections_per_user);
        else if (m->n_clients + cfg->reserved_connections >= cfg->max_connections)
                return 1;
        else
                return 0;

        uint64_t now = now_usec(c);
        if (now >= last_log + CLIENT_REFUSAL_LOG_INTERVAL_USEC) {
                log_notice("Refusing a connection: %s%s.", why,
                           suppressed > 0 ? "; more refusals were not logged" : "");
                last_log = now;
                suppressed = 0;
        } else
                suppressed++;
        return -EUSERS;
}

static int on_disconnect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        client_drop(userdata, LOG_DEBUG, "disconnected");
        return 0;
}

/* sd-bus dispatches one message per call and, once a read brought in more
 * than one (libdbus sends BEGIN and its first call together), would wait for
 * the next read that never comes: run it until it has nothing left. */
static int on_kick(sd_event_source *s, void *userdata) {
        Client *c = userdata;
        uint64_t queued = 0;
        int r = 0;

        for (unsigned i = 0; i < CLIENT_DISPATCH_BATCH; i++) {
                r = sd_bus_process(c->bus, NULL);
                if (r <= 0)
                        break;
        }
        if (r < 0) {
                client_drop(c, LOG_DEBUG, "the connection failed");
                return 0;
        }
        if (r > 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);

        if (sd_bus_get_n_queued_write(c->bus, &queued) >= 0 && queued > CLIENT_QUEUED_REPLIES_MAX) {
                char why[96];

                snprintf(why, sizeof why, "it does not read its replies (%" PRIu64 " queued, at most %u)", queued,
                         CLIENT_QUEUED_REPLIES_MAX);
                client_drop(c, LOG_NOTICE, why);
        }
        return 0;
}

static void kick(Client *c) {
        (void) sd_event_source_set_enabled(c->kick_source, SD_EVENT_ONESHOT);
}

/* Hands bytes to sd-bus; what the socketpair does not take now waits, and
 * the client is not read meanwhile. */
static int relay(Client *c, const uint8_t *data, size_t size) {
        ssize_t k;

        k = write(c->relay_fd, data, size);
        if (k < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
                k = 0;
        }
        kick(c);
        if ((size_t) k == size)
                return 0;

        c->unrelayed = malloc(size - (size_t) k);
        if (!c->unrelayed)
                return -ENOMEM;
        memcpy(c->unrelayed, data + k, size - (size_t) k);
        c->unrelayed_size = size - (size_t) k;
        c->unrelayed_offset = 0;
        (void) sd_event_source_set_enabled(c->input_source, SD_EVENT_OFF);
        return sd_event_source_set_enabled(c->relay_source, SD_EVENT_ON);
}

static int on_relay_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Client *c = userdata;
        ssize_t k;

        k = write(c->relay_fd, c->unrelayed + c->unrelayed_offset, c->unrelayed_size - c->unrelayed_offset);
        if (k < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        client_drop(c, LOG_DEBUG, "sd-bus stopped reading");
                return 0;
        }
        kick(c);
        c->unrelayed_offset += (size_t) k;
        if (c->unrelayed_offset < c->unrelayed_size)
                return 0;
        c->unrelayed = mfree(c->unrelayed);
        c->unrelayed_size = c->unrelayed_offset = 0;
        (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(c->input_source, SD_EVENT_ON);
        return 0;
}

static int on_input(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Client *c = userdata;
        uint8_t buf[CLIENT_READ_CHUNK];
        union {
                struct cmsghdr align;
                uint8_t space[CMSG_SPACE(sizeof(int) * CLIENT_SCM_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof control,
        };
        unsigned n_fds = 0;
        ssize_t k;
        int r;

        k = recvmsg(c->socket_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (k < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                client_drop(c, LOG_DEBUG, "reading failed");
                return 0;
        }
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                int *fds = (int *) (void *) CMSG_DATA(cmsg);
                size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                for (size_t i = 0; i < n; i++)
                        safe_close(fds[i]);
                n_fds += (unsigned) n;
        }
        if (n_fds > 0 || (mh.msg_flags & MSG_CTRUNC)) {
                /* The kernel closes what did not fit in the control buffer. */
                client_drop(c, LOG_NOTICE, "it sent file descriptors, which no call of this interface takes");
                return 0;
        }
        if (k == 0) {
                client_drop(c, LOG_DEBUG, "disconnected");
                return 0;
        }
        r = bus_framer_feed(&c->framer, buf, (size_t) k, BUS_FRAMER_MESSAGE_MAX);
        if (r == -EMSGSIZE) {
                client_drop(c, LOG_NOTICE, "it sent a message of more than 64 KiB, which no call of this interface needs");
                return 0;
        }
        if (r < 0) {
                client_drop(c, LOG_NOTICE, r == -E2BIG ? "its authentication exchange is too long" : "it does not speak D-Bus");
                return 0;
        }
        c->last_input_usec = now_usec(c);
        r = relay(c, buf, (size_t) k);
        if (r < 0)
                client_drop(c, LOG_WARNING, "cannot hand its request to sd-bus");
        return 0;
}

static int on_free_deferred(sd_event_source *s, void *userdata) {
        client_free(userdata);
        return 0;
}

/* The peer of a connected socket: SO_PEERCRED, SO_PEERGROUPS, the start
 * time of its pid and a pidfd of it. Every decision about a caller uses
 * this, read once at accept, never what a later message claims. */
static int client_read_identity(int fd, Identity *ret) {
        struct ucred ucred;
        socklen_t len = sizeof ucred;
        Identity id = { .pidfd = -EBADF };
        int r;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ucred, &len) < 0)
                return negative_errno();
        id.uid = ucred.uid;
        id.gid = ucred.gid;
        id.pid = ucred.pid;
        r = process_get_start_time(ucred.pid, &id.start_time);
        if (r < 0)
                return log_debug_errno(r, "Peer pid %d went away before we could look at it: %s", (int) ucred.pid, STRERROR(r));
        r = read_peer_groups(fd, &id.groups, &id.n_groups);
        if (r < 0)
                return log_warning_errno(r, "Cannot read the groups of peer pid %d: %s", (int) ucred.pid, STRERROR(r));
        id.pidfd = peer_pidfd(fd, ucred.pid, id.start_time);
        *ret = id;
        return 0;
}

int client_new_peer(Manager *m, int fd, Client **ret) {
        _cleanup_(client_freep) Client *c = NULL;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->manager = m;
        c->id = ++m->next_client_id;
        c->socket_fd = c->relay_fd = c->identity.pidfd = -EBADF;

        r = client_read_identity(fd, &c->identity);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

int client_new(Manager *m, int fd_in, Client **ret) {
        _cleanup_close_ int fd = fd_in;
        _cleanup_(client_freep) Client *c = NULL;
        sd_id128_t server_id;
        int r;

        r = client_new_peer(m, fd, &c);
        if (r < 0)
                return r;
        int admission = client_admit(c);
        if (admission < 0)
                return admission;

        /* Where the kernel can, it refuses fds for us; the relay below drops
         * any that arrive anyway (older kernels, or sent before this call). */
        (void) setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &(int) { 0 }, sizeof(int));

        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return negative_errno();
        c->relay_fd = pair[0];
        _cleanup_close_ int bus_input = pair[1];
        _cleanup_close_ int bus_output = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (bus_output < 0)
                return negative_errno();
        c->socket_fd = TAKE_FD(fd);

        r = sd_bus_new(&c->bus);
        if (r < 0)
                return r;
        r = sd_bus_set_fd(c->bus, bus_input, bus_output);
        if (r < 0)
                return r;
        TAKE_FD(bus_input);
        TAKE_FD(bus_output);
        r = sd_id128_randomize(&server_id);
        if (r < 0)
                return r;
        r = sd_bus_set_server(c->bus, 1, server_id);
        if (r < 0)
                return r;
        /* sd-bus would check the SASL uid against the socketpair's peer, which
         * is us: the peer is the one read from the real socket above, and every
         * decision uses that identity, never sd-bus credentials. */
        r = sd_bus_set_anonymous(c->bus, 1);
        if (r < 0)
                return r;
        r = sd_bus_negotiate_fds(c->bus, 1);
        if (r < 0)
                return r;
        r = sd_bus_set_description(c->bus, "client");
        if (r < 0)
                return r;
        r = bus_add_client_objects(c);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(c->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_disconnect, c);
        if (r < 0)
                return r;
        r = sd_event_add_defer(m->event, &c->free_source, on_free_deferred, c);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(c->free_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        r = sd_event_add_defer(m->event, &c->kick_source, on_kick, c);
        if (r < 0)
                return r;
        /* After the bus's own I/O, so a kick sees what sd-bus read. */
        (void) sd_event_source_set_priority(c->kick_source, SD_EVENT_PRIORITY_IDLE);
        r = sd_event_source_set_enabled(c->kick_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        r = sd_event_add_io(m->event, &c->input_source, c->socket_fd, EPOLLIN, on_input, c);
        if (r < 0)
                return r;
        r = sd_event_add_io(m->event, &c->relay_source, c->relay_fd, EPOLLOUT, on_relay_writable, c);
        if (r < 0)
                return r;
        r = sd_event_source_set_enabled(c->relay_source, SD_EVENT_OFF);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(c->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_start(c->bus);
        if (r < 0)
                return r;
        c->last_input_usec = now_usec(c);
        r = sd_event_add_time(m->event, &c->timer_source, CLOCK_MONOTONIC,
                              c->last_input_usec + MIN(CLIENT_AUTH_TIMEOUT_USEC, m->config->idle_timeout_sec * 1000000ULL),
                              0, on_client_timer, c);
        if (r < 0)
                return r;
        if (admission > 0) {
                r = polkit_check(m->polkit, POLKIT_ACTION_MANAGE,
                                 &(PolkitSubject) {
                                         .pid = c->identity.pid,
                                         .start_time = c->identity.start_time,
                                         .uid = c->identity.uid,
                                         .pidfd = c->identity.pidfd,
                                 },
                                 NULL, on_admission, c, &c->admission);
                if (r < 0)
                        return r;
        }
        (void) setsockopt(c->socket_fd, SOL_SOCKET, SO_SNDBUF, &(int) { CLIENT_SNDBUF }, sizeof(int));

        c->next = m->clients;
        if (m->clients)
                m->clients->prev = c;
        m->clients = c;
        m->n_clients++;

        log_debug("Client %" PRIu64 " connected: uid %u pid %d.", c->id, (unsigned) c->identity.uid, (int) c->identity.pid);
        *ret = TAKE_PTR(c);
        return 0;
}

Client *client_free(Client *c) {
        if (!c)
                return NULL;

        while (c->pending)
                pending_call_free(c->pending);
        c->answered = pending_call_free(c->answered);

        if (c->manager && (c->prev || c->next || c->manager->clients == c)) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        c->manager->clients = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                c->manager->n_clients--;
        }

        polkit_query_cancel(c->admission);
        sd_event_source_disable_unref(c->free_source);
        sd_event_source_disable_unref(c->timer_source);
        sd_event_source_disable_unref(c->kick_source);
        sd_event_source_disable_unref(c->input_source);
        sd_event_source_disable_unref(c->relay_source);
        if (c->bus) {
                /* Never flush: a client that does not read must not hold up
                 * anything, least of all shutdown. */
                sd_bus_detach_event(c->bus);
                sd_bus_close_unref(c->bus);
        }
        safe_close(c->socket_fd);
        safe_close(c->relay_fd);
        free(c->unrelayed);
        free(c->identity.groups);
        safe_close(c->identity.pidfd);
        free(c);
        return NULL;
}
