/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VarlinkConnection: the relay between one client's socket and sd-varlink
 * (see varlink-connection.h for why). Calls go to sd-varlink one at a time:
 * a call's bytes up to its NUL, then nothing more until sd-varlink has read
 * it, answered it (or dropped a oneway call) and the answer has reached the
 * client. A client that pipelines or stops reading waits in the kernel's
 * socket buffers, not in ours or sd-varlink's. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "varlink-connection.h"

/* How much is read at once, each way. */
#define RELAY_CHUNK (16U * 1024U)
/* SCM_MAX_FD: the most fds one message can carry. */
#define RELAY_FDS_MAX 253U
/* While sd-varlink works on a call that wrote nothing yet (polkit, a worker
 * job, a oneway call): look again this much later. */
#define RELAY_WAIT_USEC (50ULL * 1000ULL)

struct VarlinkConnection {
        Manager *manager;
        VarlinkConnection *next, *prev;         /* in manager->varlink_connections */
        Client *client;                         /* NULL once sd-varlink let go */
        sd_varlink *link;                       /* not a reference; NULL once sd-varlink let go */
        int socket_fd;                          /* the client's */
        int relay_fd;                           /* ours of the socketpair; sd-varlink has the other end */
        sd_event_source *socket_source, *relay_source, *idle_source, *wait_source;
        uint64_t last_call_usec;                /* CLOCK_MONOTONIC */
        size_t message_bytes;                   /* of the call being received, so far */
        bool call_relayed;                      /* a whole call went to sd-varlink; wait for it */
        /* client -> sd-varlink */
        uint8_t in[RELAY_CHUNK];
        size_t in_size, in_offset;
        bool in_eof;
        /* sd-varlink -> client, with the fds of the bytes still to send */
        uint8_t out[RELAY_CHUNK];
        size_t out_size, out_offset;
        int out_fds[RELAY_FDS_MAX];
        size_t n_out_fds;
        bool out_eof;
};

static uint64_t now_usec(VarlinkConnection *vc) {
        uint64_t now = 0;

        (void) sd_event_now(vc->manager->event, CLOCK_MONOTONIC, &now);
        return now;
}

static void close_out_fds(VarlinkConnection *vc) {
        for (size_t i = 0; i < vc->n_out_fds; i++)
                safe_close(vc->out_fds[i]);
        vc->n_out_fds = 0;
}

static VarlinkConnection *connection_free(VarlinkConnection *vc) {
        if (!vc)
                return NULL;
        if (vc->prev)
                vc->prev->next = vc->next;
        else if (vc->manager->varlink_connections == vc)
                vc->manager->varlink_connections = vc->next;
        if (vc->next)
                vc->next->prev = vc->prev;
        if (vc->link) {
                sd_varlink *link = TAKE_PTR(vc->link);

                (void) sd_varlink_set_userdata(link, NULL);
                (void) sd_varlink_close(link);
        }
        client_free(vc->client);
        sd_event_source_disable_unref(vc->socket_source);
        sd_event_source_disable_unref(vc->relay_source);
        sd_event_source_disable_unref(vc->idle_source);
        sd_event_source_disable_unref(vc->wait_source);
        safe_close(vc->socket_fd);
        safe_close(vc->relay_fd);
        close_out_fds(vc);
        free(vc);
        return NULL;
}

static void connection_drop(VarlinkConnection *vc, int level, const char *why) {
        if (vc->client)
                log_full(level, "Closing the Varlink connection of uid %u pid %d: %s.", (unsigned) vc->client->identity.uid,
                         (int) vc->client->identity.pid, why);
        connection_free(vc);
}

/* Bytes of the input buffer sd-varlink may have now: up to and including
 * the end of one call, and none while the last call is not done. */
static size_t in_writable(const VarlinkConnection *vc) {
        const uint8_t *nul;

        if (vc->call_relayed || vc->in_offset >= vc->in_size)
                return 0;
        nul = memchr(vc->in + vc->in_offset, 0, vc->in_size - vc->in_offset);
        return nul ? (size_t) (nul - (vc->in + vc->in_offset)) + 1 : vc->in_size - vc->in_offset;
}

/* The last call is done once sd-varlink read it, is idle again, and has
 * nothing left to write, and its answer has reached the client. */
static bool call_done(VarlinkConnection *vc) {
        int unread = 0;

        if (!vc->link)
                return true;
        if (ioctl(vc->relay_fd, SIOCOUTQ, &unread) < 0)
                unread = 0;
        return unread == 0 && sd_varlink_is_idle(vc->link) > 0 && !(sd_varlink_get_events(vc->link) & EPOLLOUT) &&
               vc->out_offset >= vc->out_size;
}

