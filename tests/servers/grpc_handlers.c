/*
 * Protobuf side of the reference server's gRPC front end.
 *
 * Each control-plane RPC unpacks its request with protobuf-c, asks the
 * engine, and packs the answer. Where the engine already produces the KServe
 * JSON for the HTTP front end (server metadata, model metadata, statistics,
 * trace settings) we translate that JSON into the protobuf message, so both
 * protocols report exactly the same facts; the model configuration is built
 * from struct engine_model_info because the protobuf form needs the enums
 * the JSON only names.
 *
 * Messages are built on the stack with fixed-size arrays (the engine bounds
 * tensors and dims), so a reply costs one allocation: the packed body.
 *
 * protobuf-c declares string fields as `char *` although packing never
 * writes through them; str() hands our const strings to those fields.
 */
#include "grpc_handlers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.pb-c.h"

#define SVC "/inference.GRPCInferenceService/"
const char *const grpc_method_path[GM_COUNT] = {
    [GM_SERVER_LIVE] = SVC "ServerLive",
    [GM_SERVER_READY] = SVC "ServerReady",
    [GM_MODEL_READY] = SVC "ModelReady",
    [GM_SERVER_METADATA] = SVC "ServerMetadata",
    [GM_MODEL_METADATA] = SVC "ModelMetadata",
    [GM_MODEL_CONFIG] = SVC "ModelConfig",
    [GM_MODEL_STATISTICS] = SVC "ModelStatistics",
    [GM_SYS_SHM_STATUS] = SVC "SystemSharedMemoryStatus",
    [GM_SYS_SHM_REGISTER] = SVC "SystemSharedMemoryRegister",
    [GM_SYS_SHM_UNREGISTER] = SVC "SystemSharedMemoryUnregister",
    [GM_CUDA_SHM_STATUS] = SVC "CudaSharedMemoryStatus",
    [GM_CUDA_SHM_REGISTER] = SVC "CudaSharedMemoryRegister",
    [GM_CUDA_SHM_UNREGISTER] = SVC "CudaSharedMemoryUnregister",
    [GM_TRACE_SETTING] = SVC "TraceSetting",
    [GM_LOG_SETTINGS] = SVC "LogSettings",
    [GM_MODEL_INFER] = SVC "ModelInfer",
    [GM_MODEL_STREAM_INFER] = SVC "ModelStreamInfer",
};
#undef SVC

#define MAX_SHM_REGIONS 64
#define MAX_STATS 256

static char *str(const char *s)
{
    union {
        const char *c;
        char *m;
    } u = {.c = s};
    return u.m;
}

static void set_error(struct grpc_reply *out, int status, const char *msg)
{
    out->status = status;
    snprintf(out->msg, sizeof(out->msg), "%s", msg);
}

static void set_engine_error(struct grpc_reply *out, const struct engine_status *st)
{
    set_error(out, engine_code_grpc(st->code), st->msg);
}

static void pack(struct grpc_reply *out, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    out->body = malloc(n ? n : 1);
    if (!out->body) {
        set_error(out, GS_INTERNAL, "out of memory");
        return;
    }
    out->len = protobuf_c_message_pack(m, out->body);
    out->status = GS_OK;
}

/* Unpacks the request of a control RPC; NULL (and out set) on garbage. */
static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d, const uint8_t *in, size_t len,
                                struct grpc_reply *out)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, in);
    if (!m)
        set_error(out, GS_INVALID_ARGUMENT, "failed to parse the request message");
    return m;
}

/* The engine prints 64-bit integers as raw JSON text so they stay exact;
 * accept that, numbers and decimal strings. */
static int64_t item_i64(const cJSON *v)
{
    if ((cJSON_IsRaw(v) || cJSON_IsString(v)) && v->valuestring)
        return strtoll(v->valuestring, NULL, 10);
    if (cJSON_IsNumber(v))
        return (int64_t)v->valuedouble;
    return 0;
}

static uint64_t json_u64(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if ((cJSON_IsRaw(v) || cJSON_IsString(v)) && v->valuestring)
        return strtoull(v->valuestring, NULL, 10);
    if (cJSON_IsNumber(v) && v->valuedouble > 0)
        return (uint64_t)v->valuedouble;
    return 0;
}

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* ------------------------------------------------------------------ health */

static void model_ready(struct engine *e, const uint8_t *in, size_t len, struct grpc_reply *out)
{
    Inference__ModelReadyRequest *rq = (Inference__ModelReadyRequest *)unpack(
        &inference__model_ready_request__descriptor, in, len, out);
    if (!rq)
        return;
    const struct engine_model *m;
    int64_t v;
    struct engine_status st;
    Inference__ModelReadyResponse rs;
    inference__model_ready_response__init(&rs);
    /* Not found is "not ready", not an error (spec 02 §2). */
    rs.ready = engine_find(e, rq->name, rq->version, &m, &v, &st) == ENGINE_OK;
    pack(out, &rs.base);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

/* ---------------------------------------------------------------- metadata */

static void server_metadata(struct engine *e, struct grpc_reply *out)
{
    cJSON *j = engine_server_metadata_json(e);
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(j, "extensions");
    char *names[64];
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ext) {
        if (cJSON_IsString(it) && n < 64)
            names[n++] = it->valuestring;
    }
    Inference__ServerMetadataResponse rs;
    inference__server_metadata_response__init(&rs);
    rs.name = str(json_str(j, "name"));
    rs.version = str(json_str(j, "version"));
    rs.n_extensions = n;
    rs.extensions = names;
    pack(out, &rs.base);
    cJSON_Delete(j);
}

