/*
 * Engine core: datatypes, model lookup, request validation, the compute
 * functions, sequences, ensembles, decoupled responses, statistics and
 * knobs. See engine.h for the contract; spec 07 for the behaviour.
 *
 * Request path, and where each statistic comes from (spec 07 §4):
 *   arrival --validate--> [sequence ticket wait] exec start    -> queue
 *   read inputs (shm / CUDA copy)                               -> compute_input
 *   compute function + model delay                              -> compute_infer
 *   copy outputs to shm                                          -> compute_output
 *   done                                                         -> success
 * Validation failures (bad shape, unknown tensor, ...) happen before the
 * request is scheduled and are not counted; failures after scheduling
 * (sequence START errors, injected errors, shm output too small) count in
 * `fail`. Documented in docs/internals/test-server.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/xalloc.h"
#include "engine-internal.h"

#include "core/banned.h"

/* ------------------------------------------------------------------ dtypes */

static const struct {
    const char *name;
    const char *config;
    size_t size;
} dtypes[] = {
    [ENGINE_TYPE_INVALID] = {"<invalid>", "TYPE_INVALID", 0},
    [ENGINE_TYPE_BOOL] = {"BOOL", "TYPE_BOOL", 1},
    [ENGINE_TYPE_UINT8] = {"UINT8", "TYPE_UINT8", 1},
    [ENGINE_TYPE_UINT16] = {"UINT16", "TYPE_UINT16", 2},
    [ENGINE_TYPE_UINT32] = {"UINT32", "TYPE_UINT32", 4},
    [ENGINE_TYPE_UINT64] = {"UINT64", "TYPE_UINT64", 8},
    [ENGINE_TYPE_INT8] = {"INT8", "TYPE_INT8", 1},
    [ENGINE_TYPE_INT16] = {"INT16", "TYPE_INT16", 2},
    [ENGINE_TYPE_INT32] = {"INT32", "TYPE_INT32", 4},
    [ENGINE_TYPE_INT64] = {"INT64", "TYPE_INT64", 8},
    [ENGINE_TYPE_FP16] = {"FP16", "TYPE_FP16", 2},
    [ENGINE_TYPE_FP32] = {"FP32", "TYPE_FP32", 4},
    [ENGINE_TYPE_FP64] = {"FP64", "TYPE_FP64", 8},
    [ENGINE_TYPE_BYTES] = {"BYTES", "TYPE_STRING", 0},
    [ENGINE_TYPE_BF16] = {"BF16", "TYPE_BF16", 2},
};

enum engine_dtype engine_dtype_parse(const char *s)
{
    if (!s)
        return ENGINE_TYPE_INVALID;
    for (int t = ENGINE_TYPE_BOOL; t <= ENGINE_TYPE_BF16; t++)
        if (!strcmp(s, dtypes[t].name))
            return (enum engine_dtype)t;
    return ENGINE_TYPE_INVALID;
}

const char *engine_dtype_name(enum engine_dtype t)
{
    return (unsigned)t <= ENGINE_TYPE_BF16 ? dtypes[t].name : "<invalid>";
}

const char *engine_dtype_config_name(enum engine_dtype t)
{
    return (unsigned)t <= ENGINE_TYPE_BF16 ? dtypes[t].config : "TYPE_INVALID";
}

size_t engine_dtype_size(enum engine_dtype t)
{
    return (unsigned)t <= ENGINE_TYPE_BF16 ? dtypes[t].size : 0;
}

/* ------------------------------------------------------------------ status */

int engine_fail(struct engine_status *st, enum engine_code code, const char *fmt, ...)
{
    va_list ap;
    if (st) {
        st->code = code;
        va_start(ap, fmt);
        vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
        va_end(ap);
    }
    return (int)code;
}

int engine_code_http(enum engine_code c)
{
    /* r23.10 answers every handled failure with 400 (spec 01 §11). */
    return c == ENGINE_OK ? 200 : 400;
}

int engine_code_grpc(enum engine_code c)
{
    switch (c) {
    case ENGINE_OK: return 0;
    case ENGINE_INVALID_ARG: return 3;
    case ENGINE_NOT_FOUND: return 5;
    case ENGINE_UNAVAILABLE: return 14;
    case ENGINE_UNSUPPORTED: return 12;
    case ENGINE_INTERNAL: return 13;
    case ENGINE_ALREADY_EXISTS: return 6;
    case ENGINE_UNKNOWN: return 2;
    }
    return 2;
}

/* --------------------------------------------------------------- lifecycle */

static const struct engine_model *const_model(const struct engine_model *m)
{
    return m;
}

/* The mutable model behind a const handle (handles come from e->models). */
static struct engine_model *mut_model(struct engine *e, const struct engine_model *m)
{
    for (size_t i = 0; i < e->n_models; i++)
        if (const_model(e->models[i]) == m)
            return e->models[i];
    return NULL;
}

struct engine *engine_create(const char *models_dir, char *err, size_t errlen)
{
    struct engine *e = xcalloc(1, sizeof(*e));
    e->start_ns = clock_now_ns();
    atomic_init(&e->infer_counter, 0);
    pthread_rwlock_init(&e->shm_lock, NULL);
    pthread_mutex_init(&e->cuda_lock, NULL);
    pthread_mutex_init(&e->trace_lock, NULL);
    if (models_load_dir(e, models_dir, err, errlen)) {
        engine_destroy(e);
        return NULL;
    }
    return e;
}

void engine_destroy(struct engine *e)
{
    if (!e)
        return;
    shm_release_all(e);
    trace_free(e);
    for (size_t i = 0; i < e->n_models; i++)
        model_free(e->models[i]);
    pthread_rwlock_destroy(&e->shm_lock);
    pthread_mutex_destroy(&e->cuda_lock);
    pthread_mutex_destroy(&e->trace_lock);
    free(e->cudart_path);
    free(e);
}

size_t engine_model_count(const struct engine *e)
{
    return e->n_models;
}

