/*
 * Server-side statistics deltas (spec 03 §5).
 *
 * A snapshot is the flat list of (model, version) counter sets from one
 * statistics call. A window's statistics are the end − start deltas of the
 * target model, whose version is resolved from the counters when the user
 * gave none (the highest version whose queue count moved), and recursively
 * of every composing model the composing map lists under it. The result is a
 * tree of struct pa_server_side that the merge sums node by node.
 */
#include "measure/server_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/xalloc.h"

#include "core/banned.h"

/* Nested ensembles deeper than this are surely a cycle in the composing map. */
#define MAX_DEPTH 32

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int parse_pair(const cJSON *stats, const char *key, struct pa_stat_pair *out,
                      struct pa_err *err)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(stats, key);
    out->count = 0;
    out->ns = 0;
    if (!cJSON_IsObject(o))
        return PA_OK;
    int rc = json_get_u64_or(o, "count", 0, &out->count, err);
    if (!rc)
        rc = json_get_u64_or(o, "ns", 0, &out->ns, err);
    return rc;
}

static int parse_entry(const cJSON *m, struct server_stat_entry *e, struct pa_err *err)
{
    const char *name = json_get_str(m, "name");
    const char *version = json_get_str(m, "version");
    if (!name)
        return pa_errorf(err, PA_EPROTO, "model statistics entry without a name");
    copy_name(e->name, sizeof(e->name), name);
    copy_name(e->version, sizeof(e->version), version);

    int rc = json_get_u64_or(m, "inference_count", 0, &e->inference_count, err);
    if (!rc)
        rc = json_get_u64_or(m, "execution_count", 0, &e->execution_count, err);
    if (rc)
        return rc;
    const cJSON *is = cJSON_GetObjectItemCaseSensitive(m, "inference_stats");
    struct {
        const char *key;
        struct pa_stat_pair *pair;
    } pairs[] = {
        {"success", &e->success},
        {"queue", &e->queue},
        {"compute_input", &e->compute_input},
        {"compute_infer", &e->compute_infer},
        {"compute_output", &e->compute_output},
        {"cache_hit", &e->cache_hit},
        {"cache_miss", &e->cache_miss},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        rc = parse_pair(is, pairs[i].key, pairs[i].pair, err);
        if (rc)
            return rc;
    }
    return PA_OK;
}

int server_snapshot_parse(const cJSON *root, struct server_snapshot *out, struct pa_err *err)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "model_stats");
    server_snapshot_release(out);
    if (!cJSON_IsArray(list))
        return pa_errorf(err, PA_EPROTO, "statistics response without 'model_stats'");
    size_t n = (size_t)cJSON_GetArraySize(list);
    out->entries = xcalloc(n ? n : 1, sizeof(*out->entries));
    const cJSON *m;
    cJSON_ArrayForEach(m, list)
    {
        int rc = parse_entry(m, &out->entries[out->n], err);
        if (rc) {
            server_snapshot_release(out);
            return rc;
        }
        out->n++;
    }
    return PA_OK;
}

void server_snapshot_release(struct server_snapshot *s)
{
    if (!s)
        return;
    free(s->entries);
    s->entries = NULL;
    s->n = 0;
}

static const struct server_stat_entry *find(const struct server_snapshot *s, const char *name,
                                            const char *version)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->entries[i].name, name) && !strcmp(s->entries[i].version, version))
            return &s->entries[i];
    return NULL;
}

/* A version string as a number; -1 when it is not one. */
static long long version_number(const char *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v)
        return -1;
    return x;
}

/*
 * The version whose statistics describe `name` in this window: the given one
 * if it exists in the end snapshot; otherwise the highest version whose queue
 * count increased. -1 when none qualifies.
 */
static long long resolve_version(const struct server_snapshot *start,
                                 const struct server_snapshot *end, const char *name,
                                 const char *version)
{
    if (version && *version)
        return find(end, name, version) ? version_number(version) : -1;

    long long best = -1;
    bool multiple = false;
    for (size_t i = 0; i < end->n; i++) {
        const struct server_stat_entry *e = &end->entries[i];
        if (strcmp(e->name, name))
            continue;
        const struct server_stat_entry *s = find(start, e->name, e->version);
        uint64_t before = s ? s->queue.count : 0;
        if (e->queue.count <= before)
            continue;
        long long v = version_number(e->version);
        if (best != -1)
            multiple = true;
        if (v > best)
            best = v;
    }
    if (multiple)
        log_warnx("WARNING: Multiple versions of model %s are loaded in the triton server, and "
                  "the version to use was unspecified. The stats for that model may be "
                  "inaccurate.",
                  name);
    return best;
}

static struct pa_stat_pair pair_delta(struct pa_stat_pair e, const struct pa_stat_pair *s)
{
    struct pa_stat_pair d = e;
    if (s) {
        d.count = e.count - s->count;
        d.ns = e.ns - s->ns;
    }
    return d;
}

