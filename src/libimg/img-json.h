/* A small streaming JSON writer for the tools' --json output: pretty
 * printed, strings escaped (labels and names come from hostile images and
 * may hold any byte; invalid UTF-8 is replaced with U+FFFD). */
#ifndef LIBIMG_IMG_JSON_H
#define LIBIMG_IMG_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define IMG_JSON_MAX_DEPTH 64

struct img_json {
  FILE *fp;
  int depth;
  bool first[IMG_JSON_MAX_DEPTH];
  bool after_key;
};

void img_json_init (struct img_json *j, FILE *fp);
void img_json_begin_object (struct img_json *j);
void img_json_end_object (struct img_json *j);
void img_json_begin_array (struct img_json *j);
void img_json_end_array (struct img_json *j);
void img_json_key (struct img_json *j, const char *key);
void img_json_string (struct img_json *j, const char *s);
void img_json_uint (struct img_json *j, uint64_t v);
void img_json_bool (struct img_json *j, bool v);
void img_json_null (struct img_json *j);
/* key + value shorthands; a NULL string is written as null. */
void img_json_kv_string (struct img_json *j, const char *key, const char *s);
void img_json_kv_uint (struct img_json *j, const char *key, uint64_t v);
void img_json_kv_bool (struct img_json *j, const char *key, bool v);
/* Ends the document with a newline. */
void img_json_finish (struct img_json *j);

#endif
