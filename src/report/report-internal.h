/* Helpers shared by the report's .c files; not for other modules. */
#ifndef PA_REPORT_REPORT_INTERNAL_H
#define PA_REPORT_REPORT_INTERNAL_H

#include <stdint.h>

/* ns / count, 0 when count is 0. */
static inline uint64_t report_avg_ns(uint64_t ns, uint64_t count)
{
    return count == 0 ? 0 : ns / count;
}

#endif
