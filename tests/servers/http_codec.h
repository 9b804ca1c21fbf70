/*
 * KServe v2 HTTP inference encoding, independent of the HTTP library:
 * request body (JSON header + binary tensor data) -> struct engine_request,
 * struct engine_response -> response body, and gzip/deflate. Kept apart
 * from http_frontend.c so the unit tests exercise it without a socket.
 *
 * A struct http_infer is per connection and reused for every request on
 * it: buffers only grow, so steady-state requests allocate nothing beyond
 * what cJSON needs to parse the JSON header.
 */
#ifndef PA_TEST_SERVER_HTTP_CODEC_H
#define PA_TEST_SERVER_HTTP_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "engine.h"

struct http_infer {
    struct engine_request req;   /* decoded request; points into root/body/conv */
    cJSON *root;                 /* parsed JSON header, freed by http_infer_reset */
    unsigned char *conv;         /* JSON "data" converted to binary layout */
    size_t conv_cap;
    bool binary_default;         /* request parameter binary_data_output */
    bool out_binary[ENGINE_MAX_IO]; /* per requested output */
    struct buf out;              /* encoded response body (JSON header + blobs) */
    size_t out_json_len;         /* length of the JSON header in out */
    bool out_has_binary;         /* some binary output has a non-zero size */
};

void http_infer_init(struct http_infer *h);
void http_infer_reset(struct http_infer *h);   /* between requests: keeps buffers */
void http_infer_release(struct http_infer *h);

/*
 * Decodes an /infer body. header_len is the Inference-Header-Content-Length
 * value, or -1 when the header is absent (the whole body is JSON). Input
 * data pointers point into body, which must outlive the request.
 */
int http_infer_decode(struct http_infer *h, const unsigned char *body, size_t len,
                      long long header_len, struct engine_status *st);

/*
 * Encodes a successful response into h->out (sets out_json_len,
 * out_has_binary). Fails only for outputs that cannot be JSON (FP16/BF16).
 */
int http_infer_encode(struct http_infer *h, const struct engine_response *resp,
                      struct engine_status *st);

/* {"error":"<msg>"} with JSON escaping, into b (reset first). */
void http_error_body(struct buf *b, const char *msg);
/* Appends s as a JSON string literal (quotes included). */
void http_json_string(struct buf *b, const char *s, size_t len);

/*
 * Content-Encoding of a request body: "gzip"/"deflate" are inflated into
 * out (automatic zlib/gzip header detection); max bounds the result.
 */
int http_inflate(const unsigned char *in, size_t len, struct buf *out, size_t max,
                 struct engine_status *st);
/* Compresses in into out: gzip (RFC 1952) when gzip is true, else zlib (RFC 1950). */
int http_compress(const unsigned char *in, size_t len, bool gzip, struct buf *out);
/*
 * Picks the response encoding from an Accept-Encoding value: 1 = gzip,
 * 2 = deflate, 0 = identity (q-values honoured, ties keep the first).
 */
int http_pick_encoding(const char *accept);

#endif
