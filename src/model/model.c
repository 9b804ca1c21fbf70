/*
 * Model parsing (spec 02-model-parsing.md): the server's metadata and
 * config become one read-only struct pa_model.
 *
 * Triton (HTTP, gRPC, C API) is parsed from the KServe v2 JSON shapes that
 * every backend returns, so this file never looks at a protocol. The order
 * of work, and therefore which error wins, follows the original: metadata,
 * config, then (as "model parser" errors) batch size, composing models and
 * their configs, scheduler type, inputs, outputs. TF Serving is parsed from
 * its signature metadata; TorchServe needs no server call at all.
 *
 * Backend ops are called through the ops table directly rather than the
 * checked wrappers of client.c: the model module links without the client
 * module (and without libcurl/gRPC), which keeps its unit test a pure
 * parser test driven by a fake backend.
 */
#include "model/model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/xalloc.h"
#include "pa/client.h"
#include "core/banned.h"

/* ---- backend calls ---- */

static int no_op(const struct pa_client *c, const char *op, struct pa_err *err)
{
    return pa_errorf(err, PA_EUNSUPPORTED, "client backend of kind %s does not support %s API",
                     c->backend->kind, op);
}

static int get_metadata(struct pa_client *c, const char *name, const char *version, cJSON **out,
                        struct pa_err *err)
{
    if (!c->backend->ops->model_metadata)
        return no_op(c, "ModelMetadata", err);
    return c->backend->ops->model_metadata(c, name, version, out, err);
}

/*
 * A model's config. A backend may hand back the gRPC response shape
 * ({"config": {...}}); the config proper is its `config` member then.
 */
static int get_config(struct pa_client *c, const char *name, const char *version, cJSON **out,
                      struct pa_err *err)
{
    if (!c->backend->ops->model_config)
        return no_op(c, "ModelConfig", err);
    int rc = c->backend->ops->model_config(c, name, version, out, err);
    if (rc != PA_OK)
        return rc;
    cJSON *inner = cJSON_GetObjectItemCaseSensitive(*out, "config");
    if (cJSON_IsObject(inner) && !cJSON_GetObjectItemCaseSensitive(*out, "name")) {
        cJSON_DetachItemViaPointer(*out, inner);
        cJSON_Delete(*out);
        *out = inner;
    }
    return PA_OK;
}

/* ---- small JSON helpers with the original's wording ---- */

/* Integer given as a JSON number or a decimal string (spec 02 §1). */
static int get_int(const cJSON *v, int64_t *out, struct pa_err *err)
{
    if (cJSON_IsString(v))
        return json_to_i64(v, out, err); /* "unable to convert '<s>' to integer" */
    /* Only doubles inside [-2^63, 2^63) convert to int64 without UB. */
    if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
        v->valuedouble >= -9223372036854775808.0 && v->valuedouble < 9223372036854775808.0) {
        *out = (int64_t)v->valuedouble;
        return PA_OK;
    }
    return pa_errorf(err, PA_EPROTO, "failed to parse the integer value");
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* obj.a.b as a bool; absent (or not a bool) = false. */
static bool nested_bool(const cJSON *obj, const char *a, const char *b)
{
    return json_get_bool_or(member(obj, a), b, false);
}

/* ---- composing-model map ---- */

static struct pa_composing *composing_get(struct pa_model *m, const char *parent)
{
    for (size_t i = 0; i < m->n_composing; i++) {
        if (strcmp(m->composing[i].parent, parent) == 0)
            return &m->composing[i];
    }
    m->composing = xreallocarray(m->composing, m->n_composing + 1, sizeof(*m->composing));
    struct pa_composing *e = &m->composing[m->n_composing++];
    e->parent = xstrdup(parent);
    e->models = NULL;
    e->n_models = 0;
    return e;
}

static void composing_add(struct pa_model *m, const char *parent, const char *name,
                          const char *version)
{
    struct pa_composing *e = composing_get(m, parent);
    for (size_t i = 0; i < e->n_models; i++) {
        if (strcmp(e->models[i].name, name) == 0 && strcmp(e->models[i].version, version) == 0)
            return;
    }
    e->models = xreallocarray(e->models, e->n_models + 1, sizeof(*e->models));
    e->models[e->n_models].name = xstrdup(name);
    e->models[e->n_models].version = xstrdup(version);
    e->n_models++;
}

static int cmp_name_version(const void *a, const void *b)
{
    const struct pa_name_version *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->version, y->version);
}

static int cmp_composing(const void *a, const void *b)
{
    const struct pa_composing *x = a, *y = b;
    return strcmp(x->parent, y->parent);
}

