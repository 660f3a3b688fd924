/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for common/: string arrays, tokens, PCI addresses, vendor:device
 * pairs, tenant names, lease ids and interface names, with their edge cases. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "names.h"
#include "pci-address.h"
#include "strv.h"
#include "uuid-util.h"

/* ---- strv ---- */

Test(strv, length) {
        char *l[] = { (char *) "a", (char *) "bc", (char *) "", NULL };

        cr_assert_eq(strv_length(NULL), 0);
        cr_assert_eq(strv_length(l), 3);
}

Test(strv, extend) {
        _cleanup_strv_free_ char **l = NULL;
        char buf[8];

        for (int i = 0; i < 100; i++) {
                snprintf(buf, sizeof buf, "x%d", i);
                cr_assert_eq(strv_extend(&l, buf), 0);
                cr_assert_eq(strv_length(l), (size_t) i + 1);
                cr_assert_null(l[i + 1]);
        }
        cr_assert_str_eq(l[0], "x0");
        cr_assert_str_eq(l[99], "x99");
        cr_assert_eq(strv_extend(&l, NULL), -EINVAL);
        cr_assert_eq(strv_length(l), 100);
}

/* ---- tokens ---- */

Test(token, generate_is_random_and_spelled_canonically) {
        Token a, b;
        char s[TOKEN_STRING_MAX];

        cr_assert_eq(token_generate(&a), 0);
        cr_assert_eq(token_generate(&b), 0);
        cr_assert_not(token_is_null(&a));
        cr_assert_neq(memcmp(a.bytes, b.bytes, TOKEN_SIZE), 0);
        /* Version 4, variant 1: what uuid_generate_random promises. */
        cr_assert_eq(a.bytes[6] >> 4, 4);
        cr_assert_eq(a.bytes[8] >> 6, 2);

        token_to_string(&a, s);
        cr_assert_eq(strlen(s), 36);
        for (size_t i = 0; i < 36; i++)
                cr_assert(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'));
}

Test(token, known_value_spelling) {
        static const Token t = { .bytes = {
                0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
        } };
        static const Token null_token;
        char s[TOKEN_STRING_MAX];

        cr_assert_str_eq(token_to_string(&t, s), "01234567-89ab-cdef-fedc-ba9876543210");
        cr_assert_not(token_is_null(&t));
        cr_assert(token_is_null(&null_token));
}

/* ---- PCI addresses ---- */

Test(pci, normalize_good) {
        static const struct { const char *in, *out; } good[] = {
                { "01:00.0", "0000:01:00.0" },
                { "0000:01:00.0", "0000:01:00.0" },
                { "ABCD:EF:1F.7", "abcd:ef:1f.7" },
                { "ffff:ff:1f.7", "ffff:ff:1f.7" },
                { "00:00.0", "0000:00:00.0" },
                { "0001:3b:02.3", "0001:3b:02.3" },
        };
        char buf[PCI_ADDRESS_MAX];

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                cr_assert_eq(pci_address_normalize(good[i].in, buf), 0, "refused \"%s\"", good[i].in);
                cr_assert_str_eq(buf, good[i].out);
                cr_assert(pci_address_is_valid(good[i].in));
        }
}

Test(pci, normalize_round_trips_every_bus_device_function) {
        static const unsigned domains[] = { 0x0000, 0x0001, 0x1234, 0xabcd, 0xffff };
        char want[PCI_ADDRESS_MAX], got[PCI_ADDRESS_MAX];

        /* The canonical form is written by hand: compare it with printf's. */
        for (size_t d = 0; d < ELEMENTSOF(domains); d++)
                for (unsigned bus = 0; bus < 256; bus++)
                        for (unsigned devfn = 0; devfn < 256; devfn++) {
                                snprintf(want, sizeof want, "%04x:%02x:%02x.%x", domains[d], bus, devfn >> 3, devfn & 7);
                                cr_assert_eq(pci_address_normalize(want, got), 0, "refused %s", want);
                                if (strcmp(got, want) != 0)
                                        cr_assert_fail("%s came out as %s", want, got);
                        }
}

Test(pci, normalize_bad) {
        static const char *const bad[] = {
                "", "0", "01:00", "01:00.", "1:00.0", "01:0.0", "001:00.0",
                "0000:01:20.0",   /* device > 0x1f */
                "0000:01:00.8",   /* function > 7 */
                "00000:01:00.0",  /* domain 5 digits */
                "000:01:00.0",    /* domain 3 digits */
                "0000:01:00.0x",  /* trailing junk */
                "0000:01:00.0 ",
                " 0000:01:00.0",
                "0000:01:00:0",
                "0000.01:00.0",
                "g000:01:00.0",
                "0000:-1:00.0",
                "0000:+1:00.0",
                "01:00.0\n",
                "../../../etc",
        };
        char buf[PCI_ADDRESS_MAX] = "untouched";

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                cr_assert_eq(pci_address_normalize(bad[i], buf), -EINVAL, "accepted \"%s\"", bad[i]);
                cr_assert_not(pci_address_is_valid(bad[i]));
        }
        cr_assert_str_eq(buf, "untouched");
        cr_assert_not(pci_address_is_valid(NULL));
}