const struct engine_model *engine_model_at(const struct engine *e, size_t i)
{
    return i < e->n_models ? e->models[i] : NULL;
}

const struct engine_model_info *engine_model_info(const struct engine_model *m)
{
    return &m->info;
}

static bool parse_version(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

static bool has_version(const struct engine_model_info *mi, int64_t v)
{
    for (size_t i = 0; i < mi->n_versions; i++)
        if (mi->versions[i] == v)
            return true;
    return false;
}

int engine_find(struct engine *e, const char *name, const char *version,
                const struct engine_model **m_out, int64_t *version_out,
                struct engine_status *st)
{
    const struct engine_model *m = NULL;
    int64_t v;
    for (size_t i = 0; name && i < e->n_models; i++)
        if (!strcmp(e->models[i]->info.name, name))
            m = e->models[i];
    if (!m)
        return engine_fail(st, ENGINE_NOT_FOUND, "Request for unknown model: '%s' is not found",
                           name ? name : "");
    if (!version || !*version) {
        v = m->info.versions[m->info.n_versions - 1];
    } else if (!parse_version(version, &v) || !has_version(&m->info, v)) {
        return engine_fail(st, ENGINE_NOT_FOUND,
                           "Request for unknown model: '%s' version %s is not found", name,
                           version);
    }
    *m_out = m;
    *version_out = v;
    return ENGINE_OK;
}

/* ------------------------------------------------------------------- knobs */

void engine_set_knobs(struct engine *e, const struct engine_knobs *k)
{
    e->knobs = *k;
    if (e->knobs.delay_max_ns < e->knobs.delay_min_ns)
        e->knobs.delay_max_ns = e->knobs.delay_min_ns;
}

const struct engine_knobs *engine_knobs(const struct engine *e)
{
    return &e->knobs;
}

int engine_set_model_delay(struct engine *e, const char *model, uint64_t min_ns, uint64_t max_ns,
                           struct engine_status *st)
{
    for (size_t i = 0; i < e->n_models; i++) {
        if (!strcmp(e->models[i]->info.name, model)) {
            e->models[i]->delay_min_ns = min_ns;
            e->models[i]->delay_max_ns = max_ns < min_ns ? min_ns : max_ns;
            e->models[i]->delay_set = true;
            return ENGINE_OK;
        }
    }
    return engine_fail(st, ENGINE_NOT_FOUND, "no model '%s' for the delay", model);
}

uint64_t engine_start_ns(const struct engine *e)
{
    return e->start_ns;
}

static _Thread_local struct rng tl_rng;
static _Thread_local bool tl_rng_ready;

static struct rng *thread_rng(void)
{
    if (!tl_rng_ready) {
        rng_seed(&tl_rng, clock_now_ns() ^ (uint64_t)(uintptr_t)&tl_rng);
        tl_rng_ready = true;
    }
    return &tl_rng;
}

static uint64_t model_delay_ns(const struct engine *e, const struct engine_model *m)
{
    uint64_t lo = e->knobs.delay_min_ns, hi = e->knobs.delay_max_ns;
    if (m->delay_set) {
        lo = m->delay_min_ns;
        hi = m->delay_max_ns;
    }
    if (hi <= lo)
        return lo;
    return lo + rng_below(thread_rng(), hi - lo + 1);
}

static bool inject_error(const struct engine *e)
{
    return e->knobs.error_rate > 0 && rng_double(thread_rng()) < e->knobs.error_rate;
}

/* -------------------------------------------------------------- statistics */

struct version_stats *model_vstats(struct engine_model *m, int64_t version)
{
    for (size_t i = 0; i < m->info.n_versions; i++)
        if (m->vstats[i].version == version)
            return &m->vstats[i];
    return NULL;
}

struct phase_times {
    uint64_t arrival, exec_start, d_input, d_infer, d_output, done;
};

static void add_duration(struct engine_duration *d, uint64_t ns)
{
    d->count++;
    d->ns += ns;
}

static struct engine_batch_stat *batch_stat(struct engine_model_stats *s, uint64_t bs)
{
    size_t i = 0;
    while (i < s->n_batch && s->batch[i].batch_size < bs)
        i++;
    if (i < s->n_batch && s->batch[i].batch_size == bs)
        return &s->batch[i];
    if (s->n_batch == ENGINE_MAX_IO)
        return NULL; /* more distinct sizes than we keep: not recorded */
    memmove(&s->batch[i + 1], &s->batch[i], (s->n_batch - i) * sizeof(s->batch[0]));
    memset(&s->batch[i], 0, sizeof(s->batch[i]));
    s->batch[i].batch_size = bs;
    s->n_batch++;
    return &s->batch[i];
}

static void stats_success(struct engine_model *m, int64_t version, const struct phase_times *t,
                          uint64_t batch, bool executed)
{
    struct version_stats *vs = model_vstats(m, version);
    uint64_t now_ms = clock_epoch_ns() / NS_PER_MS;
    if (!vs)
        return;
    pthread_mutex_lock(&m->stats_lock);
    add_duration(&vs->s.success, t->done - t->arrival);
    add_duration(&vs->s.queue, t->exec_start - t->arrival);
    add_duration(&vs->s.compute_input, t->d_input);
    add_duration(&vs->s.compute_infer, t->d_infer);
    add_duration(&vs->s.compute_output, t->d_output);
    vs->s.inference_count += batch;
    vs->s.last_inference = now_ms;
    if (executed) {
        struct engine_batch_stat *b = batch_stat(&vs->s, batch);
        vs->s.execution_count++;
        if (b) {
            add_duration(&b->compute_input, t->d_input);
            add_duration(&b->compute_infer, t->d_infer);
            add_duration(&b->compute_output, t->d_output);
        }
    }
    pthread_mutex_unlock(&m->stats_lock);
}

static void stats_fail(struct engine_model *m, int64_t version, uint64_t arrival)
{
    struct version_stats *vs = model_vstats(m, version);
    uint64_t now = clock_now_ns();
    if (!vs)
        return;
    pthread_mutex_lock(&m->stats_lock);
    add_duration(&vs->s.fail, now > arrival ? now - arrival : 0);
    pthread_mutex_unlock(&m->stats_lock);
}

int engine_stats_get(struct engine *e, const struct engine_model *m, int64_t version,
                     struct engine_model_stats *out, struct engine_status *st)
{
    struct engine_model *mm = mut_model(e, m);
    struct version_stats *vs = mm ? model_vstats(mm, version) : NULL;
    if (!vs)
        return engine_fail(st, ENGINE_NOT_FOUND,
                           "requested model version is not available for model '%s'",
                           m->info.name);
    pthread_mutex_lock(&mm->stats_lock);
    *out = vs->s;
    pthread_mutex_unlock(&mm->stats_lock);
    return ENGINE_OK;
}

/* ---------------------------------------------------------------- response */

void engine_response_init(struct engine_response *r)
{
    memset(r, 0, sizeof(*r));
}

void engine_response_release(struct engine_response *r)
{
    free(r->scratch_);
    memset(r, 0, sizeof(*r));
}

static void response_reset(struct engine_response *r, const struct engine_model *m, int64_t v)
{
    r->status.code = ENGINE_OK;
    r->status.msg[0] = '\0';
    r->model_name = m->info.name;
    r->model_version = v;
    r->n_outputs = 0;
    r->final = true;
    r->ready_ns = 0;
    r->drop_connection = false;
}

/* Grows the scratch (only ever grows, so steady state allocates nothing). */
static unsigned char *scratch_reserve(struct engine_response *r, size_t n)
{
    if (n > r->scratch_cap_) {
        size_t cap = r->scratch_cap_ ? r->scratch_cap_ : 4096;
        while (cap < n)
            cap *= 2;
        free(r->scratch_);
        r->scratch_ = xmalloc(cap);
        r->scratch_cap_ = cap;
    }
    return r->scratch_;
}

/* -------------------------------------------------------------- validation */

/* A tensor as the compute functions see it. */
struct tensor {
    enum engine_dtype dtype;
    int64_t shape[ENGINE_MAX_DIMS];
    size_t rank;
    const void *data;
    size_t size;
};

static void shape_str(char *buf, size_t len, const int64_t *shape, size_t rank, bool batch)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "[");
    if (batch)
        off += (size_t)snprintf(buf + off, len - off, "-1%s", rank ? "," : "");
    for (size_t i = 0; i < rank && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%" PRId64, i ? "," : "", shape[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
}

