/* Robust and clean cross-entropy against direct formulas and finite differences; the
 * MTL-IBP loss against a hand computation; the verified and error counts. */
#include <math.h>

#include "tests/common/check.h"
#include "trainer/loss.h"

/* naive log(1 + sum exp(-lb)) in long double, fine for moderate lb */
static double naive_robust(const float *lb, int batch, int rows)
{
    long double t = 0;
    for (int b = 0; b < batch; b++) {
        long double s = 1;
        for (int j = 0; j < rows; j++)
            s += expl(-(long double)lb[b * rows + j]);
        t += logl(s);
    }
    return (double)(t / batch);
}

static void test_robust(void)
{
    float lb[2 * 3] = {0.5f, -1.25f, 2.0f, 3.0f, 0.0f, -0.75f};
    float g[6];
    double L = ibp_robust_ce(lb, 2, 3, g);
    CHECK_NEAR(L, naive_robust(lb, 2, 3), 1e-13);
    /* gradient by central differences in double on the same function */
    for (int i = 0; i < 6; i++) {
        float p[6], m[6];
        for (int k = 0; k < 6; k++)
            p[k] = m[k] = lb[k];
        const float h = 1.0f / 1024; /* exact in float */
        p[i] += h;
        m[i] -= h;
        double fd = (naive_robust(p, 2, 3) - naive_robust(m, 2, 3)) / (2.0 * h);
        CHECK_NEAR(g[i], fd, 2e-6);
    }
    /* stability: lb = -300 overflows a naive float sum of exp; the loss is about 300 */
    float big[3] = {-300.0f, -300.0f, 5.0f};
    float gb[3];
    double Lb = ibp_robust_ce(big, 1, 3, gb);
    CHECK(isfinite(Lb));
    CHECK_NEAR(Lb, 300.0 + log(2.0), 1e-9);
    CHECK_NEAR(gb[0], -0.5, 1e-7);
    CHECK_NEAR(gb[1], -0.5, 1e-7);
    CHECK(gb[2] <= 0.0f && gb[2] > -1e-100);
    float huge[2] = {-3e38f, 1.0f};
    CHECK(isfinite(ibp_robust_ce(huge, 1, 2, NULL)));
    /* all margins very positive: loss -> 0, gradient -> 0 */
    float pos[2] = {200.0f, 300.0f};
    float gp[2];
    double Lp = ibp_robust_ce(pos, 1, 2, gp);
    CHECK(Lp >= 0.0 && Lp < 1e-80);
    CHECK(gp[0] <= 0.0f && gp[0] > -1e-30f);
    /* lb = 0 for every row of 9: log 10 */
    float z[9] = {0};
    CHECK_NEAR(ibp_robust_ce(z, 1, 9, NULL), log(10.0), 1e-15);
}

static double naive_ce(const float *z, const int *y, int batch, int classes)
{
    long double t = 0;
    for (int b = 0; b < batch; b++) {
        long double s = 0;
        for (int j = 0; j < classes; j++)
            s += expl((long double)z[b * classes + j]);
        t += logl(s) - z[b * classes + y[b]];
    }
    return (double)(t / batch);
}

static void test_clean(void)
{
    float z[2 * 4] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, 0.25f, -1.0f, 2.0f};
    int y[2] = {3, 1};
    float g[8];
    double L = ibp_cross_entropy(z, y, 2, 4, g);
    CHECK_NEAR(L, naive_ce(z, y, 2, 4), 1e-13);
    for (int i = 0; i < 8; i++) {
        float p[8], m[8];
        for (int k = 0; k < 8; k++)
            p[k] = m[k] = z[k];
        const float h = 1.0f / 1024;
        p[i] += h;
        m[i] -= h;
        double fd = (naive_ce(p, y, 2, 4) - naive_ce(m, y, 2, 4)) / (2.0 * h);
        CHECK_NEAR(g[i], fd, 2e-6);
    }
    /* gradient rows sum to 0 */
    CHECK_NEAR(g[0] + g[1] + g[2] + g[3], 0.0, 1e-7);
    float big[2] = {1000.0f, -1000.0f};
    int y0 = 1;
    CHECK_NEAR(ibp_cross_entropy(big, &y0, 1, 2, NULL), 2000.0, 1e-9);
}

