/*
 * Helpers over cJSON for the shapes Triton's JSON takes.
 *
 * Integers in Triton JSON may arrive as numbers or as decimal strings
 * (protobuf's JSON mapping renders 64-bit integers as strings); json_get_i64
 * and json_get_u64 accept both. Getters return PA_OK, or PA_EPROTO with a
 * message naming the key when the value has the wrong type. A missing key is
 * not an error for the *_or variants: they return the default.
 */
#ifndef PA_CORE_JSON_H
#define PA_CORE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "pa/status.h"

/* Parses len bytes (need not be NUL-terminated). NULL plus err on bad JSON. */
cJSON *json_parse(const char *text, size_t len, struct pa_err *err);

/* Integer value of item (number or decimal string). */
PA_MUST_CHECK int json_to_i64(const cJSON *item, int64_t *out, struct pa_err *err);
PA_MUST_CHECK int json_to_u64(const cJSON *item, uint64_t *out, struct pa_err *err);

/* obj[key] as integer, or def when absent. */
PA_MUST_CHECK int json_get_i64_or(const cJSON *obj, const char *key, int64_t def, int64_t *out,
                                  struct pa_err *err);
PA_MUST_CHECK int json_get_u64_or(const cJSON *obj, const char *key, uint64_t def,
                                  uint64_t *out, struct pa_err *err);
/* obj[key] as bool, or def when absent or not a bool. */
bool json_get_bool_or(const cJSON *obj, const char *key, bool def);
/* obj[key] as string, or NULL when absent or not a string. Borrowed. */
const char *json_get_str(const cJSON *obj, const char *key);

/* Compact text (caller frees with free()). */
char *json_print(const cJSON *item);

#endif
