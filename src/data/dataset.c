/*
 * dataset_build: reads the data (generated, directory or JSON), assembles
 * one ready request description per (stream, step) and, with
 * --shared-memory, moves the payloads into registered regions.
 *
 * Batch assembly (spec 05 §6): a request starting at step k with batch B
 * carries steps k..k+B-1 (mod N) back to back. Instead of copying B steps
 * for each of the N starts, each (stream, input) gets one "ring" buffer
 * holding steps 0..N+B-2 (mod N) consecutively: the payload of start k is
 * then the slice [off[k], off[k+B]), so memory is (N+B-1) steps rather
 * than N*B. Every check the original makes while building requests (equal
 * shapes in a batch, identical shape tensors, optional inputs all present or
 * all absent) runs here, once, before any request is sent.
 *
 * All memory the descriptions point into lives in one arena in ds->priv.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/xalloc.h"
#include "data/cudart.h"
#include "data/data-internal.h"
#include "data/datatype.h"
#include "data/shm.h"
#include "core/banned.h"

/* ---- arena ---- */

struct data_arena_chunk {
    struct data_arena_chunk *next;
    size_t used, cap;
    unsigned char *mem;
};

#define ARENA_CHUNK (64 * 1024)
#define ARENA_ALIGN (alignof(max_align_t))

