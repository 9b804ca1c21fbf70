/*
 * pa-test-server's TF Serving PredictionService, protobuf side
 * (spec protocols/03-tfserving.md §5): request bytes in, reply bytes or a
 * gRPC status out. tfs_frontend.c does the gRPC plumbing.
 *
 * Every engine model is a servable with one signature, "serving_default"
 * (an empty signature name means the same): its inputs and outputs are the
 * model's, by name, with TensorInfo.name "<name>:0", the TF dtype of the
 * model datatype and the config dims, preceded by a -1 batch dim when the
 * model batches. Predict decodes each input (typed values with TF's fill
 * rule, or tensor_content), runs the engine (so validation, compute, the
 * model delay, knobs and statistics are those of the Triton front ends),
 * and returns every requested output (output_filter; all when empty) as
 * tensor_content, or string_val for DT_STRING. A version is taken from
 * model_spec.version, or from a numeric version_label.
 *
 * Errors (status, message): unknown model/version NOT_FOUND "Servable not
 * found for request: Latest(<m>)" / "Specific(<m>, <v>)"; a non-numeric
 * label NOT_FOUND "Unrecognized servable version label: <l>"; unknown
 * signature, unknown input alias, dtype mismatch, bad value counts and
 * engine validation errors INVALID_ARGUMENT; metadata without or with an
 * unsupported metadata_field INVALID_ARGUMENT.
 */
#ifndef PA_TEST_SERVER_TFS_HANDLERS_H
#define PA_TEST_SERVER_TFS_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct tfs_reply {
    int status;                  /* grpc_status_code; 0 = OK */
    char msg[ENGINE_MSG_MAX];    /* status details when status != 0 */
    unsigned char *body;         /* malloc'ed serialized response when status == 0 */
    size_t len;
    uint64_t ready_ns;           /* do not answer before (model delay); 0 = now */
    bool drop;                   /* --drop-every: fail the call as if the socket closed */
};

void tfs_handle_predict(struct engine *e, const unsigned char *req, size_t len,
                        uint64_t arrival_ns, struct engine_response *resp, struct tfs_reply *out);
void tfs_handle_metadata(struct engine *e, const unsigned char *req, size_t len,
                         struct tfs_reply *out);

#endif
