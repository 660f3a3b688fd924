/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Vfio unit tests. The build host's kernel has no VFIO, so these prove the
 * argument checks and the error paths (no node, a node that is not VFIO, fds
 * that are not VFIO devices) and that no fd leaks on any of them. The success
 * paths run against the real kernel in the QEMU suite (tests/vm). */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "macro.h"
#include "vfio.h"

#define VF "0000:00:10.0"
#define PF "0000:01:00.0"

static Fixture *fx;
static Vfio *vf;
static unsigned fds_before;

static const Token token = { {
        0x2a, 0xb7, 0x49, 0x24, 0xc3, 0x35, 0x45, 0xf4,
        0x9b, 0x16, 0x85, 0x69, 0xe5, 0xb0, 0x82, 0x58,
} };
static const Token null_token;

static void setup(void) {
        fx = fixture_new();
        fixture_mkdir(fx, "vfio");
        cr_assert_eq(vfio_new(fx->root, &vf), 0);
        fds_before = count_open_fds();
}

static void teardown(void) {
        vf = vfio_free(vf);
        fixture_free(fx);
        fx = NULL;
}

TestSuite(vfio, .init = setup, .fini = teardown);

static void assert_no_fd_leaked(void) {
        unsigned now = count_open_fds();

        cr_assert_eq(now, fds_before, "%u fds open before, %u after", fds_before, now);
}

/* Sentinels that no call may overwrite on failure. */
#define FDS_SENTINEL ((VfioVfFds) { 1001, 1002, 1003 })

static void assert_fds_untouched(const VfioVfFds *f) {
        cr_assert(f->container == 1001 && f->group == 1002 && f->device == 1003,
                  "output written on failure");
}

/* The container node as a symlink to /dev/null: a real character device that
 * opens fine and answers every ioctl with ENOTTY, like a non-VFIO node. */
static void container_is_dev_null(void) {
        fixture_symlink(fx, "/dev/null", "vfio/vfio");
}

Test(vfio, new_refuses_relative_or_missing_root) {
        Vfio *v = NULL;

        cr_assert_eq(vfio_new(NULL, &v), -EINVAL);
        cr_assert_eq(vfio_new("", &v), -EINVAL);
        cr_assert_eq(vfio_new("dev", &v), -EINVAL);
        cr_assert_null(v);
        cr_assert_eq(vfio_new("/", &v), 0);
        cr_assert_null(vfio_free(v));
        cr_assert_null(vfio_free(NULL));
}

Test(vfio, check_available_no_vfio_on_host_kernel) {
        cr_assert_eq(vfio_check_available(vf), -ENOENT);
        assert_no_fd_leaked();
}

Test(vfio, check_available_regular_file_is_not_vfio) {
        fixture_write(fx, "vfio/vfio", "");
        cr_assert_eq(vfio_check_available(vf), -ENODEV);
        assert_no_fd_leaked();
}

Test(vfio, check_available_char_device_without_vfio_ioctls) {
        container_is_dev_null();
        cr_assert_eq(vfio_check_available(vf), -ENODEV);
        assert_no_fd_leaked();
}

Test(vfio, check_available_directory) {
        fixture_mkdir(fx, "vfio/vfio");
        cr_assert_eq(vfio_check_available(vf), -EISDIR);
        assert_no_fd_leaked();
}

Test(vfio, open_vf_no_vfio_on_host_kernel) {
        VfioVfFds f = FDS_SENTINEL;

        cr_assert_eq(vfio_open_vf(vf, 20, VF, &token, &f), -ENOENT);
        cr_assert_eq(vfio_open_vf(vf, 20, VF, NULL, &f), -ENOENT);
        assert_fds_untouched(&f);
        assert_no_fd_leaked();
}

Test(vfio, open_vf_container_not_vfio) {
        VfioVfFds f = FDS_SENTINEL;

        fixture_write(fx, "vfio/vfio", "");
        fixture_write(fx, "vfio/20", "");
        cr_assert_eq(vfio_open_vf(vf, 20, VF, &token, &f), -ENODEV);
        container_is_dev_null();
        cr_assert_eq(vfio_open_vf(vf, 20, VF, &token, &f), -ENODEV);
        assert_fds_untouched(&f);
        assert_no_fd_leaked();
}

Test(vfio, open_vf_refuses_bad_arguments_before_opening_anything) {
        static const char * const bad[] = {
                "", "../vfio", "0000:00:10.0 vf_token=x", "0000:00:10.0\n", "0000:00:20.0", "vfio",
        };
        VfioVfFds f = FDS_SENTINEL;

        /* No /dev/vfio/vfio at all: -EINVAL, not -ENOENT, proves the check comes first. */
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(vfio_open_vf(vf, 20, bad[i], &token, &f), -EINVAL, "\"%s\" accepted", bad[i]);
        cr_assert_eq(vfio_open_vf(vf, 20, NULL, &token, &f), -EINVAL);
        cr_assert_eq(vfio_open_vf(vf, 20, VF, &null_token, &f), -EINVAL, "null token");
        cr_assert_eq(vfio_open_vf(vf, 20, VF, &token, NULL), -EINVAL);
        cr_assert_eq(vfio_open_vf(NULL, 20, VF, &token, &f), -EINVAL);
        assert_fds_untouched(&f);
        assert_no_fd_leaked();
}

