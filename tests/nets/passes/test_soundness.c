/* Soundness of IBP: for random networks of every fixture (all layer kinds) and random
 * boxes, the concrete forward pass at >= 10 000 sampled points per network, at random
 * corners of the box, and at points found by projected gradient ascent on each margin,
 * never leaves the IBP bounds (eval-mode BN). The bounds are computed in float32 with
 * round-to-nearest, so a point may exceed them by float rounding only: the tolerance is
 * 1e-5 of the bound's magnitude (the verifier's sound mode removes even that). */
#include <stdlib.h>
#include <string.h>

#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"

enum { BOXES = 4, SAMPLES_PER_BOX = 2560, CHUNK = 256, PGD_STEPS = 30 };

struct box {
    float *lo, *hi;
    float lb[16], ub[16]; /* output bounds */
    float mlb[16];        /* margin lower bounds, label 0 */
};

static int violations(const float *out, const struct box *bx, int K, int n, double *worst)
{
    int bad = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            float v = out[i * K + k];
            float tol_l = 1e-5f * (1.0f + fabsf(bx->lb[k])), tol_u = 1e-5f * (1.0f + fabsf(bx->ub[k]));
            double e = fmax(bx->lb[k] - v - tol_l, v - bx->ub[k] - tol_u);
            if (e > 0) {
                bad++;
                *worst = e > *worst ? e : *worst;
            }
            if (k > 0) {
                float m = out[i * K] - v, tol = 1e-5f * (1.0f + fabsf(bx->mlb[k - 1]));
                if (m < bx->mlb[k - 1] - tol) {
                    bad++;
                    *worst = fmax(*worst, bx->mlb[k - 1] - m);
                }
            }
        }
    return bad;
}

static void test_net(int f, struct ibp_rng *rng)
{
    struct ibp_net *net = fixture_net(f, rng);
    int K = ibp_net_outputs(net);
    size_t n = ibp_shape_size(net->input);
    struct ibp_error err;
    struct ibp_workspace *wb, *wc;
    CHECK_OK(ibp_ws_create(net, 1, IBP_WS_BOUNDS, &wb, &err), err);
    CHECK_OK(ibp_ws_create(net, CHUNK, IBP_WS_CLEAN | IBP_WS_GRAD, &wc, &err), err);
    float *pts = malloc(sizeof(float) * CHUNK * n), *out = malloc(sizeof(float) * CHUNK * K);
    float *g = malloc(sizeof(float) * CHUNK * n), *gl = calloc((size_t)CHUNK * K, sizeof(float));
    struct box bx = {malloc(sizeof(float) * n), malloc(sizeof(float) * n), {0}, {0}, {0}};
    int total = 0, bad = 0;
    double worst = 0;
    for (int b = 0; b < BOXES; b++) {
        double eps = 0.01 + 0.1 * b;
        for (size_t i = 0; i < n; i++) {
            float x = (float)ibp_rng_uniform(rng);
            bx.lo[i] = x - (float)eps;
            bx.hi[i] = x + (float)eps;
        }
        CHECK_OK(ibp_pass_bounds(net, wb, bx.lo, bx.hi, 1, NULL, IBP_BN_EVAL, bx.lb, bx.ub, &err),
                 err);
        int label0 = 0;
        struct ibp_spec spec = {.labels = &label0};
        CHECK_OK(ibp_pass_bounds(net, wb, bx.lo, bx.hi, 1, &spec, IBP_BN_EVAL, bx.mlb, NULL, &err),
                 err);
        /* uniform samples, then random corners */
        for (int rep = 0; rep < SAMPLES_PER_BOX / CHUNK + 2; rep++) {
            int corners = rep >= SAMPLES_PER_BOX / CHUNK;
            for (size_t i = 0; i < CHUNK * n; i++) {
                size_t j = i % n;
                double u = corners ? (double)(ibp_rng_next(rng) & 1) : ibp_rng_uniform(rng);
                pts[i] = bx.lo[j] + (float)u * (bx.hi[j] - bx.lo[j]);
            }
            CHECK_OK(ibp_pass_clean(net, wc, pts, CHUNK, IBP_BN_EVAL, out, &err), err);
            bad += violations(out, &bx, K, CHUNK, &worst);
            total += CHUNK;
        }
        /* projected gradient ascent on each output and each margin, from random starts */
        for (int target = 0; target < 2 * K; target++) {
            for (size_t i = 0; i < CHUNK * n; i++)
                pts[i] = bx.lo[i % n] + (float)ibp_rng_uniform(rng) * (bx.hi[i % n] - bx.lo[i % n]);
            for (int step = 0; step < PGD_STEPS; step++) {
                CHECK_OK(ibp_pass_clean(net, wc, pts, CHUNK, IBP_BN_EVAL, out, &err), err);
                memset(gl, 0, sizeof(float) * CHUNK * K);
                for (int s = 0; s < CHUNK; s++) {
                    if (target < K) {
                        gl[s * K + target] = (s & 1) ? 1.0f : -1.0f; /* push up and down */
                    } else if (target - K > 0) {
                        gl[s * K] = -1.0f; /* minimise margin z_0 - z_j */
                        gl[s * K + target - K] = 1.0f;
                    }
                }
                CHECK_OK(ibp_pass_input_grad(net, wc, gl, g, &err), err);
                for (size_t i = 0; i < CHUNK * n; i++) {
                    size_t j = i % n;
                    float step_size = 0.25f * (bx.hi[j] - bx.lo[j]);
                    float v = pts[i] + (g[i] > 0 ? step_size : (g[i] < 0 ? -step_size : 0.0f));
                    pts[i] = v < bx.lo[j] ? bx.lo[j] : (v > bx.hi[j] ? bx.hi[j] : v);
                }
            }
            CHECK_OK(ibp_pass_clean(net, wc, pts, CHUNK, IBP_BN_EVAL, out, &err), err);
            bad += violations(out, &bx, K, CHUNK, &worst);
            total += CHUNK;
        }
    }
    CHECK_MSG(total >= 10000, "%s: only %d points", fixture_name(f), total);
    CHECK_MSG(bad == 0, "%s: %d of %d points outside the IBP bounds (worst by %.3g)",
              fixture_name(f), bad, total, worst);
    printf("%s: %d points inside the bounds\n", fixture_name(f), total);
    free(pts);
    free(out);
    free(g);
    free(gl);
    free(bx.lo);
    free(bx.hi);
    ibp_ws_free(wb);
    ibp_ws_free(wc);
    ibp_net_free(net);
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 2024, 0);
    for (int f = 0; f < FIXTURE_COUNT; f++)
        test_net(f, &rng);
    return check_report();
}
