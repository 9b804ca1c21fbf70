/*
 * Inside the data module: the "raw" data set every source (generated,
 * directory, JSON files) produces, before batches are assembled.
 *
 * Raw data is streams x steps x tensors, each tensor holding the batch-1
 * bytes of one step exactly as read (BYTES already length-prefixed) and its
 * effective shape (the JSON "shape" if given, else the model shape after
 * --shape). dataset.c turns it into request descriptions and then frees it.
 * Not for use outside src/data/ (and the data tests and fuzzer).
 */
#ifndef PA_DATA_INTERNAL_H
#define PA_DATA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/options.h"
#include "data/dataset.h"
#include "model/model.h"
#include "pa/status.h"

struct data_tensor {
    uint8_t *data;   /* owned; NULL when len is 0 */
    size_t len;
    int64_t *shape;  /* owned; effective shape without the batch dim */
    size_t rank;
    bool present;    /* false: an optional input this step leaves out */
};

struct data_step {
    struct data_tensor *in;  /* model->n_inputs entries */
    struct data_tensor *out; /* model->n_outputs entries; NULL: no validation data */
};

struct data_stream {
    struct data_step *steps;
    size_t n_steps, cap;
};

enum data_layout {
    LAYOUT_NONE,    /* no JSON element seen yet */
    LAYOUT_STEPS,   /* "data": [ {step}, ... ] -> stream 0 */
    LAYOUT_STREAMS, /* "data": [ [ {step}, ... ], ... ] */
};

struct data_raw {
    const struct pa_model *model;  /* borrowed */
    struct data_stream *streams;
    size_t n_streams, cap;
    enum data_layout layout;
    bool from_json;
};

void data_raw_init(struct data_raw *raw, const struct pa_model *model);
void data_raw_release(struct data_raw *raw);

/* --input-data random|zero: one stream, one step (spec 05 §3). */
PA_MUST_CHECK int data_load_generated(struct data_raw *raw, const struct pa_options *opts,
                                      struct pa_err *err);
/* --input-data DIR: one stream, one step, one file per tensor (spec 05 §4). */
PA_MUST_CHECK int data_load_directory(struct data_raw *raw, const char *dir, struct pa_err *err);
/*
 * One JSON document (spec 05 §5), appended to what earlier files gave. A
 * syntax error writes the original's two "cb::Error"/"Offset" lines to diag
 * (may be NULL). data_load_json_file adds the "cannot open" case.
 */
PA_MUST_CHECK int data_load_json_text(struct data_raw *raw, const char *text, size_t len,
                                      FILE *diag, struct pa_err *err);
PA_MUST_CHECK int data_load_json_file(struct data_raw *raw, const char *path, FILE *diag,
                                      struct pa_err *err);
/* Checks that every stream has steps, after the last file was read. */
PA_MUST_CHECK int data_json_finish(const struct data_raw *raw, struct pa_err *err);
/* " Successfully read data for <S> stream/streams[ with <N> step/steps]." */
void data_print_summary(const struct data_raw *raw, FILE *out);

/* Appends an empty stream; returns its index. */
size_t data_raw_add_stream(struct data_raw *raw);
/* Appends a step (every tensor absent) to `stream`, creating streams up to it. */
struct data_step *data_raw_add_step(struct data_raw *raw, size_t stream);

/* Bump allocator for everything a dataset's descriptions point into. */
struct data_arena_chunk;
struct data_arena {
    struct data_arena_chunk *head;
};

void *data_arena_alloc(struct data_arena *a, size_t size);   /* zeroed, never NULL */
char *data_arena_strdup(struct data_arena *a, const char *s);
void data_arena_release(struct data_arena *a);

struct shm_region;
struct cudart;

/* What ds->priv points to. */
struct dataset_priv {
    struct data_arena arena;
    size_t n_inputs;                /* model inputs (pool row width) */
    struct pa_input **input_pools;  /* per stream: n_steps x n_inputs, for shm patching */
    struct pa_output *outputs;      /* shared by every request */
    struct shm_region *regions;     /* shared memory regions, see shm.c */
    size_t n_regions, cap_regions;
    struct cudart *cuda;            /* --shared-memory cuda: the loaded runtime (owned) */
    bool shm_registering;           /* registration began: unregister all at release */
};

/*
 * Builds ds from raw (batch assembly, request shapes, validation data)
 * without shared memory. Errors are the original's request-building texts
 * without the "Unable to init infer data manager: " prefix.
 */
PA_MUST_CHECK int data_assemble(const struct data_raw *raw, const struct pa_options *opts,
                                const struct pa_model *model, struct pa_dataset *ds,
                                struct pa_err *err);

#endif
