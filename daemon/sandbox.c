/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sandbox: the libseccomp allow-list vfbrokerd installs once its sockets are
 * bound, its PFs opened and its store open. One table, one comment per group. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "build-config.h"
#include "log.h"
#include "sandbox.h"

#ifndef HAVE_SECCOMP
#  error "HAVE_SECCOMP is not defined: build-config.h was not included"
#endif

#if HAVE_SECCOMP
#include <seccomp.h>

/* Built with AddressSanitizer (gcc defines __SANITIZE_ADDRESS__, clang has
 * __has_feature): its runtime needs more at run time and at exit. */
#if defined(__SANITIZE_ADDRESS__)
#  define SANDBOX_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#    define SANDBOX_ASAN 1
#  endif
#endif
#ifndef SANDBOX_ASAN
#  define SANDBOX_ASAN 0
#endif

/* How a syscall is allowed: unconditionally, or only with its first
 * argument equal to a value known when the filter is built. */
typedef enum SandboxArg {
        ARG_ANY,
        ARG0_AF_UNIX,      /* socket(), socketpair(): domain must be AF_UNIX */
        ARG0_SELF,         /* tgkill(): only to our own thread group */
        ARG2_NULL,         /* prlimit64(): read the limit, never set it */
        ARG0_PR_GET_NAME,  /* prctl(): read our own name, nothing else */
} SandboxArg;

typedef struct SandboxRule {
        const char *name;  /* by name, so names this arch lacks are skipped */
        SandboxArg arg;
} SandboxRule;

