/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VF tokens as UUIDs: generation with libuuid and the canonical lower-case
 * 36-character spelling the kernel is given. */

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
