/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Clock helpers: one way to read wall-clock microseconds for stored times. */
#pragma once

#include <stdint.h>
#include <time.h>

/* CLOCK_REALTIME in microseconds, as stored for tenants and leases. */
static inline uint64_t now_realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}
