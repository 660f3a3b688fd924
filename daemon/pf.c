/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pf / Vf: setting up a PF the broker owns (bind to vfio-pci, open, token,
 * sriov_numvfs, VF facts) and the VF state machine's draining step. */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lease.h"
#include "log.h"
#include "manager.h"
#include "pf.h"
#include "protocol.h"
#include "sysfs.h"
#include "strv.h"


static const char *const vf_state_table[_VF_STATE_MAX] = {
        [VF_FREE] = "free",
        [VF_LEASED] = "leased",
        [VF_DRAINING] = "draining",
        [VF_BROKEN] = "broken",
        [VF_REVOKING] = "revoking",
};

static const char *const pf_state_table[] = {
        [PF_READY] = "ready",
        [PF_BROKEN] = "broken",
        [PF_CHANGING] = "changing",
};

const char *pf_state_to_string(PfState s) {
        return s >= 0 && s < (int) ELEMENTSOF(pf_state_table) ? pf_state_table[s] : NULL;
}

const char *vf_state_to_string(VfState s) {
        return s >= 0 && s < _VF_STATE_MAX ? vf_state_table[s] : NULL;
}

int pf_new(Manager *m, const ConfigPf *config, const char *address, Pf **ret) {
        _cleanup_(pf_freep) Pf *pf = NULL;

        pf = calloc(1, sizeof *pf);
        if (!pf)
                return -ENOMEM;
        pf->manager = m;
        pf->config = config;
        pf->device_fd = -EBADF;
        pf->mode = config->mode;
        pf->state = PF_BROKEN;
        snprintf(pf->address, sizeof pf->address, "%s", address);
        if (config->interface) {
                pf->interface = strdup(config->interface);
                if (!pf->interface)
                        return -ENOMEM;
        }
        if (config->tenant) {
                pf->tenant = strdup(config->tenant);
                if (!pf->tenant)
                        return -ENOMEM;
        }
        pf->reason = strdup("not set up yet");
        if (!pf->reason)
                return -ENOMEM;

        *ret = TAKE_PTR(pf);
        return 0;
}

static void pf_clear_vfs(Pf *pf) {
        for (unsigned i = 0; i < pf->n_vfs; i++)
                if (pf->vfs[i].lease)
                        pf->vfs[i].lease = lease_free(pf->vfs[i].lease);
        pf->vfs = mfree_array(pf->vfs);
        pf->n_vfs = 0;
}

Pf *pf_free(Pf *pf) {
        if (!pf)
                return NULL;
        pf_clear_vfs(pf);
        safe_close(pf->device_fd);
        free(pf->interface);
        free(pf->tenant);
        free(pf->driver);
        free(pf->reason);
        free(pf);
        return NULL;
}

void pf_mark_broken(Pf *pf, int error, const char *format, ...) {
        char buf[512];
        va_list ap;
        int saved = errno;

        errno = error < 0 ? -error : error;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);
        errno = saved;

        pf->state = PF_BROKEN;
        free(pf->reason);
        pf->reason = strdup(buf);

        log_audit(LOG_ERR,
                  &(AuditEvent) {
                          .message_id = LOG_MESSAGE_ID_PF_STATE,
                          .action = "setup-pf",
                          .result = "broken",
                          .vf = pf->address,
                          .uid = -1,
                          .pid = -1,
                  },
                  "PF %s is broken: %s", pf->address, buf);
}

int pf_get_token(Pf *pf, Token *ret) {
        Manager *m = pf->manager;
        int r;

        if (pf->mode == PF_MODE_DEDICATED) {
                _cleanup_(store_tenant_freep) StoreTenant *t = NULL;

                r = store_tenant_get(m->store, pf->tenant, &t);
                if (r < 0)
                        return r;
                *ret = t->token;
                return 0;
        }

        _cleanup_(store_pf_freep) StorePf *spf = NULL;
        r = store_pf_get(m->store, pf->address, &spf);
        if (r == -ENOENT) {
                StorePf fresh = { .mode = (char *) "pool" };

                snprintf(fresh.address, sizeof fresh.address, "%s", pf->address);
                r = token_generate(&fresh.pool_token);
                if (r < 0)
                        return r;
                r = store_pf_put(m->store, &fresh);
                if (r < 0)
                        return r;
                *ret = fresh.pool_token;
                return 0;
        }
        if (r < 0)
                return r;
        *ret = spf->pool_token;
        return 0;
}

