/*
 * libFuzzer target for what the gRPC backend decodes from the server
 * (src/client/grpc_wire.h, src/client/grpc_json.h).
 *
 * Input layout: byte 0 picks the decoder (modulo the table below), the rest
 * is one serialized message:
 *  - ModelInferResponse / ModelStreamInferResponse through the hand-written
 *    scanner (gw_parse_*), cross-checked against protobuf-c: when both
 *    accept the bytes they must agree on the id, the error message, the
 *    outputs' names and the raw output contents (the scanner keeps the first
 *    GW_MAX_OUTPUTS of them). protobuf-c's own re-encoding of what it
 *    unpacked (canonical wire form, unknown fields left out: protobuf-c
 *    keeps even a field number 0) must be accepted by the scanner, which
 *    must then also agree on triton_final_response. That flag is not
 *    compared on the raw bytes: there, protobuf-c reads a bool_param sent
 *    with the length-delimited wire type as false, while the scanner (like
 *    protobuf's C++ parser, which keeps it as an unknown field) skips it;
 *    malformed either way, and not a decoding bug;
 *  - the control-plane answers (model config, model metadata, statistics,
 *    server metadata, and the other *Response messages) unpacked by
 *    protobuf-c and converted to JSON by grpc_json_from_message, the
 *    statistics completed by grpc_json_complete_stats, exactly as
 *    triton_grpc.c does, then printed.
 * Any crash, leak or undefined behavior is a bug: a hostile server must
 * only ever produce an error.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <protobuf-c/protobuf-c.h>

#include "client/grpc_json.h"
#include "client/grpc_wire.h"
#include "grpc_service.pb-c.h"
#include "model_config.pb-c.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a (ptr, len) view equals a protobuf-c string (compared only without NULs). */
static bool same_str(const char *p, size_t n, const char *s)
{
    if (!p)
        p = "";
    if (memchr(p, '\0', n))
        return true; /* protobuf-c's C string stops at the NUL: not comparable */
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

static void check_view(const struct gw_response *r, const uint8_t *msg, size_t len)
{
    const uint8_t *end = msg + len;
    check(r->id_len == 0 || ((const uint8_t *)r->id >= msg && (const uint8_t *)r->id + r->id_len <= end));
    (void)touch(r->id, r->id_len);
    if (r->error)
        (void)touch(r->error, r->error_len);
    check(r->final_param >= -1 && r->final_param <= 1);
    size_t n = r->n_outputs > r->n_raw ? r->n_outputs : r->n_raw;
    for (size_t i = 0; i < n && i < GW_MAX_OUTPUTS; i++) {
        const struct gw_output *o = &r->outputs[i];
        if (o->name)
            (void)touch(o->name, o->name_len);
        if (o->data)
            check(o->data >= msg && o->data + o->len <= end);
        (void)touch(o->data, o->len);
    }
}

/*
 * triton_final_response as protobuf-c sees it: -1 absent, else the last
 * entry's bool_param, 1 for an entry whose value is absent or another
 * oneof member (the scanner only reads bool_param: in canonical form such
 * a value has no bool_param field, so "present").
 */
static int pb_final(Inference__ModelInferResponse__ParametersEntry **e, size_t n)
{
    int seen = -1;
    for (size_t i = 0; i < n; i++) {
        if (!e[i]->key || strcmp(e[i]->key, "triton_final_response") != 0)
            continue;
        const Inference__InferParameter *v = e[i]->value;
        if (v && v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM)
            seen = v->bool_param ? 1 : 0;
        else
            seen = 1;
    }
    return seen;
}

static void compare_infer(const struct gw_response *r, const Inference__ModelInferResponse *pb,
                          bool canonical)
{
    check(same_str(r->id, r->id_len, pb->id));
    check(r->n_outputs == pb->n_outputs);
    check(r->n_raw == pb->n_raw_output_contents);
    for (size_t i = 0; i < pb->n_outputs && i < GW_MAX_OUTPUTS; i++)
        check(same_str(r->outputs[i].name, r->outputs[i].name_len, pb->outputs[i]->name));
    for (size_t i = 0; i < pb->n_raw_output_contents && i < GW_MAX_OUTPUTS; i++) {
        const ProtobufCBinaryData *b = &pb->raw_output_contents[i];
        check(r->outputs[i].len == b->len);
        check(b->len == 0 || memcmp(r->outputs[i].data, b->data, b->len) == 0);
    }
    if (canonical)
        check(r->final_param == pb_final(pb->parameters, pb->n_parameters));
}

/*
 * Unknown fields are set aside before re-encoding: protobuf-c keeps (and
 * re-emits) fields the wire format forbids, such as field number 0 written
 * as an overlong varint, which the scanner rightly rejects. A stash of the
 * hidden counts, restored before free_unpacked frees them.
 */
#define MAX_STASH 4096
struct stash {
    ProtobufCMessage *msg[MAX_STASH];
    unsigned n_unknown[MAX_STASH];
    size_t n;
    bool full;
};

static void hide_unknown(ProtobufCMessage *m, struct stash *st)
{
    if (!m)
        return;
    if (st->n == MAX_STASH) {
        st->full = true;
        return;
    }
    st->msg[st->n] = m;
    st->n_unknown[st->n++] = m->n_unknown_fields;
    m->n_unknown_fields = 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    unsigned char *base = (unsigned char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n;
            ProtobufCMessage **arr;
            memcpy(&n, base + f->quantifier_offset, sizeof(n));
            memcpy(&arr, base + f->offset, sizeof(arr));
            for (size_t k = 0; k < n; k++)
                hide_unknown(arr[k], st);
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t which;
                memcpy(&which, base + f->quantifier_offset, sizeof(which));
                if (which != f->id)
                    continue;
            }
            ProtobufCMessage *sub;
            memcpy(&sub, base + f->offset, sizeof(sub));
            hide_unknown(sub, st);
        }
    }
}

