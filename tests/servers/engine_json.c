/*
 * KServe / Triton JSON documents the engine produces: server metadata,
 * model metadata, model configuration and statistics (spec 01 §4-6, §12).
 *
 * Counters are emitted as raw integer text, never through cJSON's double
 * formatting: perf_analyzer reads them with a strict uint64 accessor and a
 * large double would come out in exponent form.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine-internal.h"

#include "core/banned.h"

static cJSON *raw_u64(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

static cJSON *raw_i64(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

cJSON *engine_server_metadata_json(const struct engine *e)
{
    static const char *const ext[] = {
        "sequence",           "model_configuration", "system_shared_memory",
        "cuda_shared_memory", "binary_tensor_data",  "parameters",
        "statistics",         "trace",
    };
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    (void)e;
    cJSON_AddStringToObject(o, "name", "triton");
    cJSON_AddStringToObject(o, "version", "2.39.0");
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(ext[i]));
    cJSON_AddItemToObject(o, "extensions", arr);
    return o;
}

static cJSON *version_string(int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return cJSON_CreateString(buf);
}

static cJSON *tensor_meta(const struct engine_tensor_info *t, bool batching)
{
    cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "datatype", engine_dtype_name(t->dtype));
    if (batching)
        cJSON_AddItemToArray(shape, raw_i64(-1));
    for (size_t d = 0; d < t->rank; d++)
        cJSON_AddItemToArray(shape, raw_i64(t->dims[d]));
    cJSON_AddItemToObject(o, "shape", shape);
    return o;
}

cJSON *engine_model_metadata_json(const struct engine_model *m, int64_t version)
{
    const struct engine_model_info *mi = &m->info;
    cJSON *o = cJSON_CreateObject(), *vs = cJSON_CreateArray(), *ins = cJSON_CreateArray(),
          *outs = cJSON_CreateArray();
    bool batching = mi->max_batch_size > 0;
    cJSON_AddStringToObject(o, "name", mi->name);
    if (version >= 0) {
        cJSON_AddItemToArray(vs, version_string(version));
    } else {
        for (size_t i = 0; i < mi->n_versions; i++)
            cJSON_AddItemToArray(vs, version_string(mi->versions[i]));
    }
    cJSON_AddItemToObject(o, "versions", vs);
    cJSON_AddStringToObject(o, "platform", mi->platform[0] ? mi->platform : mi->backend);
    for (size_t i = 0; i < mi->n_inputs; i++)
        cJSON_AddItemToArray(ins, tensor_meta(&mi->inputs[i], batching));
    for (size_t i = 0; i < mi->n_outputs; i++)
        cJSON_AddItemToArray(outs, tensor_meta(&mi->outputs[i], batching));
    cJSON_AddItemToObject(o, "inputs", ins);
    cJSON_AddItemToObject(o, "outputs", outs);
    return o;
}

static cJSON *dims_json(const struct engine_tensor_info *t)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t d = 0; d < t->rank; d++)
        cJSON_AddItemToArray(a, raw_i64(t->dims[d]));
    return a;
}

static cJSON *config_input(const struct engine_tensor_info *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "data_type", engine_dtype_config_name(t->dtype));
    cJSON_AddStringToObject(o, "format", "FORMAT_NONE");
    cJSON_AddItemToObject(o, "dims", dims_json(t));
    cJSON_AddBoolToObject(o, "is_shape_tensor", false);
    cJSON_AddBoolToObject(o, "allow_ragged_batch", false);
    cJSON_AddBoolToObject(o, "optional", t->optional);
    return o;
}

static cJSON *config_output(const struct engine_tensor_info *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "data_type", engine_dtype_config_name(t->dtype));
    cJSON_AddItemToObject(o, "dims", dims_json(t));
    cJSON_AddStringToObject(o, "label_filename", "");
    cJSON_AddBoolToObject(o, "is_shape_tensor", false);
    return o;
}

static cJSON *name_map(const char (*k)[ENGINE_NAME_MAX], const char (*v)[ENGINE_NAME_MAX], size_t n)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++)
        cJSON_AddStringToObject(o, k[i], v[i]);
    return o;
}

cJSON *engine_model_config_json(const struct engine_model *m)
{
    const struct engine_model_info *mi = &m->info;
    cJSON *o = cJSON_CreateObject(), *a, *x;

    cJSON_AddStringToObject(o, "name", mi->name);
    cJSON_AddStringToObject(o, "platform", mi->platform);
    cJSON_AddStringToObject(o, "backend", mi->backend);
    x = cJSON_CreateObject();
    if (mi->n_versions == 1) {
        cJSON *latest = cJSON_CreateObject();
        cJSON_AddNumberToObject(latest, "num_versions", 1);
        cJSON_AddItemToObject(x, "latest", latest);
    } else {
        cJSON_AddItemToObject(x, "all", cJSON_CreateObject());
    }
    cJSON_AddItemToObject(o, "version_policy", x);
    cJSON_AddNumberToObject(o, "max_batch_size", mi->max_batch_size);
    a = cJSON_CreateArray();
    for (size_t i = 0; i < mi->n_inputs; i++)
        cJSON_AddItemToArray(a, config_input(&mi->inputs[i]));
    cJSON_AddItemToObject(o, "input", a);
    a = cJSON_CreateArray();
    for (size_t i = 0; i < mi->n_outputs; i++)
        cJSON_AddItemToArray(a, config_output(&mi->outputs[i]));
    cJSON_AddItemToObject(o, "output", a);
    cJSON_AddItemToObject(o, "batch_input", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "batch_output", cJSON_CreateArray());

    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "priority", "PRIORITY_DEFAULT");
    {
        cJSON *pin = cJSON_CreateObject(), *pout = cJSON_CreateObject();
        cJSON_AddBoolToObject(pin, "enable", true);
        cJSON_AddBoolToObject(pout, "enable", true);
        cJSON_AddItemToObject(x, "input_pinned_memory", pin);
        cJSON_AddItemToObject(x, "output_pinned_memory", pout);
    }
    cJSON_AddNumberToObject(x, "gather_kernel_buffer_threshold", 0);
    cJSON_AddBoolToObject(x, "eager_batching", false);
    cJSON_AddItemToObject(o, "optimization", x);

    switch (mi->scheduler) {
    case ENGINE_SCHED_DYNAMIC:
        x = cJSON_CreateObject();
        a = cJSON_CreateArray();
        for (size_t i = 0; i < mi->n_preferred_batch_size; i++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(mi->preferred_batch_size[i]));
        cJSON_AddItemToObject(x, "preferred_batch_size", a);
        cJSON_AddItemToObject(x, "max_queue_delay_microseconds", raw_u64(mi->max_queue_delay_us));
        cJSON_AddBoolToObject(x, "preserve_ordering", false);
        cJSON_AddItemToObject(x, "priority_levels", raw_u64(0));
        cJSON_AddItemToObject(x, "default_priority_level", raw_u64(0));
        cJSON_AddItemToObject(x, "priority_queue_policy", cJSON_CreateObject());
        cJSON_AddItemToObject(o, "dynamic_batching", x);
        break;
    case ENGINE_SCHED_SEQUENCE:
        x = cJSON_CreateObject();
        cJSON_AddItemToObject(x, "max_sequence_idle_microseconds",
                              raw_u64(mi->max_sequence_idle_us));
        cJSON_AddItemToObject(x, "control_input", cJSON_CreateArray());
        cJSON_AddItemToObject(x, "state", cJSON_CreateArray());
        cJSON_AddItemToObject(o, "sequence_batching", x);
        break;
    case ENGINE_SCHED_ENSEMBLE:
        x = cJSON_CreateObject();
        a = cJSON_CreateArray();
        for (size_t s = 0; s < mi->n_steps; s++) {
            const struct engine_ensemble_step *st = &mi->steps[s];
            cJSON *step = cJSON_CreateObject();
            cJSON_AddStringToObject(step, "model_name", st->model_name);
            cJSON_AddItemToObject(step, "model_version", raw_i64(st->model_version));
            cJSON_AddItemToObject(step, "input_map",
                                  name_map(st->input_key, st->input_val, st->n_input_map));
            cJSON_AddItemToObject(step, "output_map",
                                  name_map(st->output_key, st->output_val, st->n_output_map));
            cJSON_AddItemToArray(a, step);
        }
        cJSON_AddItemToObject(x, "step", a);
        cJSON_AddItemToObject(o, "ensemble_scheduling", x);
        break;
    case ENGINE_SCHED_NONE:
        break;
    }

    a = cJSON_CreateArray();
    if (mi->scheduler != ENGINE_SCHED_ENSEMBLE) {
        char gname[ENGINE_NAME_MAX + 8];
        x = cJSON_CreateObject();
        snprintf(gname, sizeof(gname), "%s_0", mi->name);
        cJSON_AddStringToObject(x, "name", gname);
        cJSON_AddStringToObject(x, "kind", "KIND_CPU");
        cJSON_AddNumberToObject(x, "count", mi->instance_count);
        cJSON_AddItemToObject(x, "gpus", cJSON_CreateArray());
        cJSON_AddItemToObject(x, "secondary_devices", cJSON_CreateArray());
        cJSON_AddItemToObject(x, "profile", cJSON_CreateArray());
        cJSON_AddBoolToObject(x, "passive", false);
        cJSON_AddStringToObject(x, "host_policy", "");
        cJSON_AddItemToArray(a, x);
    }
    cJSON_AddItemToObject(o, "instance_group", a);
    cJSON_AddStringToObject(o, "default_model_filename", "");
    cJSON_AddItemToObject(o, "cc_model_filenames", cJSON_CreateObject());
    cJSON_AddItemToObject(o, "metric_tags", cJSON_CreateObject());
    cJSON_AddItemToObject(o, "parameters", cJSON_CreateObject());
    cJSON_AddItemToObject(o, "model_warmup", cJSON_CreateArray());
    x = cJSON_CreateObject();
    cJSON_AddBoolToObject(x, "decoupled", mi->decoupled);
    cJSON_AddItemToObject(o, "model_transaction_policy", x);
    return o;
}

static cJSON *duration(const struct engine_duration *d)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "count", raw_u64(d->count));
    cJSON_AddItemToObject(o, "ns", raw_u64(d->ns));
    return o;
}

static cJSON *stats_entry(const struct engine_model_stats *s)
{
    cJSON *o = cJSON_CreateObject(), *is = cJSON_CreateObject(), *bs = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddItemToObject(o, "version", version_string(s->version));
    cJSON_AddItemToObject(o, "last_inference", raw_u64(s->last_inference));
    cJSON_AddItemToObject(o, "inference_count", raw_u64(s->inference_count));
    cJSON_AddItemToObject(o, "execution_count", raw_u64(s->execution_count));
    cJSON_AddItemToObject(is, "success", duration(&s->success));
    cJSON_AddItemToObject(is, "fail", duration(&s->fail));
    cJSON_AddItemToObject(is, "queue", duration(&s->queue));
    cJSON_AddItemToObject(is, "compute_input", duration(&s->compute_input));
    cJSON_AddItemToObject(is, "compute_infer", duration(&s->compute_infer));
    cJSON_AddItemToObject(is, "compute_output", duration(&s->compute_output));
    cJSON_AddItemToObject(is, "cache_hit", duration(&s->cache_hit));
    cJSON_AddItemToObject(is, "cache_miss", duration(&s->cache_miss));
    cJSON_AddItemToObject(o, "inference_stats", is);
    for (size_t i = 0; i < s->n_batch; i++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddItemToObject(b, "batch_size", raw_u64(s->batch[i].batch_size));
        cJSON_AddItemToObject(b, "compute_input", duration(&s->batch[i].compute_input));
        cJSON_AddItemToObject(b, "compute_infer", duration(&s->batch[i].compute_infer));
        cJSON_AddItemToObject(b, "compute_output", duration(&s->batch[i].compute_output));
        cJSON_AddItemToArray(bs, b);
    }
    cJSON_AddItemToObject(o, "batch_stats", bs);
    cJSON_AddItemToObject(o, "memory_usage", cJSON_CreateArray());
    return o;
}

static void add_model_stats(struct engine *e, const struct engine_model *m, int64_t only,
                            cJSON *arr)
{
    for (size_t v = 0; v < m->info.n_versions; v++) {
        struct engine_model_stats s;
        if (only >= 0 && m->info.versions[v] != only)
            continue;
        if (engine_stats_get(e, m, m->info.versions[v], &s, NULL) == ENGINE_OK)
            cJSON_AddItemToArray(arr, stats_entry(&s));
    }
}

cJSON *engine_stats_json(struct engine *e, const char *name, const char *version,
                         struct engine_status *st)
{
    cJSON *root, *arr;
    const struct engine_model *m = NULL;
    int64_t v = -1;

    if (name && *name) {
        struct engine_status tmp;
        if (engine_find(e, name, NULL, &m, &v, &tmp)) {
            engine_fail(st, ENGINE_NOT_FOUND, "requested model '%s' is not available", name);
            return NULL;
        }
        v = -1;
        if (version && *version && engine_find(e, name, version, &m, &v, &tmp)) {
            engine_fail(st, ENGINE_NOT_FOUND,
                        "requested model version is not available for model '%s'", name);
            return NULL;
        }
    } else if (version && *version) {
        engine_fail(st, ENGINE_INVALID_ARG, "a model version needs a model name");
        return NULL;
    }
    root = cJSON_CreateObject();
    arr = cJSON_CreateArray();
    if (m) {
        add_model_stats(e, m, v, arr);
    } else {
        for (size_t i = 0; i < engine_model_count(e); i++)
            add_model_stats(e, engine_model_at(e, i), -1, arr);
    }
    cJSON_AddItemToObject(root, "model_stats", arr);
    return root;
}
