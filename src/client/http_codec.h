/*
 * KServe v2 HTTP infer encoding and decoding, without any transport.
 *
 * The encoder turns a struct pa_infer_desc into one request body at setup:
 * the JSON header (binary tensor extension, or JSON `data` arrays) followed
 * by the binary input payloads. The body starts with a per-send prefix
 * (`{"id":""` and the request `parameters`) and continues with a fixed part
 * (`"inputs":...`), so a send that needs sequence parameters only writes a
 * new prefix in front of the same fixed part (http_encode_prefix) and every
 * other send uses the body as it is.
 *
 * The decoder works on a whole response body: the error text of a failed
 * request, and the bytes of one output (binary section or JSON `data`).
 * Both are only called when someone needs them (lazy decoding keeps the hot
 * path free of JSON parsing).
 *
 * Internal to src/client (and its unit test).
 */
#ifndef PA_CLIENT_HTTP_CODEC_H
#define PA_CLIENT_HTTP_CODEC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "core/buf.h"
#include "pa/client.h"

/* An encoded infer request. Owned by whoever called http_encode_request. */
struct http_body {
    char *data;         /* prefix + fixed part + binary payloads */
    size_t len;         /* bytes in data */
    size_t json_len;    /* JSON header bytes at the start of data */
    size_t fixed_off;   /* where the fixed part (`"inputs":`) starts */
    bool json_content;  /* Content-Type application/json (every input as JSON data) */
    bool no_outputs;    /* no outputs requested: binary_data_output goes in the prefix */
};

/* Longest prefix http_encode_prefix writes. */
#define HTTP_PREFIX_MAX 192

/*
 * Encodes desc. in_fmt chooses binary payloads or JSON `data` arrays for
 * inputs not in shared memory; out_fmt chooses the `binary_data` flag of
 * outputs not in shared memory. Errors (PA_EINVAL): a datatype or value JSON
 * cannot carry (FP16/BF16, NaN, infinity) or malformed BYTES data.
 */
PA_MUST_CHECK int http_encode_request(const struct pa_infer_desc *desc,
                                      enum pa_tensor_format in_fmt,
                                      enum pa_tensor_format out_fmt, struct http_body *body,
                                      struct pa_err *err);
void http_body_release(struct http_body *body);

/*
 * Writes the prefix for one send into out (HTTP_PREFIX_MAX bytes): the
 * empty id, then sequence parameters when send->sequence_id != 0 (and
 * binary_data_output when no_outputs). Returns its length. Allocation-free.
 */
size_t http_encode_prefix(char *out, const struct pa_send *send, bool no_outputs);

/* Decimal digits of v into out (at least 20 bytes); returns the count. */
size_t http_u64_dec(char *out, uint64_t v);

/*
 * The message for a non-200 response: "Deadline Exceeded" for 499, else the
 * `error` member of the JSON body (the first json_len bytes; json_len < 0 =
 * the whole body), else a description with the status. Writes into out.
 */
void http_error_message(const char *body, size_t len, long json_len, long status, char *out,
                        size_t cap);

/*
 * Locates output `name` in a 200 response. *parsed caches the JSON header
 * between calls (NULL at first; the caller deletes it). Binary outputs point
 * into body; JSON `data` outputs are converted to the binary layout (BYTES
 * with 4-byte length prefixes) into scratch, so such a *data is valid only
 * until the next lookup. Errors: PA_EPROTO.
 */
PA_MUST_CHECK int http_output_lookup(const char *body, size_t len, long json_len,
                                     cJSON **parsed, const char *name, struct buf *scratch,
                                     const void **data, size_t *byte_size, struct pa_err *err);

#endif