/* Fills one TensorMetadata from a KServe JSON tensor description. */
static void tensor_meta(const cJSON *t, Inference__ModelMetadataResponse__TensorMetadata *tm,
                        int64_t *dims)
{
    inference__model_metadata_response__tensor_metadata__init(tm);
    tm->name = str(json_str(t, "name"));
    tm->datatype = str(json_str(t, "datatype"));
    const cJSON *d;
    size_t n = 0;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(t, "shape")) {
        if (n < ENGINE_MAX_DIMS + 1)
            dims[n++] = item_i64(d);
    }
    tm->shape = dims;
    tm->n_shape = n;
}

static void model_metadata(struct engine *e, const uint8_t *in, size_t len, struct grpc_reply *out)
{
    Inference__ModelMetadataRequest *rq = (Inference__ModelMetadataRequest *)unpack(
        &inference__model_metadata_request__descriptor, in, len, out);
    if (!rq)
        return;
    const struct engine_model *m;
    int64_t v;
    struct engine_status st;
    if (engine_find(e, rq->name, rq->version, &m, &v, &st) != ENGINE_OK) {
        set_engine_error(out, &st);
        protobuf_c_message_free_unpacked(&rq->base, NULL);
        return;
    }
    cJSON *j = engine_model_metadata_json(m, rq->version[0] ? v : -1);

    Inference__ModelMetadataResponse__TensorMetadata tin[ENGINE_MAX_IO], tout[ENGINE_MAX_IO];
    Inference__ModelMetadataResponse__TensorMetadata *pin[ENGINE_MAX_IO], *pout[ENGINE_MAX_IO];
    int64_t din[ENGINE_MAX_IO][ENGINE_MAX_DIMS + 1], dout[ENGINE_MAX_IO][ENGINE_MAX_DIMS + 1];
    char *versions[8];
    size_t nin = 0, nout = 0, nver = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "versions")) {
        if (cJSON_IsString(it) && nver < 8)
            versions[nver++] = it->valuestring;
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "inputs")) {
        if (nin < ENGINE_MAX_IO) {
            tensor_meta(it, &tin[nin], din[nin]);
            pin[nin] = &tin[nin];
            nin++;
        }
    }
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "outputs")) {
        if (nout < ENGINE_MAX_IO) {
            tensor_meta(it, &tout[nout], dout[nout]);
            pout[nout] = &tout[nout];
            nout++;
        }
    }
    Inference__ModelMetadataResponse rs;
    inference__model_metadata_response__init(&rs);
    rs.name = str(json_str(j, "name"));
    rs.platform = str(json_str(j, "platform"));
    rs.versions = versions;
    rs.n_versions = nver;
    rs.inputs = pin;
    rs.n_inputs = nin;
    rs.outputs = pout;
    rs.n_outputs = nout;
    pack(out, &rs.base);
    cJSON_Delete(j);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

/* ------------------------------------------------------------ model config */

/* Everything one ModelConfig message points to, so it can live on the stack. */
struct config_store {
    Inference__ModelConfig cfg;
    Inference__ModelVersionPolicy policy;
    Inference__ModelVersionPolicy__Latest latest;
    Inference__ModelInput in[ENGINE_MAX_IO];
    Inference__ModelInput *pin[ENGINE_MAX_IO];
    Inference__ModelOutput out[ENGINE_MAX_IO];
    Inference__ModelOutput *pout[ENGINE_MAX_IO];
    int64_t in_dims[ENGINE_MAX_IO][ENGINE_MAX_DIMS];
    int64_t out_dims[ENGINE_MAX_IO][ENGINE_MAX_DIMS];
    Inference__ModelDynamicBatching dyn;
    int32_t pbs[8];
    Inference__ModelSequenceBatching seq;
    Inference__ModelSequenceBatching__StrategyDirect direct;
    Inference__ModelEnsembling ens;
    Inference__ModelEnsembling__Step steps[8];
    Inference__ModelEnsembling__Step *psteps[8];
    Inference__ModelEnsembling__Step__InputMapEntry imap[8][ENGINE_MAX_IO];
    Inference__ModelEnsembling__Step__InputMapEntry *pimap[8][ENGINE_MAX_IO];
    Inference__ModelEnsembling__Step__OutputMapEntry omap[8][ENGINE_MAX_IO];
    Inference__ModelEnsembling__Step__OutputMapEntry *pomap[8][ENGINE_MAX_IO];
    Inference__ModelInstanceGroup group;
    Inference__ModelInstanceGroup *pgroup;
    char group_name[ENGINE_NAME_MAX + 8];
    Inference__ModelTransactionPolicy txn;
};

