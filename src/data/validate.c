/*
 * Output validation against "validation_data" (spec 05 §8). Runs on the
 * worker thread for every final response of a step with expected data, so
 * it only reads and compares: no allocation, no locking.
 *
 * The comparison walks the expected chunks (one per batched step) in order,
 * exactly as the original does, because the chunk at which the received
 * bytes run out decides between its two messages.
 */
#include <string.h>

#include "data/dataset.h"
#include "core/banned.h"

static int size_mismatch(struct pa_err *err)
{
    return pa_errorf(err, PA_EDATA, "Output size doesn't match expected size");
}

int data_validate_outputs(const struct pa_dataset_step *step, const struct pa_client *c,
                          const struct pa_response *r, struct pa_err *err)
{
    for (size_t i = 0; i < step->n_expected; i++) {
        const struct pa_expected_output *e = &step->expected[i];
        const void *data = NULL;
        size_t left = 0;
        const uint8_t *got, *want = e->data;
        size_t one = e->byte_size;
        size_t n_chunks = e->n_chunks ? e->n_chunks : 1;

        /* An output the response lacks compares as zero bytes, as in the original. */
        if (c && c->backend->ops->output) {
            struct pa_err ignored;
            if (c->backend->ops->output(c, r, e->name, &data, &left, &ignored) != PA_OK) {
                data = NULL;
                left = 0;
            }
        }
        if (!data)
            left = 0;
        got = data;
        for (size_t k = 0; k < n_chunks; k++) {
            size_t len = e->n_chunks ? e->chunk_sizes[k] : one;
            if (left < len)
                return size_mismatch(err);
            if (len && memcmp(got, want, len) != 0)
                return pa_errorf(err, PA_EDATA, "Output doesn't match expected output");
            got += len;
            want += len;
            left -= len;
        }
        if (left != 0)
            return size_mismatch(err);
    }
    return PA_OK;
}