/* Orders the map as the original's std::map of std::set: by parent, then (name, version). */
static void sort_composing(struct pa_model *m)
{
    for (size_t i = 0; i < m->n_composing; i++) {
        struct pa_composing *e = &m->composing[i];
        if (e->n_models)
            qsort(e->models, e->n_models, sizeof(*e->models), cmp_name_version);
    }
    if (m->n_composing)
        qsort(m->composing, m->n_composing, sizeof(*m->composing), cmp_composing);
}

/* Recursion guard against an ensemble that (wrongly) contains itself. */
#define MAX_ENSEMBLE_DEPTH 32

/*
 * Adds the steps of ensemble config `cfg` under its own name and recurses
 * into every step model that is itself an ensemble (spec 02 §1.2).
 */
static int walk_ensemble(struct pa_client *c, const cJSON *cfg, struct pa_model *m, int depth,
                         struct pa_err *err)
{
    const char *platform = json_get_str(cfg, "platform");
    if (!platform || strcmp(platform, "ensemble") != 0)
        return PA_OK;
    if (depth > MAX_ENSEMBLE_DEPTH)
        return pa_errorf(err, PA_EPROTO, "ensemble models nest deeper than %d levels",
                         MAX_ENSEMBLE_DEPTH);
    const char *parent = json_get_str(cfg, "name");
    if (!parent)
        return pa_errorf(err, PA_EPROTO, "ensemble model config has no name");

    const cJSON *steps = member(member(cfg, "ensemble_scheduling"), "step");
    const cJSON *step;
    cJSON_ArrayForEach(step, steps)
    {
        const char *name = json_get_str(step, "model_name");
        const cJSON *ver = member(step, "model_version");
        if (!name || !ver)
            return pa_errorf(err, PA_EPROTO,
                             "ensemble '%s' has a step without model_name or model_version",
                             parent);
        int64_t v;
        int rc = get_int(ver, &v, err);
        if (rc != PA_OK)
            return rc;
        char version[24] = "";
        if (v != -1)
            snprintf(version, sizeof(version), "%" PRId64, v);
        composing_add(m, parent, name, version);
        /* An ensemble named by several steps is walked once: its composing
         * set is the same every time, and re-walking nested fan-outs would
         * cost 2^depth config requests. */
        if (model_composing_of(m, name))
            continue;

        cJSON *sub = NULL;
        rc = get_config(c, name, version, &sub, err);
        if (rc == PA_OK)
            rc = walk_ensemble(c, sub, m, depth + 1, err);
        cJSON_Delete(sub);
        if (rc != PA_OK)
            return rc;
    }
    return PA_OK;
}

static int build_composing(struct pa_client *c, const struct pa_options *opts, const cJSON *cfg,
                           struct pa_model *m, struct pa_err *err)
{
    int rc;
    if (opts->n_bls_composing) {
        const char *top = json_get_str(cfg, "name");
        if (!top)
            return pa_errorf(err, PA_EPROTO, "model config has no name");
        for (size_t i = 0; i < opts->n_bls_composing; i++) {
            const struct pa_name_version *b = &opts->bls_composing[i];
            const char *version = b->version ? b->version : "";
            composing_add(m, top, b->name, version);
            cJSON *sub = NULL;
            rc = get_config(c, b->name, version, &sub, err);
            if (rc == PA_OK)
                rc = walk_ensemble(c, sub, m, 1, err);
            cJSON_Delete(sub);
            if (rc != PA_OK)
                return rc;
        }
    }
    return walk_ensemble(c, cfg, m, 0, err);
}

/*
 * Scheduler type and the composing half of the response-cache flag
 * (spec 02 §1.3): with composing models only their configs count.
 */
static int determine_scheduler(struct pa_client *c, const cJSON *cfg, struct pa_model *m,
                               struct pa_err *err)
{
    if (m->n_composing == 0) {
        if (member(cfg, "sequence_batching"))
            m->scheduler = PA_SCHED_SEQUENCE;
        else if (member(cfg, "dynamic_batching"))
            m->scheduler = PA_SCHED_DYNAMIC;
        else
            m->scheduler = PA_SCHED_NONE;
        return PA_OK;
    }
    bool sequence = false;
    for (size_t i = 0; i < m->n_composing; i++) {
        const struct pa_composing *e = &m->composing[i];
        for (size_t j = 0; j < e->n_models; j++) {
            cJSON *sub = NULL;
            int rc = get_config(c, e->models[j].name, e->models[j].version, &sub, err);
            if (rc != PA_OK)
                return rc;
            if (member(sub, "sequence_batching"))
                sequence = true;
            if (nested_bool(sub, "response_cache", "enable"))
                m->response_cache = true;
            cJSON_Delete(sub);
        }
    }
    m->scheduler = sequence ? PA_SCHED_ENSEMBLE_SEQUENCE : PA_SCHED_ENSEMBLE;
    return PA_OK;
}

