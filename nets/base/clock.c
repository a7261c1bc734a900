/* clock.c — the monotonic clock (clock.h). */
#include "nets/base/clock.h"

#include <time.h>

double ibp_clock_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ibp_clock_past(double deadline)
{
    return deadline > 0.0 && ibp_clock_seconds() >= deadline;
}