static uint64_t element_count(const int64_t *shape, size_t rank)
{
    uint64_t n = 1;
    for (size_t i = 0; i < rank; i++)
        n *= (uint64_t)shape[i];
    return n;
}

/* BYTES: walk the 4-byte little-endian length prefixes; must consume exactly. */
static bool bytes_walk(const unsigned char *p, size_t size, uint64_t elements)
{
    size_t off = 0;
    for (uint64_t i = 0; i < elements; i++) {
        uint32_t len;
        if (size - off < 4)
            return false;
        len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
              (uint32_t)p[off + 3] << 24;
        off += 4;
        if (size - off < len)
            return false;
        off += len;
    }
    return off == size;
}

/*
 * Checks names, datatypes and shapes of the request against the model and
 * fills map[i] = index in req->inputs of model input i (-1 if an optional
 * input is absent). *batch gets the batch size (1 for non-batching models).
 */
static int validate_inputs(const struct engine_model *m, const struct engine_request *req,
                           int map[ENGINE_MAX_IO], uint64_t *batch, struct engine_status *st)
{
    const struct engine_model_info *mi = &m->info;
    size_t required = 0;
    int64_t bs = -1;

    for (size_t i = 0; i < mi->n_inputs; i++) {
        map[i] = -1;
        required += mi->inputs[i].optional ? 0 : 1;
    }
    for (size_t r = 0; r < req->n_inputs; r++) {
        const struct engine_input *in = &req->inputs[r];
        const struct engine_tensor_info *ti = NULL;
        size_t k;
        for (k = 0; k < mi->n_inputs; k++) {
            if (!strcmp(mi->inputs[k].name, in->name)) {
                ti = &mi->inputs[k];
                break;
            }
        }
        if (!ti)
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "unexpected inference input '%s' for model '%s'", in->name,
                               mi->name);
        if (map[k] >= 0)
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "input '%s' already exists in request for model '%s'", in->name,
                               mi->name);
        map[k] = (int)r;
        if (in->dtype != ti->dtype)
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "inference input '%s' data-type is '%s', but model '%s' expects "
                               "'%s'",
                               in->name, engine_dtype_name(in->dtype), mi->name,
                               engine_dtype_name(ti->dtype));
        {
            size_t skip = mi->max_batch_size > 0 ? 1 : 0;
            bool ok = in->rank == ti->rank + skip;
            for (size_t d = 0; ok && d < in->rank; d++)
                ok = in->shape[d] >= 0;
            for (size_t d = 0; ok && d < ti->rank; d++)
                ok = ti->dims[d] == -1 || ti->dims[d] == in->shape[d + skip];
            if (ok && skip) {
                if (bs >= 0 && in->shape[0] != bs)
                    return engine_fail(st, ENGINE_INVALID_ARG,
                                       "input '%s' batch size does not match other inputs for "
                                       "'%s'",
                                       in->name, mi->name);
                bs = in->shape[0];
            }
            if (!ok) {
                char want[160], got[160];
                shape_str(want, sizeof(want), ti->dims, ti->rank, skip != 0);
                shape_str(got, sizeof(got), in->shape, in->rank, false);
                return engine_fail(st, ENGINE_INVALID_ARG,
                                   "unexpected shape for input '%s' for model '%s'. Expected %s, "
                                   "got %s",
                                   in->name, mi->name, want, got);
            }
        }
    }
    for (size_t i = 0; i < mi->n_inputs; i++) {
        if (map[i] < 0 && !mi->inputs[i].optional) {
            size_t given = 0;
            for (size_t k = 0; k < mi->n_inputs; k++)
                given += map[k] >= 0 ? 1 : 0;
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "expected %zu inputs but got %zu inputs for model '%s'", required,
                               given, mi->name);
        }
    }
    if (mi->max_batch_size > 0) {
        if (bs < 1 || bs > mi->max_batch_size)
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "inference request batch-size must be <= %d for '%s'",
                               (int)mi->max_batch_size, mi->name);
        *batch = (uint64_t)bs;
    } else {
        *batch = 1;
    }
    return ENGINE_OK;
}

