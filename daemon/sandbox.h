/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Sandbox: the seccomp allow-list vfbrokerd installs once start-up is done.
 * Anything not on the list fails with EPERM (why: daemon/sandbox.c; the
 * outer layer is SystemCallFilter= in units/vfbroker.service). Call it once,
 * after the sockets are bound, the PFs opened and the store open: no bind,
 * listen, exec, fork or non-UNIX socket works afterwards. */
#pragma once

/* -EOPNOTSUPP when built without libseccomp. */
int sandbox_install(void);