/* ---- tensors ---- */

static void tensor_release(struct pa_tensor_info *t)
{
    free(t->name);
    free(t->datatype);
    free(t->shape);
}

static struct pa_tensor_info *tensor_add(struct pa_tensor_info **v, size_t *n)
{
    *v = xreallocarray(*v, *n + 1, sizeof(**v));
    struct pa_tensor_info *t = &(*v)[(*n)++];
    memset(t, 0, sizeof(*t));
    return t;
}

static struct pa_tensor_info *tensor_find(struct pa_tensor_info *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    }
    return NULL;
}

static int cmp_tensor(const void *a, const void *b)
{
    const struct pa_tensor_info *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static const struct pa_shape_opt *user_shape(const struct pa_options *opts, const char *name)
{
    for (size_t i = 0; i < opts->n_shapes; i++) {
        if (strcmp(opts->shapes[i].name, name) == 0)
            return &opts->shapes[i];
    }
    return NULL;
}

/*
 * Metadata inputs or outputs (spec 02 §1.4): the batch dim is dropped when
 * batching, and an input shape with a -1 is replaced by a --shape for it.
 */
static int parse_meta_tensors(const cJSON *list, const char *what, bool batching,
                              const struct pa_options *shapes, struct pa_tensor_info **v,
                              size_t *n, struct pa_err *err)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        const char *name = json_get_str(item, "name");
        const char *dt = json_get_str(item, "datatype");
        const cJSON *shape = member(item, "shape");
        if (!name || !dt || !cJSON_IsArray(shape))
            return pa_errorf(err, PA_EPROTO,
                             "model metadata %s '%s' lacks its name, datatype or shape", what,
                             name ? name : "?");
        struct pa_tensor_info *t = tensor_add(v, n);
        t->name = xstrdup(name);
        t->datatype = xstrdup(dt);

        size_t rank = (size_t)cJSON_GetArraySize(shape);
        t->shape = xcalloc(rank ? rank : 1, sizeof(*t->shape));
        bool dynamic = false;
        size_t i = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, shape)
        {
            int64_t dim;
            int rc = get_int(d, &dim, err);
            if (rc != PA_OK)
                return rc;
            if (batching && i++ == 0)
                continue;
            t->shape[t->rank++] = dim;
            if (dim == -1)
                dynamic = true;
        }
        const struct pa_shape_opt *user = shapes && dynamic ? user_shape(shapes, name) : NULL;
        if (user) {
            free(t->shape);
            t->shape = xcalloc(user->rank ? user->rank : 1, sizeof(*t->shape));
            if (user->rank)
                memcpy(t->shape, user->dims, user->rank * sizeof(*t->shape));
            t->rank = user->rank;
        }
    }
    return PA_OK;
}

/* Config input[] / output[]: names must exist in metadata; flags come from here. */
static int apply_config_tensors(const cJSON *list, const char *what, bool inputs,
                                struct pa_tensor_info *v, size_t n, struct pa_err *err)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        const char *name = json_get_str(item, "name");
        struct pa_tensor_info *t = name ? tensor_find(v, n, name) : NULL;
        if (!t)
            return pa_errorf(err, PA_EPROTO, "no metadata found for %s tensor %s", what,
                             name ? name : "");
        t->is_shape_tensor = json_get_bool_or(item, "is_shape_tensor", false);
        if (inputs)
            t->optional = json_get_bool_or(item, "optional", false);
    }
    return PA_OK;
}

