/* cJSON helpers that accept Triton's integer-as-string form (see json.h). */
#include "core/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

cJSON *json_parse(const char *text, size_t len, struct pa_err *err)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root)
        pa_errorf(err, PA_EPROTO, "failed to parse JSON");
    return root;
}

static int parse_int_string(const char *s, bool is_signed, int64_t *i, uint64_t *u,
                            struct pa_err *err)
{
    char *end = NULL;
    errno = 0;
    if (is_signed)
        *i = strtoll(s, &end, 10);
    else
        *u = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || (!is_signed && s[0] == '-'))
        return pa_errorf(err, PA_EPROTO, "unable to convert '%s' to integer", s);
    return PA_OK;
}

int json_to_i64(const cJSON *item, int64_t *out, struct pa_err *err)
{
    uint64_t unused;
    if (cJSON_IsNumber(item)) {
        /* Doubles outside [-2^63, 2^63) have no int64 value (converting them is UB). */
        if (!(item->valuedouble >= -9223372036854775808.0 &&
              item->valuedouble < 9223372036854775808.0))
            return pa_errorf(err, PA_EPROTO, "integer out of range for '%s'",
                             item->string ? item->string : "value");
        *out = (int64_t)item->valuedouble;
        return PA_OK;
    }
    if (cJSON_IsString(item))
        return parse_int_string(item->valuestring, true, out, &unused, err);
    return pa_errorf(err, PA_EPROTO, "expected an integer for '%s'",
                     item && item->string ? item->string : "value");
}

int json_to_u64(const cJSON *item, uint64_t *out, struct pa_err *err)
{
    int64_t unused;
    if (cJSON_IsNumber(item)) {
        if (!(item->valuedouble >= 0))
            return pa_errorf(err, PA_EPROTO, "expected a non-negative integer for '%s'",
                             item->string ? item->string : "value");
        if (item->valuedouble >= 18446744073709551616.0)
            return pa_errorf(err, PA_EPROTO, "integer out of range for '%s'",
                             item->string ? item->string : "value");
        *out = (uint64_t)item->valuedouble;
        return PA_OK;
    }
    if (cJSON_IsString(item))
        return parse_int_string(item->valuestring, false, &unused, out, err);
    return pa_errorf(err, PA_EPROTO, "expected an integer for '%s'",
                     item && item->string ? item->string : "value");
}

int json_get_i64_or(const cJSON *obj, const char *key, int64_t def, int64_t *out,
                    struct pa_err *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        *out = def;
        return PA_OK;
    }
    return json_to_i64(item, out, err);
}

int json_get_u64_or(const cJSON *obj, const char *key, uint64_t def, uint64_t *out,
                    struct pa_err *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        *out = def;
        return PA_OK;
    }
    return json_to_u64(item, out, err);
}

bool json_get_bool_or(const cJSON *obj, const char *key, bool def)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(item))
        return def;
    return cJSON_IsTrue(item);
}

const char *json_get_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

char *json_print(const cJSON *item)
{
    char *s = cJSON_PrintUnformatted(item);
    if (!s) {
        s = xstrdup("null");
    }
    return s;
}
