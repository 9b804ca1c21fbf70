/*
 * The Triton HTTP backend: request encoding byte for byte, response
 * decoding, the registry and checked wrappers, and a live run against a
 * small HTTP/1.1 server on 127.0.0.1 that runs in a thread of this test
 * (raw sockets and poll(), no library). The server records every request it
 * sees (method, path, headers, body, which connection) so the tests can
 * check headers, keep-alive reuse and that several requests really are in
 * flight at once (it can hold answers until N requests are pending).
 *
 * Model names choose how the server misbehaves, for the data path's
 * framing and connection handling: "drop" closes without answering,
 * "chunked" answers with Transfer-Encoding: chunked in pieces, "closing"
 * sends Connection: close, "eof" answers HTTP/1.0-style without a length
 * (the body ends at close), "partial" closes in the middle of the body; and
 * srv.close_after makes it close every connection right after answering
 * (a kept-alive connection the server dropped).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "cli/options.h"
#include "client/http_codec.h"
#include "pa/client.h"

/* A writable copy of a literal (option structs hold char *), alive for the enclosing block. */
#define W(lit) ((char[]){lit})

/* ================= encoder ================= */

static const int64_t shape_1x2[] = {1, 2};
static const int64_t shape_2[] = {2};
static const int32_t ints[] = {7, -1};
/* Two BYTES elements: "ab" and "" with 4-byte little-endian length prefixes. */
static const unsigned char strs[] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};

static void body_equals(const struct http_body *b, const char *json, const void *bin,
                        size_t bin_len)
{
    size_t jl = strlen(json);
    assert_int_equal(b->json_len, jl);
    assert_int_equal(b->len, jl + bin_len);
    assert_memory_equal(b->data, json, jl);
    if (bin_len)
        assert_memory_equal(b->data + jl, bin, bin_len);
}

static void test_encode_binary(void **state)
{
    (void)state;
    const struct pa_input in[] = {
        {.name = "INPUT0", .datatype = "INT32", .shape = shape_1x2, .rank = 2, .data = ints,
         .byte_size = sizeof(ints)},
        {.name = "S", .datatype = "BYTES", .shape = shape_2, .rank = 1, .data = strs,
         .byte_size = sizeof(strs)},
    };
    const struct pa_output out[] = {{.name = "OUT0"}, {.name = "OUT1"}};
    const struct pa_infer_desc d = {.model_name = "simple", .model_version = "",
                                    .inputs = in, .n_inputs = 2, .outputs = out, .n_outputs = 2};
    struct http_body b;
    struct pa_err err = {0};
    assert_int_equal(http_encode_request(&d, PA_FMT_BINARY, PA_FMT_BINARY, &b, &err), PA_OK);
    unsigned char bin[sizeof(ints) + sizeof(strs)];
    memcpy(bin, ints, sizeof(ints));
    memcpy(bin + sizeof(ints), strs, sizeof(strs));
    body_equals(&b,
                "{\"id\":\"\",\"inputs\":["
                "{\"name\":\"INPUT0\",\"datatype\":\"INT32\",\"shape\":[1,2],"
                "\"parameters\":{\"binary_data_size\":8}},"
                "{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2],"
                "\"parameters\":{\"binary_data_size\":10}}],"
                "\"outputs\":[{\"name\":\"OUT0\",\"parameters\":{\"binary_data\":true}},"
                "{\"name\":\"OUT1\",\"parameters\":{\"binary_data\":true}}]}",
                bin, sizeof(bin));
    assert_int_equal(b.fixed_off, strlen("{\"id\":\"\","));
    assert_false(b.json_content);
    assert_false(b.no_outputs);
    http_body_release(&b);

    /* --output-tensor-format json is honoured (spec 06 §1.2 allows the fix). */
    assert_int_equal(http_encode_request(&d, PA_FMT_BINARY, PA_FMT_JSON, &b, &err), PA_OK);
    assert_non_null(strstr(b.data, "{\"name\":\"OUT1\",\"parameters\":{\"binary_data\":false}}"));
    http_body_release(&b);
}

static void test_encode_json_data(void **state)
{
    (void)state;
    static const float fl[] = {1.0f, 0.1f, -2.5e-8f};
    static const double db[] = {3.0, 0.1};
    static const unsigned char bools[] = {1, 0};
    static const uint64_t u64[] = {18446744073709551615ULL};
    static const int64_t s3[] = {3}, s1[] = {1};
    static const unsigned char esc[] = {5, 0, 0, 0, 'q', '"', '\\', '\n', 0x01};
    const struct pa_input in[] = {
        {.name = "B", .datatype = "BOOL", .shape = shape_2, .rank = 1, .data = bools,
         .byte_size = 2},
        {.name = "D", .datatype = "FP64", .shape = shape_2, .rank = 1, .data = db,
         .byte_size = sizeof(db)},
        {.name = "F", .datatype = "FP32", .shape = s3, .rank = 1, .data = fl,
         .byte_size = sizeof(fl)},
        {.name = "I", .datatype = "INT32", .shape = shape_2, .rank = 1, .data = ints,
         .byte_size = sizeof(ints)},
        {.name = "S", .datatype = "BYTES", .shape = shape_2, .rank = 1, .data = strs,
         .byte_size = sizeof(strs)},
        {.name = "T", .datatype = "BYTES", .shape = s1, .rank = 1, .data = esc,
         .byte_size = sizeof(esc)},
        {.name = "U", .datatype = "UINT64", .shape = s1, .rank = 1, .data = u64,
         .byte_size = 8},
    };
    const struct pa_output out[] = {{.name = "O"}};
    const struct pa_infer_desc d = {.model_name = "m", .model_version = "2", .inputs = in,
                                    .n_inputs = 7, .outputs = out, .n_outputs = 1};
    struct http_body b;
    struct pa_err err = {0};
    assert_int_equal(http_encode_request(&d, PA_FMT_JSON, PA_FMT_JSON, &b, &err), PA_OK);
    body_equals(&b,
                "{\"id\":\"\",\"inputs\":["
                "{\"name\":\"B\",\"datatype\":\"BOOL\",\"shape\":[2],\"data\":[true,false]},"
                "{\"name\":\"D\",\"datatype\":\"FP64\",\"shape\":[2],\"data\":[3.0,0.1]},"
                "{\"name\":\"F\",\"datatype\":\"FP32\",\"shape\":[3],"
                "\"data\":[1.0,0.1,-2.5e-08]},"
                "{\"name\":\"I\",\"datatype\":\"INT32\",\"shape\":[2],\"data\":[7,-1]},"
                "{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"ab\",\"\"]},"
                "{\"name\":\"T\",\"datatype\":\"BYTES\",\"shape\":[1],"
                "\"data\":[\"q\\\"\\\\\\n\\u0001\"]},"
                "{\"name\":\"U\",\"datatype\":\"UINT64\",\"shape\":[1],"
                "\"data\":[18446744073709551615]}],"
                "\"outputs\":[{\"name\":\"O\",\"parameters\":{\"binary_data\":false}}]}",
                NULL, 0);
    assert_true(b.json_content);
    http_body_release(&b);
}

