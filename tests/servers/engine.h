/*
 * pa-test-server model engine: THE CONTRACT FOR THE gRPC FRONT END.
 *
 * Everything a front end (HTTP in http_frontend.c, gRPC in grpc_*.c) needs
 * that is not wire format lives behind this header: the model catalogue
 * loaded from tests/models/<name>.json, request validation with Triton's error
 * texts, the compute functions, sequence state, ensembles, decoupled
 * models, statistics, the system/CUDA shared-memory registry, trace
 * settings and the fault knobs. Front ends decode the wire into a
 * struct engine_request, call engine_infer() (or engine_infer_decoupled()),
 * and encode the struct engine_response they get back. They never touch
 * model internals, so both protocols validate and count identically.
 *
 * Stability: this API is kept stable; changes are additions only.
 *
 * Threads: every function here is thread-safe. engine_infer() may be called
 * from any number of threads at once. Statistics are kept per (model,
 * version) under a short per-model lock so a snapshot never sees a count
 * without its matching ns (spec 07 §4). The shm registry is under a rwlock;
 * engine_infer() holds it shared while it reads inputs from and writes
 * outputs to regions, so an unregister waits for in-flight requests.
 *
 * Memory: the engine allocates nothing per request on the common path. A
 * struct engine_response owns a growable scratch buffer that the caller
 * initialises once (engine_response_init), reuses for many requests and
 * releases at the end (engine_response_release). Input data pointers in a
 * request are borrowed for the duration of the call only.
 *
 * Errors: request-level failures come back as an engine code plus a
 * message in Triton's words; engine_code_http() / engine_code_grpc() map
 * the code to the status each protocol sends.
 */
#ifndef PA_TEST_SERVER_ENGINE_H
#define PA_TEST_SERVER_ENGINE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_MAX_DIMS 8     /* tensor rank limit, batch dim included */
#define ENGINE_MAX_IO 16      /* inputs (or outputs) per request / model */
#define ENGINE_NAME_MAX 128   /* model, tensor and region names */
#define ENGINE_MSG_MAX 512    /* error messages */

struct engine;
struct engine_model;

/* ---------------------------------------------------------------- datatypes */

/* Values equal TRITONSERVER_DataType and the model-config enum (spec 00 §1). */
enum engine_dtype {
    ENGINE_TYPE_INVALID = 0,
    ENGINE_TYPE_BOOL = 1,
    ENGINE_TYPE_UINT8 = 2,
    ENGINE_TYPE_UINT16 = 3,
    ENGINE_TYPE_UINT32 = 4,
    ENGINE_TYPE_UINT64 = 5,
    ENGINE_TYPE_INT8 = 6,
    ENGINE_TYPE_INT16 = 7,
    ENGINE_TYPE_INT32 = 8,
    ENGINE_TYPE_INT64 = 9,
    ENGINE_TYPE_FP16 = 10,
    ENGINE_TYPE_FP32 = 11,
    ENGINE_TYPE_FP64 = 12,
    ENGINE_TYPE_BYTES = 13,
    ENGINE_TYPE_BF16 = 14,
};

/* "INT32" -> ENGINE_TYPE_INT32; ENGINE_TYPE_INVALID for anything else. */
enum engine_dtype engine_dtype_parse(const char *s);
/* Protocol string ("BYTES" for BYTES); "<invalid>" out of range. */
const char *engine_dtype_name(enum engine_dtype t);
/* Model-config enum name ("TYPE_STRING" for BYTES). */
const char *engine_dtype_config_name(enum engine_dtype t);
/* Element size in bytes; 0 for BYTES (variable) and INVALID. */
size_t engine_dtype_size(enum engine_dtype t);

/* ------------------------------------------------------------------- status */

enum engine_code {
    ENGINE_OK = 0,
    ENGINE_INVALID_ARG,
    ENGINE_NOT_FOUND,
    ENGINE_UNAVAILABLE,
    ENGINE_UNSUPPORTED,
    ENGINE_INTERNAL,
    ENGINE_ALREADY_EXISTS,
    ENGINE_UNKNOWN,
};

struct engine_status {
    enum engine_code code;
    char msg[ENGINE_MSG_MAX];
};

