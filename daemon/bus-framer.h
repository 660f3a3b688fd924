/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BusFramer: follows the bytes a client sends on the D-Bus socket, as
 * client.c relays them to sd-bus, far enough to bound them: the SASL lines
 * before BEGIN, then each message's length from its fixed header. sd-bus
 * reads a whole message into memory before it looks at it, up to 128 MiB;
 * sixteen connections of one user each sending 15 MiB of one message held
 * 246 MiB of the daemon (measured). Nothing is parsed beyond lengths:
 * sd-bus checks everything else. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest message a client may send: CreateTenant with 1024 uids and
 * 1024 gids is about 8.5 KiB. */
#define BUS_FRAMER_MESSAGE_MAX (64U * 1024U)
/* SASL, before BEGIN: one line, and all of them. */
#define BUS_FRAMER_AUTH_LINE_MAX 1024U
#define BUS_FRAMER_AUTH_MAX (16U * 1024U)

typedef struct BusFramer {
        bool nul_seen;                  /* the credentials byte that starts the stream */
        bool authenticated;             /* past the BEGIN line */
        char line[8];                   /* the start of the current SASL line */
        size_t line_bytes, auth_bytes;
        uint8_t header[16];             /* the fixed header of the message being received */
        size_t header_bytes;
        uint64_t remaining;             /* of that message, after its fixed header */
} BusFramer;

/* Feeds the next size bytes. 0: fine so far. -E2BIG: SASL beyond its
 * bounds. -EMSGSIZE: a message longer than max. -EBADMSG: not D-Bus (an
 * unknown byte order mark, or a stream that does not start with NUL). */
int bus_framer_feed(BusFramer *f, const uint8_t *data, size_t size, size_t max);
