/*
 * libFuzzer target for the HTTP response decoder of the Triton HTTP backend
 * (src/client/http_codec.h): http_error_message for failed requests and
 * http_output_lookup, which splits a binary-extension response into its
 * JSON header and binary section and converts JSON `data` outputs to the
 * binary layout.
 *
 * Input layout: bytes 0-1 (little endian) are the Inference-Header-Content-
 * Length (0xffff = header absent, -1; a value past the body means "whole
 * body", as the decoder clamps it); byte 2 picks the HTTP status (low 3
 * bits) and a small scratch limit (bit 3), so the "too large" path runs
 * too; the rest is the response body. Every output the header names is
 * looked up, plus a few fixed names, through one cached parse as the
 * backend does. Any crash, leak or undefined behavior is a bug: a hostile
 * server must only ever produce PA_EPROTO.
 *
 * The target also checks what the callers rely on: a found output's bytes
 * are readable (binary outputs lie inside the body's binary section), and
 * the error message is terminated within its buffer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "client/http_codec.h"
#include "core/buf.h"
#include "core/xalloc.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LOOKUPS 32

static void lookup(const char *body, size_t len, long json_len, cJSON **parsed,
                   const char *name, struct buf *scratch)
{
    const void *out = NULL;
    size_t n = 0;
    struct pa_err err = {0};
    int rc = http_output_lookup(body, len, json_len, parsed, name, scratch, &out, &n, &err);
    if (rc != PA_OK) {
        check(rc == PA_EPROTO);
        check(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        return;
    }
    check(out != NULL || n == 0);
    const char *o = out;
    bool in_body = o >= body && o <= body + len;
    if (in_body) {
        /* Binary outputs come from the binary section, after the JSON header. */
        size_t jlen = json_len >= 0 && (size_t)json_len <= len ? (size_t)json_len : len;
        check(o >= body + jlen && n <= (size_t)(body + len - o));
    }
    (void)touch(out, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 404, 499, 500, 503, 0, 302};
    static const char *const fixed_names[] = {"OUTPUT0", "OUTPUT1", "OUT", ""};

    if (size < 3)
        return 0;
    unsigned hdr = (unsigned)data[0] | (unsigned)data[1] << 8;
    long json_len = hdr == 0xffff ? -1 : (long)hdr;
    long status = statuses[data[2] & 7];
    const char *body = (const char *)data + 3;
    size_t len = size - 3;

    char msg[64], big[512];
    http_error_message(body, len, json_len, status, msg, sizeof(msg));
    check(memchr(msg, '\0', sizeof(msg)) != NULL);
    http_error_message(body, len, json_len, status, big, sizeof(big));
    check(memchr(big, '\0', sizeof(big)) != NULL);
    /* A response without a body (NULL pointer) must be fine as well. */
    http_error_message(NULL, 0, -1, status, msg, sizeof(msg));

    struct buf scratch;
    buf_init(&scratch, (data[2] & 8) ? 64 : 0);
    cJSON *parsed = NULL;
    for (size_t i = 0; i < sizeof(fixed_names) / sizeof(fixed_names[0]); i++)
        lookup(body, len, json_len, &parsed, fixed_names[i], &scratch);

    /*
     * The names the response itself announces. Copied first: the lookups
     * must not change the cached tree, but if they did, the copy keeps
     * this loop independent of that bug.
     */
    char *names[MAX_LOOKUPS];
    size_t n_names = 0;
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(parsed, "outputs");
    const cJSON *o;
    cJSON_ArrayForEach(o, outputs)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (n_names < MAX_LOOKUPS && cJSON_IsString(nm) && nm->valuestring)
            names[n_names++] = xstrdup(nm->valuestring);
    }
    for (size_t i = 0; i < n_names; i++) {
        lookup(body, len, json_len, &parsed, names[i], &scratch);
        free(names[i]);
    }

    cJSON_Delete(parsed);
    buf_release(&scratch);
    return 0;
}