/* Byte size (and BYTES framing) of a resolved input. */
static int check_input_size(const struct engine_model *m, const struct engine_input *in,
                            const struct tensor *t, struct engine_status *st)
{
    uint64_t elems = element_count(in->shape, in->rank);
    if (in->dtype == ENGINE_TYPE_BYTES) {
        if (!bytes_walk(t->data, t->size, elems))
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "element byte size mismatch for input '%s' for model '%s': "
                               "%zu bytes do not hold %" PRIu64 " length-prefixed strings",
                               in->name, m->info.name, t->size, elems);
        return ENGINE_OK;
    }
    if (elems * engine_dtype_size(in->dtype) != t->size)
        return engine_fail(st, ENGINE_INVALID_ARG,
                           "input byte size mismatch for input '%s' for model '%s'. Expected "
                           "%" PRIu64 ", got %zu",
                           in->name, m->info.name, elems * engine_dtype_size(in->dtype), t->size);
    return ENGINE_OK;
}

/* Requested output i -> model output index; fills omap, n_out. */
static int validate_outputs(const struct engine_model *m, const struct engine_request *req,
                            int omap[ENGINE_MAX_IO], size_t *n_out, struct engine_status *st)
{
    const struct engine_model_info *mi = &m->info;
    if (req->n_outputs == 0) {
        for (size_t i = 0; i < mi->n_outputs; i++)
            omap[i] = (int)i;
        *n_out = mi->n_outputs;
        return ENGINE_OK;
    }
    for (size_t r = 0; r < req->n_outputs; r++) {
        const struct engine_output_req *o = &req->outputs[r];
        size_t k;
        for (k = 0; k < mi->n_outputs; k++)
            if (!strcmp(mi->outputs[k].name, o->name))
                break;
        if (k == mi->n_outputs)
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "unexpected inference output '%s' for model '%s'", o->name,
                               mi->name);
        for (size_t j = 0; j < r; j++)
            if (omap[j] == (int)k)
                return engine_fail(st, ENGINE_INVALID_ARG,
                                   "output '%s' already requested for model '%s'", o->name,
                                   mi->name);
        if (o->classification)
            return engine_fail(st, ENGINE_UNSUPPORTED,
                               "classification of output '%s' is not supported yet by "
                               "pa-test-server",
                               o->name);
        omap[r] = (int)k;
    }
    *n_out = req->n_outputs;
    return ENGINE_OK;
}

/* ---------------------------------------------------------------- compute */

static int32_t rd_i32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

static void wr_i32(unsigned char *p, int32_t v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof(u));
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

/*
 * Output shapes/sizes of a (non-ensemble) model, from its inputs in model
 * order. All our compute functions produce outputs shaped like an input.
 */
static void output_layout(const struct engine_model *m, const struct tensor *in,
                          struct tensor *out)
{
    const struct engine_model_info *mi = &m->info;
    for (size_t o = 0; o < mi->n_outputs; o++) {
        const struct tensor *src = &in[strcmp(mi->kind, "identity") ? 0 : o];
        out[o].dtype = mi->outputs[o].dtype;
        out[o].rank = src->rank;
        memcpy(out[o].shape, src->shape, sizeof(out[o].shape));
        if (!strcmp(mi->kind, "identity"))
            out[o].size = src->size;
        else
            out[o].size = (size_t)element_count(src->shape, src->rank) *
                          engine_dtype_size(out[o].dtype);
        out[o].data = NULL;
    }
}

/* Runs the compute function; out[o].data points at buffers of out[o].size. */
static void compute(const struct engine_model *m, struct seq_slot *slot, const struct tensor *in,
                    unsigned char *const *out_buf)
{
    const struct engine_model_info *mi = &m->info;
    if (!strcmp(mi->kind, "identity")) {
        for (size_t o = 0; o < mi->n_outputs; o++)
            if (in[o].size)
                memcpy(out_buf[o], in[o].data, in[o].size);
    } else if (!strcmp(mi->kind, "add_sub")) {
        const unsigned char *a = in[0].data, *b = in[1].data;
        size_t n = in[0].size / 4;
        if (mi->inputs[0].dtype == ENGINE_TYPE_INT32) {
            for (size_t i = 0; i < n; i++) {
                /* wrap like the int32 arithmetic of Triton's add_sub example */
                uint32_t x = (uint32_t)rd_i32(a + 4 * i), y = (uint32_t)rd_i32(b + 4 * i);
                uint32_t s = x + y, d = x - y;
                int32_t si, di;
                memcpy(&si, &s, 4);
                memcpy(&di, &d, 4);
                wr_i32(out_buf[0] + 4 * i, si);
                wr_i32(out_buf[1] + 4 * i, di);
            }
        } else {
            for (size_t i = 0; i < n; i++) {
                float x, y, s, d;
                memcpy(&x, a + 4 * i, 4);
                memcpy(&y, b + 4 * i, 4);
                s = x + y;
                d = x - y;
                memcpy(out_buf[0] + 4 * i, &s, 4);
                memcpy(out_buf[1] + 4 * i, &d, 4);
            }
        }
    } else if (!strcmp(mi->kind, "accumulate")) {
        const unsigned char *a = in[0].data;
        size_t n = in[0].size / 4;
        for (size_t i = 0; i < n; i++) {
            slot->sum += rd_i32(a + 4 * i);
            wr_i32(out_buf[0] + 4 * i, (int32_t)slot->sum);
        }
    }
}

