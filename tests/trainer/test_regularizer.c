/* The warmup regularisers: a worked example by hand, a reference implementation of
 * train_ibp.py's `regulariser` written here in double, and the gradients against central
 * finite differences of that reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/rng.h"
#include "tests/common/check.h"
#include "trainer/regularizer.h"

#define TAU 0.5

/* train_ibp.py `regulariser`, transcribed in double: returns L_tight + L_relu (and each
 * through *tight, *relu). c[i], r[i] are layer i's [n[i]] values (batch folded in). */
static double ref_reg(int m, double *const *c, double *const *r, const size_t *n,
                     const double *r0, size_t n0, double tau, double *tight, double *relu)
{
    double d0 = 0;
    for (size_t j = 0; j < n0; j++)
        d0 += r0[j];
    d0 /= (double)n0;
    double lt = 0, lr = 0;
    for (int i = 0; i < m; i++) {
        double mr = 0, mu = 0;
        for (size_t j = 0; j < n[i]; j++) {
            mr += r[i][j];
            mu += c[i][j];
        }
        mr /= (double)n[i];
        mu /= (double)n[i];
        lt += fmax(tau - d0 / fmax(mr, 1e-12), 0.0);
        double sa = 0, si = 0, da = 0, di = 0;
        int na = 0, ni = 0;
        for (size_t j = 0; j < n[i]; j++) {
            double lo = c[i][j] - r[i][j], hi = c[i][j] + r[i][j];
            double dev = (c[i][j] - mu) * (c[i][j] - mu);
            if (lo > 0) {
                sa += c[i][j];
                da += dev;
                na++;
            } else if (hi < 0) {
                si += c[i][j];
                di += dev;
                ni++;
            }
        }
        if (na == 0 || ni == 0)
            continue;
        double alpha = sa / -si, beta = da / di;
        alpha = fmin(alpha, 1 / fmax(alpha, 1e-12));
        beta = fmin(beta, 1 / fmax(beta, 1e-12));
        double term = (fmax(tau - alpha, 0) + fmax(tau - beta, 0)) / tau;
        if (isfinite(term))
            lr += term;
    }
    *tight = lt / (tau * m);
    *relu = lr / m;
    return *tight + *relu;
}

static void test_worked_example(void)
{
    /* layer 0 (batch 1, 4 neurons): lo = (0.2, -2.5, -4, -0.5), hi = (0.6, -1.5, -2, 1.5):
     * A = {0}, I = {1, 2}, one unstable. mu = -4.1/4 = -1.025.
     * alpha = 0.4 / 5 = 0.08 -> alpha' = 0.08;
     * beta = 1.425^2 / (0.975^2 + 1.975^2) = 2.030625 / 4.85125 -> beta' = beta.
     * layer 1 (3 neurons): all active or unstable, no inactive -> balance term skipped.
     * input radius mean 0.1; mean r = 0.675 and 0.11/0.3 */
    float c0[4] = {0.4f, -2.0f, -3.0f, 0.5f}, r0[4] = {0.2f, 0.5f, 1.0f, 1.0f};
    float c1[3] = {1.0f, 2.0f, 0.0f}, r1[3] = {0.5f, 0.5f, 0.1f};
    float in_r[2] = {0.05f, 0.15f};
    float g[4 + 4 + 3 + 3] = {0};
    struct ibp_relu_bounds b[2] = {
        {.layer = 2, .size = 4, .c = c0, .r = r0, .gc = g, .gr = g + 4},
        {.layer = 5, .size = 3, .c = c1, .r = r1, .gc = g + 8, .gr = g + 11},
    };
    struct ibp_reg_terms t;
    struct ibp_error err = {0};
    CHECK_OK(ibp_reg_warmup(b, 2, 1, in_r, 2, TAU, 1.0, NULL, &t, &err), err);
    double d0 = 0.1;
    double tight = ((TAU - d0 / 0.675) + (TAU - d0 / ((0.5 + 0.5 + 0.1) / 3))) / (TAU * 2);
    double beta = 2.030625 / 4.85125;
    double relu = ((TAU - 0.08) + (TAU - beta)) / TAU / 2;
    CHECK_NEAR(t.tight, tight, 1e-7);
    CHECK_NEAR(t.relu, relu, 1e-7);
    CHECK(t.relu_counted == 1);
    /* layer 1 skipped: no gradient on its centres; its radii get the tightness gradient */
    CHECK(g[8] == 0.0f && g[9] == 0.0f && g[10] == 0.0f);
    double mr1 = 1.1 / 3;
    double g_r1 = 1.0 / (TAU * 2) * d0 / (mr1 * mr1) / 3;
    CHECK_NEAR(g[11], g_r1, 1e-7);
    CHECK_NEAR(g[13], g_r1, 1e-7);
    /* alpha gradient on the active centre: d/dc0 of -(alpha')/tau/m = -(1/5)/0.5/2, plus
     * the beta part; checked as a whole against finite differences below */
    CHECK(g[0] != 0.0f && g[1] != 0.0f && g[3] != 0.0f);

    /* values only (lambda 0, no gradient slots needed) */
    struct ibp_relu_bounds nb[2] = {b[0], b[1]};
    nb[0].gc = nb[0].gr = nb[1].gc = nb[1].gr = NULL;
    struct ibp_reg_terms t2;
    CHECK_OK(ibp_reg_warmup(nb, 2, 1, in_r, 2, TAU, 0.0, NULL, &t2, &err), err);
    CHECK(t2.tight == t.tight && t2.relu == t.relu);
    /* a missing slot with lambda != 0 is an error */
    CHECK(ibp_reg_warmup(nb, 2, 1, in_r, 2, TAU, 1.0, NULL, &t2, &err) == IBP_ERR_ARG);
    CHECK(ibp_reg_warmup(b, 2, 0, in_r, 2, TAU, 1.0, NULL, &t2, &err) == IBP_ERR_ARG);
    CHECK(ibp_reg_warmup(b, 2, 1, in_r, 2, 0.0, 1.0, NULL, &t2, &err) == IBP_ERR_ARG);
    CHECK_OK(ibp_reg_warmup(b, 0, 1, in_r, 2, TAU, 1.0, NULL, &t2, &err), err);
    CHECK(t2.tight == 0.0 && t2.relu == 0.0);
}

