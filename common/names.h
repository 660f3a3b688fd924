/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a tenant name, a lease id and an interface name may look like. Every
 * name a client sends is checked here before it is used for anything. */
#pragma once

#include <stdbool.h>

/* 1..TENANT_NAME_MAX characters of [A-Za-z0-9_.-], not starting with '.' or '-'
 * (so never "." / ".." or an option). */
#define TENANT_NAME_MAX 64
bool tenant_name_is_valid(const char *s);

/* Lease ids are 32 lower-case hex characters (a random 128-bit id). */
#define LEASE_ID_LENGTH 32
bool lease_id_is_valid(const char *s);
/* Fills buf with a fresh random lease id. */
int lease_id_generate(char buf[static LEASE_ID_LENGTH + 1]);

/* Network interface names as the kernel accepts them (IFNAMSIZ-1, no '/', no
 * whitespace, not "." or ".."). */
bool ifname_is_valid(const char *s);
