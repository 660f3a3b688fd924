/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by the daemon, the library and the tests: cleanup
 * attributes, ownership transfer, array sizes. Header only. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _sentinel_ __attribute__((sentinel))
#define _pure_ __attribute__((pure))
#define _public_ __attribute__((visibility("default")))
#define _likely_(x) (__builtin_expect(!!(x), 1))
#define _unlikely_(x) (__builtin_expect(!!(x), 0))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership of a pointer or fd over: returns the value, leaves NULL/-EBADF behind. */
#define TAKE_PTR(p) __extension__ ({ __typeof__(p) _ptr_ = (p); (p) = NULL; _ptr_; })
#define TAKE_FD(fd) __extension__ ({ int _fd_ = (fd); (fd) = -EBADF; _fd_; })

static inline void freep(void *p) {
        free(*(void **) p);
}

/* Closes and preserves errno, so a cleanup never clobbers the error a caller reads. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}

static inline void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}

static inline void strv_freep(char ***l) {
        strv_free(*l);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* For object types X with X *x_free(X *): defines xp() for use with _cleanup_(xp). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        *p = func(*p);                          \
        }

/* errno as a negative value, never 0: for code paths where a call said it failed. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline const char *strempty(const char *s) {
        return s ? s : "";
}

static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}
#define mfree_array(p) ((__typeof__(p)) mfree(p))

#include <string.h>
#define streq(a, b) (strcmp((a), (b)) == 0)
static inline int streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

/* The value of one hex digit, or -EINVAL. */
static inline int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}
