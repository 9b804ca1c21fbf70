/*
 * The input data of a run, built once before any request is sent
 * (spec 05-input-data.md): streams x steps of ready request descriptions,
 * batches already assembled (a request of batch B holds B consecutive steps),
 * BYTES already length-prefixed, shared-memory regions created and
 * registered. Workers only read it.
 */
#ifndef PA_DATA_DATASET_H
#define PA_DATA_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/options.h"
#include "model/model.h"
#include "pa/client.h"
#include "pa/status.h"

/*
 * Expected values of one output at one step (--input-data JSON
 * "validation_data", or output files in directory mode). With batch B the
 * data is the concatenation of up to B per-step chunks; chunk_sizes keeps
 * their boundaries because the original compares chunk by chunk, which
 * decides which of its two mismatch messages is reported.
 */
struct pa_expected_output {
    const char *name;
    const void *data;
    size_t byte_size;
    const size_t *chunk_sizes;  /* n_chunks entries summing to byte_size */
    size_t n_chunks;            /* 0: one chunk of byte_size */
};

struct pa_dataset_step {
    struct pa_infer_desc desc;               /* what to send */
    const struct pa_expected_output *expected; /* NULL when no validation data */
    size_t n_expected;
};

struct pa_dataset_stream {
    struct pa_dataset_step *steps;
    size_t n_steps;
};

struct pa_dataset {
    struct pa_dataset_stream *streams;
    size_t n_streams;
    void *priv;                              /* buffers and shm regions the descs point into */
};

/*
 * Builds the dataset for opts and model. With shared memory it creates the
 * regions and registers them through `control` (which must stay open until
 * dataset_release). Prints the original's "Successfully read data for ..."
 * line to `out` when JSON data was read; a JSON syntax error also writes the
 * original's "cb::Error"/"Offset" lines to stderr.
 *
 * Errors carry the original's texts, already prefixed the way the original
 * prints them after "error: ": "Failed to init manager inputs: <why>" for
 * data that cannot be read, "Unable to init infer data manager: <why>" for
 * requests that cannot be built or shared memory that cannot be set up.
 * Codes: PA_EDATA (bad data), PA_EIO (shared memory), PA_EUNSUPPORTED, or
 * the control client's code for a failed registration. On failure ds is
 * already released.
 */
PA_MUST_CHECK int dataset_build(const struct pa_options *opts, const struct pa_model *model,
                                struct pa_client *control, FILE *out, struct pa_dataset *ds,
                                struct pa_err *err);

/* Unregisters and unlinks shared memory, frees everything. Safe on a zeroed struct. */
void dataset_release(struct pa_dataset *ds, struct pa_client *control);

/*
 * Compares the outputs of response r (through pa_client_output semantics of
 * client c) with the step's expected outputs, chunk by chunk as the
 * original does: PA_EDATA with "Output size doesn't match expected size" or
 * "Output doesn't match expected output". PA_OK when the step has no
 * expected outputs. Call it on final responses that carry outputs. No
 * allocation; safe from any worker thread.
 */
PA_MUST_CHECK int data_validate_outputs(const struct pa_dataset_step *step,
                                        const struct pa_client *c, const struct pa_response *r,
                                        struct pa_err *err);

static inline const struct pa_dataset_step *dataset_step(const struct pa_dataset *ds,
                                                         size_t stream, size_t step)
{
    const struct pa_dataset_stream *s = &ds->streams[stream % ds->n_streams];
    return &s->steps[step % s->n_steps];
}

#endif
