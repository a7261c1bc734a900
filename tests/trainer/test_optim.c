/* Adam and SGD against references written here in double (torch's update rules),
 * gradient clipping, and the state round trip. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/rng.h"
#include "tests/common/check.h"
#include "trainer/optim.h"

#define N 37

static void fill(struct ibp_rng *rng, float *p, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(scale * ibp_rng_normal(rng));
}

static void test_adam(double wd)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 7, 0);
    float p[N], g[N];
    double pd[N], m[N] = {0}, v[N] = {0};
    fill(&rng, p, N, 1.0);
    for (int i = 0; i < N; i++)
        pd[i] = p[i];
    struct ibp_optim_config cfg = ibp_optim_adam_defaults();
    cfg.weight_decay = wd;
    struct ibp_optim *o;
    struct ibp_error err = {0};
    CHECK_OK(ibp_optim_create(&cfg, N, &o, &err), err);
    double worst = 0;
    for (int t = 1; t <= 6; t++) {
        fill(&rng, g, N, t == 3 ? 1e-3 : 0.5);
        double lr = t <= 4 ? 5e-4 : 1e-4;
        ibp_optim_step(o, p, g, lr, 1);
        /* torch.optim.Adam (single tensor), in double */
        for (int i = 0; i < N; i++) {
            double gi = g[i] + wd * pd[i];
            m[i] = 0.9 * m[i] + 0.1 * gi;
            v[i] = 0.999 * v[i] + 0.001 * gi * gi;
            double bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.999, t);
            pd[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + 1e-8);
        }
        for (int i = 0; i < N; i++)
            worst = fmax(worst, fabs(p[i] - pd[i]));
    }
    CHECK(o->step == 6);
    /* float parameters/moments vs the double reference: a few ulps of |p| ~ 1 */
    CHECK_MSG(worst < 2e-6, "adam wd %g: max |p - ref| = %g", wd, worst);
    /* the first step moves every parameter by about lr (sign of the gradient) */
    ibp_optim_free(o);
}

static void test_adam_first_step(void)
{
    float p[3] = {1.0f, -2.0f, 0.0f}, g[3] = {0.3f, -4.0f, 0.0f};
    struct ibp_optim_config cfg = ibp_optim_adam_defaults();
    struct ibp_optim *o;
    struct ibp_error err = {0};
    CHECK_OK(ibp_optim_create(&cfg, 3, &o, &err), err);
    ibp_optim_step(o, p, g, 0.01, 1);
    /* m_hat = g, v_hat = g^2: step = lr g / (|g| + eps) */
    CHECK_NEAR(p[0], 1.0 - 0.01 * 0.3 / (0.3 + 1e-8), 1e-7);
    CHECK_NEAR(p[1], -2.0 + 0.01 * 4.0 / (4.0 + 1e-8), 1e-7);
    CHECK(p[2] == 0.0f);
    ibp_optim_free(o);
}

static void test_sgd(double momentum, int nesterov, double wd)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 11, 0);
    float p[N], g[N];
    double pd[N], buf[N] = {0};
    fill(&rng, p, N, 1.0);
    for (int i = 0; i < N; i++)
        pd[i] = p[i];
    struct ibp_optim_config cfg = {.kind = IBP_OPTIM_SGD, .momentum = momentum,
                                   .nesterov = nesterov, .weight_decay = wd};
    struct ibp_optim *o;
    struct ibp_error err = {0};
    CHECK_OK(ibp_optim_create(&cfg, N, &o, &err), err);
    double worst = 0;
    for (int t = 1; t <= 5; t++) {
        fill(&rng, g, N, 0.5);
        ibp_optim_step(o, p, g, 0.1, 1);
        for (int i = 0; i < N; i++) {
            double gi = g[i] + wd * pd[i], d = gi;
            if (momentum != 0) {
                buf[i] = t == 1 ? gi : momentum * buf[i] + gi;
                d = nesterov ? gi + momentum * buf[i] : buf[i];
            }
            pd[i] -= 0.1 * d;
        }
        for (int i = 0; i < N; i++)
            worst = fmax(worst, fabs(p[i] - pd[i]));
    }
    CHECK_MSG(worst < 2e-6, "sgd m %g n %d wd %g: max |p - ref| = %g", momentum, nesterov, wd,
              worst);
    CHECK((o->m != NULL) == (momentum != 0.0));
    ibp_optim_free(o);
}