static void test_encode_shm_and_no_outputs(void **state)
{
    (void)state;
    const struct pa_input in[] = {
        {.name = "A", .datatype = "INT32", .shape = shape_1x2, .rank = 2, .byte_size = 8,
         .shm_region = "A_0_0"},
        {.name = "B", .datatype = "INT32", .shape = shape_1x2, .rank = 2, .byte_size = 8,
         .shm_region = "B_0_0", .shm_offset = 16},
    };
    const struct pa_output out[] = {
        {.name = "O", .shm_region = "O", .shm_byte_size = 102400},
        {.name = "P", .shm_region = "P", .shm_byte_size = 64, .shm_offset = 8},
    };
    struct pa_infer_desc d = {.model_name = "m", .model_version = "", .inputs = in,
                              .n_inputs = 2, .outputs = out, .n_outputs = 2};
    struct http_body b;
    struct pa_err err = {0};
    /* JSON input format does not apply to shm inputs, and the body is not "all JSON". */
    assert_int_equal(http_encode_request(&d, PA_FMT_JSON, PA_FMT_BINARY, &b, &err), PA_OK);
    body_equals(&b,
                "{\"id\":\"\",\"inputs\":["
                "{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1,2],\"parameters\":"
                "{\"shared_memory_region\":\"A_0_0\",\"shared_memory_byte_size\":8}},"
                "{\"name\":\"B\",\"datatype\":\"INT32\",\"shape\":[1,2],\"parameters\":"
                "{\"shared_memory_region\":\"B_0_0\",\"shared_memory_byte_size\":8,"
                "\"shared_memory_offset\":16}}],"
                "\"outputs\":[{\"name\":\"O\",\"parameters\":{\"shared_memory_region\":\"O\","
                "\"shared_memory_byte_size\":102400}},"
                "{\"name\":\"P\",\"parameters\":{\"shared_memory_region\":\"P\","
                "\"shared_memory_byte_size\":64,\"shared_memory_offset\":8}}]}",
                NULL, 0);
    assert_false(b.json_content);
    http_body_release(&b);

    d.n_outputs = 0;
    d.n_inputs = 1;
    assert_int_equal(http_encode_request(&d, PA_FMT_BINARY, PA_FMT_BINARY, &b, &err), PA_OK);
    body_equals(&b,
                "{\"id\":\"\",\"parameters\":{\"binary_data_output\":true},\"inputs\":["
                "{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1,2],\"parameters\":"
                "{\"shared_memory_region\":\"A_0_0\",\"shared_memory_byte_size\":8}}]}",
                NULL, 0);
    assert_true(b.no_outputs);
    assert_int_equal(b.fixed_off,
                     strlen("{\"id\":\"\",\"parameters\":{\"binary_data_output\":true},"));
    http_body_release(&b);
}

static void test_encode_errors(void **state)
{
    (void)state;
    static const float nan_val[] = {__builtin_nanf("")};
    static const int64_t s1[] = {1};
    static const unsigned char bad[] = {9, 0, 0, 0, 'x'};
    struct pa_input in = {.name = "X", .datatype = "FP32", .shape = s1, .rank = 1,
                          .data = nan_val, .byte_size = 4};
    struct pa_infer_desc d = {.model_name = "m", .model_version = "", .inputs = &in,
                              .n_inputs = 1};
    struct http_body b;
    struct pa_err err = {0};
    assert_int_equal(http_encode_request(&d, PA_FMT_JSON, PA_FMT_BINARY, &b, &err), PA_EINVAL);
    assert_string_equal(err.msg, "input 'X' holds a NaN or infinite value, which JSON cannot "
                                 "carry; use --input-tensor-format binary");
    in.datatype = "FP16";
    in.byte_size = 2;
    assert_int_equal(http_encode_request(&d, PA_FMT_JSON, PA_FMT_BINARY, &b, &err), PA_EINVAL);
    assert_string_equal(err.msg,
                        "input 'X': datatype FP16 cannot be sent with --input-tensor-format json");
    in.datatype = "BYTES";
    in.data = bad;
    in.byte_size = sizeof(bad);
    assert_int_equal(http_encode_request(&d, PA_FMT_JSON, PA_FMT_BINARY, &b, &err), PA_EINVAL);
    assert_string_equal(err.msg, "input 'X': malformed BYTES data (bad length prefix)");
    /* In binary mode the bytes are passed through untouched. */
    assert_int_equal(http_encode_request(&d, PA_FMT_BINARY, PA_FMT_BINARY, &b, &err), PA_OK);
    http_body_release(&b);
}

static void test_encode_prefix(void **state)
{
    (void)state;
    char buf[HTTP_PREFIX_MAX];
    struct pa_send s = {.sequence_id = 3, .sequence_start = true};
    size_t n = http_encode_prefix(buf, &s, false);
    const char *want = "{\"id\":\"\",\"parameters\":{\"sequence_id\":3,\"sequence_start\":true,"
                       "\"sequence_end\":false},";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);

    s = (struct pa_send){.sequence_id = UINT64_MAX, .sequence_end = true};
    n = http_encode_prefix(buf, &s, true);
    want = "{\"id\":\"\",\"parameters\":{\"sequence_id\":18446744073709551615,"
           "\"sequence_start\":false,\"sequence_end\":true,\"binary_data_output\":true},";
    assert_int_equal(n, strlen(want));
    assert_true(n <= HTTP_PREFIX_MAX);
    assert_memory_equal(buf, want, n);

    s = (struct pa_send){0};
    n = http_encode_prefix(buf, &s, false);
    assert_int_equal(n, 9);
    assert_memory_equal(buf, "{\"id\":\"\",", 9);

    char digits[24];
    assert_int_equal(http_u64_dec(digits, 0), 1);
    assert_memory_equal(digits, "0", 1);
    assert_int_equal(http_u64_dec(digits, 1234567890123ULL), 13);
    assert_memory_equal(digits, "1234567890123", 13);
}

/* ================= decoder ================= */

static void test_decode_binary_response(void **state)
{
    (void)state;
    const char json[] = "{\"model_name\":\"simple\",\"outputs\":["
                        "{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[1],"
                        "\"parameters\":{\"binary_data_size\":4}},"
                        "{\"name\":\"SHM\",\"datatype\":\"INT32\",\"shape\":[1]},"
                        "{\"name\":\"B\",\"datatype\":\"INT8\",\"shape\":[3],"
                        "\"parameters\":{\"binary_data_size\":3}}]}";
    char body[sizeof(json) - 1 + 7];
    memcpy(body, json, sizeof(json) - 1);
    memcpy(body + sizeof(json) - 1, "\x01\x02\x03\x04xyz", 7);
    cJSON *parsed = NULL;
    struct buf scratch;
    buf_init(&scratch, 0);
    const void *data;
    size_t size;
    struct pa_err err = {0};
    long jl = (long)sizeof(json) - 1;

    assert_int_equal(http_output_lookup(body, sizeof(body), jl, &parsed, "B", &scratch, &data,
                                        &size, &err),
                     PA_OK);
    assert_int_equal(size, 3);
    assert_memory_equal(data, "xyz", 3);
    assert_non_null(parsed); /* cached for the next lookup */
    assert_int_equal(http_output_lookup(body, sizeof(body), jl, &parsed, "A", &scratch, &data,
                                        &size, &err),
                     PA_OK);
    assert_int_equal(size, 4);
    assert_memory_equal(data, "\x01\x02\x03\x04", 4);
    assert_int_equal(http_output_lookup(body, sizeof(body), jl, &parsed, "SHM", &scratch, &data,
                                        &size, &err),
                     PA_EPROTO);
    assert_string_equal(err.msg, "output 'SHM' carries no data in the response");
    assert_int_equal(http_output_lookup(body, sizeof(body), jl, &parsed, "Z", &scratch, &data,
                                        &size, &err),
                     PA_EPROTO);
    assert_string_equal(err.msg, "output 'Z' is not in the response");
    cJSON_Delete(parsed);

    /* A binary size running past the end of the body is caught. */
    parsed = NULL;
    assert_int_equal(http_output_lookup(body, sizeof(body) - 1, jl, &parsed, "B", &scratch,
                                        &data, &size, &err),
                     PA_EPROTO);
    assert_string_equal(err.msg, "output 'B' lies beyond the end of the response");
    cJSON_Delete(parsed);
    buf_release(&scratch);
}

