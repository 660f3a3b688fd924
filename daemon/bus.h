/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bus: the sd-bus vtable of org.vfbroker.Broker1 and the translation between
 * D-Bus and the broker's objects. The only file that knows D-Bus names. */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Client Client;
typedef struct PendingCall PendingCall;

#define VFBROKER_OBJECT_PATH "/org/vfbroker/Broker1"
#define VFBROKER_INTERFACE "org.vfbroker.Broker1"

#define VFBROKER_ERROR_NOT_AUTHORIZED "org.vfbroker.Error.NotAuthorized"
#define VFBROKER_ERROR_UNKNOWN_TENANT "org.vfbroker.Error.UnknownTenant"
#define VFBROKER_ERROR_UNKNOWN_PF "org.vfbroker.Error.UnknownPhysicalFunction"
#define VFBROKER_ERROR_UNKNOWN_LEASE "org.vfbroker.Error.UnknownLease"
#define VFBROKER_ERROR_NO_FREE_VF "org.vfbroker.Error.NoFreeVF"
#define VFBROKER_ERROR_QUOTA_EXCEEDED "org.vfbroker.Error.QuotaExceeded"
#define VFBROKER_ERROR_INVALID_ARGUMENT "org.vfbroker.Error.InvalidArgument"
#define VFBROKER_ERROR_BUSY "org.vfbroker.Error.Busy"
#define VFBROKER_ERROR_EXISTS "org.vfbroker.Error.Exists"
#define VFBROKER_ERROR_NOT_SUPPORTED "org.vfbroker.Error.NotSupported"
#define VFBROKER_ERROR_LIMIT_EXCEEDED "org.vfbroker.Error.LimitExceeded"
#define VFBROKER_ERROR_FAILED "org.vfbroker.Error.Failed"

/* Registers the vtable and the org.freedesktop.DBus.Hello shim on a client's connection. */
int bus_add_client_objects(Client *c);
/* Cancels a call waiting for polkit (its client went away): no reply is sent. */
PendingCall *pending_call_free(PendingCall *pc);
