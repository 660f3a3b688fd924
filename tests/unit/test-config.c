/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/config.c: good files, drop-ins and overrides, and
 * every error path with its exact "file:line:" prefix. */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"

static char tmpdir[] = "/tmp/test-config-XXXXXX";
static char main_path[PATH_MAX], dropin_dir[PATH_MAX];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p);
}

static void setup(void) {
        cr_assert_not_null(mkdtemp(tmpdir));
        snprintf(main_path, sizeof main_path, "%s/vfbroker.conf", tmpdir);
        snprintf(dropin_dir, sizeof dropin_dir, "%s/vfbroker.conf.d", tmpdir);
}

static void teardown(void) {
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(config, .init = setup, .fini = teardown);

/* Writes name (relative to tmpdir, "" for the main file) with exactly `size` bytes. */
static void write_bytes(const char *path, const char *data, size_t size) {
        FILE *f = fopen(path, "we");
        cr_assert_not_null(f, "cannot create %s", path);
        cr_assert_eq(fwrite(data, 1, size, f), size);
        cr_assert_eq(fclose(f), 0);
}

static void write_main(const char *data) {
        write_bytes(main_path, data, strlen(data));
}

static void write_dropin(const char *name, const char *data) {
        char p[PATH_MAX * 2];

        (void) mkdir(dropin_dir, 0755);
        snprintf(p, sizeof p, "%s/%s", dropin_dir, name);
        write_bytes(p, data, strlen(data));
}

static Config *load_ok(void) {
        _cleanup_free_ char *err = NULL;
        Config *c = NULL;
        int r;

        r = config_load(main_path, dropin_dir, &c, &err);
        cr_assert_eq(r, 0, "config_load failed: %d %s", r, strna(err));
        cr_assert_not_null(c);
        return c;
}

/* Loads and checks the error is exactly "<path>:<line>: ..." and mentions `needle`. */
static void expect_error_in(const char *path, unsigned line, const char *needle) {
        _cleanup_free_ char *err = NULL, *prefix = NULL;
        Config *c = (Config *) 0x1;
        int r;

        r = config_load(main_path, dropin_dir, &c, &err);
        cr_assert_eq(r, -EINVAL, "expected -EINVAL, got %d (%s)", r, strna(err));
        cr_assert_eq(c, (Config *) 0x1, "ret written on failure");
        cr_assert_not_null(err);
        cr_assert(asprintf(&prefix, "%s:%u: ", path, line) > 0);
        cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "error \"%s\" does not start with \"%s\"", err, prefix);
        cr_assert_not_null(strstr(err, needle), "error \"%s\" does not mention \"%s\"", err, needle);
        cr_assert_null(strchr(err, '\n'), "error must be one line: \"%s\"", err);
}

static void expect_error(const char *data, unsigned line, const char *needle) {
        write_main(data);
        expect_error_in(main_path, line, needle);
}

/* ---- good configurations ---- */

Test(config, missing_everything_gives_defaults) {
        Config *c = load_ok();

        cr_assert_eq(c->system_bus, false);
        cr_assert_eq(c->root_skips_polkit, true);
        cr_assert_eq(c->max_connections, 256);
        cr_assert_eq(c->max_calls_per_connection, 8);
        cr_assert_eq(c->max_tenants, 1024);
        cr_assert_eq(c->default_quota, 1);
        cr_assert_eq(c->max_connections_per_user, 16);
        cr_assert_eq(c->reserved_connections, 8);
        cr_assert_eq(c->idle_timeout_sec, 300);
        cr_assert_eq(c->n_pfs, 0);
        cr_assert_eq(c->n_tenants, 0);
        config_free(c);

        /* NULL paths are allowed too. */
        cr_assert_eq(config_load(NULL, NULL, &c, NULL), 0);
        cr_assert_eq(c->max_connections, 256);
        config_free(c);
        cr_assert_null(config_free(NULL));
}

