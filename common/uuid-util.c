/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VF tokens as UUIDs: generation with libuuid, and a strict parser that only
 * takes the canonical lower-case 36-character form, so one token has one spelling. */

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <uuid/uuid.h>

#include "uuid-util.h"

int token_generate(Token *ret) {
        uuid_t u;
        Token t;

        if (!ret)
                return -EINVAL;

        uuid_generate_random(u);
        memcpy(t.bytes, u, TOKEN_SIZE);
        /* The kernel treats a null vf_token as "no token"; never hand one out. */
        if (token_is_null(&t))
                return -EIO;
        *ret = t;
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1; /* upper case is refused on purpose: one spelling per token */
}

int token_from_string(const char *s, Token *ret) {
        Token t;
        size_t j = 0;

        if (!s || !ret)
                return -EINVAL;
        if (strlen(s) != TOKEN_STRING_MAX - 1)
                return -EINVAL;

        for (size_t i = 0; i < TOKEN_STRING_MAX - 1;) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return -EINVAL;
                        i++;
                        continue;
                }
                int hi = unhex(s[i]), lo = unhex(s[i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                t.bytes[j++] = (uint8_t) (hi << 4 | lo);
                i += 2;
        }

        *ret = t;
        return 0;
}

char *token_to_string(const Token *t, char buf[static TOKEN_STRING_MAX]) {
        uuid_unparse_lower(t->bytes, buf);
        return buf;
}

int token_is_null(const Token *t) {
        for (size_t i = 0; i < TOKEN_SIZE; i++)
                if (t->bytes[i] != 0)
                        return false;
        return true;
}
