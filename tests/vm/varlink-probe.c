/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* varlink-probe: the VM suite's Varlink client for the call varlinkctl cannot
 * finish: AcquireVF, whose fds come with the reply. It acquires one VF over
 * io.vfbroker.Broker with sd-varlink, takes the fds by the reply's indexes
 * and execs COMMAND with them as `vfbrokerctl run` would (fds 3, 4, 5 and
 * VFBROKER_VF0_*, or fd 3 and 4 for api iommufd), so vf-probe proves them.
 * The exec keeps the pid, so COMMAND is the lease's holder. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-json.h>
#include <systemd/sd-varlink.h>
#include <unistd.h>

static int usage(void) {
        fprintf(stderr, "usage: varlink-probe [--socket PATH] [--api group|iommufd] TENANT -- COMMAND [ARG...]\n");
        return 2;
}

static int json_int(sd_json_variant *o, const char *key) {
        sd_json_variant *v = sd_json_variant_by_key(o, key);

        return v && sd_json_variant_is_integer(v) ? (int) sd_json_variant_integer(v) : -1;
}

static const char *json_str(sd_json_variant *o, const char *key) {
        sd_json_variant *v = sd_json_variant_by_key(o, key);

        return v && sd_json_variant_is_string(v) ? sd_json_variant_string(v) : NULL;
}

/* Puts a dup of the fd at reply index idx on target. */
static int place_fd(sd_varlink *v, int idx, int target) {
        int fd = sd_varlink_peek_dup_fd(v, (size_t) idx);

        if (fd < 0)
                return fd;
        if (dup2(fd, target) < 0) {
                close(fd);
                return -errno;
        }
        close(fd);
        return 0;
}

int main(int argc, char *argv[]) {
        const char *socket_path = "/run/vfbroker/io.vfbroker.Broker", *api = "group", *tenant = NULL;
        sd_varlink *v = NULL;
        sd_json_variant *reply = NULL;
        const char *error_id = NULL, *lease, *address;
        char buf[32];
        int i, r, container, group, device, iommu_group;
        bool iommufd;

        for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
                        socket_path = argv[++i];
                else if (strcmp(argv[i], "--api") == 0 && i + 1 < argc)
                        api = argv[++i];
                else if (strcmp(argv[i], "--") == 0)
                        break;
                else if (!tenant && argv[i][0] != '-')
                        tenant = argv[i];
                else
                        return usage();
        }
        if (!tenant || i + 1 >= argc)
                return usage();
        iommufd = strcmp(api, "iommufd") == 0;

        r = sd_varlink_connect_address(&v, socket_path);
        if (r < 0) {
                fprintf(stderr, "varlink-probe: cannot connect to %s: %s\n", socket_path, strerror(-r));
                return 1;
        }
        r = sd_varlink_set_allow_fd_passing_input(v, true);
        if (r < 0) {
                fprintf(stderr, "varlink-probe: cannot take fds: %s\n", strerror(-r));
                return 1;
        }
        r = sd_varlink_callbo(v, "io.vfbroker.Broker.AcquireVF", &reply, &error_id,
                              SD_JSON_BUILD_PAIR_STRING("tenant", tenant),
                              SD_JSON_BUILD_PAIR_STRING("api", api));
        if (r < 0) {
                fprintf(stderr, "varlink-probe: AcquireVF failed: %s\n", strerror(-r));
                return 1;
        }
        if (error_id) {
                const char *m = json_str(reply, "message");

                fprintf(stderr, "varlink-probe: AcquireVF: %s%s%s\n", error_id, m ? ": " : "", m ? m : "");
                return 1;
        }
        lease = json_str(reply, "lease");
        address = json_str(reply, "address");
        iommu_group = json_int(reply, "iommuGroup");
        container = json_int(reply, "containerFileDescriptor");
        group = json_int(reply, "groupFileDescriptor");
        device = json_int(reply, "deviceFileDescriptor");
        if (!lease || !address || iommu_group < 0 || container < 0 || group < 0 || device < 0) {
                fprintf(stderr, "varlink-probe: incomplete AcquireVF reply\n");
                return 1;
        }
        printf("varlink-probe: lease %s, VF %s, group %d, fd indexes %d %d %d\n", lease, address, iommu_group,
               container, group, device);
        fflush(stdout);

        setenv("VFBROKER_VF_COUNT", "1", 1);
        setenv("VFBROKER_VF0_ADDRESS", address, 1);
        setenv("VFBROKER_VF0_LEASE", lease, 1);
        snprintf(buf, sizeof buf, "%d", iommu_group);
        setenv("VFBROKER_VF0_IOMMU_GROUP", buf, 1);
        if (iommufd) {
                r = place_fd(v, container, 3);
                if (r >= 0)
                        r = place_fd(v, device, 4);
                setenv("VFBROKER_API", "iommufd", 1);
                setenv("VFBROKER_IOMMUFD_FD", "3", 1);
                setenv("VFBROKER_VF0_DEVICE_FD", "4", 1);
        } else {
                r = place_fd(v, container, 3);
                if (r >= 0)
                        r = place_fd(v, group, 4);
                if (r >= 0)
                        r = place_fd(v, device, 5);
                setenv("VFBROKER_API", "group", 1);
                setenv("VFBROKER_VF0_CONTAINER_FD", "3", 1);
                setenv("VFBROKER_VF0_GROUP_FD", "4", 1);
                setenv("VFBROKER_VF0_DEVICE_FD", "5", 1);
        }
        if (r < 0) {
                fprintf(stderr, "varlink-probe: the reply's fds are not there: %s\n", strerror(-r));
                return 1;
        }
        /* The connection goes with the exec (CLOEXEC); the lease stays, held by COMMAND. */
        execvp(argv[i + 1], argv + i + 1);
        fprintf(stderr, "varlink-probe: cannot run %s: %s\n", argv[i + 1], strerror(errno));
        return 127;
}
