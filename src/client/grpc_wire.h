/*
 * Hand-written protobuf wire codec for the gRPC data plane (Triton's
 * ModelInferRequest / ModelInferResponse / ModelStreamInferResponse).
 *
 * Why not protobuf-c here: a request is encoded once at setup as a list of
 * segments (encoded header bytes interleaved with pointers to the caller's
 * tensor data, never copied), and each send only appends a few encoded
 * fields: the request id and the sequence parameters. Protobuf parsers
 * accept fields in any order, keep the last value of a repeated scalar and
 * add map entries one by one, so appending `id` and the `parameters`
 * entries after the constant part is a valid ModelInferRequest. Responses
 * are scanned in place: the view points into the received bytes, so
 * decoding allocates nothing. protobuf-c is used for the control plane and
 * by the unit tests to cross-check this codec.
 *
 * Internal to src/client/ (triton_grpc.c and its tests).
 */
#ifndef PA_CLIENT_GRPC_WIRE_H
#define PA_CLIENT_GRPC_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pa/client.h"
#include "pa/status.h"

struct pa_options;

/* One contiguous piece of an encoded request. */
struct gw_segment {
    const void *data;
    size_t len;
};

/* The constant part of a ModelInferRequest, as segments. */
struct gw_request {
    unsigned char *head;        /* owned: every encoded byte that is not tensor data */
    struct gw_segment *segs;    /* owned array; data points into head or at caller tensors */
    size_t n_segs;
    size_t total;               /* sum of segment lengths */
};

/* A request parameter added to every send (--request-parameter). */
struct gw_param {
    const char *name;
    enum { GW_P_BOOL, GW_P_INT64, GW_P_STRING } type;
    bool b;
    int64_t i;
    const char *s;
};

/*
 * Encodes desc (model, version, inputs with raw contents or shm parameters,
 * outputs) plus `triton_enable_empty_final_response = true` and the given
 * extra parameters. Tensor data is referenced, not copied. Errors:
 * PA_EINVAL for a descriptor that cannot be encoded.
 */
PA_MUST_CHECK int gw_request_build(const struct pa_infer_desc *desc, const struct gw_param *params,
                                   size_t n_params, struct gw_request *out, struct pa_err *err);
void gw_request_release(struct gw_request *r);

/* Bytes gw_encode_send may write. */
#define GW_SEND_MAX 128

/*
 * Encodes the per-send fields into buf: `id` = decimal `id`, and, when
 * send->sequence_id != 0, the `sequence_id` (int64_param), `sequence_start`
 * and `sequence_end` (bool_param, always present) parameters. Returns the
 * length. No allocation.
 */
size_t gw_encode_send(unsigned char *buf, uint64_t id, const struct pa_send *send);

#define GW_MAX_OUTPUTS 64

struct gw_output {
    const char *name;           /* not NUL-terminated: use name_len */
    size_t name_len;
    const unsigned char *data;  /* raw_output_contents[i], NULL when absent */
    size_t len;
};

/* A decoded response: pointers into the received message. */
struct gw_response {
    const char *id;             /* not NUL-terminated */
    size_t id_len;
    const char *error;          /* stream error_message; NULL or empty = success */
    size_t error_len;
    int final_param;            /* triton_final_response: -1 absent, 0 false, 1 true */
    size_t n_outputs;           /* outputs counted (only the first GW_MAX_OUTPUTS kept) */
    size_t n_raw;
    struct gw_output outputs[GW_MAX_OUTPUTS];
};

/* Scans a ModelInferResponse. Returns PA_OK or PA_EPROTO on malformed bytes. */
PA_MUST_CHECK int gw_parse_infer_response(const unsigned char *p, size_t len,
                                          struct gw_response *out);
/* Scans a ModelStreamInferResponse (error_message + nested infer_response). */
PA_MUST_CHECK int gw_parse_stream_response(const unsigned char *p, size_t len,
                                           struct gw_response *out);

/* Final / null rules of spec 06 §2: final when the flag is absent or true. */
static inline bool gw_is_final(const struct gw_response *r)
{
    return r->final_param != 0;
}

/* Parses a decimal id as written by gw_encode_send; false if it is not one. */
bool gw_parse_id(const char *id, size_t len, uint64_t *out);

#endif