static void config_build(const struct engine_model_info *mi, struct config_store *s)
{
    Inference__ModelConfig *c = &s->cfg;
    inference__model_config__init(c);
    c->name = str(mi->name);
    c->platform = str(mi->platform);
    c->backend = str(mi->backend);
    inference__model_version_policy__init(&s->policy);
    inference__model_version_policy__latest__init(&s->latest);
    s->latest.num_versions = 1;
    s->policy.policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_LATEST;
    s->policy.latest = &s->latest;
    c->version_policy = &s->policy;
    c->max_batch_size = mi->max_batch_size;

    for (size_t i = 0; i < mi->n_inputs && i < ENGINE_MAX_IO; i++) {
        const struct engine_tensor_info *t = &mi->inputs[i];
        Inference__ModelInput *x = &s->in[i];
        inference__model_input__init(x);
        x->name = str(t->name);
        x->data_type = (Inference__DataType)t->dtype;
        memcpy(s->in_dims[i], t->dims, t->rank * sizeof(int64_t));
        x->dims = s->in_dims[i];
        x->n_dims = t->rank;
        x->optional = t->optional;
        s->pin[i] = x;
    }
    c->input = s->pin;
    c->n_input = mi->n_inputs;
    for (size_t i = 0; i < mi->n_outputs && i < ENGINE_MAX_IO; i++) {
        const struct engine_tensor_info *t = &mi->outputs[i];
        Inference__ModelOutput *x = &s->out[i];
        inference__model_output__init(x);
        x->name = str(t->name);
        x->data_type = (Inference__DataType)t->dtype;
        memcpy(s->out_dims[i], t->dims, t->rank * sizeof(int64_t));
        x->dims = s->out_dims[i];
        x->n_dims = t->rank;
        s->pout[i] = x;
    }
    c->output = s->pout;
    c->n_output = mi->n_outputs;

    switch (mi->scheduler) {
    case ENGINE_SCHED_DYNAMIC:
        inference__model_dynamic_batching__init(&s->dyn);
        s->dyn.n_preferred_batch_size = mi->n_preferred_batch_size < 8 ? mi->n_preferred_batch_size : 8;
        memcpy(s->pbs, mi->preferred_batch_size, s->dyn.n_preferred_batch_size * sizeof(int32_t));
        s->dyn.preferred_batch_size = s->pbs;
        s->dyn.max_queue_delay_microseconds = mi->max_queue_delay_us;
        c->scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_DYNAMIC_BATCHING;
        c->dynamic_batching = &s->dyn;
        break;
    case ENGINE_SCHED_SEQUENCE:
        inference__model_sequence_batching__init(&s->seq);
        inference__model_sequence_batching__strategy_direct__init(&s->direct);
        s->seq.max_sequence_idle_microseconds = mi->max_sequence_idle_us;
        s->seq.strategy_choice_case = INFERENCE__MODEL_SEQUENCE_BATCHING__STRATEGY_CHOICE_DIRECT;
        s->seq.direct = &s->direct;
        c->scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_SEQUENCE_BATCHING;
        c->sequence_batching = &s->seq;
        break;
    case ENGINE_SCHED_ENSEMBLE:
        inference__model_ensembling__init(&s->ens);
        for (size_t i = 0; i < mi->n_steps && i < 8; i++) {
            const struct engine_ensemble_step *st = &mi->steps[i];
            Inference__ModelEnsembling__Step *x = &s->steps[i];
            inference__model_ensembling__step__init(x);
            x->model_name = str(st->model_name);
            x->model_version = st->model_version;
            for (size_t k = 0; k < st->n_input_map && k < ENGINE_MAX_IO; k++) {
                inference__model_ensembling__step__input_map_entry__init(&s->imap[i][k]);
                s->imap[i][k].key = str(st->input_key[k]);
                s->imap[i][k].value = str(st->input_val[k]);
                s->pimap[i][k] = &s->imap[i][k];
            }
            x->input_map = s->pimap[i];
            x->n_input_map = st->n_input_map;
            for (size_t k = 0; k < st->n_output_map && k < ENGINE_MAX_IO; k++) {
                inference__model_ensembling__step__output_map_entry__init(&s->omap[i][k]);
                s->omap[i][k].key = str(st->output_key[k]);
                s->omap[i][k].value = str(st->output_val[k]);
                s->pomap[i][k] = &s->omap[i][k];
            }
            x->output_map = s->pomap[i];
            x->n_output_map = st->n_output_map;
            s->psteps[i] = x;
        }
        s->ens.step = s->psteps;
        s->ens.n_step = mi->n_steps;
        c->scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_ENSEMBLE_SCHEDULING;
        c->ensemble_scheduling = &s->ens;
        break;
    case ENGINE_SCHED_NONE:
        break;
    }

    if (mi->scheduler != ENGINE_SCHED_ENSEMBLE) {
        inference__model_instance_group__init(&s->group);
        snprintf(s->group_name, sizeof(s->group_name), "%s_0", mi->name);
        s->group.name = s->group_name;
        s->group.kind = INFERENCE__MODEL_INSTANCE_GROUP__KIND__KIND_CPU;
        s->group.count = (int32_t)(mi->instance_count ? mi->instance_count : 1);
        s->pgroup = &s->group;
        c->instance_group = &s->pgroup;
        c->n_instance_group = 1;
    }
    inference__model_transaction_policy__init(&s->txn);
    s->txn.decoupled = mi->decoupled;
    c->model_transaction_policy = &s->txn;
}

static void model_config(struct engine *e, const uint8_t *in, size_t len, struct grpc_reply *out)
{
    Inference__ModelConfigRequest *rq = (Inference__ModelConfigRequest *)unpack(
        &inference__model_config_request__descriptor, in, len, out);
    if (!rq)
        return;
    const struct engine_model *m;
    int64_t v;
    struct engine_status st;
    if (engine_find(e, rq->name, rq->version, &m, &v, &st) != ENGINE_OK) {
        set_engine_error(out, &st);
    } else {
        struct config_store *s = calloc(1, sizeof(*s)); /* ~40 KiB: too big for a stack frame */
        if (!s) {
            set_error(out, GS_INTERNAL, "out of memory");
        } else {
            config_build(engine_model_info(m), s);
            Inference__ModelConfigResponse rs;
            inference__model_config_response__init(&rs);
            rs.config = &s->cfg;
            pack(out, &rs.base);
            free(s);
        }
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

/* -------------------------------------------------------------- statistics */

static void duration(const cJSON *parent, const char *key, Inference__StatisticDuration *d)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);
    inference__statistic_duration__init(d);
    d->count = json_u64(o, "count");
    d->ns = json_u64(o, "ns");
}