Test(config, example_fixture) {
        const char *dir = getenv("CONFIG_FIXTURES");
        char m[PATH_MAX], d[PATH_MAX];
        _cleanup_free_ char *err = NULL;
        Config *c = NULL;

        cr_assert_not_null(dir, "CONFIG_FIXTURES not set (run through meson test)");
        snprintf(m, sizeof m, "%s/example/vfbroker.conf", dir);
        snprintf(d, sizeof d, "%s/example/vfbroker.conf.d", dir);
        cr_assert_eq(config_load(m, d, &c, &err), 0, "%s", strna(err));

        cr_assert_eq(c->system_bus, true);
        cr_assert_eq(c->root_skips_polkit, false);
        cr_assert_eq(c->max_connections, 512);
        cr_assert_eq(c->max_calls_per_connection, 16);
        cr_assert_eq(c->max_tenants, 100);
        cr_assert_eq(c->default_quota, 4, "drop-in must override DefaultQuota");
        cr_assert_eq(c->max_connections_per_user, 32);
        cr_assert_eq(c->reserved_connections, 16);
        cr_assert_eq(c->idle_timeout_sec, 600);

        cr_assert_eq(c->n_pfs, 3);
        cr_assert_eq(c->pfs[0].match, PF_MATCH_ADDRESS);
        cr_assert_str_eq(c->pfs[0].address, "0000:01:00.0");
        cr_assert_eq(c->pfs[0].num_vfs, 4);
        cr_assert_eq(c->pfs[0].mode, PF_MODE_POOL);
        cr_assert_null(c->pfs[0].tenant);
        cr_assert_eq(c->pfs[0].driver, PF_DRIVER_VFIO_PCI);
        cr_assert_not_null(strstr(c->pfs[0].source, "vfbroker.conf:15"));

        cr_assert_eq(c->pfs[1].match, PF_MATCH_VENDOR_DEVICE);
        cr_assert_eq(c->pfs[1].vendor, 0x8086);
        cr_assert_eq(c->pfs[1].device, 0x10c9);
        cr_assert_eq(c->pfs[1].mode, PF_MODE_DEDICATED);
        cr_assert_str_eq(c->pfs[1].tenant, "acme");
        cr_assert_eq(c->pfs[1].driver, PF_DRIVER_VFBROKER_VFIO_PCI);

        cr_assert_eq(c->pfs[2].match, PF_MATCH_INTERFACE);
        cr_assert_str_eq(c->pfs[2].interface, "enp1s0f1");
        cr_assert_eq(c->pfs[2].num_vfs, 256);
        cr_assert_eq(c->pfs[2].mode, PF_MODE_POOL);
        cr_assert_eq(c->pfs[2].driver, PF_DRIVER_AUTO);

        cr_assert_eq(c->n_tenants, 2);
        const ConfigTenant *t = config_find_tenant(c, "acme");
        cr_assert_not_null(t);
        cr_assert_eq(t->quota, 3);
        cr_assert_eq(t->n_uids, 2);
        cr_assert_eq(t->uids[0], 0);
        cr_assert_eq(t->uids[1], 1000);
        cr_assert_eq(t->n_gids, 2);
        cr_assert_eq(t->gids[0], 65534);
        cr_assert_eq(t->gids[1], 2000);

        t = config_find_tenant(c, "beta.team-1");
        cr_assert_not_null(t);
        cr_assert_eq(t->quota, 1, "Quota= defaults to 1");
        cr_assert_eq(t->n_uids, 1);
        cr_assert_eq(t->uids[0], 65534);
        cr_assert_eq(t->n_gids, 0);
        cr_assert_not_null(strstr(t->source, "10-more.conf:5"));

        cr_assert_null(config_find_tenant(c, "nope"));
        cr_assert_null(config_find_tenant(c, NULL));
        config_free(c);
}

Test(config, dropins_sorted_and_override) {
        Config *c;

        write_main("[Broker]\nMaxConnections=10\nMaxTenants=10\n");
        write_dropin("20-b.conf", "[Broker]\nMaxConnections=30\n[Tenant]\nName=b\n");
        write_dropin("10-a.conf", "[Broker]\nMaxConnections=20\nMaxTenants=20\n[Tenant]\nName=a\n");
        write_dropin("30-c.conf.disabled", "garbage\n");
        write_dropin(".40-hidden.conf", "garbage\n");
        write_dropin("notes.txt", "garbage\n");
        {
                char p[PATH_MAX * 2];
                snprintf(p, sizeof p, "%s/50-dir.conf", dropin_dir);
                cr_assert_eq(mkdir(p, 0755), 0);
        }

        c = load_ok();
        cr_assert_eq(c->max_connections, 30, "the last drop-in by name wins");
        cr_assert_eq(c->max_tenants, 20, "keys not overridden later keep their value");
        cr_assert_eq(c->n_tenants, 2);
        cr_assert_str_eq(c->tenants[0].name, "a", "drop-ins are read in lexical order");
        cr_assert_str_eq(c->tenants[1].name, "b");
        config_free(c);
}

