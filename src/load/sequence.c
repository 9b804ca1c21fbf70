/*
 * Sequence slots: ids, lengths, flags and data steps of sequence requests
 * (see sequence.h; spec 04 §6).
 */
#include "load/sequence.h"

#include <stdlib.h>

#include "core/xalloc.h"

#include "core/banned.h"

struct seq_table *seq_table_create(const struct seq_params *p, const struct pa_dataset *ds,
                                   size_t n_slots)
{
    struct seq_table *t = xcalloc(1, sizeof(*t));
    t->p = *p;
    if (t->p.id_range == 0)
        t->p.id_range = 1;
    if (t->p.id_start == 0)
        t->p.id_start = 1;
    t->ds = ds;
    t->n_slots = n_slots;
    t->slots = xcalloc(n_slots ? n_slots : 1, sizeof(*t->slots));
    for (size_t i = 0; i < n_slots; i++)
        atomic_init(&t->slots[i].id, 0);
    atomic_init(&t->counter, 0);
    return t;
}

void seq_table_free(struct seq_table *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

static bool id_in_use(struct seq_table *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_slots; i++)
        if (atomic_load(&t->slots[i].id) == id)
            return true;
    return false;
}

uint64_t seq_table_next_id(struct seq_table *t, size_t slot)
{
    uint64_t old = atomic_load(&t->slots[slot].id);
    for (uint64_t tries = 1;; tries++) {
        uint64_t c = atomic_fetch_add(&t->counter, 1);
        uint64_t candidate = c % t->p.id_range + t->p.id_start;
        if (!id_in_use(t, candidate))
            return candidate;
        /* Still in use by a live slot: keep this slot's previous id (the original's rule). */
        if (old != 0)
            return old;
        /* The slot's first sequence has no previous id: the original would send id 0,
         * which servers refuse. Draw again; a range smaller than the slots must share. */
        if (tries >= t->p.id_range)
            return candidate;
    }
}

uint64_t seq_length(uint64_t base, double variation, double u)
{
    /* Same operation order and int truncation as the original. */
    double off_d = ((2.0 * u) - 1.0) * variation / 100.0 * (double)base;
    long long off = (long long)off_d;
    long long len = (long long)base + off;
    return len <= 0 ? 1 : (uint64_t)len;
}

static void start_sequence(struct seq_table *t, struct seq_slot *s, size_t slot, struct rng *rng)
{
    atomic_store(&s->id, seq_table_next_id(t, slot));
    uint64_t len;
    if (!t->p.json_data) {
        s->stream = 0;
        len = seq_length(t->p.length, t->p.variation, rng_double(rng));
    } else {
        /* Uniformly random stream, not round-robin, whatever the docs say. */
        s->stream = (size_t)rng_below(rng, t->ds->n_streams ? t->ds->n_streams : 1);
        if (t->p.length_given)
            len = seq_length(t->p.length, t->p.variation, rng_double(rng));
        else
            len = t->ds->n_streams ? t->ds->streams[s->stream].n_steps : 1;
    }
    s->length = len ? len : 1;
    s->remaining = s->length;
}

bool seq_table_next(struct seq_table *t, size_t slot, struct rng *rng, bool close,
                    struct seq_request *out)
{
    struct seq_slot *s = &t->slots[slot];
    if (close) {
        if (s->remaining == 0)
            return false;
        s->remaining = 1;
    }
    out->start = s->remaining == 0;
    if (out->start)
        start_sequence(t, s, slot, rng);
    out->id = atomic_load(&s->id);
    out->end = s->remaining == 1;
    out->stream = s->stream;
    size_t steps = 1;
    if (t->ds && t->ds->n_streams)
        steps = t->ds->streams[s->stream % t->ds->n_streams].n_steps;
    out->step = (size_t)((s->length - s->remaining) % (steps ? steps : 1));
    s->remaining--;
    return true;
}