struct stat_store {
    Inference__ModelStatistics ms;
    Inference__InferStatistics is;
    Inference__StatisticDuration d[8];
    Inference__InferBatchStatistics b[ENGINE_MAX_IO];
    Inference__InferBatchStatistics *pb[ENGINE_MAX_IO];
    Inference__StatisticDuration bd[ENGINE_MAX_IO][3];
};

static void stat_build(const cJSON *j, struct stat_store *s)
{
    static const char *const keys[8] = {"success",       "fail",          "queue",
                                        "compute_input", "compute_infer", "compute_output",
                                        "cache_hit",     "cache_miss"};
    inference__model_statistics__init(&s->ms);
    inference__infer_statistics__init(&s->is);
    s->ms.name = str(json_str(j, "name"));
    s->ms.version = str(json_str(j, "version"));
    s->ms.last_inference = json_u64(j, "last_inference");
    s->ms.inference_count = json_u64(j, "inference_count");
    s->ms.execution_count = json_u64(j, "execution_count");
    const cJSON *is = cJSON_GetObjectItemCaseSensitive(j, "inference_stats");
    for (size_t k = 0; k < 8; k++)
        duration(is, keys[k], &s->d[k]);
    s->is.success = &s->d[0];
    s->is.fail = &s->d[1];
    s->is.queue = &s->d[2];
    s->is.compute_input = &s->d[3];
    s->is.compute_infer = &s->d[4];
    s->is.compute_output = &s->d[5];
    s->is.cache_hit = &s->d[6];
    s->is.cache_miss = &s->d[7];
    s->ms.inference_stats = &s->is;
    size_t nb = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(j, "batch_stats")) {
        if (nb == ENGINE_MAX_IO)
            break;
        Inference__InferBatchStatistics *x = &s->b[nb];
        inference__infer_batch_statistics__init(x);
        x->batch_size = json_u64(b, "batch_size");
        duration(b, "compute_input", &s->bd[nb][0]);
        duration(b, "compute_infer", &s->bd[nb][1]);
        duration(b, "compute_output", &s->bd[nb][2]);
        x->compute_input = &s->bd[nb][0];
        x->compute_infer = &s->bd[nb][1];
        x->compute_output = &s->bd[nb][2];
        s->pb[nb++] = x;
    }
    s->ms.batch_stats = s->pb;
    s->ms.n_batch_stats = nb;
}

static void model_statistics(struct engine *e, const uint8_t *in, size_t len,
                             struct grpc_reply *out)
{
    Inference__ModelStatisticsRequest *rq = (Inference__ModelStatisticsRequest *)unpack(
        &inference__model_statistics_request__descriptor, in, len, out);
    if (!rq)
        return;
    struct engine_status st;
    cJSON *j = engine_stats_json(e, rq->name, rq->version, &st);
    if (!j) {
        set_engine_error(out, &st);
        protobuf_c_message_free_unpacked(&rq->base, NULL);
        return;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "model_stats");
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n > MAX_STATS)
        n = MAX_STATS;
    struct stat_store *s = calloc(n ? n : 1, sizeof(*s));
    Inference__ModelStatistics **p = calloc(n ? n : 1, sizeof(*p));
    if (!s || !p) {
        set_error(out, GS_INTERNAL, "out of memory");
    } else {
        size_t i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            if (i == n)
                break;
            stat_build(it, &s[i]);
            p[i] = &s[i].ms;
            i++;
        }
        Inference__ModelStatisticsResponse rs;
        inference__model_statistics_response__init(&rs);
        rs.model_stats = p;
        rs.n_model_stats = i;
        pack(out, &rs.base);
    }
    free(s);
    free(p);
    cJSON_Delete(j);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

/* ----------------------------------------------------------- shared memory */

