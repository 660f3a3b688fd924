/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI address and vendor:device parsing. Hand-written rather than sscanf(),
 * because sscanf accepts signs, spaces and overlong fields we must refuse. */

#include <errno.h>
#include <string.h>

#include "macro.h"
#include "pci-address.h"

/* Reads exactly n hex digits (any case) from *p and advances it. */
static int parse_hex_fixed(const char **p, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                int d = unhexchar((*p)[i]);

                if (d < 0)
                        return -EINVAL;
                v = v << 4 | (unsigned) d;
        }
        *p += n;
        *ret = v;
        return 0;
}

/* Writes the n low hex digits of v, lower case, most significant first. */
static void put_hex(char *p, unsigned v, size_t n) {
        static const char digits[] = "0123456789abcdef";

        for (size_t i = n; i > 0; i--) {
                p[i - 1] = digits[v & 0xf];
                v >>= 4;
        }
}

int pci_address_normalize(const char *s, char ret[static PCI_ADDRESS_MAX]) {
        unsigned domain = 0, bus, dev, fn;
        const char *p = s;
        size_t len;

        if (!s)
                return -EINVAL;
        len = strnlen(s, PCI_ADDRESS_MAX);
        if (len == 12) {
                if (parse_hex_fixed(&p, 4, &domain) < 0 || *p++ != ':')
                        return -EINVAL;
        } else if (len != 7)
                return -EINVAL;

        if (parse_hex_fixed(&p, 2, &bus) < 0 || *p++ != ':')
                return -EINVAL;
        if (parse_hex_fixed(&p, 2, &dev) < 0 || *p++ != '.')
                return -EINVAL;
        if (parse_hex_fixed(&p, 1, &fn) < 0 || *p != '\0')
                return -EINVAL;
        if (dev > 0x1f || fn > 7)
                return -EINVAL;

        /* By hand: this runs for every VF several times at start-up, where
         * snprintf's format parsing was most of the cost. */
        put_hex(ret, domain, 4);
        ret[4] = ':';
        put_hex(ret + 5, bus, 2);
        ret[7] = ':';
        put_hex(ret + 8, dev, 2);
        ret[10] = '.';
        put_hex(ret + 11, fn, 1);
        ret[12] = '\0';
        return 0;
}

bool pci_address_is_valid(const char *s) {
        char buf[PCI_ADDRESS_MAX];

        return pci_address_normalize(s, buf) >= 0;
}

int pci_id_pair_parse(const char *s, uint16_t *ret_vendor, uint16_t *ret_device) {
        unsigned vendor, device;
        const char *p = s;

        if (!s || strnlen(s, 10) != 9)
                return -EINVAL;
        if (parse_hex_fixed(&p, 4, &vendor) < 0 || *p++ != ':')
                return -EINVAL;
        if (parse_hex_fixed(&p, 4, &device) < 0 || *p != '\0')
                return -EINVAL;

        if (ret_vendor)
                *ret_vendor = (uint16_t) vendor;
        if (ret_device)
                *ret_device = (uint16_t) device;
        return 0;
}
