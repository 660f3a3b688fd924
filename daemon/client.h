/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client: one per accepted connection on the broker's socket. Peer
 * credentials are read once at accept; calls in flight are counted so a
 * client cannot queue unbounded work. The broker reads the connection
 * itself and relays only bytes to sd-bus, never file descriptors: no call
 * takes one, so a client that sends any is dropped and they are closed at
 * once (on kernels with SO_PASSRIGHTS the kernel refuses them already). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "bus-framer.h"
#include "macro.h"
#include "tenant.h"

typedef struct Manager Manager;
typedef struct Client Client;
typedef struct PendingCall PendingCall;

struct Client {
        Manager *manager;
        Client *next, *prev;            /* in manager->clients */
        uint64_t id;
        sd_bus *bus;
        Identity identity;
        int socket_fd;                  /* the connection; sd-bus writes replies to a dup of it */
        int relay_fd;                   /* our end of the socketpair sd-bus reads requests from */
        sd_event_source *input_source;  /* socket_fd readable */
        sd_event_source *relay_source;  /* relay_fd writable again, while pending bytes wait */
        sd_event_source *kick_source;   /* runs sd-bus until it has nothing left to dispatch */
        sd_event_source *timer_source;  /* authentication deadline, then idle timeout */
        uint64_t last_input_usec;       /* CLOCK_MONOTONIC */
        struct PolkitQuery *admission;  /* in a reserved slot: is this an admin? */
        uint8_t *unrelayed;             /* bytes read but not yet taken by the socketpair */
        BusFramer framer;               /* bounds what it sends before sd-bus reads it */
        size_t unrelayed_size, unrelayed_offset;
        bool dropped;
        /* The system bus connection (bus_system_start): one Client for all
         * its callers, identity read per message, none of the socket parts. */
        bool on_system_bus;
        unsigned calls_in_flight;
        PendingCall *pending;           /* calls waiting for polkit */
        PendingCall *answered;          /* the call being dispatched again with polkit's answer */
        sd_event_source *free_source;   /* deferred free after disconnect */
};

/* A Client for a connection another front end reads (Varlink): the peer's
 * identity (SO_PEERCRED, SO_PEERGROUPS, start time, pidfd, read once here)
 * and the polkit bookkeeping only, on no list; fd stays the caller's. */
int client_new_peer(Manager *m, int fd, Client **ret);
/* Takes over fd (an accepted connection). */
int client_new(Manager *m, int fd, Client **ret);
Client *client_free(Client *c);

DEFINE_TRIVIAL_CLEANUP_FUNC(Client *, client_free)