static void test_bad_config(void)
{
    struct ibp_optim *o;
    struct ibp_error err = {0};
    struct ibp_optim_config c = ibp_optim_adam_defaults();
    c.beta1 = 1.0;
    CHECK(ibp_optim_create(&c, 4, &o, &err) == IBP_ERR_ARG && o == NULL);
    c = ibp_optim_adam_defaults();
    c.eps = 0;
    CHECK(ibp_optim_create(&c, 4, &o, &err) == IBP_ERR_ARG);
    c = ibp_optim_adam_defaults();
    c.weight_decay = -1;
    CHECK(ibp_optim_create(&c, 4, &o, &err) == IBP_ERR_ARG);
    c = (struct ibp_optim_config){.kind = IBP_OPTIM_SGD, .nesterov = 1};
    CHECK(ibp_optim_create(&c, 4, &o, &err) == IBP_ERR_ARG);
    c = (struct ibp_optim_config){.kind = IBP_OPTIM_SGD, .momentum = 1.0};
    CHECK(ibp_optim_create(&c, 4, &o, &err) == IBP_ERR_ARG);
    c.kind = (enum ibp_optim_kind)7;
    CHECK(ibp_optim_create(&c, 4, &o, &err) == IBP_ERR_ARG);
}

static void test_clip(void)
{
    float g[4] = {3.0f, 4.0f, 0.0f, 0.0f}; /* norm 5 */
    double n = ibp_grad_clip(g, 4, 10.0, 1);
    CHECK(n == 5.0);
    CHECK(g[0] == 3.0f && g[1] == 4.0f); /* 10/(5+1e-6) > 1: untouched */
    n = ibp_grad_clip(g, 4, 1.0, 1);
    CHECK(n == 5.0);
    double s = 1.0 / (5.0 + 1e-6);
    CHECK(g[0] == (float)(3.0 * s) && g[1] == (float)(4.0 * s));
    CHECK_NEAR(sqrt((double)g[0] * g[0] + (double)g[1] * g[1]), 1.0, 1e-6);
    /* norm exactly max_norm: scale max/(max+1e-6) < 1 still applies, as in torch */
    float h[1] = {2.0f};
    ibp_grad_clip(h, 1, 2.0, 1);
    CHECK(h[0] == (float)(2.0 * 2.0 / (2.0 + 1e-6)));
    /* a large norm summed in double (float would lose the small terms) */
    float *big = malloc(1000000 * sizeof *big);
    for (int i = 0; i < 1000000; i++)
        big[i] = 1e-3f;
    n = ibp_grad_clip(big, 1000000, 10.0, 1);
    CHECK_NEAR(n, sqrt(1e6 * (double)1e-3f * (double)1e-3f), 1e-10);
    free(big);
    /* non-finite norms are reported and leave the gradient alone */
    float bad[2] = {NAN, 1.0f};
    CHECK(isnan(ibp_grad_clip(bad, 2, 1.0, 1)) && bad[1] == 1.0f);
    float inf[2] = {INFINITY, 1.0f};
    CHECK(isinf(ibp_grad_clip(inf, 2, 1.0, 1)) && inf[1] == 1.0f);
    float off[1] = {100.0f};
    CHECK(ibp_grad_clip(off, 1, 0.0, 1) == 100.0 && off[0] == 100.0f);
}

/* Adam, SGD and the clip on several threads: the same bits as on one */
static void test_threads(void)
{
    const size_t n = 300007; /* above the parallel threshold, not a multiple of anything */
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 11, 0);
    float *p1 = malloc(n * sizeof(float)), *p3 = malloc(n * sizeof(float));
    float *g1 = malloc(n * sizeof(float)), *g3 = malloc(n * sizeof(float));
    fill(&rng, p1, n, 1.0);
    memcpy(p3, p1, n * sizeof(float));
    struct ibp_error err = {0};
    struct ibp_optim_config cfgs[2] = {ibp_optim_adam_defaults(),
                                       {.kind = IBP_OPTIM_SGD, .momentum = 0.9,
                                        .weight_decay = 1e-4}};
    for (int k = 0; k < 2; k++) {
        struct ibp_optim *a, *b;
        CHECK_OK(ibp_optim_create(&cfgs[k], n, &a, &err), err);
        CHECK_OK(ibp_optim_create(&cfgs[k], n, &b, &err), err);
        for (int t = 0; t < 3; t++) {
            fill(&rng, g1, n, 50.0);
            memcpy(g3, g1, n * sizeof(float));
            double n1 = ibp_grad_clip(g1, n, 10.0, 1), n3 = ibp_grad_clip(g3, n, 10.0, 3);
            CHECK(n1 == n3 && n1 > 10.0);
            CHECK(memcmp(g1, g3, n * sizeof(float)) == 0);
            ibp_optim_step(a, p1, g1, 1e-3, 1);
            ibp_optim_step(b, p3, g3, 1e-3, 3);
        }
        CHECK(memcmp(p1, p3, n * sizeof(float)) == 0);
        ibp_optim_free(a);
        ibp_optim_free(b);
    }
    free(p1);
    free(p3);
    free(g1);
    free(g3);
}

