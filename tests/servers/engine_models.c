/*
 * Model catalogue: reads tests/models/<name>.json (our own small format, see
 * docs/internals/test-server.md) into struct engine_model. Validation here
 * is strict so a typo in a model file fails the server start instead of
 * producing odd wire data later.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/xalloc.h"
#include "engine-internal.h"

#include "core/banned.h"

static int loadf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int loadf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool copy_name(char *dst, const cJSON *item)
{
    if (!cJSON_IsString(item) || !item->valuestring[0] ||
        strlen(item->valuestring) >= ENGINE_NAME_MAX)
        return false;
    snprintf(dst, ENGINE_NAME_MAX, "%s", item->valuestring);
    return true;
}

static bool get_int(const cJSON *obj, const char *key, int64_t def, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v))
        return false;
    *out = (int64_t)v->valuedouble;
    return (double)*out == v->valuedouble;
}

static int parse_tensors(const char *file, const cJSON *arr, struct engine_tensor_info *out,
                         size_t *n, const char *what, char *err, size_t errlen)
{
    const cJSON *t;
    *n = 0;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return loadf(err, errlen, "%s: '%s' must be a non-empty array", file, what);
    cJSON_ArrayForEach(t, arr) {
        struct engine_tensor_info *ti = &out[*n];
        const cJSON *dims = cJSON_GetObjectItemCaseSensitive(t, "dims");
        const cJSON *d;
        if (*n == ENGINE_MAX_IO)
            return loadf(err, errlen, "%s: too many %s", file, what);
        memset(ti, 0, sizeof(*ti));
        if (!copy_name(ti->name, cJSON_GetObjectItemCaseSensitive(t, "name")))
            return loadf(err, errlen, "%s: %s need a 'name'", file, what);
        ti->dtype = engine_dtype_parse(json_get_str(t, "datatype"));
        if (ti->dtype == ENGINE_TYPE_INVALID)
            return loadf(err, errlen, "%s: bad datatype for '%s'", file, ti->name);
        if (!cJSON_IsArray(dims) || cJSON_GetArraySize(dims) == 0)
            return loadf(err, errlen, "%s: '%s' needs non-empty 'dims'", file, ti->name);
        cJSON_ArrayForEach(d, dims) {
            if (ti->rank + 1 >= ENGINE_MAX_DIMS || !cJSON_IsNumber(d) || d->valuedouble < -1)
                return loadf(err, errlen, "%s: bad dims for '%s'", file, ti->name);
            ti->dims[ti->rank++] = (int64_t)d->valuedouble;
        }
        ti->optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "optional"));
        (*n)++;
    }
    return 0;
}

static int parse_map(const char *file, const cJSON *obj, char keys[][ENGINE_NAME_MAX],
                     char vals[][ENGINE_NAME_MAX], size_t *n, char *err, size_t errlen)
{
    const cJSON *kv;
    *n = 0;
    if (!cJSON_IsObject(obj))
        return loadf(err, errlen, "%s: ensemble step maps must be objects", file);
    cJSON_ArrayForEach(kv, obj) {
        if (*n == ENGINE_MAX_IO || !cJSON_IsString(kv) || strlen(kv->string) >= ENGINE_NAME_MAX ||
            !copy_name(vals[*n], kv))
            return loadf(err, errlen, "%s: bad ensemble map entry", file);
        snprintf(keys[*n], ENGINE_NAME_MAX, "%s", kv->string);
        (*n)++;
    }
    return 0;
}

static int parse_model(struct engine_model *m, const char *file, const cJSON *root, char *err,
                       size_t errlen)
{
    struct engine_model_info *mi = &m->info;
    const cJSON *v;
    int64_t i64;

    if (!copy_name(mi->name, cJSON_GetObjectItemCaseSensitive(root, "name")))
        return loadf(err, errlen, "%s: missing 'name'", file);
    v = cJSON_GetObjectItemCaseSensitive(root, "kind");
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof(mi->kind))
        return loadf(err, errlen, "%s: missing 'kind'", file);
    snprintf(mi->kind, sizeof(mi->kind), "%s", v->valuestring);
    if (strcmp(mi->kind, "add_sub") && strcmp(mi->kind, "identity") &&
        strcmp(mi->kind, "accumulate") && strcmp(mi->kind, "repeat") &&
        strcmp(mi->kind, "ensemble"))
        return loadf(err, errlen, "%s: unknown kind '%s'", file, mi->kind);

    if (!get_int(root, "max_batch_size", 0, &i64) || i64 < 0 || i64 > 1024)
        return loadf(err, errlen, "%s: bad 'max_batch_size'", file);
    mi->max_batch_size = (int32_t)i64;

    v = cJSON_GetObjectItemCaseSensitive(root, "versions");
    if (v) {
        const cJSON *x;
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
            return loadf(err, errlen, "%s: 'versions' must be a non-empty array", file);
        cJSON_ArrayForEach(x, v) {
            int64_t ver = cJSON_IsNumber(x) ? (int64_t)x->valuedouble : 0;
            if (ver < 1 || mi->n_versions == 8 ||
                (mi->n_versions && ver <= mi->versions[mi->n_versions - 1]))
                return loadf(err, errlen, "%s: versions must be ascending positive integers",
                             file);
            mi->versions[mi->n_versions++] = ver;
        }
    } else {
        mi->versions[0] = 1;
        mi->n_versions = 1;
    }

    if (parse_tensors(file, cJSON_GetObjectItemCaseSensitive(root, "inputs"), mi->inputs,
                      &mi->n_inputs, "inputs", err, errlen) ||
        parse_tensors(file, cJSON_GetObjectItemCaseSensitive(root, "outputs"), mi->outputs,
                      &mi->n_outputs, "outputs", err, errlen))
        return -1;

    snprintf(mi->platform, sizeof(mi->platform), "%s",
             strcmp(mi->kind, "ensemble") ? "" : "ensemble");
    snprintf(mi->backend, sizeof(mi->backend), "%s",
             strcmp(mi->kind, "ensemble") ? "pa_test" : "");
    if (json_get_str(root, "platform"))
        snprintf(mi->platform, sizeof(mi->platform), "%s", json_get_str(root, "platform"));
    if (json_get_str(root, "backend"))
        snprintf(mi->backend, sizeof(mi->backend), "%s", json_get_str(root, "backend"));

    if (!get_int(root, "instance_count", 1, &i64) || i64 < 1 || i64 > 64)
        return loadf(err, errlen, "%s: bad 'instance_count'", file);
    mi->instance_count = (uint32_t)i64;

    mi->decoupled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "decoupled"));
    m->final_with_data = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "final_with_data"));

    /* "delay_ms": N or [min, max] */
    v = cJSON_GetObjectItemCaseSensitive(root, "delay_ms");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
        m->delay_min_ns = m->delay_max_ns = (uint64_t)(v->valuedouble * 1e6);
        m->delay_set = true;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
        const cJSON *lo = cJSON_GetArrayItem(v, 0), *hi = cJSON_GetArrayItem(v, 1);
        if (!cJSON_IsNumber(lo) || !cJSON_IsNumber(hi) || lo->valuedouble < 0 ||
            hi->valuedouble < lo->valuedouble)
            return loadf(err, errlen, "%s: bad 'delay_ms'", file);
        m->delay_min_ns = (uint64_t)(lo->valuedouble * 1e6);
        m->delay_max_ns = (uint64_t)(hi->valuedouble * 1e6);
        m->delay_set = true;
    } else if (v) {
        return loadf(err, errlen, "%s: bad 'delay_ms'", file);
    }

    mi->scheduler = ENGINE_SCHED_NONE;
    v = cJSON_GetObjectItemCaseSensitive(root, "dynamic_batching");
    if (v) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(v, "preferred_batch_size"), *x;
        mi->scheduler = ENGINE_SCHED_DYNAMIC;
        cJSON_ArrayForEach(x, p) {
            if (mi->n_preferred_batch_size < 8 && cJSON_IsNumber(x))
                mi->preferred_batch_size[mi->n_preferred_batch_size++] = (int32_t)x->valuedouble;
        }
        if (!get_int(v, "max_queue_delay_microseconds", 0, &i64) || i64 < 0)
            return loadf(err, errlen, "%s: bad 'max_queue_delay_microseconds'", file);
        mi->max_queue_delay_us = (uint64_t)i64;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "sequence_batching");
    if (v) {
        if (mi->scheduler != ENGINE_SCHED_NONE)
            return loadf(err, errlen, "%s: only one scheduler may be configured", file);
        mi->scheduler = ENGINE_SCHED_SEQUENCE;
        if (!get_int(v, "max_sequence_idle_microseconds", 1000000, &i64) || i64 <= 0)
            return loadf(err, errlen, "%s: bad 'max_sequence_idle_microseconds'", file);
        mi->max_sequence_idle_us = (uint64_t)i64;
        m->seqs = xcalloc(ENGINE_MAX_SEQUENCES, sizeof(*m->seqs));
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "ensemble");
    if (!strcmp(mi->kind, "ensemble")) {
        const cJSON *s;
        if (mi->scheduler != ENGINE_SCHED_NONE || !cJSON_IsArray(v) || !cJSON_GetArraySize(v))
            return loadf(err, errlen, "%s: an ensemble needs 'ensemble' steps and no scheduler",
                         file);
        mi->scheduler = ENGINE_SCHED_ENSEMBLE;
        cJSON_ArrayForEach(s, v) {
            struct engine_ensemble_step *st = &mi->steps[mi->n_steps];
            if (mi->n_steps == 8)
                return loadf(err, errlen, "%s: too many ensemble steps", file);
            if (!copy_name(st->model_name, cJSON_GetObjectItemCaseSensitive(s, "model_name")) ||
                !get_int(s, "model_version", -1, &st->model_version))
                return loadf(err, errlen, "%s: bad ensemble step", file);
            if (parse_map(file, cJSON_GetObjectItemCaseSensitive(s, "input_map"), st->input_key,
                          st->input_val, &st->n_input_map, err, errlen) ||
                parse_map(file, cJSON_GetObjectItemCaseSensitive(s, "output_map"),
                          st->output_key, st->output_val, &st->n_output_map, err, errlen))
                return -1;
            mi->n_steps++;
        }
    } else if (v) {
        return loadf(err, errlen, "%s: 'ensemble' steps given for kind '%s'", file, mi->kind);
    }

    /* Shape rules each compute function relies on. */
    if (!strcmp(mi->kind, "add_sub")) {
        if (mi->n_inputs != 2 || mi->n_outputs != 2 ||
            mi->inputs[0].dtype != mi->inputs[1].dtype ||
            (mi->inputs[0].dtype != ENGINE_TYPE_INT32 && mi->inputs[0].dtype != ENGINE_TYPE_FP32))
            return loadf(err, errlen, "%s: add_sub needs two INT32 or FP32 inputs and two outputs",
                         file);
    } else if (!strcmp(mi->kind, "identity")) {
        if (mi->n_inputs != mi->n_outputs)
            return loadf(err, errlen, "%s: identity needs as many outputs as inputs", file);
    } else if (!strcmp(mi->kind, "accumulate")) {
        if (mi->scheduler != ENGINE_SCHED_SEQUENCE || mi->n_inputs != 1 ||
            mi->inputs[0].dtype != ENGINE_TYPE_INT32 || mi->n_outputs != 1)
            return loadf(err, errlen, "%s: accumulate needs sequence_batching and one INT32 input",
                         file);
    } else if (!strcmp(mi->kind, "repeat")) {
        if (!mi->decoupled || mi->n_inputs != 1 || mi->inputs[0].dtype != ENGINE_TYPE_INT32 ||
            mi->n_outputs != 1 || mi->max_batch_size != 0)
            return loadf(err, errlen, "%s: repeat needs decoupled, one INT32 input, no batching",
                         file);
    }
    for (size_t i = 0; i < mi->n_outputs; i++) {
        if (!strcmp(mi->kind, "identity") && mi->outputs[i].dtype != mi->inputs[i].dtype)
            return loadf(err, errlen, "%s: identity output %zu must match its input", file, i);
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_models(const void *a, const void *b)
{
    const struct engine_model *ma = *(struct engine_model *const *)a;
    const struct engine_model *mb = *(struct engine_model *const *)b;
    return strcmp(ma->info.name, mb->info.name);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1L << 20) &&
        fseek(f, 0, SEEK_SET) == 0) {
        data = xmalloc((size_t)n + 1);
        if (fread(data, 1, (size_t)n, f) != (size_t)n) {
            free(data);
            data = NULL;
        } else {
            data[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return data;
}

static struct engine_model *find_loaded(struct engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_models; i++)
        if (!strcmp(e->models[i]->info.name, name))
            return e->models[i];
    return NULL;
}

/* Ensemble steps must name loaded models whose tensors exist. */
static int resolve_ensembles(struct engine *e, char *err, size_t errlen)
{
    for (size_t i = 0; i < e->n_models; i++) {
        struct engine_model *m = e->models[i];
        for (size_t s = 0; s < m->info.n_steps; s++) {
            const struct engine_ensemble_step *st = &m->info.steps[s];
            const struct engine_model *cm = find_loaded(e, st->model_name);
            if (!cm || cm == m || cm->info.scheduler == ENGINE_SCHED_ENSEMBLE ||
                cm->info.decoupled || cm->info.scheduler == ENGINE_SCHED_SEQUENCE)
                return loadf(err, errlen,
                             "ensemble '%s': step model '%s' must be a loaded, stateless, "
                             "non-decoupled model",
                             m->info.name, st->model_name);
            m->step_models[s] = cm;
        }
    }
    return 0;
}

int models_load_dir(struct engine *e, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[ENGINE_MAX_MODELS];
    size_t n = 0;
    int rc = 0;

    if (!d)
        return loadf(err, errlen, "cannot open models directory '%s': %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        if (n == ENGINE_MAX_MODELS) {
            rc = loadf(err, errlen, "too many model files in '%s'", dir);
            break;
        }
        names[n++] = xasprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    if (rc == 0 && n == 0)
        rc = loadf(err, errlen, "no model files (*.json) in '%s'", dir);
    qsort(names, n, sizeof(names[0]), cmp_names);

    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = 0;
        char *text = read_file(names[i], &len);
        cJSON *root;
        struct engine_model *m;
        if (!text) {
            rc = loadf(err, errlen, "cannot read '%s'", names[i]);
            break;
        }
        root = cJSON_ParseWithLength(text, len);
        free(text);
        if (!root) {
            rc = loadf(err, errlen, "'%s' is not valid JSON", names[i]);
            break;
        }
        m = xcalloc(1, sizeof(*m));
        m->e = e;
        pthread_mutex_init(&m->stats_lock, NULL);
        pthread_mutex_init(&m->seq_lock, NULL);
        pthread_cond_init(&m->seq_cond, NULL);
        rc = parse_model(m, names[i], root, err, errlen);
        cJSON_Delete(root);
        if (rc == 0 && find_loaded(e, m->info.name))
            rc = loadf(err, errlen, "%s: model '%s' declared twice", names[i], m->info.name);
        if (rc) {
            model_free(m);
            break;
        }
        m->vstats = xcalloc(m->info.n_versions, sizeof(*m->vstats));
        for (size_t v = 0; v < m->info.n_versions; v++) {
            m->vstats[v].version = m->info.versions[v];
            m->vstats[v].s.name = m->info.name;
            m->vstats[v].s.version = m->info.versions[v];
        }
        e->models[e->n_models++] = m;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (rc == 0) {
        qsort(e->models, e->n_models, sizeof(e->models[0]), cmp_models);
        rc = resolve_ensembles(e, err, errlen);
    }
    return rc;
}

void model_free(struct engine_model *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->stats_lock);
    pthread_mutex_destroy(&m->seq_lock);
    pthread_cond_destroy(&m->seq_cond);
    free(m->vstats);
    free(m->seqs);
    free(m);
}
