/*
 * Helpers over struct pa_record_batch (include/pa/record.h): reserve,
 * append, and move one batch's records to the end of another. Growth
 * doubles the capacity and aborts on OOM (xalloc); workers reserve at level
 * start so that appending in the request loop normally never allocates.
 */
#ifndef PA_LOAD_RECORD_BATCH_H
#define PA_LOAD_RECORD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "pa/record.h"

/* Ensures room for n_records more records and n_responses more response times. */
void record_batch_reserve(struct pa_record_batch *b, size_t n_records, size_t n_responses);

/* Appends r with its responses; r->first_response is rewritten. */
void record_batch_append(struct pa_record_batch *b, const struct pa_record *r,
                         const uint64_t *responses);

/* Appends all of src to dst, then empties src (keeping its memory). */
void record_batch_move(struct pa_record_batch *dst, struct pa_record_batch *src);

void record_batch_release(struct pa_record_batch *b);

#endif
