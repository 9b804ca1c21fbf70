/*
 * The backend registry and the checked calls of optional backend ops.
 *
 * pa_backend_find() maps (--service-kind, -i) to a descriptor from a static
 * table; backends that are not built in are absent from it, and selecting
 * one fails loudly at pa_client_open(). Optional ops are NULL in a backend's
 * ops table when it cannot do them; the pa_client_* wrappers below are the
 * only place that checks, and they answer with the original's wording
 * ("client backend of kind <KIND> does not support <Op> API"), so callers
 * never test for NULL themselves. Hot-path ops go straight through the
 * table (the static inline wrappers in pa/client.h).
 */
#include "pa/client.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/options.h"
#include "client/backends.h"
#include "core/banned.h"

struct registry_entry {
    enum pa_service_kind kind;
    enum pa_protocol protocol;
    bool any_protocol; /* the C API has none ("unknown") */
    const struct pa_backend *backend;
};

static const struct registry_entry registry[] = {
    {PA_SK_TRITON, PA_PROTO_HTTP, false, &pa_backend_triton_http},
#ifdef PA_HAVE_TRITON_GRPC
    {PA_SK_TRITON, PA_PROTO_GRPC, false, &pa_backend_triton_grpc},
#endif
#ifdef PA_HAVE_TRITON_C_API
    {PA_SK_TRITON_C_API, PA_PROTO_UNKNOWN, true, &pa_backend_triton_c_api},
#endif
#ifdef PA_HAVE_TFSERVING
    {PA_SK_TFSERVING, PA_PROTO_GRPC, false, &pa_backend_tfserving},
#endif
#ifdef PA_HAVE_TORCHSERVE
    /* Any protocol: open() refuses gRPC with the original's message. */
    {PA_SK_TORCHSERVE, PA_PROTO_HTTP, true, &pa_backend_torchserve},
#endif
};

const struct pa_backend *pa_backend_find(const struct pa_options *opts)
{
    for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
        const struct registry_entry *e = &registry[i];
        if (e->kind == opts->service_kind && (e->any_protocol || e->protocol == opts->protocol))
            return e->backend;
    }
    return NULL;
}

/* The --service-kind spelling, for "not supported yet" errors. */
static const char *service_kind_text(enum pa_service_kind kind)
{
    switch (kind) {
    case PA_SK_TRITON:
        return "triton";
    case PA_SK_TFSERVING:
        return "tfserving";
    case PA_SK_TORCHSERVE:
        return "torchserve";
    case PA_SK_TRITON_C_API:
        return "triton_c_api";
    }
    return "unknown";
}

static bool trace_requested(const struct pa_options *opts)
{
    return opts->trace_file || opts->trace_level || opts->trace_rate ||
           opts->trace_count_given || opts->log_frequency_given;
}

/*
 * The global trace settings of spec 06 §1.6: only the keys the user gave,
 * every value a string, the level as a one-element array.
 */
static cJSON *trace_settings_json(const struct pa_options *opts)
{
    char num[32];
    cJSON *o = cJSON_CreateObject();

    if (opts->trace_file)
        cJSON_AddStringToObject(o, "trace_file", opts->trace_file);
    if (opts->trace_level) {
        cJSON *levels = cJSON_AddArrayToObject(o, "trace_level");
        cJSON_AddItemToArray(levels, cJSON_CreateString(opts->trace_level));
    }
    if (opts->trace_rate)
        cJSON_AddStringToObject(o, "trace_rate", opts->trace_rate);
    if (opts->trace_count_given) {
        snprintf(num, sizeof(num), "%" PRId64, opts->trace_count);
        cJSON_AddStringToObject(o, "trace_count", num);
    }
    if (opts->log_frequency_given) {
        snprintf(num, sizeof(num), "%" PRId64, opts->log_frequency);
        cJSON_AddStringToObject(o, "log_frequency", num);
    }
    return o;
}

