/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI addresses ("0000:01:00.0"): parsing user input into the canonical form
 * sysfs uses, so that one device is never known under two names. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PCI_ADDRESS_MAX 13 /* "dddd:bb:dd.f" and the NUL */

/* Accepts "dddd:bb:dd.f" and the short "bb:dd.f" (domain 0), any hex case;
 * writes the canonical lower-case form with domain. -EINVAL otherwise. */
int pci_address_normalize(const char *s, char ret[static PCI_ADDRESS_MAX]);
bool pci_address_is_valid(const char *s);
/* Parses "vvvv:dddd" (hex vendor and device ids). */
int pci_id_pair_parse(const char *s, uint16_t *ret_vendor, uint16_t *ret_device);