/* ---------------------------------------------------------------- sequences */

static bool corr_eq(const struct engine_corr_id *a, const struct engine_corr_id *b)
{
    if (a->is_string != b->is_string)
        return false;
    return a->is_string ? !strcmp(a->s, b->s) : a->u == b->u;
}

static bool corr_none(const struct engine_corr_id *c)
{
    return c->is_string ? c->s[0] == '\0' : c->u == 0;
}

static void corr_str(const struct engine_corr_id *c, char *buf, size_t len)
{
    if (c->is_string)
        snprintf(buf, len, "%s", c->s);
    else
        snprintf(buf, len, "%" PRIu64, c->u);
}

static bool slot_expired(const struct engine_model *m, const struct seq_slot *s, uint64_t now)
{
    /* last_ns may lie after `now` (a deferred compute delay, or `now` read
     * before the lock): such a sequence is busy, not idle. */
    return s->active && now > s->last_ns &&
           now - s->last_ns > m->info.max_sequence_idle_us * NS_PER_US;
}

/*
 * Takes a ticket for the request's sequence and waits for its turn. On
 * return ENGINE_OK the caller owns *slot until seq_release().
 */
static int seq_acquire(struct engine_model *m, const struct engine_request *req,
                       struct seq_slot **slot_out, struct engine_status *st)
{
    struct seq_slot *slot = NULL, *free_slot = NULL;
    uint64_t now = clock_now_ns(), ticket;
    char id[ENGINE_NAME_MAX + 8];

    corr_str(&req->corr_id, id, sizeof(id));
    pthread_mutex_lock(&m->seq_lock);
    for (size_t i = 0; i < ENGINE_MAX_SEQUENCES; i++) {
        struct seq_slot *s = &m->seqs[i];
        if (s->in_use && corr_eq(&s->id, &req->corr_id)) {
            slot = s;
            break;
        }
        if (!free_slot && (!s->in_use || (s->waiters == 0 && slot_expired(m, s, now))))
            free_slot = s;
    }
    if (!slot) {
        if (!req->seq_start) {
            pthread_mutex_unlock(&m->seq_lock);
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "inference request for sequence %s to model '%s' must specify "
                               "the START flag on the first request of the sequence",
                               id, m->info.name);
        }
        if (!free_slot) {
            pthread_mutex_unlock(&m->seq_lock);
            return engine_fail(st, ENGINE_UNAVAILABLE,
                               "too many concurrent sequences for model '%s'", m->info.name);
        }
        slot = free_slot;
        memset(slot, 0, sizeof(*slot));
        slot->in_use = true;
        slot->id = req->corr_id;
    }
    ticket = slot->next_ticket++;
    slot->waiters++;
    while (slot->serving != ticket)
        pthread_cond_wait(&m->seq_cond, &m->seq_lock);
    now = clock_now_ns();
    if (slot_expired(m, slot, now))
        slot->active = false; /* idle too long: dropped */
    if (req->seq_start) {
        /* a second START restarts the sequence (Triton warns and restarts) */
        slot->active = true;
        slot->sum = 0;
    } else if (!slot->active) {
        slot->serving++;
        slot->waiters--;
        if (slot->waiters == 0)
            slot->in_use = false;
        pthread_cond_broadcast(&m->seq_cond);
        pthread_mutex_unlock(&m->seq_lock);
        return engine_fail(st, ENGINE_INVALID_ARG,
                           "inference request for sequence %s to model '%s' must specify the "
                           "START flag on the first request of the sequence",
                           id, m->info.name);
    }
    slot->last_ns = now;
    pthread_mutex_unlock(&m->seq_lock);
    *slot_out = slot;
    return ENGINE_OK;
}

static void seq_release(struct engine_model *m, struct seq_slot *slot, bool end, uint64_t busy_until)
{
    pthread_mutex_lock(&m->seq_lock);
    /* idle time counts from when the request's response is due */
    slot->last_ns = busy_until > slot->last_ns ? busy_until : slot->last_ns;
    if (end)
        slot->active = false;
    slot->serving++;
    slot->waiters--;
    if (slot->waiters == 0 && !slot->active)
        slot->in_use = false;
    pthread_cond_broadcast(&m->seq_cond);
    pthread_mutex_unlock(&m->seq_lock);
}

/* --------------------------------------------------------------- inference */

/*
 * Resolves request inputs into tensors in model order: borrowed data, or
 * the shm region (shm_lock held shared by the caller). CUDA regions are
 * copied into *cuda_tmp (freed by the caller).
 */
static int resolve_inputs(struct engine *e, const struct engine_model *m,
                          const struct engine_request *req, const int *map, struct tensor *t,
                          void **cuda_tmp, struct engine_status *st)
{
    const struct engine_model_info *mi = &m->info;
    for (size_t i = 0; i < mi->n_inputs; i++) {
        const struct engine_input *in;
        memset(&t[i], 0, sizeof(t[i]));
        t[i].dtype = mi->inputs[i].dtype;
        if (map[i] < 0)
            continue;
        in = &req->inputs[map[i]];
        t[i].rank = in->rank;
        memcpy(t[i].shape, in->shape, sizeof(t[i].shape));
        if (in->shm_region) {
            struct shm_region *r = shm_find_locked(e, in->shm_region);
            void *tmp = NULL;
            if (!r)
                return engine_fail(st, ENGINE_INVALID_ARG,
                                   "Unable to find shared memory region: '%s'", in->shm_region);
            if (r->cuda) {
                tmp = xmalloc(in->shm_byte_size ? (size_t)in->shm_byte_size : 1);
                cuda_tmp[i] = tmp;
            }
            if (shm_read(e, r, in->shm_offset, in->shm_byte_size, &t[i].data, tmp, st))
                return (int)st->code;
            t[i].size = (size_t)in->shm_byte_size;
        } else {
            t[i].data = in->data;
            t[i].size = in->byte_size;
        }
        if (check_input_size(m, in, &t[i], st))
            return (int)st->code;
    }
    return ENGINE_OK;
}