static void test_decode_json_response(void **state)
{
    (void)state;
    const char body[] = "{\"outputs\":["
                        "{\"name\":\"I\",\"datatype\":\"INT16\",\"shape\":[1,3],"
                        "\"data\":[[1,-2,300]]},"
                        "{\"name\":\"F\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.5]},"
                        "{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2],"
                        "\"data\":[\"hi\",\"\"]},"
                        "{\"name\":\"B\",\"datatype\":\"BOOL\",\"shape\":[2],"
                        "\"data\":[true,false]}]}";
    cJSON *parsed = NULL;
    struct buf scratch;
    buf_init(&scratch, 0);
    const void *data;
    size_t size;
    struct pa_err err = {0};

    assert_int_equal(http_output_lookup(body, sizeof(body) - 1, -1, &parsed, "I", &scratch,
                                        &data, &size, &err),
                     PA_OK);
    const int16_t want_i[] = {1, -2, 300};
    assert_int_equal(size, sizeof(want_i));
    assert_memory_equal(data, want_i, sizeof(want_i));
    assert_int_equal(http_output_lookup(body, sizeof(body) - 1, -1, &parsed, "F", &scratch,
                                        &data, &size, &err),
                     PA_OK);
    const float want_f = 0.5f;
    assert_int_equal(size, 4);
    assert_memory_equal(data, &want_f, 4);
    assert_int_equal(http_output_lookup(body, sizeof(body) - 1, -1, &parsed, "S", &scratch,
                                        &data, &size, &err),
                     PA_OK);
    assert_int_equal(size, 10);
    assert_memory_equal(data, "\x02\x00\x00\x00hi\x00\x00\x00\x00", 10);
    assert_int_equal(http_output_lookup(body, sizeof(body) - 1, -1, &parsed, "B", &scratch,
                                        &data, &size, &err),
                     PA_OK);
    assert_int_equal(size, 2);
    assert_memory_equal(data, "\x01\x00", 2);
    cJSON_Delete(parsed);
    buf_release(&scratch);
}

static void test_decode_errors(void **state)
{
    (void)state;
    char msg[256];
    const char e1[] = "{\"error\":\"unexpected inference input 'X'\"}";
    http_error_message(e1, sizeof(e1) - 1, -1, 400, msg, sizeof(msg));
    assert_string_equal(msg, "unexpected inference input 'X'");
    http_error_message(e1, sizeof(e1) - 1, -1, 499, msg, sizeof(msg));
    assert_string_equal(msg, "Deadline Exceeded");
    http_error_message("oops", 4, -1, 502, msg, sizeof(msg));
    assert_string_equal(msg, "server returned HTTP status 502: oops");
    http_error_message(NULL, 0, -1, 404, msg, sizeof(msg));
    assert_string_equal(msg, "server returned HTTP status 404");
    /* With a header length only the JSON part is parsed. */
    const char e2[] = "{\"error\":\"x\"}\x01\x02";
    http_error_message(e2, sizeof(e2) - 1, 13, 400, msg, sizeof(msg));
    assert_string_equal(msg, "x");
}

/* ================= registry and wrappers ================= */

static void base_opts(struct pa_options *o, const char *url)
{
    memset(o, 0, sizeof(*o));
    o->service_kind = PA_SK_TRITON;
    o->protocol = PA_PROTO_HTTP;
    o->url = (char *)(uintptr_t)url; /* never written through */
    o->ssl_https_verify_peer = 1;
    o->ssl_https_verify_host = 2;
}

static void test_registry(void **state)
{
    (void)state;
    struct pa_options o;
    struct pa_client c;
    struct pa_err err = {0};

    base_opts(&o, "127.0.0.1:1");
    const struct pa_backend *b = pa_backend_find(&o);
    assert_non_null(b);
    assert_string_equal(b->name, "triton-http");
    assert_string_equal(b->kind, "TRITON");
    assert_true(b->flags & PA_BACKEND_ASYNC);

    /* Each of these is built in once its src/client/<kind>.c exists. */
    o.service_kind = PA_SK_TFSERVING;
    o.protocol = PA_PROTO_GRPC;
    if (!pa_backend_find(&o)) {
        assert_int_equal(pa_client_open(&c, &o, NULL, NULL, &err), PA_EUNSUPPORTED);
        assert_string_equal(err.msg, "the 'tfserving' service kind is not supported yet");
    } else {
        assert_string_equal(pa_backend_find(&o)->kind, "TENSORFLOW_SERVING");
    }
    o.service_kind = PA_SK_TORCHSERVE;
    o.protocol = PA_PROTO_HTTP;
    if (!pa_backend_find(&o)) {
        assert_int_equal(pa_client_open(&c, &o, NULL, NULL, &err), PA_EUNSUPPORTED);
        assert_string_equal(err.msg, "the 'torchserve' service kind is not supported yet");
    } else {
        assert_string_equal(pa_backend_find(&o)->kind, "TORCHSERVE");
    }
    o.service_kind = PA_SK_TRITON_C_API;
    o.protocol = PA_PROTO_UNKNOWN;
    if (!pa_backend_find(&o)) { /* built in once src/client/triton_capi.c exists */
        assert_int_equal(pa_client_open(&c, &o, NULL, NULL, &err), PA_EUNSUPPORTED);
        assert_string_equal(err.msg, "the 'triton_c_api' service kind is not supported yet");
    } else {
        assert_string_equal(pa_backend_find(&o)->kind, "TRITON_C_API");
    }
    o.service_kind = PA_SK_TRITON;
    o.protocol = PA_PROTO_GRPC;
    if (!pa_backend_find(&o)) {
        assert_int_equal(pa_client_open(&c, &o, NULL, NULL, &err), PA_EUNSUPPORTED);
        assert_string_equal(err.msg, "gRPC backend is not supported yet");
    } else {
        assert_string_equal(pa_backend_find(&o)->kind, "TRITON");
    }
}

