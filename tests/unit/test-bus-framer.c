/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BusFramer (daemon/bus-framer.c): message lengths on a D-Bus stream, fed
 * in pieces of every size, as the socket delivers them. */

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "bus-framer.h"

static const char auth[] = "\0AUTH EXTERNAL 30\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n";

/* A message of body_len bytes with one 'o' header field, in byte order bo. */
static size_t message(uint8_t *out, char bo, uint32_t body_len) {
        static const uint8_t field[] = { 1, 1, 'o', 0, 1, 0, 0, 0, '/', 0, 0, 0, 0, 0, 0, 0 };
        uint32_t fields_len = 10;
        size_t n = 0;

        out[n++] = (uint8_t) bo;
        out[n++] = 1;
        out[n++] = 0;
        out[n++] = 1;
        for (int i = 0; i < 4; i++)
                out[n++] = bo == 'l' ? (uint8_t) (body_len >> (8 * i)) : (uint8_t) (body_len >> (8 * (3 - i)));
        for (int i = 0; i < 4; i++)
                out[n++] = bo == 'l' ? (i == 0 ? 7 : 0) : (i == 3 ? 7 : 0);
        for (int i = 0; i < 4; i++)
                out[n++] = bo == 'l' ? (uint8_t) (fields_len >> (8 * i)) : (uint8_t) (fields_len >> (8 * (3 - i)));
        memcpy(out + n, field, sizeof field);
        n += sizeof field;
        memset(out + n, 'x', body_len);
        return n + body_len;
}

/* Feeds data in pieces of step bytes. */
static int feed_by(BusFramer *f, const uint8_t *data, size_t size, size_t step, size_t max) {
        for (size_t i = 0; i < size; i += step) {
                int r = bus_framer_feed(f, data + i, size - i < step ? size - i : step, max);

                if (r < 0)
                        return r;
        }
        return 0;
}

Test(bus_framer, messages_within_the_limit_pass_in_any_pieces) {
        static uint8_t stream[4 * 70000];
        size_t n = sizeof auth - 1;

        memcpy(stream, auth, n);
        n += message(stream + n, 'l', 100);
        n += message(stream + n, 'B', 60000);
        n += message(stream + n, 'l', 0);
        for (size_t step = 1; step <= 70000; step = step * 7 + 1) {
                BusFramer f = { 0 };

                cr_assert_eq(feed_by(&f, stream, n, step, 64 * 1024), 0, "step %zu", step);
                cr_assert(f.authenticated && f.remaining == 0 && f.header_bytes == 0, "step %zu", step);
        }
}

Test(bus_framer, a_message_beyond_the_limit_is_refused_at_its_header) {
        static uint8_t stream[200];
        size_t n = sizeof auth - 1;
        BusFramer f = { 0 };

        memcpy(stream, auth, n);
        /* 15 MiB announced: refused once the 16 header bytes are in, before any body */
        stream[n++] = 'l';
        stream[n++] = 1;
        stream[n++] = 0;
        stream[n++] = 1;
        memcpy(stream + n, (uint8_t[]) { 0, 0, 0xf0, 0 }, 4);
        n += 4;
        memcpy(stream + n, (uint8_t[]) { 1, 0, 0, 0, 10, 0, 0, 0 }, 8);
        n += 8;
        cr_assert_eq(feed_by(&f, stream, n, 1, 64 * 1024), -EMSGSIZE);

        /* the header field array counts too */
        BusFramer g = { 0 };
        n = sizeof auth - 1;
        memcpy(stream + n, (uint8_t[]) { 'B', 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0 }, 16);
        cr_assert_eq(bus_framer_feed(&g, stream, n + 16, 64 * 1024), -EMSGSIZE);
}

Test(bus_framer, what_is_not_dbus_or_too_long_a_sasl_is_refused) {
        static uint8_t lines[BUS_FRAMER_AUTH_MAX + 64];
        BusFramer f = { 0 }, g = { 0 }, h = { 0 }, k = { 0 };
        uint8_t bad[sizeof auth + 16];

        cr_assert_eq(bus_framer_feed(&f, (const uint8_t *) "AUTH\r\n", 6, 64 * 1024), -EBADMSG);
        memcpy(bad, auth, sizeof auth - 1);
        memcpy(bad + sizeof auth - 1, "Xnot a header!!!", 16);
        cr_assert_eq(bus_framer_feed(&g, bad, sizeof auth - 1 + 16, 64 * 1024), -EBADMSG);
        memset(lines, 'A', sizeof lines);
        lines[0] = 0;
        cr_assert_eq(bus_framer_feed(&h, lines, BUS_FRAMER_AUTH_LINE_MAX + 8, 64 * 1024), -E2BIG);
        for (size_t i = 1; i < sizeof lines; i += 64)
                memcpy(lines + i, "\r\n", 2);
        cr_assert_eq(bus_framer_feed(&k, lines, sizeof lines, 64 * 1024), -E2BIG);
        /* "BEGIN" only as a line of its own */
        BusFramer m = { 0 };
        cr_assert_eq(bus_framer_feed(&m, (const uint8_t *) "\0XBEGIN\r\nBEGINX\r\n", 17, 64 * 1024), 0);
        cr_assert(!m.authenticated);
}
