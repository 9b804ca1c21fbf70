/*
 * Generic protobuf-c -> cJSON conversion driven by the message descriptors
 * (see grpc_json.h for the mapping). Field values are read through memcpy
 * at the descriptor's offsets, so any generated message works, including
 * ones added to proto/ later.
 */
#include "client/grpc_json.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/xalloc.h"
#include "core/banned.h"

#define EXACT_DOUBLE_MAX 9007199254740992.0 /* 2^53 */

static cJSON *must(cJSON *j)
{
    if (!j) {
        fputs("perf_analyzer: out of memory\n", stderr);
        abort();
    }
    return j;
}

static cJSON *json_i64(int64_t v)
{
    if ((double)v <= EXACT_DOUBLE_MAX && (double)v >= -EXACT_DOUBLE_MAX)
        return must(cJSON_CreateNumber((double)v));
    char s[24];
    snprintf(s, sizeof(s), "%" PRId64, v);
    return must(cJSON_CreateString(s));
}

static cJSON *json_u64(uint64_t v)
{
    if ((double)v <= EXACT_DOUBLE_MAX)
        return must(cJSON_CreateNumber((double)v));
    char s[24];
    snprintf(s, sizeof(s), "%" PRIu64, v);
    return must(cJSON_CreateString(s));
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* One scalar (or message) value stored at p. */
static cJSON *value_json(const ProtobufCFieldDescriptor *f, const unsigned char *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int32_t v;
        memcpy(&v, p, sizeof(v));
        return must(cJSON_CreateNumber(v));
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return must(cJSON_CreateNumber(v));
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t v;
        memcpy(&v, p, sizeof(v));
        return json_i64(v);
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return json_u64(v);
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        float v;
        memcpy(&v, p, sizeof(v));
        return must(cJSON_CreateNumber((double)v));
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v;
        memcpy(&v, p, sizeof(v));
        return must(cJSON_CreateNumber(v));
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean v;
        memcpy(&v, p, sizeof(v));
        return must(cJSON_CreateBool(v != 0));
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int v;
        memcpy(&v, p, sizeof(v));
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        return ev ? must(cJSON_CreateString(ev->name)) : must(cJSON_CreateNumber(v));
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s;
        memcpy(&s, p, sizeof(s));
        return must(cJSON_CreateString(s ? s : ""));
    }
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData b;
        memcpy(&b, p, sizeof(b));
        char *text = xmalloc(base64_encoded_len(b.len) + 1);
        base64_encode(b.data, b.len, text);
        cJSON *j = must(cJSON_CreateString(text));
        free(text);
        return j;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m;
        memcpy(&m, p, sizeof(m));
        return m ? grpc_json_from_message(m) : must(cJSON_CreateObject());
    }
    }
    return must(cJSON_CreateNull());
}

/* protobuf-c turns map<K,V> into repeated "<Name>Entry" {key = 1, value = 2}. */
static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(d->name);
    return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
           d->fields[0].id == 1 && strcmp(d->fields[0].name, "key") == 0 &&
           d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0;
}

static cJSON *map_json(const ProtobufCFieldDescriptor *f, const unsigned char *arr, size_t n)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    cJSON *obj = must(cJSON_CreateObject());
    for (size_t i = 0; i < n; i++) {
        const unsigned char *entry;
        memcpy(&entry, arr + i * sizeof(void *), sizeof(entry));
        cJSON *k = value_json(&ed->fields[0], entry + ed->fields[0].offset);
        char key[32];
        const char *ks = key;
        if (cJSON_IsString(k))
            ks = k->valuestring;
        else if (cJSON_IsBool(k))
            ks = cJSON_IsTrue(k) ? "true" : "false";
        else
            snprintf(key, sizeof(key), "%.0f", k->valuedouble);
        cJSON *v = value_json(&ed->fields[1], entry + ed->fields[1].offset);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, ks); /* duplicates: last wins */
        cJSON_AddItemToObject(obj, ks, v);
        cJSON_Delete(k);
    }
    return obj;
}

cJSON *grpc_json_from_message(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const unsigned char *base = (const unsigned char *)m;
    cJSON *obj = must(cJSON_CreateObject());
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const unsigned char *p = base + f->offset;
        cJSON *v;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which;
            memcpy(&which, base + f->quantifier_offset, sizeof(which));
            if (which != f->id)
                continue;
            v = value_json(f, p);
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n;
            const unsigned char *arr;
            memcpy(&n, base + f->quantifier_offset, sizeof(n));
            memcpy(&arr, p, sizeof(arr));
            if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(f->descriptor)) {
                v = map_json(f, arr, n);
            } else {
                v = must(cJSON_CreateArray());
                for (size_t k = 0; k < n; k++)
                    cJSON_AddItemToArray(v, value_json(f, arr + k * elem_size(f->type)));
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const void *sub;
            memcpy(&sub, p, sizeof(sub));
            if (!sub)
                continue;
            v = value_json(f, p);
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset) {
            protobuf_c_boolean has;
            memcpy(&has, base + f->quantifier_offset, sizeof(has));
            if (!has)
                continue;
            v = value_json(f, p);
        } else {
            v = value_json(f, p);
        }
        cJSON_AddItemToObject(obj, f->name, v);
    }
    return obj;
}

static void ensure_duration(cJSON *parent, const char *key)
{
    cJSON *d = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (!cJSON_IsObject(d)) {
        cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
        d = must(cJSON_AddObjectToObject(parent, key));
    }
    if (!cJSON_GetObjectItemCaseSensitive(d, "count"))
        must(cJSON_AddNumberToObject(d, "count", 0));
    if (!cJSON_GetObjectItemCaseSensitive(d, "ns"))
        must(cJSON_AddNumberToObject(d, "ns", 0));
}

void grpc_json_complete_stats(cJSON *stats)
{
    static const char *const durations[] = {"success",       "fail",           "queue",
                                             "compute_input", "compute_infer",  "compute_output",
                                             "cache_hit",     "cache_miss"};
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(stats, "model_stats");
    if (!arr) {
        arr = must(cJSON_AddArrayToObject(stats, "model_stats"));
        return;
    }
    cJSON *ms;
    cJSON_ArrayForEach(ms, arr) {
        cJSON *is = cJSON_GetObjectItemCaseSensitive(ms, "inference_stats");
        if (!cJSON_IsObject(is))
            is = must(cJSON_AddObjectToObject(ms, "inference_stats"));
        for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++)
            ensure_duration(is, durations[i]);
        cJSON *bs = cJSON_GetObjectItemCaseSensitive(ms, "batch_stats");
        cJSON *b;
        cJSON_ArrayForEach(b, bs) {
            ensure_duration(b, "compute_input");
            ensure_duration(b, "compute_infer");
            ensure_duration(b, "compute_output");
        }
    }
}