Test(pci, id_pair) {
        uint16_t v = 0, d = 0;

        cr_assert_eq(pci_id_pair_parse("8086:10c9", &v, &d), 0);
        cr_assert_eq(v, 0x8086);
        cr_assert_eq(d, 0x10c9);
        cr_assert_eq(pci_id_pair_parse("FFFF:0000", &v, &d), 0);
        cr_assert_eq(v, 0xffff);
        cr_assert_eq(d, 0);

        static const char *const bad[] = {
                "", "8086", "8086:", ":10c9", "808:10c9", "8086:10c", "80866:10c9", "8086:10c99",
                "8086-10c9", "8086:10cg", "0x8086:10c9", " 8086:10c9", "8086:10c9 ",
        };
        v = d = 7;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_eq(pci_id_pair_parse(bad[i], &v, &d), -EINVAL, "accepted \"%s\"", bad[i]);
        cr_assert_eq(v, 7);
        cr_assert_eq(d, 7);
}

/* ---- names ---- */

Test(names, tenant) {
        char max[TENANT_NAME_MAX + 2];

        cr_assert(tenant_name_is_valid("acme"));
        cr_assert(tenant_name_is_valid("a"));
        cr_assert(tenant_name_is_valid("A_b.c-9"));
        cr_assert(tenant_name_is_valid("0day"));
        cr_assert(tenant_name_is_valid("a.."));

        memset(max, 'x', TENANT_NAME_MAX);
        max[TENANT_NAME_MAX] = '\0';
        cr_assert(tenant_name_is_valid(max), "64 characters must be accepted");
        max[TENANT_NAME_MAX] = 'x';
        max[TENANT_NAME_MAX + 1] = '\0';
        cr_assert_not(tenant_name_is_valid(max), "65 characters must be refused");

        static const char *const bad[] = {
                "", ".", "..", ".hidden", "-x", "--help", "a/b", "../x", "a b", "a\tb", "a\nb",
                "ä", "a:b", "a*", "a@b", "a$b", "a\\b",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                cr_assert_not(tenant_name_is_valid(bad[i]), "accepted \"%s\"", bad[i]);
        cr_assert_not(tenant_name_is_valid(NULL));
}

Test(names, lease_id) {
        char a[LEASE_ID_LENGTH + 1], b[LEASE_ID_LENGTH + 1];

        cr_assert_eq(lease_id_generate(a), 0);
        cr_assert_eq(lease_id_generate(b), 0);
        cr_assert_eq(strlen(a), LEASE_ID_LENGTH);
        cr_assert(lease_id_is_valid(a));
        cr_assert(lease_id_is_valid(b));
        cr_assert_str_neq(a, b);

        cr_assert(lease_id_is_valid("0123456789abcdef0123456789abcdef"));
        cr_assert_not(lease_id_is_valid("0123456789ABCDEF0123456789abcdef"));
        cr_assert_not(lease_id_is_valid("0123456789abcdef0123456789abcde"));
        cr_assert_not(lease_id_is_valid("0123456789abcdef0123456789abcdef0"));
        cr_assert_not(lease_id_is_valid("0123456789abcdef0123456789abcdeg"));
        cr_assert_not(lease_id_is_valid("../../../../../../../../etc/pass"));
        cr_assert_not(lease_id_is_valid(""));
        cr_assert_not(lease_id_is_valid(NULL));
}

Test(names, ifname) {
        cr_assert(ifname_is_valid("eth0"));
        cr_assert(ifname_is_valid("enp1s0f1"));
        cr_assert(ifname_is_valid("a"));
        cr_assert(ifname_is_valid("123456789012345"), "15 characters must be accepted");
        cr_assert(ifname_is_valid("a#b"));
        cr_assert(ifname_is_valid("..."));
        cr_assert_not(ifname_is_valid("1234567890123456"), "16 characters must be refused");
        cr_assert_not(ifname_is_valid(""));
        cr_assert_not(ifname_is_valid("."));
        cr_assert_not(ifname_is_valid(".."));
        cr_assert_not(ifname_is_valid("a/b"));
        cr_assert_not(ifname_is_valid("eth0:1"));
        cr_assert_not(ifname_is_valid("a b"));
        cr_assert_not(ifname_is_valid("a\tb"));
        cr_assert_not(ifname_is_valid("a\nb"));
        cr_assert_not(ifname_is_valid("\x7f"));
        cr_assert_not(ifname_is_valid(NULL));
}
