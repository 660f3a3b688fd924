/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string arrays: length, membership, appending. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

size_t strv_length(char * const *l);
/* Appends a copy of s; returns 0 or -ENOMEM (l is unchanged on failure). */
int strv_extend(char ***l, const char *s);