static void restore_unknown(struct stash *st)
{
    for (size_t i = 0; i < st->n; i++)
        st->msg[i]->n_unknown_fields = st->n_unknown[i];
}

/*
 * protobuf-c's encoding of m without unknown fields, in a buffer of exactly
 * that size (for ASan); NULL when m is too deep to stash.
 */
static uint8_t *repack(ProtobufCMessage *m, size_t *len)
{
    static struct stash st;
    st.n = 0;
    st.full = false;
    hide_unknown(m, &st);
    uint8_t *out = NULL;
    if (!st.full) {
        *len = protobuf_c_message_get_packed_size(m);
        out = malloc(*len ? *len : 1);
        check(out != NULL);
        check(protobuf_c_message_pack(m, out) == *len);
    }
    restore_unknown(&st);
    return out;
}

static void fuzz_infer(const uint8_t *msg, size_t len)
{
    struct gw_response r;
    int rc = gw_parse_infer_response(msg, len, &r);
    check(rc == PA_OK || rc == PA_EPROTO);
    if (rc == PA_OK) {
        check_view(&r, msg, len);
        uint64_t id;
        (void)gw_parse_id(r.id, r.id_len, &id);
        (void)gw_is_final(&r);
    }
    Inference__ModelInferResponse *pb = inference__model_infer_response__unpack(NULL, len, msg);
    if (!pb)
        return;
    if (rc == PA_OK)
        compare_infer(&r, pb, false);
    size_t clen;
    uint8_t *canon = repack(&pb->base, &clen);
    if (canon) {
        check(gw_parse_infer_response(canon, clen, &r) == PA_OK);
        check_view(&r, canon, clen);
        compare_infer(&r, pb, true);
        free(canon);
    }
    inference__model_infer_response__free_unpacked(pb, NULL);
}

static void compare_stream(const struct gw_response *r,
                           const Inference__ModelStreamInferResponse *pb, bool canonical)
{
    check(same_str(r->error, r->error_len, pb->error_message));
    if (pb->infer_response)
        compare_infer(r, pb->infer_response, canonical);
    else
        check(r->n_outputs == 0 && r->n_raw == 0 && r->id_len == 0 && r->final_param == -1);
}

static void fuzz_stream(const uint8_t *msg, size_t len)
{
    struct gw_response r;
    int rc = gw_parse_stream_response(msg, len, &r);
    check(rc == PA_OK || rc == PA_EPROTO);
    if (rc == PA_OK)
        check_view(&r, msg, len);
    Inference__ModelStreamInferResponse *pb =
        inference__model_stream_infer_response__unpack(NULL, len, msg);
    if (!pb)
        return;
    if (rc == PA_OK)
        compare_stream(&r, pb, false);
    size_t clen;
    uint8_t *canon = repack(&pb->base, &clen);
    if (canon) {
        check(gw_parse_stream_response(canon, clen, &r) == PA_OK);
        check_view(&r, canon, clen);
        compare_stream(&r, pb, true);
        free(canon);
    }
    inference__model_stream_infer_response__free_unpacked(pb, NULL);
}

/* Converts one unpacked control-plane answer the way triton_grpc.c does. */
static void fuzz_json(const ProtobufCMessageDescriptor *d, const uint8_t *msg, size_t len)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, msg);
    if (!m)
        return;
    cJSON *j;
    if (d == &inference__model_config_response__descriptor) {
        /* The HTTP API returns the config itself, not {"config": ...}. */
        const Inference__ModelConfigResponse *cr = (const Inference__ModelConfigResponse *)m;
        j = cr->config ? grpc_json_from_message(&cr->config->base) : cJSON_CreateObject();
    } else {
        j = grpc_json_from_message(m);
    }
    check(j != NULL && cJSON_IsObject(j));
    if (d == &inference__model_statistics_response__descriptor) {
        grpc_json_complete_stats(j);
        check(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "model_stats")));
    }
    char *text = cJSON_PrintUnformatted(j);
    check(text != NULL);
    free(text);
    cJSON_Delete(j);
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const json_msgs[] = {
        &inference__model_config_response__descriptor,
        &inference__model_metadata_response__descriptor,
        &inference__model_statistics_response__descriptor,
        &inference__server_metadata_response__descriptor,
        &inference__repository_index_response__descriptor,
        &inference__system_shared_memory_status_response__descriptor,
        &inference__cuda_shared_memory_status_response__descriptor,
        &inference__trace_setting_response__descriptor,
        &inference__log_settings_response__descriptor,
        &inference__model_infer_response__descriptor,
    };
    const size_t n_json = sizeof(json_msgs) / sizeof(json_msgs[0]);

    if (size < 1)
        return 0;
    unsigned sel = data[0] % (unsigned)(2 + n_json);
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    if (sel == 0)
        fuzz_infer(msg, len);
    else if (sel == 1)
        fuzz_stream(msg, len);
    else
        fuzz_json(json_msgs[sel - 2], msg, len);
    return 0;
}
