/*
 * json: JSON files with stable bytes, and typed getters whose errors name
 * the file and the member (jansson).
 */
#ifndef KILN_PLUGLIB_JSON_H
#define KILN_PLUGLIB_JSON_H

#include <stddef.h>

struct json_t;

/* Write j to path with sorted keys, two-space indent and %.9g reals. */
int kp_json_write(const char *path, const struct json_t *j, char *err);
/* Read the JSON file at path (a new reference), or NULL with err. */
struct json_t *kp_json_read(const char *path, char *err);
/* A real rounded to float precision so the text is stable. */
struct json_t *kp_json_real(double v);
/* The non-negative integer o[key] into *out; -1 with err naming `name`
 * (the file) when it is missing or mistyped. */
int kp_json_size(const struct json_t *o, const char *key, size_t *out,
	const char *name, char *err);
/* The list of strings o[key], copied into *out (n of them, free with
 * kp_strings_free); -1 with err when it is missing or mistyped. */
int kp_json_strings(const struct json_t *o, const char *key, char ***out,
	size_t *n, const char *name, char *err);
/* Free n strings and the array holding them. */
void kp_strings_free(char **s, size_t n);

#endif
