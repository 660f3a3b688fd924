/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the configuration parser: the input is the main
 * vfbroker.conf, optionally followed by a drop-in after a separator line. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz-util.h"
#include "log.h"
#include "names.h"

/* Everything after this line is the drop-in 50-fuzz.conf. */
#define DROPIN_SEPARATOR "\n--- 50-fuzz.conf ---\n"

static char *dir, *main_path, *dropin_dir, *dropin_path;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_setup_logs();
        dir = fuzz_make_temp_dir("config");
        if (asprintf(&main_path, "%s/vfbroker.conf", dir) < 0 ||
            asprintf(&dropin_dir, "%s/vfbroker.conf.d", dir) < 0 ||
            asprintf(&dropin_path, "%s/50-fuzz.conf", dropin_dir) < 0)
                abort();
        fuzz_mkdir(dropin_dir);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *sep = memmem(data, size, DROPIN_SEPARATOR, strlen(DROPIN_SEPARATOR));
        size_t main_size = sep ? (size_t) (sep - data) : size;
        Config *c = NULL;
        char *error = NULL;
        int r;

        fuzz_write_file(main_path, data, main_size);
        if (sep) {
                size_t off = main_size + strlen(DROPIN_SEPARATOR);
                fuzz_write_file(dropin_path, data + off, size - off);
        } else if (unlink(dropin_path) < 0 && errno != ENOENT)
                abort();

        r = config_load(main_path, dropin_dir, &c, &error);
        if (r >= 0) {
                /* What the daemon reads from a loaded configuration, so that a
                 * field the parser left unset shows up under ASan. */
                if (!c || error)
                        abort();
                for (size_t i = 0; i < c->n_pfs; i++) {
                        const ConfigPf *pf = &c->pfs[i];

                        if (!pf_mode_to_string(pf->mode) || !pf_driver_to_string(pf->driver) || !pf->source)
                                abort();
                        if (pf->match == PF_MATCH_ADDRESS && !pci_address_is_valid(pf->address))
                                abort();
                        if (pf->match == PF_MATCH_INTERFACE && !pf->interface)
                                abort();
                        if ((pf->mode == PF_MODE_DEDICATED) != !!pf->tenant)
                                abort();
                        if (pf->tenant && !config_find_tenant(c, pf->tenant))
                                abort();
                }
                for (size_t i = 0; i < c->n_tenants; i++) {
                        const ConfigTenant *t = &c->tenants[i];

                        if (!t->name || !tenant_name_is_valid(t->name) || !t->source)
                                abort();
                        if ((t->n_uids > 0 && !t->uids) || (t->n_gids > 0 && !t->gids))
                                abort();
                        for (size_t j = 0; j < t->n_uids; j++)
                                fuzz_touch(&t->uids[j], sizeof t->uids[j]);
                        for (size_t j = 0; j < t->n_gids; j++)
                                fuzz_touch(&t->gids[j], sizeof t->gids[j]);
                }
                if (c->n_tenants > c->max_tenants)
                        abort();
        } else if (r == -EINVAL && (!error || !strchr(error, ':')))
                /* The contract: a bad file is reported as one "FILE:LINE: what" line. */
                abort();
        else if (error && strchr(error, '\n'))
                abort();

        config_free(c);
        free(error);
        return 0;
}
