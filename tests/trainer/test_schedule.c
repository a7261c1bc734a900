/* The eps schedule against SPEC §4.5's worked example, lambda, the lr steps and the
 * parsers. */
#include <math.h>
#include <string.h>

#include "tests/common/check.h"
#include "trainer/schedule.h"

/* relative agreement to the printed significant digits */
#define CHECK_DIGITS(a, b, rel) CHECK_NEAR((a), (b), fabs((double)(b)) * (rel))

static void test_worked_example(void)
{
    struct ibp_error err = {0};
    int64_t L = ibp_batches_per_epoch(60000, 256);
    CHECK(L == 235);
    struct ibp_eps_schedule s;
    CHECK_OK(ibp_eps_schedule_init(&s, 0.1, 2, 10, L, &err), err);
    CHECK(s.s0 == 235);
    CHECK(s.s_mid == 822);
    CHECK(s.s1 == 2585);
    CHECK(ibp_eps_at(&s, 0) == 0.0);
    CHECK(ibp_eps_at(&s, 234) == 0.0);
    CHECK(ibp_eps_at(&s, 235) == 0.0); /* the first batch of epoch S is still at 0 */
    CHECK_DIGITS(ibp_eps_at(&s, 236), 6.472e-14, 0.5e-3);
    CHECK_NEAR(ibp_eps_at(&s, 821), 0.0076320, 0.5e-7);
    CHECK_NEAR(ibp_eps_at(&s, 822), 0.0076843, 0.5e-7);
    CHECK_NEAR(ibp_eps_at(&s, 2584), 0.0999476, 0.5e-7);
    CHECK(ibp_eps_at(&s, 2585) == 0.1);
    CHECK(ibp_eps_at(&s, 100000) == 0.1);
    /* the formula itself, in and around the switch at s_mid */
    double alpha = 0.1 / ((2585.0 - 822) * 4 * pow(587.0, 3) + pow(587.0, 4));
    CHECK_NEAR(ibp_eps_at(&s, 500), alpha * pow(265.0, 4), 1e-18);
    CHECK_NEAR(ibp_eps_at(&s, 822), alpha * pow(587.0, 4), 1e-18);
    double mid = alpha * pow(587.0, 4);
    CHECK_NEAR(ibp_eps_at(&s, 1700), mid + (0.1 - mid) * (1700.0 - 822) / (2585.0 - 822), 1e-17);
    /* monotone, continuous slope at s_mid (the polynomial's derivative = the line's) */
    double prev = 0.0;
    int mono = 1;
    for (int64_t t = 0; t < 3000; t++) {
        double e = ibp_eps_at(&s, t);
        mono &= e >= prev && e <= 0.1;
        prev = e;
    }
    CHECK(mono);
    double slope_poly = 4 * alpha * pow(587.0, 3), slope_line = (0.1 - mid) / (2585.0 - 822);
    CHECK_NEAR(slope_poly, slope_line, 1e-12 * slope_line);
}

static void test_edges(void)
{
    struct ibp_error err = {0};
    struct ibp_eps_schedule s;
    /* start 1: the ramp begins at batch 0, which is still eps 0 */
    CHECK_OK(ibp_eps_schedule_init(&s, 0.4, 1, 20, 235, &err), err);
    CHECK(s.s0 == 0 && s.s1 == 20 * 235);
    CHECK(ibp_eps_at(&s, 0) == 0.0 && ibp_eps_at(&s, 1) > 0.0);
    /* a ramp of 3 batches has no polynomial part: linear */
    CHECK_OK(ibp_eps_schedule_init(&s, 0.3, 1, 1, 3, &err), err);
    CHECK(s.s_mid == s.s0);
    CHECK_NEAR(ibp_eps_at(&s, 1), 0.1, 1e-15);
    CHECK_NEAR(ibp_eps_at(&s, 2), 0.2, 1e-15);
    CHECK(ibp_eps_at(&s, 3) == 0.3);
    /* eps_max 0 */
    CHECK_OK(ibp_eps_schedule_init(&s, 0.0, 2, 3, 10, &err), err);
    CHECK(ibp_eps_at(&s, 15) == 0.0 && ibp_eps_at(&s, 100) == 0.0);
    CHECK(ibp_eps_schedule_init(&s, 1.5, 2, 3, 10, &err) == IBP_ERR_ARG);
    CHECK(ibp_eps_schedule_init(&s, 0.1, 0, 3, 10, &err) == IBP_ERR_ARG);
    CHECK(ibp_eps_schedule_init(&s, 0.1, 1, 0, 10, &err) == IBP_ERR_ARG);
    CHECK(ibp_eps_schedule_init(&s, 0.1, 1, 1, 0, &err) == IBP_ERR_ARG);
    CHECK(ibp_eps_schedule_init(&s, NAN, 1, 1, 1, &err) == IBP_ERR_ARG);
    CHECK(ibp_batches_per_epoch(60000, 128) == 469);
    CHECK(ibp_batches_per_epoch(256, 256) == 1);
    CHECK(ibp_batches_per_epoch(257, 256) == 2);
    CHECK(ibp_batches_per_epoch(0, 256) == 0);
}

