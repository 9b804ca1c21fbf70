/*
 * Ownership of struct perf_status and the profile results (see
 * perf_status.h), and the derived server-side values the report prints.
 */
#include "measure/perf_status.h"

#include <stdlib.h>
#include <string.h>

static void server_side_release(struct pa_server_side *s)
{
    for (size_t i = 0; i < s->n_composing; i++)
        server_side_release(&s->composing[i]);
    free(s->composing);
    s->composing = NULL;
    s->n_composing = 0;
}

void perf_status_release(struct perf_status *s)
{
    if (!s)
        return;
    server_side_release(&s->server);
    free(s->gpus);
    s->gpus = NULL;
    s->n_gpus = 0;
}

static uint64_t avg_us(uint64_t ns, uint64_t count)
{
    return count ? ns / (count * 1000) : 0;
}

/* Sums the per-leaf averages of every leaf model below s (s itself if a leaf). */
static void leaf_sums(const struct pa_server_side *s, struct pa_server_summary *acc)
{
    if (s->n_composing == 0) {
        uint64_t compute_ns = s->compute_input.ns + s->compute_infer.ns + s->compute_output.ns;
        acc->queue_us += avg_us(s->queue.ns, s->queue.count);
        acc->compute_input_us += avg_us(s->compute_input.ns, s->compute_input.count);
        acc->compute_infer_us += avg_us(s->compute_infer.ns, s->compute_infer.count);
        acc->compute_output_us += avg_us(s->compute_output.ns, s->compute_output.count);
        acc->compute_us += avg_us(compute_ns, s->compute_input.count);
        acc->cache_hit_us += avg_us(s->cache_hit.ns, s->cache_hit.count);
        acc->cache_miss_us += avg_us(s->cache_miss.ns, s->cache_miss.count);
        acc->combined_us += avg_us(compute_ns + s->cache_hit.ns + s->cache_miss.ns,
                                   s->compute_input.count + s->cache_hit.count);
        return;
    }
    for (size_t i = 0; i < s->n_composing; i++)
        leaf_sums(&s->composing[i], acc);
}

void perf_status_server_summary(const struct pa_server_side *s, bool cache_enabled,
                                struct pa_server_summary *out)
{
    memset(out, 0, sizeof(*out));
    out->success_count = s->success.count;
    out->avg_request_us = avg_us(s->success.ns, s->success.count);
    leaf_sums(s, out);
    uint64_t spent = out->queue_us + (cache_enabled ? out->combined_us : out->compute_us);
    out->overhead_us = out->avg_request_us > spent ? out->avg_request_us - spent : 0;
}

void pa_level_export_release(struct pa_level_export *e)
{
    if (!e)
        return;
    free(e->records.records);
    free(e->records.response_ns);
    free(e->window_boundaries);
    memset(e, 0, sizeof(*e));
}

void pa_profile_release(struct pa_profile *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_levels; i++)
        perf_status_release(&p->levels[i]);
    free(p->levels);
    for (size_t i = 0; i < p->n_exports; i++)
        pa_level_export_release(&p->exports[i]);
    free(p->exports);
    memset(p, 0, sizeof(*p));
}
