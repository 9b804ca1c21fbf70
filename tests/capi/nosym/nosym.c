/*
 * A libtritonserver.so that is not one: it exports only
 * TRITONSERVER_ApiVersion, so loading it fails on the second entry point
 * (TRITONSERVER_ServerOptionsNew). For the loader's missing-symbol test.
 */
#include "client/capi_api.h"

__attribute__((visibility("default"))) capi_api_version_fn TRITONSERVER_ApiVersion;
TRITONSERVER_Error *TRITONSERVER_ApiVersion(uint32_t *major, uint32_t *minor)
{
    *major = CAPI_API_VERSION_MAJOR;
    *minor = CAPI_API_VERSION_MINOR;
    return NULL;
}
