/*
 * libFuzzer target for the Prometheus text parser behind --collect-metrics
 * (src/measure/metrics.h): the input is one scrape of the metrics endpoint.
 * It is parsed as a whole and, split at its first form feed (or in half),
 * as two scrapes; the samples of all three are aggregated per GPU as the
 * profiler does at the end of a level.
 *
 * Beyond "does not crash", the target checks the documented results: a
 * metric whose `missing` bit is clear was seen on some GPU, every GPU UUID
 * is a terminated string, appending to a non-empty list keeps the samples
 * already there, and the aggregate has one entry per distinct UUID, sorted.
 * Any crash, leak or undefined behavior is a bug: the endpoint is a
 * network peer, so its text is untrusted.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "measure/metrics.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *cstr(const uint8_t *p, size_t n)
{
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static void check_samples(const struct metrics_samples *m, size_t from, unsigned missing)
{
    bool seen[4] = {false, false, false, false};
    check(m->n <= m->cap);
    for (size_t i = from; i < m->n; i++) {
        const struct pa_gpu_metric *g = &m->s[i];
        check(memchr(g->uuid, '\0', sizeof(g->uuid)) != NULL);
        seen[0] |= g->has_utilization;
        seen[1] |= g->has_power;
        seen[2] |= g->has_memory_used;
        seen[3] |= g->has_memory_total;
    }
    for (unsigned b = 0; b < 4; b++)
        check(seen[b] == !(missing & (1u << b)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct metrics_samples whole = {0}, first = {0};
    unsigned missing;

    char *text = cstr(data, size);
    metrics_parse(text, &whole, &missing);
    check_samples(&whole, 0, missing);

    const uint8_t *ff = memchr(data, '\f', size);
    size_t cut = ff ? (size_t)(ff - data) : size / 2;
    char *a = cstr(data, cut);
    char *b = cstr(data + cut, size - cut);
    metrics_parse(a, &first, &missing);
    check_samples(&first, 0, missing);

    /* A second scrape appended to the same list leaves the first one alone. */
    size_t before = first.n;
    struct pa_gpu_metric *copy = xmalloc((before ? before : 1) * sizeof(*copy));
    if (before)
        memcpy(copy, first.s, before * sizeof(*copy));
    metrics_parse(b, &first, &missing);
    check_samples(&first, before, missing);
    check(before == 0 || memcmp(copy, first.s, before * sizeof(*copy)) == 0);
    free(copy);

    const struct metrics_samples *lists[] = {&whole, &first};
    struct pa_gpu_metric *agg = NULL;
    size_t n_agg = 0;
    metrics_aggregate(lists, 2, &agg, &n_agg);
    check(n_agg <= whole.n + first.n);
    for (size_t i = 0; i + 1 < n_agg; i++)
        check(strcmp(agg[i].uuid, agg[i + 1].uuid) < 0);
    for (size_t i = 0; i < n_agg; i++)
        check(memchr(agg[i].uuid, '\0', sizeof(agg[i].uuid)) != NULL);
    free(agg);

    metrics_samples_release(&whole);
    metrics_samples_release(&first);
    free(text);
    free(a);
    free(b);
    return 0;
}
