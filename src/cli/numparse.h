/*
 * Number conversions that behave like the C++ library calls the original
 * perf_analyzer used on option values (std::stoll, std::stoull, std::stod,
 * atoi): leading white space is skipped, the longest valid numeric prefix is
 * taken and anything after it is ignored ("5000ms" is 5000). A value with no
 * digits at all is NUM_INVALID (std::invalid_argument in the original); a
 * value outside the target type is NUM_RANGE (std::out_of_range, which the
 * original let escape and abort on; we report it as an invalid value).
 */
#ifndef PA_CLI_NUMPARSE_H
#define PA_CLI_NUMPARSE_H

#include <stdint.h>

enum num_status { NUM_OK, NUM_INVALID, NUM_RANGE };

/* std::stoll. */
enum num_status num_stoll(const char *s, int64_t *out);
/* std::stoull: a leading '-' is accepted and the value wraps ("-1" is 2^64-1). */
enum num_status num_stoull(const char *s, uint64_t *out);
/* std::stod: also accepts hexadecimal floats, "inf" and "nan"; underflow is NUM_RANGE too. */
enum num_status num_stod(const char *s, double *out);
/* atoi / atol: never fail, junk gives 0. Out-of-range input is clamped to the type. */
int num_atoi(const char *s);
long num_atol(const char *s);

#endif
