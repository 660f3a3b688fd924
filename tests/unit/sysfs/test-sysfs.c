/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sysfs unit tests: reads, strict parsing, writes and their order, and path
 * safety, against a fixture tree laid out like the kernel's. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "macro.h"
#include "sysfs.h"

#define PF_A "0000:01:00.0" /* igb-bound PF, VFs off, interface eth0 */
#define PF_B "0000:00:03.0" /* vfio-pci PF with two VFs */
#define VF_B0 "0000:00:10.0"
#define VF_B1 "0000:00:10.2"
#define NON_PF "0000:00:1f.0" /* same ids as the PFs, but no SR-IOV */
#define PF_C "0000:02:00.0" /* other ids */

static Fixture *fx;
static Sysfs *sy;

static void setup(void) {
        fx = fixture_new();

        fixture_add_pf(fx, PF_A, 0x8086, 0x10c9, 7, 0);
        fixture_set_driver(fx, PF_A, "igb");
        fixture_set_iommu_group(fx, PF_A, 12);
        fixture_add_net(fx, PF_A, "eth0");

        fixture_add_pf(fx, PF_B, 0x8086, 0x10c9, 7, 2);
        fixture_set_driver(fx, PF_B, "vfio-pci");
        fixture_set_iommu_group(fx, PF_B, 3);
        fixture_write(fx, "sys/bus/pci/devices/" PF_B "/numa_node", "1\n");
        fixture_add_vf(fx, PF_B, 0, VF_B0, 0x8086, 0x10ca);
        fixture_add_vf(fx, PF_B, 1, VF_B1, 0x8086, 0x10ca);
        fixture_set_driver(fx, VF_B0, "vfio-pci");
        fixture_set_driver(fx, VF_B1, "vfio-pci");
        fixture_set_iommu_group(fx, VF_B0, 20);
        fixture_set_iommu_group(fx, VF_B1, 21);

        fixture_add_pci(fx, NON_PF, 0x8086, 0x10c9);
        fixture_add_net(fx, NON_PF, "eth9");
        fixture_add_pf(fx, PF_C, 0x1af4, 0x1041, 4, 0);

        /* Entries a real /sys/bus/pci/devices never has; they must be skipped. */
        fixture_mkdir(fx, "sys/bus/pci/devices/not-a-device");
        fixture_mkdir(fx, "sys/bus/pci/devices/0000:01:00.0x");

        cr_assert_eq(sysfs_new(fx->root, &sy), 0);
}

static void teardown(void) {
        write_log_stop();
        write_log_clear();
        sy = sysfs_free(sy);
        fixture_free(fx);
        fx = NULL;
}

TestSuite(sysfs, .init = setup, .fini = teardown);

static void assert_file(const char *rel, const char *want) {
        _cleanup_free_ char *got = fixture_read(fx, rel);

        cr_assert_not_null(got, "%s missing", rel);
        cr_assert_str_eq(got, want, "%s: got \"%s\", want \"%s\"", rel, got, want);
}

static void assert_writes(const char * const *want, size_t n) {
        cr_assert_eq(write_log_count(), n, "expected %zu writes, saw %zu (first: %s)",
                     n, write_log_count(), strna(write_log_get(0)));
        for (size_t i = 0; i < n; i++)
                cr_assert_str_eq(write_log_get(i), want[i], "write %zu: got \"%s\", want \"%s\"",
                                 i, write_log_get(i), want[i]);
}

/* ---- construction ---- */

Test(sysfs, new_refuses_relative_or_missing_root) {
        Sysfs *s = NULL;

        cr_assert_eq(sysfs_new(NULL, &s), -EINVAL);
        cr_assert_eq(sysfs_new("", &s), -EINVAL);
        cr_assert_eq(sysfs_new("relative/root", &s), -EINVAL);
        cr_assert_null(s);
}

Test(sysfs, new_root_slash_and_trailing_slashes) {
        Sysfs *s = NULL;
        _cleanup_free_ char *slashed = NULL;

        cr_assert_eq(sysfs_new("/", &s), 0);
        cr_assert_str_eq(sysfs_root(s), "/");
        s = sysfs_free(s);

        cr_assert(asprintf(&slashed, "%s//", fx->root) >= 0);
        cr_assert_eq(sysfs_new(slashed, &s), 0);
        cr_assert_str_eq(sysfs_root(s), fx->root);
        cr_assert(sysfs_device_exists(s, PF_A));
        cr_assert_null(sysfs_free(s));
        cr_assert_null(sysfs_free(NULL));
}

/* ---- ids and lookup ---- */

Test(sysfs, device_exists) {
        cr_assert(sysfs_device_exists(sy, PF_A));
        cr_assert(sysfs_device_exists(sy, "01:00.0"), "short form is canonicalized");
        cr_assert(sysfs_device_exists(sy, "0000:00:1F.0"), "upper case is canonicalized");
        cr_assert_not(sysfs_device_exists(sy, "0000:05:00.0"));
        cr_assert_not(sysfs_device_exists(sy, "not-a-device"));
}

Test(sysfs, read_ids) {
        uint16_t v = 0, d = 0;

        cr_assert_eq(sysfs_read_ids(sy, PF_A, &v, &d), 0);
        cr_assert_eq(v, 0x8086);
        cr_assert_eq(d, 0x10c9);
        cr_assert_eq(sysfs_read_ids(sy, VF_B1, &v, &d), 0);
        cr_assert_eq(d, 0x10ca);
        cr_assert_eq(sysfs_read_ids(sy, PF_C, NULL, &d), 0);
        cr_assert_eq(d, 0x1041);
        cr_assert_eq(sysfs_read_ids(sy, "0000:05:00.0", &v, &d), -ENOENT);
}

