/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fixture sysfs tree builder and the write() log used by test-sysfs and
 * test-vfio. Test-only code: nothing here is linked into the daemon. */

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

Fixture *fixture_new(void) {
        const char *tmp = getenv("TMPDIR");
        char templ[PATH_MAX];
        Fixture *f;

        snprintf(templ, sizeof templ, "%s/vfb-sysfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        cr_assert_not_null(mkdtemp(templ), "mkdtemp(%s): %s", templ, strerror(errno));

        f = calloc(1, sizeof(*f));
        cr_assert_not_null(f);
        /* The write log compares against /proc/self/fd links, which are resolved. */
        f->root = realpath(templ, NULL);
        cr_assert_not_null(f->root);

        fixture_mkdir(f, "sys/devices/pci0000:00");
        fixture_mkdir(f, "sys/bus/pci/devices");
        fixture_mkdir(f, "sys/bus/pci/drivers");
        fixture_mkdir(f, "sys/kernel/iommu_groups");
        fixture_mkdir(f, "sys/module");
        fixture_write(f, "sys/bus/pci/drivers_probe", "");
        return f;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) ftw;
        return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void fixture_free(Fixture *f) {
        if (!f)
                return;
        (void) nftw(f->root, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
        free(f->root);
        free(f);
}

char *fixture_path(const Fixture *f, const char *rel) {
        char *p;

        cr_assert(asprintf(&p, "%s/%s", f->root, rel) >= 0);
        return p;
}

void fixture_write(const Fixture *f, const char *rel, const char *content) {
        char *p = fixture_path(f, rel);
        FILE *file = fopen(p, "we");

        cr_assert_not_null(file, "fopen(%s): %s", p, strerror(errno));
        cr_assert(fputs(content, file) >= 0 || !*content);
        cr_assert_eq(fclose(file), 0);
        free(p);
}

char *fixture_read(const Fixture *f, const char *rel) {
        char *p = fixture_path(f, rel), *buf = NULL;
        size_t size = 0;
        FILE *file = fopen(p, "re");

        free(p);
        if (!file)
                return NULL;
        FILE *mem = open_memstream(&buf, &size);
        cr_assert_not_null(mem);
        for (int c; (c = fgetc(file)) != EOF;)
                fputc(c, mem);
        fclose(file);
        cr_assert_eq(fclose(mem), 0);
        return buf;
}

void fixture_mkdir(const Fixture *f, const char *rel) {
        char *p = fixture_path(f, rel);

        /* mkdir -p */
        for (char *s = p + strlen(f->root) + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                cr_assert(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir(%s): %s", p, strerror(errno));
                *s = '/';
        }
        cr_assert(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir(%s): %s", p, strerror(errno));
        free(p);
}

void fixture_symlink(const Fixture *f, const char *target, const char *rel) {
        char *p = fixture_path(f, rel);

        (void) unlink(p);
        cr_assert_eq(symlink(target, p), 0, "symlink(%s, %s): %s", target, p, strerror(errno));
        free(p);
}

void fixture_unlink(const Fixture *f, const char *rel) {
        char *p = fixture_path(f, rel);

        cr_assert(unlink(p) == 0 || errno == ENOENT);
        free(p);
}

static char *real_device_dir(const char *bdf) {
        char *p;

        cr_assert(asprintf(&p, "sys/devices/pci0000:00/%s", bdf) >= 0);
        return p;
}

char *fixture_device_attr(const Fixture *f, const char *bdf, const char *attr) {
        char *p;

        (void) f;
        cr_assert(asprintf(&p, "sys/bus/pci/devices/%s/%s", bdf, attr) >= 0);
        return p;
}

static void device_write(const Fixture *f, const char *bdf, const char *attr, const char *content) {
        char *rel = fixture_device_attr(f, bdf, attr);

        fixture_write(f, rel, content);
        free(rel);
}

void fixture_add_pci(const Fixture *f, const char *bdf, uint16_t vendor, uint16_t device) {
        char *dir = real_device_dir(bdf), *link, *target, buf[32];

        fixture_mkdir(f, dir);
        cr_assert(asprintf(&link, "sys/bus/pci/devices/%s", bdf) >= 0);
        cr_assert(asprintf(&target, "../../../devices/pci0000:00/%s", bdf) >= 0);
        fixture_symlink(f, target, link);

        snprintf(buf, sizeof buf, "0x%04x\n", vendor);
        device_write(f, bdf, "vendor", buf);
        snprintf(buf, sizeof buf, "0x%04x\n", device);
        device_write(f, bdf, "device", buf);
        device_write(f, bdf, "numa_node", "-1\n");
        device_write(f, bdf, "driver_override", "(null)\n");
        free(dir);
        free(link);
        free(target);
}

void fixture_add_pf(const Fixture *f, const char *bdf, uint16_t vendor, uint16_t device,
                    unsigned totalvfs, unsigned numvfs) {
        char buf[32];

        fixture_add_pci(f, bdf, vendor, device);
        snprintf(buf, sizeof buf, "%u\n", totalvfs);
        device_write(f, bdf, "sriov_totalvfs", buf);
        snprintf(buf, sizeof buf, "%u\n", numvfs);
        device_write(f, bdf, "sriov_numvfs", buf);
}

void fixture_add_vf(const Fixture *f, const char *pf, unsigned index, const char *vf,
                    uint16_t vendor, uint16_t device) {
        char *rel, *target;

        fixture_add_pci(f, vf, vendor, device);
        cr_assert(asprintf(&rel, "sys/devices/pci0000:00/%s/virtfn%u", pf, index) >= 0);
        cr_assert(asprintf(&target, "../%s", vf) >= 0);
        fixture_symlink(f, target, rel);
        free(rel);
        free(target);
        cr_assert(asprintf(&rel, "sys/devices/pci0000:00/%s/physfn", vf) >= 0);
        cr_assert(asprintf(&target, "../%s", pf) >= 0);
        fixture_symlink(f, target, rel);
        free(rel);
        free(target);
}

void fixture_set_driver(const Fixture *f, const char *bdf, const char *driver) {
        char *rel, *target, *dir = real_device_dir(bdf);

        cr_assert(asprintf(&rel, "%s/driver", dir) >= 0);
        if (!driver) {
                fixture_unlink(f, rel);
                free(rel);
                free(dir);
                return;
        }

        cr_assert(asprintf(&target, "sys/bus/pci/drivers/%s", driver) >= 0);
        fixture_mkdir(f, target);
        free(target);
        cr_assert(asprintf(&target, "sys/bus/pci/drivers/%s/unbind", driver) >= 0);
        fixture_write(f, target, "");
        free(target);
        cr_assert(asprintf(&target, "sys/bus/pci/drivers/%s/bind", driver) >= 0);
        fixture_write(f, target, "");
        free(target);

        cr_assert(asprintf(&target, "../../../bus/pci/drivers/%s", driver) >= 0);
        fixture_symlink(f, target, rel);
        free(target);
        free(rel);
        free(dir);
}

void fixture_set_iommu_group(const Fixture *f, const char *bdf, unsigned group) {
        char *rel, *target, *dir = real_device_dir(bdf);

        cr_assert(asprintf(&target, "sys/kernel/iommu_groups/%u", group) >= 0);
        fixture_mkdir(f, target);
        free(target);
        cr_assert(asprintf(&rel, "%s/iommu_group", dir) >= 0);
        cr_assert(asprintf(&target, "../../../kernel/iommu_groups/%u", group) >= 0);
        fixture_symlink(f, target, rel);
        free(target);
        free(rel);
        free(dir);
}

void fixture_add_net(const Fixture *f, const char *bdf, const char *ifname) {
        char *rel, *dir = real_device_dir(bdf);

        cr_assert(asprintf(&rel, "%s/net/%s", dir, ifname) >= 0);
        fixture_mkdir(f, rel);
        free(rel);
        free(dir);
}

void fixture_add_module_param(const Fixture *f, const char *module, const char *param,
                              const char *value) {
        char *rel;

        cr_assert(asprintf(&rel, "sys/module/%s/parameters", module) >= 0);
        fixture_mkdir(f, rel);
        free(rel);
        cr_assert(asprintf(&rel, "sys/module/%s/parameters/%s", module, param) >= 0);
        fixture_write(f, rel, value);
        free(rel);
}

/* ---- write() log ---- */

#define WRITE_LOG_MAX 128

static char *log_root;
static char *log_entries[WRITE_LOG_MAX];
static size_t log_n;

ssize_t __real_write(int fd, const void *buf, size_t n);

ssize_t __wrap_write(int fd, const void *buf, size_t n) {
        char link[64], target[PATH_MAX];
        size_t rl;
        ssize_t k;

        if (log_root && log_n < WRITE_LOG_MAX) {
                snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                k = readlink(link, target, sizeof target - 1);
                rl = strlen(log_root);
                if (k > 0) {
                        target[k] = '\0';
                        if (strncmp(target, log_root, rl) == 0 && target[rl] == '/') {
                                char *e;

                                if (asprintf(&e, "%s=%.*s", target + rl + 1, (int) n, (const char *) buf) >= 0)
                                        log_entries[log_n++] = e;
                        }
                }
        }
        return __real_write(fd, buf, n);
}

void write_log_clear(void) {
        for (size_t i = 0; i < log_n; i++)
                free(log_entries[i]);
        log_n = 0;
}

void write_log_start(const Fixture *f) {
        write_log_clear();
        free(log_root);
        log_root = strdup(f->root);
        cr_assert_not_null(log_root);
}

void write_log_stop(void) {
        free(log_root);
        log_root = NULL;
}

size_t write_log_count(void) {
        return log_n;
}

const char *write_log_get(size_t i) {
        return i < log_n ? log_entries[i] : NULL;
}

unsigned count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        unsigned n = 0;

        cr_assert_not_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the directory's own fd */
}