static void test_unsupported_wrappers(void **state)
{
    (void)state;
    static const struct pa_client_ops none = {0};
    static const struct pa_backend bare = {.name = "bare", .kind = "TORCHSERVE", .ops = &none};
    struct pa_client c = {.backend = &bare};
    struct pa_err err = {0};
    cJSON *j = NULL;

    assert_int_equal(pa_client_model_config(&c, "m", "", &j, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "client backend of kind TORCHSERVE does not support ModelConfig API");
    assert_int_equal(pa_client_model_metadata(&c, "m", "", &j, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg,
                        "client backend of kind TORCHSERVE does not support ModelMetadata API");
    assert_int_equal(pa_client_server_metadata(&c, &j, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg,
                        "client backend of kind TORCHSERVE does not support ServerExtensions API");
    assert_int_equal(pa_client_model_statistics(&c, NULL, NULL, &j, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "client backend of kind TORCHSERVE does not support "
                                 "ModelInferenceStatistics API");
    assert_int_equal(pa_client_register_system_shm(&c, "r", "/r", 0, 8, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "client backend of kind TORCHSERVE does not support "
                                 "RegisterSystemSharedMemory API");
    assert_int_equal(pa_client_unregister_system_shm(&c, NULL, &err), PA_EUNSUPPORTED);
    assert_string_equal(err.msg, "client backend of kind TORCHSERVE does not support "
                                 "UnregisterAllSharedMemory API");
    assert_null(j);
}

/* ================= live server ================= */

#define MAX_CONNS 16
#define MAX_RECS 64

struct rec {
    char method[8];
    char path[160];
    char headers[2048];
    char body[4096];
    size_t body_len;
    int conn_id;
};

struct conn {
    int fd;
    int id;
    char *buf;         /* grows for large requests */
    size_t len, cap;
    bool held;         /* an infer request waits for its answer */
    char *held_body;   /* its body (copy) */
    size_t held_len;
    size_t held_ihcl;
    int mode;          /* enum answer_mode of the held request */
};

enum answer_mode { A_PLAIN, A_CHUNKED, A_CLOSING, A_EOF, A_PARTIAL };

static struct server {
    int lfd;
    uint16_t port;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t mu;
    struct conn conns[MAX_CONNS];
    int n_conns;
    int accepted;
    int hold;          /* answer infer requests only once this many wait (0 = at once) */
    bool close_after;  /* close each connection after answering an infer request */
    struct rec recs[MAX_RECS];
    int n_recs;
} srv;

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *ctype, const char *json, const void *bin,
                    size_t bin_len)
{
    char head[512];
    size_t jl = strlen(json);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                     status == 200 ? "OK" : "Bad Request", ctype, jl + bin_len);
    if (bin_len)
        n += snprintf(head + n, sizeof(head) - (size_t)n,
                      "Inference-Header-Content-Length: %zu\r\n", jl);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    send_all(fd, head, (size_t)n);
    send_all(fd, json, jl);
    if (bin_len)
        send_all(fd, bin, bin_len);
}

static void pause_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* The body in pieces (chunk extensions, a trailer), each in its own send() a moment apart. */
static void respond_chunked(int fd, const char *json, const void *bin, size_t bin_len)
{
    char head[256];
    size_t jl = strlen(json);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     "Inference-Header-Content-Length: %zu\r\nTransfer-Encoding: chunked\r\n\r\n",
                     jl);
    send_all(fd, head, (size_t)n);
    /* The JSON header split in two chunks, the second with an extension. */
    size_t half = jl / 2;
    n = snprintf(head, sizeof(head), "%zx\r\n", half);
    send_all(fd, head, (size_t)n);
    send_all(fd, json, half);
    pause_ms(2);
    n = snprintf(head, sizeof(head), "\r\n%zX;name=value\r\n", jl - half);
    send_all(fd, head, (size_t)n);
    send_all(fd, json + half, jl - half);
    send_all(fd, "\r\n", 2);
    pause_ms(2);
    if (bin_len) {
        n = snprintf(head, sizeof(head), "%zx\r\n", bin_len);
        send_all(fd, head, (size_t)n);
        send_all(fd, bin, bin_len);
        send_all(fd, "\r\n", 2);
    }
    pause_ms(2);
    static const char last[] = "0\r\nX-Trailer: yes\r\n\r\n";
    send_all(fd, last, sizeof(last) - 1);
}

/* The infer answer echoes the request's binary section as output OUT. */
static void answer_infer(struct conn *c)
{
    size_t bin_len = c->held_len - c->held_ihcl;
    const char *bin = c->held_body + c->held_ihcl;
    char json[256];
    snprintf(json, sizeof(json),
             "{\"model_name\":\"simple\",\"model_version\":\"1\",\"outputs\":[{\"name\":\"OUT\","
             "\"datatype\":\"INT32\",\"shape\":[1,%zu],\"parameters\":{\"binary_data_size\":%zu}}]}",
             bin_len / 4, bin_len);
    size_t jl = strlen(json);
    char head[256];
    int n;
    switch (c->mode) {
    case A_CHUNKED:
        respond_chunked(c->fd, json, bin, bin_len);
        break;
    case A_CLOSING:
    case A_PARTIAL:
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                     "Inference-Header-Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     jl + bin_len, jl);
        send_all(c->fd, head, (size_t)n);
        send_all(c->fd, json, c->mode == A_PARTIAL ? jl / 2 : jl);
        if (c->mode == A_CLOSING)
            send_all(c->fd, bin, bin_len);
        break;
    case A_EOF:
        n = snprintf(head, sizeof(head),
                     "HTTP/1.0 200 OK\r\nInference-Header-Content-Length: %zu\r\n\r\n", jl);
        send_all(c->fd, head, (size_t)n);
        send_all(c->fd, json, jl);
        pause_ms(2);
        send_all(c->fd, bin, bin_len);
        break;
    default:
        respond(c->fd, 200, "application/octet-stream", json, bin, bin_len);
        break;
    }
    c->held = false;
    free(c->held_body);
    c->held_body = NULL;
    if (c->mode >= A_CLOSING || srv.close_after) {
        close(c->fd);
        c->fd = -1;
    }
}

static size_t header_value(const char *headers, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = headers; *p;) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
            return (size_t)strtoul(p + nl + 1, NULL, 10);
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        p = e + 2;
    }
    return 0;
}

static void handle(struct conn *c, struct rec *r, const char *body)
{
    if (strcmp(r->path, "/v2/models/drop/infer") == 0) {
        close(c->fd);
        c->fd = -1;
        return;
    }
    if (strstr(r->path, "/infer")) {
        static const struct {
            const char *path;
            int mode;
        } models[] = {
            {"/v2/models/simple/infer", A_PLAIN},     {"/v2/models/chunked/infer", A_CHUNKED},
            {"/v2/models/closing/infer", A_CLOSING},  {"/v2/models/eof/infer", A_EOF},
            {"/v2/models/partial/infer", A_PARTIAL},
        };
        int mode = -1;
        for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
            if (strcmp(r->path, models[i].path) == 0)
                mode = models[i].mode;
        }
        if (mode < 0) {
            respond(c->fd, 400, "application/json", "{\"error\":\"unknown model 'bad'\"}", NULL,
                    0);
            return;
        }
        c->held = true;
        c->mode = mode;
        c->held_body = malloc(r->body_len + 1);
        if (!c->held_body)
            abort();
        memcpy(c->held_body, body, r->body_len);
        c->held_len = r->body_len;
        c->held_ihcl = header_value(r->headers, "Inference-Header-Content-Length");
        int waiting = 0;
        for (int i = 0; i < srv.n_conns; i++)
            waiting += srv.conns[i].held;
        if (waiting >= srv.hold) {
            for (int i = 0; i < srv.n_conns; i++) {
                if (srv.conns[i].held && srv.conns[i].fd >= 0)
                    answer_infer(&srv.conns[i]);
            }
        }
        return;
    }
    if (strcmp(r->path, "/v2/models/simple") == 0)
        respond(c->fd, 200, "application/json",
                "{\"name\":\"simple\",\"versions\":[\"1\"],\"inputs\":[],\"outputs\":[]}", NULL, 0);
    else if (strcmp(r->path, "/v2/models/simple/versions/2/config") == 0)
        respond(c->fd, 200, "application/json", "{\"name\":\"simple\",\"max_batch_size\":8}",
                NULL, 0);
    else if (strcmp(r->path, "/v2/models/stats") == 0 || strcmp(r->path, "/v2") == 0 ||
             strncmp(r->path, "/v2/systemsharedmemory", 22) == 0 ||
             strncmp(r->path, "/v2/cudasharedmemory", 20) == 0 ||
             strcmp(r->path, "/v2/trace/setting") == 0)
        respond(c->fd, 200, "application/json", "{\"model_stats\":[]}", NULL, 0);
    else
        respond(c->fd, 400, "application/json",
                "{\"error\":\"Request for unknown model: 'nope' is not found\"}", NULL, 0);
}