int pa_client_open(struct pa_client *c, const struct pa_options *opts, pa_response_fn *on_response,
                   void *arg, struct pa_err *err)
{
    memset(c, 0, sizeof(*c));
    const struct pa_backend *b = pa_backend_find(opts);
    if (!b) {
        if (opts->service_kind == PA_SK_TRITON && opts->protocol == PA_PROTO_GRPC)
            return pa_errorf(err, PA_EUNSUPPORTED, "gRPC backend is not supported yet");
        return pa_errorf(err, PA_EUNSUPPORTED, "the '%s' service kind is not supported yet",
                         service_kind_text(opts->service_kind));
    }
    c->backend = b;
    c->opts = opts;
    c->on_response = on_response;
    c->on_response_arg = arg;
    int rc = b->ops->open(c, err);
    if (rc != PA_OK) {
        c->backend = NULL;
        c->ctx = NULL;
        return rc;
    }

    /*
     * Like the original, every backend instance (the control client and
     * each worker's) posts the trace settings when it is created; backends
     * without trace support ignore the options (spec 01 §5 table).
     */
    if (trace_requested(opts) && b->ops->trace_settings) {
        cJSON *settings = trace_settings_json(opts);
        rc = b->ops->trace_settings(c, settings, err);
        cJSON_Delete(settings);
        if (rc != PA_OK) {
            pa_client_close(c);
            return rc;
        }
    }
    return PA_OK;
}

void pa_client_close(struct pa_client *c)
{
    if (!c || !c->backend)
        return;
    c->backend->ops->close(c);
    c->backend = NULL;
    c->ctx = NULL;
}

static int unsupported(const struct pa_client *c, const char *op, struct pa_err *err)
{
    return pa_errorf(err, PA_EUNSUPPORTED, "client backend of kind %s does not support %s API",
                     c->backend->kind, op);
}

int pa_client_server_metadata(struct pa_client *c, cJSON **out, struct pa_err *err)
{
    if (!c->backend->ops->server_metadata)
        return unsupported(c, "ServerExtensions", err);
    return c->backend->ops->server_metadata(c, out, err);
}

int pa_client_model_metadata(struct pa_client *c, const char *name, const char *version,
                             cJSON **out, struct pa_err *err)
{
    if (!c->backend->ops->model_metadata)
        return unsupported(c, "ModelMetadata", err);
    return c->backend->ops->model_metadata(c, name, version, out, err);
}

int pa_client_model_config(struct pa_client *c, const char *name, const char *version,
                           cJSON **out, struct pa_err *err)
{
    if (!c->backend->ops->model_config)
        return unsupported(c, "ModelConfig", err);
    return c->backend->ops->model_config(c, name, version, out, err);
}

int pa_client_model_statistics(struct pa_client *c, const char *name, const char *version,
                               cJSON **out, struct pa_err *err)
{
    if (!c->backend->ops->model_statistics)
        return unsupported(c, "ModelInferenceStatistics", err);
    return c->backend->ops->model_statistics(c, name, version, out, err);
}

int pa_client_trace_settings(struct pa_client *c, const cJSON *settings, struct pa_err *err)
{
    if (!c->backend->ops->trace_settings)
        return unsupported(c, "UpdateTraceSettings", err);
    return c->backend->ops->trace_settings(c, settings, err);
}

int pa_client_register_system_shm(struct pa_client *c, const char *region, const char *key,
                                  uint64_t offset, uint64_t byte_size, struct pa_err *err)
{
    if (!c->backend->ops->register_system_shm)
        return unsupported(c, "RegisterSystemSharedMemory", err);
    return c->backend->ops->register_system_shm(c, region, key, offset, byte_size, err);
}

int pa_client_register_cuda_shm(struct pa_client *c, const char *region, const void *raw_handle,
                                size_t handle_size, int64_t device_id, uint64_t byte_size,
                                struct pa_err *err)
{
    if (!c->backend->ops->register_cuda_shm)
        return unsupported(c, "RegisterCudaSharedMemory", err);
    return c->backend->ops->register_cuda_shm(c, region, raw_handle, handle_size, device_id,
                                              byte_size, err);
}

int pa_client_unregister_system_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    if (!c->backend->ops->unregister_system_shm)
        return unsupported(c, region ? "UnregisterSystemSharedMemory" : "UnregisterAllSharedMemory",
                           err);
    return c->backend->ops->unregister_system_shm(c, region, err);
}

int pa_client_unregister_cuda_shm(struct pa_client *c, const char *region, struct pa_err *err)
{
    if (!c->backend->ops->unregister_cuda_shm)
        return unsupported(c, region ? "UnregisterCudaSharedMemory" : "UnregisterAllSharedMemory",
                           err);
    return c->backend->ops->unregister_cuda_shm(c, region, err);
}

int pa_client_output(const struct pa_client *c, const struct pa_response *r, const char *name,
                     const void **data, size_t *byte_size, struct pa_err *err)
{
    if (!c->backend->ops->output)
        return unsupported(c, "RawData", err);
    return c->backend->ops->output(c, r, name, data, byte_size, err);
}
