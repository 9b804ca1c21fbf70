/*
 * Error values: formatting into the caller's struct pa_err and the mapping
 * from codes to descriptions and process exit codes, both from one table.
 */
#include "pa/status.h"

#include <stdio.h>
#include <string.h>

int pa_verrorf(struct pa_err *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    }
    return code;
}

int pa_errorf(struct pa_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pa_verrorf(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int pa_error_prefix(struct pa_err *err, const char *fmt, ...)
{
    char old[PA_ERR_MSG_MAX];
    va_list ap;

    if (!err)
        return PA_EINTERNAL;
    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used < sizeof(err->msg))
        snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", old);
    return err->code;
}

const char *pa_strerror(int code)
{
    switch (code) {
    case PA_OK:
        return "success";
#define PA_X_STR(name, value, exit_code, desc) \
    case name:                                 \
        return desc;
        PA_ERRNO_MAP(PA_X_STR)
#undef PA_X_STR
    default:
        return "unknown error";
    }
}

int pa_exit_code(int code)
{
    switch (code) {
    case PA_OK:
        return 0;
#define PA_X_EXIT(name, value, exit_code, desc) \
    case name:                                  \
        return exit_code;
        PA_ERRNO_MAP(PA_X_EXIT)
#undef PA_X_EXIT
    default:
        return 99;
    }
}
