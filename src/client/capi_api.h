/*
 * The subset of Triton's in-process C API (tritonserver.h, API 1.25) that
 * perf_analyzer r23.10 uses (spec protocols/05-triton-c-api.md), written
 * from the spec: opaque object types, the enums with their exact values, one
 * function type per entry point, and CAPI_FUNCTIONS, the X-macro list of
 * the 51 entry points the backend resolves with dlsym.
 *
 * Both sides build against this header: the backend (capi_loader.c) keeps a
 * table of pointers of these types, and the fake libtritonserver.so in
 * tests/capi/ defines its functions through the same typedefs, so a
 * signature mismatch is a compile error rather than a crash.
 *
 * All functions have C linkage. Every function returning TRITONSERVER_Error*
 * returns NULL on success; a non-NULL error belongs to the caller, who
 * releases it with TRITONSERVER_ErrorDelete.
 */
#ifndef PA_CLIENT_CAPI_API_H
#define PA_CLIENT_CAPI_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The version this clone was written against (spec 05 §2). */
#define CAPI_API_VERSION_MAJOR 1u
#define CAPI_API_VERSION_MINOR 25u

struct TRITONSERVER_Error;
struct TRITONSERVER_ServerOptions;
struct TRITONSERVER_Server;
struct TRITONSERVER_Message;
struct TRITONSERVER_ResponseAllocator;
struct TRITONSERVER_InferenceRequest;
struct TRITONSERVER_InferenceResponse;
struct TRITONSERVER_InferenceTrace;

/* Triton's own spelling, kept so the entry points read like tritonserver.h. */
typedef struct TRITONSERVER_Error TRITONSERVER_Error;
typedef struct TRITONSERVER_ServerOptions TRITONSERVER_ServerOptions;
typedef struct TRITONSERVER_Server TRITONSERVER_Server;
typedef struct TRITONSERVER_Message TRITONSERVER_Message;
typedef struct TRITONSERVER_ResponseAllocator TRITONSERVER_ResponseAllocator;
typedef struct TRITONSERVER_InferenceRequest TRITONSERVER_InferenceRequest;
typedef struct TRITONSERVER_InferenceResponse TRITONSERVER_InferenceResponse;
typedef struct TRITONSERVER_InferenceTrace TRITONSERVER_InferenceTrace;

typedef enum TRITONSERVER_datatype_enum {
    TRITONSERVER_TYPE_INVALID = 0,
    TRITONSERVER_TYPE_BOOL = 1,
    TRITONSERVER_TYPE_UINT8 = 2,
    TRITONSERVER_TYPE_UINT16 = 3,
    TRITONSERVER_TYPE_UINT32 = 4,
    TRITONSERVER_TYPE_UINT64 = 5,
    TRITONSERVER_TYPE_INT8 = 6,
    TRITONSERVER_TYPE_INT16 = 7,
    TRITONSERVER_TYPE_INT32 = 8,
    TRITONSERVER_TYPE_INT64 = 9,
    TRITONSERVER_TYPE_FP16 = 10,
    TRITONSERVER_TYPE_FP32 = 11,
    TRITONSERVER_TYPE_FP64 = 12,
    TRITONSERVER_TYPE_BYTES = 13,
    TRITONSERVER_TYPE_BF16 = 14,
} TRITONSERVER_DataType;

typedef enum TRITONSERVER_memorytype_enum {
    TRITONSERVER_MEMORY_CPU = 0,
    TRITONSERVER_MEMORY_CPU_PINNED = 1,
    TRITONSERVER_MEMORY_GPU = 2,
} TRITONSERVER_MemoryType;