void *data_arena_alloc(struct data_arena *a, size_t size)
{
    struct data_arena_chunk *c = a->head;

    size = (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
    if (size == 0)
        size = ARENA_ALIGN;
    if (c && c->cap - c->used >= size) {
        void *p = c->mem + c->used;
        c->used += size;
        return p;
    }
    c = xcalloc(1, sizeof(*c));
    c->cap = size > ARENA_CHUNK / 4 ? size : ARENA_CHUNK;
    c->mem = xcalloc(1, c->cap);
    c->used = size;
    if (a->head && size > ARENA_CHUNK / 4) {
        /* A big block gets its own chunk behind the head, whose space stays usable. */
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    return c->mem;
}

char *data_arena_strdup(struct data_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *p = data_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    return p;
}

void data_arena_release(struct data_arena *a)
{
    struct data_arena_chunk *c = a->head, *next;

    for (; c; c = next) {
        next = c->next;
        free(c->mem);
        free(c);
    }
    a->head = NULL;
}

/* ---- assembly ---- */

static bool model_batches(const struct pa_model *m)
{
    return m->max_batch_size > 0;
}

/* Steps per request: -b when the model batches, else 1 (also TF Serving's -b 0). */
static size_t batch_steps(const struct pa_options *opts, const struct pa_model *m)
{
    if (!model_batches(m) || opts->batch_size == 0)
        return 1;
    return (size_t)opts->batch_size;
}

/* Builds the ring of input i of stream st for windows of w steps; returns the offsets. */
static int build_ring(struct data_arena *a, const struct data_stream *st, size_t i, size_t w,
                      const char *name, uint8_t **ring, size_t **off, struct pa_err *err)
{
    size_t n = st->n_steps, total = 0, count;

    if (__builtin_add_overflow(n, w - 1, &count) || count > SIZE_MAX / sizeof(size_t) - 1)
        return pa_errorf(err, PA_EDATA, "batch too large for input '%s'", name);
    *off = data_arena_alloc(a, (count + 1) * sizeof(size_t));
    for (size_t j = 0; j < count; j++) {
        (*off)[j] = total;
        if (__builtin_add_overflow(total, st->steps[j % n].in[i].len, &total))
            return pa_errorf(err, PA_EDATA, "batch too large for input '%s'", name);
    }
    (*off)[count] = total;
    *ring = data_arena_alloc(a, total);
    for (size_t j = 0; j < count; j++) {
        const struct data_tensor *t = &st->steps[j % n].in[i];
        if (t->len)
            memcpy(*ring + (*off)[j], t->data, t->len);
    }
    return PA_OK;
}

/*
 * The request-building checks of one window (spec 05 §6). Returns PA_OK
 * with *omit set when the optional input is absent from every step.
 */
static int check_window(const struct data_stream *st, size_t i, size_t k, size_t b,
                        const struct pa_tensor_info *info, bool *omit, struct pa_err *err)
{
    size_t n = st->n_steps, w = info->is_shape_tensor ? 1 : b, absent = 0;
    const struct data_tensor *first = &st->steps[k].in[i];
    char sa[256], sb[256];

    for (size_t c = 0; c < w; c++)
        absent += !st->steps[(k + c) % n].in[i].present;
    *omit = absent == w;
    if (*omit)
        return PA_OK;
    if (absent)
        return pa_errorf(err, PA_EDATA,
                         "For batch sizes larger than 1, the same set of inputs must be "
                         "specified for each batch. You cannot use different set of optional "
                         "inputs for each individual batch.");
    for (size_t c = 1; c < w; c++) {
        const struct data_tensor *t = &st->steps[(k + c) % n].in[i];
        if (!shape_equal(first->shape, first->rank, t->shape, t->rank)) {
            shape_format(first->shape, first->rank, sa, sizeof(sa));
            shape_format(t->shape, t->rank, sb, sizeof(sb));
            /* sic: the original's message has no closing parenthesis */
            return pa_errorf(err, PA_EDATA,
                             "can not batch tensors with different shapes together (input "
                             "'%s' expected shape %s and received %s",
                             info->name, sa, sb);
        }
    }
    if (info->is_shape_tensor) {
        /* One copy is sent, so every step of the batch must agree on it. */
        for (size_t c = 1; c < b; c++) {
            const struct data_tensor *t = &st->steps[(k + c) % n].in[i];
            if (!t->present)
                continue;
            if (t->len != first->len)
                return pa_errorf(err, PA_EDATA, "The shape tensors should be identical in a "
                                                "batch (mismatch in size)");
            if (t->len && memcmp(t->data, first->data, t->len) != 0)
                return pa_errorf(err, PA_EDATA, "The shape tensors should be identical in a "
                                                "batch (mismatch in content)");
        }
    }
    return PA_OK;
}

static int assemble_stream(const struct data_raw *raw, const struct pa_options *opts,
                           const struct pa_model *m, struct dataset_priv *priv, size_t s,
                           struct pa_dataset_stream *out, struct pa_err *err)
{
    const struct data_stream *st = &raw->streams[s];
    struct data_arena *a = &priv->arena;
    size_t n = st->n_steps, b = batch_steps(opts, m), n_in = m->n_inputs;
    struct pa_input *pool;
    size_t *count;
    int rc = PA_OK;
    bool strict_shape = opts->service_kind == PA_SK_TRITON ||
                        opts->shared_memory != PA_SHM_NONE;

    out->n_steps = n;
    out->steps = data_arena_alloc(a, n * sizeof(*out->steps));
    pool = data_arena_alloc(a, n * (n_in ? n_in : 1) * sizeof(*pool));
    priv->input_pools[s] = pool;
    count = xcalloc(n, sizeof(*count));

    for (size_t i = 0; i < n_in && rc == PA_OK; i++) {
        const struct pa_tensor_info *info = &m->inputs[i];
        bool batch_dim = model_batches(m) && !info->is_shape_tensor;
        size_t w = info->is_shape_tensor ? 1 : b;
        const char *name = data_arena_strdup(a, info->name);
        const char *dtype = data_arena_strdup(a, info->datatype);
        uint8_t *ring = NULL;
        size_t *off = NULL;

        rc = build_ring(a, st, i, w, info->name, &ring, &off, err);
        for (size_t k = 0; k < n && rc == PA_OK; k++) {
            const struct data_tensor *first = &st->steps[k].in[i];
            bool omit;

            rc = check_window(st, i, k, b, info, &omit, err);
            if (rc != PA_OK || omit)
                continue;
            if (first->rank == 0 && strict_shape) {
                rc = pa_errorf(err, PA_EDATA, "unable to set shape for the input");
                break;
            }
            size_t rank = first->rank + (batch_dim ? 1 : 0);
            if (rank > PA_MAX_DIMS) {
                rc = pa_errorf(err, PA_EDATA, "input '%s' has more than %d dimensions",
                               info->name, PA_MAX_DIMS);
                break;
            }
            int64_t *shape = data_arena_alloc(a, rank * sizeof(*shape));
            if (batch_dim)
                shape[0] = (int64_t)b;
            if (first->rank)
                memcpy(shape + (batch_dim ? 1 : 0), first->shape,
                       first->rank * sizeof(*shape));

            struct pa_input *in = &pool[k * n_in + count[k]++];
            in->name = name;
            in->datatype = dtype;
            in->shape = shape;
            in->rank = rank;
            in->data = ring + off[k];
            in->byte_size = off[k + w] - off[k];
        }
    }

    for (size_t k = 0; k < n && rc == PA_OK; k++) {
        struct pa_infer_desc *d = &out->steps[k].desc;
        d->inputs = &pool[k * n_in];
        d->n_inputs = count[k];
    }
    free(count);
    return rc;
}

/* Expected outputs of (stream s, start k): spec 05 §8, including its stream-0 quirk. */
static void assemble_expected(const struct data_raw *raw, const struct pa_options *opts,
                              const struct pa_model *m, struct data_arena *a, size_t s, size_t k,
                              struct pa_dataset_step *out)
{
    const struct data_stream *st = &raw->streams[s];
    size_t n0 = raw->streams[0].n_steps, b = batch_steps(opts, m), n_exp = 0;
    struct pa_expected_output *exp = data_arena_alloc(a, m->n_outputs * sizeof(*exp));

    for (size_t j = 0; j < m->n_outputs; j++) {
        size_t w = m->outputs[j].is_shape_tensor ? 1 : b, chunks = 0, total = 0;
        size_t *sizes = data_arena_alloc(a, w * sizeof(*sizes));

        for (size_t c = 0; c < w; c++) {
            /* QUIRK (replicated): the step wraps on stream 0's step count. */
            size_t idx = (k + c) % n0;
            if (idx >= st->n_steps || !st->steps[idx].out || !st->steps[idx].out[j].present)
                break;
            sizes[chunks++] = st->steps[idx].out[j].len;
            total += st->steps[idx].out[j].len;
        }
        if (chunks == 0)
            continue;
        uint8_t *data = data_arena_alloc(a, total), *p = data;
        for (size_t c = 0; c < chunks; c++) {
            const struct data_tensor *t = &st->steps[(k + c) % n0].out[j];
            if (t->len)
                memcpy(p, t->data, t->len);
            p += t->len;
        }
        exp[n_exp].name = data_arena_strdup(a, m->outputs[j].name);
        exp[n_exp].data = data;
        exp[n_exp].byte_size = total;
        exp[n_exp].chunk_sizes = sizes;
        exp[n_exp].n_chunks = chunks;
        n_exp++;
    }
    out->expected = n_exp ? exp : NULL;
    out->n_expected = n_exp;
}

static bool raw_has_outputs(const struct data_raw *raw)
{
    for (size_t s = 0; s < raw->n_streams; s++)
        for (size_t k = 0; k < raw->streams[s].n_steps; k++)
            if (raw->streams[s].steps[k].out)
                return true;
    return false;
}

int data_assemble(const struct data_raw *raw, const struct pa_options *opts,
                  const struct pa_model *m, struct pa_dataset *ds, struct pa_err *err)
{
    struct dataset_priv *priv = xcalloc(1, sizeof(*priv));
    struct data_arena *a = &priv->arena;
    const char *model_name = data_arena_strdup(a, m->name ? m->name : "");
    const char *version = data_arena_strdup(a, m->version ? m->version : "");
    bool sequence = m->scheduler == PA_SCHED_SEQUENCE ||
                    m->scheduler == PA_SCHED_ENSEMBLE_SEQUENCE;
    /* Outputs written into shared memory cannot be compared (spec 05 §8, fix). */
    bool validate = opts->shared_memory == PA_SHM_NONE && raw_has_outputs(raw);
    int rc;

    ds->priv = priv;
    priv->n_inputs = m->n_inputs;
    priv->outputs = data_arena_alloc(a, m->n_outputs * sizeof(*priv->outputs));
    for (size_t j = 0; j < m->n_outputs; j++)
        priv->outputs[j].name = data_arena_strdup(a, m->outputs[j].name);

    ds->n_streams = raw->n_streams;
    ds->streams = data_arena_alloc(a, raw->n_streams * sizeof(*ds->streams));
    priv->input_pools = data_arena_alloc(a, raw->n_streams * sizeof(*priv->input_pools));
    for (size_t s = 0; s < raw->n_streams; s++) {
        struct pa_dataset_stream *out = &ds->streams[s];

        rc = assemble_stream(raw, opts, m, priv, s, out, err);
        if (rc != PA_OK)
            return rc;
        for (size_t k = 0; k < out->n_steps; k++) {
            struct pa_infer_desc *d = &out->steps[k].desc;
            d->model_name = model_name;
            d->model_version = version;
            d->outputs = priv->outputs;
            d->n_outputs = m->n_outputs;
            d->sequence = sequence;
            if (validate)
                assemble_expected(raw, opts, m, a, s, k, &out->steps[k]);
        }
    }
    return PA_OK;
}

/* ---- build / release ---- */

static bool is_directory(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int load(struct data_raw *raw, const struct pa_options *opts, FILE *out,
                struct pa_err *err)
{
    int rc;

    if (opts->n_input_data_paths == 0)
        return data_load_generated(raw, opts, err);
    /* Only the first path decides; a directory ignores any further paths. */
    if (is_directory(opts->input_data_paths[0]))
        return data_load_directory(raw, opts->input_data_paths[0], err);
    for (size_t i = 0; i < opts->n_input_data_paths; i++) {
        rc = data_load_json_file(raw, opts->input_data_paths[i], stderr, err);
        if (rc != PA_OK)
            return rc;
    }
    rc = data_json_finish(raw, err);
    if (rc == PA_OK)
        data_print_summary(raw, out);
    return rc;
}

int dataset_build(const struct pa_options *opts, const struct pa_model *model,
                  struct pa_client *control, FILE *out, struct pa_dataset *ds,
                  struct pa_err *err)
{
    struct cudart *cuda = NULL;
    struct data_raw raw;
    int rc;

    memset(ds, 0, sizeof(*ds));
    /*
     * The original without GPU support refuses "cuda" while parsing the
     * command line; we find out whether a runtime exists here, before any
     * data is read, so the failure comes about as early.
     */
    if (opts->shared_memory == PA_SHM_CUDA) {
        rc = cudart_open(&cuda, err);
        if (rc != PA_OK) {
            pa_error_prefix(err, "Unable to init infer data manager");
            return rc;
        }
    }

    data_raw_init(&raw, model);
    rc = load(&raw, opts, out, err);
    if (rc != PA_OK) {
        pa_error_prefix(err, "Failed to init manager inputs");
        data_raw_release(&raw);
        cudart_close(cuda);
        return rc;
    }
    rc = data_assemble(&raw, opts, model, ds, err);
    data_raw_release(&raw);
    if (rc == PA_OK && opts->shared_memory != PA_SHM_NONE) {
        struct dataset_priv *priv = ds->priv;
        priv->cuda = cuda; /* released with the regions from now on */
        cuda = NULL;
        rc = data_shm_setup(ds, opts, model, control, err);
    }
    cudart_close(cuda);
    if (rc != PA_OK) {
        pa_error_prefix(err, "Unable to init infer data manager");
        dataset_release(ds, control);
    }
    return rc;
}

void dataset_release(struct pa_dataset *ds, struct pa_client *control)
{
    struct dataset_priv *priv = ds->priv;

    if (priv) {
        data_shm_teardown(priv, control);
        data_arena_release(&priv->arena);
        free(priv);
    }
    memset(ds, 0, sizeof(*ds));
}
