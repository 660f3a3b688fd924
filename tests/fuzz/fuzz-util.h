/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the fuzz targets share: a private temporary directory removed at
 * exit, whole-file writes, and log set-up. Failures here abort: a target
 * whose fixture is broken must not report "no crash". */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry points, declared for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The daemon logs at debug level (so every message is formatted, with
 * whatever a client put into it); $VFBROKER_FUZZ_LOG=0..7 overrides. The
 * runners pass -close_fd_mask=2 to keep the output quiet. */
void fuzz_setup_logs(void);

/* mkdtemp() below $TMPDIR (else /dev/shm, else /tmp), removed recursively at exit. */
char *fuzz_make_temp_dir(const char *what);
void fuzz_mkdir(const char *path);
void fuzz_write_file(const char *path, const void *data, size_t size);
void fuzz_write_string(const char *path, const char *s);
void fuzz_symlink(const char *target, const char *path);
void fuzz_remove_tree(const char *path);
/* Reads size bytes so ASan sees an out-of-bounds or freed buffer. */
void fuzz_touch(const void *p, size_t size);