/* Parses every complete request in the connection buffer. */
static void serve_buffer(struct conn *c)
{
    for (;;) {
        c->buf[c->len] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n"); /* the head has no NUL */
        if (!end)
            return;
        size_t head_len = (size_t)(end - c->buf) + 4;
        char *line_end = strstr(c->buf, "\r\n");
        size_t clen = 0;
        struct rec tmp = {0};
        memcpy(tmp.headers, line_end + 2, head_len - (size_t)(line_end + 2 - c->buf));
        clen = header_value(tmp.headers, "Content-Length");
        if (c->len < head_len + clen)
            return;
        pthread_mutex_lock(&srv.mu);
        struct rec *r = srv.n_recs < MAX_RECS ? &srv.recs[srv.n_recs++] : &tmp;
        *r = tmp;
        sscanf(c->buf, "%7s %159s", r->method, r->path);
        memcpy(r->body, c->buf + head_len, clen < sizeof(r->body) ? clen : sizeof(r->body));
        r->body_len = clen;
        r->conn_id = c->id;
        handle(c, r, c->buf + head_len);
        pthread_mutex_unlock(&srv.mu);
        if (c->fd < 0)
            return;
        memmove(c->buf, c->buf + head_len + clen, c->len - head_len - clen);
        c->len -= head_len + clen;
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[MAX_CONNS + 2];
        int n = 0;
        p[n++] = (struct pollfd){.fd = srv.wake[0], .events = POLLIN};
        p[n++] = (struct pollfd){.fd = srv.lfd, .events = POLLIN};
        for (int i = 0; i < srv.n_conns; i++)
            p[n++] = (struct pollfd){.fd = srv.conns[i].fd, .events = POLLIN};
        if (poll(p, (nfds_t)n, 5000) <= 0)
            continue;
        if (p[0].revents)
            break;
        if (p[1].revents && srv.n_conns < MAX_CONNS) {
            int fd = accept(srv.lfd, NULL, NULL);
            if (fd >= 0) {
                pthread_mutex_lock(&srv.mu);
                struct conn *c = &srv.conns[srv.n_conns++];
                memset(c, 0, sizeof(*c));
                c->fd = fd;
                c->cap = 16384;
                c->buf = malloc(c->cap);
                if (!c->buf)
                    abort();
                c->id = ++srv.accepted;
                pthread_mutex_unlock(&srv.mu);
            }
        }
        for (int i = 2; i < n; i++) {
            if (!p[i].revents)
                continue;
            struct conn *c = &srv.conns[i - 2];
            if (c->fd < 0)
                continue;
            if (c->cap - c->len < 4096) {
                c->cap *= 2;
                c->buf = realloc(c->buf, c->cap);
                if (!c->buf)
                    abort(); /* no cmocka asserts off the test thread */
            }
            ssize_t got = recv(c->fd, c->buf + c->len, c->cap - 1 - c->len, 0);
            if (got > 0) {
                c->len += (size_t)got;
                serve_buffer(c);
            } else {
                close(c->fd);
                c->fd = -1;
            }
        }
        /* Forget closed connections (positions shift; poll set is rebuilt each turn). */
        pthread_mutex_lock(&srv.mu);
        for (int i = 0; i < srv.n_conns;) {
            if (srv.conns[i].fd < 0) {
                free(srv.conns[i].buf);
                free(srv.conns[i].held_body);
                srv.conns[i] = srv.conns[--srv.n_conns];
            } else {
                i++;
            }
        }
        pthread_mutex_unlock(&srv.mu);
    }
    return NULL;
}

