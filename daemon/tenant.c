/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tenant rules: the membership check that decides whether a caller may act
 * for a tenant (before polkit is asked). */

#include "tenant.h"

static bool gid_in(gid_t g, const gid_t *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (l[i] == g)
                        return true;
        return false;
}

bool tenant_admits(const StoreTenant *t, const Identity *id) {
        if (id->uid == 0)
                return true;

        for (size_t i = 0; i < t->n_uids; i++)
                if (t->uids[i] == id->uid)
                        return true;

        if (gid_in(id->gid, t->gids, t->n_gids))
                return true;
        for (size_t i = 0; i < id->n_groups; i++)
                if (gid_in(id->groups[i], t->gids, t->n_gids))
                        return true;

        return false;
}