static const SandboxRule sandbox_rules[] = {
        /* Process life: returning from signal handlers, restarting
         * interrupted calls, exiting. */
        { "rt_sigreturn", ARG_ANY },
        { "restart_syscall", ARG_ANY },
        { "exit", ARG_ANY },
        { "exit_group", ARG_ANY },
        /* abort() on an assertion raises SIGABRT to ourselves; let it, so
         * a crash leaves a core dump instead of an EPERM that hides it. */
        { "tgkill", ARG0_SELF },
        { "rt_sigprocmask", ARG_ANY },
        { "rt_sigaction", ARG_ANY },
        { "sigaltstack", ARG_ANY },

        /* Memory: malloc (brk, mmap arenas, mprotect to grow them, madvise
         * to give memory back), SQLite's mmap of the database and WAL index. */
        { "brk", ARG_ANY },
        { "mmap", ARG_ANY },
        { "mmap2", ARG_ANY },
        { "munmap", ARG_ANY },
        { "mremap", ARG_ANY },
        { "mprotect", ARG_ANY },
        { "madvise", ARG_ANY },
        /* sd-journal hands large log records over in a sealed memfd. */
        { "memfd_create", ARG_ANY },

        /* Threads and locks: glibc's stdio and malloc locks. A thread made
         * before the filter registers its rseq area and robust futex list
         * as it starts (glibc 2.35+ aborts when rseq fails); worker_new()
         * waits for that, and these stay allowed should a thread ever start
         * late. No new threads: clone stays refused. */
        { "futex", ARG_ANY },
        { "rseq", ARG_ANY },
        { "set_robust_list", ARG_ANY },
        { "sched_yield", ARG_ANY },

        /* Identity, read only: peer checks, sd_listen_fds/sd_notify compare
         * pids, SQLite asks whether it runs as root before fchown. */
        { "getpid", ARG_ANY },
        { "getppid", ARG_ANY },
        { "gettid", ARG_ANY },
        { "getuid", ARG_ANY },
        { "geteuid", ARG_ANY },
        { "getgid", ARG_ANY },
        { "getegid", ARG_ANY },
        { "getresuid", ARG_ANY },
        { "getresgid", ARG_ANY },
        { "getgroups", ARG_ANY },
        { "getrlimit", ARG_ANY },
        /* sd-bus 257 names that abstract socket after our comm. */
        { "prctl", ARG0_PR_GET_NAME },
        { "prlimit64", ARG2_NULL },

        /* Time: sd-event timers and timestamps (usually the vDSO, but not
         * always), SQLite's busy handler sleeps. */
        { "clock_gettime", ARG_ANY },
        { "clock_getres", ARG_ANY },
        { "gettimeofday", ARG_ANY },
        { "time", ARG_ANY },
        { "nanosleep", ARG_ANY },
        { "clock_nanosleep", ARG_ANY },

        /* Randomness: lease ids and tenant tokens (libuuid, sd-id128). */
        { "getrandom", ARG_ANY },

        /* The event loop: sd-event's epoll, its timerfds, signalfd for
         * SIGTERM/SIGINT, eventfd and inotify it may set up, ppoll for
         * sd-bus's synchronous waits. */
        { "epoll_create", ARG_ANY },
        { "epoll_create1", ARG_ANY },
        { "epoll_ctl", ARG_ANY },
        { "epoll_wait", ARG_ANY },
        { "epoll_pwait", ARG_ANY },
        { "epoll_pwait2", ARG_ANY },
        { "timerfd_create", ARG_ANY },
        { "timerfd_settime", ARG_ANY },
        { "timerfd_gettime", ARG_ANY },
        { "signalfd4", ARG_ANY },
        { "eventfd2", ARG_ANY },
        { "inotify_init1", ARG_ANY },
        { "inotify_add_watch", ARG_ANY },
        { "inotify_rm_watch", ARG_ANY },
        { "poll", ARG_ANY },
        { "ppoll", ARG_ANY },

        /* Clients: pidfds follow lease holders; an exiting holder shows up
         * as a readable pidfd in the event loop. */
        { "pidfd_open", ARG_ANY },

        /* File descriptors. */
        { "close", ARG_ANY },
        { "close_range", ARG_ANY },
        { "dup", ARG_ANY },
        { "dup2", ARG_ANY },
        { "dup3", ARG_ANY },
        { "fcntl", ARG_ANY },
        { "fcntl64", ARG_ANY },
        /* ioctl without an argument filter: VFIO is all ioctls on group,
         * container and device fds (GET_DEVICE_FD, SET_CONTAINER,
         * SET_IOMMU, DEVICE_FEATURE for the VF token, GET_INFO, RESET), and
         * their request numbers are too many to list and grow with the
         * kernel. What fds we hold is what limits them. */
        { "ioctl", ARG_ANY },

        /* Files: /dev/vfio; sysfs (sriov_numvfs, driver_override, bind;
         * listing and resolving virtfnN, driver and iommu_group links after
         * SetNumVFs); /proc/PID/stat for polkit's start time; SQLite
         * (journal and WAL creation and deletion, locks with fcntl, fsync
         * for durability, fchmod of its new files, getcwd and readlink to
         * resolve the database path). Not fchown: SQLite tries it on a new
         * journal when run as root and ignores its failure, and systemd's
         * ~@privileged refuses it too. */
        { "openat", ARG_ANY },
        { "open", ARG_ANY },
        { "read", ARG_ANY },
        { "readv", ARG_ANY },
        { "pread64", ARG_ANY },
        { "write", ARG_ANY },
        { "writev", ARG_ANY },
        { "pwrite64", ARG_ANY },
        { "lseek", ARG_ANY },
        { "_llseek", ARG_ANY },
        { "fstat", ARG_ANY },
        { "fstat64", ARG_ANY },
        { "stat", ARG_ANY },
        { "stat64", ARG_ANY },
        { "lstat", ARG_ANY },
        { "lstat64", ARG_ANY },
        { "newfstatat", ARG_ANY },
        { "fstatat64", ARG_ANY },
        { "statx", ARG_ANY },
        { "access", ARG_ANY },
        { "faccessat", ARG_ANY },
        { "faccessat2", ARG_ANY },
        { "readlink", ARG_ANY },
        { "readlinkat", ARG_ANY },
        { "getcwd", ARG_ANY },
        { "getdents64", ARG_ANY },
        { "fsync", ARG_ANY },
        { "fdatasync", ARG_ANY },
        { "ftruncate", ARG_ANY },
        { "ftruncate64", ARG_ANY },
        { "fallocate", ARG_ANY },
        { "unlink", ARG_ANY },
        { "unlinkat", ARG_ANY },
        { "fchmod", ARG_ANY },

        /* Sockets, UNIX only: the broker socket (accept4, peer credentials
         * and pidfd via getsockopt), fds out with SCM_RIGHTS (sendmsg),
         * sd_notify and the fd store, the journal, and the system bus to
         * polkit, which we may reconnect to after start-up. No listen: every
         * listening socket exists before the filter does. bind only because
         * sd-bus from libsystemd 257 (Debian 13) binds each client socket to
         * an abstract name that tells the peer who connects, and fails the
         * connection when it cannot: polkit was unreachable. Without listen
         * a bound AF_UNIX socket accepts nobody. */
        { "socket", ARG0_AF_UNIX },
        { "bind", ARG_ANY },
        { "socketpair", ARG0_AF_UNIX },
        { "connect", ARG_ANY },
        { "accept4", ARG_ANY },
        { "sendmsg", ARG_ANY },
        { "recvmsg", ARG_ANY },
        { "sendto", ARG_ANY },
        { "recvfrom", ARG_ANY },
        { "getsockopt", ARG_ANY },
        { "setsockopt", ARG_ANY },
        { "getsockname", ARG_ANY },
        { "getpeername", ARG_ANY },
        { "shutdown", ARG_ANY },
};

#if SANDBOX_ASAN
/* Only in ASan builds (tests, CI): LeakSanitizer's exit-time check runs a
 * tracer task (clone) that stops our threads with ptrace, waits for it,
 * lists /proc/self/task, and sets PR_SET_PTRACER/PR_SET_PDEATHSIG; the
 * report itself reads /proc/self/maps. Without these, every ASan build of
 * the daemon would end in "LeakSanitizer has encountered a fatal error". */
