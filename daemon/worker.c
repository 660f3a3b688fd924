/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Worker: a queue of blocking jobs run by one thread, and their completions
 * handed back to the event loop through a pipe. A thread rather than a
 * process: the jobs are single writes to sysfs that need the broker's own
 * privileges and open fds, and a thread started before the sandbox needs no
 * clone() afterwards. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

struct WorkerJob {
        WorkerJob *next;
        worker_run_t run;
        worker_done_t done;
        void *userdata;
        int result;
        uint64_t duration_usec;
};

struct Worker {
        pthread_t thread;
        bool started;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        WorkerJob *queue, **queue_tail;         /* waiting to run */
        WorkerJob *finished, **finished_tail;   /* done, waiting for the event loop */
        unsigned n_jobs;                        /* queued + running + finished */
        bool stop;
        bool running;                           /* the thread is in worker_thread() */
        pthread_cond_t running_cond;
        int notify[2];                          /* the thread writes a byte per finished job */
        sd_event_source *notify_source;
};

static uint64_t now_monotonic_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static void *worker_thread(void *arg) {
        Worker *w = arg;

        pthread_mutex_lock(&w->lock);
        w->running = true;
        pthread_cond_signal(&w->running_cond);
        for (;;) {
                WorkerJob *j;
                uint64_t t0;

                while (!w->queue && !w->stop)
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->stop)
                        break;
                j = w->queue;
                w->queue = j->next;
                if (!w->queue)
                        w->queue_tail = &w->queue;
                pthread_mutex_unlock(&w->lock);

                t0 = now_monotonic_usec();
                j->result = j->run(j->userdata);
                j->duration_usec = now_monotonic_usec() - t0;

                pthread_mutex_lock(&w->lock);
                j->next = NULL;
                *w->finished_tail = j;
                w->finished_tail = &j->next;
                /* A full pipe already wakes the loop; the byte is only a nudge. */
                (void) !write(w->notify[1], "", 1);
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        char buf[64];
        WorkerJob *done;

        while (read(fd, buf, sizeof buf) > 0)
                ;
        pthread_mutex_lock(&w->lock);
        done = w->finished;
        w->finished = NULL;
        w->finished_tail = &w->finished;
        pthread_mutex_unlock(&w->lock);

        while (done) {
                WorkerJob *j = done;

                done = j->next;
                w->n_jobs--;
                j->done(j->result, j->duration_usec, j->userdata);
                free(j);
        }
        return 0;
}

int worker_new(sd_event *event, Worker **ret) {
        _cleanup_(worker_freep) Worker *w = NULL;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->notify[0] = w->notify[1] = -EBADF;
        w->queue_tail = &w->queue;
        w->finished_tail = &w->finished;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        pthread_cond_init(&w->running_cond, NULL);

        if (pipe2(w->notify, O_CLOEXEC | O_NONBLOCK) < 0)
                return negative_errno();
        r = sd_event_add_io(event, &w->notify_source, w->notify[0], EPOLLIN, on_notify, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->notify_source, "worker");

        /* The thread takes no signal: a SIGTERM the kernel picked it for
         * would kill the daemon before its signalfd saw it (manager_start
         * blocks SIGTERM and SIGINT only later, for this thread alone). */
        sigset_t all, old;
        sigfillset(&all);
        r = -pthread_sigmask(SIG_SETMASK, &all, &old);
        if (r < 0)
                return r;
        r = -pthread_create(&w->thread, NULL, worker_thread, w);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        w->started = true;
        /* Back only once the thread runs: glibc registers a new thread's rseq
         * area as it starts, and a seccomp filter installed before that
         * (manager_start's, right after) would fail it, which glibc treats
         * as fatal. Seen under load on Debian 13. */
        pthread_mutex_lock(&w->lock);
        while (!w->running)
                pthread_cond_wait(&w->running_cond, &w->lock);
        pthread_mutex_unlock(&w->lock);
        *ret = TAKE_PTR(w);
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        if (w->started) {
                pthread_mutex_lock(&w->lock);
                w->stop = true;
                pthread_cond_signal(&w->wake);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
        }
        /* Finished jobs complete as usual; queued ones never ran: their owners
         * hear -ECANCELED, so replies go out and nothing is leaked. */
        for (WorkerJob *j = w->finished, *n; j; j = n) {
                n = j->next;
                j->done(j->result, j->duration_usec, j->userdata);
                free(j);
        }
        for (WorkerJob *j = w->queue, *n; j; j = n) {
                n = j->next;
                j->done(-ECANCELED, 0, j->userdata);
                free(j);
        }
        sd_event_source_disable_unref(w->notify_source);
        safe_close(w->notify[0]);
        safe_close(w->notify[1]);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->running_cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

int worker_submit(Worker *w, worker_run_t run, worker_done_t done, void *userdata) {
        WorkerJob *j;

        if (w->n_jobs >= WORKER_JOBS_MAX)
                return -EAGAIN;
        j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->run = run;
        j->done = done;
        j->userdata = userdata;

        pthread_mutex_lock(&w->lock);
        *w->queue_tail = j;
        w->queue_tail = &j->next;
        w->n_jobs++;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        return 0;
}