Test(config, dropin_without_main_file) {
        Config *c;

        write_dropin("a.conf", "[Broker]\nSystemBus=on\n");
        c = load_ok();
        cr_assert_eq(c->system_bus, true);
        config_free(c);
}

Test(config, syntax_details) {
        Config *c;

        write_main("  # indented comment\r\n"
                   "\t; another\r\n"
                   "\r\n"
                   "[Broker]   # trailing comment on a header\r\n"
                   "  SystemBus  =  TRUE   ; trailing comment\r\n"
                   "RootSkipsPolkit=Off\n"
                   "MaxConnections=00065536\n"
                   "[PhysicalFunction]\n"
                   "Interface=en#1\n"
                   "NumVFs=1\n"
                   "Mode=dedicated\n"
                   "Tenant=t\n"
                   "[Tenant]\n"
                   "Name=t\n"
                   "Users=root\t0   nobody 0\n"
                   "Groups=root nogroup 65534");  /* no final newline */
        c = load_ok();
        cr_assert_eq(c->system_bus, true);
        cr_assert_eq(c->root_skips_polkit, false);
        cr_assert_eq(c->max_connections, 65536);
        cr_assert_str_eq(c->pfs[0].interface, "en#1", "a # not after whitespace is part of the value");
        cr_assert_eq(c->tenants[0].n_uids, 2, "duplicates are folded");
        cr_assert_eq(c->tenants[0].uids[0], 0);
        cr_assert_eq(c->tenants[0].uids[1], 65534);
        cr_assert_eq(c->tenants[0].n_gids, 2);
        cr_assert_eq(c->tenants[0].gids[0], 0);
        cr_assert_eq(c->tenants[0].gids[1], 65534);
        config_free(c);
}

Test(config, booleans) {
        static const struct { const char *v; bool b; } cases[] = {
                { "yes", true }, { "no", false }, { "true", true }, { "false", false },
                { "1", true }, { "0", false }, { "on", true }, { "off", false }, { "YES", true },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[128];
                Config *c;

                snprintf(buf, sizeof buf, "[Broker]\nSystemBus=%s\nRootSkipsPolkit=%s\n", cases[i].v, cases[i].v);
                write_main(buf);
                c = load_ok();
                cr_assert_eq(c->system_bus, cases[i].b, "SystemBus=%s", cases[i].v);
                cr_assert_eq(c->root_skips_polkit, cases[i].b);
                config_free(c);
        }
}

Test(config, string_helpers) {
        cr_assert_str_eq(pf_mode_to_string(PF_MODE_POOL), "pool");
        cr_assert_str_eq(pf_mode_to_string(PF_MODE_DEDICATED), "dedicated");
        cr_assert_null(pf_mode_to_string((PfMode) 42));
        cr_assert_str_eq(pf_driver_to_string(PF_DRIVER_AUTO), "auto");
        cr_assert_str_eq(pf_driver_to_string(PF_DRIVER_VFIO_PCI), "vfio-pci");
        cr_assert_str_eq(pf_driver_to_string(PF_DRIVER_VFBROKER_VFIO_PCI), "vfbroker_vfio_pci");
        cr_assert_null(pf_driver_to_string((PfDriver) 42));
}

/* ---- syntax errors ---- */

Test(config, err_unknown_section) {
        expect_error("# c\n[Broker]\n[Brokr]\n", 3, "unknown section [Brokr]");
}

Test(config, err_malformed_header) {
        expect_error("[Broker\n", 1, "malformed section header");
        expect_error("[Broker] x\n", 1, "malformed section header");
}

Test(config, err_unknown_key) {
        expect_error("[Broker]\nSystemBus=no\nsystembus=no\n", 3, "unknown key systembus=");
        expect_error("[Tenant]\nName=a\nAddress=01:00.0\n", 3, "unknown key Address= in [Tenant]");
}