int vf_prepare_token(Vf *vf, const char *tenant, Token *ret) {
        Pf *pf = vf->pf;
        _cleanup_(store_tenant_freep) StoreTenant *t = NULL;
        int r;

        if (pf->mode == PF_MODE_DEDICATED || !pf_has_per_vf_tokens(pf))
                return pf_get_token(pf, ret);

        /* Pool PF with per-VF tokens: this VF opens with the tenant's own token from now on. */
        r = store_tenant_get(pf->manager->store, tenant, &t);
        if (r < 0)
                return r;
        r = sysfs_set_vf_token(pf->manager->sysfs, vf->address, &t->token);
        if (r < 0)
                return r;
        *ret = t->token;
        return 0;
}

void vf_clear_token(Vf *vf) {
        int r;

        if (vf->pf->mode == PF_MODE_DEDICATED || !pf_has_per_vf_tokens(vf->pf))
                return;
        /* Back to the PF token, which only the broker knows. */
        r = sysfs_set_vf_token(vf->pf->manager->sysfs, vf->address, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot clear the per-VF token of %s: %s; its last tenant's token still opens it.",
                                  vf->address, STRERROR(r));
}

int pf_apply_token(Pf *pf) {
        Token token;
        int r;

        r = pf_get_token(pf, &token);
        if (r < 0)
                return r;
        return vfio_set_vf_token(pf->device_fd, &token);
}

/* Makes the VFs sysfs listed the PF's VFs, all free but those without an
 * IOMMU group. */
static int pf_take_vfs(Pf *pf, const SysfsVf *list, size_t n) {
        _cleanup_free_ Vf *vfs = NULL;

        if (n > PF_VFS_MAX)
                return -E2BIG;

        vfs = calloc(MAX(n, 1), sizeof *vfs);
        if (!vfs)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                Vf *vf = &vfs[i];

                vf->pf = pf;
                vf->index = (unsigned) i;
                vf->state = VF_FREE;
                memcpy(vf->address, list[i].address, sizeof vf->address);
                if (list[i].iommu_group_error < 0) {
                        log_warning_errno(list[i].iommu_group_error,
                                          "VF %s of PF %s has no IOMMU group (%s); it cannot be leased.",
                                          vf->address, pf->address, STRERROR(list[i].iommu_group_error));
                        vf->state = VF_BROKEN;
                        continue;
                }
                vf->iommu_group = list[i].iommu_group;
                vf->numa_node = list[i].numa_node;
        }

        pf_clear_vfs(pf);
        pf->vfs = TAKE_PTR(vfs);
        pf->n_vfs = (unsigned) n;
        return 0;
}

static int pf_read_vfs(Pf *pf) {
        _cleanup_free_ SysfsVf *list = NULL;
        size_t n = 0;
        int r;

        r = sysfs_read_vfs(pf->manager->sysfs, pf->address, &list, &n);
        if (r < 0)
                return r;
        return pf_take_vfs(pf, list, n);
}

bool pf_any_vf_held(Pf *pf) {
        for (unsigned i = 0; i < pf->n_vfs; i++) {
                if (pf->vfs[i].state == VF_LEASED || pf->vfs[i].state == VF_DRAINING ||
                    pf->vfs[i].state == VF_REVOKING)
                        return true;
                if (pf->vfs[i].state == VF_BROKEN)
                        continue;
                if (vfio_group_is_free(pf->manager->vfio, pf->vfs[i].iommu_group) == 0)
                        return true;
        }
        return false;
}

/* Driver=auto: a PF already on one of our drivers keeps it (rebinding
 * would take its VFs away), otherwise the kmod/ variant driver when its
 * module is loaded (the sandboxed daemon loads no modules), else vfio-pci. */
