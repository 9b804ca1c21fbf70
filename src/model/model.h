/*
 * The model as perf_analyzer understands it (spec 02-model-parsing.md):
 * built once from the server's metadata and config (Triton, C API), from the
 * signature (TF Serving) or fixed (TorchServe). Read-only after model_load().
 */
#ifndef PA_MODEL_MODEL_H
#define PA_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "pa/status.h"

struct pa_client;

enum pa_scheduler {
    PA_SCHED_NONE,
    PA_SCHED_DYNAMIC,
    PA_SCHED_SEQUENCE,
    PA_SCHED_ENSEMBLE,
    PA_SCHED_ENSEMBLE_SEQUENCE,
};

struct pa_tensor_info {
    char *name;
    char *datatype;          /* KServe name: "INT32", "FP32", "BYTES", ... */
    int64_t *shape;          /* without the batch dim; -1 = variable (after --shape) */
    size_t rank;
    bool is_shape_tensor;
    bool optional;
};

/* The composing models of one ensemble or BLS model, ordered by (name, version). */
struct pa_composing {
    char *parent;
    struct pa_name_version *models;
    size_t n_models;
};

struct pa_model {
    char *name;
    char *version;           /* -x as given ("" = latest) */
    enum pa_scheduler scheduler;
    uint64_t max_batch_size; /* 0 = no batching */
    bool decoupled;
    bool response_cache;
    struct pa_tensor_info *inputs;   /* ordered by name */
    size_t n_inputs;
    struct pa_tensor_info *outputs;  /* ordered by name */
    size_t n_outputs;
    struct pa_composing *composing;  /* one entry per ensemble/BLS parent */
    size_t n_composing;
};

/*
 * Fetches and parses the model through the control-plane client, producing
 * the original's error texts ("failed to get model metadata: <reason>", ...;
 * main.c prints them after "error: "). Returns PA_OK or a PA_E* code.
 */
PA_MUST_CHECK int model_load(struct pa_client *control, const struct pa_options *opts,
                             struct pa_model *model, struct pa_err *err);
void model_release(struct pa_model *model);

bool model_is_sequence(const struct pa_model *model);
bool model_is_ensemble(const struct pa_model *model); /* has composing models */
/* Composing models of `parent`, or NULL. */
const struct pa_composing *model_composing_of(const struct pa_model *model, const char *parent);

#endif