static bool request_uses_shm(const struct engine_request *req)
{
    for (size_t i = 0; i < req->n_inputs; i++)
        if (req->inputs[i].shm_region)
            return true;
    for (size_t i = 0; i < req->n_outputs; i++)
        if (req->outputs[i].shm_region)
            return true;
    return false;
}

/* Runs one composing model of an ensemble on tensors; results malloc'ed. */
static int run_step(struct engine *e, struct engine_model *cm, const struct tensor *in,
                    struct tensor *out, unsigned char **bufs, uint64_t batch, uint64_t *delay,
                    struct engine_status *st)
{
    struct phase_times pt = {0};
    int64_t version = cm->info.versions[cm->info.n_versions - 1];
    pt.arrival = pt.exec_start = clock_now_ns();
    for (size_t i = 0; i < cm->info.n_inputs; i++) {
        if (in[i].dtype != cm->info.inputs[i].dtype)
            return engine_fail(st, ENGINE_INTERNAL, "ensemble tensor type mismatch for '%s'",
                               cm->info.inputs[i].name);
    }
    output_layout(cm, in, out);
    for (size_t o = 0; o < cm->info.n_outputs; o++) {
        bufs[o] = xmalloc(out[o].size ? out[o].size : 1);
        out[o].data = bufs[o];
    }
    {
        uint64_t t0 = clock_now_ns();
        compute(cm, NULL, in, bufs);
        *delay = model_delay_ns(e, cm);
        pt.d_infer = clock_now_ns() - t0 + *delay;
    }
    pt.done = clock_now_ns() + *delay;
    stats_success(cm, version, &pt, batch, true);
    return ENGINE_OK;
}

/*
 * Ensemble: tensors flow by name through the steps; each step counts as a
 * request of its composing model. Produces the ensemble outputs in model
 * order into out[] (data malloc'ed in *owned). *delay is the summed delay.
 */
static int run_ensemble(struct engine *e, struct engine_model *m, const struct tensor *in,
                        uint64_t batch, struct tensor *out, unsigned char **owned, size_t *n_owned,
                        uint64_t *delay, struct engine_status *st)
{
    const struct engine_model_info *mi = &m->info;
    enum { MAXT = 64 };
    const char *names[MAXT];
    struct tensor pool[MAXT];
    size_t n = 0;
    int rc = ENGINE_OK;

    *delay = 0;
    for (size_t i = 0; i < mi->n_inputs; i++) {
        names[n] = mi->inputs[i].name;
        pool[n++] = in[i];
    }
    for (size_t s = 0; s < mi->n_steps && rc == ENGINE_OK; s++) {
        const struct engine_ensemble_step *step = &mi->steps[s];
        struct engine_model *cm = mut_model(e, m->step_models[s]);
        struct tensor cin[ENGINE_MAX_IO], cout[ENGINE_MAX_IO];
        unsigned char *bufs[ENGINE_MAX_IO] = {0};
        uint64_t d = 0;
        for (size_t i = 0; i < cm->info.n_inputs; i++) {
            const char *src = NULL;
            size_t k;
            for (size_t j = 0; j < step->n_input_map; j++)
                if (!strcmp(step->input_key[j], cm->info.inputs[i].name))
                    src = step->input_val[j];
            for (k = 0; src && k < n; k++)
                if (!strcmp(names[k], src))
                    break;
            if (!src || k == n) {
                rc = engine_fail(st, ENGINE_INTERNAL,
                                 "ensemble '%s' step %zu has no tensor for input '%s'", mi->name,
                                 s, cm->info.inputs[i].name);
                break;
            }
            cin[i] = pool[k];
        }
        if (rc != ENGINE_OK)
            break;
        rc = run_step(e, cm, cin, cout, bufs, batch, &d, st);
        *delay += d;
        for (size_t o = 0; o < cm->info.n_outputs; o++) {
            if (bufs[o])
                owned[(*n_owned)++] = bufs[o];
            for (size_t j = 0; j < step->n_output_map && n < MAXT; j++) {
                if (!strcmp(step->output_key[j], cm->info.outputs[o].name)) {
                    names[n] = step->output_val[j];
                    pool[n++] = cout[o];
                }
            }
        }
    }
    for (size_t o = 0; rc == ENGINE_OK && o < mi->n_outputs; o++) {
        size_t k = n;
        while (k > 0 && strcmp(names[k - 1], mi->outputs[o].name))
            k--;
        if (k == 0)
            rc = engine_fail(st, ENGINE_INTERNAL, "ensemble '%s' never produces output '%s'",
                             mi->name, mi->outputs[o].name);
        else
            out[o] = pool[k - 1];
    }
    return rc;
}

static void sleep_ns(uint64_t ns)
{
    if (ns)
        clock_sleep_ns(ns);
}

/*
 * Common body of engine_infer and the non-repeat part of
 * engine_infer_decoupled. `sleep_delay` false leaves the delay to the
 * caller through resp->ready_ns.
 */
