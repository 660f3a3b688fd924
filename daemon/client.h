/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Client: one per accepted connection on the broker's socket. Peer
 * credentials are read once at accept; calls in flight are counted so a
 * client cannot queue unbounded work. */
#pragma once

#include <systemd/sd-bus.h>

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
        unsigned calls_in_flight;
        PendingCall *pending;           /* calls waiting for polkit */
        PendingCall *answered;          /* the call being dispatched again with polkit's answer */
        sd_event_source *free_source;   /* deferred free after disconnect */
};

/* Takes over fd (an accepted connection). */
int client_new(Manager *m, int fd, Client **ret);
Client *client_free(Client *c);

DEFINE_TRIVIAL_CLEANUP_FUNC(Client *, client_free)
