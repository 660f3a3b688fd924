/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test-only fake of vfbrokerd's bus side: org.vfbroker.Broker1 with canned
 * data, served peer-to-peer on a temporary UNIX socket by a child process. */
#pragma once

#include <sys/types.h>

typedef enum FakeMode {
        FAKE_NORMAL,
        FAKE_TOO_MANY,  /* list replies one entry longer than VFBROKER_LIST_MAX */
        FAKE_BAD_TYPE,  /* ListVirtualFunctions sends "Index" as a string */
} FakeMode;

typedef struct FakeBroker {
        pid_t pid;
        char dir[64];           /* the temporary directory holding the socket and log */
        char socket_path[128];
        char log_path[128];     /* one line per call the fake answered */
} FakeBroker;

/* Binds the socket, then forks the server, so a client may connect as soon as
 * this returns. Returns 0 or a negative errno. */
int fake_broker_start(FakeBroker *f, FakeMode mode);
/* Kills the server (as a crash would) and reaps it; the socket file stays. */
void fake_broker_kill(FakeBroker *f);
/* Starts a new server on the same socket path (the broker restarted). */
int fake_broker_restart(FakeBroker *f, FakeMode mode);
/* Kills the server and removes the directory. */
void fake_broker_stop(FakeBroker *f);
/* The log so far, malloc'ed ("" if empty); NULL on error. */
char *fake_broker_log(const FakeBroker *f);
