/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging for vfbrokerd: journal (structured) or stderr, one decision per record. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

/* Room for an escaped audit field on the console: a tenant name is at most
 * 64 characters once checked, a result a short phrase. */
#define TENANT_FIELD_MAX 512

static LogTarget log_target = LOG_TARGET_CONSOLE;
static int log_max_level = LOG_INFO;

/* True when stderr is the journal stream systemd connected us to. */
static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

void log_setup(LogTarget target, int max_level) {
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
        log_target = target;
        log_max_level = max_level;
}

/* Clients put strings into messages (names they sent, refused as they are):
 * control characters and '\\' are written as \xNN, so no client can start a
 * line of its own in a log or on a terminal. */
static void escape_into(char *dst, size_t size, const char *src) {
        static const char hex[] = "0123456789abcdef";
        size_t n = 0;

        for (const unsigned char *p = (const unsigned char *) src; *p && n + 1 < size; p++) {
                if (*p >= 0x20 && *p != 0x7f && *p != '\\') {
                        dst[n++] = (char) *p;
                        continue;
                }
                if (n + 5 >= size)
                        break;
                dst[n++] = '\\';
                dst[n++] = 'x';
                dst[n++] = hex[*p >> 4];
                dst[n++] = hex[*p & 0xf];
        }
        dst[n] = '\0';
}

static void format_message(char *buf, size_t size, int error, const char *format, va_list ap) _printf_(4, 0);
static void format_message(char *buf, size_t size, int error, const char *format, va_list ap) {
        char raw[2048];
        int saved = errno;

        errno = error < 0 ? -error : error;
        vsnprintf(raw, sizeof raw, format, ap);
        errno = saved;
        escape_into(buf, size, raw);
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) {
        char msg[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level > log_max_level)
                return -error;

        va_start(ap, format);
        format_message(msg, sizeof msg, error, format, ap);
        va_end(ap);

        if (log_target == LOG_TARGET_JOURNAL) {
                char fileline[32];
                snprintf(fileline, sizeof fileline, "CODE_LINE=%d", line);
                if (error > 0)
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "ERRNO=%d", error,
                                        "CODE_FILE=%s", file, fileline, "CODE_FUNC=%s", func,
                                        "SYSLOG_IDENTIFIER=vfbrokerd", NULL);
                else
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level,
                                        "CODE_FILE=%s", file, fileline, "CODE_FUNC=%s", func,
                                        "SYSLOG_IDENTIFIER=vfbrokerd", NULL);
        } else
                fprintf(stderr, "%s\n", msg);

        return -error;
}

void log_audit(int level, const AuditEvent *ev, const char *format, ...) {
        char msg[2048];
        va_list ap;

        if (level > log_max_level)
                return;

        va_start(ap, format);
        format_message(msg, sizeof msg, 0, format, ap);
        va_end(ap);

        if (log_target != LOG_TARGET_JOURNAL) {
                char tenant[TENANT_FIELD_MAX], result[TENANT_FIELD_MAX];

                escape_into(tenant, sizeof tenant, strna(ev->tenant));
                escape_into(result, sizeof result, strna(ev->result));
                fprintf(stderr, "%s [action=%s result=%s tenant=%s vf=%s lease=%s uid=%lld pid=%lld]\n",
                        msg, strna(ev->action), result, tenant,
                        strna(ev->vf), strna(ev->lease), ev->uid, ev->pid);
                return;
        }

        /* Absent fields are left out rather than sent empty, hence iovecs. */
        struct iovec iov[12];
        char f[12][320];
        size_t n = 0;

#define ADD(fmt, ...)                                                          \
        do {                                                                   \
                int _l = snprintf(f[n], sizeof f[n], fmt, __VA_ARGS__);        \
                iov[n].iov_base = f[n];                                        \
                iov[n].iov_len = _l < 0 ? 0 : MIN((size_t) _l, sizeof f[n] - 1); \
                n++;                                                           \
        } while (0)

        ADD("MESSAGE=%s", msg);
        ADD("PRIORITY=%d", level);
        ADD("MESSAGE_ID=%s", ev->message_id);
        ADD("SYSLOG_IDENTIFIER=%s", "vfbrokerd");
        if (ev->action)
                ADD("VFBROKER_ACTION=%s", ev->action);
        if (ev->result)
                ADD("VFBROKER_RESULT=%s", ev->result);
        if (ev->tenant)
                ADD("VFBROKER_TENANT=%s", ev->tenant);
        if (ev->vf)
                ADD("VFBROKER_VF=%s", ev->vf);
        if (ev->lease)
                ADD("VFBROKER_LEASE=%s", ev->lease);
        if (ev->uid >= 0)
                ADD("VFBROKER_UID=%lld", ev->uid);
        if (ev->pid >= 0)
                ADD("VFBROKER_PID=%lld", ev->pid);
#undef ADD

        sd_journal_sendv(iov, (int) n);
}
