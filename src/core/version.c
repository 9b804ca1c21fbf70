/* Version strings baked in at configure time (see version.h). */
#include "core/version.h"

#ifndef PA_VERSION_STRING
#define PA_VERSION_STRING "0.0.0"
#endif
#ifndef PA_GIT_SHA
#define PA_GIT_SHA "unknown"
#endif

const char *pa_version(void)
{
    return PA_VERSION_STRING;
}

const char *pa_git_sha(void)
{
    return PA_GIT_SHA;
}