static int server_start(void **state)
{
    (void)state;
    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(srv.lfd, 64) != 0 || pipe(srv.wake) != 0)
        return -1;
    socklen_t len = sizeof(a);
    getsockname(srv.lfd, (struct sockaddr *)&a, &len);
    srv.port = ntohs(a.sin_port);
    return pthread_create(&srv.thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int server_stop(void **state)
{
    (void)state;
    if (write(srv.wake[1], "x", 1) != 1)
        return -1;
    pthread_join(srv.thread, NULL);
    for (int i = 0; i < srv.n_conns; i++) {
        close(srv.conns[i].fd);
        free(srv.conns[i].buf);
        free(srv.conns[i].held_body);
    }
    close(srv.lfd);
    close(srv.wake[0]);
    close(srv.wake[1]);
    pthread_mutex_destroy(&srv.mu);
    return 0;
}

static void server_reset(int hold)
{
    pthread_mutex_lock(&srv.mu);
    srv.n_recs = 0;
    srv.hold = hold;
    srv.close_after = false;
    pthread_mutex_unlock(&srv.mu);
}

static struct rec rec_copy(int i)
{
    pthread_mutex_lock(&srv.mu);
    assert_true(i < srv.n_recs);
    struct rec r = srv.recs[i];
    pthread_mutex_unlock(&srv.mu);
    return r;
}

static int rec_count(void)
{
    pthread_mutex_lock(&srv.mu);
    int n = srv.n_recs;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

static int accepted(void)
{
    pthread_mutex_lock(&srv.mu);
    int n = srv.accepted;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

/* Responses seen by the test's on_response. */
struct seen {
    struct pa_client *client;
    int n;
    int errors;
    int last_error;
    char last_msg[256];
    void *tags[16];
    unsigned char out[64];
    size_t out_len;
    uint64_t send_ns, recv_ns, total_ns;
    const void *expect;   /* non-NULL: OUT must equal these bytes (large outputs) */
    size_t expect_len;
    int matched;
};

static void on_response(void *arg, const struct pa_response *r)
{
    struct seen *s = arg;
    assert_true(r->final);
    assert_false(r->null_response);
    if (s->n < 16)
        s->tags[s->n] = r->tag;
    s->n++;
    s->send_ns = r->send_ns;
    s->recv_ns = r->recv_ns;
    s->total_ns = r->total_ns;
    assert_true(r->total_ns >= r->send_ns);
    assert_true(r->arrival_ns > 0);
    if (r->error) {
        s->errors++;
        s->last_error = r->error;
        snprintf(s->last_msg, sizeof(s->last_msg), "%s", r->error_msg);
        return;
    }
    assert_null(r->error_msg);
    const void *data;
    size_t size;
    struct pa_err err = {0};
    if (pa_client_output(s->client, r, "OUT", &data, &size, &err) != PA_OK)
        fail_msg("pa_client_output: %s", err.msg);
    if (s->expect) {
        assert_int_equal(size, s->expect_len);
        assert_memory_equal(data, s->expect, size);
        s->matched++;
        return;
    }
    assert_true(size <= sizeof(s->out));
    memcpy(s->out, data, size);
    s->out_len = size;
    assert_int_equal(pa_client_output(s->client, r, "NOPE", &data, &size, &err), PA_EPROTO);
}

static void wait_for(struct pa_client *c, struct seen *s, int n)
{
    struct pa_err err = {0};
    /* Bounded by time, not by calls: a poll may return after part of a large response. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    now = t0;
    while (s->n < n && now.tv_sec - t0.tv_sec < 10) {
        int rc = pa_client_poll(c, 50, &err);
        assert_true(rc >= 0);
        clock_gettime(CLOCK_MONOTONIC, &now);
    }
    assert_int_equal(s->n, n);
}

static struct pa_header test_headers[] = {{W("X-Test"), W("yes")}};

static void live_opts(struct pa_options *o, char *url, size_t cap)
{
    snprintf(url, cap, "127.0.0.1:%u", (unsigned)srv.port);
    base_opts(o, url);
    o->headers = test_headers;
    o->n_headers = 1;
}

static void test_live_infer(void **state)
{
    (void)state;
    char url[64];
    struct pa_options o;
    live_opts(&o, url, sizeof(url));
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;

    static const int64_t shape[] = {1, 2};
    const struct pa_input in = {.name = "IN", .datatype = "INT32", .shape = shape, .rank = 2,
                                .data = ints, .byte_size = sizeof(ints)};
    const struct pa_output out = {.name = "OUT"};
    const struct pa_infer_desc d = {.model_name = "simple", .model_version = "", .inputs = &in,
                                    .n_inputs = 1, .outputs = &out, .n_outputs = 1};
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);

    /* Nothing in flight: poll returns at once, whatever the timeout. */
    assert_int_equal(pa_client_poll(&c, -1, &err), 0);
    assert_int_equal(pa_client_in_flight(&c), 0);

    server_reset(0);
    int before = accepted();
    for (int i = 0; i < 3; i++) {
        struct pa_send send = {.tag = &s + i};
        assert_int_equal(pa_client_submit(&c, p, &send, &err), PA_OK);
        assert_int_equal(pa_client_in_flight(&c), 1);
        wait_for(&c, &s, i + 1);
        assert_ptr_equal(s.tags[i], &s + i);
        assert_int_equal(s.errors, 0);
        assert_int_equal(s.out_len, sizeof(ints));
        assert_memory_equal(s.out, ints, sizeof(ints));
    }
    assert_int_equal(pa_client_in_flight(&c), 0);
    assert_true(s.total_ns > 0);
    assert_true(s.total_ns >= s.recv_ns);
    /* Keep-alive: three sequential requests, one connection. */
    assert_int_equal(accepted() - before, 1);

    const char *json = "{\"id\":\"\",\"inputs\":[{\"name\":\"IN\",\"datatype\":\"INT32\","
                       "\"shape\":[1,2],\"parameters\":{\"binary_data_size\":8}}],"
                       "\"outputs\":[{\"name\":\"OUT\",\"parameters\":{\"binary_data\":true}}]}";
    for (int i = 0; i < 3; i++) {
        struct rec r = rec_copy(i);
        assert_string_equal(r.method, "POST");
        assert_string_equal(r.path, "/v2/models/simple/infer");
        assert_int_equal(r.body_len, strlen(json) + sizeof(ints));
        assert_memory_equal(r.body, json, strlen(json));
        assert_memory_equal(r.body + strlen(json), ints, sizeof(ints));
        char want[64];
        snprintf(want, sizeof(want), "Inference-Header-Content-Length: %zu\r\n", strlen(json));
        assert_non_null(strstr(r.headers, want));
        assert_non_null(strstr(r.headers, "Content-Type: application/octet-stream\r\n"));
        assert_non_null(strstr(r.headers, "X-Test: yes\r\n"));
        assert_non_null(strstr(r.headers, "User-Agent: libcurl-agent/1.0\r\n"));
        assert_null(strstr(r.headers, "Expect"));
        assert_int_equal(r.conn_id, rec_copy(0).conn_id);
    }

    /* A sequence send: new prefix, header length follows it. */
    server_reset(0);
    struct pa_send seq = {.sequence_id = 42, .sequence_start = true, .tag = NULL};
    assert_int_equal(pa_client_submit(&c, p, &seq, &err), PA_OK);
    wait_for(&c, &s, 4);
    assert_int_equal(s.errors, 0);
    assert_memory_equal(s.out, ints, sizeof(ints));
    struct rec r = rec_copy(0);
    const char *seq_json =
        "{\"id\":\"\",\"parameters\":{\"sequence_id\":42,\"sequence_start\":true,"
        "\"sequence_end\":false},\"inputs\":[{\"name\":\"IN\",\"datatype\":\"INT32\","
        "\"shape\":[1,2],\"parameters\":{\"binary_data_size\":8}}],"
        "\"outputs\":[{\"name\":\"OUT\",\"parameters\":{\"binary_data\":true}}]}";
    assert_int_equal(r.body_len, strlen(seq_json) + sizeof(ints));
    assert_memory_equal(r.body, seq_json, strlen(seq_json));
    char want[64];
    snprintf(want, sizeof(want), "Inference-Header-Content-Length: %zu\r\n", strlen(seq_json));
    assert_non_null(strstr(r.headers, want));

    /* And back to a plain send on the same handle: the header line is rewritten again. */
    server_reset(0);
    struct pa_send plain = {0};
    assert_int_equal(pa_client_submit(&c, p, &plain, &err), PA_OK);
    wait_for(&c, &s, 5);
    r = rec_copy(0);
    snprintf(want, sizeof(want), "Inference-Header-Content-Length: %zu\r\n", strlen(json));
    assert_non_null(strstr(r.headers, want));
    assert_int_equal(r.body_len, strlen(json) + sizeof(ints));

    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}

static void test_live_in_flight(void **state)
{
    (void)state;
    char url[64];
    struct pa_options o;
    live_opts(&o, url, sizeof(url));
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;

    static const int64_t shape[] = {1, 2};
    const struct pa_input in = {.name = "IN", .datatype = "INT32", .shape = shape, .rank = 2,
                                .data = ints, .byte_size = sizeof(ints)};
    const struct pa_output out = {.name = "OUT"};
    const struct pa_infer_desc d = {.model_name = "simple", .model_version = "", .inputs = &in,
                                    .n_inputs = 1, .outputs = &out, .n_outputs = 1};
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);

    /* The server answers only when 4 requests wait, so all 4 must be in flight together. */
    server_reset(4);
    int before = accepted();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++) {
            if (i == 3) {
                /* Three held: nothing can have come back yet (the 4th releases them). */
                assert_int_equal(pa_client_poll(&c, 0, &err), 0);
                assert_int_equal(pa_client_poll(&c, 20, &err), 0);
                assert_int_equal(pa_client_in_flight(&c), 3);
            }
            struct pa_send send = {.sequence_id = (uint64_t)(i + 1), .tag = &s + i};
            assert_int_equal(pa_client_submit(&c, p, &send, &err), PA_OK);
        }
        assert_int_equal(pa_client_in_flight(&c), 4);
        wait_for(&c, &s, 4 * (round + 1));
        assert_int_equal(s.errors, 0);
        assert_int_equal(pa_client_in_flight(&c), 0);
    }
    /* Four connections, reused by the second round. */
    assert_int_equal(accepted() - before, 4);
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}

