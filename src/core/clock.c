/* Monotonic and wall clocks in nanoseconds (see clock.h). */
#include "core/clock.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static uint64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t clock_now_ns(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

uint64_t clock_epoch_ns(void)
{
    return read_clock(CLOCK_REALTIME);
}

static uint64_t epoch_offset;
static pthread_once_t epoch_once = PTHREAD_ONCE_INIT;

static void measure_offset(void)
{
    epoch_offset = clock_epoch_ns() - clock_now_ns();
}

uint64_t clock_epoch_offset_ns(void)
{
    pthread_once(&epoch_once, measure_offset);
    return epoch_offset;
}

void clock_sleep_until_ns(uint64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline_ns / NS_PER_S),
        .tv_nsec = (long)(deadline_ns % NS_PER_S),
    };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

void clock_sleep_ns(uint64_t ns)
{
    clock_sleep_until_ns(clock_now_ns() + ns);
}

uint64_t clock_thread_cpu_ns(void)
{
    return read_clock(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t clock_process_cpu_ns(void)
{
    return read_clock(CLOCK_PROCESS_CPUTIME_ID);
}
