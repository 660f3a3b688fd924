/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Lease: a VF held for a tenant by one process, watched through its pidfd
 * so the lease ends by itself when the holder exits. */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "lease.h"
#include "log.h"
#include "process-util.h"

int lease_new(sd_event *event, Vf *vf, const char *tenant, uid_t uid, pid_t pid,
              uint64_t pid_start_time, uint64_t created_usec, const char *id,
              lease_holder_exit_t on_holder_exit, void *userdata, Lease **ret) {
        _cleanup_(lease_freep) Lease *l = NULL;
        int r;

        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->event = event;
        l->on_holder_exit = on_holder_exit;
        l->userdata = userdata;
        l->vf = vf;
        l->uid = uid;
        l->pid = pid;
        l->pid_start_time = pid_start_time;
        l->created_usec = created_usec;
        l->active = true;
        l->pidfd = -EBADF;
        l->tenant = strdup(tenant);
        if (!l->tenant)
                return -ENOMEM;

        if (id) {
                if (!lease_id_is_valid(id))
                        return -EINVAL;
                snprintf(l->id, sizeof l->id, "%s", id);
        } else {
                r = lease_id_generate(l->id);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(l);
        return 0;
}

Lease *lease_free(Lease *l) {
        if (!l)
                return NULL;
        sd_event_source_disable_unref(l->pidfd_source);
        safe_close(l->pidfd);
        free(l->tenant);
        free(l);
        return NULL;
}

static int on_holder_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Lease *l = userdata;

        l->pidfd_source = sd_event_source_disable_unref(l->pidfd_source);
        l->pidfd = safe_close(l->pidfd);
        if (l->on_holder_exit)
                l->on_holder_exit(l, l->userdata);
        return 0;
}

int lease_watch_holder(Lease *l) {
        _cleanup_close_ int pidfd = -EBADF;
        int r;

        /* Still the process that took the lease, not a recycled pid. */
        pidfd = process_open_pidfd(l->pid, l->pid_start_time);
        if (pidfd < 0)
                return pidfd;

        r = sd_event_add_io(l->event, &l->pidfd_source, pidfd, EPOLLIN, on_holder_exit, l);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(l->pidfd_source, "lease-holder");

        l->pidfd = TAKE_FD(pidfd);
        return 0;
}
