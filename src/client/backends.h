/*
 * The backend descriptors the registry (client.c) knows about.
 *
 * Each backend file defines one `const struct pa_backend`. A backend that
 * is not in the tree yet is simply absent: the registry then fails loudly
 * with a "... is not supported yet" error instead of selecting it.
 *
 * The gRPC and C API backends (triton_grpc.c, triton_capi.c) are written in
 * parallel with this file.
 * A weak declaration would not do here: a weak undefined reference never
 * pulls an object out of a static archive, so the backend would always look
 * missing. Instead the source file's presence decides: when
 * src/client/triton_grpc.c (triton_capi.c) exists, the CMake glob compiles it
 * into pa_client and it must define pa_backend_triton_grpc
 * (pa_backend_triton_c_api).
 */
#ifndef PA_CLIENT_BACKENDS_H
#define PA_CLIENT_BACKENDS_H

#include "pa/client.h"

extern const struct pa_backend pa_backend_triton_http;

#if defined(__has_include)
#if __has_include("triton_grpc.c")
#define PA_HAVE_TRITON_GRPC 1
extern const struct pa_backend pa_backend_triton_grpc;
#endif
#if __has_include("triton_capi.c")
#define PA_HAVE_TRITON_C_API 1
extern const struct pa_backend pa_backend_triton_c_api;
#endif
#if __has_include("tfserving.c")
#define PA_HAVE_TFSERVING 1
extern const struct pa_backend pa_backend_tfserving;
#endif
#if __has_include("torchserve.c")
#define PA_HAVE_TORCHSERVE 1
extern const struct pa_backend pa_backend_torchserve;
#endif
#endif

#endif