static const char *pf_choose_driver(Pf *pf, const char *current) {
        switch (pf->config->driver) {
        case PF_DRIVER_VFIO_PCI:
                return PF_DRIVER_NAME_VFIO_PCI;
        case PF_DRIVER_VFBROKER_VFIO_PCI:
                return PF_DRIVER_NAME_KMOD;
        default:
                if (current && (streq(current, PF_DRIVER_NAME_VFIO_PCI) || streq(current, PF_DRIVER_NAME_KMOD)))
                        return current;
                return sysfs_module_loaded(pf->manager->sysfs, PF_DRIVER_NAME_KMOD) ? PF_DRIVER_NAME_KMOD
                                                                                    : PF_DRIVER_NAME_VFIO_PCI;
        }
}

static const char *const vf_api_table[_VF_API_MAX] = {
        [VF_API_GROUP] = VFBROKER_API_NAME_GROUP,
        [VF_API_IOMMUFD] = VFBROKER_API_NAME_IOMMUFD,
};

const char *vf_api_to_string(VfApi api) {
        return api >= 0 && api < _VF_API_MAX ? vf_api_table[api] : NULL;
}

int vf_api_from_string(const char *s) {
        for (int i = 0; i < _VF_API_MAX; i++)
                if (streq_ptr(s, vf_api_table[i]))
                        return i;
        return -EINVAL;
}

const char *pf_iommufd_refusal(const Pf *pf, char *buf, size_t size) {
        Manager *m = pf->manager;
        char cdev[SYSFS_CDEV_NAME_MAX];

        if (!m->iommufd_available)
                return "this kernel has no IOMMUFD and VFIO cdev (CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV; "
                       "Debian's kernels have both off): use API \"group\"";
        if (pf->n_vfs == 0 || sysfs_get_vf_cdev_name(m->sysfs, pf->vfs[0].address, cdev) < 0) {
                snprintf(buf, size, "the VFs of PF %s have no VFIO cdev (no vfio-dev/ in sysfs): use API \"group\"",
                         pf->address);
                return buf;
        }
        if (streq_ptr(pf->driver, PF_DRIVER_NAME_KMOD)) {
                /* Before 6.17 nothing checks a token at bind: no arming to do
                 * (the module answers EOPNOTSUPP there). */
                if (!m->kernel_checks_cdev_token || sysfs_driver_can_arm(m->sysfs))
                        return NULL;
                return "the loaded vfbroker_vfio_pci has no vfbroker_arm attribute, which lets a VMM bind a leased VF "
                       "without its token: load the module that comes with this vfbroker, or use API \"group\"";
        }
        /* A dedicated PF's owner knows the token (GetTenantToken) and can bind
         * with it; a pool PF's token is the broker's secret. */
        if (!m->kernel_checks_cdev_token || pf->mode == PF_MODE_DEDICATED)
                return NULL;
        snprintf(buf, size,
                 "kernel %s wants the VF token when a VF's cdev is bound (since 6.17), and stock VMMs such as QEMU "
                 "send none, while the token of pool PF %s is the broker's secret: put the PF on the variant "
                 "driver (Driver=vfbroker_vfio_pci in its section of vfbroker.conf, see kmod/), or use API \"group\"",
                 m->kernel_release, pf->address);
        return buf;
}

bool pf_has_per_vf_tokens(const Pf *pf) {
        return streq_ptr(pf->driver, PF_DRIVER_NAME_KMOD);
}

bool pf_has_revocation(const Pf *pf) {
        return streq_ptr(pf->driver, PF_DRIVER_NAME_KMOD);
}