static void sys_shm_status(struct engine *e, const uint8_t *in, size_t len, struct grpc_reply *out)
{
    Inference__SystemSharedMemoryStatusRequest *rq =
        (Inference__SystemSharedMemoryStatusRequest *)unpack(
            &inference__system_shared_memory_status_request__descriptor, in, len, out);
    if (!rq)
        return;
    struct engine_status st;
    static _Thread_local struct engine_shm_info info[MAX_SHM_REGIONS];
    int n = engine_shm_list(e, false, rq->name[0] ? rq->name : NULL, info, MAX_SHM_REGIONS, &st);
    if (n < 0) {
        set_engine_error(out, &st);
    } else {
        size_t cnt = (size_t)n < MAX_SHM_REGIONS ? (size_t)n : MAX_SHM_REGIONS;
        Inference__SystemSharedMemoryStatusResponse__RegionStatus rs_[MAX_SHM_REGIONS];
        Inference__SystemSharedMemoryStatusResponse__RegionsEntry ent[MAX_SHM_REGIONS];
        Inference__SystemSharedMemoryStatusResponse__RegionsEntry *pent[MAX_SHM_REGIONS];
        for (size_t i = 0; i < cnt; i++) {
            inference__system_shared_memory_status_response__region_status__init(&rs_[i]);
            rs_[i].name = info[i].name;
            rs_[i].key = info[i].key;
            rs_[i].offset = info[i].offset;
            rs_[i].byte_size = info[i].byte_size;
            inference__system_shared_memory_status_response__regions_entry__init(&ent[i]);
            ent[i].key = info[i].name;
            ent[i].value = &rs_[i];
            pent[i] = &ent[i];
        }
        Inference__SystemSharedMemoryStatusResponse rs;
        inference__system_shared_memory_status_response__init(&rs);
        rs.regions = pent;
        rs.n_regions = cnt;
        pack(out, &rs.base);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

static void cuda_shm_status(struct engine *e, const uint8_t *in, size_t len,
                            struct grpc_reply *out)
{
    Inference__CudaSharedMemoryStatusRequest *rq =
        (Inference__CudaSharedMemoryStatusRequest *)unpack(
            &inference__cuda_shared_memory_status_request__descriptor, in, len, out);
    if (!rq)
        return;
    struct engine_status st;
    static _Thread_local struct engine_shm_info info[MAX_SHM_REGIONS];
    int n = engine_shm_list(e, true, rq->name[0] ? rq->name : NULL, info, MAX_SHM_REGIONS, &st);
    if (n < 0) {
        set_engine_error(out, &st);
    } else {
        size_t cnt = (size_t)n < MAX_SHM_REGIONS ? (size_t)n : MAX_SHM_REGIONS;
        Inference__CudaSharedMemoryStatusResponse__RegionStatus rs_[MAX_SHM_REGIONS];
        Inference__CudaSharedMemoryStatusResponse__RegionsEntry ent[MAX_SHM_REGIONS];
        Inference__CudaSharedMemoryStatusResponse__RegionsEntry *pent[MAX_SHM_REGIONS];
        for (size_t i = 0; i < cnt; i++) {
            inference__cuda_shared_memory_status_response__region_status__init(&rs_[i]);
            rs_[i].name = info[i].name;
            rs_[i].device_id = (uint64_t)info[i].device_id;
            rs_[i].byte_size = info[i].byte_size;
            inference__cuda_shared_memory_status_response__regions_entry__init(&ent[i]);
            ent[i].key = info[i].name;
            ent[i].value = &rs_[i];
            pent[i] = &ent[i];
        }
        Inference__CudaSharedMemoryStatusResponse rs;
        inference__cuda_shared_memory_status_response__init(&rs);
        rs.regions = pent;
        rs.n_regions = cnt;
        pack(out, &rs.base);
    }
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

/* Every register/unregister RPC answers with an empty message on success. */
static void empty_reply(struct grpc_reply *out, int rc, const struct engine_status *st)
{
    if (rc != ENGINE_OK) {
        set_engine_error(out, st);
        return;
    }
    out->status = GS_OK;
    out->body = malloc(1);
    out->len = 0;
    if (!out->body)
        set_error(out, GS_INTERNAL, "out of memory");
}

static void sys_shm_register(struct engine *e, const uint8_t *in, size_t len,
                             struct grpc_reply *out)
{
    Inference__SystemSharedMemoryRegisterRequest *rq =
        (Inference__SystemSharedMemoryRegisterRequest *)unpack(
            &inference__system_shared_memory_register_request__descriptor, in, len, out);
    if (!rq)
        return;
    struct engine_status st;
    int rc = engine_shm_register(e, rq->name, rq->key, rq->offset, rq->byte_size, &st);
    empty_reply(out, rc, &st);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

static void sys_shm_unregister(struct engine *e, const uint8_t *in, size_t len,
                               struct grpc_reply *out)
{
    Inference__SystemSharedMemoryUnregisterRequest *rq =
        (Inference__SystemSharedMemoryUnregisterRequest *)unpack(
            &inference__system_shared_memory_unregister_request__descriptor, in, len, out);
    if (!rq)
        return;
    struct engine_status st;
    int rc = engine_shm_unregister(e, rq->name[0] ? rq->name : NULL, &st);
    empty_reply(out, rc, &st);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

static void cuda_shm_register(struct engine *e, const uint8_t *in, size_t len,
                              struct grpc_reply *out)
{
    Inference__CudaSharedMemoryRegisterRequest *rq =
        (Inference__CudaSharedMemoryRegisterRequest *)unpack(
            &inference__cuda_shared_memory_register_request__descriptor, in, len, out);
    if (!rq)
        return;
    struct engine_status st;
    int rc = engine_cuda_shm_register(e, rq->name, rq->raw_handle.data, rq->raw_handle.len,
                                      rq->device_id, rq->byte_size, &st);
    empty_reply(out, rc, &st);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

static void cuda_shm_unregister(struct engine *e, const uint8_t *in, size_t len,
                                struct grpc_reply *out)
{
    Inference__CudaSharedMemoryUnregisterRequest *rq =
        (Inference__CudaSharedMemoryUnregisterRequest *)unpack(
            &inference__cuda_shared_memory_unregister_request__descriptor, in, len, out);
    if (!rq)
        return;
    struct engine_status st;
    int rc = engine_cuda_shm_unregister(e, rq->name[0] ? rq->name : NULL, &st);
    empty_reply(out, rc, &st);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

/* ---------------------------------------------------------- trace settings */

#define MAX_SETTINGS 32
#define MAX_SETTING_VALUES 16

static void trace_setting(struct engine *e, const uint8_t *in, size_t len, struct grpc_reply *out)
{
    Inference__TraceSettingRequest *rq = (Inference__TraceSettingRequest *)unpack(
        &inference__trace_setting_request__descriptor, in, len, out);
    if (!rq)
        return;
    /* The HTTP form of the update: one value -> string (trace_level stays
     * a list), no values -> null (clear the setting). */
    cJSON *update = NULL;
    if (rq->n_settings) {
        update = cJSON_CreateObject();
        for (size_t i = 0; i < rq->n_settings; i++) {
            const Inference__TraceSettingRequest__SettingsEntry *s = rq->settings[i];
            const Inference__TraceSettingRequest__SettingValue *v = s->value;
            size_t nv = v ? v->n_value : 0;
            cJSON *val;
            if (nv == 0) {
                val = cJSON_CreateNull();
            } else if (nv == 1 && strcmp(s->key, "trace_level") != 0) {
                val = cJSON_CreateString(v->value[0]);
            } else {
                val = cJSON_CreateArray();
                for (size_t k = 0; k < nv; k++)
                    cJSON_AddItemToArray(val, cJSON_CreateString(v->value[k]));
            }
            cJSON_AddItemToObject(update, s->key, val);
        }
    }
    struct engine_status st;
    cJSON *cur = engine_trace_setting(e, rq->model_name[0] ? rq->model_name : NULL, update, &st);
    cJSON_Delete(update);
    if (!cur) {
        set_engine_error(out, &st);
        protobuf_c_message_free_unpacked(&rq->base, NULL);
        return;
    }
    Inference__TraceSettingResponse__SettingValue vals[MAX_SETTINGS];
    Inference__TraceSettingResponse__SettingsEntry ent[MAX_SETTINGS];
    Inference__TraceSettingResponse__SettingsEntry *pent[MAX_SETTINGS];
    char *strs[MAX_SETTINGS][MAX_SETTING_VALUES];
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cur) {
        if (n == MAX_SETTINGS)
            break;
        inference__trace_setting_response__setting_value__init(&vals[n]);
        size_t nv = 0;
        if (cJSON_IsString(it)) {
            strs[n][nv++] = it->valuestring;
        } else if (cJSON_IsArray(it)) {
            const cJSON *x;
            cJSON_ArrayForEach(x, it) {
                if (cJSON_IsString(x) && nv < MAX_SETTING_VALUES)
                    strs[n][nv++] = x->valuestring;
            }
        }
        vals[n].value = strs[n];
        vals[n].n_value = nv;
        inference__trace_setting_response__settings_entry__init(&ent[n]);
        ent[n].key = it->string;
        ent[n].value = &vals[n];
        pent[n] = &ent[n];
        n++;
    }
    Inference__TraceSettingResponse rs;
    inference__trace_setting_response__init(&rs);
    rs.settings = pent;
    rs.n_settings = n;
    pack(out, &rs.base);
    cJSON_Delete(cur);
    protobuf_c_message_free_unpacked(&rq->base, NULL);
}

void grpc_handle_control(struct engine *e, enum grpc_method m, const uint8_t *in, size_t len,
                         struct grpc_reply *out)
{
    out->status = GS_OK;
    out->msg[0] = '\0';
    out->body = NULL;
    out->len = 0;
    switch (m) {
    case GM_SERVER_LIVE: {
        Inference__ServerLiveResponse rs;
        inference__server_live_response__init(&rs);
        rs.live = 1;
        pack(out, &rs.base);
        return;
    }
    case GM_SERVER_READY: {
        Inference__ServerReadyResponse rs;
        inference__server_ready_response__init(&rs);
        rs.ready = 1;
        pack(out, &rs.base);
        return;
    }
    case GM_MODEL_READY:
        model_ready(e, in, len, out);
        return;
    case GM_SERVER_METADATA:
        server_metadata(e, out);
        return;
    case GM_MODEL_METADATA:
        model_metadata(e, in, len, out);
        return;
    case GM_MODEL_CONFIG:
        model_config(e, in, len, out);
        return;
    case GM_MODEL_STATISTICS:
        model_statistics(e, in, len, out);
        return;
    case GM_SYS_SHM_STATUS:
        sys_shm_status(e, in, len, out);
        return;
    case GM_SYS_SHM_REGISTER:
        sys_shm_register(e, in, len, out);
        return;
    case GM_SYS_SHM_UNREGISTER:
        sys_shm_unregister(e, in, len, out);
        return;
    case GM_CUDA_SHM_STATUS:
        cuda_shm_status(e, in, len, out);
        return;
    case GM_CUDA_SHM_REGISTER:
        cuda_shm_register(e, in, len, out);
        return;
    case GM_CUDA_SHM_UNREGISTER:
        cuda_shm_unregister(e, in, len, out);
        return;
    case GM_TRACE_SETTING:
        trace_setting(e, in, len, out);
        return;
    case GM_LOG_SETTINGS: {
        /* Accepted and ignored: the test server has no log to configure. */
        Inference__LogSettingsResponse rs;
        inference__log_settings_response__init(&rs);
        pack(out, &rs.base);
        return;
    }
    case GM_MODEL_INFER:
    case GM_MODEL_STREAM_INFER:
    case GM_COUNT:
        break;
    }
    set_error(out, GS_UNIMPLEMENTED, "unexpected method");
}

/* --------------------------------------------------------------- inference */

__attribute__((format(printf, 3, 4))) static int bad(struct engine_status *st,
                                                     enum engine_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st->code = code;
    vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);
    return (int)code;
}

static int request_params(const Inference__ModelInferRequest *msg, struct engine_request *r,
                          struct engine_status *st)
{
    for (size_t i = 0; i < msg->n_parameters; i++) {
        const char *k = msg->parameters[i]->key;
        const Inference__InferParameter *p = msg->parameters[i]->value;
        int c = p ? (int)p->parameter_choice_case : 0;
        if (!strcmp(k, "sequence_id")) {
            if (c == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM) {
                r->corr_id.is_string = false;
                r->corr_id.u = (uint64_t)p->int64_param;
            } else if (c == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM) {
                r->corr_id.is_string = true;
                snprintf(r->corr_id.s, sizeof(r->corr_id.s), "%s", p->string_param);
            } else {
                return bad(st, ENGINE_INVALID_ARG,
                           "invalid value type for '%s' parameter, expected "
                           "int64_param or string_param.",
                           k);
            }
        } else if (!strcmp(k, "sequence_start") || !strcmp(k, "sequence_end") ||
                   !strcmp(k, "triton_enable_empty_final_response")) {
            if (c != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM)
                return bad(st, ENGINE_INVALID_ARG,
                           "invalid value type for '%s' parameter, expected bool_param.", k);
            if (k[0] == 't')
                r->enable_empty_final_response = p->bool_param;
            else if (!strcmp(k, "sequence_start"))
                r->seq_start = p->bool_param;
            else
                r->seq_end = p->bool_param;
        } else if (!strcmp(k, "priority")) {
            if (c == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM &&
                p->int64_param >= 0)
                r->priority = (uint64_t)p->int64_param;
            else if (c == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM)
                r->priority = p->uint64_param;
            else
                return bad(st, ENGINE_INVALID_ARG,
                           "invalid value type for '%s' parameter, expected "
                           "int64_param or uint64_param.",
                           k);
        } else if (!strcmp(k, "timeout")) {
            if (c != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM ||
                p->int64_param < 0)
                return bad(st, ENGINE_INVALID_ARG,
                           "invalid value type for '%s' parameter, expected int64_param.", k);
            r->timeout_us = (uint64_t)p->int64_param;
        } else if (!strncmp(k, "triton_", 7)) {
            return bad(st, ENGINE_INVALID_ARG,
                       "parameter keys starting with 'triton_' are reserved for Triton usage "
                       "and should not be specified.");
        } else if (!strcmp(k, "headers")) {
            continue;
        } else if (c != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM &&
                   c != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM &&
                   c != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM) {
            return bad(st, ENGINE_INVALID_ARG,
                       "unsupported value type for custom parameter '%s', expected "
                       "int64_param, bool_param or string_param.",
                       k);
        }
    }
    return ENGINE_OK;
}

/* Shared-memory parameters of a tensor, as int64 (or uint64) values. */
static int shm_params(Inference__ModelInferRequest__InferInputTensor__ParametersEntry **ps,
                      size_t n, const char *tensor, const char **region, uint64_t *size,
                      uint64_t *offset, uint32_t *classification, struct engine_status *st)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = ps[i]->key;
        const Inference__InferParameter *p = ps[i]->value;
        int c = p ? (int)p->parameter_choice_case : 0;
        uint64_t u = 0;
        bool is_int = false;
        if (c == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM && p->int64_param >= 0) {
            u = (uint64_t)p->int64_param;
            is_int = true;
        } else if (c == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM) {
            u = p->uint64_param;
            is_int = true;
        }
        if (!strcmp(k, "shared_memory_region")) {
            if (c != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM)
                return bad(st, ENGINE_INVALID_ARG,
                           "invalid value type for 'shared_memory_region' of tensor '%s', "
                           "expected string_param",
                           tensor);
            *region = p->string_param;
        } else if (!strcmp(k, "shared_memory_byte_size") || !strcmp(k, "shared_memory_offset") ||
                   (classification && !strcmp(k, "classification"))) {
            if (!is_int)
                return bad(st, ENGINE_INVALID_ARG,
                           "invalid value type for a shared-memory or classification parameter "
                           "of tensor '%s', expected int64_param",
                           tensor);
            if (k[0] == 'c')
                *classification = (uint32_t)u;
            else if (!strcmp(k, "shared_memory_byte_size"))
                *size = u;
            else
                *offset = u;
        }
    }
    return ENGINE_OK;
}

int grpc_infer_decode(struct engine *e, const uint8_t *data, size_t len, struct grpc_infer_in *in,
                      struct engine_status *st)
{
    memset(in, 0, sizeof(*in));
    st->code = ENGINE_OK;
    st->msg[0] = '\0';
    in->msg = inference__model_infer_request__unpack(NULL, len, data);
    if (!in->msg)
        return bad(st, ENGINE_INVALID_ARG, "failed to parse the ModelInferRequest");
    const Inference__ModelInferRequest *msg = in->msg;
    if (engine_find(e, msg->model_name, msg->model_version, &in->model, &in->version, st) !=
        ENGINE_OK) {
        in->model = NULL;
        return (int)st->code;
    }
    in->decoupled = engine_model_info(in->model)->decoupled;

    struct engine_request *r = &in->req;
    r->id = msg->id;
    if (request_params(msg, r, st) != ENGINE_OK)
        return (int)st->code;
    if (msg->n_inputs > ENGINE_MAX_IO)
        return bad(st, ENGINE_INVALID_ARG, "too many inputs for model '%s'", msg->model_name);
    if (msg->n_outputs > ENGINE_MAX_IO)
        return bad(st, ENGINE_INVALID_ARG, "too many outputs for model '%s'", msg->model_name);

    size_t raw = 0;
    for (size_t i = 0; i < msg->n_inputs; i++) {
        const Inference__ModelInferRequest__InferInputTensor *t = msg->inputs[i];
        struct engine_input *x = &r->inputs[i];
        x->name = t->name;
        x->dtype = engine_dtype_parse(t->datatype);
        if (t->n_shape > ENGINE_MAX_DIMS)
            return bad(st, ENGINE_INVALID_ARG, "input '%s' has too many dimensions", t->name);
        memcpy(x->shape, t->shape, t->n_shape * sizeof(int64_t));
        x->rank = t->n_shape;
        if (shm_params(t->parameters, t->n_parameters, t->name, &x->shm_region, &x->shm_byte_size,
                       &x->shm_offset, NULL, st) != ENGINE_OK)
            return (int)st->code;
        if (t->contents)
            return bad(st, ENGINE_UNSUPPORTED,
                       "input '%s': typed 'contents' are not supported by this test server, "
                       "send raw_input_contents",
                       t->name);
        if (x->shm_region)
            continue;
        if (raw >= msg->n_raw_input_contents)
            return bad(st, ENGINE_INVALID_ARG,
                       "expected raw input contents for input '%s' but none were given",
                       t->name);
        x->data = msg->raw_input_contents[raw].data;
        x->byte_size = msg->raw_input_contents[raw].len;
        raw++;
    }
    r->n_inputs = msg->n_inputs;
    if (raw != msg->n_raw_input_contents)
        return bad(st, ENGINE_INVALID_ARG,
                   "raw_input_contents has more entries than non-shared-memory inputs of "
                   "model '%s'",
                   msg->model_name);

    for (size_t i = 0; i < msg->n_outputs; i++) {
        const Inference__ModelInferRequest__InferRequestedOutputTensor *t = msg->outputs[i];
        struct engine_output_req *o = &r->outputs[i];
        o->name = t->name;
        /* Output parameter entries have the same layout as input ones. */
        union {
            Inference__ModelInferRequest__InferRequestedOutputTensor__ParametersEntry **o;
            Inference__ModelInferRequest__InferInputTensor__ParametersEntry **i;
        } ps = {.o = t->parameters};
        if (shm_params(ps.i, t->n_parameters, t->name, &o->shm_region, &o->shm_byte_size,
                       &o->shm_offset, &o->classification, st) != ENGINE_OK)
            return (int)st->code;
    }
    r->n_outputs = msg->n_outputs;
    return ENGINE_OK;
}

void grpc_infer_in_release(struct grpc_infer_in *in)
{
    if (in->msg)
        protobuf_c_message_free_unpacked(&in->msg->base, NULL);
    in->msg = NULL;
}

uint8_t *grpc_infer_encode(const struct grpc_infer_in *in, const struct engine_response *resp,
                           bool stream, bool final, const char *err, size_t *len)
{
    Inference__ModelInferResponse r;
    inference__model_infer_response__init(&r);
    Inference__ModelInferResponse__InferOutputTensor o[ENGINE_MAX_IO];
    Inference__ModelInferResponse__InferOutputTensor *po[ENGINE_MAX_IO];
    int64_t shapes[ENGINE_MAX_IO][ENGINE_MAX_DIMS];
    ProtobufCBinaryData raw[ENGINE_MAX_IO];
    char version[24];
    Inference__InferParameter fin;
    inference__infer_parameter__init(&fin);
    Inference__ModelInferResponse__ParametersEntry fin_entry;
    inference__model_infer_response__parameters_entry__init(&fin_entry);
    Inference__ModelInferResponse__ParametersEntry *pfin = &fin_entry;

    r.id = str(in->msg && in->msg->id ? in->msg->id : "");
    if (!err && resp) {
        r.model_name = str(resp->model_name ? resp->model_name : "");
        snprintf(version, sizeof(version), "%" PRId64, resp->model_version);
        r.model_version = version;
        size_t n = resp->n_outputs < ENGINE_MAX_IO ? resp->n_outputs : ENGINE_MAX_IO;
        for (size_t i = 0; i < n; i++) {
            const struct engine_output *x = &resp->outputs[i];
            inference__model_infer_response__infer_output_tensor__init(&o[i]);
            o[i].name = str(x->name);
            o[i].datatype = str(engine_dtype_name(x->dtype));
            memcpy(shapes[i], x->shape, x->rank * sizeof(int64_t));
            o[i].shape = shapes[i];
            o[i].n_shape = x->rank;
            po[i] = &o[i];
            /* One raw entry per output, empty when it went to shared memory. */
            union {
                const void *c;
                uint8_t *m;
            } d = {.c = x->data};
            raw[i].data = x->in_shm ? NULL : d.m;
            raw[i].len = x->in_shm ? 0 : x->byte_size;
        }
        r.outputs = po;
        r.n_outputs = n;
        r.raw_output_contents = raw;
        r.n_raw_output_contents = n;
    }
    if (stream && !err) {
        fin.parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_BOOL_PARAM;
        fin.bool_param = final;
        fin_entry.key = str("triton_final_response");
        fin_entry.value = &fin;
        r.parameters = &pfin;
        r.n_parameters = 1;
    }

    const ProtobufCMessage *m = &r.base;
    Inference__ModelStreamInferResponse sr;
    inference__model_stream_infer_response__init(&sr);
    if (stream) {
        sr.error_message = str(err ? err : "");
        sr.infer_response = &r;
        m = &sr.base;
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        abort(); /* a test server out of memory has nothing better to do */
    *len = protobuf_c_message_pack(m, buf);
    return buf;
}
