/* Leveled stderr logging, one fputs per line (see log.h). */
#include "core/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int current_level;

void log_set_level(int level)
{
    atomic_store(&current_level, level);
}

int log_level(void)
{
    return atomic_load(&current_level);
}

PA_PRINTF(1, 0) static void emit(const char *fmt, va_list ap, const char *suffix)
{
    char line[2048];
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= sizeof(line))
        len = sizeof(line) - 1;
    if (suffix)
        len += (size_t)snprintf(line + len, sizeof(line) - len, ": %s", suffix);
    if (len >= sizeof(line) - 1)
        len = sizeof(line) - 2;
    line[len] = '\n';
    line[len + 1] = '\0';
    fputs(line, stderr);
}

void log_warn(const char *fmt, ...)
{
    const char *why = strerror(errno);
    va_list ap;
    va_start(ap, fmt);
    emit(fmt, ap, why);
    va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(fmt, ap, NULL);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    if (log_level() < LOG_VERBOSE)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(fmt, ap, NULL);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    if (log_level() < LOG_EXTRA_VERBOSE)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(fmt, ap, NULL);
    va_end(ap);
}