int pf_setup(Pf *pf, int stored_fd) {
        Manager *m = pf->manager;
        _cleanup_close_ int fd = stored_fd;
        _cleanup_free_ char *driver = NULL;
        _cleanup_free_ SysfsVf *vf_list = NULL;
        size_t n_vf_list = 0;
        const char *want;
        unsigned group, num_vfs = 0;
        Token token;
        int r;

        if (!sysfs_device_exists(m->sysfs, pf->address)) {
                pf_mark_broken(pf, ENODEV, "no PCI device %s in %s/sys/bus/pci/devices; check Address= in the configuration",
                               pf->address, sysfs_root(m->sysfs));
                return -ENODEV;
        }

        r = sysfs_get_total_vfs(m->sysfs, pf->address, &pf->total_vfs);
        if (r < 0) {
                pf_mark_broken(pf, r, "%s is not an SR-IOV physical function (no sriov_totalvfs: %s)", pf->address, STRERROR(r));
                return r;
        }
        if (pf->config->num_vfs > pf->total_vfs) {
                pf_mark_broken(pf, EINVAL, "NumVFs=%u is more than the device supports (sriov_totalvfs=%u); lower NumVFs= (%s)",
                               pf->config->num_vfs, pf->total_vfs, strna(pf->config->source));
                return -EINVAL;
        }

        r = sysfs_get_driver(m->sysfs, pf->address, &driver);
        if (r < 0 && r != -ENOENT) {
                pf_mark_broken(pf, r, "cannot read the driver of %s: %s", pf->address, STRERROR(r));
                return r;
        }
        want = pf_choose_driver(pf, driver);

        if (fd >= 0 && vfio_device_is_pci(fd) <= 0) {
                log_warning("PF %s: the fd in systemd's fd store is not a VFIO PCI device; opening the PF afresh.", pf->address);
                (void) manager_drop_stored_pf_fd(m, pf->address);
                fd = safe_close(fd);
        }
        if (fd >= 0 && driver && streq(driver, want))
                log_info("PF %s: taking back its VFIO fd from systemd's fd store.", pf->address);
        else {
                if (fd >= 0)
                        (void) manager_drop_stored_pf_fd(m, pf->address);
                fd = safe_close(fd);

                /* Rebinding disables the VFs, which blocks while anybody holds one. */
                if (driver && !streq(driver, want) &&
                    (streq(driver, PF_DRIVER_NAME_VFIO_PCI) || streq(driver, PF_DRIVER_NAME_KMOD)) &&
                    pf_read_vfs(pf) >= 0 && pf_any_vf_held(pf)) {
                        pf_mark_broken(pf, EBUSY, "%s is bound to %s but the configuration wants %s, and some of its VFs are in use; "
                                       "switch drivers once they are closed", pf->address, driver, want);
                        return -EBUSY;
                }

                r = sysfs_bind_driver(m->sysfs, pf->address, want);
                if (r < 0) {
                        pf_mark_broken(pf, r, "cannot bind %s to %s: %s; is the %s module loaded?",
                                       pf->address, want, STRERROR(r), want);
                        return r;
                }
        }

        r = sysfs_enable_sriov_parameter(m->sysfs, want);
        if (r < 0) {
                pf_mark_broken(pf, r, "cannot turn on enable_sriov of %s: %s; set 'options %s enable_sriov=1' in modprobe.d",
                               want, STRERROR(r), want);
                return r;
        }

        r = pf_get_token(pf, &token);
        if (r < 0) {
                pf_mark_broken(pf, r, "cannot get the VF token for %s from the store: %s", pf->address, STRERROR(r));
                return r;
        }

        if (fd < 0) {
                r = sysfs_get_iommu_group(m->sysfs, pf->address, &group);
                if (r < 0) {
                        pf_mark_broken(pf, r, "%s has no IOMMU group (%s); boot with the IOMMU on (intel_iommu=on / amd_iommu=on)", pf->address, STRERROR(r));
                        return r;
                }
                r = vfio_open_pf_with_token(m->vfio, group, pf->address, &token, &fd);
                if (r < 0) {
                        pf_mark_broken(pf, r, "cannot open %s through VFIO (group %u): %s", pf->address, group, STRERROR(r));
                        return r;
                }
        }

        r = vfio_set_vf_token(fd, &token);
        if (r < 0) {
                pf_mark_broken(pf, r, "cannot set the VF token of %s: %s", pf->address, STRERROR(r));
                return r;
        }

        safe_close(pf->device_fd);
        pf->device_fd = TAKE_FD(fd);
        (void) manager_store_pf_fd(m, pf);

        r = sysfs_get_num_vfs(m->sysfs, pf->address, &num_vfs);
        if (r < 0) {
                pf_mark_broken(pf, r, "cannot read sriov_numvfs of %s: %s", pf->address, STRERROR(r));
                return r;
        }

        if (num_vfs != pf->config->num_vfs) {
                /* Reads the VFs that exist, so a VF still held after a restart
                 * is never yanked away: writing sriov_numvfs would block on it. */
                r = pf_read_vfs(pf);
                if (r >= 0 && pf_any_vf_held(pf))
                        log_warning("PF %s: keeping %u VFs instead of NumVFs=%u, some are still in use.",
                                    pf->address, num_vfs, pf->config->num_vfs);
                else {
                        r = sysfs_set_num_vfs(m->sysfs, pf->address, pf->config->num_vfs);
                        if (r < 0) {
                                pf_mark_broken(pf, r, "cannot write sriov_numvfs=%u of %s: %s", pf->config->num_vfs, pf->address, STRERROR(r));
                                return r;
                        }
                }
        }

        /* The pass that sees every VF bound also reads their facts: each VF
         * is looked at once, from the PF's directory. */
        r = sysfs_wait_vfs_bound_read(m->sysfs, pf->address, want, VF_BIND_TIMEOUT_USEC, &vf_list, &n_vf_list);
        if (r < 0) {
                pf_mark_broken(pf, r, "the VFs of %s did not bind to %s: %s", pf->address, want, STRERROR(r));
                return r;
        }

        r = pf_take_vfs(pf, vf_list, n_vf_list);
        if (r < 0) {
                pf_mark_broken(pf, r, "cannot read the VFs of %s: %s", pf->address, STRERROR(r));
                return r;
        }

        free(pf->driver);
        pf->driver = strdup(want);
        if (!pf->driver)
                return -ENOMEM;
        pf->state = PF_READY;
        pf->reason = mfree(pf->reason);

        log_audit(LOG_INFO,
                  &(AuditEvent) {
                          .message_id = LOG_MESSAGE_ID_PF_STATE,
                          .action = "setup-pf",
                          .result = "ready",
                          .vf = pf->address,
                          .tenant = pf->tenant,
                          .uid = -1,
                          .pid = -1,
                  },
                  "PF %s ready: %s, %u VFs, %s mode.", pf->address, want, pf->n_vfs, pf_mode_to_string(pf->mode));
        return 0;
}

