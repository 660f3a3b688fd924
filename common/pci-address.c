/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI address and vendor:device parsing. Hand-written rather than sscanf(),
 * because sscanf accepts signs, spaces and overlong fields we must refuse. */

#include <errno.h>
#include <stdio.h>
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

        snprintf(ret, PCI_ADDRESS_MAX, "%04x:%02x:%02x.%x", domain, bus, dev, fn);
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