Test(config, err_duplicate_key) {
        expect_error("[Broker]\nMaxTenants=1\n\nMaxTenants=2\n", 4, "MaxTenants= is set twice");
        expect_error("[Tenant]\nName=a\nName=b\n", 3, "Name= is set twice");
}

Test(config, err_key_before_section) {
        expect_error("\n# c\nSystemBus=yes\n[Broker]\n", 3, "before any section");
}

Test(config, err_not_an_assignment) {
        expect_error("[Broker]\nSystemBus\n", 2, "neither a section header nor Key=Value");
        expect_error("[Broker]\n=yes\n", 2, "without a key");
}

Test(config, err_empty_value) {
        expect_error("[Broker]\nSystemBus=   # nothing\n", 2, "SystemBus= has no value");
}

Test(config, err_continuation) {
        expect_error("[Tenant]\nName=a\nUsers=root \\\n  nobody\n", 3, "continuation is not supported");
}

Test(config, err_bad_boolean) {
        expect_error("[Broker]\nSystemBus=maybe\n", 2, "SystemBus=maybe is not a boolean");
}

Test(config, err_numbers_out_of_range) {
        expect_error("[Broker]\nMaxConnections=0\n", 2, "between 1 and 65536");
        expect_error("[Broker]\nMaxConnections=65537\n", 2, "between 1 and 65536");
        expect_error("[Broker]\nMaxCallsPerConnection=1025\n", 2, "between 1 and 1024");
        expect_error("[Broker]\nMaxTenants=-1\n", 2, "between 1 and 65536");
        expect_error("[Broker]\nDefaultQuota=4097\n", 2, "between 1 and 4096");
        expect_error("[Broker]\nDefaultQuota=0x10\n", 2, "not a number");
        expect_error("[Broker]\nDefaultQuota=1e3\n", 2, "not a number");
        expect_error("[Broker]\nDefaultQuota=+1\n", 2, "not a number");
        expect_error("[Broker]\nDefaultQuota=99999999999999999999999\n", 2, "not a number");
        expect_error("[Tenant]\nName=a\nQuota=0\n", 3, "between 1 and 4096");
        expect_error("[PhysicalFunction]\nAddress=01:00.0\nNumVFs=257\n", 3, "between 1 and 256");
        expect_error("[PhysicalFunction]\nAddress=01:00.0\nNumVFs=0\n", 3, "between 1 and 256");
}

/* ---- [PhysicalFunction] ---- */

Test(config, err_pf_values) {
        expect_error("[PhysicalFunction]\nAddress=01:20.0\n", 2, "Address=01:20.0 is not a PCI address");
        expect_error("[PhysicalFunction]\nAddress=0000:01:00.0x\n", 2, "is not a PCI address");
        expect_error("[PhysicalFunction]\nVendorDevice=8086\n", 2, "VendorDevice=8086 is not a vendor:device pair");
        expect_error("[PhysicalFunction]\nInterface=a/b\n", 2, "not a valid network interface name");
        expect_error("[PhysicalFunction]\nInterface=0123456789abcdef\n", 2, "not a valid network interface name");
        expect_error("[PhysicalFunction]\nAddress=01:00.0\nMode=shared\n", 3, "Mode=shared is not known");
        expect_error("[PhysicalFunction]\nAddress=01:00.0\nDriver=igb\n", 3, "Driver=igb is not known");
        expect_error("[PhysicalFunction]\nAddress=01:00.0\nTenant=../x\n", 3, "not a valid tenant name");
}

Test(config, err_pf_match_count) {
        expect_error("[Broker]\n[PhysicalFunction]\nNumVFs=1\n[Tenant]\nName=a\n", 2, "exactly one of Address=");
        expect_error("[PhysicalFunction]\nNumVFs=1\nAddress=01:00.0\nInterface=eth0\n", 1, "(found 2)");
        /* Checked at the end of the file for the last section, too. */
        expect_error("[Broker]\n\n[PhysicalFunction]\nNumVFs=1\n", 3, "exactly one of");
}

Test(config, err_pf_num_vfs_required) {
        expect_error("[PhysicalFunction]\nAddress=01:00.0\n[Broker]\n", 1, "has no NumVFs=");
}

