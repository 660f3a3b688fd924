/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for daemon/sandbox.c: in a forked child with the filter installed,
 * what the daemon does still works, what it never does fails with EPERM. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "build-config.h"
#include "macro.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#  define TEST_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define TEST_ASAN 1
#  endif
#endif
#ifndef TEST_ASAN
#  define TEST_ASAN 0
#endif
#if TEST_ASAN
#  include <sanitizer/lsan_interface.h>
#endif

#ifndef HAVE_SECCOMP
#  error "HAVE_SECCOMP is not defined: build-config.h was not included"
#endif

#if HAVE_SECCOMP

/* Inside the sandboxed child criterion's asserts cannot report (they talk to
 * the runner), so checks print and make the child exit non-zero. */
#define CHECK(cond) do {                                                        \
                if (!(cond)) {                                                  \
                        fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n", \
                                __FILE__, __LINE__, #cond, errno, strerror(errno)); \
                        return 1;                                               \
                }                                                               \
        } while (0)

#define CHECK_EPERM(call) do {                                                  \
                errno = 0;                                                      \
                long _r = (long) (call);                                        \
                if (_r != -1 || errno != EPERM) {                               \
                        fprintf(stderr, "%s:%d: %s returned %ld, errno %d (%s), expected EPERM\n", \
                                __FILE__, __LINE__, #call, _r, errno, strerror(errno)); \
                        return 1;                                               \
                }                                                               \
        } while (0)

static char tmpdir[] = "/tmp/vfb-sandbox-XXXXXX";

static void setup(void) {
        cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void) {
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        (void) system(cmd);
}

TestSuite(sandbox, .init = setup, .fini = teardown, .timeout = 60);

/* Forks; the child installs the filter, runs fn and exits with its result
 * (after an explicit leak check in ASan builds, which must work under the
 * filter too). Returns the wait status. */
static int run_sandboxed(int (*fn)(void *), void *userdata) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
                int r = sandbox_install();
                if (r < 0) {
                        fprintf(stderr, "sandbox_install: %s\n", strerror(-r));
                        _exit(100);
                }
                r = fn(userdata);
#if TEST_ASAN
                if (r == 0 && __lsan_do_recoverable_leak_check() != 0)
                        r = 101;
#endif
                fflush(NULL);
                _exit(r);
        }
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        return status;
}

static void assert_exited_zero(int status) {
        cr_assert(WIFEXITED(status), "the sandboxed child died of signal %d",
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        cr_assert_eq(WEXITSTATUS(status), 0, "the sandboxed child failed (exit %d), see its stderr",
                     WEXITSTATUS(status));
}

static int files_pipes_and_fds(void *userdata) {
        char path[128], buf[16] = { 0 };
        struct epoll_event ev = { .events = EPOLLIN }, out;
        struct itimerspec its = { .it_value.tv_nsec = 1000000 };
        uint64_t ticks, random_bytes;
        struct stat st;
        int fd, ep, tfd, efd, pidfd, memfd;

        /* A file, the way SQLite and sysfs writes use them. */
        snprintf(path, sizeof path, "%s/file", tmpdir);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        CHECK(fd >= 0);
        CHECK(write(fd, "hello", 5) == 5);
        CHECK(fsync(fd) == 0 && fdatasync(fd) == 0);
        CHECK(pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0);
        CHECK(pwrite(fd, "J", 1, 0) == 1);
        CHECK(lseek(fd, 0, SEEK_END) == 5);
        CHECK(ftruncate(fd, 2) == 0 && fstat(fd, &st) == 0 && st.st_size == 2);
        CHECK(fcntl(fd, F_SETLK, &(struct flock) { .l_type = F_WRLCK, .l_whence = SEEK_SET }) == 0);
        CHECK(stat(path, &st) == 0 && access(path, R_OK) == 0);
        CHECK(close(fd) == 0 && unlink(path) == 0);
        fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && read(fd, buf, sizeof buf - 1) > 0 && close(fd) == 0);

        /* What sd-event is made of. */
        ep = epoll_create1(EPOLL_CLOEXEC);
        CHECK(ep >= 0);
        tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        CHECK(tfd >= 0 && timerfd_settime(tfd, 0, &its, NULL) == 0);
        CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == 0);
        CHECK(epoll_wait(ep, &out, 1, 5000) == 1 && read(tfd, &ticks, sizeof ticks) == sizeof ticks);
        efd = eventfd(0, EFD_CLOEXEC);
        CHECK(efd >= 0 && eventfd_write(efd, 1) == 0);
        CHECK(close(efd) == 0 && close(tfd) == 0 && close(ep) == 0);

        /* Tokens and lease ids, holder tracking, journal memfds. */
        CHECK(getrandom(&random_bytes, sizeof random_bytes, 0) == sizeof random_bytes);
        pidfd = (int) syscall(SYS_pidfd_open, getppid(), 0);
        CHECK(pidfd >= 0 && close(pidfd) == 0);
        memfd = memfd_create("journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        CHECK(memfd >= 0 && close(memfd) == 0);

        /* malloc's big allocations go through mmap, realloc through mremap. */
        {
                _cleanup_free_ char *big = malloc(8 << 20);
                CHECK(big);
                memset(big, 1, 8 << 20);
        }
        return 0;
}