/* Sets what each fd is watched for, from what is pending. */
static void connection_update(VarlinkConnection *vc) {
        bool out_pending = vc->out_offset < vc->out_size;
        uint32_t socket_events = 0, relay_events = 0;

        if (vc->call_relayed && call_done(vc))
                vc->call_relayed = false;

        if (out_pending)
                socket_events |= EPOLLOUT;
        else if (!vc->out_eof)
                relay_events |= EPOLLIN;
        if (in_writable(vc) > 0)
                relay_events |= EPOLLOUT;
        else if (vc->in_offset >= vc->in_size && !vc->in_eof && !vc->call_relayed && !out_pending && vc->link)
                socket_events |= EPOLLIN;

        (void) sd_event_source_set_io_events(vc->socket_source, socket_events);
        (void) sd_event_source_set_enabled(vc->socket_source, socket_events ? SD_EVENT_ON : SD_EVENT_OFF);
        (void) sd_event_source_set_io_events(vc->relay_source, relay_events);
        (void) sd_event_source_set_enabled(vc->relay_source, relay_events ? SD_EVENT_ON : SD_EVENT_OFF);

        /* Nothing will wake us while sd-varlink works on a call silently. */
        if (vc->call_relayed && !out_pending) {
                (void) sd_event_source_set_time_relative(vc->wait_source, RELAY_WAIT_USEC);
                (void) sd_event_source_set_enabled(vc->wait_source, SD_EVENT_ONESHOT);
        }
}

static int on_wait(sd_event_source *s, uint64_t usec, void *userdata) {
        connection_update(userdata);
        return 0;
}

/* Reads the client. read(), not recvmsg(): fds a client attaches are
 * dropped by the kernel, closed unread (no call takes one). */
static int read_client(VarlinkConnection *vc) {
        ssize_t n = read(vc->socket_fd, vc->in, sizeof vc->in);

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0) {
                vc->in_eof = true;
                return 0;
        }
        for (ssize_t i = 0; i < n; i++) {
                if (vc->in[i] == 0)
                        vc->message_bytes = 0;
                else if (++vc->message_bytes > VARLINK_MESSAGE_MAX)
                        return -EMSGSIZE;
        }
        vc->in_size = (size_t) n;
        vc->in_offset = 0;
        return 0;
}

/* Writes what the client sent, one call at a time, to sd-varlink. */
static int write_relay(VarlinkConnection *vc) {
        size_t k = in_writable(vc);
        ssize_t n;

        if (k == 0)
                return 0;
        n = write(vc->relay_fd, vc->in + vc->in_offset, k);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (vc->in[vc->in_offset + (size_t) n - 1] == 0)
                vc->call_relayed = true;
        vc->in_offset += (size_t) n;
        return 0;
}

