/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* make-fixture-tree DIR PFS VFS: the benchmark's fixture (fixture-tree.h) by
 * hand, e.g. to run vfbrokerd on it with --sysfs-root DIR/root --dev-root
 * DIR/dev and LD_PRELOAD=vfio-shim.so. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture-tree.h"

static int parse(const char *s, unsigned max, unsigned *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || !*s || *end || v > max)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned pfs, vfs;
        int r;

        if (argc != 4 || parse(argv[2], FIXTURE_TREE_PFS_MAX, &pfs) < 0 ||
            parse(argv[3], FIXTURE_TREE_VFS_MAX, &vfs) < 0) {
                fprintf(stderr, "Usage: make-fixture-tree DIR PFS VFS (PFS <= %u, VFS <= %u)\n",
                        FIXTURE_TREE_PFS_MAX, FIXTURE_TREE_VFS_MAX);
                return 2;
        }
        if (mkdir(argv[1], 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "mkdir %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        r = fixture_tree_create(argv[1], pfs, vfs);
        if (r < 0) {
                fprintf(stderr, "cannot build the fixture in %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        for (unsigned i = 0; i < pfs; i++) {
                char a[FIXTURE_TREE_ADDRESS_MAX];

                fixture_tree_pf_address(i, a);
                printf("%s\n", a);
        }
        return 0;
}
