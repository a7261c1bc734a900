/* SABR's small box (trainer/sabr_box.h): hand-computed boxes, clipped boxes, and on
 * random boxes and points the small box lies inside the box with radius lambda x the
 * half-width and contains the PGD point wherever the point is far enough inside. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/check.h"
#include "tests/common/fixture.h"
#include "trainer/sabr_box.h"

static void test_by_hand(void)
{
    struct ibp_error err;
    /* box [0, 1], lambda 0.5: r = 0.25, centres clamped into [0.25, 0.75] */
    float lo[4] = {0, 0, 0, 0}, hi[4] = {1, 1, 1, 1};
    float x[4] = {0.9f, 0.1f, 0.625f, 0.25f};
    float ls[4], hs[4];
    CHECK_OK(ibp_sabr_box(x, lo, hi, 4, 0.5, ls, hs, &err), err);
    CHECK(ls[0] == 0.5f && hs[0] == 1.0f);
    CHECK(ls[1] == 0.0f && hs[1] == 0.5f);
    CHECK(ls[2] == 0.375f && hs[2] == 0.875f);
    CHECK(ls[3] == 0.0f && hs[3] == 0.5f);
    /* lambda 1: the box itself, wherever the point */
    CHECK_OK(ibp_sabr_box(x, lo, hi, 4, 1.0, ls, hs, &err), err);
    for (int i = 0; i < 4; i++)
        CHECK(ls[i] == 0.0f && hs[i] == 1.0f);
    /* a box clipped at 0 (pixel 0, eps 0.25: [0, 0.25]), lambda 0.5: radius 0.0625,
     * not 0.125 (lambda eps would not fit) */
    float lc[1] = {0.0f}, hc[1] = {0.25f}, xc[1] = {0.0f};
    CHECK_OK(ibp_sabr_box(xc, lc, hc, 1, 0.5, ls, hs, &err), err);
    CHECK(ls[0] == 0.0f && hs[0] == 0.125f);
    /* a degenerate box stays a point */
    float lp[1] = {0.3f}, hp[1] = {0.3f};
    CHECK_OK(ibp_sabr_box(xc, lp, hp, 1, 0.4, ls, hs, &err), err);
    CHECK(ls[0] == 0.3f && hs[0] == 0.3f);
}

static void test_random(void)
{
    struct ibp_error err;
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 19, 0);
    enum { N = 4096 };
    float *lo = malloc(N * sizeof(float)), *hi = malloc(N * sizeof(float)),
          *x = malloc(N * sizeof(float)), *ls = malloc(N * sizeof(float)),
          *hs = malloc(N * sizeof(float));
    const double lambdas[4] = {0.1, 0.4, 0.7, 1.0};
    int outside = 0, wrong_radius = 0, lost_point = 0;
    for (int l = 0; l < 4; l++) {
        for (int i = 0; i < N; i++) {
            double c = fixture_uniform(&rng, -2, 2), r = fixture_uniform(&rng, 0, 0.5);
            lo[i] = (float)(c - r);
            hi[i] = (float)(c + r);
            x[i] = (float)fixture_uniform(&rng, lo[i], hi[i]);
        }
        CHECK_OK(ibp_sabr_box(x, lo, hi, N, lambdas[l], ls, hs, &err), err);
        for (int i = 0; i < N; i++) {
            double r = lambdas[l] * 0.5 * ((double)hi[i] - lo[i]);
            outside += !(ls[i] >= lo[i] && hs[i] <= hi[i] && ls[i] <= hs[i]);
            wrong_radius += fabs(0.5 * ((double)hs[i] - ls[i]) - r) > 1e-6;
            int deep = x[i] >= lo[i] + r && x[i] <= hi[i] - r;
            lost_point += deep && fabs(0.5 * ((double)hs[i] + ls[i]) - x[i]) > 1e-6;
        }
    }
    CHECK_MSG(outside == 0, "%d small boxes outside the box", outside);
    CHECK_MSG(wrong_radius == 0, "%d small boxes of the wrong radius", wrong_radius);
    CHECK_MSG(lost_point == 0, "%d small boxes not centred at a point inside", lost_point);
    free(lo);
    free(hi);
    free(x);
    free(ls);
    free(hs);
}

static void test_errors(void)
{
    struct ibp_error err;
    float lo[2] = {0, 0.5f}, hi[2] = {1, 0.25f}, x[2] = {0.5f, 0.3f}, ls[2], hs[2];
    CHECK(ibp_sabr_box(x, lo, hi, 1, 0.0, ls, hs, &err) == IBP_ERR_ARG);
    CHECK(ibp_sabr_box(x, lo, hi, 1, 1.5, ls, hs, &err) == IBP_ERR_ARG);
    CHECK(ibp_sabr_box(x, lo, hi, 1, NAN, ls, hs, &err) == IBP_ERR_ARG);
    CHECK(ibp_sabr_box(x, lo, hi, 2, 0.5, ls, hs, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "element 1") != NULL);
}

int main(void)
{
    test_by_hand();
    test_random();
    test_errors();
    return check_report();
}