Test(sysfs, read_ids_refuses_malformed_content) {
        static const char * const bad[] = {
                "8086\n", "0x808\n", "0x80861\n", " 0x8086\n", "0x80g6\n", "0X8086\n",
                "0x8086\n\n", "", "\n", "-0x8086\n",
        };
        uint16_t v = 0x1234, d = 0x5678;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                fixture_write(fx, "sys/bus/pci/devices/" PF_A "/vendor", bad[i]);
                cr_assert_eq(sysfs_read_ids(sy, PF_A, &v, &d), -EBADMSG, "vendor \"%s\" accepted", bad[i]);
                cr_assert_eq(v, 0x1234, "output written on failure");
                cr_assert_eq(d, 0x5678, "output written on failure");
        }
        /* No trailing newline is fine: the kernel always writes one, but the
         * value is what counts. */
        fixture_write(fx, "sys/bus/pci/devices/" PF_A "/vendor", "0x8086");
        cr_assert_eq(sysfs_read_ids(sy, PF_A, &v, &d), 0);
}

Test(sysfs, oversize_attribute_is_refused) {
        char big[5000];
        uint16_t v;
        unsigned n;

        memset(big, '1', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        fixture_write(fx, "sys/bus/pci/devices/" PF_A "/vendor", big);
        cr_assert_eq(sysfs_read_ids(sy, PF_A, &v, NULL), -EFBIG);
        fixture_write(fx, "sys/bus/pci/devices/" PF_A "/sriov_numvfs", big);
        cr_assert_eq(sysfs_get_num_vfs(sy, PF_A, &n), -EFBIG);
        /* 64 bytes is one too many for the 64-byte buffer with its NUL. */
        big[64] = '\0';
        fixture_write(fx, "sys/bus/pci/devices/" PF_A "/sriov_totalvfs", big);
        cr_assert_eq(sysfs_get_total_vfs(sy, PF_A, &n), -EFBIG);
}

Test(sysfs, attribute_with_embedded_nul_is_refused) {
        _cleanup_free_ char *p = fixture_path(fx, "sys/bus/pci/devices/" PF_A "/sriov_numvfs");
        FILE *f = fopen(p, "we");
        unsigned n;

        cr_assert_not_null(f);
        cr_assert_eq(fwrite("2\0" "3\n", 1, 4, f), 4);
        cr_assert_eq(fclose(f), 0);
        cr_assert_eq(sysfs_get_num_vfs(sy, PF_A, &n), -EBADMSG);
}

Test(sysfs, find_pfs_by_ids_sorted_only_pfs) {
        _cleanup_strv_free_ char **l = NULL;

        cr_assert_eq(sysfs_find_pfs_by_ids(sy, 0x8086, 0x10c9, &l), 0);
        cr_assert_not_null(l);
        cr_assert_str_eq(l[0], PF_B, "sorted: 0000:00:03.0 first");
        cr_assert_str_eq(l[1], PF_A);
        cr_assert_null(l[2], "the function without sriov_totalvfs is not a PF");
}

Test(sysfs, find_pfs_by_ids_vf_ids_and_none) {
        _cleanup_strv_free_ char **vfs = NULL, **none = NULL, **c = NULL;

        /* VFs never have sriov_totalvfs: looking their ids up finds no PF. */
        cr_assert_eq(sysfs_find_pfs_by_ids(sy, 0x8086, 0x10ca, &vfs), 0);
        cr_assert_null(vfs[0]);
        cr_assert_eq(sysfs_find_pfs_by_ids(sy, 0x15b3, 0x1017, &none), 0);
        cr_assert_not_null(none, "no match is an empty list, not NULL");
        cr_assert_null(none[0]);
        cr_assert_eq(sysfs_find_pfs_by_ids(sy, 0x1af4, 0x1041, &c), 0);
        cr_assert_str_eq(c[0], PF_C);
        cr_assert_null(c[1]);
}

Test(sysfs, find_pfs_by_ids_no_devices_dir) {
        Sysfs *s = NULL;
        char **l = NULL;

        cr_assert_eq(sysfs_new("/nonexistent-vfbroker-root", &s), 0);
        cr_assert_eq(sysfs_find_pfs_by_ids(s, 0x8086, 0x10c9, &l), -ENOENT);
        cr_assert_null(l);
        sysfs_free(s);
}

Test(sysfs, find_by_interface) {
        char bdf[PCI_ADDRESS_MAX] = "unchanged";

        cr_assert_eq(sysfs_find_by_interface(sy, "eth0", bdf), 0);
        cr_assert_str_eq(bdf, PF_A);
        cr_assert_eq(sysfs_find_by_interface(sy, "eth9", bdf), 0);
        cr_assert_str_eq(bdf, NON_PF);
}

Test(sysfs, find_by_interface_missing_is_enodev) {
        char bdf[PCI_ADDRESS_MAX] = "unchanged";

        cr_assert_eq(sysfs_find_by_interface(sy, "eth1", bdf), -ENODEV);
        cr_assert_str_eq(bdf, "unchanged");
}

Test(sysfs, find_by_interface_invalid_name_is_einval) {
        static const char * const bad[] = {
                "", ".", "..", "../eth0", "net/eth0", "eth 0", "eth0:1", "abcdefghijklmnop",
        };
        char bdf[PCI_ADDRESS_MAX] = "unchanged";

        cr_assert_eq(sysfs_find_by_interface(sy, NULL, bdf), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(sysfs_find_by_interface(sy, bad[i], bdf), -EINVAL, "\"%s\" accepted", bad[i]);
        cr_assert_str_eq(bdf, "unchanged");
}

Test(sysfs, find_by_interface_lowest_address_wins) {
        char bdf[PCI_ADDRESS_MAX];

        fixture_add_net(fx, PF_B, "eth0");
        cr_assert_eq(sysfs_find_by_interface(sy, "eth0", bdf), 0);
        cr_assert_str_eq(bdf, PF_B);
}

/* ---- driver, counts, group, node ---- */

Test(sysfs, driver_present_and_absent) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *none = NULL;

        cr_assert_eq(sysfs_get_driver(sy, PF_A, &a), 0);
        cr_assert_str_eq(a, "igb");
        cr_assert_eq(sysfs_get_driver(sy, VF_B0, &b), 0);
        cr_assert_str_eq(b, "vfio-pci");
        cr_assert_eq(sysfs_get_driver(sy, PF_C, &none), -ENOENT);
        cr_assert_null(none);
        cr_assert_eq(sysfs_get_driver(sy, "0000:05:00.0", &none), -ENOENT);
}

Test(sysfs, driver_link_not_into_drivers_is_ebadmsg) {
        char *d = NULL;

        fixture_symlink(fx, "../../../bus/pci/igb", "sys/devices/pci0000:00/" PF_C "/driver");
        cr_assert_eq(sysfs_get_driver(sy, PF_C, &d), -EBADMSG);
        fixture_symlink(fx, "igb", "sys/devices/pci0000:00/" PF_C "/driver");
        cr_assert_eq(sysfs_get_driver(sy, PF_C, &d), -EBADMSG);
        fixture_symlink(fx, "../../../bus/pci/drivers/..", "sys/devices/pci0000:00/" PF_C "/driver");
        cr_assert_eq(sysfs_get_driver(sy, PF_C, &d), -EBADMSG);
        /* "xdrivers/" is not "drivers/" */
        fixture_symlink(fx, "../../../bus/pci/xdrivers/igb", "sys/devices/pci0000:00/" PF_C "/driver");
        cr_assert_eq(sysfs_get_driver(sy, PF_C, &d), -EBADMSG);
        cr_assert_null(d);
}

Test(sysfs, total_and_num_vfs) {
        unsigned n = 99;

        cr_assert_eq(sysfs_get_total_vfs(sy, PF_A, &n), 0);
        cr_assert_eq(n, 7);
        cr_assert_eq(sysfs_get_num_vfs(sy, PF_A, &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_eq(sysfs_get_num_vfs(sy, PF_B, &n), 0);
        cr_assert_eq(n, 2);
        n = 99;
        cr_assert_eq(sysfs_get_num_vfs(sy, NON_PF, &n), -ENOENT, "not a PF: no sriov_numvfs");
        cr_assert_eq(n, 99);
}

Test(sysfs, numbers_are_parsed_strictly) {
        static const struct {
                const char *content;
                int r;
        } cases[] = {
                { "+2\n", -EBADMSG }, { "-0\n", -EBADMSG }, { "2 \n", -EBADMSG }, { " 2\n", -EBADMSG },
                { "2a\n", -EBADMSG }, { "0x2\n", -EBADMSG }, { "\n", -EBADMSG }, { "", -EBADMSG },
                { "4294967296\n", -ERANGE }, { "99999999999999999999\n", -ERANGE },
                { "4294967295\n", 0 }, { "7", 0 },
        };
        unsigned n;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                fixture_write(fx, "sys/bus/pci/devices/" PF_A "/sriov_totalvfs", cases[i].content);
                cr_assert_eq(sysfs_get_total_vfs(sy, PF_A, &n), cases[i].r,
                             "\"%s\": want %d", cases[i].content, cases[i].r);
        }
}

Test(sysfs, set_num_vfs_same_count_writes_nothing) {
        write_log_start(fx);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_B, 2), 0);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_A, 0), 0);
        assert_writes(NULL, 0);
}