/* Random bounds kept at least `gap` away from the mask boundaries (c - r = 0, c + r = 0),
 * so that finite differences never flip a mask. */
static void random_bounds(struct ibp_rng *rng, float *c, float *r, size_t n, double c_shift,
                          double r_scale)
{
    for (size_t j = 0; j < n; j++) {
        do {
            c[j] = (float)(2.0 * ibp_rng_normal(rng) + c_shift);
            r[j] = (float)(r_scale * ibp_rng_uniform(rng));
        } while (fabs(fabs((double)c[j]) - r[j]) < 0.05);
    }
}

static void test_against_reference(uint64_t seed, double r_scale, int with_skip)
{
    enum { M = 3, BATCH = 3 };
    const size_t size[M] = {7, 5, 4};
    struct ibp_rng rng;
    ibp_rng_seed(&rng, seed, 0);
    float *c[M], *r[M], *gc[M], *gr[M];
    double *cd[M], *rd[M];
    size_t n[M];
    struct ibp_relu_bounds b[M];
    for (int i = 0; i < M; i++) {
        n[i] = BATCH * size[i];
        c[i] = malloc(n[i] * sizeof(float));
        r[i] = malloc(n[i] * sizeof(float));
        gc[i] = malloc(n[i] * sizeof(float));
        gr[i] = malloc(n[i] * sizeof(float));
        cd[i] = malloc(n[i] * sizeof(double));
        rd[i] = malloc(n[i] * sizeof(double));
        /* layer 1 all positive when with_skip: no inactive neuron, term skipped */
        random_bounds(&rng, c[i], r[i], n[i], (with_skip && i == 1) ? 0.0 : 0.3 * i, r_scale);
        if (with_skip && i == 1)
            for (size_t j = 0; j < n[i]; j++)
                c[i][j] = fabsf(c[i][j]);
        for (size_t j = 0; j < n[i]; j++) {
            cd[i][j] = c[i][j];
            rd[i][j] = r[i][j];
            gc[i][j] = 0.25f; /* the function adds to what is there */
            gr[i][j] = -0.5f;
        }
        b[i] = (struct ibp_relu_bounds){.layer = 2 * i + 1, .size = size[i], .c = c[i],
                                        .r = r[i], .gc = gc[i], .gr = gr[i]};
    }
    const size_t n0 = BATCH * 6;
    float in_r[BATCH * 6];
    double in_rd[BATCH * 6];
    for (size_t j = 0; j < n0; j++)
        in_rd[j] = in_r[j] = (float)(0.2 * ibp_rng_uniform(&rng));

    const double lambda = 0.7;
    struct ibp_reg_terms t;
    struct ibp_error err = {0};
    CHECK_OK(ibp_reg_warmup(b, M, BATCH, in_r, 6, TAU, lambda, NULL, &t, &err), err);
    double rt, rr;
    ref_reg(M, cd, rd, n, in_rd, n0, TAU, &rt, &rr);
    CHECK_NEAR(t.tight, rt, 1e-12);
    CHECK_NEAR(t.relu, rr, 1e-12);
    CHECK(rt > 0.0); /* the example exercises both terms */
    CHECK(rr > 0.0);
    if (with_skip)
        CHECK(t.relu_counted == M - 1);

    /* central differences of lambda * (L_tight + L_relu) in double */
    const double h = 1e-6;
    double worst = 0.0, scale = 0.0;
    for (int i = 0; i < M; i++)
        for (int which = 0; which < 2; which++)
            for (size_t j = 0; j < n[i]; j++) {
                double *x = which ? &rd[i][j] : &cd[i][j];
                double x0 = *x, a, bb, up, down;
                *x = x0 + h;
                up = ref_reg(M, cd, rd, n, in_rd, n0, TAU, &a, &bb);
                *x = x0 - h;
                down = ref_reg(M, cd, rd, n, in_rd, n0, TAU, &a, &bb);
                *x = x0;
                double fd = lambda * (up - down) / (2 * h);
                double got = (which ? gr[i][j] + 0.5 : gc[i][j] - 0.25);
                worst = fmax(worst, fabs(got - fd));
                scale = fmax(scale, fabs(fd));
                CHECK_MSG(fabs(got - fd) <= 1e-6 + 1e-5 * fabs(fd),
                          "layer %d %s[%zu]: got %.9g, finite difference %.9g", i,
                          which ? "r" : "c", j, got, fd);
            }
    CHECK(scale > 1e-3); /* gradients are not trivially zero */
    if (with_skip) {
        /* the skipped layer's centres get nothing */
        int untouched = 1;
        for (size_t j = 0; j < n[1]; j++)
            untouched &= gc[1][j] == 0.25f;
        CHECK(untouched);
    }
    for (int i = 0; i < M; i++) {
        free(c[i]);
        free(r[i]);
        free(gc[i]);
        free(gr[i]);
        free(cd[i]);
        free(rd[i]);
    }
}