static void test_state(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 3, 0);
    float p[N], q[N], g[N];
    fill(&rng, p, N, 1.0);
    memcpy(q, p, sizeof p);
    struct ibp_optim_config cfg = ibp_optim_adam_defaults();
    struct ibp_optim *a, *b;
    struct ibp_error err = {0};
    CHECK_OK(ibp_optim_create(&cfg, N, &a, &err), err);
    CHECK_OK(ibp_optim_create(&cfg, N, &b, &err), err);
    for (int t = 0; t < 3; t++) {
        fill(&rng, g, N, 0.5);
        ibp_optim_step(a, p, g, 1e-3, 1);
    }
    struct ibp_wbuf w = {0};
    ibp_optim_state_save(a, &w);
    CHECK(!w.failed);
    struct ibp_rbuf r = {w.data, w.len, 0, 0};
    CHECK_OK(ibp_optim_state_load(b, &r, &err), err);
    CHECK(ibp_rbuf_left(&r) == 0);
    CHECK(b->step == 3);
    CHECK(memcmp(a->m, b->m, sizeof(float) * N) == 0 && memcmp(a->v, b->v, sizeof(float) * N) == 0);
    /* continuing from the restored state is bit-identical */
    memcpy(q, p, sizeof p);
    fill(&rng, g, N, 0.5);
    ibp_optim_step(a, p, g, 1e-3, 1);
    ibp_optim_step(b, q, g, 1e-3, 1);
    CHECK(memcmp(p, q, sizeof p) == 0);

    /* every truncation is refused and leaves the optimiser as it was */
    int64_t step = b->step;
    int all = 1;
    for (size_t len = 0; len < w.len; len++) {
        struct ibp_rbuf t = {w.data, len, 0, 0};
        all &= ibp_optim_state_load(b, &t, &err) == IBP_ERR_FORMAT;
    }
    CHECK(all);
    CHECK(b->step == step);
    /* wrong parameter count, wrong kind, NaN moment */
    struct ibp_optim *c;
    CHECK_OK(ibp_optim_create(&cfg, N - 1, &c, &err), err);
    struct ibp_rbuf r2 = {w.data, w.len, 0, 0};
    CHECK(ibp_optim_state_load(c, &r2, &err) == IBP_ERR_FORMAT);
    CHECK(strstr(err.msg, "37 parameters") != NULL);
    ibp_optim_free(c);
    struct ibp_optim_config sgd = {.kind = IBP_OPTIM_SGD, .momentum = 0.9};
    CHECK_OK(ibp_optim_create(&sgd, N, &c, &err), err);
    struct ibp_rbuf r3 = {w.data, w.len, 0, 0};
    CHECK(ibp_optim_state_load(c, &r3, &err) == IBP_ERR_FORMAT);
    ibp_optim_free(c);
    float nan = NAN;
    memcpy(w.data + w.len - 4, &nan, 4); /* last second moment (little-endian host) */
    struct ibp_rbuf r4 = {w.data, w.len, 0, 0};
    CHECK(ibp_optim_state_load(b, &r4, &err) == IBP_ERR_FORMAT);
    CHECK(strstr(err.msg, "non-finite") != NULL);
    ibp_wbuf_free(&w);
    ibp_optim_free(a);
    ibp_optim_free(b);
}

int main(void)
{
    test_adam(0.0);
    test_adam(1e-2);
    test_adam_first_step();
    test_sgd(0.0, 0, 0.0);
    test_sgd(0.9, 0, 0.0);
    test_sgd(0.9, 1, 5e-4);
    test_bad_config();
    test_clip();
    test_threads();
    test_state();
    return check_report();
}
