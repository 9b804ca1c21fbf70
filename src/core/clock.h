/*
 * Time. Everything inside the program is CLOCK_MONOTONIC nanoseconds in a
 * uint64_t; wall-clock (epoch) time is needed only where output shows it (the
 * profile export), and clock_epoch_offset_ns() converts: epoch = mono + offset.
 */
#ifndef PA_CORE_CLOCK_H
#define PA_CORE_CLOCK_H

#include <stdint.h>

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S  1000000000ULL

uint64_t clock_now_ns(void);          /* CLOCK_MONOTONIC */
uint64_t clock_epoch_ns(void);        /* CLOCK_REALTIME */
/* Epoch minus monotonic, measured once on first call and then fixed. */
uint64_t clock_epoch_offset_ns(void);
/* Sleeps until the monotonic deadline (returns at once if it has passed). */
void clock_sleep_until_ns(uint64_t deadline_ns);
void clock_sleep_ns(uint64_t ns);
/* Thread CPU time and process CPU time, for benchmarks and overhead. */
uint64_t clock_thread_cpu_ns(void);
uint64_t clock_process_cpu_ns(void);

#endif
