/*
 * Sequence slots for sequence models (spec 04 §6).
 *
 * A run has a fixed number of slots (concurrency mode: max(start, end) after
 * the sync-mode adjustment, which fixes the original's "sync + end 0" slot
 * shortage; request-rate and custom modes: --num-of-sequences). Each slot
 * carries one sequence at a time: its id, the data stream it reads, its
 * length and the requests it still has to send.
 *
 * Ownership: at any time a slot is driven by exactly one worker thread (the
 * manager hands out disjoint slot ranges while all workers are paused), so a
 * slot's state needs no lock. Only the ids are read across threads, by the
 * collision check of a new id, and are therefore atomic; the id counter is
 * process-wide and atomic as in the original.
 */
#ifndef PA_LOAD_SEQUENCE_H
#define PA_LOAD_SEQUENCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "data/dataset.h"

struct seq_params {
    uint64_t id_start;     /* --sequence-id-range start (>= 1) */
    uint64_t id_range;     /* its size; 0 is treated as 1 */
    uint64_t length;       /* --sequence-length (20) */
    double variation;      /* --sequence-length-variation, percent (20) */
    bool length_given;     /* --sequence-length was on the command line */
    bool json_data;        /* input data came from JSON: lengths follow the streams */
};

struct seq_slot {
    atomic_uint_fast64_t id; /* 0 until the first sequence */
    uint64_t remaining;      /* requests still to send; 0 = no open sequence */
    uint64_t length;         /* L of the current sequence */
    size_t stream;           /* data stream of the current sequence */
};

struct seq_table {
    struct seq_params p;
    const struct pa_dataset *ds; /* n_streams and per-stream step counts only */
    struct seq_slot *slots;
    size_t n_slots;
    atomic_uint_fast64_t counter;
};

/* What one request of a slot carries. */
struct seq_request {
    uint64_t id;
    bool start, end;
    size_t stream, step;
};

struct seq_table *seq_table_create(const struct seq_params *p, const struct pa_dataset *ds,
                                   size_t n_slots);
void seq_table_free(struct seq_table *t);

/*
 * A new id for `slot`: candidate = (counter++ mod range) + start; if any
 * slot currently holds the candidate, the slot keeps its previous id.
 */
uint64_t seq_table_next_id(struct seq_table *t, size_t slot);

/*
 * A varied length: base + trunc((2u − 1) · variation/100 · base), or 1 when
 * that is ≤ 0. u is uniform in [0, 1].
 */
uint64_t seq_length(uint64_t base, double variation, double u);

/*
 * Composes the next request of `slot`, starting a new sequence when none is
 * open. With close, an open sequence gets its final request now (remaining
 * forced to 1) and false is returned when none is open. rng is the calling
 * worker's (stream choice, length variation).
 */
bool seq_table_next(struct seq_table *t, size_t slot, struct rng *rng, bool close,
                    struct seq_request *out);

static inline bool seq_table_open(const struct seq_table *t, size_t slot)
{
    return t->slots[slot].remaining > 0;
}

#endif