Test(config, err_pf_dedicated_needs_tenant) {
        expect_error("[PhysicalFunction]\nAddress=01:00.0\nNumVFs=2\nMode=dedicated\n", 1, "has no Tenant=");
        expect_error("[Tenant]\nName=a\n[PhysicalFunction]\nAddress=01:00.0\nNumVFs=2\nTenant=a\n", 3, "Mode=pool");
}

Test(config, err_pf_unknown_tenant_names_section_line) {
        write_main("[Tenant]\nName=a\n\n[PhysicalFunction]\nAddress=01:00.0\nNumVFs=2\nMode=dedicated\nTenant=b\n");
        expect_error_in(main_path, 4, "Tenant=b names no [Tenant] section");
}

Test(config, pf_tenant_may_come_from_a_dropin) {
        Config *c;

        write_main("[PhysicalFunction]\nAddress=01:00.0\nNumVFs=2\nMode=dedicated\nTenant=late\n");
        write_dropin("x.conf", "[Tenant]\nName=late\n");
        c = load_ok();
        cr_assert_str_eq(c->pfs[0].tenant, "late");
        config_free(c);
}

Test(config, err_pf_same_address_twice_across_files) {
        char p[PATH_MAX * 2];

        write_main("[PhysicalFunction]\nAddress=0000:01:00.0\nNumVFs=2\n");
        write_dropin("a.conf", "# first line\n[PhysicalFunction]\nAddress=01:00.0\nNumVFs=1\n");
        snprintf(p, sizeof p, "%s/a.conf", dropin_dir);
        expect_error_in(p, 2, "same device as the one at ");
}

Test(config, err_pf_same_vendor_device_or_interface_twice) {
        expect_error("[PhysicalFunction]\nVendorDevice=8086:10c9\nNumVFs=1\n"
                     "[PhysicalFunction]\nVendorDevice=8086:10C9\nNumVFs=1\n", 4, "same device");
        expect_error("[PhysicalFunction]\nInterface=eth0\nNumVFs=1\n"
                     "[PhysicalFunction]\nInterface=eth0\nNumVFs=1\n", 4, "same device");
}

/* The configuration the duplicate checks index: [Broker], then n_pfs PFs
 * (by address, by ids and by interface in turn) and tenants up to the
 * 4,096-section limit; with dup, one more copy of the first PF or tenant. */
static char *many_sections(unsigned n_pfs, const char *dup) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        cr_assert_not_null(f);
        fprintf(f, "[Broker]\nMaxTenants=4096\n");
        for (unsigned i = 0; i < n_pfs; i++)
                switch (i % 3) {
                case 0:
                        fprintf(f, "[PhysicalFunction]\nAddress=%04x:%02x:%02x.%x\nNumVFs=1\n", i >> 16, (i >> 8) & 0xff,
                                (i >> 3) & 0x1f, i & 7);
                        break;
                case 1:
                        fprintf(f, "[PhysicalFunction]\nVendorDevice=%04x:%04x\nNumVFs=1\n", i & 0xffff, 0x10ca);
                        break;
                default:
                        fprintf(f, "[PhysicalFunction]\nInterface=en%u\nNumVFs=1\n", i);
                        break;
                }
        for (unsigned i = n_pfs + 1 + !!dup; i < 4096; i++)
                fprintf(f, "[Tenant]\nName=t%u\n", i);
        if (dup)
                fputs(dup, f);
        cr_assert_eq(fclose(f), 0);
        return buf;
}

Test(config, every_section_distinct_at_the_limit) {
        _cleanup_free_ char *text = many_sections(2048, NULL);
        Config *c;

        write_main(text);
        c = load_ok();
        cr_assert_eq(c->n_pfs, 2048);
        cr_assert_eq(c->n_tenants, 4096 - 1 - 2048);
        config_free(c);
}

Test(config, err_duplicates_found_at_the_limit) {
        char *text;

        /* [Broker] (2 lines), 2,048 PFs (3 lines each), 2,046 tenants (2 each):
         * the last section, the copy, starts on the line after those. */
        const unsigned last = 2 + 3 * 2048 + 2 * 2046 + 1;
        char where[PATH_MAX * 2];

        /* The last section repeats the first PF: the error names both lines. */
        text = many_sections(2048, "[PhysicalFunction]\nAddress=00:00.0\nNumVFs=1\n");
        write_main(text);
        free(text);
        snprintf(where, sizeof where, "same device as the one at %s:3;", main_path);
        expect_error_in(main_path, last, where);

        text = many_sections(2048, "[Tenant]\nName=t2050\n");
        write_main(text);
        free(text);
        snprintf(where, sizeof where, "tenant \"t2050\" is already defined at %s:%u;", main_path, 2 + 3 * 2048 + 1);
        expect_error_in(main_path, last, where);
}