static void test_lambda_lr(void)
{
    struct ibp_error err = {0};
    struct ibp_eps_schedule s;
    CHECK_OK(ibp_eps_schedule_init(&s, 0.1, 2, 10, 235, &err), err);
    CHECK(ibp_reg_lambda(0.5, ibp_eps_at(&s, 100), 0.1) == 0.5);
    CHECK(ibp_reg_lambda(0.5, ibp_eps_at(&s, 235), 0.1) == 0.5);
    CHECK_NEAR(ibp_reg_lambda(0.5, ibp_eps_at(&s, 822), 0.1), 0.5 * (1 - 0.0076843 / 0.1), 1e-6);
    CHECK(ibp_reg_lambda(0.5, ibp_eps_at(&s, 2584), 0.1) > 0.0);
    CHECK(ibp_reg_lambda(0.5, ibp_eps_at(&s, 2585), 0.1) == 0.0);
    CHECK(ibp_reg_lambda(0.5, ibp_eps_at(&s, 9999), 0.1) == 0.0);
    CHECK(ibp_reg_lambda(0.5, 0.0, 0.0) == 0.5);
    CHECK_NEAR(ibp_reg_lambda(0.5, 0.05, 0.1), 0.25, 1e-15);

    const int ms[] = {15, 18};
    for (int e = 1; e <= 15; e++)
        CHECK(ibp_lr_at_epoch(5e-4, 0.2, ms, 2, e) == 5e-4);
    for (int e = 16; e <= 18; e++)
        CHECK(ibp_lr_at_epoch(5e-4, 0.2, ms, 2, e) == 5e-4 * 0.2);
    for (int e = 19; e <= 20; e++)
        CHECK(ibp_lr_at_epoch(5e-4, 0.2, ms, 2, e) == 5e-4 * 0.2 * 0.2);
    CHECK_NEAR(ibp_lr_at_epoch(5e-4, 0.2, ms, 2, 20), 2e-5, 1e-18);
    CHECK(ibp_lr_at_epoch(1e-3, 0.2, NULL, 0, 50) == 1e-3);
}

static void test_plan_milestones(void)
{
    struct ibp_error err = {0};
    struct ibp_epoch_plan p;
    int start, length, epochs;
    CHECK_OK(ibp_epoch_plan_parse("1+10+9", "--schedule", &p, &err), err);
    CHECK(p.warm == 1 && p.ramp == 10 && p.full == 9);
    ibp_epoch_plan_to_schedule(p, &start, &length, &epochs);
    CHECK(start == 2 && length == 10 && epochs == 20);
    p = ibp_epoch_plan_of(2, 10, 20);
    CHECK(p.warm == 1 && p.ramp == 10 && p.full == 9);
    CHECK_OK(ibp_epoch_plan_parse("0+20+50", "--schedule", &p, &err), err);
    ibp_epoch_plan_to_schedule(p, &start, &length, &epochs);
    CHECK(start == 1 && length == 20 && epochs == 70);
    const char *bad[] = {"", "1+10", "1+0+9", "1+10+9+1", "1+10+", "+1+10", "a+b+c", "1+-2+3",
                         "1 + 10 + 9", "1++10+9", "1+10+9x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(ibp_epoch_plan_parse(bad[i], "--schedule", &p, &err) == IBP_ERR_ARG,
                  "'%s' accepted", bad[i]);

    int ms[4], n = -1;
    CHECK_OK(ibp_milestones_parse("15,18", "--milestones", ms, 4, &n, &err), err);
    CHECK(n == 2 && ms[0] == 15 && ms[1] == 18);
    CHECK_OK(ibp_milestones_parse("", "--milestones", ms, 4, &n, &err), err);
    CHECK(n == 0);
    CHECK_OK(ibp_milestones_parse("7", "--milestones", ms, 4, &n, &err), err);
    CHECK(n == 1 && ms[0] == 7);
    const char *badm[] = {"18,15", "15,15", "0,3", "-1", "1,2,3,4,5", "15,", ",15", "15,,18",
                          "15;18", "x"};
    for (size_t i = 0; i < sizeof badm / sizeof badm[0]; i++)
        CHECK_MSG(ibp_milestones_parse(badm[i], "--milestones", ms, 4, &n, &err) == IBP_ERR_ARG,
                  "'%s' accepted", badm[i]);
}

int main(void)
{
    test_worked_example();
    test_edges();
    test_lambda_lr();
    test_plan_milestones();
    return check_report();
}