static int infer_one(struct engine *e, struct engine_model *m, int64_t version,
                     const struct engine_request *req, struct engine_response *resp,
                     bool sleep_delay)
{
    const struct engine_model_info *mi = &m->info;
    struct engine_status *st = &resp->status;
    int map[ENGINE_MAX_IO], omap[ENGINE_MAX_IO];
    struct tensor in[ENGINE_MAX_IO], out[ENGINE_MAX_IO];
    void *cuda_tmp[ENGINE_MAX_IO] = {0};
    unsigned char *owned[64];
    size_t n_owned = 0, n_out = 0;
    struct seq_slot *slot = NULL;
    struct phase_times pt = {0};
    uint64_t batch = 1, delay = 0, t0, d_resolve = 0;
    bool shm = request_uses_shm(req), accepted = false;
    int rc;

    pt.arrival = req->arrival_ns ? req->arrival_ns : clock_now_ns();
    if ((rc = validate_inputs(m, req, map, &batch, st)) ||
        (rc = validate_outputs(m, req, omap, &n_out, st)))
        return rc;
    if (mi->scheduler == ENGINE_SCHED_SEQUENCE) {
        if (corr_none(&req->corr_id))
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "inference request to model '%s' must specify a non-zero or "
                               "non-empty correlation ID",
                               mi->name);
        if (batch != 1)
            return engine_fail(st, ENGINE_INVALID_ARG,
                               "inference request to model '%s' must specify batch-size 1 due "
                               "to requirements of sequence batcher",
                               mi->name);
    }

    if (shm)
        pthread_rwlock_rdlock(&e->shm_lock);
    t0 = clock_now_ns();
    if ((rc = resolve_inputs(e, m, req, map, in, cuda_tmp, st)))
        goto out;
    d_resolve = clock_now_ns() - t0;
    accepted = true;
    if (mi->scheduler == ENGINE_SCHED_SEQUENCE && (rc = seq_acquire(m, req, &slot, st)))
        goto out;
    /*
     * Inputs are resolved (and their sizes checked) before the sequence
     * wait so a malformed request never takes a sequence turn; the time
     * spent resolving is compute_input and is kept out of the queue time.
     */
    pt.d_input = d_resolve;
    pt.exec_start = clock_now_ns() - d_resolve;
    if (pt.exec_start < pt.arrival)
        pt.exec_start = pt.arrival;
    if (inject_error(e)) {
        rc = engine_fail(st, ENGINE_INTERNAL, "injected failure (--error-rate)");
        goto out;
    }

    t0 = clock_now_ns();
    if (mi->scheduler == ENGINE_SCHED_ENSEMBLE) {
        rc = run_ensemble(e, m, in, batch, out, owned, &n_owned, &delay, st);
        if (rc)
            goto out;
    } else {
        unsigned char *bufs[ENGINE_MAX_IO];
        size_t total = 0;
        output_layout(m, in, out);
        for (size_t o = 0; o < mi->n_outputs; o++)
            total += out[o].size;
        scratch_reserve(resp, total ? total : 1);
        total = 0;
        for (size_t o = 0; o < mi->n_outputs; o++) {
            bufs[o] = resp->scratch_ + total;
            out[o].data = bufs[o];
            total += out[o].size;
        }
        compute(m, slot, in, bufs);
        delay = model_delay_ns(e, m);
    }
    pt.d_infer = clock_now_ns() - t0 + delay;
    if (sleep_delay)
        sleep_ns(delay);

    /* outputs: copy to shm where requested, else hand out the buffers */
    t0 = clock_now_ns();
    {
        size_t ens_total = 0, off = 0;
        if (mi->scheduler == ENGINE_SCHED_ENSEMBLE) {
            for (size_t r = 0; r < n_out; r++)
                ens_total += out[omap[r]].size;
            scratch_reserve(resp, ens_total ? ens_total : 1);
        }
        for (size_t r = 0; r < n_out; r++) {
            const struct tensor *t = &out[omap[r]];
            const struct engine_output_req *oreq = req->n_outputs ? &req->outputs[r] : NULL;
            struct engine_output *eo = &resp->outputs[r];
            eo->name = mi->outputs[omap[r]].name;
            eo->dtype = t->dtype;
            eo->rank = t->rank;
            memcpy(eo->shape, t->shape, sizeof(eo->shape));
            eo->byte_size = t->size;
            eo->req_index = oreq ? (int)r : -1;
            eo->user = oreq ? oreq->user : NULL;
            eo->in_shm = false;
            eo->data = t->data;
            if (mi->scheduler == ENGINE_SCHED_ENSEMBLE) {
                if (t->size)
                    memcpy(resp->scratch_ + off, t->data, t->size);
                eo->data = resp->scratch_ + off;
                off += t->size;
            }
            if (oreq && oreq->shm_region) {
                struct shm_region *sr = shm_find_locked(e, oreq->shm_region);
                if (!sr) {
                    rc = engine_fail(st, ENGINE_INVALID_ARG,
                                     "Unable to find shared memory region: '%s'",
                                     oreq->shm_region);
                    goto out;
                }
                if (t->size > oreq->shm_byte_size) {
                    rc = engine_fail(st, ENGINE_INVALID_ARG,
                                     "shared memory size specified with the request for output "
                                     "'%s' (%" PRIu64 " bytes) should be at least %zu bytes to "
                                     "hold the results",
                                     eo->name, oreq->shm_byte_size, t->size);
                    goto out;
                }
                if ((rc = shm_write(e, sr, oreq->shm_offset, t->data, t->size, st)))
                    goto out;
                eo->in_shm = true;
                eo->data = NULL;
            }
        }
        resp->n_outputs = n_out;
    }
    pt.d_output = clock_now_ns() - t0;
    pt.done = clock_now_ns() + (sleep_delay ? 0 : delay);
    if (!sleep_delay)
        resp->ready_ns = pt.done;
    stats_success(m, version, &pt, batch, true);
    rc = ENGINE_OK;

out:
    if (slot)
        seq_release(m, slot, req->seq_end, pt.done ? pt.done : clock_now_ns());
    if (shm)
        pthread_rwlock_unlock(&e->shm_lock);
    for (size_t i = 0; i < ENGINE_MAX_IO; i++)
        free(cuda_tmp[i]);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    if (rc != ENGINE_OK) {
        resp->n_outputs = 0;
        if (accepted)
            stats_fail(m, version, pt.arrival);
    }
    return rc;
}

static bool should_drop(struct engine *e)
{
    uint64_t n;
    if (!e->knobs.drop_every)
        return false;
    n = atomic_fetch_add(&e->infer_counter, 1) + 1;
    return n % e->knobs.drop_every == 0;
}

