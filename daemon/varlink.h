/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Varlink: io.vfbroker.Broker on its own socket, served by sd-varlink
 * (libsystemd 257 and later; built only where meson finds it, see
 * HAVE_VARLINK). Each connection is a Client of its own: its identity read
 * once at connect, its polkit questions bounded and cancelled with it. */
#pragma once

typedef struct Manager Manager;

/* Serves the interface on listen_fd (taken over: a bound, listening
 * AF_UNIX stream socket). Logs failures. */
int varlink_start(Manager *m, int listen_fd);
/* Closes every connection (no reply goes out for calls in flight) and the server. */
void varlink_stop(Manager *m);
