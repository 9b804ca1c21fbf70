/*
 * The Triton C API backend (--service-kind triton_c_api), defined in
 * triton_capi.c. Always compiled into pa_client: it needs only libdl at
 * build time, libtritonserver.so is loaded at run time.
 *
 * The declaration is a plain extern rather than a weak one on purpose: a
 * weak undefined reference never pulls an object file out of a static
 * archive, so the backend would look missing even though it is built. The
 * registry (client.c) finds it through backends.h, which declares the same
 * symbol and macro; this header is for everything else (tests).
 */
#ifndef PA_CLIENT_CAPI_H
#define PA_CLIENT_CAPI_H

#include "pa/client.h"

#define PA_HAVE_TRITON_C_API 1
extern const struct pa_backend pa_backend_triton_c_api;

#endif