Test(sysfs, set_num_vfs_from_zero_writes_once) {
        static const char * const want[] = { "sys/devices/pci0000:00/" PF_A "/sriov_numvfs=4" };
        unsigned n;

        write_log_start(fx);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_A, 4), 0);
        assert_writes(want, ELEMENTSOF(want));
        assert_file("sys/bus/pci/devices/" PF_A "/sriov_numvfs", "4");
        cr_assert_eq(sysfs_get_num_vfs(sy, PF_A, &n), 0);
        cr_assert_eq(n, 4);
}

Test(sysfs, set_num_vfs_change_writes_zero_first) {
        static const char * const want[] = {
                "sys/devices/pci0000:00/" PF_B "/sriov_numvfs=0",
                "sys/devices/pci0000:00/" PF_B "/sriov_numvfs=5",
        };

        write_log_start(fx);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_B, 5), 0);
        assert_writes(want, ELEMENTSOF(want));
        assert_file("sys/bus/pci/devices/" PF_B "/sriov_numvfs", "5");
}

Test(sysfs, set_num_vfs_to_zero_writes_zero_once) {
        static const char * const want[] = { "sys/devices/pci0000:00/" PF_B "/sriov_numvfs=0" };

        write_log_start(fx);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_B, 0), 0);
        assert_writes(want, ELEMENTSOF(want));
        assert_file("sys/bus/pci/devices/" PF_B "/sriov_numvfs", "0");
}

Test(sysfs, set_num_vfs_limits) {
        write_log_start(fx);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_A, SYSFS_VFS_MAX + 1), -ERANGE);
        cr_assert_eq(sysfs_set_num_vfs(sy, NON_PF, 1), -ENOENT, "not a PF");
        assert_writes(NULL, 0);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_A, SYSFS_VFS_MAX), 0);
        assert_file("sys/bus/pci/devices/" PF_A "/sriov_numvfs", "256");
}

