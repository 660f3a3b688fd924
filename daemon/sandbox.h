/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sandbox: the seccomp allow-list vfbrokerd installs once start-up is done.
 * Anything not on the list fails with EPERM (documented in the man page of
 * the service and in units/vfbroker.service). */
#pragma once

/* -EOPNOTSUPP when built without libseccomp. */
int sandbox_install(void);
