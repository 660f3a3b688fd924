/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VarlinkConnection: one accepted Varlink connection. The broker accepts
 * connections itself and stands between the client's socket and sd-varlink,
 * relaying bytes both ways through a socketpair, as client.c does for
 * sd-bus:
 *   - sd-varlink holds up to 16 MiB of a message while it waits for its end:
 *     sixteen connections of one user held 246 MiB of the daemon (measured).
 *     The relay closes a connection whose message grows beyond
 *     VARLINK_MESSAGE_MAX, and reads no more from a client that does not
 *     read its replies, so a connection costs little beyond kernel buffers.
 *   - fds a client sends are dropped by the kernel (the relay read()s); fds
 *     of a reply (AcquireVF) go on to the client with the bytes they came with.
 *   - sd-varlink is told the peer's credentials, read once here
 *     (client_new_peer), for its per-uid connection count.
 * IdleTimeoutSec= closes a connection that sends no call for that long. */
#pragma once

#include <systemd/sd-varlink.h>

typedef struct Client Client;
typedef struct Manager Manager;
typedef struct VarlinkConnection VarlinkConnection;

/* The longest call a client may send: CreateTenant with 1024 uids and 1024
 * gids of ten digits each is about 23 KiB. */
#define VARLINK_MESSAGE_MAX (64U * 1024U)

/* Takes over fd, an accepted connection, and adds it to server (whose
 * disconnect callback must call varlink_connection_disconnected). Refused
 * (<0, fd closed) beyond the server's connection limits. */
int varlink_connection_new(Manager *m, sd_varlink_server *server, int fd);
/* The caller behind link, for the methods. */
Client *varlink_connection_client(sd_varlink *link);
/* A call arrived on link: it is not idle. */
void varlink_connection_touch(sd_varlink *link);
/* sd-varlink let go of link: its Client goes (polkit questions cancelled);
 * what sd-varlink still wrote is relayed to the client before the rest goes. */
void varlink_connection_disconnected(sd_varlink *link);
/* At shutdown: every connection, at once. */
void varlink_connection_free_all(Manager *m);
