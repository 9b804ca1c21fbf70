/*
 * Server-side statistics (spec 03-measurement.md §5): snapshots parsed from
 * the KServe v2 statistics JSON the backends return, per-window deltas for
 * the target model and, recursively, its composing models, and the sum of
 * several windows' deltas.
 */
#ifndef PA_MEASURE_SERVER_STATS_H
#define PA_MEASURE_SERVER_STATS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "measure/perf_status.h"
#include "model/model.h"
#include "pa/status.h"

/* The counters of one (model, version) entry of model_stats[]. */
struct server_stat_entry {
    char name[256];
    char version[64];
    uint64_t inference_count, execution_count;
    struct pa_stat_pair success, queue, compute_input, compute_infer, compute_output,
        cache_hit, cache_miss;
};

struct server_snapshot {
    struct server_stat_entry *entries; /* owned */
    size_t n;
};

/* Parses {"model_stats":[...]}. Replaces *out's content. */
PA_MUST_CHECK int server_snapshot_parse(const cJSON *root, struct server_snapshot *out,
                                        struct pa_err *err);
void server_snapshot_release(struct server_snapshot *s);

/* What the deltas need to know about the model: its composing-model map. */
struct server_model {
    const char *name;
    const char *version;                 /* "" = resolve from the counters */
    const struct pa_composing *composing; /* may be NULL */
    size_t n_composing;
    bool top_level_cache;                /* response cache enabled on the target model */
};

/*
 * Computes end − start deltas for the model and every composing model it
 * reaches (nested ensembles included) into out (a fresh tree the caller
 * releases with perf_status_release-style server_side_free). Errors are the
 * original's window errors: "failed to find the requested model version",
 * "missing statistics for requested model", "Server side statistics compute
 * counts must be the same.". Warns on stderr when several versions of a
 * model with an unspecified version moved.
 */
PA_MUST_CHECK int server_stats_delta(const struct server_snapshot *start,
                                     const struct server_snapshot *end,
                                     const struct server_model *model,
                                     struct pa_server_side *out, struct pa_err *err);

/* acc += add, recursively. Error when the trees differ in composing models. */
PA_MUST_CHECK int server_stats_add(struct pa_server_side *acc, const struct pa_server_side *add,
                                   struct pa_err *err);

/* Deep copy into a zeroed dst. */
void server_side_copy(struct pa_server_side *dst, const struct pa_server_side *src);
/* Frees the composing tree of s (not s itself). */
void server_side_clear(struct pa_server_side *s);

#endif
