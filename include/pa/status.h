/*
 * Error codes and the error value every fallible function fills in.
 *
 * A function that can fail returns PA_OK (0) or a negative PA_E* code and,
 * on failure only, writes a complete message into the caller's struct pa_err.
 * The message is what the user sees (main.c prints it), so it is written in
 * the original perf_analyzer's words where the spec gives them.
 */
#ifndef PA_STATUS_H
#define PA_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define PA_MUST_CHECK    __attribute__((warn_unused_result))
#define PA_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#define PA_NORETURN      __attribute__((noreturn))
#define PA_FALLTHROUGH() __attribute__((fallthrough))
#else
#define PA_MUST_CHECK
#define PA_PRINTF(f, a)
#define PA_NORETURN
#define PA_FALLTHROUGH() ((void)0)
#endif

/*
 * X(name, value, exit code, description). The exit code is what main.c exits
 * with when a run ends on this error (spec 00-overview §2).
 */
#define PA_ERRNO_MAP(X)                                                          \
    X(PA_EUSAGE, -1, 99, "invalid command line")                                 \
    X(PA_EINVAL, -2, 99, "invalid argument")                                     \
    X(PA_ECONN, -3, 99, "cannot reach the server")                               \
    X(PA_ESERVER, -4, 99, "the server reported an error")                        \
    X(PA_EUNSUPPORTED, -5, 99, "not supported")                                  \
    X(PA_EDATA, -6, 99, "bad input data")                                        \
    X(PA_EIO, -7, 99, "input/output error")                                      \
    X(PA_EPROTO, -8, 99, "malformed response")                                   \
    X(PA_EUNSTABLE, -9, 2, "failed to obtain stable measurement")                \
    X(PA_ENOREQUESTS, -10, 3, "no valid requests recorded")                      \
    X(PA_EINTR, -11, 0, "interrupted")                                           \
    X(PA_ETIMEDOUT, -12, 99, "timed out")                                        \
    X(PA_EINTERNAL, -13, 99, "internal error")

enum pa_status {
    PA_OK = 0,
#define PA_X_ENUM(name, value, exit_code, desc) name = (value),
    PA_ERRNO_MAP(PA_X_ENUM)
#undef PA_X_ENUM
};

#define PA_ERR_MSG_MAX 1024

/* Caller-owned error value. Untouched on success. */
struct pa_err {
    int code;                  /* PA_E*; 0 while no error was set */
    char msg[PA_ERR_MSG_MAX];  /* one line, no trailing newline */
};

/* Sets err (if non-NULL) and returns code, so callers can `return pa_errorf(...)`. */
int pa_errorf(struct pa_err *err, int code, const char *fmt, ...) PA_PRINTF(3, 4);
int pa_verrorf(struct pa_err *err, int code, const char *fmt, va_list ap) PA_PRINTF(3, 0);

/* Prefixes an existing message: "<prefix>: <old message>". Returns err->code. */
int pa_error_prefix(struct pa_err *err, const char *fmt, ...) PA_PRINTF(2, 3);

/* Short description of a code; "unknown error" for codes outside the table. */
const char *pa_strerror(int code);

/* Process exit code for a run that ended with this code (0 for PA_OK). */
int pa_exit_code(int code);

#endif