/* Two samples, three classes: lb [2][2], PGD-point logits [2][3]. By hand:
 * CE_IBP = (log(1 + e^-1 + e^0.5) + log(1 + e^-2 + e^-3)) / 2,
 * CE_adv = (log(e^1 + e^0 + e^2) - 1 + log(e^0 + e^3 + e^-1) - 3) / 2 (labels 0, 1). */
static void test_mtl_ibp(void)
{
    float lb[4] = {1.0f, -0.5f, 2.0f, 3.0f};
    float z[6] = {1.0f, 0.0f, 2.0f, 0.0f, 3.0f, -1.0f};
    int y[2] = {0, 1};
    double ibp = (log(1 + exp(-1.0) + exp(0.5)) + log(1 + exp(-2.0) + exp(-3.0))) / 2;
    double adv = (log(exp(1.0) + 1 + exp(2.0)) - 1 + log(1 + exp(3.0) + exp(-1.0)) - 3) / 2;
    const double alphas[3] = {0.25, 0.0, 1.0};
    for (int a = 0; a < 3; a++) {
        double alpha = alphas[a], r, v;
        float glb[4], gz[6];
        double L = ibp_mtl_ibp_loss(lb, z, y, 2, 3, alpha, glb, gz, &r, &v);
        CHECK_NEAR(L, alpha * ibp + (1 - alpha) * adv, 1e-12);
        CHECK_NEAR(r, ibp, 1e-12);
        CHECK_NEAR(v, adv, 1e-12);
        /* gradients: alpha x -softmax([0, -lb]) / 2, (1 - alpha)(softmax(z) - onehot) / 2 */
        double s0 = 1 + exp(-1.0) + exp(0.5);
        CHECK_NEAR(glb[0], alpha * -exp(-1.0) / s0 / 2, 1e-7);
        CHECK_NEAR(glb[1], alpha * -exp(0.5) / s0 / 2, 1e-7);
        double s1 = exp(1.0) + 1 + exp(2.0);
        CHECK_NEAR(gz[0], (1 - alpha) * (exp(1.0) / s1 - 1) / 2, 1e-7);
        CHECK_NEAR(gz[2], (1 - alpha) * exp(2.0) / s1 / 2, 1e-7);
        double s2 = 1 + exp(3.0) + exp(-1.0);
        CHECK_NEAR(gz[4], (1 - alpha) * (exp(3.0) / s2 - 1) / 2, 1e-7);
    }
    /* no gradients wanted */
    CHECK_NEAR(ibp_mtl_ibp_loss(lb, z, y, 2, 3, 0.5, NULL, NULL, NULL, NULL),
               0.5 * ibp + 0.5 * adv, 1e-12);
}

static void test_counts(void)
{
    float lb[4 * 2] = {0.1f, 0.2f, 0.0f, 1.0f, -0.1f, 5.0f, 1e-30f, 3.0f};
    CHECK(ibp_count_verified(lb, 4, 2) == 2); /* rows 0 and 3; lb = 0 is not verified */
    float lbn[2] = {NAN, 1.0f};
    CHECK(ibp_count_verified(lbn, 1, 2) == 0);

    float z[4 * 3] = {1, 2, 3, /* argmax 2 */
                      5, 5, 1, /* tie -> 0 */
                      0, 7, 7, /* tie -> 1 */
                      1, NAN, 0};
    int y[4] = {2, 1, 1, 0};
    CHECK(ibp_count_errors(z, y, 4, 3) == 2); /* row 1 (0 != 1) and the NaN row */
    int y2[4] = {2, 0, 2, 0};
    CHECK(ibp_count_errors(z, y2, 4, 3) == 2); /* row 2 (1 != 2) and the NaN row */
}

int main(void)
{
    test_robust();
    test_clean();
    test_mtl_ibp();
    test_counts();
    return check_report();
}