Test(sandbox, files_pipes_and_fds_still_work) {
        assert_exited_zero(run_sandboxed(files_pipes_and_fds, NULL));
}

static int unix_sockets_and_scm_rights(void *userdata) {
        char byte = 'x', control[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control };
        struct cmsghdr *cmsg;
        struct ucred cred;
        socklen_t len = sizeof cred;
        int pair[2], passed, received, s;

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
        CHECK(getsockopt(pair[0], SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == getpid());

        passed = open("/dev/null", O_RDONLY | O_CLOEXEC);
        CHECK(passed >= 0);
        cmsg = CMSG_FIRSTHDR(&mh);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &passed, sizeof(int));
        CHECK(sendmsg(pair[0], &mh, MSG_NOSIGNAL) == 1);

        memset(control, 0, sizeof control);
        mh.msg_controllen = sizeof control;
        CHECK(recvmsg(pair[1], &mh, MSG_CMSG_CLOEXEC) == 1);
        cmsg = CMSG_FIRSTHDR(&mh);
        CHECK(cmsg && cmsg->cmsg_type == SCM_RIGHTS);
        memcpy(&received, CMSG_DATA(cmsg), sizeof(int));
        CHECK(received >= 0 && received != passed);
        CHECK(close(received) == 0 && close(passed) == 0);
        CHECK(close(pair[0]) == 0 && close(pair[1]) == 0);

        /* A new AF_UNIX socket after start-up: reconnecting to the system bus. */
        s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        CHECK(s >= 0 && close(s) == 0);
        return 0;
}

Test(sandbox, unix_sockets_and_scm_rights_still_work) {
        assert_exited_zero(run_sandboxed(unix_sockets_and_scm_rights, NULL));
}

