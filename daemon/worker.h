/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Worker: one thread for the kernel calls that may block (a revocation
 * written into the variant driver, sriov_numvfs and the wait for the new VFs
 * to bind), so the event loop never waits on them. It is started before the
 * sandbox (which allows no new threads) and runs jobs one at a time; each job
 * touches only what it was given, and its completion runs in the event loop. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Worker Worker;
typedef struct WorkerJob WorkerJob;

/* Runs in the worker thread: must not touch the broker's objects. Returns
 * 0 or negative errno. */
typedef int (*worker_run_t)(void *userdata);
/* Runs in the event loop once the job is done: result is what run returned,
 * duration_usec how long it took. Frees what userdata owns. */
typedef void (*worker_done_t)(int result, uint64_t duration_usec, void *userdata);

int worker_new(sd_event *event, Worker **ret);
/* Waits for the job under way, if any (at exit only); then every job's done
 * callback runs, with -ECANCELED for those that never ran. */
Worker *worker_free(Worker *w);

/* Queues a job; -EAGAIN when WORKER_JOBS_MAX are queued already. */
#define WORKER_JOBS_MAX 64U
int worker_submit(Worker *w, worker_run_t run, worker_done_t done, void *userdata);

DEFINE_TRIVIAL_CLEANUP_FUNC(Worker *, worker_free)