static int parse_triton(struct pa_client *c, const struct pa_options *opts, const cJSON *meta,
                        const cJSON *cfg, struct pa_model *m, struct pa_err *err)
{
    const char *name = json_get_str(meta, "name");
    if (!name)
        return pa_errorf(err, PA_EPROTO, "model metadata has no name");
    m->name = xstrdup(name);

    const cJSON *mbs = member(cfg, "max_batch_size");
    if (mbs) {
        int64_t v;
        int rc = get_int(mbs, &v, err);
        if (rc != PA_OK)
            return rc;
        m->max_batch_size = v > 0 ? (uint64_t)v : 0;
    }

    int rc = build_composing(c, opts, cfg, m, err);
    if (rc != PA_OK)
        return rc;
    sort_composing(m); /* the scheduler pass visits the map in the original's order */
    rc = determine_scheduler(c, cfg, m, err);
    if (rc != PA_OK)
        return rc;

    bool batching = m->max_batch_size > 0;
    rc = parse_meta_tensors(member(meta, "inputs"), "input", batching, opts, &m->inputs,
                            &m->n_inputs, err);
    if (rc == PA_OK)
        rc = apply_config_tensors(member(cfg, "input"), "input", true, m->inputs, m->n_inputs,
                                  err);
    if (rc == PA_OK)
        rc = parse_meta_tensors(member(meta, "outputs"), "output", batching, NULL, &m->outputs,
                                &m->n_outputs, err);
    if (rc == PA_OK)
        rc = apply_config_tensors(member(cfg, "output"), "output", false, m->outputs,
                                  m->n_outputs, err);
    if (rc != PA_OK)
        return rc;

    m->decoupled = nested_bool(cfg, "model_transaction_policy", "decoupled");
    if (nested_bool(cfg, "response_cache", "enable"))
        m->response_cache = true;
    return PA_OK;
}

static int load_triton(struct pa_client *c, const struct pa_options *opts, struct pa_model *m,
                       struct pa_err *err)
{
    cJSON *meta = NULL, *cfg = NULL;
    const char *version = opts->model_version ? opts->model_version : "";
    int rc = get_metadata(c, opts->model_name, version, &meta, err);
    if (rc != PA_OK) {
        pa_error_prefix(err, "failed to get model metadata");
        goto out;
    }
    rc = get_config(c, opts->model_name, version, &cfg, err);
    if (rc != PA_OK) {
        pa_error_prefix(err, "failed to get model config");
        goto out;
    }
    rc = parse_triton(c, opts, meta, cfg, m, err);
    if (rc != PA_OK)
        pa_error_prefix(err, "failed to create model parser");
out:
    cJSON_Delete(meta);
    cJSON_Delete(cfg);
    return rc;
}

/* ---- TF Serving (spec 02 §2) ---- */

static const char *tf_dtype(const char *dt)
{
    static const char *const map[][2] = {
        {"DT_HALF", "FP16"},    {"DT_BFLOAT16", "BF16"}, {"DT_FLOAT", "FP32"},
        {"DT_DOUBLE", "FP64"},  {"DT_INT32", "INT32"},   {"DT_INT16", "INT16"},
        {"DT_UINT16", "UINT16"}, {"DT_INT8", "INT8"},    {"DT_UINT8", "UINT8"},
        {"DT_STRING", "BYTES"}, {"DT_INT64", "INT64"},   {"DT_BOOL", "BOOL"},
        {"DT_UINT32", "UINT32"}, {"DT_UINT64", "UINT64"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(dt, map[i][0]) == 0)
            return map[i][1];
    }
    return NULL;
}

static int parse_tfs(const struct pa_options *opts, const cJSON *meta, struct pa_model *m,
                     struct pa_err *err)
{
    const char *sig = opts->model_signature_name ? opts->model_signature_name : "";
    const cJSON *sigs =
        member(member(member(member(meta, "metadata"), "signature_def"), "signature_def"), sig);
    if (!sigs)
        return pa_errorf(err, PA_EPROTO, "Failed to find signature_name \"%s\" in the metadata",
                         sig);

    const cJSON *item;
    cJSON_ArrayForEach(item, member(sigs, "inputs"))
    {
        const char *dtext = json_get_str(item, "dtype");
        const char *dt = dtext ? tf_dtype(dtext) : NULL;
        if (!dt)
            return pa_errorf(err, PA_EPROTO, "unsupported datatype encountered %s",
                             dtext ? dtext : "");
        struct pa_tensor_info *t = tensor_add(&m->inputs, &m->n_inputs);
        t->name = xstrdup(item->string);
        t->datatype = xstrdup(dt);

        const cJSON *ts = member(item, "tensor_shape");
        bool dynamic = false;
        if (json_get_bool_or(ts, "unknown_rank", false)) {
            if (m->max_batch_size != 0)
                return pa_errorf(err, PA_EUSAGE,
                                 "Can not specify -b flag for saved model with unknown ranked "
                                 "inputs");
            t->shape = xcalloc(1, sizeof(*t->shape));
            t->shape[0] = -1;
            t->rank = 1;
            dynamic = true;
        } else {
            const cJSON *dims = member(ts, "dim");
            size_t rank = (size_t)cJSON_GetArraySize(dims);
            t->shape = xcalloc(rank ? rank : 1, sizeof(*t->shape));
            size_t i = 0;
            const cJSON *d;
            cJSON_ArrayForEach(d, dims)
            {
                int64_t size;
                int rc = get_int(member(d, "size"), &size, err);
                if (rc != PA_OK)
                    return rc;
                if (m->max_batch_size != 0 && i++ == 0) {
                    if (size != -1)
                        return pa_errorf(err, PA_EUSAGE,
                                         "Can not specify -b flag for saved model with input "
                                         "not having their first dim as -1");
                    continue;
                }
                t->shape[t->rank++] = size;
                if (size == -1)
                    dynamic = true;
            }
        }
        const struct pa_shape_opt *user = dynamic ? user_shape(opts, t->name) : NULL;
        if (user) {
            free(t->shape);
            t->shape = xcalloc(user->rank ? user->rank : 1, sizeof(*t->shape));
            if (user->rank)
                memcpy(t->shape, user->dims, user->rank * sizeof(*t->shape));
            t->rank = user->rank;
        }
    }
    return PA_OK;
}

