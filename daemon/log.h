/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging for vfbrokerd: to the journal with structured fields when run by
 * systemd, to stderr when run by hand. Audit events carry a MESSAGE_ID. */
#pragma once

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "macro.h"

/* LOG_TARGET_AUTO picks the journal when $JOURNAL_STREAM matches stderr. */
typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_CONSOLE,
        LOG_TARGET_JOURNAL,
} LogTarget;

void log_setup(LogTarget target, int max_level);

/* Logs and returns -abs(error) (or 0 if error is 0), so callers can write
 * "return log_error_errno(r, "Failed to …: %m");" — %m expands to strerror(error). */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

/* -Wpedantic rejects %m, so messages say "%s" with STRERROR(r) instead. */
#define STRERROR(r) strerror(abs(r))

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")

/* One audit record per decision: grant, refusal, release, rotation, tenant change.
 * Journal fields: MESSAGE_ID, VFBROKER_ACTION, VFBROKER_RESULT, VFBROKER_TENANT,
 * VFBROKER_UID, VFBROKER_PID, VFBROKER_VF, VFBROKER_LEASE (absent when NULL / -1). */
typedef struct AuditEvent {
        const char *message_id;  /* one of the LOG_MESSAGE_ID_* below */
        const char *action;      /* "acquire", "release", "rotate-token", ... */
        const char *result;      /* "granted", "refused", "error" */
        const char *tenant;
        const char *vf;
        const char *lease;
        long long uid;           /* -1: unknown */
        long long pid;           /* -1: unknown */
} AuditEvent;

void log_audit(int level, const AuditEvent *ev, const char *format, ...) _printf_(3, 4);

#define LOG_MESSAGE_ID_GRANTED       "6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b01"
#define LOG_MESSAGE_ID_REFUSED       "6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b02"
#define LOG_MESSAGE_ID_RELEASED      "6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b03"
#define LOG_MESSAGE_ID_TOKEN_ROTATED "6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b04"
#define LOG_MESSAGE_ID_TENANT        "6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b05"
#define LOG_MESSAGE_ID_PF_STATE      "6f3d0d3c8f2a4a8c9f0e7b1d2c3a4b06"