Test(sysfs, set_num_vfs_unreadable_attribute_reports_errno) {
        _cleanup_free_ char *p = fixture_path(fx, "sys/devices/pci0000:00/" PF_A "/sriov_numvfs");

        /* A directory where the attribute should be: read() fails EISDIR,
         * whether or not the test runs as root, and that errno comes back. */
        cr_assert_eq(unlink(p), 0);
        cr_assert_eq(mkdir(p, 0755), 0);
        cr_assert_eq(sysfs_set_num_vfs(sy, PF_A, 2), -EISDIR);
}

Test(sysfs, iommu_group) {
        unsigned g = 0;

        cr_assert_eq(sysfs_get_iommu_group(sy, PF_A, &g), 0);
        cr_assert_eq(g, 12);
        cr_assert_eq(sysfs_get_iommu_group(sy, VF_B1, &g), 0);
        cr_assert_eq(g, 21);
        g = 77;
        cr_assert_eq(sysfs_get_iommu_group(sy, PF_C, &g), -ENOENT, "no IOMMU: no link");
        cr_assert_eq(g, 77);
}

Test(sysfs, iommu_group_malformed_link) {
        static const char * const bad[] = {
                "../../../kernel/iommu_groups/abc", "../../../kernel/iommu_groups/-1",
                "../../../kernel/iommu_groups/", "../../../kernel/groups/5", "5",
                "../../../kernel/iommu_groups/5 ",
        };
        unsigned g = 77;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                fixture_symlink(fx, bad[i], "sys/devices/pci0000:00/" PF_C "/iommu_group");
                cr_assert_eq(sysfs_get_iommu_group(sy, PF_C, &g), -EBADMSG, "\"%s\" accepted", bad[i]);
        }
        fixture_symlink(fx, "../../../kernel/iommu_groups/99999999999", "sys/devices/pci0000:00/" PF_C "/iommu_group");
        cr_assert_eq(sysfs_get_iommu_group(sy, PF_C, &g), -ERANGE);
        cr_assert_eq(g, 77);
}

Test(sysfs, numa_node) {
        int node = 42;

        cr_assert_eq(sysfs_get_numa_node(sy, PF_A, &node), 0);
        cr_assert_eq(node, -1);
        cr_assert_eq(sysfs_get_numa_node(sy, PF_B, &node), 0);
        cr_assert_eq(node, 1);

        /* Kernels without CONFIG_NUMA have no attribute: same as -1. */
        fixture_unlink(fx, "sys/devices/pci0000:00/" PF_B "/numa_node");
        cr_assert_eq(sysfs_get_numa_node(sy, PF_B, &node), 0);
        cr_assert_eq(node, -1);

        node = 42;
        cr_assert_eq(sysfs_get_numa_node(sy, "0000:05:00.0", &node), -ENOENT, "no device is not \"no NUMA\"");
        fixture_write(fx, "sys/devices/pci0000:00/" PF_A "/numa_node", "-2\n");
        cr_assert_eq(sysfs_get_numa_node(sy, PF_A, &node), -EBADMSG);
        fixture_write(fx, "sys/devices/pci0000:00/" PF_A "/numa_node", "node0\n");
        cr_assert_eq(sysfs_get_numa_node(sy, PF_A, &node), -EBADMSG);
        fixture_write(fx, "sys/devices/pci0000:00/" PF_A "/numa_node", "2147483648\n");
        cr_assert_eq(sysfs_get_numa_node(sy, PF_A, &node), -ERANGE);
        cr_assert_eq(node, 42);
}

/* ---- VF lists ---- */

Test(sysfs, list_vfs_in_virtfn_order) {
        _cleanup_strv_free_ char **l = NULL;
        char want[12][PCI_ADDRESS_MAX];

        /* 12 VFs whose addresses run backwards, so neither name order
         * ("virtfn10" < "virtfn2") nor address order gives index order. */
        fixture_add_pf(fx, "0000:03:00.0", 0x8086, 0x10c9, 12, 12);
        for (unsigned i = 0; i < 12; i++) {
                snprintf(want[i], sizeof want[i], "0000:03:%02x.%x", 0x1f - i / 8, i % 8);
                fixture_add_vf(fx, "0000:03:00.0", i, want[i], 0x8086, 0x10ca);
        }

        cr_assert_eq(sysfs_list_vfs(sy, "0000:03:00.0", &l), 0);
        for (unsigned i = 0; i < 12; i++) {
                cr_assert_not_null(l[i]);
                cr_assert_str_eq(l[i], want[i], "virtfn%u: got %s, want %s", i, l[i], want[i]);
        }
        cr_assert_null(l[12]);
}

Test(sysfs, list_vfs_two_and_none) {
        _cleanup_strv_free_ char **b = NULL, **a = NULL;

        cr_assert_eq(sysfs_list_vfs(sy, PF_B, &b), 0);
        cr_assert_str_eq(b[0], VF_B0);
        cr_assert_str_eq(b[1], VF_B1);
        cr_assert_null(b[2]);
        cr_assert_eq(sysfs_list_vfs(sy, PF_A, &a), 0);
        cr_assert_not_null(a);
        cr_assert_null(a[0]);
}

