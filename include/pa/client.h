/*
 * The client backend contract: one vtable per (service kind, protocol).
 *
 * A backend has three parts (curl's protocol handlers): a descriptor
 * (struct pa_backend: name and capability flags), an ops table, and an
 * instance (struct pa_client: the backend plus its private ctx).
 *
 * Instances are single-threaded: each worker thread opens its own client
 * (one curl multi handle, one gRPC completion queue, ...) and main.c opens
 * one more for the control plane. Completion callbacks run on the owning
 * thread, inside pa_client_poll(). Backends never print and never exit.
 *
 * Control-plane ops are blocking and return Triton's KServe v2 JSON shapes
 * as cJSON trees (a gRPC backend converts its protobuf answers to the same
 * shapes), so model parsing and statistics code is backend-independent.
 *
 * Data-plane ops are asynchronous: prepare() encodes a request once at setup
 * (no allocation afterwards); submit() queues it with the few per-send
 * fields; poll() drives I/O and calls on_response for every response that
 * arrives. A synchronous call is submit() then poll() until its final
 * response. Optional ops are NULL when the backend cannot do them; the
 * wrappers below turn NULL into PA_EUNSUPPORTED with the original's text
 * ("client backend of kind <KIND> does not support <Op> API").
 */
#ifndef PA_CLIENT_H
#define PA_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pa/status.h"

struct pa_options;
struct pa_client;
struct pa_prepared; /* backend-private encoded request */

enum pa_backend_flags {
    PA_BACKEND_ASYNC = 1 << 0,        /* more than one request in flight per client */
    PA_BACKEND_STREAMING = 1 << 1,    /* --streaming */
    PA_BACKEND_SYSTEM_SHM = 1 << 2,
    PA_BACKEND_CUDA_SHM = 1 << 3,
    PA_BACKEND_SERVER_STATS = 1 << 4, /* server-side statistics */
    PA_BACKEND_MODEL_METADATA = 1 << 5,
};

#define PA_MAX_DIMS 16

/* One input tensor of a prepared request. Pointers must outlive the prepared request. */
struct pa_input {
    const char *name;
    const char *datatype;       /* "INT32", "BYTES", ... */
    const int64_t *shape;       /* full request shape, batch dim included when batching */
    size_t rank;
    const void *data;           /* raw bytes (BYTES: 4-byte LE length prefixes); NULL if shm */
    size_t byte_size;
    const char *shm_region;     /* non-NULL: the data is in this registered region */
    uint64_t shm_offset;
};

/* One requested output. */
struct pa_output {
    const char *name;
    const char *shm_region;     /* non-NULL: server writes the output into this region */
    uint64_t shm_byte_size;
    uint64_t shm_offset;
};

/* Everything needed to encode one request once. */
struct pa_infer_desc {
    const char *model_name;
    const char *model_version;  /* "" = server's choice */
    const struct pa_input *inputs;
    size_t n_inputs;
    const struct pa_output *outputs;
    size_t n_outputs;
    bool sequence;              /* per-send sequence fields will be set */
};

/* The per-send fields of one submission. */
struct pa_send {
    uint64_t sequence_id;       /* 0 = not a sequence request */
    bool sequence_start;
    bool sequence_end;
    uint32_t stream;            /* which of the client's streams (streaming mode) */
    void *tag;                  /* handed back in every response of this request */
};

/* One response as the backend reports it to on_response. Valid only during the callback. */
struct pa_response {
    void *tag;                  /* from struct pa_send */
    uint64_t arrival_ns;        /* monotonic time the response arrived */
    bool final;                 /* last response of this request */
    bool null_response;         /* final and carries no outputs (decoupled models) */
    int error;                  /* PA_OK, or the failure's code ... */
    const char *error_msg;      /* ... and its message (NULL when error == PA_OK) */
    /* Client-library timing of the request, set on the final response (spec 06 §6). */
    uint64_t send_ns;           /* time spent sending (HTTP) or marshalling (gRPC) */
    uint64_t recv_ns;           /* time spent receiving / unmarshalling */
    uint64_t total_ns;          /* request start to request end */
    const void *backend_data;   /* for pa_client_output(); backend-private */
};

typedef void pa_response_fn(void *arg, const struct pa_response *r);

struct pa_client_ops {
    /* Required. */
    int (*open)(struct pa_client *c, struct pa_err *err);
    void (*close)(struct pa_client *c);
    int (*prepare)(struct pa_client *c, const struct pa_infer_desc *desc,
                   struct pa_prepared **out, struct pa_err *err);
    void (*prepared_free)(struct pa_client *c, struct pa_prepared *p);
    /* Queues one request. A request that fails at once is reported through
     * on_response (error set) and submit still returns PA_OK; a non-zero
     * return means the client itself is broken. */
    int (*submit)(struct pa_client *c, struct pa_prepared *p, const struct pa_send *send,
                  struct pa_err *err);
    /* Drives I/O for up to timeout_ms (0 = do not wait; -1 = until at least
     * one response). Returns the number of responses delivered, or < 0. */
    int (*poll)(struct pa_client *c, int timeout_ms, struct pa_err *err);
    /* Requests submitted and not yet finally answered. */
    size_t (*in_flight)(const struct pa_client *c);

