/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus: the sd-bus vtable of org.vfbroker.Broker1 and the translation between
 * D-Bus and the broker's objects. The names themselves are in common/protocol.h. */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Client Client;
typedef struct PendingCall PendingCall;

#include "protocol.h"

/* Registers the vtable and the org.freedesktop.DBus.Hello shim on a client's connection. */
int bus_add_client_objects(Client *c);
/* Cancels a call waiting for polkit (its client went away): no reply is sent. */
PendingCall *pending_call_free(PendingCall *pc);
