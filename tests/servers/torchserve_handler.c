/*
 * pa-test-server's TorchServe inference API (see torchserve_handler.h for
 * what it computes and answers).
 */
#include "torchserve_handler.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/banned.h"

static const char not_found[] =
    "Requested resource is not found, please refer to API document.";
static const char not_allowed[] =
    "Requested method is not allowed, please refer to API document.";

/* Zero-filled input data: big enough for every shipped model at batch 1. */
#define ZEROS_MAX ((size_t)64 * 1024)
static const unsigned char zeros[ZEROS_MAX];

static const unsigned char *find(const unsigned char *hay, size_t n, const char *needle,
                                 size_t m)
{
    if (m == 0 || n < m)
        return NULL;
    for (size_t i = 0; i + m <= n; i++) {
        if (hay[i] == (unsigned char)needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    }
    return NULL;
}

/* The boundary parameter of a multipart Content-Type (quotes removed). */
static int boundary_of(const char *ct, char *out, size_t cap)
{
    const char *p = ct;
    while ((p = strchr(p, ';'))) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) == 0) {
            p += 9;
            size_t n = 0;
            bool quoted = *p == '"';
            if (quoted)
                p++;
            while (p[n] && (quoted ? p[n] != '"' : (p[n] != ';' && p[n] != ' ')))
                n++;
            if (n == 0 || n >= cap)
                return -1;
            memcpy(out, p, n);
            out[n] = '\0';
            return 0;
        }
    }
    return -1;
}

/* True when the part headers [h, h+n) name the part `data`. */
static bool names_data(const unsigned char *h, size_t n)
{
    static const char key[] = "name=\"data\"";
    const unsigned char *p = h;
    size_t left = n;
    /* "name=" must not be the tail of "filename=". */
    while ((p = find(p, left, key, sizeof(key) - 1))) {
        if (p == h || (p[-1] != 'e' && p[-1] != 'E'))
            return true;
        p++;
        left = n - (size_t)(p - h);
    }
    return false;
}