typedef enum TRITONSERVER_errorcode_enum {
    TRITONSERVER_ERROR_UNKNOWN = 0,
    TRITONSERVER_ERROR_INTERNAL = 1,
    TRITONSERVER_ERROR_NOT_FOUND = 2,
    TRITONSERVER_ERROR_INVALID_ARG = 3,
    TRITONSERVER_ERROR_UNAVAILABLE = 4,
    TRITONSERVER_ERROR_UNSUPPORTED = 5,
    TRITONSERVER_ERROR_ALREADY_EXISTS = 6,
    TRITONSERVER_ERROR_CANCELLED = 7,
} TRITONSERVER_Error_Code;

enum {
    TRITONSERVER_REQUEST_FLAG_SEQUENCE_START = 1,
    TRITONSERVER_REQUEST_FLAG_SEQUENCE_END = 2,
    TRITONSERVER_REQUEST_RELEASE_ALL = 1,
    TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1,
};

/* ---- callbacks (spec 05 §3.4, §3.5) ------------------------------------ */

typedef TRITONSERVER_Error *TRITONSERVER_ResponseAllocatorAllocFn_t(
    TRITONSERVER_ResponseAllocator *allocator, const char *tensor_name, size_t byte_size,
    TRITONSERVER_MemoryType memory_type, int64_t memory_type_id, void *userp, void **buffer,
    void **buffer_userp, TRITONSERVER_MemoryType *actual_memory_type,
    int64_t *actual_memory_type_id);
typedef TRITONSERVER_Error *TRITONSERVER_ResponseAllocatorReleaseFn_t(
    TRITONSERVER_ResponseAllocator *allocator, void *buffer, void *buffer_userp, size_t byte_size,
    TRITONSERVER_MemoryType memory_type, int64_t memory_type_id);
typedef TRITONSERVER_Error *TRITONSERVER_ResponseAllocatorStartFn_t(
    TRITONSERVER_ResponseAllocator *allocator, void *userp);
typedef void TRITONSERVER_InferenceRequestReleaseFn_t(TRITONSERVER_InferenceRequest *request,
                                                      uint32_t flags, void *userp);
typedef void TRITONSERVER_InferenceResponseCompleteFn_t(TRITONSERVER_InferenceResponse *response,
                                                        uint32_t flags, void *userp);

/* ---- entry points: one function type each ------------------------------ */

/* 3.1 errors and version */
typedef TRITONSERVER_Error *capi_api_version_fn(uint32_t *major, uint32_t *minor);
typedef TRITONSERVER_Error *capi_error_new_fn(TRITONSERVER_Error_Code code, const char *msg);
typedef void capi_error_delete_fn(TRITONSERVER_Error *error);
typedef const char *capi_error_code_string_fn(TRITONSERVER_Error *error);
typedef const char *capi_error_message_fn(TRITONSERVER_Error *error);

/* 3.2 server options and server */
typedef TRITONSERVER_Error *capi_options_new_fn(TRITONSERVER_ServerOptions **options);
typedef TRITONSERVER_Error *capi_options_str_fn(TRITONSERVER_ServerOptions *options,
                                                const char *value);
typedef TRITONSERVER_Error *capi_options_pool_fn(TRITONSERVER_ServerOptions *options,
                                                 int gpu_device, uint64_t size);
typedef TRITONSERVER_Error *capi_options_int_fn(TRITONSERVER_ServerOptions *options, int level);
typedef TRITONSERVER_Error *capi_options_bool_fn(TRITONSERVER_ServerOptions *options, bool value);
typedef TRITONSERVER_Error *capi_options_double_fn(TRITONSERVER_ServerOptions *options,
                                                   double value);
typedef TRITONSERVER_Error *capi_options_delete_fn(TRITONSERVER_ServerOptions *options);
typedef TRITONSERVER_Error *capi_server_new_fn(TRITONSERVER_Server **server,
                                               TRITONSERVER_ServerOptions *options);
typedef TRITONSERVER_Error *capi_server_delete_fn(TRITONSERVER_Server *server);
typedef TRITONSERVER_Error *capi_server_bool_fn(TRITONSERVER_Server *server, bool *value);
typedef TRITONSERVER_Error *capi_server_metadata_fn(TRITONSERVER_Server *server,
                                                    TRITONSERVER_Message **server_metadata);
