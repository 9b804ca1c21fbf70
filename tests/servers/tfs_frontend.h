/*
 * pa-test-server's TF Serving front end: tensorflow.serving.PredictionService
 * (Predict, GetModelMetadata; everything else UNIMPLEMENTED) on its own gRPC
 * listener, `--tfs-port N`. It cannot share the Triton gRPC port because that
 * front end (grpc_frontend.c) owns its grpc_server. Listens on 127.0.0.1
 * only; port 0 picks a free port. See tfs_handlers.h for what it computes.
 */
#ifndef PA_TEST_SERVER_TFS_FRONTEND_H
#define PA_TEST_SERVER_TFS_FRONTEND_H

#include <stddef.h>

#include "engine.h"

struct tfs_frontend;

/* Returns 0 and the bound port, or -1 with a message in err. */
int tfs_frontend_start(struct engine *e, int port, int *bound_port, struct tfs_frontend **out,
                       char *err, size_t errlen);
/* Cancels outstanding calls, stops serving, frees fe (NULL ok). */
void tfs_frontend_stop(struct tfs_frontend *fe);

#endif
