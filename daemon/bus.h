/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus: the sd-bus vtable of org.vfbroker.Broker1 and the translation between
 * D-Bus and the broker's operations (operation.h). The names themselves are in common/protocol.h. */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Client Client;
typedef struct Manager Manager;

#include "protocol.h"

/* Registers the vtable and the org.freedesktop.DBus.Hello shim on a client's connection. */
int bus_add_client_objects(Client *c);
/* SystemBus=yes: connects to the system bus, registers the vtable there and
 * takes the name org.vfbroker.Broker1. *ret is the one Client that stands
 * for every caller on the bus (identity read per message). Logs failures. */
int bus_system_start(Manager *m, Client **ret);