Test(sysfs, list_vfs_malformed_entries) {
        char **l = NULL;

        fixture_symlink(fx, "../" VF_B0, "sys/devices/pci0000:00/" PF_A "/virtfn01");
        cr_assert_eq(sysfs_list_vfs(sy, PF_A, &l), -EBADMSG, "leading zero");
        fixture_unlink(fx, "sys/devices/pci0000:00/" PF_A "/virtfn01");

        fixture_symlink(fx, "../" VF_B0, "sys/devices/pci0000:00/" PF_A "/virtfn256");
        cr_assert_eq(sysfs_list_vfs(sy, PF_A, &l), -ERANGE, "index beyond SYSFS_VFS_MAX");
        fixture_unlink(fx, "sys/devices/pci0000:00/" PF_A "/virtfn256");

        fixture_symlink(fx, "../not-a-bdf", "sys/devices/pci0000:00/" PF_A "/virtfn0");
        cr_assert_eq(sysfs_list_vfs(sy, PF_A, &l), -EBADMSG, "link to a non-address");
        fixture_unlink(fx, "sys/devices/pci0000:00/" PF_A "/virtfn0");

        fixture_write(fx, "sys/devices/pci0000:00/" PF_A "/virtfn0", "");
        cr_assert_eq(sysfs_list_vfs(sy, PF_A, &l), -EBADMSG, "not a link");
        cr_assert_null(l);

        cr_assert_eq(sysfs_list_vfs(sy, "0000:05:00.0", &l), -ENOENT);
}

Test(sysfs, list_vfs_at_the_limit) {
        _cleanup_strv_free_ char **l = NULL;

        fixture_add_pf(fx, "0000:04:00.0", 0x8086, 0x10c9, SYSFS_VFS_MAX, SYSFS_VFS_MAX);
        for (unsigned i = 0; i < SYSFS_VFS_MAX; i++) {
                char vf[PCI_ADDRESS_MAX];

                snprintf(vf, sizeof vf, "0000:05:%02x.%x", i / 8, i % 8);
                fixture_add_vf(fx, "0000:04:00.0", i, vf, 0x8086, 0x10ca);
        }
        cr_assert_eq(sysfs_list_vfs(sy, "0000:04:00.0", &l), 0);
        cr_assert_str_eq(l[0], "0000:05:00.0");
        cr_assert_str_eq(l[SYSFS_VFS_MAX - 1], "0000:05:1f.7");
        cr_assert_null(l[SYSFS_VFS_MAX]);
}

/* ---- VF facts, read through the PF's directory ---- */

