/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfbrokerctl's output: aligned tables for people and a small JSON writer
 * for programs (no dependency; strings escaped per RFC 8259). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct Table Table;

/* headers: n_columns column titles, copied. */
int table_new(Table **ret, size_t n_columns, const char * const *headers);
Table *table_free(Table *t);
/* Appends one cell; rows fill left to right. s is copied; NULL prints as "-". */
int table_add(Table *t, const char *s);
int table_addf(Table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t table_rows(const Table *t);
/* Prints the columns aligned; with legend, the header line first. */
int table_print(const Table *t, FILE *f, bool legend);

/* Streaming JSON: values are separated and nested by the writer, so callers
 * only say begin/end, key and value. Nesting deeper than JSON_DEPTH_MAX is
 * refused by the callers' structure (never needed here). */
#define JSON_DEPTH_MAX 16

typedef struct Json {
        FILE *f;
        unsigned depth;
        bool first[JSON_DEPTH_MAX];
        bool after_key;
} Json;

void json_init(Json *j, FILE *f);
void json_begin_object(Json *j);
void json_end_object(Json *j);
void json_begin_array(Json *j);
void json_end_array(Json *j);
void json_key(Json *j, const char *key);
void json_string(Json *j, const char *s);
void json_uint(Json *j, uint64_t v);
void json_int(Json *j, int64_t v);
void json_bool(Json *j, bool b);
/* Ends the document with a newline and flushes; returns -errno if writing failed. */
int json_finish(Json *j);
