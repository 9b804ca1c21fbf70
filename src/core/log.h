/*
 * Diagnostics on stderr. stdout is for results only.
 *
 * log_warnx/log_info/log_debug format one line and write it with a single
 * fputs, so lines from different threads never interleave. log_warn appends
 * ": strerror(errno)". log_info prints at -v, log_debug at -v -v. The level is
 * checked before anything is formatted. Safe to call from any thread.
 */
#ifndef PA_CORE_LOG_H
#define PA_CORE_LOG_H

#include "pa/status.h"

enum log_level { LOG_QUIET = 0, LOG_VERBOSE = 1, LOG_EXTRA_VERBOSE = 2 };

void log_set_level(int level);
int log_level(void);

void log_warn(const char *fmt, ...) PA_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) PA_PRINTF(1, 2);
void log_info(const char *fmt, ...) PA_PRINTF(1, 2);
void log_debug(const char *fmt, ...) PA_PRINTF(1, 2);

#endif
