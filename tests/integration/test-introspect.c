/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* proto/org.vfbroker.Broker1.xml is the contract: this test compares it,
 * method by method, argument by argument and property by property, with what
 * the running vfbrokerd introspects, so the two cannot drift. */

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

Test(introspect, daemon_matches_proto_xml, .init = setup, .fini = teardown, .timeout = 30) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *xml, *proto_path = getenv("VFBROKER_PROTO_XML");
        char *live, *contract, *a, *c;
        sd_bus *bus;

        cr_assert_not_null(proto_path, "VFBROKER_PROTO_XML is not set (meson sets it)");
        bus = broker_connect(&b);
        cr_assert(sd_bus_call_method(bus, NULL, "/org/vfbroker/Broker1", "org.freedesktop.DBus.Introspectable",
                                     "Introspect", &error, &reply, "") >= 0, "%s", error.message);
        cr_assert(sd_bus_message_read(reply, "s", &xml) >= 0);
        live = strdup(xml);
        contract = read_all(proto_path);

        a = summarize(live, "org.vfbroker.Broker1");
        c = summarize(contract, "org.vfbroker.Broker1");
        cr_assert(strstr(c, "method AcquireVF: tenant s in, options a{sv} in, lease s out,") != NULL, "the summary of the contract looks wrong:\n%s", c);
        cr_assert_str_eq(a, c, "the daemon and proto/org.vfbroker.Broker1.xml differ.\n--- daemon:\n%s--- proto:\n%s", a, c);

        free(a);
        free(c);
        free(live);
        free(contract);
        sd_bus_message_unref(reply);
        sd_bus_flush_close_unref(bus);
}
