/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfbrokerctl's output: aligned tables for people and a small JSON writer
 * for programs. */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

struct Table {
        size_t n_columns;
        char **cells;   /* headers first, then the rows, row-major */
        size_t n_cells;
        size_t allocated;
};

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

static int table_push(Table *t, char *s) {
        if (t->n_cells == t->allocated) {
                size_t na = t->allocated ? t->allocated * 2 : 64;
                char **n = realloc(t->cells, na * sizeof(char *));

                if (!n) {
                        free(s);
                        return -ENOMEM;
                }
                t->cells = n;
                t->allocated = na;
        }
        t->cells[t->n_cells++] = s;
        return 0;
}

int table_new(Table **ret, size_t n_columns, const char * const *headers) {
        Table *t;

        if (n_columns == 0)
                return -EINVAL;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->n_columns = n_columns;
        for (size_t i = 0; i < n_columns; i++)
                if (table_add(t, headers[i]) < 0) {
                        table_free(t);
                        return -ENOMEM;
                }
        *ret = t;
        return 0;
}

/* Control characters would break the rows and columns (and could drive the
 * terminal), so cells show them C-escaped. */
static char *cell_escape(const char *s) {
        char *d = malloc(strlen(s) * 4 + 1), *p;

        if (!d)
                return NULL;
        p = d;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (*c == '\n')
                        p = stpcpy(p, "\\n");
                else if (*c == '\t')
                        p = stpcpy(p, "\\t");
                else if (*c < 0x20 || *c == 0x7f)
                        p += sprintf(p, "\\x%02x", *c);
                else
                        *p++ = (char) *c;
        *p = '\0';
        return d;
}

int table_add(Table *t, const char *s) {
        char *d = cell_escape(s ? s : "-");

        if (!d)
                return -ENOMEM;
        return table_push(t, d);
}

int table_addf(Table *t, const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = table_add(t, s);
        free(s);
        return r;
}

size_t table_rows(const Table *t) {
        return t->n_cells / t->n_columns - 1;
}

/* Display width in columns: counts UTF-8 sequences, not bytes, so names with
 * non-ASCII characters do not shift the columns after them. */
static size_t text_width(const char *s) {
        size_t w = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        w++;
        return w;
}

int table_print(const Table *t, FILE *f, bool legend) {
        size_t *widths, n_rows = t->n_cells / t->n_columns;

        widths = calloc(t->n_columns, sizeof(size_t));
        if (!widths)
                return -ENOMEM;
        for (size_t i = legend ? 0 : t->n_columns; i < n_rows * t->n_columns; i++) {
                size_t w = text_width(t->cells[i]);

                if (w > widths[i % t->n_columns])
                        widths[i % t->n_columns] = w;
        }
        for (size_t row = legend ? 0 : 1; row < n_rows; row++)
                for (size_t col = 0; col < t->n_columns; col++) {
                        const char *s = t->cells[row * t->n_columns + col];

                        if (col + 1 == t->n_columns)
                                fprintf(f, "%s\n", s);
                        else
                                fprintf(f, "%s%*s", s, (int) (widths[col] - text_width(s) + 2), "");
                }
        free(widths);
        return 0;
}

void json_init(Json *j, FILE *f) {
        *j = (Json) { .f = f };
        j->first[0] = true;
}

/* Writes the comma before a value or key unless it is the first in its
 * container or follows its key. */
static void json_separate(Json *j) {
        if (j->after_key) {
                j->after_key = false;
                return;
        }
        if (!j->first[j->depth])
                fputc(',', j->f);
        j->first[j->depth] = false;
}

static void json_open(Json *j, char c) {
        json_separate(j);
        fputc(c, j->f);
        if (j->depth + 1 < JSON_DEPTH_MAX)
                j->depth++;
        j->first[j->depth] = true;
}

static void json_close(Json *j, char c) {
        fputc(c, j->f);
        if (j->depth > 0)
                j->depth--;
}

void json_begin_object(Json *j) {
        json_open(j, '{');
}

void json_end_object(Json *j) {
        json_close(j, '}');
}

void json_begin_array(Json *j) {
        json_open(j, '[');
}

void json_end_array(Json *j) {
        json_close(j, ']');
}

static void json_write_string(Json *j, const char *s) {
        fputc('"', j->f);
        for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++)
                switch (*p) {
                case '"':  fputs("\\\"", j->f); break;
                case '\\': fputs("\\\\", j->f); break;
                case '\b': fputs("\\b", j->f); break;
                case '\f': fputs("\\f", j->f); break;
                case '\n': fputs("\\n", j->f); break;
                case '\r': fputs("\\r", j->f); break;
                case '\t': fputs("\\t", j->f); break;
                default:
                        if (*p < 0x20)
                                fprintf(j->f, "\\u%04x", *p);
                        else
                                fputc(*p, j->f);
                }
        fputc('"', j->f);
}

void json_key(Json *j, const char *key) {
        json_separate(j);
        json_write_string(j, key);
        fputc(':', j->f);
        j->after_key = true;
}

void json_string(Json *j, const char *s) {
        json_separate(j);
        json_write_string(j, s);
}

void json_uint(Json *j, uint64_t v) {
        json_separate(j);
        fprintf(j->f, "%" PRIu64, v);
}

void json_int(Json *j, int64_t v) {
        json_separate(j);
        fprintf(j->f, "%" PRIi64, v);
}

void json_bool(Json *j, bool b) {
        json_separate(j);
        fputs(b ? "true" : "false", j->f);
}

int json_finish(Json *j) {
        fputc('\n', j->f);
        if (fflush(j->f) != 0 || ferror(j->f))
                return errno > 0 ? -errno : -EIO;
        return 0;
}
