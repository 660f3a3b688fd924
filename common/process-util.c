/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Facts about a process read from /proc: its start time, which together with
 * the pid names one process for good (a recycled pid has another). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "process-util.h"

int process_get_start_time(pid_t pid, uint64_t *ret) {
        char path[64], buf[4096];
        _cleanup_close_ int fd = -EBADF;
        unsigned long long start_time;
        size_t n = 0;
        char *p, *end;

        if (pid <= 0 || !ret)
                return -EINVAL;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : negative_errno();
        for (;;) {
                ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        /* A process that exited between open and read. */
                        return errno == ESRCH ? -ESRCH : negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n >= sizeof buf - 1)
                        return -EBADMSG;
        }
        buf[n] = '\0';

        /* comm (field 2) is in parentheses and may itself hold spaces and
         * ')': the fields after it start after the LAST ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return -EBADMSG;
        p++;

        /* Skip fields 3 to 21, so p points at field 22. */
        for (int field = 3; field <= 22; field++) {
                p += strspn(p, " ");
                if (*p == '\0')
                        return -EBADMSG;
                if (field == 22)
                        break;
                p += strcspn(p, " ");
        }

        errno = 0;
        start_time = strtoull(p, &end, 10);
        if (errno != 0 || end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
                return -EBADMSG;

        *ret = (uint64_t) start_time;
        return 0;
}

int process_open_pidfd(pid_t pid, uint64_t start_time) {
        uint64_t now;
        int fd, r;

        if (pid <= 0)
                return -EINVAL;
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return errno == ESRCH ? -ESRCH : -errno;
        r = process_get_start_time(pid, &now);
        if (r < 0 || (start_time != 0 && now != start_time)) {
                close(fd);
                return r < 0 && r != -ENOENT ? r : -ESRCH;
        }
        return fd;
}
