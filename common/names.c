/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Validation of the names clients send (tenants, lease ids, interfaces) and
 * lease id generation. Strict allow-lists: anything unusual is refused. */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "names.h"

bool tenant_name_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, TENANT_NAME_MAX + 1);
        if (n == 0 || n > TENANT_NAME_MAX)
                return false;
        /* No leading '.' keeps "." and ".." out of paths; no leading '-' keeps
         * names from being read as options by tools they are passed to. */
        if (s[0] == '.' || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
                        return false;
        }
        return true;
}

bool lease_id_is_valid(const char *s) {
        if (!s || strnlen(s, LEASE_ID_LENGTH + 1) != LEASE_ID_LENGTH)
                return false;
        for (size_t i = 0; i < LEASE_ID_LENGTH; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

int lease_id_generate(char buf[static LEASE_ID_LENGTH + 1]) {
        static const char hex[] = "0123456789abcdef";
        uint8_t raw[LEASE_ID_LENGTH / 2];
        size_t got = 0;

        while (got < sizeof raw) {
                ssize_t k = getrandom(raw + got, sizeof raw - got, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                got += (size_t) k;
        }

        for (size_t i = 0; i < sizeof raw; i++) {
                buf[2 * i] = hex[raw[i] >> 4];
                buf[2 * i + 1] = hex[raw[i] & 0xf];
        }
        buf[LEASE_ID_LENGTH] = '\0';
        return 0;
}

/* IFNAMSIZ is 16 in <net/if.h>; kept local so this header-free check needs no
 * network headers. */
#define IFNAME_MAX 15

bool ifname_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strnlen(s, IFNAME_MAX + 1);
        if (n == 0 || n > IFNAME_MAX)
                return false;
        if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                /* The kernel refuses '/', ':' (alias syntax) and whitespace;
                 * we also refuse control and non-ASCII bytes. */
                if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':')
                        return false;
        }
        return true;
}
