/*
 * libFuzzer target for the server statistics parser and the per-window
 * deltas (src/measure/server_stats.h). The statistics JSON comes from the
 * server (HTTP body, or the gRPC answer converted by grpc_json), so it is
 * untrusted.
 *
 * Input layout: byte 0 picks the target model's version ("" or "1", bit 0)
 * and whether it has the response cache on (bit 1); the rest is two
 * statistics documents, the window's start and end snapshots, separated by
 * a form feed (without one, the same document is both). The composing map
 * is fixed: the target "m" is an ensemble of "a" (latest) and "b" version 1,
 * and "a" lists "m" again, a cycle the depth limit must stop.
 *
 * Checked: errors carry a known code, a successful delta has the target's
 * name and a composing tree that can be copied, summed with itself and
 * cleared without leaks.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "measure/server_stats.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char n_m[] = "m", n_a[] = "a", n_b[] = "b", v_none[] = "", v_1[] = "1";
static struct pa_name_version m_parts[] = {{n_a, v_none}, {n_b, v_1}};
static struct pa_name_version a_parts[] = {{n_m, v_none}};
static const struct pa_composing composing[] = {
    {n_m, m_parts, 2},
    {n_a, a_parts, 1},
};

static bool parse(const uint8_t *p, size_t n, struct server_snapshot *out)
{
    struct pa_err err = {0};
    cJSON *root = cJSON_ParseWithLength((const char *)p, n);
    int rc = server_snapshot_parse(root, out, &err);
    cJSON_Delete(root);
    check(rc == PA_OK || rc == PA_EPROTO);
    check(rc != PA_OK || out->n == 0 || out->entries != NULL);
    return rc == PA_OK;
}

static bool tree_ok(const struct pa_server_side *s)
{
    if (!memchr(s->name, '\0', sizeof(s->name)) || !memchr(s->version, '\0', sizeof(s->version)))
        return false;
    for (size_t i = 0; i < s->n_composing; i++)
        if (!tree_ok(&s->composing[i]))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct server_model model = {
        .name = n_m,
        .version = (data[0] & 1) ? v_1 : v_none,
        .composing = composing,
        .n_composing = sizeof(composing) / sizeof(composing[0]),
        .top_level_cache = (data[0] & 2) != 0,
    };
    const uint8_t *text = data + 1;
    size_t len = size - 1;
    const uint8_t *ff = memchr(text, '\f', len);
    size_t cut = ff ? (size_t)(ff - text) : len;

    struct server_snapshot start = {0}, end = {0};
    bool ok = parse(text, cut, &start);
    ok = parse(ff ? ff + 1 : text, ff ? len - cut - 1 : len, &end) && ok;
    if (ok) {
        struct pa_server_side delta, copy;
        struct pa_err err = {0};
        int rc = server_stats_delta(&start, &end, &model, &delta, &err);
        if (rc == PA_OK) {
            check(strcmp(delta.name, "m") == 0 && tree_ok(&delta));
            server_side_copy(&copy, &delta);
            rc = server_stats_add(&copy, &delta, &err);
            check(rc == PA_OK); /* same shape: must add */
            check(copy.inference_count == 2 * delta.inference_count);
            server_side_clear(&copy);
            server_side_clear(&delta);
        } else {
            check(rc == PA_ESERVER || rc == PA_EINTERNAL);
            check(delta.composing == NULL && delta.n_composing == 0);
        }
    }
    server_snapshot_release(&start);
    server_snapshot_release(&end);
    return 0;
}
