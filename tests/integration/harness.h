/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The integration harness: a private system bus with python-dbusmock's polkitd
 * template, a fixture sysfs tree and the real vfbrokerd binary on a temporary
 * socket. Everything lives in one temporary directory per test. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

typedef struct Broker {
        char dir[256];            /* temporary root of everything below */
        char socket_path[300];
        char state_dir[300];
        char config_file[300];
        char config_dir[300];
        char sysfs_root[300];
        char dev_root[300];
        char bus_address[400];    /* the private "system" bus */
        char log_path[300];       /* vfbrokerd's stderr */
        pid_t dbus_pid;
        pid_t polkit_pid;
        pid_t broker_pid;
} Broker;

/* Sets up the directory, the fixture tree (two SR-IOV PFs with 4 VFs each,
 * bound to vfio-pci) and writes config_text as vfbroker.conf. */
void broker_prepare(Broker *b, const char *config_text);
void broker_start_bus(Broker *b);
/* A bus with the default policy of dbus's system.conf plus policy_file (a
 * packaged policy such as policy/org.vfbroker.Broker1.conf). */
void broker_start_strict_bus(Broker *b, const char *policy_file);
void broker_start_polkit(Broker *b);
void broker_stop_polkit(Broker *b);
/* Starts vfbrokerd and waits for its socket; extra_args NULL-terminated. */
void broker_start(Broker *b);
/* The same with more arguments for vfbrokerd, NULL-terminated. */
void broker_start_with(Broker *b, const char *const *extra);
/* Starts vfbrokerd and returns its exit status (for start-up failures). */
int broker_run_expect_exit(Broker *b, const char *const *extra_args);
void broker_stop(Broker *b);
void broker_cleanup(Broker *b);

/* Calls org.freedesktop.DBus.Mock.SetAllowed on the polkit mock. */
void polkit_set_allowed(Broker *b, const char *const *actions);
void polkit_simulate_hang(Broker *b, bool hang);
/* Answers every check the mock holds back (with what SetAllowed says). */
void polkit_release_hanging(Broker *b);

/* A connection to the private system bus as the current process. */
sd_bus *broker_connect_system(Broker *b);
/* A peer-to-peer connection to the broker as the current process. */
sd_bus *broker_connect(Broker *b);

/* Result of a call made in a child running as uid 65534 (nobody). */
typedef struct CallResult {
        int ok;                   /* 1 when the method returned */
        char error_name[128];
        char error_message[512];
} CallResult;

/* Runs AcquireVF/CreateTenant/... as uid 65534 in a forked child:
 * method + signature + up to two string args (NULL ok). Options are empty. */
CallResult call_as_nobody(Broker *b, const char *method, const char *signature,
                          const char *arg1, const char *arg2);
CallResult call_as_root(Broker *b, const char *method, const char *signature,
                        const char *arg1, const char *arg2);

/* A digest of every row of every table of the broker's state.db. */
char *store_snapshot(Broker *b);
/* Reads the whole broker log. */
char *broker_log(Broker *b);