static const struct pa_composing *composing_of(const struct server_model *m, const char *parent)
{
    for (size_t i = 0; i < m->n_composing; i++)
        if (m->composing[i].parent && !strcmp(m->composing[i].parent, parent))
            return &m->composing[i];
    return NULL;
}

static int delta_node(const struct server_snapshot *start, const struct server_snapshot *end,
                      const struct server_model *m, const char *name, const char *version,
                      int depth, struct pa_server_side *out, struct pa_err *err)
{
    if (depth > MAX_DEPTH)
        return pa_errorf(err, PA_EINTERNAL, "composing models of '%s' nest too deeply", name);

    long long v = resolve_version(start, end, name, version);
    if (v == -1 && !(depth == 0 && m->top_level_cache))
        return pa_errorf(err, PA_ESERVER, "failed to find the requested model version");

    copy_name(out->name, sizeof(out->name), name);
    snprintf(out->version, sizeof(out->version), "%lld", v);
    const struct server_stat_entry *e = find(end, name, out->version);
    if (!e)
        return pa_errorf(err, PA_ESERVER, "missing statistics for requested model");
    const struct server_stat_entry *s = find(start, name, out->version);

    out->inference_count = e->inference_count - (s ? s->inference_count : 0);
    out->execution_count = e->execution_count - (s ? s->execution_count : 0);
    out->success = pair_delta(e->success, s ? &s->success : NULL);
    out->queue = pair_delta(e->queue, s ? &s->queue : NULL);
    out->compute_input = pair_delta(e->compute_input, s ? &s->compute_input : NULL);
    out->compute_infer = pair_delta(e->compute_infer, s ? &s->compute_infer : NULL);
    out->compute_output = pair_delta(e->compute_output, s ? &s->compute_output : NULL);
    out->cache_hit = pair_delta(e->cache_hit, s ? &s->cache_hit : NULL);
    out->cache_miss = pair_delta(e->cache_miss, s ? &s->cache_miss : NULL);
    if (out->compute_input.count != out->compute_infer.count ||
        out->compute_infer.count != out->compute_output.count)
        return pa_errorf(err, PA_ESERVER, "Server side statistics compute counts must be the same.");

    const struct pa_composing *c = composing_of(m, name);
    if (!c || c->n_models == 0)
        return PA_OK;
    out->composing = xcalloc(c->n_models, sizeof(*out->composing));
    out->n_composing = c->n_models;
    for (size_t i = 0; i < c->n_models; i++) {
        int rc = delta_node(start, end, m, c->models[i].name, c->models[i].version, depth + 1,
                            &out->composing[i], err);
        if (rc)
            return rc;
    }
    return PA_OK;
}

int server_stats_delta(const struct server_snapshot *start, const struct server_snapshot *end,
                       const struct server_model *model, struct pa_server_side *out,
                       struct pa_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = delta_node(start, end, model, model->name, model->version, 0, out, err);
    if (rc)
        server_side_clear(out);
    return rc;
}

static void pair_add(struct pa_stat_pair *a, const struct pa_stat_pair *b)
{
    a->count += b->count;
    a->ns += b->ns;
}

int server_stats_add(struct pa_server_side *acc, const struct pa_server_side *add,
                     struct pa_err *err)
{
    if (acc->n_composing != add->n_composing)
        return pa_errorf(err, PA_EINTERNAL,
                         "Inconsistent ensemble setting detected between the trials.");
    acc->inference_count += add->inference_count;
    acc->execution_count += add->execution_count;
    pair_add(&acc->success, &add->success);
    pair_add(&acc->queue, &add->queue);
    pair_add(&acc->compute_input, &add->compute_input);
    pair_add(&acc->compute_infer, &add->compute_infer);
    pair_add(&acc->compute_output, &add->compute_output);
    pair_add(&acc->cache_hit, &add->cache_hit);
    pair_add(&acc->cache_miss, &add->cache_miss);
    for (size_t i = 0; i < acc->n_composing; i++) {
        int rc = server_stats_add(&acc->composing[i], &add->composing[i], err);
        if (rc)
            return rc;
    }
    return PA_OK;
}

void server_side_copy(struct pa_server_side *dst, const struct pa_server_side *src)
{
    *dst = *src;
    dst->composing = NULL;
    dst->n_composing = 0;
    if (!src->n_composing)
        return;
    dst->composing = xcalloc(src->n_composing, sizeof(*dst->composing));
    dst->n_composing = src->n_composing;
    for (size_t i = 0; i < src->n_composing; i++)
        server_side_copy(&dst->composing[i], &src->composing[i]);
}

void server_side_clear(struct pa_server_side *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_composing; i++)
        server_side_clear(&s->composing[i]);
    free(s->composing);
    s->composing = NULL;
    s->n_composing = 0;
}
