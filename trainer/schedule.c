#include "trainer/schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/parse.h"

int64_t ibp_batches_per_epoch(int64_t n_train, int batch)
{
    if (n_train <= 0 || batch <= 0)
        return 0;
    return (n_train + batch - 1) / batch;
}

enum ibp_status ibp_eps_schedule_init(struct ibp_eps_schedule *sch, double eps_max, int start,
                                      int length, int64_t batches_per_epoch,
                                      struct ibp_error *err)
{
    if (!(eps_max >= 0.0 && eps_max <= 1.0))
        return ibp_fail(err, IBP_ERR_ARG, "eps schedule: eps %g must be in [0, 1]", eps_max);
    if (start < 1)
        return ibp_fail(err, IBP_ERR_ARG, "eps schedule: start epoch %d must be >= 1", start);
    if (length < 1)
        return ibp_fail(err, IBP_ERR_ARG, "eps schedule: ramp length %d must be >= 1 epoch",
                        length);
    if (batches_per_epoch < 1)
        return ibp_fail(err, IBP_ERR_ARG, "eps schedule: %lld batches per epoch",
                        (long long)batches_per_epoch);
    int64_t L = batches_per_epoch;
    sch->eps_max = eps_max;
    sch->beta = IBP_EPS_BETA;
    sch->s0 = (int64_t)(start - 1) * L;
    sch->s1 = ((int64_t)start + length - 1) * L;
    /* floor of a non-negative product, as Python's int() */
    sch->s_mid = sch->s0 + (int64_t)floor((double)(sch->s1 - sch->s0) * IBP_EPS_MID);
    double d = (double)(sch->s_mid - sch->s0);
    if (sch->s_mid == sch->s0) {
        sch->alpha = 0.0;
    } else {
        double t = pow(d, sch->beta - 1.0);
        sch->alpha = eps_max / ((double)(sch->s1 - sch->s_mid) * sch->beta * t + d * t);
    }
    sch->eps_mid = sch->alpha * pow(d, sch->beta);
    return IBP_OK;
}

double ibp_eps_at(const struct ibp_eps_schedule *sch, int64_t s)
{
    if (s <= sch->s0)
        return 0.0;
    if (s >= sch->s1)
        return sch->eps_max;
    if (s < sch->s_mid)
        return sch->alpha * pow((double)(s - sch->s0), sch->beta);
    double v = sch->eps_mid + (sch->eps_max - sch->eps_mid) * (double)(s - sch->s_mid) /
                                  (double)(sch->s1 - sch->s_mid);
    return v < sch->eps_max ? v : sch->eps_max;
}

double ibp_reg_lambda(double lambda0, double eps_t, double eps_max)
{
    if (eps_t <= 0.0)
        return lambda0;
    if (eps_t >= eps_max)
        return 0.0;
    return lambda0 * (1.0 - eps_t / eps_max);
}

double ibp_lr_at_epoch(double lr0, double decay, const int *milestones, int n_milestones,
                       int epoch)
{
    double lr = lr0;
    for (int i = 0; i < n_milestones; i++)
        if (milestones[i] < epoch)
            lr *= decay;
    return lr;
}

/* The next '+'- or ','-separated item of text as an integer in [min, max]. */
static enum ibp_status next_int(const char **p, char sep, const char *what, const char *text,
                                long min, long max, long *v, struct ibp_error *err)
{
    const char *end = strchr(*p, sep);
    size_t n = end ? (size_t)(end - *p) : strlen(*p);
    char item[32];
    if (n == 0 || n >= sizeof item)
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s': empty or overlong item", what, text);
    memcpy(item, *p, n);
    item[n] = '\0';
    enum ibp_status st = ibp_parse_int(item, what, min, max, v, err);
    if (st != IBP_OK)
        return st;
    *p += n + (end ? 1 : 0);
    return IBP_OK;
}

enum ibp_status ibp_epoch_plan_parse(const char *text, const char *what,
                                     struct ibp_epoch_plan *plan, struct ibp_error *err)
{
    const char *p = text;
    long v[3];
    for (int i = 0; i < 3; i++) {
        if (*p == '\0' && i > 0)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not of the form a+b+c", what, text);
        enum ibp_status st = next_int(&p, '+', what, text, i == 1 ? 1 : 0, 100000, &v[i], err);
        if (st != IBP_OK)
            return st;
    }
    if (*p != '\0' || p[-1] == '+')
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not of the form a+b+c", what, text);
    plan->warm = (int)v[0];
    plan->ramp = (int)v[1];
    plan->full = (int)v[2];
    return IBP_OK;
}

void ibp_epoch_plan_to_schedule(struct ibp_epoch_plan plan, int *start, int *length,
                                int *epochs)
{
    *start = plan.warm + 1;
    *length = plan.ramp;
    *epochs = plan.warm + plan.ramp + plan.full;
}

struct ibp_epoch_plan ibp_epoch_plan_of(int start, int length, int epochs)
{
    return (struct ibp_epoch_plan){start - 1, length, epochs - (start + length - 1)};
}

enum ibp_status ibp_milestones_parse(const char *text, const char *what, int *milestones,
                                     int max_count, int *count, struct ibp_error *err)
{
    const char *p = text;
    int n = 0;
    while (*p != '\0') {
        long v;
        enum ibp_status st = next_int(&p, ',', what, text, 1, 1000000, &v, err);
        if (st != IBP_OK)
            return st;
        if (n == max_count)
            return ibp_fail(err, IBP_ERR_ARG, "%s: more than %d milestones", what, max_count);
        if (n > 0 && v <= milestones[n - 1])
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not strictly increasing", what, text);
        milestones[n++] = (int)v;
        if (*p == '\0' && p[-1] == ',')
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' ends with a comma", what, text);
    }
    *count = n;
    return IBP_OK;
}