/* alpha > 1 and beta > 1 take the 1/x branch of min(x, 1/x) */
static void test_inverse_branch(void)
{
    float c[6] = {5.0f, 4.0f, 6.0f, -0.5f, -0.3f, 0.05f};
    float r[6] = {0.5f, 0.5f, 0.5f, 0.1f, 0.1f, 0.5f};
    float gc[6] = {0}, gr[6] = {0};
    float in_r[1] = {0.01f};
    struct ibp_relu_bounds b = {.layer = 1, .size = 6, .c = c, .r = r, .gc = gc, .gr = gr};
    struct ibp_reg_terms t;
    struct ibp_error err = {0};
    CHECK_OK(ibp_reg_warmup(&b, 1, 1, in_r, 1, TAU, 1.0, NULL, &t, &err), err);
    double cd[6], rd[6], in_rd[1] = {in_r[0]};
    for (int j = 0; j < 6; j++) {
        cd[j] = c[j];
        rd[j] = r[j];
    }
    double *cp[1] = {cd}, *rp[1] = {rd};
    size_t n[1] = {6};
    double rt, rr;
    ref_reg(1, cp, rp, n, in_rd, 1, TAU, &rt, &rr);
    CHECK(rr > 0.0);
    CHECK_NEAR(t.relu, rr, 1e-12);
    CHECK_NEAR(t.tight, rt, 1e-12);
    for (int j = 0; j < 6; j++) {
        double a, bb, x0 = cd[j];
        cd[j] = x0 + 1e-6;
        double up = ref_reg(1, cp, rp, n, in_rd, 1, TAU, &a, &bb);
        cd[j] = x0 - 1e-6;
        double down = ref_reg(1, cp, rp, n, in_rd, 1, TAU, &a, &bb);
        cd[j] = x0;
        CHECK_NEAR(gc[j], (up - down) / 2e-6, 1e-6);
    }
}

int main(void)
{
    test_worked_example();
    test_against_reference(1, 1.0, 0);
    test_against_reference(2, 0.5, 1);
    test_against_reference(3, 3.0, 0);
    test_inverse_branch();
    return check_report();
}