static int refused(void *userdata) {
        char *argv[] = { (char *) "/bin/true", NULL }, *envp[] = { NULL };
        int s;

        CHECK_EPERM(socket(AF_INET, SOCK_STREAM, 0));
        CHECK_EPERM(socket(AF_INET6, SOCK_DGRAM, 0));
        CHECK_EPERM(socket(AF_NETLINK, SOCK_RAW, 0));
        CHECK_EPERM(socket(AF_PACKET, SOCK_RAW, 0));
        CHECK_EPERM(execve("/bin/true", argv, envp));
        CHECK_EPERM(mount("none", "/nonexistent-vfbroker", "tmpfs", 0, NULL));
        CHECK_EPERM(setuid(getuid()));
        CHECK_EPERM(setgid(getgid()));
        CHECK_EPERM(syscall(SYS_kexec_load, 0, 0, NULL, 0));
        CHECK_EPERM(syscall(SYS_bpf, BPF_PROG_LOAD, NULL, 0));
        CHECK_EPERM(unshare(CLONE_NEWNS));
        CHECK_EPERM(chroot("/"));
        CHECK_EPERM(syscall(SYS_init_module, NULL, 0, ""));
        CHECK_EPERM(syscall(SYS_add_key, "user", "vfb", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */));
        CHECK_EPERM(syscall(SYS_fork));
        /* Listening sockets exist before the filter; none may appear later.
         * A bound one (sd-bus 257 binds its client sockets) listens for nobody. */
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(s >= 0);
        CHECK(bind(s, (struct sockaddr *) &(struct sockaddr_un) { .sun_family = AF_UNIX }, sizeof(sa_family_t)) == 0);
        CHECK_EPERM(listen(s, 1));
        CHECK(close(s) == 0);
        /* A thread made before the filter registers rseq as it starts: that
         * must not be EPERM (glibc aborts then). Bad arguments: EINVAL. */
        errno = 0;
        CHECK(syscall(SYS_rseq, NULL, 0, 0, 0) < 0 && errno != EPERM);
#if !TEST_ASAN
        /* ASan builds allow these for LeakSanitizer. prctl only reads our name. */
        CHECK_EPERM(prctl(PR_SET_NAME, "other", 0, 0, 0));
        CHECK_EPERM(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
        CHECK_EPERM(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
        CHECK_EPERM(kill(getppid(), 0));
        CHECK_EPERM(syscall(SYS_tgkill, getppid(), getppid(), 0));
        CHECK_EPERM(syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0));
        /* prlimit64 may read a limit but never set one. */
        CHECK_EPERM(prlimit(0, RLIMIT_NOFILE, &(struct rlimit) { 1024, 1024 }, NULL));
#endif
        {
                struct rlimit rl;
                CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0);
        }
        /* Signals to ourselves (abort(), raise()) still work. */
        CHECK(syscall(SYS_tgkill, getpid(), (pid_t) syscall(SYS_gettid), 0) == 0);
        return 0;
}

Test(sandbox, everything_else_fails_with_eperm) {
        int s;

        /* Controls: without the filter these do not fail with EPERM here. */
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(s, 0, "socket(AF_INET) fails even without the filter: %s", strerror(errno));
        close(s);
        errno = 0;
        cr_assert_lt(mount("none", "/nonexistent-vfbroker", "tmpfs", 0, NULL), 0);
        if (errno == EPERM)
                cr_log_warn("mount() fails with EPERM even without the filter (no CAP_SYS_ADMIN here): "
                            "its check below proves less");

        assert_exited_zero(run_sandboxed(refused, NULL));
}

/* sd-bus server method: replies with an fd, as AcquireVF does. */
static int method_get_fd(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_close_ int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return sd_bus_reply_method_return(m, "h", fd);
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("GetFd", "", "h", method_get_fd, 0),
        SD_BUS_VTABLE_END
};

typedef struct LoopState {
        int replies;
        int received_fd_ok;
        int timer_fired;
        int signal_seen;
} LoopState;

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        LoopState *s = userdata;
        int fd;

        s->replies++;
        if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_read(m, "h", &fd) > 0)
                s->received_fd_ok = fcntl(fd, F_GETFD) >= 0;
        return 0;
}

static int on_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        ((LoopState *) userdata)->timer_fired = 1;
        return 0;
}

static int on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata) {
        ((LoopState *) userdata)->signal_seen = 1;
        return 0;
}

typedef struct NotifySocket {
        char path[108];
        int fd;        /* bound before the filter, as systemd's socket is */
        char bus_path[108];     /* a listening socket playing the system bus */
} NotifySocket;

