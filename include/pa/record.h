/*
 * Request records: what a worker keeps for every completed request, and the
 * batch the profiler takes from each worker at a window boundary.
 *
 * Times are CLOCK_MONOTONIC nanoseconds. Response arrival times live in the
 * batch's response_ns array (a record points at its slice) so a record has a
 * fixed size whatever the number of responses (decoupled models send many).
 */
#ifndef PA_RECORD_H
#define PA_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum pa_record_flags {
    PA_REC_SEQUENCE_END = 1 << 0, /* the request carried the sequence-end flag */
    PA_REC_DELAYED = 1 << 1,      /* request-rate mode: sent later than scheduled */
    PA_REC_NULL_LAST = 1 << 2,    /* the final response carried no outputs */
    PA_REC_ERROR = 1 << 3,        /* the request failed (not used for statistics) */
};

struct pa_record {
    uint64_t start_ns;       /* just before the request was handed to the client */
    uint64_t scheduled_ns;   /* request-rate modes: the planned send time; else 0 */
    uint64_t end_ns;         /* last non-null response; 0 when there is none */
    uint64_t sequence_id;    /* 0 when not a sequence request */
    uint32_t first_response; /* index into the batch's response_ns */
    uint32_t n_responses;    /* every response, a null final one included */
    uint32_t flags;          /* enum pa_record_flags */
};

/*
 * A growable list of records and their response times. The worker appends;
 * the profiler swaps a worker's batch for an empty one under that worker's
 * mutex. Appending allocates only when the capacity is exceeded, which the
 * worker avoids by reserving at level start.
 */
struct pa_record_batch {
    struct pa_record *records;
    size_t n, cap;
    uint64_t *response_ns;
    size_t n_responses, cap_responses;
};

#endif
