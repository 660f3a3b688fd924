/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string arrays: length, membership, appending. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

size_t strv_length(char * const *l);
bool strv_contains(char * const *l, const char *s);
/* Appends a copy of s; returns 0 or -ENOMEM (l is unchanged on failure). */
int strv_extend(char ***l, const char *s);
/* Deep copy; returns NULL on ENOMEM. strv_copy(NULL) returns an empty list. */
char **strv_copy(char * const *l);
