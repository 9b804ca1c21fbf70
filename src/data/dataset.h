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

#include "cli/options.h"
#include "model/model.h"
#include "pa/client.h"
#include "pa/status.h"

/* Expected values of one output at one step (--input-data JSON "validation_data"). */
struct pa_expected_output {
    const char *name;
    const void *data;
    size_t byte_size;
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
 * line to `out` when JSON data was read. Errors carry the original's texts.
 */
PA_MUST_CHECK int dataset_build(const struct pa_options *opts, const struct pa_model *model,
                                struct pa_client *control, FILE *out, struct pa_dataset *ds,
                                struct pa_err *err);

/* Unregisters and unlinks shared memory, frees everything. Safe on a zeroed struct. */
void dataset_release(struct pa_dataset *ds, struct pa_client *control);

static inline const struct pa_dataset_step *dataset_step(const struct pa_dataset *ds,
                                                         size_t stream, size_t step)
{
    const struct pa_dataset_stream *s = &ds->streams[stream % ds->n_streams];
    return &s->steps[step % s->n_steps];
}

#endif
