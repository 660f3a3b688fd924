/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tenant rules: who may act for a tenant. Tenants themselves live in the
 * Store; this file holds the membership check shared by every method. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "store.h"

/* The caller's identity as read once from the socket (SO_PEERCRED, SO_PEERGROUPS). */
typedef struct Identity {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        gid_t *groups;           /* supplementary groups */
        size_t n_groups;
        uint64_t start_time;     /* of pid, for polkit's unix-process subject */
        int pidfd;               /* of pid, or negative: for polkit 124+ (see PolkitSubject) */
} Identity;

/* Root, one of the tenant's users, or in one of its groups (primary or supplementary). */
bool tenant_admits(const StoreTenant *t, const Identity *id);
