/* Growable record batches (see record_batch.h). */
#include "load/record_batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#include "core/banned.h"

static size_t grown(size_t cap, size_t need)
{
    size_t c = cap ? cap : 256;
    while (c < need)
        c *= 2;
    return c;
}

void record_batch_reserve(struct pa_record_batch *b, size_t n_records, size_t n_responses)
{
    if (b->n + n_records > b->cap) {
        b->cap = grown(b->cap, b->n + n_records);
        b->records = xreallocarray(b->records, b->cap, sizeof(*b->records));
    }
    if (b->n_responses + n_responses > b->cap_responses) {
        b->cap_responses = grown(b->cap_responses, b->n_responses + n_responses);
        b->response_ns = xreallocarray(b->response_ns, b->cap_responses, sizeof(*b->response_ns));
    }
}

void record_batch_append(struct pa_record_batch *b, const struct pa_record *r,
                         const uint64_t *responses)
{
    record_batch_reserve(b, 1, r->n_responses);
    struct pa_record *d = &b->records[b->n++];
    *d = *r;
    d->first_response = (uint32_t)b->n_responses;
    if (r->n_responses)
        memcpy(b->response_ns + b->n_responses, responses,
               r->n_responses * sizeof(*b->response_ns));
    b->n_responses += r->n_responses;
}

void record_batch_move(struct pa_record_batch *dst, struct pa_record_batch *src)
{
    record_batch_reserve(dst, src->n, src->n_responses);
    uint32_t base = (uint32_t)dst->n_responses;
    for (size_t i = 0; i < src->n; i++) {
        dst->records[dst->n + i] = src->records[i];
        dst->records[dst->n + i].first_response += base;
    }
    if (src->n_responses)
        memcpy(dst->response_ns + dst->n_responses, src->response_ns,
               src->n_responses * sizeof(*dst->response_ns));
    dst->n += src->n;
    dst->n_responses += src->n_responses;
    src->n = 0;
    src->n_responses = 0;
}

void record_batch_release(struct pa_record_batch *b)
{
    if (!b)
        return;
    free(b->records);
    free(b->response_ns);
    memset(b, 0, sizeof(*b));
}