    /* Optional (NULL = unsupported). Control plane, blocking. *out is a new
     * cJSON tree the caller deletes. */
    int (*server_metadata)(struct pa_client *c, cJSON **out, struct pa_err *err);
    int (*model_metadata)(struct pa_client *c, const char *name, const char *version,
                          cJSON **out, struct pa_err *err);
    int (*model_config)(struct pa_client *c, const char *name, const char *version,
                        cJSON **out, struct pa_err *err);
    /* name NULL = all models. Output: {"model_stats":[...]} as KServe v2 JSON. */
    int (*model_statistics)(struct pa_client *c, const char *name, const char *version,
                            cJSON **out, struct pa_err *err);
    int (*trace_settings)(struct pa_client *c, const cJSON *settings, struct pa_err *err);
    int (*register_system_shm)(struct pa_client *c, const char *region, const char *key,
                               uint64_t offset, uint64_t byte_size, struct pa_err *err);
    int (*register_cuda_shm)(struct pa_client *c, const char *region, const void *raw_handle,
                             size_t handle_size, int64_t device_id, uint64_t byte_size,
                             struct pa_err *err);
    /* region NULL = unregister all. */
    int (*unregister_system_shm)(struct pa_client *c, const char *region, struct pa_err *err);
    int (*unregister_cuda_shm)(struct pa_client *c, const char *region, struct pa_err *err);
    /* Raw bytes of output `name` of a response (for validation data). */
    int (*output)(const struct pa_client *c, const struct pa_response *r, const char *name,
                  const void **data, size_t *byte_size, struct pa_err *err);
};

struct pa_backend {
    const char *name;           /* "triton-http", "triton-grpc", "triton_c_api", ... */
    const char *kind;           /* as the original names it in errors: "TRITON", ... */
    unsigned flags;             /* enum pa_backend_flags */
    const struct pa_client_ops *ops;
};

struct pa_client {
    const struct pa_backend *backend;
    const struct pa_options *opts;  /* borrowed; outlives the client */
    pa_response_fn *on_response;
    void *on_response_arg;
    void *ctx;                      /* backend-private, created by open(), freed by close() */
};

/*
 * Selects the backend for opts (service kind and protocol) and opens an
 * instance. on_response may be NULL for a control-plane client. Errors are
 * the original's "failed to create ... client backend" reasons.
 */
PA_MUST_CHECK int pa_client_open(struct pa_client *c, const struct pa_options *opts,
                                 pa_response_fn *on_response, void *arg, struct pa_err *err);
void pa_client_close(struct pa_client *c);

/* Backend for (service kind, protocol), or NULL when not built in. */
const struct pa_backend *pa_backend_find(const struct pa_options *opts);

/* Checked calls of the optional ops (client.c). */
int pa_client_server_metadata(struct pa_client *c, cJSON **out, struct pa_err *err);
int pa_client_model_metadata(struct pa_client *c, const char *name, const char *version,
                             cJSON **out, struct pa_err *err);
int pa_client_model_config(struct pa_client *c, const char *name, const char *version,
                           cJSON **out, struct pa_err *err);
int pa_client_model_statistics(struct pa_client *c, const char *name, const char *version,
                               cJSON **out, struct pa_err *err);
int pa_client_trace_settings(struct pa_client *c, const cJSON *settings, struct pa_err *err);
int pa_client_register_system_shm(struct pa_client *c, const char *region, const char *key,
                                  uint64_t offset, uint64_t byte_size, struct pa_err *err);
int pa_client_register_cuda_shm(struct pa_client *c, const char *region, const void *raw_handle,
                                size_t handle_size, int64_t device_id, uint64_t byte_size,
                                struct pa_err *err);
int pa_client_unregister_system_shm(struct pa_client *c, const char *region, struct pa_err *err);
int pa_client_unregister_cuda_shm(struct pa_client *c, const char *region, struct pa_err *err);
int pa_client_output(const struct pa_client *c, const struct pa_response *r, const char *name,
                     const void **data, size_t *byte_size, struct pa_err *err);

/* Hot-path calls: straight through the ops table. */
static inline int pa_client_prepare(struct pa_client *c, const struct pa_infer_desc *desc,
                                    struct pa_prepared **out, struct pa_err *err)
{
    return c->backend->ops->prepare(c, desc, out, err);
}

static inline void pa_client_prepared_free(struct pa_client *c, struct pa_prepared *p)
{
    if (p)
        c->backend->ops->prepared_free(c, p);
}

static inline int pa_client_submit(struct pa_client *c, struct pa_prepared *p,
                                   const struct pa_send *send, struct pa_err *err)
{
    return c->backend->ops->submit(c, p, send, err);
}

static inline int pa_client_poll(struct pa_client *c, int timeout_ms, struct pa_err *err)
{
    return c->backend->ops->poll(c, timeout_ms, err);
}

static inline size_t pa_client_in_flight(const struct pa_client *c)
{
    return c->backend->ops->in_flight(c);
}

#endif