Test(sysfs, read_vfs_facts) {
        _cleanup_free_ SysfsVf *v = NULL;
        size_t n = 0;

        fixture_write(fx, "sys/bus/pci/devices/" VF_B1 "/numa_node", "1\n");
        cr_assert_eq(sysfs_read_vfs(sy, PF_B, &v, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(v[0].index, 0);
        cr_assert_str_eq(v[0].address, VF_B0);
        cr_assert_eq(v[0].iommu_group_error, 0);
        cr_assert_eq(v[0].iommu_group, 20);
        cr_assert_eq(v[0].numa_node, -1);
        cr_assert_eq(v[1].index, 1);
        cr_assert_str_eq(v[1].address, VF_B1);
        cr_assert_eq(v[1].iommu_group_error, 0);
        cr_assert_eq(v[1].iommu_group, 21);
        cr_assert_eq(v[1].numa_node, 1);
}

Test(sysfs, read_vfs_none) {
        SysfsVf *v = (SysfsVf *) 1;
        size_t n = 7;

        cr_assert_eq(sysfs_read_vfs(sy, PF_A, &v, &n), 0);
        cr_assert_null(v);
        cr_assert_eq(n, 0);
}

Test(sysfs, read_vfs_without_group_or_numa) {
        _cleanup_free_ SysfsVf *v = NULL;
        SysfsVf *w = NULL;
        size_t n = 0;

        /* No group is the VF's problem, not the list's: it is listed, with why. */
        fixture_unlink(fx, "sys/devices/pci0000:00/" VF_B0 "/iommu_group");
        fixture_symlink(fx, "../../../kernel/groups/5", "sys/devices/pci0000:00/" VF_B1 "/iommu_group");
        /* Kernels without CONFIG_NUMA have no numa_node; unreadable ones say nothing either. */
        fixture_unlink(fx, "sys/devices/pci0000:00/" VF_B0 "/numa_node");
        fixture_write(fx, "sys/devices/pci0000:00/" VF_B1 "/numa_node", "node0\n");
        cr_assert_eq(sysfs_read_vfs(sy, PF_B, &v, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(v[0].iommu_group_error, -ENOENT);
        cr_assert_eq(v[0].numa_node, -1);
        cr_assert_eq(v[1].iommu_group_error, -EBADMSG);
        cr_assert_eq(v[1].numa_node, -1);

        /* A VF that vanished between the list and its facts: no group. */
        fixture_symlink(fx, "../0000:00:11.0", "sys/devices/pci0000:00/" PF_B "/virtfn2");
        free(v);
        v = NULL;
        cr_assert_eq(sysfs_read_vfs(sy, PF_B, &v, &n), 0);
        cr_assert_eq(n, 3);
        cr_assert_str_eq(v[2].address, "0000:00:11.0");
        cr_assert_eq(v[2].iommu_group_error, -ENOENT);

        /* Errors in the list itself fail the call, as for sysfs_list_vfs. */
        fixture_symlink(fx, "../not-a-bdf", "sys/devices/pci0000:00/" PF_B "/virtfn2");
        cr_assert_eq(sysfs_read_vfs(sy, PF_B, &w, &n), -EBADMSG);
        cr_assert_eq(sysfs_read_vfs(sy, "0000:05:00.0", &w, &n), -ENOENT);
        cr_assert_eq(sysfs_read_vfs(sy, "../x", &w, &n), -EINVAL);
        cr_assert_null(w);
}

Test(sysfs, read_vfs_looks_up_through_the_pf_directory) {
        _cleanup_free_ SysfsVf *v = NULL;
        size_t n = 0;
        unsigned g;

        /* Without the VF's entry in bus/pci/devices a walk from the root
         * finds nothing; the PF's virtfn links still lead to the VF. */
        fixture_unlink(fx, "sys/bus/pci/devices/" VF_B0);
        cr_assert_eq(sysfs_get_iommu_group(sy, VF_B0, &g), -ENOENT);
        cr_assert_eq(sysfs_read_vfs(sy, PF_B, &v, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(v[0].iommu_group_error, 0);
        cr_assert_eq(v[0].iommu_group, 20);
}

Test(sysfs, read_vfs_in_virtfn_order) {
        _cleanup_free_ SysfsVf *v = NULL;
        size_t n = 0;

        /* 24 VFs, addresses backwards: neither name order ("virtfn10" <
         * "virtfn2") nor address order is index order, and each VF's facts
         * must stay with it through the sort. */
        fixture_add_pf(fx, "0000:04:00.0", 0x8086, 0x10c9, 24, 24);
        for (unsigned i = 0; i < 24; i++) {
                char vf[PCI_ADDRESS_MAX];

                snprintf(vf, sizeof vf, "0000:05:%02x.%x", 0x1f - i / 8, 7 - i % 8);
                fixture_add_vf(fx, "0000:04:00.0", i, vf, 0x8086, 0x10ca);
                fixture_set_iommu_group(fx, vf, 1000 + i);
        }
        cr_assert_eq(sysfs_read_vfs(sy, "0000:04:00.0", &v, &n), 0);
        cr_assert_eq(n, 24);
        for (unsigned i = 0; i < 24; i++) {
                char want[PCI_ADDRESS_MAX];

                snprintf(want, sizeof want, "0000:05:%02x.%x", 0x1f - i / 8, 7 - i % 8);
                cr_assert_eq(v[i].index, i);
                cr_assert_str_eq(v[i].address, want);
                cr_assert_eq(v[i].iommu_group, 1000 + i, "virtfn%u", i);
        }
}

/* ---- binding ---- */

Test(sysfs, bind_already_bound_is_noop) {
        write_log_start(fx);
        cr_assert_eq(sysfs_bind_driver(sy, PF_B, "vfio-pci"), 0);
        cr_assert_eq(sysfs_bind_driver(sy, "00:03.0", "vfio-pci"), 0);
        assert_writes(NULL, 0);
        assert_file("sys/bus/pci/devices/" PF_B "/driver_override", "(null)\n");
}

Test(sysfs, bind_other_driver_disables_vfs_then_unbinds_and_probes) {
        static const char * const want[] = {
                "sys/devices/pci0000:00/" PF_A "/sriov_numvfs=0",
                "sys/devices/pci0000:00/" PF_A "/driver_override=vfio-pci",
                "sys/bus/pci/drivers/igb/unbind=" PF_A,
                "sys/bus/pci/drivers_probe=" PF_A,
        };

        /* PF_A under igb with 3 VFs enabled: vfio-pci would refuse it (EBUSY). */
        fixture_write(fx, "sys/bus/pci/devices/" PF_A "/sriov_numvfs", "3\n");
        write_log_start(fx);
        /* Nothing in a fixture probes drivers: the link stays on igb. */
        cr_assert_eq(sysfs_bind_driver(sy, PF_A, "vfio-pci"), -ENXIO);
        assert_writes(want, ELEMENTSOF(want));
        assert_file("sys/bus/pci/devices/" PF_A "/driver_override", "vfio-pci");
        assert_file("sys/bus/pci/drivers/igb/unbind", PF_A);
        assert_file("sys/bus/pci/drivers_probe", PF_A);
        assert_file("sys/bus/pci/devices/" PF_A "/sriov_numvfs", "0");
}

Test(sysfs, bind_other_driver_without_vfs_skips_numvfs) {
        static const char * const want[] = {
                "sys/devices/pci0000:00/" PF_A "/driver_override=vfbroker_vfio_pci",
                "sys/bus/pci/drivers/igb/unbind=" PF_A,
                "sys/bus/pci/drivers_probe=" PF_A,
        };

        write_log_start(fx);
        cr_assert_eq(sysfs_bind_driver(sy, PF_A, "vfbroker_vfio_pci"), -ENXIO);
        assert_writes(want, ELEMENTSOF(want));
}

Test(sysfs, bind_unbound_device_does_not_unbind) {
        static const char * const want[] = {
                "sys/devices/pci0000:00/" PF_C "/driver_override=vfio-pci",
                "sys/bus/pci/drivers_probe=" PF_C,
        };

        write_log_start(fx);
        cr_assert_eq(sysfs_bind_driver(sy, "02:00.0", "vfio-pci"), -ENXIO);
        assert_writes(want, ELEMENTSOF(want));
}

/* Plays the kernel's part in drivers_probe: drivers_probe is a FIFO whose
 * buffer the test filled, so the write under test blocks until this thread
 * drains it; before draining, the thread binds the device the way probing
 * would, once driver_override says vfio-pci. */
typedef struct Prober {
        int fifo_fd;
        size_t filler; /* bytes the test put in first: the pipe's capacity */
        char probed[64];
} Prober;

static void *prober_thread(void *arg) {
        Prober *p = arg;
        struct timespec ts = { 0, 1000000 };
        _cleanup_free_ char *buf = malloc(p->filler + sizeof p->probed);
        size_t got = 0;

        for (int i = 0; i < 5000; i++) {
                _cleanup_free_ char *o = fixture_read(fx, "sys/bus/pci/devices/" PF_C "/driver_override");
                if (o && strcmp(o, "vfio-pci") == 0)
                        break;
                nanosleep(&ts, NULL);
        }
        fixture_set_driver(fx, PF_C, "vfio-pci");

        /* Drain the filler and what the code under test wrote after it. */
        while (buf && got < p->filler + strlen(PF_C)) {
                ssize_t k = read(p->fifo_fd, buf + got, p->filler + sizeof p->probed - 1 - got);
                if (k <= 0)
                        break;
                got += (size_t) k;
        }
        if (got > p->filler)
                memcpy(p->probed, buf + p->filler, got - p->filler);
        return NULL;
}

Test(sysfs, bind_succeeds_when_probe_binds) {
        _cleanup_free_ char *path = fixture_path(fx, "sys/bus/pci/drivers_probe");
        _cleanup_free_ char *drv = NULL;
        _cleanup_free_ char *filler = NULL;
        Prober p = { .fifo_fd = -EBADF };
        pthread_t t;
        int cap;

        cr_assert_eq(unlink(path), 0);
        cr_assert_eq(mkfifo(path, 0600), 0);
        p.fifo_fd = open(path, O_RDWR | O_CLOEXEC);
        cr_assert_geq(p.fifo_fd, 0);
        /* The smallest pipe the kernel allows (one page), filled to the brim. */
        cap = fcntl(p.fifo_fd, F_SETPIPE_SZ, 4096);
        cr_assert_geq(cap, 4096);
        p.filler = (size_t) cap;
        filler = malloc(p.filler);
        cr_assert_not_null(filler);
        memset(filler, 'x', p.filler);
        cr_assert_eq(write(p.fifo_fd, filler, p.filler), (ssize_t) p.filler);

        cr_assert_eq(pthread_create(&t, NULL, prober_thread, &p), 0);
        cr_assert_eq(sysfs_bind_driver(sy, PF_C, "vfio-pci"), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);

        cr_assert_str_eq(p.probed, PF_C);
        cr_assert_eq(sysfs_get_driver(sy, PF_C, &drv), 0);
        cr_assert_str_eq(drv, "vfio-pci");
        close(p.fifo_fd);
}

Test(sysfs, bind_refuses_bad_driver_names) {
        static const char * const bad[] = {
                "", "../vfio-pci", "vfio/pci", "vfio pci", "vfio-pci\n", ".",
                "a123456789012345678901234567890123456789012345678901234567890123456789",
        };

        write_log_start(fx);
        cr_assert_eq(sysfs_bind_driver(sy, PF_A, NULL), -EINVAL);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(sysfs_bind_driver(sy, PF_A, bad[i]), -EINVAL, "\"%s\" accepted", bad[i]);
        assert_writes(NULL, 0);
}

/* ---- modules ---- */

Test(sysfs, enable_sriov_parameter_vfio_pci) {
        static const char * const want[] = { "sys/module/vfio_pci/parameters/enable_sriov=1" };

        fixture_add_module_param(fx, "vfio_pci", "enable_sriov", "N\n");
        write_log_start(fx);
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, "vfio-pci"), 0);
        assert_writes(want, ELEMENTSOF(want));
}

Test(sysfs, enable_sriov_parameter_already_set_writes_nothing) {
        fixture_add_module_param(fx, "vfio_pci", "enable_sriov", "Y\n");
        write_log_start(fx);
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, "vfio-pci"), 0);
        assert_writes(NULL, 0);
}

Test(sysfs, enable_sriov_parameter_kmod) {
        static const char * const want[] = { "sys/module/vfbroker_vfio_pci/parameters/enable_sriov=1" };

        fixture_add_module_param(fx, "vfio_pci", "enable_sriov", "N\n");
        fixture_add_module_param(fx, "vfbroker_vfio_pci", "enable_sriov", "N\n");
        write_log_start(fx);
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, "vfbroker_vfio_pci"), 0);
        assert_writes(want, ELEMENTSOF(want));
        assert_file("sys/module/vfio_pci/parameters/enable_sriov", "N\n");
}