/* Fills st (if non-NULL) and returns code: `return engine_fail(st, ...)`. */
int engine_fail(struct engine_status *st, enum engine_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* HTTP status Triton r23.10 sends for a code: 400 for every handled error. */
int engine_code_http(enum engine_code c);
/* gRPC status code (spec 02 §7): INVALID_ARG->3, NOT_FOUND->5, ... */
int engine_code_grpc(enum engine_code c);

/* ----------------------------------------------------------- model catalogue */

struct engine_tensor_info {
    char name[ENGINE_NAME_MAX];
    enum engine_dtype dtype;
    int64_t dims[ENGINE_MAX_DIMS]; /* config dims, no batch dim; -1 = variable */
    size_t rank;
    bool optional;
};

enum engine_scheduler {
    ENGINE_SCHED_NONE = 0,
    ENGINE_SCHED_DYNAMIC,
    ENGINE_SCHED_SEQUENCE,
    ENGINE_SCHED_ENSEMBLE,
};

struct engine_ensemble_step {
    char model_name[ENGINE_NAME_MAX];
    int64_t model_version; /* -1 = latest */
    /* input_map: composing-model input name -> ensemble tensor name */
    size_t n_input_map;
    char input_key[ENGINE_MAX_IO][ENGINE_NAME_MAX];
    char input_val[ENGINE_MAX_IO][ENGINE_NAME_MAX];
    /* output_map: composing-model output name -> ensemble tensor name */
    size_t n_output_map;
    char output_key[ENGINE_MAX_IO][ENGINE_NAME_MAX];
    char output_val[ENGINE_MAX_IO][ENGINE_NAME_MAX];
};

/*
 * Read-only description of a loaded model, for metadata and config
 * encoders (the gRPC front end builds ModelMetadataResponse and ModelConfig
 * from it). Valid for the engine's lifetime.
 */
struct engine_model_info {
    char name[ENGINE_NAME_MAX];
    char platform[64];             /* "ensemble" for ensembles, else e.g. "pa_test" */
    char backend[64];              /* e.g. "pa_test"; "" for ensembles */
    int64_t versions[8];           /* ascending */
    size_t n_versions;
    int32_t max_batch_size;        /* 0 = no batching */
    struct engine_tensor_info inputs[ENGINE_MAX_IO];
    size_t n_inputs;
    struct engine_tensor_info outputs[ENGINE_MAX_IO];
    size_t n_outputs;
    enum engine_scheduler scheduler;
    /* dynamic_batching */
    int32_t preferred_batch_size[8];
    size_t n_preferred_batch_size;
    uint64_t max_queue_delay_us;
    /* sequence_batching */
    uint64_t max_sequence_idle_us; /* default 1000000 */
    /* ensemble_scheduling */
    struct engine_ensemble_step steps[8];
    size_t n_steps;
    bool decoupled;
    uint32_t instance_count;       /* instance_group[0].count, KIND_CPU */
    char kind[32];                 /* compute function: "add_sub", "identity", ... */
};

/*
 * Loads every <name>.json model file in dir (format: docs/internals/test-server.md).
 * Returns NULL and fills err (errlen bytes) on the first bad file.
 */
struct engine *engine_create(const char *models_dir, char *err, size_t errlen);
/* Unmaps every shm region, unloads libcudart, frees everything. NULL ok. */
void engine_destroy(struct engine *e);

size_t engine_model_count(const struct engine *e);
/* i-th model in name order; NULL when i is out of range. */
const struct engine_model *engine_model_at(const struct engine *e, size_t i);
const struct engine_model_info *engine_model_info(const struct engine_model *m);

/*
 * Finds (name, version). version NULL or "" means latest. *version_out gets
 * the resolved version. Errors (ENGINE_NOT_FOUND in Triton's words):
 *   "Request for unknown model: 'nope' is not found"
 *   "Request for unknown model: 'simple' version 7 is not found"
 */
int engine_find(struct engine *e, const char *name, const char *version,
                const struct engine_model **m_out, int64_t *version_out,
                struct engine_status *st);

/* Model metadata in KServe JSON form (01 §5); version < 0 lists all versions. */
cJSON *engine_model_metadata_json(const struct engine_model *m, int64_t version);
/* Model configuration in Triton's JSON form (01 §6, 64-bit ints as numbers). */
cJSON *engine_model_config_json(const struct engine_model *m);
/* Server metadata (01 §4): name, version, extensions. */
cJSON *engine_server_metadata_json(const struct engine *e);

/* ---------------------------------------------------------------- inference */

/* Correlation id: numeric and string spaces are distinct (07 §5). */
struct engine_corr_id {
    bool is_string;
    uint64_t u;                   /* numeric id; 0 = none */
    char s[ENGINE_NAME_MAX];      /* string id; "" = none */
};

struct engine_input {
    const char *name;             /* borrowed */
    enum engine_dtype dtype;
    int64_t shape[ENGINE_MAX_DIMS]; /* full shape, batch dim included when batching */
    size_t rank;
    /* Either data (data may be NULL when byte_size is 0) ... */
    const void *data;
    size_t byte_size;
    /* ... or a shm reference, resolved by the engine (shm_region != NULL). */
    const char *shm_region;
    uint64_t shm_offset;
    uint64_t shm_byte_size;
};

struct engine_output_req {
    const char *name;             /* borrowed */
    const char *shm_region;       /* NULL: output returned in the response */
    uint64_t shm_offset;
    uint64_t shm_byte_size;
    uint32_t classification;      /* top-N; 0 = off (non-zero is rejected: not supported) */
    void *user;                   /* front-end tag (e.g. binary_data flag); copied to the output */
};

struct engine_request {
    const char *id;               /* request id, may be NULL/"" */
    struct engine_input inputs[ENGINE_MAX_IO];
    size_t n_inputs;
    /* Requested outputs; n_outputs == 0 means "all model outputs". */
    struct engine_output_req outputs[ENGINE_MAX_IO];
    size_t n_outputs;
    struct engine_corr_id corr_id;
    bool seq_start;
    bool seq_end;
    uint64_t priority;
    uint64_t timeout_us;
    bool enable_empty_final_response; /* decoupled: send an empty final response */
    uint64_t arrival_ns;          /* CLOCK_MONOTONIC; 0 = engine takes "now" */
    /*
     * Delay handling. false (default): engine_infer() sleeps for the model's
     * compute delay itself. true: it does not sleep and instead sets
     * resp->ready_ns; the front end must not send the response before that
     * time (the HTTP front end suspends the connection meanwhile, so a pool
     * thread is never blocked by a sleeping model). Statistics count the
     * delay as compute_infer time either way.
     */
    bool defer_delay;
};

struct engine_output {
    const char *name;             /* points into the model info; stable */
    enum engine_dtype dtype;
    int64_t shape[ENGINE_MAX_DIMS];
    size_t rank;
    const void *data;             /* into resp scratch; NULL when in_shm */
    size_t byte_size;             /* bytes produced (also when written to shm) */
    bool in_shm;                  /* written to the requested shm region */
    int req_index;                /* index in req->outputs, -1 when all were implied */
    void *user;                   /* req->outputs[req_index].user, or NULL */
};

struct engine_response {
    /* result */
    struct engine_status status;  /* code ENGINE_OK on success */
    const char *model_name;       /* stable */
    int64_t model_version;
    /* request order when outputs were requested, else model output order */
    struct engine_output outputs[ENGINE_MAX_IO];
    size_t n_outputs;
    bool final;                   /* decoupled: last response of the request */
    uint64_t ready_ns;            /* see engine_request.defer_delay; 0 = now */
    /* fault knobs decided for this request (front ends act on them) */
    bool drop_connection;         /* close the connection mid-response */
    /* private: reusable scratch storage */
    unsigned char *scratch_;
    size_t scratch_cap_;
};

void engine_response_init(struct engine_response *r);
void engine_response_release(struct engine_response *r);

/*
 * Runs one request on a non-decoupled model (a decoupled model gets
 * ENGINE_UNSUPPORTED "HTTP end point doesn't support models with decoupled
 * transaction policy"; the gRPC front end should check info->decoupled
 * first and send its own text). Returns resp->status.code. On success,
 * outputs are in model output order, restricted to the requested ones.
 */
int engine_infer(struct engine *e, const struct engine_model *m, int64_t version,
                 const struct engine_request *req, struct engine_response *resp);

/*
 * Decoupled path (any model; non-decoupled ones produce exactly one final
 * response). Calls cb once per response, on the calling thread, in order;
 * resp->final marks the last one. An error is reported as one callback with
 * resp->status.code != ENGINE_OK and final = true. The model's compute
 * delay is slept before every response (defer_delay is ignored here). For
 * a decoupled model whose responses all carry data, the last data response
 * is final; when it completes without data, an empty final response
 * (n_outputs 0) is delivered only if req->enable_empty_final_response.
 * A non-zero return from cb stops the request (client gone). Returns the
 * final status code.
 */
typedef int engine_response_fn(void *arg, const struct engine_response *resp);
int engine_infer_decoupled(struct engine *e, const struct engine_model *m, int64_t version,
                           const struct engine_request *req, struct engine_response *resp,
                           engine_response_fn *cb, void *arg);

/* --------------------------------------------------------------- statistics */

struct engine_duration {
    uint64_t count;
    uint64_t ns;
};

struct engine_batch_stat {
    uint64_t batch_size;
    struct engine_duration compute_input, compute_infer, compute_output;
};

struct engine_model_stats {
    const char *name;             /* stable */
    int64_t version;
    uint64_t last_inference;      /* ms since epoch, 0 = never */
    uint64_t inference_count;
    uint64_t execution_count;
    struct engine_duration success, fail, queue, compute_input, compute_infer,
        compute_output, cache_hit, cache_miss;
    struct engine_batch_stat batch[ENGINE_MAX_IO]; /* ascending batch size */
    size_t n_batch;
};

/*
 * Consistent snapshot of one (model, version). Unknown version ->
 * ENGINE_NOT_FOUND.
 */
int engine_stats_get(struct engine *e, const struct engine_model *m, int64_t version,
                     struct engine_model_stats *out, struct engine_status *st);
/*
 * KServe statistics JSON {"model_stats":[...]} (01 §12). name NULL/"" = all
 * models (ensembles and their composing models included); version NULL/""
 * = all versions. Unknown model -> NULL with "requested model 'x' is not
 * available"; unknown version -> "requested model version is not available
 * for model 'x'".
 */
cJSON *engine_stats_json(struct engine *e, const char *name, const char *version,
                         struct engine_status *st);

/* ------------------------------------------------------------ shared memory */

/* System shm: shm_open(key, O_RDWR) + mmap(byte_size at offset). */
int engine_shm_register(struct engine *e, const char *name, const char *key, uint64_t offset,
                        uint64_t byte_size, struct engine_status *st);
/* name NULL/"" = all. Unknown name: succeeds, as Triton does. */
int engine_shm_unregister(struct engine *e, const char *name, struct engine_status *st);
/* JSON array [{"name","key","offset","byte_size"}]; name NULL = all; unknown -> NULL + st. */
cJSON *engine_shm_status_json(struct engine *e, const char *name, struct engine_status *st);

/* One region, for protobuf encoders. */
struct engine_shm_info {
    char name[ENGINE_NAME_MAX];
    char key[ENGINE_NAME_MAX];    /* system only */
    uint64_t offset;              /* system only */
    uint64_t byte_size;
    int64_t device_id;            /* CUDA only */
};
/*
 * Lists regions of one kind (cuda false/true) into out (up to max entries),
 * returns the total count. name NULL = all; a named unknown region ->
 * -1 with st filled.
 */
int engine_shm_list(struct engine *e, bool cuda, const char *name, struct engine_shm_info *out,
                    size_t max, struct engine_status *st);

/*
 * CUDA shm through libcudart loaded with dlopen (path from
 * engine_set_cudart_path, else $PA_CUDART_PATH, else "libcudart.so").
 * raw_handle is the 64-byte cudaIpcMemHandle_t (already base64-decoded).
 * Without a loadable libcudart, register fails and unregister/status work.
 */
int engine_cuda_shm_register(struct engine *e, const char *name, const void *raw_handle,
                             size_t handle_len, int64_t device_id, uint64_t byte_size,
                             struct engine_status *st);
int engine_cuda_shm_unregister(struct engine *e, const char *name, struct engine_status *st);
cJSON *engine_cuda_shm_status_json(struct engine *e, const char *name, struct engine_status *st);
void engine_set_cudart_path(struct engine *e, const char *path);

/* ------------------------------------------------------------ trace setting */

/*
 * Trace settings (01 §15): model NULL = global. update may be NULL (GET).
 * Returns the full current settings as a JSON object of strings/arrays, or
 * NULL with st on a bad update.
 */
cJSON *engine_trace_setting(struct engine *e, const char *model, const cJSON *update,
                            struct engine_status *st);

/* -------------------------------------------------------------------- knobs */

struct engine_knobs {
    uint64_t delay_min_ns;        /* global compute delay, random in [min, max] */
    uint64_t delay_max_ns;
    double error_rate;            /* fraction of infer requests failing with "injected failure" */
    uint64_t drop_every;          /* every Nth infer response: drop the connection (0 = off) */
    uint64_t slow_start_ns;       /* requests before start+N are held until then */
    bool hang;                    /* accept requests but never answer */
};

/* Replaces the global knobs (call before serving). */
void engine_set_knobs(struct engine *e, const struct engine_knobs *k);
const struct engine_knobs *engine_knobs(const struct engine *e);
/* Per-model delay, overriding the global and the model file's delay. */
int engine_set_model_delay(struct engine *e, const char *model, uint64_t min_ns, uint64_t max_ns,
                           struct engine_status *st);
/* Monotonic time the engine was created (slow-start reference). */
uint64_t engine_start_ns(const struct engine *e);

/* --------------------------------------------------------- front-end hooks */

/*
 * gRPC front end, implemented by tests/servers/grpc_frontend.c (gRPC
 * engineer). main() calls grpc_frontend_start() when --grpc-port is given:
 * listen on 127.0.0.1:port (0 = pick a free port), store the bound port,
 * serve in background threads, return 0; on failure return -1 with a
 * message in err. grpc_frontend_stop() stops serving and frees fe (NULL
 * ok). When grpc_frontend.c is absent the build supplies a fallback that
 * fails with "gRPC front end not built".
 */
struct grpc_frontend;
int grpc_frontend_start(struct engine *e, int port, int *bound_port, struct grpc_frontend **fe,
                        char *err, size_t errlen);
void grpc_frontend_stop(struct grpc_frontend *fe);

#endif