typedef TRITONSERVER_Error *capi_model_is_ready_fn(TRITONSERVER_Server *server,
                                                   const char *model_name, int64_t model_version,
                                                   bool *ready);
typedef TRITONSERVER_Error *capi_model_message_fn(TRITONSERVER_Server *server,
                                                  const char *model_name, int64_t model_version,
                                                  TRITONSERVER_Message **message);
typedef TRITONSERVER_Error *capi_model_config_fn(TRITONSERVER_Server *server,
                                                 const char *model_name, int64_t model_version,
                                                 uint32_t config_version,
                                                 TRITONSERVER_Message **model_config);
typedef TRITONSERVER_Error *capi_unload_model_fn(TRITONSERVER_Server *server,
                                                 const char *model_name);
typedef TRITONSERVER_Error *capi_infer_async_fn(TRITONSERVER_Server *server,
                                                TRITONSERVER_InferenceRequest *request,
                                                TRITONSERVER_InferenceTrace *trace);

/* 3.3 messages */
typedef TRITONSERVER_Error *capi_message_json_fn(TRITONSERVER_Message *message, const char **base,
                                                 size_t *byte_size);
typedef TRITONSERVER_Error *capi_message_delete_fn(TRITONSERVER_Message *message);

/* 3.4 response allocator */
typedef TRITONSERVER_Error *capi_allocator_new_fn(
    TRITONSERVER_ResponseAllocator **allocator, TRITONSERVER_ResponseAllocatorAllocFn_t *alloc_fn,
    TRITONSERVER_ResponseAllocatorReleaseFn_t *release_fn,
    TRITONSERVER_ResponseAllocatorStartFn_t *start_fn);
typedef TRITONSERVER_Error *capi_allocator_delete_fn(TRITONSERVER_ResponseAllocator *allocator);

/* 3.5 inference request and response */
typedef TRITONSERVER_Error *capi_request_new_fn(TRITONSERVER_InferenceRequest **request,
                                                TRITONSERVER_Server *server,
                                                const char *model_name, int64_t model_version);
typedef TRITONSERVER_Error *capi_request_delete_fn(TRITONSERVER_InferenceRequest *request);
typedef TRITONSERVER_Error *capi_request_str_fn(TRITONSERVER_InferenceRequest *request,
                                                const char *value);
typedef TRITONSERVER_Error *capi_request_id_fn(TRITONSERVER_InferenceRequest *request,
                                               const char **id);
typedef TRITONSERVER_Error *capi_request_u64_fn(TRITONSERVER_InferenceRequest *request,
                                                uint64_t value);
typedef TRITONSERVER_Error *capi_request_u32_fn(TRITONSERVER_InferenceRequest *request,
                                                uint32_t value);
typedef TRITONSERVER_Error *capi_request_add_input_fn(TRITONSERVER_InferenceRequest *request,
                                                      const char *name,
                                                      TRITONSERVER_DataType datatype,
                                                      const int64_t *shape, uint64_t dim_count);
typedef TRITONSERVER_Error *capi_request_append_fn(TRITONSERVER_InferenceRequest *request,
                                                   const char *name, const void *base,
                                                   size_t byte_size,
                                                   TRITONSERVER_MemoryType memory_type,
                                                   int64_t memory_type_id);
typedef TRITONSERVER_Error *capi_request_release_cb_fn(
    TRITONSERVER_InferenceRequest *request, TRITONSERVER_InferenceRequestReleaseFn_t *release_fn,
    void *release_userp);
typedef TRITONSERVER_Error *capi_request_response_cb_fn(
    TRITONSERVER_InferenceRequest *request, TRITONSERVER_ResponseAllocator *allocator,
    void *allocator_userp, TRITONSERVER_InferenceResponseCompleteFn_t *response_fn,
    void *response_userp);
