/*
 * pa-test-server's TorchServe inference API (spec protocols/04-torchserve.md
 * §3), served by the HTTP front end on its own port next to KServe v2:
 *
 *   GET  /ping                                  -> 200 {"status": "Healthy"}
 *   POST /predictions/{model}[/{version}]       -> 200 upload summary
 *
 * What a "prediction" computes: the upload is the multipart part named
 * `data` (or the whole body when it is not multipart/form-data). The
 * handler runs the model once through the engine on a zero-filled request
 * (every input at its config shape, variable dims as 1, batch 1 when the
 * model batches; BYTES inputs as empty strings), so the model's delay, the
 * fault knobs and the statistics apply exactly as for /infer, and answers
 * {"model": "<name>", "version": "<v>", "bytes": <upload size>,
 *  "fnv1a64": "<16 hex digits of the upload's FNV-1a 64 hash>"}
 * so a test can check what arrived. Errors use TorchServe's JSON shape
 * {"code": N, "type": "...", "message": "..."}: 404 ModelNotFoundException
 * (unknown model or version), 400 BadRequestException (no `data` part,
 * malformed multipart), 405 MethodNotAllowed, 503 InternalServerException
 * (the engine refused or failed the request, e.g. --error-rate).
 */
#ifndef PA_TEST_SERVER_TORCHSERVE_HANDLER_H
#define PA_TEST_SERVER_TORCHSERVE_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "engine.h"

struct torchserve_reply {
    unsigned status;
    uint64_t ready_ns;            /* do not answer before (model delay); 0 = now */
    bool drop;                    /* --drop-every: cut the response off */
};

/*
 * Handles a TorchServe route; path segments after the host (seg[0] is
 * "ping" or "predictions"). The JSON body goes to out (reset first); resp
 * is the connection's reusable engine response.
 */
void torchserve_handle(struct engine *e, char **seg, size_t n, const char *method,
                       const char *content_type, const void *body, size_t len,
                       uint64_t arrival_ns, struct engine_response *resp, struct buf *out,
                       struct torchserve_reply *reply);

/*
 * The content of the multipart/form-data part named `data`, or the whole
 * body when content_type is not multipart/form-data. Returns 0, or -1 with
 * a message in err.
 */
int torchserve_upload(const char *content_type, const unsigned char *body, size_t len,
                      const unsigned char **data, size_t *data_len, char *err, size_t errlen);

#endif