static int daemon_stack(void *userdata) {
        const NotifySocket *notify = userdata;
        _cleanup_close_ int memfd = -EBADF;
        sd_event *e = NULL;
        sd_bus *server = NULL, *client = NULL;
        sd_id128_t id;
        sigset_t mask;
        LoopState s = { 0 };
        sqlite3 *db = NULL;
        sqlite3_stmt *stmt = NULL;
        char db_path[160], *err = NULL, buf[256], control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = control, .msg_controllen = sizeof control };
        int pair[2], r;
        ssize_t n;

        /* sd-event: timer, signal. */
        CHECK(sd_event_new(&e) >= 0);
        CHECK(sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 1000, 0, on_timer, &s) >= 0);
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        CHECK(sigprocmask(SIG_BLOCK, &mask, NULL) == 0);
        CHECK(sd_event_add_signal(e, NULL, SIGUSR1, on_signal, &s) >= 0);
        CHECK(raise(SIGUSR1) == 0);

        /* sd-bus peer to peer with fd passing, as on /run/vfbroker/bus. */
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) == 0);
        CHECK(sd_id128_randomize(&id) >= 0);
        CHECK(sd_bus_new(&server) >= 0 && sd_bus_set_fd(server, pair[0], pair[0]) >= 0);
        CHECK(sd_bus_set_server(server, 1, id) >= 0 && sd_bus_negotiate_fds(server, 1) >= 0);
        CHECK(sd_bus_add_object_vtable(server, NULL, "/t", "org.vfbroker.Test", test_vtable, NULL) >= 0);
        CHECK(sd_bus_start(server) >= 0 && sd_bus_attach_event(server, e, 0) >= 0);
        CHECK(sd_bus_new(&client) >= 0 && sd_bus_set_fd(client, pair[1], pair[1]) >= 0);
        CHECK(sd_bus_negotiate_fds(client, 1) >= 0);
        CHECK(sd_bus_start(client) >= 0 && sd_bus_attach_event(client, e, 0) >= 0);
        CHECK(sd_bus_call_method_async(client, NULL, NULL, "/t", "org.vfbroker.Test", "GetFd",
                                       on_reply, &s, "") >= 0);

        for (int i = 0; i < 500 && !(s.replies && s.timer_fired && s.signal_seen); i++)
                CHECK(sd_event_run(e, 10 * 1000) >= 0);
        CHECK(s.replies == 1 && s.received_fd_ok && s.timer_fired && s.signal_seen);
        sd_bus_flush_close_unref(client);
        sd_bus_flush_close_unref(server);
        sd_event_unref(e);

        /* A bus by address, as polkit.c connects (and reconnects) to the
         * system bus after the filter is in: sd-bus 257 binds the client
         * socket first (an abstract name for the peer to see), and took
         * EPERM there for a failed connection. */
        {
                char address[140];

                snprintf(address, sizeof address, "unix:path=%s", notify->bus_path);
                CHECK(setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1) == 0);
                CHECK(sd_bus_open_system(&client) >= 0);
                client = sd_bus_close_unref(client);
        }

        /* SQLite the way the store uses it: WAL, a transaction, durability. */
        snprintf(db_path, sizeof db_path, "%s/state.db", tmpdir);
        CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK);
        r = sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "BEGIN; CREATE TABLE t(x TEXT); INSERT INTO t VALUES('lease'); COMMIT;"
                         "PRAGMA user_version=3; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, &err);
        if (r != SQLITE_OK)
                fprintf(stderr, "sqlite: %s\n", strna(err));
        CHECK(r == SQLITE_OK);
        sqlite3_free(err);
        CHECK(sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &stmt, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(stmt) == SQLITE_ROW);
        CHECK(strcmp((const char *) sqlite3_column_text(stmt, 0), "lease") == 0);
        sqlite3_finalize(stmt);
        CHECK(sqlite3_close(db) == SQLITE_OK);
        /* Rollback-journal mode creates and deletes a journal per transaction. */
        CHECK(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "PRAGMA journal_mode=DELETE; INSERT INTO t VALUES('again');",
                           NULL, NULL, NULL) == SQLITE_OK);
        CHECK(sqlite3_close(db) == SQLITE_OK);

        /* sd_notify into the fd store, as the PF fds go to systemd. */
        memfd = memfd_create("pf", MFD_CLOEXEC);
        CHECK(memfd >= 0);
        CHECK(setenv("NOTIFY_SOCKET", notify->path, 1) == 0);
        CHECK(sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=pf-0000:01:00.0", &memfd, 1) > 0);
        CHECK(sd_notify(0, "READY=1") > 0);

        /* Read them back, playing systemd. */
        n = recvmsg(notify->fd, &mh, MSG_CMSG_CLOEXEC);
        CHECK(n > 0);
        buf[n] = '\0';
        CHECK(strcmp(buf, "FDSTORE=1\nFDNAME=pf-0000:01:00.0") == 0);
        CHECK(CMSG_FIRSTHDR(&mh) && CMSG_FIRSTHDR(&mh)->cmsg_type == SCM_RIGHTS);
        n = recv(notify->fd, buf, sizeof buf - 1, 0);
        CHECK(n > 0);
        buf[n] = '\0';
        CHECK(strcmp(buf, "READY=1") == 0);
        return 0;
}