Test(sysfs, enable_sriov_parameter_errors) {
        write_log_start(fx);
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, "vfio-pci"), -ENOENT, "module not loaded");
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, "vfbroker_vfio_pci"), -ENOENT);
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, "igb"), -EOPNOTSUPP);
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, "../vfio_pci"), -EINVAL);
        cr_assert_eq(sysfs_enable_sriov_parameter(sy, NULL), -EINVAL);
        assert_writes(NULL, 0);
}

Test(sysfs, module_loaded) {
        fixture_add_module_param(fx, "vfio_pci", "enable_sriov", "N\n");
        cr_assert(sysfs_module_loaded(sy, "vfio_pci"));
        cr_assert(sysfs_module_loaded(sy, "vfio-pci"), "'-' and '_' are one");
        cr_assert_not(sysfs_module_loaded(sy, "vfbroker_vfio_pci"));
        cr_assert_not(sysfs_module_loaded(sy, "../module/vfio_pci"));
        cr_assert_not(sysfs_module_loaded(sy, ""));
        cr_assert_not(sysfs_module_loaded(sy, NULL));
}

/* ---- waiting for VF binding ---- */

static void *bind_vfs_later(void *arg) {
        struct timespec ts = { 0, 30 * 1000000 };

        (void) arg;
        nanosleep(&ts, NULL);
        fixture_set_driver(fx, VF_B1, "vfio-pci");
        return NULL;
}

Test(sysfs, wait_vfs_bound_already) {
        cr_assert_eq(sysfs_wait_vfs_bound(sy, PF_B, "vfio-pci", 0), 0);
}

