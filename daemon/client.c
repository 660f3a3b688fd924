/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client: one peer-to-peer D-Bus connection on the broker's socket, with the
 * peer's identity read once at accept. */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bus.h"
#include "client.h"
#include "log.h"
#include "manager.h"
#include "polkit.h"

/* Supplementary groups we read per peer; NGROUPS_MAX is 65536, no caller needs that many. */
#define CLIENT_GROUPS_MAX 1024

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

static int on_disconnect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Client *c = userdata;

        log_debug("Client %" PRIu64 " (pid %d) disconnected.", c->id, (int) c->identity.pid);
        /* Freeing the bus from inside its own callback is not allowed: defer. */
        (void) sd_event_source_set_enabled(c->free_source, SD_EVENT_ONESHOT);
        return 0;
}

static int on_free_deferred(sd_event_source *s, void *userdata) {
        client_free(userdata);
        return 0;
}

int client_new(Manager *m, int fd_in, Client **ret) {
        _cleanup_close_ int fd = fd_in;
        _cleanup_(client_freep) Client *c = NULL;
        struct ucred ucred;
        socklen_t len = sizeof ucred;
        sd_id128_t server_id;
        int r;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->manager = m;
        c->id = ++m->next_client_id;

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &ucred, &len) < 0)
                return negative_errno();
        c->identity.uid = ucred.uid;
        c->identity.gid = ucred.gid;
        c->identity.pid = ucred.pid;
        r = read_peer_groups(fd, &c->identity.groups, &c->identity.n_groups);
        if (r < 0)
                return log_warning_errno(r, "Cannot read the groups of peer pid %d: %s", (int) ucred.pid, STRERROR(r));
        r = process_get_start_time(ucred.pid, &c->identity.start_time);
        if (r < 0)
                return log_debug_errno(r, "Peer pid %d went away before we could look at it: %s", (int) ucred.pid, STRERROR(r));

        r = sd_bus_new(&c->bus);
        if (r < 0)
                return r;
        r = sd_bus_set_fd(c->bus, fd, fd);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        r = sd_id128_randomize(&server_id);
        if (r < 0)
                return r;
        r = sd_bus_set_server(c->bus, 1, server_id);
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
        r = sd_bus_attach_event(c->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        r = sd_bus_start(c->bus);
        if (r < 0)
                return r;

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

        sd_event_source_disable_unref(c->free_source);
        if (c->bus) {
                sd_bus_detach_event(c->bus);
                sd_bus_flush_close_unref(c->bus);
        }
        free(c->identity.groups);
        free(c);
        return NULL;
}