int engine_infer(struct engine *e, const struct engine_model *cm, int64_t version,
                 const struct engine_request *req, struct engine_response *resp)
{
    struct engine_model *m = mut_model(e, cm);
    response_reset(resp, cm, version);
    if (!m || !model_vstats(m, version))
        return engine_fail(&resp->status, ENGINE_NOT_FOUND,
                           "Request for unknown model: '%s' version %" PRId64 " is not found",
                           cm->info.name, version);
    if (m->info.decoupled)
        return engine_fail(&resp->status, ENGINE_UNSUPPORTED,
                           "HTTP end point doesn't support models with decoupled transaction "
                           "policy");
    resp->drop_connection = should_drop(e);
    return infer_one(e, m, version, req, resp, !req->defer_delay);
}

/* repeat: one response per element of IN, OUT [1] = that element. */
static int infer_repeat(struct engine *e, struct engine_model *m, int64_t version,
                        const struct engine_request *req, struct engine_response *resp,
                        engine_response_fn *cb, void *arg)
{
    struct engine_status *st = &resp->status;
    int map[ENGINE_MAX_IO], omap[ENGINE_MAX_IO];
    struct tensor in[ENGINE_MAX_IO];
    void *cuda_tmp[ENGINE_MAX_IO] = {0};
    struct phase_times pt = {0};
    uint64_t batch = 1, t0;
    size_t n_out = 0, n;
    bool shm = request_uses_shm(req);
    int rc;

    pt.arrival = req->arrival_ns ? req->arrival_ns : clock_now_ns();
    if ((rc = validate_inputs(m, req, map, &batch, st)) ||
        (rc = validate_outputs(m, req, omap, &n_out, st))) {
        resp->final = true;
        cb(arg, resp);
        return rc;
    }
    if (shm)
        pthread_rwlock_rdlock(&e->shm_lock);
    t0 = clock_now_ns();
    rc = resolve_inputs(e, m, req, map, in, cuda_tmp, st);
    pt.exec_start = clock_now_ns();
    pt.d_input = pt.exec_start - t0;
    if (rc == ENGINE_OK && inject_error(e))
        rc = engine_fail(st, ENGINE_INTERNAL, "injected failure (--error-rate)");
    if (rc != ENGINE_OK) {
        if (shm)
            pthread_rwlock_unlock(&e->shm_lock);
        for (size_t i = 0; i < ENGINE_MAX_IO; i++)
            free(cuda_tmp[i]);
        stats_fail(m, version, pt.arrival);
        resp->final = true;
        cb(arg, resp);
        return rc;
    }

    n = in[0].size / 4;
    scratch_reserve(resp, 4);
    for (size_t i = 0; i < n; i++) {
        const struct engine_output_req *oreq = req->n_outputs ? &req->outputs[0] : NULL;
        struct engine_output *eo = &resp->outputs[0];
        uint64_t delay = model_delay_ns(e, m), ti = clock_now_ns();
        sleep_ns(delay);
        pt.d_infer += clock_now_ns() - ti;
        ti = clock_now_ns();
        memcpy(resp->scratch_, (const unsigned char *)in[0].data + 4 * i, 4);
        eo->name = m->info.outputs[0].name;
        eo->dtype = ENGINE_TYPE_INT32;
        eo->rank = 1;
        eo->shape[0] = 1;
        eo->byte_size = 4;
        eo->data = resp->scratch_;
        eo->in_shm = false;
        eo->req_index = oreq ? 0 : -1;
        eo->user = oreq ? oreq->user : NULL;
        resp->n_outputs = n_out ? 1 : 0;
        if (oreq && oreq->shm_region) {
            struct shm_region *sr = shm_find_locked(e, oreq->shm_region);
            if (!sr || oreq->shm_byte_size < 4 ||
                shm_write(e, sr, oreq->shm_offset, resp->scratch_, 4, st)) {
                if (!sr || oreq->shm_byte_size < 4)
                    engine_fail(st, ENGINE_INVALID_ARG,
                                "cannot write output '%s' to shared memory region '%s'",
                                eo->name, oreq->shm_region);
                rc = (int)st->code;
                resp->n_outputs = 0;
                resp->final = true;
                cb(arg, resp);
                break;
            }
            eo->in_shm = true;
            eo->data = NULL;
        }
        pt.d_output += clock_now_ns() - ti;
        resp->final = m->final_with_data && i + 1 == n;
        if (cb(arg, resp)) {
            rc = ENGINE_UNAVAILABLE;
            break;
        }
    }
    if (shm)
        pthread_rwlock_unlock(&e->shm_lock);
    for (size_t i = 0; i < ENGINE_MAX_IO; i++)
        free(cuda_tmp[i]);
    if (rc != ENGINE_OK) {
        stats_fail(m, version, pt.arrival);
        return rc;
    }
    if (!(m->final_with_data && n > 0)) {
        resp->n_outputs = 0;
        resp->final = true;
        if (req->enable_empty_final_response)
            cb(arg, resp);
    }
    pt.done = clock_now_ns();
    stats_success(m, version, &pt, 1, true);
    return ENGINE_OK;
}

int engine_infer_decoupled(struct engine *e, const struct engine_model *cm, int64_t version,
                           const struct engine_request *req, struct engine_response *resp,
                           engine_response_fn *cb, void *arg)
{
    struct engine_model *m = mut_model(e, cm);
    int rc;
    response_reset(resp, cm, version);
    if (!m || !model_vstats(m, version)) {
        rc = engine_fail(&resp->status, ENGINE_NOT_FOUND,
                         "Request for unknown model: '%s' version %" PRId64 " is not found",
                         cm->info.name, version);
        cb(arg, resp);
        return rc;
    }
    if (!strcmp(m->info.kind, "repeat"))
        return infer_repeat(e, m, version, req, resp, cb, arg);
    rc = infer_one(e, m, version, req, resp, true);
    resp->final = true;
    cb(arg, resp);
    return rc;
}
