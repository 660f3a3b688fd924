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

typedef struct Vf Vf;
typedef struct Lease Lease;

/* Called from the event loop when the holder exits; the lease is still active. */
typedef void (*lease_holder_exit_t)(Lease *l, void *userdata);

struct Lease {
        sd_event *event;
        char id[LEASE_ID_LENGTH + 1];
        Vf *vf;
        char *tenant;
        uid_t uid;
        pid_t pid;
        uint64_t pid_start_time;
        uint64_t created_usec;
        bool active;                    /* false once ended, while the VF drains */
        bool on_iommufd;                /* handed out as cdev + iommufd (API "iommufd") */
        int pidfd;
        sd_event_source *pidfd_source;
        lease_holder_exit_t on_holder_exit;
        void *userdata;
};

/* Creates an active lease; id NULL makes a fresh one. Not yet watched nor stored. */
int lease_new(sd_event *event, Vf *vf, const char *tenant, uid_t uid, pid_t pid,
              uint64_t pid_start_time, uint64_t created_usec, const char *id,
              lease_holder_exit_t on_holder_exit, void *userdata, Lease **ret);
Lease *lease_free(Lease *l);

/* Opens the holder's pidfd (checking the start time, so a recycled pid is
 * not taken for the holder) and watches it. -ESRCH if the holder is gone. */
int lease_watch_holder(Lease *l);

DEFINE_TRIVIAL_CLEANUP_FUNC(Lease *, lease_free)