int pf_reload_vfs(Pf *pf) {
        return pf_read_vfs(pf);
}

unsigned pf_count_vfs(const Pf *pf, VfState state) {
        unsigned n = 0;

        for (unsigned i = 0; i < pf->n_vfs; i++)
                if (pf->vfs[i].state == state)
                        n++;
        return n;
}

static bool vf_matches(const Vf *vf, const VfFilter *f, bool dedicated_pass) {
        const Pf *pf = vf->pf;

        if (pf->state != PF_READY || vf->state != VF_FREE)
                return false;
        if (f->pf && !streq(pf->address, f->pf))
                return false;
        if (f->numa_node >= 0 && vf->numa_node != f->numa_node)
                return false;
        if (dedicated_pass)
                return pf->mode == PF_MODE_DEDICATED && streq_ptr(pf->tenant, f->tenant);
        return pf->mode == PF_MODE_POOL;
}

static bool pf_offers_api(const Pf *pf, VfApi api) {
        char buf[512];

        return api == VF_API_GROUP || !pf_iommufd_refusal(pf, buf, sizeof buf);
}

Vf *pf_table_find_free_vf(Pf *const *pfs, size_t n_pfs, const VfFilter *filter) {
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n_pfs; i++) {
                        int offered = -1;       /* asked once per PF, and only if a VF matches */

                        for (unsigned j = 0; j < pfs[i]->n_vfs; j++) {
                                if (!vf_matches(&pfs[i]->vfs[j], filter, pass == 0))
                                        continue;
                                if (offered < 0)
                                        offered = pf_offers_api(pfs[i], filter->api);
                                if (!offered)
                                        break;
                                return &pfs[i]->vfs[j];
                        }
                }
        return NULL;
}