/* Reads what sd-varlink wrote, with the fds of an AcquireVF reply. */
static int read_relay(VarlinkConnection *vc) {
        union {
                struct cmsghdr h;
                uint8_t space[CMSG_SPACE(sizeof(int) * RELAY_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = vc->out, .iov_len = sizeof vc->out };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
        ssize_t n;

        n = recvmsg(vc->relay_fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                        memcpy(vc->out_fds + vc->n_out_fds, CMSG_DATA(cm), k * sizeof(int));
                        vc->n_out_fds += k;
                }
        if (n == 0) {
                vc->out_eof = true;
                close_out_fds(vc);
                return 0;
        }
        vc->out_size = (size_t) n;
        vc->out_offset = 0;
        return 0;
}

/* Writes sd-varlink's bytes to the client; the fds go with the first of them. */
static int write_client(VarlinkConnection *vc) {
        union {
                struct cmsghdr h;
                uint8_t space[CMSG_SPACE(sizeof(int) * RELAY_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = vc->out + vc->out_offset, .iov_len = vc->out_size - vc->out_offset };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (vc->n_out_fds > 0) {
                struct cmsghdr *cm;

                memset(&control, 0, sizeof control);
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * vc->n_out_fds);
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * vc->n_out_fds);
                memcpy(CMSG_DATA(cm), vc->out_fds, sizeof(int) * vc->n_out_fds);
        }
        n = sendmsg(vc->socket_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        close_out_fds(vc); /* the client has them now */
        vc->out_offset += (size_t) n;
        return 0;
}

static int on_socket(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VarlinkConnection *vc = userdata;
        int r = 0;

        if (revents & EPOLLOUT)
                r = write_client(vc);
        if (r >= 0 && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && vc->in_offset >= vc->in_size && !vc->in_eof) {
                r = read_client(vc);
                if (r >= 0)
                        r = write_relay(vc);
        }
        if (r == -EMSGSIZE) {
                connection_drop(vc, LOG_NOTICE, "it sent a message of more than 64 KiB");
                return 0;
        }
        if (r < 0) {
                connection_drop(vc, LOG_DEBUG, "the connection failed");
                return 0;
        }
        /* The client is done: sd-varlink sees the end once it has the rest. */
        if (vc->in_eof && vc->in_offset >= vc->in_size)
                (void) shutdown(vc->relay_fd, SHUT_WR);
        /* sd-varlink let go and everything it wrote is out: done. */
        if (vc->out_eof && vc->out_offset >= vc->out_size) {
                connection_free(vc);
                return 0;
        }
        connection_update(vc);
        return 0;
}

static int on_relay(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        VarlinkConnection *vc = userdata;
        int r = 0;

        if (revents & EPOLLOUT)
                r = write_relay(vc);
        if (r >= 0 && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && vc->out_offset >= vc->out_size && !vc->out_eof) {
                r = read_relay(vc);
                if (r >= 0 && vc->out_size > vc->out_offset)
                        r = write_client(vc);
        }
        if (r < 0) {
                connection_drop(vc, LOG_DEBUG, "the relay failed");
                return 0;
        }
        if (vc->out_eof && vc->out_offset >= vc->out_size) {
                connection_free(vc);
                return 0;
        }
        connection_update(vc);
        return 0;
}

/* IdleTimeoutSec=, as on the D-Bus socket: a connection that has sent no
 * call for that long is closed, whether it sent nothing or half a message.
 * A call in flight (polkit, a worker job) keeps it; nothing else depends on
 * it: leases follow their holder's pidfd. */
static int on_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        VarlinkConnection *vc = userdata;
        uint64_t idle = vc->manager->config->idle_timeout_sec * 1000000ULL, now = now_usec(vc);

        if (vc->link && sd_varlink_is_idle(vc->link) > 0 && now >= vc->last_call_usec + idle) {
                connection_drop(vc, LOG_DEBUG, "it was idle for IdleTimeoutSec=");
                return 0;
        }
        (void) sd_event_source_set_time(s, MAX(vc->last_call_usec + idle, now + 1000000ULL));
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int varlink_connection_new(Manager *m, sd_varlink_server *server, int fd_in) {
        _cleanup_close_ int fd = fd_in;
        VarlinkConnection *vc;
        int pair[2], r;

        vc = calloc(1, sizeof *vc);
        if (!vc)
                return -ENOMEM;
        vc->manager = m;
        vc->socket_fd = vc->relay_fd = -EBADF;
        vc->next = m->varlink_connections;
        if (vc->next)
                vc->next->prev = vc;
        m->varlink_connections = vc;

        r = client_new_peer(m, fd, &vc->client);
        if (r < 0)
                goto fail;
        vc->socket_fd = TAKE_FD(fd);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0) {
                r = -errno;
                goto fail;
        }
        vc->relay_fd = pair[0];
        /* One fd both ways: sd-varlink passes fds only on a single socket. */
        r = sd_varlink_server_add_connection_pair(server, pair[1], pair[1],
                                                  &(struct ucred) {
                                                          .pid = vc->client->identity.pid,
                                                          .uid = vc->client->identity.uid,
                                                          .gid = vc->client->identity.gid,
                                                  },
                                                  &vc->link);
        if (r < 0) {
                safe_close(pair[1]);
                goto fail; /* beyond MaxConnections= or the user's share of it */
        }
        (void) sd_varlink_set_userdata(vc->link, vc);
        /* AcquireVF's reply carries fds; no call takes any, so input stays off. */
        r = sd_varlink_set_allow_fd_passing_output(vc->link, true);
        if (r >= 0)
                r = sd_event_add_io(m->event, &vc->socket_source, vc->socket_fd, EPOLLIN, on_socket, vc);
        if (r >= 0)
                r = sd_event_add_io(m->event, &vc->relay_source, vc->relay_fd, EPOLLIN, on_relay, vc);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &vc->wait_source, CLOCK_MONOTONIC, RELAY_WAIT_USEC, 0, on_wait, vc);
        if (r >= 0)
                r = sd_event_source_set_enabled(vc->wait_source, SD_EVENT_OFF);
        if (r >= 0) {
                vc->last_call_usec = now_usec(vc);
                r = sd_event_add_time_relative(m->event, &vc->idle_source, CLOCK_MONOTONIC,
                                               m->config->idle_timeout_sec * 1000000ULL, 0, on_idle, vc);
        }
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(vc->socket_source, "varlink-client");
        (void) sd_event_source_set_description(vc->relay_source, "varlink-relay");
        connection_update(vc);
        log_debug("Varlink client %" PRIu64 " connected: uid %u pid %d.", vc->client->id,
                  (unsigned) vc->client->identity.uid, (int) vc->client->identity.pid);
        return 0;

fail:
        connection_free(vc);
        return r;
}

Client *varlink_connection_client(sd_varlink *link) {
        VarlinkConnection *vc = sd_varlink_get_userdata(link);

        return vc ? vc->client : NULL;
}

void varlink_connection_touch(sd_varlink *link) {
        VarlinkConnection *vc = sd_varlink_get_userdata(link);

        if (vc)
                vc->last_call_usec = now_usec(vc);
}

void varlink_connection_disconnected(sd_varlink *link) {
        VarlinkConnection *vc = sd_varlink_get_userdata(link);

        if (!vc)
                return;
        (void) sd_varlink_set_userdata(link, NULL);
        vc->link = NULL;
        /* Its polkit questions go now; its last words follow to the client. */
        vc->client = client_free(vc->client);
        connection_update(vc);
}

void varlink_connection_free_all(Manager *m) {
        while (m->varlink_connections)
                connection_free(m->varlink_connections);
}
