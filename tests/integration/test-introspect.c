/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto/org.vfbroker.Broker1.xml is the contract: this test compares it,
 * method by method, argument by argument and property by property, with what
 * the running vfbrokerd introspects, on its socket and on the system bus
 * (SystemBus=yes), so the two cannot drift. */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static Broker b;

static void setup(void) {
        broker_prepare(&b, "");
        broker_start_bus(&b);
        broker_start(&b);
}

static void teardown(void) {
        broker_cleanup(&b);
}

static char *read_all(const char *path) {
        char *text = NULL;
        size_t size = 0;
        FILE *in = fopen(path, "re"), *out;
        int c;

        cr_assert_not_null(in, "cannot read %s", path);
        out = open_memstream(&text, &size);
        while ((c = fgetc(in)) != EOF)
                fputc(c, out);
        fclose(in);
        fclose(out);
        return text;
}

static void strip_comments(char *s) {
        char *start;

        while ((start = strstr(s, "<!--"))) {
                char *end = strstr(start, "-->");

                cr_assert_not_null(end, "unterminated XML comment");
                memmove(start, end + 3, strlen(end + 3) + 1);
        }
}

static void attribute(const char *tag_start, const char *tag_end, const char *name, char *buf, size_t size) {
        char key[64];
        const char *p;

        snprintf(key, sizeof key, " %s=\"", name);
        buf[0] = 0;
        p = strstr(tag_start, key);
        if (!p || p > tag_end)
                return;
        p += strlen(key);
        snprintf(buf, size, "%.*s", (int) (strchr(p, '"') - p), p);
}

static int compare_lines(const void *x, const void *y) {
        return strcmp(*(char *const *) x, *(char *const *) y);
}

/* One line per method (with its arguments in order), signal and property of
 * interface iface, sorted: member order does not matter, argument order does. */
static char *summarize(char *xml, const char *iface) {
        char marker[128], *text = NULL, *p, *end;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        char *lines[256], *sorted = NULL;
        size_t n = 0, sorted_size = 0;
        const char *method_dir_default = "in";

        strip_comments(xml);
        snprintf(marker, sizeof marker, "<interface name=\"%s\"", iface);
        p = strstr(xml, marker);
        cr_assert_not_null(p, "interface %s not found", iface);
        end = strstr(p, "</interface>");
        cr_assert_not_null(end);
        *end = 0;

        for (p = strchr(p + 1, '<'); p; p = strchr(p + 1, '<')) {
                char *tag_end = strchr(p, '>');
                char name[128], type[64], dir[16], access[16];

                if (!tag_end)
                        break;
                attribute(p, tag_end, "name", name, sizeof name);
                attribute(p, tag_end, "type", type, sizeof type);
                if (strncmp(p, "<method ", 8) == 0) {
                        fprintf(out, "\nmethod %s:", name);
                        method_dir_default = "in";
                } else if (strncmp(p, "<signal ", 8) == 0) {
                        fprintf(out, "\nsignal %s:", name);
                        method_dir_default = "out";
                } else if (strncmp(p, "<arg ", 5) == 0) {
                        attribute(p, tag_end, "direction", dir, sizeof dir);
                        fprintf(out, " %s %s %s,", name, type, dir[0] ? dir : method_dir_default);
                } else if (strncmp(p, "<property ", 10) == 0) {
                        attribute(p, tag_end, "access", access, sizeof access);
                        fprintf(out, "\nproperty %s %s %s", name, type, access);
                }
        }
        fclose(out);

        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < 256; line = strtok_r(NULL, "\n", &save))
                lines[n++] = line;
        qsort(lines, n, sizeof lines[0], compare_lines);
        out = open_memstream(&sorted, &sorted_size);
        for (size_t i = 0; i < n; i++)
                fprintf(out, "%s\n", lines[i]);
        fclose(out);
        free(text);
        return sorted;
}

static void compare_with_contract(char *live) {
        const char *proto_path = getenv("VFBROKER_PROTO_XML");
        char *contract, *a, *c;

        cr_assert_not_null(proto_path, "VFBROKER_PROTO_XML is not set (meson sets it)");
        contract = read_all(proto_path);

        a = summarize(live, "org.vfbroker.Broker1");
        c = summarize(contract, "org.vfbroker.Broker1");
        cr_assert(strstr(c, "method AcquireVF: tenant s in, options a{sv} in, lease s out,") != NULL, "the summary of the contract looks wrong:\n%s", c);
        cr_assert_str_eq(a, c, "the daemon and proto/org.vfbroker.Broker1.xml differ.\n--- daemon:\n%s--- proto:\n%s", a, c);

        free(a);
        free(c);
        free(contract);
}

Test(introspect, daemon_matches_proto_xml, .init = setup, .fini = teardown, .timeout = 30) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *xml;
        char *live;
        sd_bus *bus;

        bus = broker_connect(&b);
        cr_assert(sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.freedesktop.DBus.Introspectable",
                                     "Introspect", &error, &reply, "") >= 0, "%s", error.message);
        cr_assert(sd_bus_message_read(reply, "s", &xml) >= 0);
        live = strdup(xml);
        compare_with_contract(live);
        free(live);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}

static void setup_system_bus(void) {
        const char *policy = getenv("VFBROKER_DBUS_POLICY");

        cr_assert_not_null(policy, "VFBROKER_DBUS_POLICY is not set (meson sets it)");
        broker_prepare(&b, "[Broker]\nSystemBus=yes\n");
        broker_start_strict_bus(&b, policy);
        broker_start(&b);
}

/* As uid 65534, through the system bus's policy: the XML, or "" on failure. */
static void introspect_on_bus_as_nobody(char *buf, size_t size) {
        int p[2];
        pid_t pid;

        cr_assert(pipe2(p, O_CLOEXEC) == 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                sd_bus_message *reply = NULL;
                const char *xml = "";
                sd_bus *bus;
                int r = -1;

                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(3);
                bus = broker_connect_system(&b);
                /* The name is taken right after the socket is up. */
                for (int i = 0; i < 500 && r < 0; i++) {
                        r = sd_bus_call_method(bus, "org.vfbroker.Broker1", "/org/vfbroker/Broker1",
                                               "org.freedesktop.DBus.Introspectable", "Introspect", NULL, &reply, "");
                        if (r < 0)
                                usleep(10000);
                }
                if (r >= 0)
                        (void) sd_bus_message_read(reply, "s", &xml);
                if (write(p[1], xml, strlen(xml)) < 0)
                        _exit(4);
                _exit(0);
        }
        close(p[1]);
        size_t n = 0;
        ssize_t k;
        while (n + 1 < size && (k = read(p[0], buf + n, size - 1 - n)) > 0)
                n += (size_t) k;
        buf[n] = 0;
        close(p[0]);
        waitpid(pid, NULL, 0);
}

Test(introspect, system_bus_matches_proto_xml, .init = setup_system_bus, .fini = teardown, .timeout = 30) {
        static char live[65536];

        introspect_on_bus_as_nobody(live, sizeof live);
        cr_assert(live[0] != 0, "uid 65534 could not introspect org.vfbroker.Broker1 on the bus:\n%s", broker_log(&b));
        compare_with_contract(live);
}
