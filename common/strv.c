/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string arrays: length, membership, appending, copying.
 * Small on purpose: lists here are config values and names, never huge. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strv.h"

size_t strv_length(char * const *l) {
        size_t n = 0;

        if (!l)
                return 0;
        while (l[n])
                n++;
        return n;
}

int strv_extend(char ***l, const char *s) {
        _cleanup_free_ char *copy = NULL;
        size_t n;
        char **nl;

        if (!l || !s)
                return -EINVAL;

        copy = strdup(s);
        if (!copy)
                return -ENOMEM;

        n = strv_length(*l);
        if (n > SIZE_MAX / sizeof(char *) - 2)
                return -ENOMEM;
        /* realloc keeps the old array valid on failure, so *l is unchanged then. */
        nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl)
                return -ENOMEM;

        nl[n] = TAKE_PTR(copy);
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

