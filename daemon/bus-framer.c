/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* BusFramer: message lengths on a D-Bus stream (bus-framer.h). The fixed
 * header is 12 bytes plus the length of the header field array, which
 * starts at byte 12: byte 0 is the byte order ('l' or 'B'), bytes 4-7 the
 * body's length, bytes 12-15 the field array's; the fields are padded to 8,
 * then the body follows (D-Bus specification, "Message Format"). */

#include <errno.h>
#include <string.h>

#include "bus-framer.h"

static uint32_t read_u32(const uint8_t *p, bool big_endian) {
        if (big_endian)
                return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
        return (uint32_t) p[3] << 24 | (uint32_t) p[2] << 16 | (uint32_t) p[1] << 8 | p[0];
}

/* One byte of SASL: lines end with \r\n; the line "BEGIN" ends it. */
static int feed_auth(BusFramer *f, uint8_t b) {
        if (!f->nul_seen) {
                if (b != 0)
                        return -EBADMSG;
                f->nul_seen = true;
                return 0;
        }
        if (++f->auth_bytes > BUS_FRAMER_AUTH_MAX)
                return -E2BIG;
        if (b == '\n') {
                if (f->line_bytes == 6 && memcmp(f->line, "BEGIN\r", 6) == 0)
                        f->authenticated = true;
                f->line_bytes = 0;
                return 0;
        }
        if (f->line_bytes < sizeof f->line)
                f->line[f->line_bytes] = (char) b;
        if (++f->line_bytes > BUS_FRAMER_AUTH_LINE_MAX)
                return -E2BIG;
        return 0;
}

int bus_framer_feed(BusFramer *f, const uint8_t *data, size_t size, size_t max) {
        size_t i = 0;
        int r;

        while (i < size) {
                if (!f->authenticated) {
                        r = feed_auth(f, data[i++]);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (f->remaining > 0) {
                        size_t k = size - i < f->remaining ? size - i : (size_t) f->remaining;

                        f->remaining -= k;
                        i += k;
                        continue;
                }
                f->header[f->header_bytes++] = data[i++];
                if (f->header_bytes < sizeof f->header)
                        continue;

                bool big_endian = f->header[0] == 'B';
                uint64_t body, fields, total;

                if (f->header[0] != 'l' && !big_endian)
                        return -EBADMSG;
                body = read_u32(f->header + 4, big_endian);
                fields = read_u32(f->header + 12, big_endian);
                total = 16 + ((fields + 7) & ~(uint64_t) 7) + body;
                if (total > max)
                        return -EMSGSIZE;
                f->remaining = total - 16;
                f->header_bytes = 0;
        }
        return 0;
}
