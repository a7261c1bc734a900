/* The ε box against a long-double reference: clipping at 0 and 1, per-channel mean/std. */
#include <math.h>
#include <string.h>

#include "datasets/box.h"
#include "nets/base/rng.h"
#include "tests/common/check.h"

enum { N = 7, C = 3, P = 50, T = N * C * P };

/* |got - want| within one float ulp of want */
static int close_ulp(float got, long double want)
{
    float w = (float)want;
    float ulp = nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabsl((long double)got - want) <= (long double)ulp;
}

int main(void)
{
    struct ibp_error err;
    ibp_error_clear(&err);
    static float x[T], xn[T], lo[T], hi[T], copy[T];
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 5, 0);
    for (int i = 0; i < T; i++) {
        switch (i % 5) {
        case 0: x[i] = 0.0f; break;
        case 1: x[i] = 1.0f; break;
        case 2: x[i] = (float)ibp_rng_below(&rng, 256) / 255.0f; break;
        case 3: x[i] = (float)(ibp_rng_uniform(&rng) * 0.05); break; /* near 0: clips */
        default: x[i] = (float)(1.0 - ibp_rng_uniform(&rng) * 0.05); break; /* near 1 */
        }
    }
    const float mean[C] = {0.4914f, 0.4822f, 0.4465f}, std[C] = {0.2023f, 0.1994f, 0.2010f};
    const float zero[C] = {0, 0, 0}, one[C] = {1, 1, 1};
    const double epss[5] = {0.0, 2.0 / 255.0, 8.0 / 255.0, 0.1, 0.4};
    for (int e = 0; e < 5; e++)
        for (int norm = 0; norm < 2; norm++) {
            const float *m = norm ? mean : zero, *s = norm ? std : one;
            double eps = epss[e];
            CHECK_OK(ibp_box_compute(x, N, C, P, eps, m, s, xn, lo, hi, &err), err);
            int ok = 1, order = 1, clipped_lo = 0, clipped_hi = 0;
            for (int i = 0; i < T; i++) {
                int k = i / P % C;
                long double v = x[i], mk = m[k], sk = s[k];
                long double l = v - eps < 0 ? 0 : v - eps, u = v + eps > 1 ? 1 : v + eps;
                clipped_lo += v - eps < 0;
                clipped_hi += v + eps > 1;
                ok &= close_ulp(xn[i], (v - mk) / sk);
                ok &= close_ulp(lo[i], (l - mk) / sk);
                ok &= close_ulp(hi[i], (u - mk) / sk);
                order &= lo[i] <= xn[i] && xn[i] <= hi[i];
            }
            CHECK_MSG(ok, "eps %g, norm %d", eps, norm);
            CHECK(order);
            CHECK(e == 0 || (clipped_lo > 0 && clipped_hi > 0));
            if (e == 0)
                CHECK(memcmp(lo, xn, sizeof lo) == 0 && memcmp(hi, xn, sizeof hi) == 0);
        }
    /* exact anchors: x = 0 clips to (0 - m)/s, x = 1 to (1 - m)/s; pixel space is plain */
    CHECK_OK(ibp_box_compute(x, N, C, P, 0.1, mean, std, xn, lo, hi, &err), err);
    CHECK(lo[0] == (float)((0.0 - mean[0]) / std[0]));
    CHECK(hi[1] == (float)((1.0 - mean[0]) / std[0]));
    CHECK(lo[P] == (float)((0.0 - mean[1]) / std[1])); /* P % 5 == 0: x = 0 */
    CHECK_OK(ibp_box_compute(x, N, C, P, 0.1, zero, one, xn, lo, hi, &err), err);
    CHECK(lo[0] == 0.0f && hi[0] == 0.1f && lo[1] == 0.9f && hi[1] == 1.0f);
    CHECK(xn[2] == x[2]);

    /* NULL outputs, and the centre computed in place */
    memcpy(copy, x, sizeof x);
    CHECK_OK(ibp_box_compute(x, N, C, P, 0.1, mean, std, xn, NULL, NULL, &err), err);
    CHECK_OK(ibp_box_compute(copy, N, C, P, 0.1, mean, std, copy, NULL, NULL, &err), err);
    CHECK(memcmp(copy, xn, sizeof xn) == 0);

    /* bad input, each named */
    CHECK(ibp_box_compute(x, N, C, P, -0.1, mean, std, xn, lo, hi, &err) == IBP_ERR_ARG);
    CHECK(ibp_box_compute(x, N, C, P, NAN, mean, std, xn, lo, hi, &err) == IBP_ERR_ARG);
    CHECK(ibp_box_compute(x, N, C, P, INFINITY, mean, std, xn, lo, hi, &err) == IBP_ERR_ARG);
    const float bad_std[C] = {0.2f, 0.0f, 0.2f};
    CHECK(ibp_box_compute(x, N, C, P, 0.1, mean, bad_std, xn, lo, hi, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "channel 1") != NULL);
    CHECK(ibp_box_compute(x, 0, C, P, 0.1, mean, std, xn, lo, hi, &err) == IBP_ERR_ARG);
    memcpy(copy, x, sizeof x);
    copy[2 * C * P + P + 7] = 1.5f;
    CHECK(ibp_box_compute(copy, N, C, P, 0.1, mean, std, xn, lo, hi, &err) == IBP_ERR_NUMERIC);
    CHECK(strstr(err.msg, "sample 2, channel 1, pixel 7") != NULL);
    copy[2 * C * P + P + 7] = NAN;
    CHECK(ibp_box_compute(copy, N, C, P, 0.1, mean, std, xn, lo, hi, &err) == IBP_ERR_NUMERIC);
    return check_report();
}
