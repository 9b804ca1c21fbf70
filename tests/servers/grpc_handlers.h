/*
 * Wire side of the reference server's gRPC front end: protobuf in, engine
 * call, protobuf out. Nothing here touches gRPC itself; grpc_frontend.c owns
 * the server, completion queues and calls and hands these functions the
 * bytes of one request message.
 *
 * All functions are thread-safe (they only call the thread-safe engine).
 * Returned message bodies are malloc'ed and handed to the caller, who passes
 * them on to gRPC (grpc_slice_new with free) or frees them.
 */
#ifndef PA_TEST_SERVER_GRPC_HANDLERS_H
#define PA_TEST_SERVER_GRPC_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "grpc_service.pb-c.h"

enum grpc_method {
    GM_SERVER_LIVE,
    GM_SERVER_READY,
    GM_MODEL_READY,
    GM_SERVER_METADATA,
    GM_MODEL_METADATA,
    GM_MODEL_CONFIG,
    GM_MODEL_STATISTICS,
    GM_SYS_SHM_STATUS,
    GM_SYS_SHM_REGISTER,
    GM_SYS_SHM_UNREGISTER,
    GM_CUDA_SHM_STATUS,
    GM_CUDA_SHM_REGISTER,
    GM_CUDA_SHM_UNREGISTER,
    GM_TRACE_SETTING,
    GM_LOG_SETTINGS,
    GM_MODEL_INFER,
    GM_MODEL_STREAM_INFER,
    GM_COUNT
};

/* HTTP/2 :path of each method, "/inference.GRPCInferenceService/<Rpc>". */
extern const char *const grpc_method_path[GM_COUNT];

/* gRPC status codes we send (values of grpc_status_code). */
enum {
    GS_OK = 0,
    GS_INVALID_ARGUMENT = 3,
    GS_UNIMPLEMENTED = 12,
    GS_INTERNAL = 13,
    GS_UNAVAILABLE = 14,
};

/* The answer to one unary RPC: status + message, or a packed response. */
struct grpc_reply {
    int status;                 /* GS_OK or a gRPC status code */
    char msg[ENGINE_MSG_MAX];   /* status message when status != GS_OK */
    uint8_t *body;              /* malloc'ed packed response when status == GS_OK */
    size_t len;
};

/* Runs one control-plane RPC (any method but the two infer methods). */
void grpc_handle_control(struct engine *e, enum grpc_method m, const uint8_t *in, size_t len,
                         struct grpc_reply *out);

/* One decoded ModelInferRequest, ready for engine_infer(). */
struct grpc_infer_in {
    Inference__ModelInferRequest *msg; /* unpacked; req borrows from it */
    const struct engine_model *model;  /* NULL when the model lookup failed */
    int64_t version;
    bool decoupled;
    struct engine_request req;
};

/*
 * Unpacks and validates a ModelInferRequest. On failure returns the engine
 * code and fills st; in->msg may still be set (the request id is needed for
 * a stream error response) and must be released in every case.
 */
int grpc_infer_decode(struct engine *e, const uint8_t *data, size_t len, struct grpc_infer_in *in,
                      struct engine_status *st);
void grpc_infer_in_release(struct grpc_infer_in *in);

/*
 * Packs a reply to `in`: a ModelInferResponse (stream false) or a
 * ModelStreamInferResponse (stream true). err non-NULL: an error reply for
 * the stream (error_message + id). final: value of "triton_final_response"
 * (stream only). Returns a malloc'ed body and its length.
 */
uint8_t *grpc_infer_encode(const struct grpc_infer_in *in, const struct engine_response *resp,
                           bool stream, bool final, const char *err, size_t *len);

#endif
