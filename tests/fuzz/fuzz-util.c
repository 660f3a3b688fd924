/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixture helpers for the fuzz targets (see fuzz-util.h). */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "log.h"

#define MAX_TEMP_DIRS 8

static char *temp_dirs[MAX_TEMP_DIRS];
static size_t n_temp_dirs;

static void die(const char *what, const char *path) {
        fprintf(stderr, "fuzz fixture: %s %s: %s\n", what, path, strerror(errno));
        abort();
}

void fuzz_setup_logs(void) {
        const char *e = getenv("VFBROKER_FUZZ_LOG");
        int level = LOG_DEBUG;

        if (e && *e >= '0' && *e <= '7' && e[1] == '\0')
                level = *e - '0';
        log_setup(LOG_TARGET_CONSOLE, level);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) remove(path);
        return 0;
}

void fuzz_remove_tree(const char *path) {
        (void) nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_temp_dirs(void) {
        for (size_t i = 0; i < n_temp_dirs; i++) {
                fuzz_remove_tree(temp_dirs[i]);
                free(temp_dirs[i]);
        }
        n_temp_dirs = 0;
}

char *fuzz_make_temp_dir(const char *what) {
        const char *tmp = getenv("TMPDIR");
        char *d;

        /* tmpfs by default: the store fsyncs every write, and on a disk that
         * would be most of the time a run takes. */
        if (!tmp || !*tmp)
                tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        if (n_temp_dirs >= MAX_TEMP_DIRS)
                abort();
        if (asprintf(&d, "%s/vfbroker-fuzz-%s-XXXXXX", tmp, what) < 0)
                abort();
        if (!mkdtemp(d))
                die("cannot create", d);
        if (n_temp_dirs == 0)
                atexit(remove_temp_dirs);
        temp_dirs[n_temp_dirs++] = d;
        return d;
}

void fuzz_mkdir(const char *path) {
        char *tmp = strdup(path);

        if (!tmp)
                abort();
        for (char *p = tmp + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                                die("cannot create", tmp);
                        *p = '/';
                }
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                die("cannot create", tmp);
        free(tmp);
}

void fuzz_write_file(const char *path, const void *data, size_t size) {
        const char *p = data;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                die("cannot write", path);
        while (size > 0) {
                ssize_t k = write(fd, p, size);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        die("cannot write", path);
                }
                p += k;
                size -= (size_t) k;
        }
        if (close(fd) < 0)
                die("cannot close", path);
}

void fuzz_write_string(const char *path, const char *s) {
        fuzz_write_file(path, s, strlen(s));
}

void fuzz_symlink(const char *target, const char *path) {
        if (symlink(target, path) < 0)
                die("cannot create the symlink", path);
}

void fuzz_touch(const void *p, size_t size) {
        const volatile unsigned char *b = p;
        unsigned char sum = 0;

        for (size_t i = 0; i < size; i++)
                sum ^= b[i];
        (void) sum;
}