Test(config, same_text_under_another_match_is_no_duplicate) {
        Config *c;

        /* One device named three ways is three keys: only the same kind of
         * match can be a duplicate (the check names devices, not strings). */
        write_main("[PhysicalFunction]\nAddress=0000:01:00.0\nNumVFs=1\n"
                   "[PhysicalFunction]\nVendorDevice=0000:0100\nNumVFs=1\n"
                   "[PhysicalFunction]\nInterface=en0\nNumVFs=1\n"
                   "[PhysicalFunction]\nVendorDevice=0001:0000\nNumVFs=1\n");
        c = load_ok();
        cr_assert_eq(c->n_pfs, 4);
        config_free(c);
}

/* ---- [Tenant] ---- */

Test(config, err_tenant_name) {
        expect_error("[Tenant]\nQuota=2\n", 1, "has no Name=");
        expect_error("[Tenant]\nName=..\n", 2, "Name=.. is not a valid tenant name");
        expect_error("[Tenant]\nName=-x\n", 2, "not a valid tenant name");
        expect_error("[Tenant]\nName=a/b\n", 2, "not a valid tenant name");
        expect_error("[Tenant]\nName=a b\n", 2, "not a valid tenant name");
        expect_error("[Tenant]\nName=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2,
                     "not a valid tenant name");
}