typedef TRITONSERVER_Error *capi_response_error_fn(TRITONSERVER_InferenceResponse *response);
typedef TRITONSERVER_Error *capi_response_delete_fn(TRITONSERVER_InferenceResponse *response);
typedef TRITONSERVER_Error *capi_response_output_count_fn(TRITONSERVER_InferenceResponse *response,
                                                          uint32_t *count);
typedef TRITONSERVER_Error *capi_response_output_fn(
    TRITONSERVER_InferenceResponse *response, uint32_t index, const char **name,
    TRITONSERVER_DataType *datatype, const int64_t **shape, uint64_t *dim_count,
    const void **base, size_t *byte_size, TRITONSERVER_MemoryType *memory_type,
    int64_t *memory_type_id, void **userp);

/* 3.6 type strings */
typedef const char *capi_datatype_string_fn(TRITONSERVER_DataType datatype);
typedef TRITONSERVER_DataType capi_string_to_datatype_fn(const char *dtype);
typedef const char *capi_memtype_string_fn(TRITONSERVER_MemoryType memtype);

/*
 * X(field, symbol, type): the 51 entry points, every one mandatory (spec 05
 * §1), in the order the original resolves them, so the first missing one
 * named in an error is the one the original names.
 */
#define CAPI_FUNCTIONS(X)                                                                     \
    X(api_version, TRITONSERVER_ApiVersion, capi_api_version_fn)                              \
    X(options_new, TRITONSERVER_ServerOptionsNew, capi_options_new_fn)                        \
    X(options_set_model_repo, TRITONSERVER_ServerOptionsSetModelRepositoryPath,               \
      capi_options_str_fn)                                                                    \
    X(options_set_log_verbose, TRITONSERVER_ServerOptionsSetLogVerbose, capi_options_int_fn) \
    X(options_set_backend_dir, TRITONSERVER_ServerOptionsSetBackendDirectory,                 \
      capi_options_str_fn)                                                                    \
    X(options_set_repoagent_dir, TRITONSERVER_ServerOptionsSetRepoAgentDirectory,             \
      capi_options_str_fn)                                                                    \
    X(options_set_strict_config, TRITONSERVER_ServerOptionsSetStrictModelConfig,              \
      capi_options_bool_fn)                                                                   \
    X(options_set_min_cc, TRITONSERVER_ServerOptionsSetMinSupportedComputeCapability,         \
      capi_options_double_fn)                                                                 \
    X(options_set_cuda_pool, TRITONSERVER_ServerOptionsSetCudaMemoryPoolByteSize,             \
      capi_options_pool_fn)                                                                   \
    X(server_new, TRITONSERVER_ServerNew, capi_server_new_fn)                                 \
    X(options_delete, TRITONSERVER_ServerOptionsDelete, capi_options_delete_fn)               \
    X(server_delete, TRITONSERVER_ServerDelete, capi_server_delete_fn)                        \
    X(server_is_live, TRITONSERVER_ServerIsLive, capi_server_bool_fn)                         \
    X(server_is_ready, TRITONSERVER_ServerIsReady, capi_server_bool_fn)                       \
    X(server_metadata, TRITONSERVER_ServerMetadata, capi_server_metadata_fn)                  \
    X(message_json, TRITONSERVER_MessageSerializeToJson, capi_message_json_fn)                \
    X(message_delete, TRITONSERVER_MessageDelete, capi_message_delete_fn)                     \
    X(model_is_ready, TRITONSERVER_ServerModelIsReady, capi_model_is_ready_fn)                \
    X(model_metadata, TRITONSERVER_ServerModelMetadata, capi_model_message_fn)                \
    X(allocator_new, TRITONSERVER_ResponseAllocatorNew, capi_allocator_new_fn)                \
    X(request_new, TRITONSERVER_InferenceRequestNew, capi_request_new_fn)                     \
    X(request_set_id, TRITONSERVER_InferenceRequestSetId, capi_request_str_fn)                \
    X(request_set_release_cb, TRITONSERVER_InferenceRequestSetReleaseCallback,                \
      capi_request_release_cb_fn)                                                             \
    X(request_add_input, TRITONSERVER_InferenceRequestAddInput, capi_request_add_input_fn)    \
    X(request_add_output, TRITONSERVER_InferenceRequestAddRequestedOutput,                    \
      capi_request_str_fn)                                                                    \
    X(request_append_input, TRITONSERVER_InferenceRequestAppendInputData,                     \
      capi_request_append_fn)                                                                 \
    X(request_set_response_cb, TRITONSERVER_InferenceRequestSetResponseCallback,              \
      capi_request_response_cb_fn)                                                            \
    X(infer_async, TRITONSERVER_ServerInferAsync, capi_infer_async_fn)                        \
    X(response_error, TRITONSERVER_InferenceResponseError, capi_response_error_fn)            \
    X(response_delete, TRITONSERVER_InferenceResponseDelete, capi_response_delete_fn)         \
    X(allocator_delete, TRITONSERVER_ResponseAllocatorDelete, capi_allocator_delete_fn)       \
    X(error_new, TRITONSERVER_ErrorNew, capi_error_new_fn)                                    \
    X(memtype_string, TRITONSERVER_MemoryTypeString, capi_memtype_string_fn)                  \
    X(response_output_count, TRITONSERVER_InferenceResponseOutputCount,                       \
      capi_response_output_count_fn)                                                          \
    X(datatype_string, TRITONSERVER_DataTypeString, capi_datatype_string_fn)                  \
    X(error_delete, TRITONSERVER_ErrorDelete, capi_error_delete_fn)                           \
    X(error_code_string, TRITONSERVER_ErrorCodeString, capi_error_code_string_fn)             \
    X(error_message, TRITONSERVER_ErrorMessage, capi_error_message_fn)                        \
    X(model_config, TRITONSERVER_ServerModelConfig, capi_model_config_fn)                     \
    X(request_set_corr_id, TRITONSERVER_InferenceRequestSetCorrelationId,                     \
      capi_request_u64_fn)                                                                    \
    X(request_set_corr_id_str, TRITONSERVER_InferenceRequestSetCorrelationIdString,           \
      capi_request_str_fn)                                                                    \
    X(request_set_flags, TRITONSERVER_InferenceRequestSetFlags, capi_request_u32_fn)          \
    X(request_set_priority, TRITONSERVER_InferenceRequestSetPriorityUInt64,                   \
      capi_request_u64_fn)                                                                    \
    X(request_set_timeout, TRITONSERVER_InferenceRequestSetTimeoutMicroseconds,               \
      capi_request_u64_fn)                                                                    \
    X(string_to_datatype, TRITONSERVER_StringToDataType, capi_string_to_datatype_fn)          \
    X(response_output, TRITONSERVER_InferenceResponseOutput, capi_response_output_fn)         \
    X(request_id, TRITONSERVER_InferenceRequestId, capi_request_id_fn)                        \
    X(request_delete, TRITONSERVER_InferenceRequestDelete, capi_request_delete_fn)            \
    X(model_statistics, TRITONSERVER_ServerModelStatistics, capi_model_message_fn)            \
    X(unload_model, TRITONSERVER_ServerUnloadModel, capi_unload_model_fn)                     \
    X(options_set_log_info, TRITONSERVER_ServerOptionsSetLogInfo, capi_options_bool_fn)

/* Number of entries in CAPI_FUNCTIONS. */
#define CAPI_COUNT_ONE(field, symbol, type) +1
enum { CAPI_N_FUNCTIONS = 0 CAPI_FUNCTIONS(CAPI_COUNT_ONE) };

#endif