Test(sandbox, sd_event_sd_bus_sqlite_and_sd_notify_work) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        NotifySocket notify;

        snprintf(notify.path, sizeof notify.path, "%s/notify", tmpdir);
        memcpy(sa.sun_path, notify.path, sizeof notify.path);
        notify.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(notify.fd, 0);
        cr_assert_eq(bind(notify.fd, (struct sockaddr *) &sa, sizeof sa), 0);
        {
                struct sockaddr_un bsa = { .sun_family = AF_UNIX };
                int bus_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

                snprintf(notify.bus_path, sizeof notify.bus_path, "%s/bus", tmpdir);
                memcpy(bsa.sun_path, notify.bus_path, sizeof notify.bus_path);
                cr_assert_geq(bus_fd, 0);
                cr_assert_eq(bind(bus_fd, (struct sockaddr *) &bsa, sizeof bsa), 0);
                cr_assert_eq(listen(bus_fd, 4), 0);
                assert_exited_zero(run_sandboxed(daemon_stack, &notify));
                close(bus_fd);
        }
        close(notify.fd);
}

#if defined(__x86_64__)
static int ia32_getpid(void *userdata) {
        long r;

        /* int 0x80 enters the kernel through the i386 ABI. */
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L /* i386 getpid */) : "memory");
        return r == getpid() ? 0 : 2;
}

Test(sandbox, foreign_abi_kills) {
        int status;
        pid_t pid;

        /* Without the filter: does this kernel run i386 calls at all? */
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
                _exit(ia32_getpid(NULL));
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                cr_log_warn("this kernel has no ia32 emulation; nothing to check");
                return;
        }

        status = run_sandboxed(ia32_getpid, NULL);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
                  "an i386 system call under the filter must kill the process (status 0x%x)", status);
}
#endif

#else /* !HAVE_SECCOMP */

Test(sandbox, unsupported_without_libseccomp) {
        cr_assert_eq(sandbox_install(), -EOPNOTSUPP);
}

#endif

#if HAVE_SECCOMP
/* systemd's SystemCallFilter= may refuse seccomp() itself (vfbroker.service
 * allows it, other units or container runtimes may not). libseccomp then
 * falls back to API level 1; the allow-list must still go in. The outer
 * filter is raw BPF so that libseccomp first looks at the kernel under it,
 * as it does in the daemon. */
static int under_filter_refusing_seccomp(void *userdata) {
        struct sock_filter insns[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_seccomp, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(insns), .filter = insns };
        int r, fd;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
                return 10;
        r = sandbox_install();
        if (r < 0) {
                fprintf(stderr, "sandbox_install under an outer filter: %s\n", strerror(-r));
                return 11;
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 || errno != EPERM)
                return 12;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return 13;
        close(fd);
        return 0;
}

Test(sandbox, installs_under_a_filter_that_refuses_seccomp) {
        int status;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0)
                _exit(under_filter_refusing_seccomp(NULL));
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        assert_exited_zero(status);
}
#endif
