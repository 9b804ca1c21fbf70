/*
 * C++-style numeric conversion of option values (see numparse.h).
 *
 * strtoll/strtoull/strtod already implement "skip blanks, take the longest
 * prefix"; what they lack is telling "no digits" apart from zero, which the
 * end pointer gives us, and reporting overflow, which errno gives us.
 * atoi/atol are banned in this code base because they hide errors; here
 * hiding errors is the point, so they are rebuilt on strtol with clamping
 * (the C library leaves out-of-range atoi undefined).
 */
#include "cli/numparse.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "core/banned.h"

enum num_status num_stoll(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s)
        return NUM_INVALID;
    if (errno == ERANGE)
        return NUM_RANGE;
    *out = (int64_t)v;
    return NUM_OK;
}

enum num_status num_stoull(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return NUM_INVALID;
    if (errno == ERANGE)
        return NUM_RANGE;
    *out = (uint64_t)v;
    return NUM_OK;
}

enum num_status num_stod(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s)
        return NUM_INVALID;
    if (errno == ERANGE)
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

long num_atol(const char *s)
{
    /* strtol already clamps to LONG_MIN/LONG_MAX on overflow. */
    return strtol(s, NULL, 10);
}

int num_atoi(const char *s)
{
    long v = strtol(s, NULL, 10);
    if (v > INT_MAX)
        return INT_MAX;
    if (v < INT_MIN)
        return INT_MIN;
    return (int)v;
}