Test(config, tenant_name_64_chars_ok) {
        Config *c;

        write_main("[Tenant]\nName=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
        c = load_ok();
        cr_assert_eq(strlen(c->tenants[0].name), 64);
        config_free(c);
}

Test(config, err_tenant_twice_across_files) {
        char p[PATH_MAX * 2];

        write_main("[Tenant]\nName=acme\n");
        write_dropin("50-x.conf", "[Broker]\n\n[Tenant]\nName=acme\n");
        snprintf(p, sizeof p, "%s/50-x.conf", dropin_dir);
        expect_error_in(p, 3, "tenant \"acme\" is already defined at ");
}

Test(config, err_unknown_users_and_groups) {
        expect_error("[Tenant]\nName=a\nUsers=root no-such-user-vfb\n", 3, "unknown user \"no-such-user-vfb\"");
        expect_error("[Tenant]\nName=a\nGroups=no-such-group-vfb\n", 3, "unknown group \"no-such-group-vfb\"");
        expect_error("[Tenant]\nName=a\nUsers=4294967295\n", 3, "is not a valid user id");
        expect_error("[Tenant]\nName=a\nGroups=12ab\n", 3, "is not a valid group id");
}

Test(config, numeric_ids_need_no_account) {
        Config *c;

        write_main("[Tenant]\nName=a\nUsers=4294967294 54321\nGroups=54321\n");
        c = load_ok();
        cr_assert_eq(c->tenants[0].n_uids, 2);
        cr_assert_eq(c->tenants[0].uids[0], 4294967294u);
        cr_assert_eq(c->tenants[0].uids[1], 54321);
        cr_assert_eq(c->tenants[0].gids[0], 54321);
        config_free(c);
}

Test(config, err_too_many_tenants) {
        expect_error("[Broker]\nMaxTenants=2\n[Tenant]\nName=a\n[Tenant]\nName=b\n[Tenant]\nName=c\n", 7,
                     "MaxTenants=2");
}

/* ---- limits ---- */

Test(config, line_length_limit) {
        char *buf = malloc(8192);
        Config *c;
        size_t n;

        cr_assert_not_null(buf);
        /* A comment line of exactly 4096 bytes is fine... */
        n = (size_t) sprintf(buf, "[Broker]\n");
        memset(buf + n, '#', 4096);
        n += 4096;
        buf[n++] = '\n';
        buf[n] = '\0';
        write_main(buf);
        c = load_ok();
        config_free(c);

        /* ...one more byte is not. */
        n = (size_t) sprintf(buf, "[Broker]\n");
        memset(buf + n, '#', 4097);
        n += 4097;
        buf[n++] = '\n';
        buf[n] = '\0';
        expect_error(buf, 2, "longer than 4096 bytes");
        free(buf);
}

Test(config, file_size_limit) {
        _cleanup_free_ char *err = NULL;
        size_t size = 1024 * 1024;
        char *buf = malloc(size + 1);
        Config *c = NULL;

        cr_assert_not_null(buf);
        /* Exactly 1 MiB of comments is accepted. */
        for (size_t i = 0; i < size; i += 64) {
                memset(buf + i, '#', 63);
                buf[i + 63] = '\n';
        }
        write_bytes(main_path, buf, size);
        c = load_ok();
        config_free(c);

        buf[size] = '\n';
        write_bytes(main_path, buf, size + 1);
        cr_assert_eq(config_load(main_path, NULL, &c, &err), -EINVAL);
        cr_assert_not_null(strstr(err, "is larger than 1048576 bytes"), "%s", err);
        cr_assert_eq(strncmp(err, main_path, strlen(main_path)), 0);
        free(buf);
}

Test(config, section_count_limit) {
        size_t size = 4097 * 9 + 1;
        char *buf = malloc(size);
        size_t n = 0;
        Config *c;

        cr_assert_not_null(buf);
        for (unsigned i = 0; i < 4096; i++)
                n += (size_t) sprintf(buf + n, "[Broker]\n");
        buf[n] = '\0';
        write_main(buf);
        c = load_ok();
        config_free(c);

        n += (size_t) sprintf(buf + n, "[Broker]\n");
        expect_error(buf, 4097, "more than 4096 sections");
        free(buf);
}

Test(config, err_nul_byte) {
        write_bytes(main_path, "[Broker]\nSystem\0Bus=yes\n", 24);
        expect_error_in(main_path, 2, "NUL byte");
}

Test(config, err_main_is_directory) {
        _cleanup_free_ char *err = NULL;
        Config *c = NULL;

        cr_assert_eq(mkdir(main_path, 0755), 0);
        cr_assert_eq(config_load(main_path, NULL, &c, &err), -EINVAL);
        cr_assert_not_null(strstr(err, "is not a regular file"), "%s", err);
}

Test(config, io_error_names_file) {
        _cleanup_free_ char *err = NULL;
        Config *c = NULL;
        char p[PATH_MAX * 2];

        /* A dangling drop-in symlink is skipped, but an unreadable drop-in
         * directory (here: a file where the directory should be) is an error. */
        write_bytes(dropin_dir, "x", 1);
        cr_assert_eq(config_load(NULL, dropin_dir, &c, &err), -ENOTDIR);
        cr_assert_not_null(strstr(err, dropin_dir), "%s", err);
        cr_assert_eq(unlink(dropin_dir), 0);

        cr_assert_eq(mkdir(dropin_dir, 0755), 0);
        snprintf(p, sizeof p, "%s/dangling.conf", dropin_dir);
        cr_assert_eq(symlink("/nonexistent/vfbroker", p), 0);
        c = load_ok();
        config_free(c);
}

Test(config, connection_slot_keys) {
        Config *c;

        write_main("[Broker]\nMaxConnections=64\nMaxConnectionsPerUser=4\nReservedConnections=10\nIdleTimeoutSec=30\n");
        c = load_ok();
        cr_assert_eq(c->max_connections_per_user, 4);
        cr_assert_eq(c->reserved_connections, 10);
        cr_assert_eq(c->idle_timeout_sec, 30);
        config_free(c);

        expect_error("[Broker]\nMaxConnections=8\nReservedConnections=8\n", 3,
                     "ReservedConnections=8 leaves no connection for anybody else under MaxConnections=8");
        /* Unset, the reservation shrinks with a small MaxConnections=: older files still load. */
        write_main("[Broker]\nMaxConnections=8\n");
        c = load_ok();
        cr_assert_eq(c->reserved_connections, 2);
        config_free(c);
        expect_error("[Broker]\nIdleTimeoutSec=0\n", 2, "IdleTimeoutSec");
        expect_error("[Broker]\nMaxConnectionsPerUser=0\n", 2, "MaxConnectionsPerUser");
}
