/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The io.vfbroker.Broker Varlink interface definition (varlink-interface.c). */
#pragma once

#include <systemd/sd-varlink-idl.h>

#include "protocol.h"

extern const sd_varlink_interface vl_interface_io_vfbroker_Broker;
