/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Facts about a process read from /proc. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Reads /proc/PID/stat field 22 (start time in clock ticks since boot).
 * -ESRCH if the process is gone, -EINVAL for pid <= 0. */
int process_get_start_time(pid_t pid, uint64_t *ret);

/* A pidfd (O_CLOEXEC) of pid, if pid is still the process that started at
 * start_time (0: any): the pidfd pins the process, then the start time tells
 * it from a recycled pid. -ESRCH if that process is gone. */
int process_open_pidfd(pid_t pid, uint64_t start_time);