static void test_live_errors(void **state)
{
    (void)state;
    char url[64];
    struct pa_options o;
    live_opts(&o, url, sizeof(url));
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;
    server_reset(0);

    static const int64_t shape[] = {2};
    const struct pa_input in = {.name = "IN", .datatype = "INT32", .shape = shape, .rank = 1,
                                .data = ints, .byte_size = sizeof(ints)};
    struct pa_infer_desc d = {.model_name = "bad", .model_version = "", .inputs = &in,
                              .n_inputs = 1};
    struct pa_prepared *bad = NULL, *drop = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &bad, &err), PA_OK);
    d.model_name = "drop";
    assert_int_equal(pa_client_prepare(&c, &d, &drop, &err), PA_OK);

    struct pa_send send = {0};
    assert_int_equal(pa_client_submit(&c, bad, &send, &err), PA_OK);
    wait_for(&c, &s, 1);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_error, PA_ESERVER);
    assert_string_equal(s.last_msg, "unknown model 'bad'");
    /* No outputs requested: binary_data_output asked for in the parameters. */
    struct rec r = rec_copy(0);
    assert_non_null(strstr(r.body, "\"parameters\":{\"binary_data_output\":true}"));

    assert_int_equal(pa_client_submit(&c, drop, &send, &err), PA_OK);
    wait_for(&c, &s, 2);
    assert_int_equal(s.errors, 2);
    assert_int_equal(s.last_error, PA_ECONN);
    /* Sent on the kept-alive connection, then once more on a new one (nothing came back). */
    assert_int_equal(rec_count(), 3);
    assert_int_equal(rec_copy(2).conn_id, rec_copy(1).conn_id + 1);
    char want[128];
    snprintf(want, sizeof(want), "HTTP client failed: %s", curl_easy_strerror(CURLE_GOT_NOTHING));
    assert_string_equal(s.last_msg, want);
    pa_client_prepared_free(&c, bad);
    pa_client_prepared_free(&c, drop);
    pa_client_close(&c);

    /* Nobody listening: the golden err_server_not_running text. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    snprintf(url, sizeof(url), "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    base_opts(&o, url);
    memset(&s, 0, sizeof(s));
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;
    cJSON *j = NULL;
    assert_int_equal(pa_client_model_metadata(&c, "simple", "", &j, &err), PA_ECONN);
    assert_string_equal(err.msg, "HTTP client failed: Couldn't connect to server");
    d.model_name = "simple";
    struct pa_prepared *p = NULL;
    assert_int_equal(pa_client_prepare(&c, &d, &p, &err), PA_OK);
    assert_int_equal(pa_client_submit(&c, p, &send, &err), PA_OK);
    wait_for(&c, &s, 1);
    assert_int_equal(s.last_error, PA_ECONN);
    assert_string_equal(s.last_msg, "HTTP client failed: Couldn't connect to server");
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}


/* A prepared request of one INT32 input for `model` (the server echoes it as OUT). */
static struct pa_prepared *prepare_echo(struct pa_client *c, const char *model,
                                        const int64_t *shape, const void *data, size_t size)
{
    const struct pa_input in = {.name = "IN", .datatype = "INT32", .shape = shape, .rank = 2,
                                .data = data, .byte_size = size};
    const struct pa_output out = {.name = "OUT"};
    const struct pa_infer_desc d = {.model_name = model, .model_version = "", .inputs = &in,
                                    .n_inputs = 1, .outputs = &out, .n_outputs = 1};
    struct pa_prepared *p = NULL;
    struct pa_err err = {0};
    if (pa_client_prepare(c, &d, &p, &err) != PA_OK)
        fail_msg("prepare: %s", err.msg);
    return p;
}

static void submit_and_wait(struct pa_client *c, struct seen *s, struct pa_prepared *p,
                            uint64_t sequence_id)
{
    struct pa_err err = {0};
    struct pa_send send = {.sequence_id = sequence_id, .tag = s};
    int n = s->n;
    assert_int_equal(pa_client_submit(c, p, &send, &err), PA_OK);
    wait_for(c, s, n + 1);
}

/* Response framings other than Content-Length, and servers that close. */
static void test_live_framing(void **state)
{
    (void)state;
    char url[64];
    struct pa_options o;
    live_opts(&o, url, sizeof(url));
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;
    static const int64_t shape[] = {1, 2};
    struct pa_prepared *chunked = prepare_echo(&c, "chunked", shape, ints, sizeof(ints));
    struct pa_prepared *closing = prepare_echo(&c, "closing", shape, ints, sizeof(ints));
    struct pa_prepared *eof = prepare_echo(&c, "eof", shape, ints, sizeof(ints));
    struct pa_prepared *partial = prepare_echo(&c, "partial", shape, ints, sizeof(ints));
    server_reset(0);

    /* Chunked, in pieces a few ms apart, with an extension and a trailer; kept alive. */
    int before = accepted();
    for (int i = 0; i < 2; i++) {
        memset(s.out, 0, sizeof(s.out));
        submit_and_wait(&c, &s, chunked, i ? 7 : 0);
        assert_int_equal(s.errors, 0);
        assert_int_equal(s.out_len, sizeof(ints));
        assert_memory_equal(s.out, ints, sizeof(ints));
        assert_true(s.recv_ns >= 2000000); /* the pieces came over >= 4 ms */
    }
    assert_int_equal(accepted() - before, 1);

    /* Connection: close: answered, and the next request opens a new connection. */
    server_reset(0);
    before = accepted();
    for (int i = 0; i < 2; i++) {
        memset(s.out, 0, sizeof(s.out));
        submit_and_wait(&c, &s, closing, 0);
        assert_int_equal(s.errors, 0);
        assert_memory_equal(s.out, ints, sizeof(ints));
    }
    /* The first went on the chunked test's connection, the second needed a new one. */
    assert_int_equal(accepted() - before, 1);
    assert_int_equal(rec_count(), 2);
    assert_int_not_equal(rec_copy(0).conn_id, rec_copy(1).conn_id);

    /* HTTP/1.0 without a length: the body ends when the server closes. */
    memset(s.out, 0, sizeof(s.out));
    submit_and_wait(&c, &s, eof, 0);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.out_len, sizeof(ints));
    assert_memory_equal(s.out, ints, sizeof(ints));

    /* Closed in the middle of the body: an error, not sent again. */
    server_reset(0);
    submit_and_wait(&c, &s, partial, 0);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_error, PA_ECONN);
    char want[128];
    snprintf(want, sizeof(want), "HTTP client failed: %s", curl_easy_strerror(CURLE_PARTIAL_FILE));
    assert_string_equal(s.last_msg, want);
    assert_int_equal(rec_count(), 1);
    assert_int_equal(pa_client_in_flight(&c), 0);

    pa_client_prepared_free(&c, chunked);
    pa_client_prepared_free(&c, closing);
    pa_client_prepared_free(&c, eof);
    pa_client_prepared_free(&c, partial);
    pa_client_close(&c);
}