Test(vfio, open_pf_no_vfio_on_host_kernel) {
        int fd = 1234;

        cr_assert_eq(vfio_open_pf_with_token(vf, 12, PF, &token, &fd), -ENOENT);
        cr_assert_eq(vfio_open_pf_with_token(vf, 12, PF, &token, &fd), -ENOENT);
        container_is_dev_null();
        cr_assert_eq(vfio_open_pf_with_token(vf, 12, PF, &token, &fd), -ENODEV);
        cr_assert_eq(fd, 1234, "output written on failure");
        assert_no_fd_leaked();
}

Test(vfio, open_pf_refuses_bad_arguments) {
        int fd = 1234;

        cr_assert_eq(vfio_open_pf_with_token(vf, 12, "../../dev/sda", &token, &fd), -EINVAL);
        cr_assert_eq(vfio_open_pf_with_token(vf, 12, NULL, &token, &fd), -EINVAL);
        cr_assert_eq(vfio_open_pf_with_token(vf, 12, PF, &token, NULL), -EINVAL);
        cr_assert_eq(vfio_open_pf_with_token(vf, 12, PF, &null_token, &fd), -EINVAL);
        cr_assert_eq(fd, 1234);
        assert_no_fd_leaked();
}

Test(vfio, group_node_missing) {
        VfioVfFds f = FDS_SENTINEL;

        /* The container is fine as far as open goes; the group is what is missing,
         * and the container opened first must be closed again. */
        container_is_dev_null();
        cr_assert_eq(vfio_group_is_free(vf, 20), -ENOENT);
        cr_assert_eq(vfio_open_vf(vf, 20, VF, &token, &f), -ENODEV, "container checked first");
        assert_fds_untouched(&f);
        assert_no_fd_leaked();
}

Test(vfio, group_is_free_opens_and_closes) {
        /* An openable group node is a free group: the probe is exactly "can it be opened". */
        fixture_symlink(fx, "/dev/null", "vfio/21");
        cr_assert_eq(vfio_group_is_free(vf, 21), 1);
        assert_no_fd_leaked();
        cr_assert_eq(vfio_group_is_free(vf, 22), -ENOENT);
        cr_assert_eq(vfio_group_is_free(NULL, 21), -EINVAL);
}

Test(vfio, group_path_too_long) {
        char root[PATH_MAX];
        Vfio *v = NULL;
        VfioVfFds f = FDS_SENTINEL;

        /* A dev root of PATH_MAX-1 characters leaves no room for "/vfio/<N>". */
        root[0] = '/';
        memset(root + 1, 'a', sizeof root - 2);
        root[sizeof root - 1] = '\0';
        cr_assert_eq(vfio_new(root, &v), 0);
        cr_assert_eq(vfio_group_is_free(v, 4294967295u), -ENAMETOOLONG);
        cr_assert_eq(vfio_open_vf(v, 1, VF, &token, &f), -ENAMETOOLONG);
        cr_assert_eq(vfio_check_available(v), -ENAMETOOLONG);
        assert_fds_untouched(&f);
        vfio_free(v);
}

Test(vfio, set_vf_token_on_non_vfio_fds) {
        _cleanup_free_ char *p = fixture_path(fx, "not-a-device");
        _cleanup_close_ int file = -EBADF, null = -EBADF;

        fixture_write(fx, "not-a-device", "");
        file = open(p, O_RDWR | O_CLOEXEC);
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        cr_assert_geq(file, 0);
        cr_assert_geq(null, 0);

        cr_assert_eq(vfio_set_vf_token(file, &token), -ENOTTY);
        cr_assert_eq(vfio_set_vf_token(null, &token), -ENOTTY);
        cr_assert_eq(vfio_set_vf_token(-1, &token), -EBADF);
        cr_assert_eq(vfio_set_vf_token(null, &null_token), -EINVAL, "null token");
        cr_assert_eq(vfio_set_vf_token(null, NULL), -EINVAL);
}

Test(vfio, device_info_on_non_vfio_fds) {
        _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        unsigned flags = 77;

        cr_assert_geq(null, 0);
        cr_assert_eq(vfio_device_get_info(null, &flags), -ENOTTY);
        cr_assert_eq(vfio_device_get_info(-1, &flags), -EBADF);
        cr_assert_eq(flags, 77, "output written on failure");
        cr_assert_eq(vfio_device_is_pci(null), -ENOTTY);
        cr_assert_eq(vfio_device_is_pci(-1), -EBADF);
}

Test(vfio, vf_fds_close) {
        VfioVfFds f = VFIO_VF_FDS_NULL;
        int p[2];

        vfio_vf_fds_close(&f);
        cr_assert(f.container == -EBADF && f.group == -EBADF && f.device == -EBADF);
        vfio_vf_fds_close(NULL);

        cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
        f.container = p[0];
        f.device = p[1];
        vfio_vf_fds_close(&f);
        cr_assert(f.container == -EBADF && f.group == -EBADF && f.device == -EBADF);
        cr_assert_eq(fcntl(p[0], F_GETFD), -1, "container fd still open");
        cr_assert_eq(fcntl(p[1], F_GETFD), -1, "device fd still open");
        assert_no_fd_leaked();
}
