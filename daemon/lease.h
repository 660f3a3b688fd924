/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lease: a VF handed to a holder process for a tenant. It ends on ReleaseVF
 * or when the holder exits (its pidfd becomes readable); its VF then drains
 * until nobody holds the group any more. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "names.h"

typedef struct Manager Manager;
typedef struct Vf Vf;

typedef struct Lease {
        Manager *manager;
        char id[LEASE_ID_LENGTH + 1];
        Vf *vf;
        char *tenant;
        uid_t uid;
        pid_t pid;
        uint64_t pid_start_time;
        uint64_t created_usec;
        bool active;                    /* false once ended, while the VF drains */
        int pidfd;
        sd_event_source *pidfd_source;
} Lease;

/* Creates an active lease and starts watching the holder. Not yet stored. */
int lease_new(Manager *m, Vf *vf, const char *tenant, uid_t uid, pid_t pid,
              uint64_t pid_start_time, uint64_t created_usec, const char *id, Lease **ret);
Lease *lease_free(Lease *l);

/* Opens the holder's pidfd (checking the start time, so a recycled pid is
 * not taken for the holder) and watches it. -ESRCH if the holder is gone. */
int lease_watch_holder(Lease *l);

DEFINE_TRIVIAL_CLEANUP_FUNC(Lease *, lease_free)
