/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VF tokens are UUIDs: 16 raw bytes in memory and in the store, the 36-character
 * lower-case form on the wire and in the kernel's "vf_token=" option. */
#pragma once

#include <stdint.h>

#define TOKEN_SIZE 16
#define TOKEN_STRING_MAX 37 /* 36 characters and the NUL */

typedef struct Token {
        uint8_t bytes[TOKEN_SIZE];
} Token;

/* A fresh random token (libuuid uuid_generate_random; refuses a null UUID). */
int token_generate(Token *ret);
/* Writes the 36-character lower-case form into buf. Returns buf. */
char *token_to_string(const Token *t, char buf[static TOKEN_STRING_MAX]);
int token_is_null(const Token *t);