static int load_tfserving(struct pa_client *c, const struct pa_options *opts, struct pa_model *m,
                          struct pa_err *err)
{
    cJSON *meta = NULL;
    int rc = get_metadata(c, opts->model_name, opts->model_version ? opts->model_version : "",
                          &meta, err);
    if (rc != PA_OK) {
        pa_error_prefix(err, "failed to get model metadata");
        return rc;
    }
    m->name = xstrdup(opts->model_name);
    m->scheduler = PA_SCHED_NONE;
    m->max_batch_size = opts->batch_size;
    rc = parse_tfs(opts, meta, m, err);
    if (rc != PA_OK)
        pa_error_prefix(err, "failed to create model parser");
    cJSON_Delete(meta);
    return rc;
}

/* ---- TorchServe (spec 02 §3) ---- */

static void load_torchserve(const struct pa_options *opts, struct pa_model *m)
{
    m->name = xstrdup(opts->model_name);
    m->scheduler = PA_SCHED_NONE;
    m->max_batch_size = opts->batch_size;
    struct pa_tensor_info *t = tensor_add(&m->inputs, &m->n_inputs);
    t->name = xstrdup("TORCHSERVE_INPUT");
    t->datatype = xstrdup("BYTES");
    t->shape = xcalloc(1, sizeof(*t->shape));
    t->shape[0] = 1;
    t->rank = 1;
}

/* ---- public ---- */

int model_load(struct pa_client *control, const struct pa_options *opts, struct pa_model *model,
               struct pa_err *err)
{
    int rc = PA_OK;
    memset(model, 0, sizeof(*model));
    switch (opts->service_kind) {
    case PA_SK_TORCHSERVE:
        load_torchserve(opts, model);
        break;
    case PA_SK_TFSERVING:
        rc = load_tfserving(control, opts, model, err);
        break;
    case PA_SK_TRITON:
    case PA_SK_TRITON_C_API:
        rc = load_triton(control, opts, model, err);
        break;
    }
    if (rc != PA_OK) {
        model_release(model);
        return rc;
    }
    model->version = xstrdup(opts->model_version ? opts->model_version : "");

    /* Tensor maps are ordered by name (spec 02 §1.4); the composing map already is. */
    if (model->n_inputs)
        qsort(model->inputs, model->n_inputs, sizeof(*model->inputs), cmp_tensor);
    if (model->n_outputs)
        qsort(model->outputs, model->n_outputs, sizeof(*model->outputs), cmp_tensor);
    return PA_OK;
}

void model_release(struct pa_model *model)
{
    if (!model)
        return;
    free(model->name);
    free(model->version);
    for (size_t i = 0; i < model->n_inputs; i++)
        tensor_release(&model->inputs[i]);
    free(model->inputs);
    for (size_t i = 0; i < model->n_outputs; i++)
        tensor_release(&model->outputs[i]);
    free(model->outputs);
    for (size_t i = 0; i < model->n_composing; i++) {
        struct pa_composing *e = &model->composing[i];
        for (size_t j = 0; j < e->n_models; j++) {
            free(e->models[j].name);
            free(e->models[j].version);
        }
        free(e->models);
        free(e->parent);
    }
    free(model->composing);
    memset(model, 0, sizeof(*model));
}

bool model_is_sequence(const struct pa_model *model)
{
    return model->scheduler == PA_SCHED_SEQUENCE ||
           model->scheduler == PA_SCHED_ENSEMBLE_SEQUENCE;
}

bool model_is_ensemble(const struct pa_model *model)
{
    return model->n_composing > 0;
}

const struct pa_composing *model_composing_of(const struct pa_model *model, const char *parent)
{
    for (size_t i = 0; i < model->n_composing; i++) {
        if (strcmp(model->composing[i].parent, parent) == 0)
            return &model->composing[i];
    }
    return NULL;
}