static const SandboxRule sandbox_rules_asan[] = {
        { "clone", ARG_ANY },
        { "clone3", ARG_ANY },
        { "ptrace", ARG_ANY },
        { "wait4", ARG_ANY },
        { "waitid", ARG_ANY },
        { "prctl", ARG_ANY },
        { "sched_getaffinity", ARG_ANY },
        { "getdents", ARG_ANY },
        { "kill", ARG_ANY },
        { "tkill", ARG_ANY },
        { "tgkill", ARG_ANY },
        { "pipe2", ARG_ANY },
        { "set_robust_list", ARG_ANY },
        { "rseq", ARG_ANY },
        { "uname", ARG_ANY },
};
#endif

typedef struct SandboxFilter {
        scmp_filter_ctx ctx;
} SandboxFilter;

static void sandbox_filter_done(SandboxFilter *f) {
        if (f->ctx)
                seccomp_release(f->ctx);
}

static int add_rules(scmp_filter_ctx ctx, const SandboxRule *rules, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const SandboxRule *rule = rules + i;
                int nr, r;

                nr = seccomp_syscall_resolve_name(rule->name);
                if (nr == __NR_SCMP_ERROR) {
                        /* Names of other architectures (mmap2, fstat64, ...)
                         * and calls newer than this libseccomp. */
                        log_debug("Sandbox: no system call %s here, skipping.", rule->name);
                        continue;
                }

                switch (rule->arg) {
                case ARG_ANY:
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
                        break;
                case ARG0_AF_UNIX:
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                             SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
                        break;
                case ARG0_SELF:
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                             SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t) getpid()));
                        break;
                case ARG2_NULL:
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                             SCMP_A2(SCMP_CMP_EQ, 0));
                        break;
                case ARG0_PR_GET_NAME:
                        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                                             SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
                        break;
                default:
                        r = -EINVAL;
                }
                /* -EEXIST: the ASan list repeats a call the main list has
                 * with a narrower filter; the wider rule wins, as intended. */
                if (r < 0 && r != -EEXIST)
                        return log_error_errno(r, "Sandbox: failed to allow %s: %s", rule->name, strerror(-r));
        }
        return 0;
}

int sandbox_install(void) {
        _cleanup_(sandbox_filter_done) SandboxFilter f = { NULL };
        int r;

        /* Anything not listed fails with EPERM rather than killing us: a
         * syscall we forgot then shows up as a clear "Operation not
         * permitted" in the log, on a daemon that keeps serving, instead of
         * a dead broker holding every PF. systemd's SystemCallFilter= in
         * vfbroker.service is the outer layer, active from exec on. */
        f.ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
        if (!f.ctx)
                return log_error_errno(-ENOMEM, "Sandbox: failed to create the seccomp filter: %s", strerror(ENOMEM));

        /* What libseccomp can use depends on whether the seccomp() syscall
         * itself is allowed: an outer filter that refuses it (systemd's
         * SystemCallFilter= without it) leaves API level 1, where only
         * prctl(PR_SET_SECCOMP) loads filters and SCMP_ACT_KILL_PROCESS and
         * TSYNC are unknown. vfbroker.service allows seccomp(); this copes
         * when another unit or a container runtime does not. */
        unsigned api = seccomp_api_get();

        /* seccomp_init() adds only the native architecture; a call made
         * through another ABI (x32, ia32 on x86-64) is an attack, not a bug.
         * Killing the thread is all API level 1 and 2 offer; this daemon has one. */
        r = seccomp_attr_set(f.ctx, SCMP_FLTATR_ACT_BADARCH, api >= 3 ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_KILL);
        if (r < 0)
                return log_error_errno(r, "Sandbox: failed to set the bad-architecture action: %s", strerror(-r));
        /* NO_NEW_PRIVS is libseccomp's default; state it, since installing a
         * filter without CAP_SYS_ADMIN depends on it. */
        r = seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_NNP, 1);
        if (r < 0)
                return log_error_errno(r, "Sandbox: failed to set no_new_privs: %s", strerror(-r));
        /* Every thread, should a library have started one (needs seccomp()). */
        if (api >= 2) {
                r = seccomp_attr_set(f.ctx, SCMP_FLTATR_CTL_TSYNC, 1);
                if (r < 0)
                        return log_error_errno(r, "Sandbox: failed to request thread sync: %s", strerror(-r));
        } else
                log_debug("Sandbox: the seccomp() syscall is refused here (libseccomp API level %u); "
                          "loading through prctl(), without thread sync.", api);

        r = add_rules(f.ctx, sandbox_rules, ELEMENTSOF(sandbox_rules));
        if (r < 0)
                return r;
#if SANDBOX_ASAN
        r = add_rules(f.ctx, sandbox_rules_asan, ELEMENTSOF(sandbox_rules_asan));
        if (r < 0)
                return r;
#endif

        r = seccomp_load(f.ctx);
        if (r < 0)
                return log_error_errno(r, "Sandbox: failed to load the seccomp filter: %s", strerror(-r));

        log_debug("Sandbox: seccomp allow-list installed.");
        return 0;
}

#else /* !HAVE_SECCOMP */

int sandbox_install(void) {
        return -EOPNOTSUPP;
}

#endif
