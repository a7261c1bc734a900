/* schedule.h — what changes during a run: the smoothed epsilon ramp, the regulariser
 * weight lambda, the multi-step learning rate (SPEC §4.5, §4.3, §4.6), and the parsers
 * for the "a+b+c" epoch notation and milestone lists (epsilon's "8/255" syntax is
 * ibp_parse_eps in nets/base/parse.h).
 *
 * Steps s are a global batch counter from 0 over the whole run; epochs are 1-based.
 * Everything is computed in double. */
#ifndef IBP_SCHEDULE_H
#define IBP_SCHEDULE_H

#include <stdint.h>

#include "nets/base/status.h"

#define IBP_EPS_MID 0.25
#define IBP_EPS_BETA 4.0

/* The smoothed epsilon schedule. Fill it with ibp_eps_schedule_init. */
struct ibp_eps_schedule {
    double eps_max;
    int64_t s0, s_mid, s1; /* ramp start, switch to linear, end (batches) */
    double alpha;          /* eps = alpha (s - s0)^beta on (s0, s_mid) */
    double eps_mid;        /* eps at s_mid */
    double beta;
};

/* Batches per epoch, ceil(n_train / batch): the last, smaller batch is trained too.
 * 0 when n_train or batch is not positive. */
int64_t ibp_batches_per_epoch(int64_t n_train, int batch);

/* s0 = (start-1) L, s1 = (start+length-1) L, s_mid = s0 + floor((s1-s0) mid),
 * alpha = eps_max / ((s1-s_mid) beta (s_mid-s0)^(beta-1) + (s_mid-s0)^beta), with
 * mid = IBP_EPS_MID and beta = IBP_EPS_BETA. When the ramp is too short for a
 * polynomial part (s_mid = s0) it is linear from 0 at s0 to eps_max at s1.
 * Errors: IBP_ERR_ARG for eps_max outside [0,1], start < 1, length < 1 or
 * batches_per_epoch < 1 (the message names the value). */
enum ibp_status ibp_eps_schedule_init(struct ibp_eps_schedule *sch, double eps_max, int start,
                                      int length, int64_t batches_per_epoch,
                                      struct ibp_error *err);

/* eps at global batch s: 0 for s <= s0, alpha (s-s0)^beta below s_mid, then linear
 * from eps(s_mid) to eps_max at s1, exactly eps_max from s1 on. */
double ibp_eps_at(const struct ibp_eps_schedule *sch, int64_t s);

/* Regulariser weight lambda0 (1 - eps_t/eps_max): lambda0 while eps_t <= 0 (also when
 * eps_max is 0), exactly 0 once eps_t >= eps_max. */
double ibp_reg_lambda(double lambda0, double eps_t, double eps_max);

/* Learning rate of epoch (1-based): lr0 multiplied by decay once for every milestone
 * < epoch, i.e. after each milestone epoch completes (torch MultiStepLR stepped per
 * epoch). The multiplications are done one by one, as torch does. */
double ibp_lr_at_epoch(double lr0, double decay, const int *milestones, int n_milestones,
                       int epoch);

/* The "a+b+c" epoch notation: a epochs at eps = 0, b ramp epochs, c at eps_max. */
struct ibp_epoch_plan {
    int warm, ramp, full;
};

/* Parses "a+b+c" (non-negative integers, ramp >= 1). Errors: IBP_ERR_ARG. */
enum ibp_status ibp_epoch_plan_parse(const char *text, const char *what,
                                     struct ibp_epoch_plan *plan, struct ibp_error *err);

/* The schedule options of a plan: start = warm + 1, length = ramp,
 * epochs = warm + ramp + full. */
void ibp_epoch_plan_to_schedule(struct ibp_epoch_plan plan, int *start, int *length,
                                int *epochs);

/* The plan of (start, length, epochs): warm = start - 1, ramp = length,
 * full = epochs - (start + length - 1) (negative when the ramp outlasts the run). */
struct ibp_epoch_plan ibp_epoch_plan_of(int start, int length, int epochs);

/* Parses a milestone list "15,18" (strictly increasing positive integers, at most
 * max_count; "" is the empty list). Errors: IBP_ERR_ARG naming the bad item. */
enum ibp_status ibp_milestones_parse(const char *text, const char *what, int *milestones,
                                     int max_count, int *count, struct ibp_error *err);

#endif