/* The server closes every kept-alive connection after answering: requests are sent again once. */
static void test_live_server_closed(void **state)
{
    (void)state;
    char url[64];
    struct pa_options o;
    live_opts(&o, url, sizeof(url));
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;
    static const int64_t shape[] = {1, 2};
    struct pa_prepared *p = prepare_echo(&c, "simple", shape, ints, sizeof(ints));

    server_reset(0);
    pthread_mutex_lock(&srv.mu);
    srv.close_after = true;
    pthread_mutex_unlock(&srv.mu);
    int before = accepted();
    for (int i = 0; i < 3; i++) {
        memset(s.out, 0, sizeof(s.out));
        submit_and_wait(&c, &s, p, (uint64_t)i);
        assert_int_equal(s.errors, 0);
        assert_memory_equal(s.out, ints, sizeof(ints));
    }
    /* A new connection per request; the server saw each request once. */
    assert_int_equal(accepted() - before, 3);
    assert_int_equal(rec_count(), 3);

    /* Several in flight on connections the server had closed. */
    server_reset(3);
    pthread_mutex_lock(&srv.mu);
    srv.close_after = true;
    pthread_mutex_unlock(&srv.mu);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 3; i++) {
            struct pa_send send = {.tag = &s};
            assert_int_equal(pa_client_submit(&c, p, &send, &err), PA_OK);
        }
        wait_for(&c, &s, 3 + 3 * (round + 1));
        assert_int_equal(s.errors, 0);
    }
    assert_int_equal(rec_count(), 6);
    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
}

/*
 * A 16 MiB request and its 16 MiB echo: the request cannot leave in one
 * send (partial writes, EPOLLOUT), the response grows the connection's
 * buffer, and both sit on one kept-alive connection.
 */
static void test_live_large(void **state)
{
    (void)state;
    char url[64];
    struct pa_options o;
    live_opts(&o, url, sizeof(url));
    struct seen s = {0};
    struct pa_client c;
    struct pa_err err = {0};
    assert_int_equal(pa_client_open(&c, &o, on_response, &s, &err), PA_OK);
    s.client = &c;

    size_t count = (size_t)4 << 20;
    int32_t *big = malloc(count * sizeof(*big));
    assert_non_null(big);
    for (size_t i = 0; i < count; i++)
        big[i] = (int32_t)(i * 2654435761u);
    const int64_t shape[] = {1, (int64_t)count};
    struct pa_prepared *p = prepare_echo(&c, "simple", shape, big, count * sizeof(*big));
    s.expect = big;
    s.expect_len = count * sizeof(*big);

    server_reset(0);
    int before = accepted();
    submit_and_wait(&c, &s, p, 0);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.matched, 1);
    assert_true(s.send_ns > 0);
    /* A sequence send: head, prefix and body from three places, partially written too. */
    submit_and_wait(&c, &s, p, 99);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.matched, 2);
    assert_int_equal(accepted() - before, 1);
    struct rec r = rec_copy(1);
    assert_int_equal(r.body_len, count * sizeof(*big) + strlen("{\"id\":\"\",\"parameters\":"
        "{\"sequence_id\":99,\"sequence_start\":false,\"sequence_end\":false},\"inputs\":["
        "{\"name\":\"IN\",\"datatype\":\"INT32\",\"shape\":[1,4194304],\"parameters\":"
        "{\"binary_data_size\":16777216}}],\"outputs\":[{\"name\":\"OUT\",\"parameters\":"
        "{\"binary_data\":true}}]}"));

    pa_client_prepared_free(&c, p);
    pa_client_close(&c);
    free(big);
}

static void test_live_control_plane(void **state)
{
    (void)state;
    char url[64];
    struct pa_options o;
    live_opts(&o, url, sizeof(url));
    o.trace_level = W("TIMESTAMPS");
    o.trace_rate = W("5");
    o.trace_count = -1;
    o.trace_count_given = true;
    struct pa_client c;
    struct pa_err err = {0};
    server_reset(0);
    /* Opening posts the trace settings (spec 06 §1.6), without the -H headers. */
    assert_int_equal(pa_client_open(&c, &o, NULL, NULL, &err), PA_OK);
    struct rec r = rec_copy(0);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.path, "/v2/trace/setting");
    r.body[r.body_len] = '\0';
    assert_string_equal(r.body,
                        "{\"trace_level\":[\"TIMESTAMPS\"],\"trace_rate\":\"5\",\"trace_count\":\"-1\"}");
    assert_null(strstr(r.headers, "X-Test"));

    cJSON *j = NULL;
    assert_int_equal(pa_client_model_metadata(&c, "simple", "", &j, &err), PA_OK);
    assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "simple");
    cJSON_Delete(j);
    assert_int_equal(pa_client_model_config(&c, "simple", "2", &j, &err), PA_OK);
    assert_int_equal(cJSON_GetObjectItem(j, "max_batch_size")->valueint, 8);
    cJSON_Delete(j);
    j = NULL;
    assert_int_equal(pa_client_model_metadata(&c, "nope", "", &j, &err), PA_ESERVER);
    assert_string_equal(err.msg, "Request for unknown model: 'nope' is not found");
    assert_null(j);
    assert_int_equal(pa_client_model_statistics(&c, NULL, NULL, &j, &err), PA_OK);
    assert_non_null(cJSON_GetObjectItem(j, "model_stats"));
    cJSON_Delete(j);
    assert_int_equal(pa_client_server_metadata(&c, &j, &err), PA_OK);
    cJSON_Delete(j);
    assert_int_equal(pa_client_register_system_shm(&c, "in0", "/in0", 0, 64, &err), PA_OK);
    assert_int_equal(pa_client_unregister_system_shm(&c, NULL, &err), PA_OK);
    assert_int_equal(pa_client_unregister_cuda_shm(&c, "r1", &err), PA_OK);
    static const unsigned char handle[4] = {0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(pa_client_register_cuda_shm(&c, "g", handle, 4, 0, 128, &err), PA_OK);

    r = rec_copy(1);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.path, "/v2/models/simple");
    assert_non_null(strstr(r.headers, "X-Test: yes\r\n"));
    assert_string_equal(rec_copy(2).path, "/v2/models/simple/versions/2/config");
    assert_string_equal(rec_copy(4).path, "/v2/models/stats");
    assert_string_equal(rec_copy(5).path, "/v2");
    r = rec_copy(6);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.path, "/v2/systemsharedmemory/region/in0/register");
    r.body[r.body_len] = '\0';
    assert_string_equal(r.body, "{\"key\":\"/in0\",\"offset\":0,\"byte_size\":64}");
    r = rec_copy(7);
    assert_string_equal(r.path, "/v2/systemsharedmemory/unregister");
    assert_int_equal(r.body_len, 0);
    assert_string_equal(rec_copy(8).path, "/v2/cudasharedmemory/region/r1/unregister");
    r = rec_copy(9);
    assert_string_equal(r.path, "/v2/cudasharedmemory/region/g/register");
    r.body[r.body_len] = '\0';
    assert_string_equal(r.body,
                        "{\"raw_handle\":{\"b64\":\"3q2+7w==\"},\"device_id\":0,\"byte_size\":128}");
    pa_client_close(&c);
}

int main(void)
{
    const struct CMUnitTest codec[] = {
        cmocka_unit_test(test_encode_binary),
        cmocka_unit_test(test_encode_json_data),
        cmocka_unit_test(test_encode_shm_and_no_outputs),
        cmocka_unit_test(test_encode_errors),
        cmocka_unit_test(test_encode_prefix),
        cmocka_unit_test(test_decode_binary_response),
        cmocka_unit_test(test_decode_json_response),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_unsupported_wrappers),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_live_infer),
        cmocka_unit_test(test_live_in_flight),
        cmocka_unit_test(test_live_errors),
        cmocka_unit_test(test_live_framing),
        cmocka_unit_test(test_live_server_closed),
        cmocka_unit_test(test_live_large),
        cmocka_unit_test(test_live_control_plane),
    };
    int failed = cmocka_run_group_tests_name("http codec", codec, NULL, NULL);
    failed += cmocka_run_group_tests_name("http live", live, server_start, server_stop);
    return failed;
}