int torchserve_upload(const char *content_type, const unsigned char *body, size_t len,
                      const unsigned char **data, size_t *data_len, char *err, size_t errlen)
{
    char boundary[128], delim[136];
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19) != 0) {
        *data = body;
        *data_len = len;
        return 0;
    }
    if (boundary_of(content_type, boundary, sizeof(boundary))) {
        snprintf(err, errlen, "multipart/form-data request without a usable boundary");
        return -1;
    }
    /* Parts are delimited by "\r\n--boundary"; the first may start the body. */
    int dl = snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    size_t dlen = (size_t)dl;
    const unsigned char *p = body, *end = body + len;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        p = find(body, len, delim, dlen);
        if (!p) {
            snprintf(err, errlen, "malformed multipart/form-data body: no boundary");
            return -1;
        }
        p += dlen;
    }
    for (;;) {
        /* p is just after a delimiter: "--" ends the body, else CRLF + a part. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            snprintf(err, errlen, "malformed multipart/form-data body");
            return -1;
        }
        p += 2;
        const unsigned char *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) {
            snprintf(err, errlen, "malformed multipart/form-data body: unterminated part headers");
            return -1;
        }
        const unsigned char *content = hend + 4;
        const unsigned char *next = find(content, (size_t)(end - content), delim, dlen);
        if (!next) {
            snprintf(err, errlen, "malformed multipart/form-data body: unterminated part");
            return -1;
        }
        if (names_data(p, (size_t)(hend - p))) {
            *data = content;
            *data_len = (size_t)(next - content);
            return 0;
        }
        p = next + dlen;
    }
    snprintf(err, errlen, "Invalid request: no part named 'data' in the multipart body");
    return -1;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void json_error(struct buf *out, struct torchserve_reply *reply, unsigned code,
                       const char *type, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "code", code);
    cJSON_AddStringToObject(j, "type", type);
    cJSON_AddStringToObject(j, "message", msg);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    buf_reset(out);
    if (text && buf_append_str(out, text) != PA_OK)
        buf_reset(out);
    cJSON_free(text);
    reply->status = code;
}

/* Runs the model once on zero-filled inputs: delay, knobs and statistics as for /infer. */
static int run_model(struct engine *e, const struct engine_model *m, int64_t version,
                     uint64_t arrival_ns, struct engine_response *resp, char *msg, size_t cap)
{
    const struct engine_model_info *mi = engine_model_info(m);
    struct engine_request req;
    memset(&req, 0, sizeof(req));
    req.defer_delay = true;
    req.arrival_ns = arrival_ns;
    for (size_t i = 0; i < mi->n_inputs; i++) {
        const struct engine_tensor_info *ti = &mi->inputs[i];
        struct engine_input *in = &req.inputs[req.n_inputs++];
        size_t elems = 1, r = 0;
        in->name = ti->name;
        in->dtype = ti->dtype;
        if (mi->max_batch_size > 0)
            in->shape[r++] = 1;
        for (size_t d = 0; d < ti->rank && r < ENGINE_MAX_DIMS; d++) {
            int64_t dim = ti->dims[d] < 0 ? 1 : ti->dims[d];
            in->shape[r++] = dim;
            elems *= (size_t)dim;
        }
        in->rank = r;
        size_t esize = ti->dtype == ENGINE_TYPE_BYTES ? 4 : engine_dtype_size(ti->dtype);
        in->byte_size = elems * esize;
        if (in->byte_size > ZEROS_MAX) {
            snprintf(msg, cap, "input '%s' of model '%s' is too large for the TorchServe handler",
                     ti->name, mi->name);
            return -1;
        }
        in->data = zeros;
    }
    if (engine_infer(e, m, version, &req, resp) != ENGINE_OK) {
        snprintf(msg, cap, "%s", resp->status.msg);
        return -1;
    }
    return 0;
}

void torchserve_handle(struct engine *e, char **seg, size_t n, const char *method,
                       const char *content_type, const void *body, size_t len,
                       uint64_t arrival_ns, struct engine_response *resp, struct buf *out,
                       struct torchserve_reply *reply)
{
    char msg[ENGINE_MSG_MAX];
    struct engine_status st;
    const struct engine_model *m;
    int64_t version;
    const unsigned char *data;
    size_t data_len;

    memset(reply, 0, sizeof(*reply));
    if (!strcmp(seg[0], "ping")) {
        if (n != 1) {
            json_error(out, reply, 404, "ResourceNotFoundException", not_found);
        } else if (strcmp(method, "GET")) {
            json_error(out, reply, 405, "MethodNotAllowedException", not_allowed);
        } else {
            buf_reset(out);
            if (buf_append_str(out, "{\"status\": \"Healthy\"}") != PA_OK)
                buf_reset(out);
            reply->status = 200;
        }
        return;
    }
    if (n < 2 || n > 3) {
        json_error(out, reply, 404, "ResourceNotFoundException", not_found);
        return;
    }
    if (strcmp(method, "POST") && strcmp(method, "PUT")) {
        json_error(out, reply, 405, "MethodNotAllowedException", not_allowed);
        return;
    }
    if (engine_find(e, seg[1], n == 3 ? seg[2] : NULL, &m, &version, &st)) {
        if (n == 3)
            snprintf(msg, sizeof(msg), "Model version %s does not exist for model %s", seg[2],
                     seg[1]);
        else
            snprintf(msg, sizeof(msg), "Model not found: %s", seg[1]);
        json_error(out, reply, 404, "ModelNotFoundException", msg);
        return;
    }
    if (torchserve_upload(content_type, body, len, &data, &data_len, msg, sizeof(msg))) {
        json_error(out, reply, 400, "BadRequestException", msg);
        return;
    }
    if (run_model(e, m, version, arrival_ns, resp, msg, sizeof(msg))) {
        json_error(out, reply, 503, "InternalServerException", msg);
        return;
    }
    buf_reset(out);
    if (buf_printf(out,
                   "{\"model\": \"%s\", \"version\": \"%" PRId64 "\", \"bytes\": %zu, "
                   "\"fnv1a64\": \"%016" PRIx64 "\"}",
                   engine_model_info(m)->name, version, data_len,
                   fnv1a64(data, data_len)) != PA_OK)
        buf_reset(out);
    reply->status = 200;
    reply->ready_ns = resp->ready_ns;
    reply->drop = resp->drop_connection;
}
