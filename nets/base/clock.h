/* clock.h — the one monotonic clock of time limits and timings. */
#ifndef IBP_CLOCK_H
#define IBP_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin; for differences and deadlines). */
double ibp_clock_seconds(void);

/* 1 when deadline (> 0, ibp_clock_seconds' scale) has passed; 0 for deadline <= 0 (none). */
int ibp_clock_past(double deadline);

#endif
