/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A main() for the fuzz targets in builds without libFuzzer (gcc, valgrind):
 * runs every file named, or every file in every directory named, once. So
 * the committed seeds and regression inputs run in every build. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz-util.h"

static int run_file(const char *path) {
        FILE *f = fopen(path, "re");
        unsigned char *data = NULL;
        size_t size = 0, allocated = 0;

        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        for (;;) {
                if (size == allocated) {
                        unsigned char *d = realloc(data, allocated = allocated ? allocated * 2 : 4096);
                        if (!d)
                                abort();
                        data = d;
                }
                size_t k = fread(data + size, 1, allocated - size, f);
                if (k == 0)
                        break;
                size += k;
        }
        fclose(f);
        fprintf(stderr, "running %s (%zu bytes)\n", path, size);
        (void) LLVMFuzzerTestOneInput(data, size);
        free(data);
        return 0;
}

static int cmp(const void *a, const void *b) {
        return strcmp(*(char * const *) a, *(char * const *) b);
}

static int run_dir(const char *path) {
        struct dirent **names;
        int n, r = 0;

        n = scandir(path, &names, NULL, NULL);
        if (n < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        qsort(names, (size_t) n, sizeof *names, cmp);
        for (int i = 0; i < n; i++) {
                char *p;

                if (names[i]->d_name[0] != '.' && asprintf(&p, "%s/%s", path, names[i]->d_name) >= 0) {
                        struct stat st;

                        if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && run_file(p) < 0)
                                r = -1;
                        free(p);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv) {
        unsigned runs = 0;
        int r = 0;

        (void) LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return EXIT_FAILURE;
                }
                if ((S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i])) < 0)
                        r = -1;
                runs++;
        }
        if (runs == 0) {
                fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
                return EXIT_FAILURE;
        }
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