Test(sysfs, wait_vfs_bound_times_out) {
        struct timespec a, b;
        long ms;

        fixture_set_driver(fx, VF_B1, NULL);
        clock_gettime(CLOCK_MONOTONIC, &a);
        cr_assert_eq(sysfs_wait_vfs_bound(sy, PF_B, "vfio-pci", 50000), -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
        cr_assert_geq(ms, 50, "returned after %ld ms, before the timeout", ms);

        /* Bound to another driver is not bound. */
        fixture_set_driver(fx, VF_B1, "igbvf");
        cr_assert_eq(sysfs_wait_vfs_bound(sy, PF_B, "vfio-pci", 20000), -ETIMEDOUT);
}

Test(sysfs, wait_vfs_bound_counts_missing_vfs) {
        /* sriov_numvfs says 3 but only two virtfn links exist yet. */
        fixture_write(fx, "sys/bus/pci/devices/" PF_B "/sriov_numvfs", "3\n");
        cr_assert_eq(sysfs_wait_vfs_bound(sy, PF_B, "vfio-pci", 20000), -ETIMEDOUT);
}

Test(sysfs, wait_vfs_bound_sees_late_binding) {
        pthread_t t;

        fixture_set_driver(fx, VF_B1, NULL);
        cr_assert_eq(pthread_create(&t, NULL, bind_vfs_later, NULL), 0);
        cr_assert_eq(sysfs_wait_vfs_bound(sy, PF_B, "vfio-pci", 5000000), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
}

Test(sysfs, wait_vfs_bound_errors) {
        cr_assert_eq(sysfs_wait_vfs_bound(sy, NON_PF, "vfio-pci", 1000), -ENOENT, "not a PF");
        cr_assert_eq(sysfs_wait_vfs_bound(sy, PF_B, "../x", 1000), -EINVAL);
}

Test(sysfs, wait_vfs_bound_read_returns_the_bound_vfs) {
        _cleanup_free_ SysfsVf *v = NULL;
        SysfsVf *none = NULL;
        size_t n = 0, untouched = 99;
        pthread_t t;

        cr_assert_eq(sysfs_wait_vfs_bound_read(sy, PF_B, "vfio-pci", 0, &v, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_str_eq(v[1].address, VF_B1);
        cr_assert_eq(v[1].iommu_group, 21);
        free(v);
        v = NULL;

        /* Not bound yet: nothing is handed back. */
        fixture_set_driver(fx, VF_B1, "igbvf");
        cr_assert_eq(sysfs_wait_vfs_bound_read(sy, PF_B, "vfio-pci", 20000, &none, &untouched), -ETIMEDOUT);
        cr_assert_null(none);
        cr_assert_eq(untouched, 99);

        /* The list comes from the pass that saw the late binding. */
        fixture_set_driver(fx, VF_B1, NULL);
        cr_assert_eq(pthread_create(&t, NULL, bind_vfs_later, NULL), 0);
        cr_assert_eq(sysfs_wait_vfs_bound_read(sy, PF_B, "vfio-pci", 5000000, &v, &n), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(v[0].iommu_group, 20);
        cr_assert_eq(v[1].iommu_group, 21);

        cr_assert_eq(sysfs_wait_vfs_bound_read(sy, PF_B, "vfio-pci", 0, &none, NULL), -EINVAL);
        cr_assert_eq(sysfs_wait_vfs_bound_read(sy, NON_PF, "vfio-pci", 0, &none, &n), -ENOENT);
}

/* ---- path safety ---- */

static const char * const bad_bdfs[] = {
        "",
        "../../../../etc",
        "0000:01:00.0/../../..",
        "0000:01:00.0/",
        "../0000:01:00.0",
        "0000:01:00.0 ",
        "0000:01:00.0\n",
        " 0000:01:00.0",
        "0000:1:00.0",
        "0000:01:20.0",   /* device > 0x1f */
        "0000:01:00.8",   /* function > 7 */
        "10000:01:00.0",
        "0000:01:00",
        "g000:01:00.0",
        "virtfn0",
        ".",
        "..",
};

Test(sysfs, bad_bdf_is_einval_and_touches_nothing) {
        /* A tree that a traversal through "../0000:01:00.0" would reach. */
        fixture_mkdir(fx, "sys/bus/pci/0000:01:00.0");
        fixture_write(fx, "sys/bus/pci/0000:01:00.0/driver_override", "untouched");
        fixture_write(fx, "sys/bus/pci/0000:01:00.0/sriov_numvfs", "1\n");
        write_log_start(fx);

        for (size_t i = 0; i < ELEMENTSOF(bad_bdfs) + 1; i++) {
                const char *b = i < ELEMENTSOF(bad_bdfs) ? bad_bdfs[i] : NULL;
                char **l = NULL, *d = NULL;
                uint16_t v = 1, dv = 1;
                unsigned n = 1;
                int node = 1;

                cr_assert_not(sysfs_device_exists(sy, b), "\"%s\"", strna(b));
                cr_assert_eq(sysfs_read_ids(sy, b, &v, &dv), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_get_driver(sy, b, &d), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_get_total_vfs(sy, b, &n), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_get_num_vfs(sy, b, &n), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_set_num_vfs(sy, b, 0), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_set_num_vfs(sy, b, 2), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_get_iommu_group(sy, b, &n), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_get_numa_node(sy, b, &node), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_bind_driver(sy, b, "vfio-pci"), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_list_vfs(sy, b, &l), -EINVAL, "\"%s\"", strna(b));
                cr_assert_eq(sysfs_wait_vfs_bound(sy, b, "vfio-pci", 0), -EINVAL, "\"%s\"", strna(b));
                cr_assert(v == 1 && dv == 1 && n == 1 && node == 1 && !l && !d,
                          "\"%s\": output written on failure", strna(b));
        }

        assert_writes(NULL, 0);
        assert_file("sys/bus/pci/0000:01:00.0/driver_override", "untouched");
        assert_file("sys/bus/pci/0000:01:00.0/sriov_numvfs", "1\n");
}
