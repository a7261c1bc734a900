/* Soundness of every bound method (IBP, CROWN-IBP, CROWN; float and sound mode): on
 * random networks of every fixture and random boxes, the margins z_y - z_j computed in
 * double precision (the reference forward pass) at uniformly sampled points, at random
 * corners of the box and at points found by projected gradient descent on each margin
 * never fall below the lower bounds. Sound mode gets no tolerance; float mode may be
 * off by float rounding only (1e-5 of the bound's magnitude). */
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/bounds.h"
#include "tests/common/check.h"
#include "tests/common/ref_net.h"
#include "tests/common/fixture.h"

enum { BOXES = 3, CHUNK = 128, SAMPLE_CHUNKS = 4, CORNER_CHUNKS = 2, PGD_STEPS = 20 };

struct method_lb {
    enum ibp_bound_method m;
    int sound;
    float lb[16];
};

/* worst (lb - margin) over the points, per method; counts violations */
static int check_points(const struct ibp_net *net, const float *pts, int n_pts, int y,
                        const struct method_lb *ml, int n_ml, double *worst)
{
    size_t n = ibp_shape_size(net->input);
    int K = ibp_net_outputs(net), bad = 0;
    double *xd = malloc(sizeof(double) * (size_t)n_pts * n);
    for (size_t i = 0; i < (size_t)n_pts * n; i++)
        xd[i] = pts[i];
    struct ref_out out;
    ref_run(net, NULL, xd, NULL, NULL, n_pts, 0, NULL, 0, &out);
    for (int p = 0; p < n_pts; p++)
        for (int r = 0; r < K - 1; r++) {
            int j = r < y ? r : r + 1;
            double margin = out.logits[(size_t)p * K + y] - out.logits[(size_t)p * K + j];
            for (int i = 0; i < n_ml; i++) {
                double lb = ml[i].lb[r];
                double tol = ml[i].sound ? 0.0 : 1e-5 * (1.0 + fabs(lb));
                if (margin < lb - tol) {
                    bad++;
                    *worst = fmax(*worst, lb - margin);
                }
            }
        }
    ref_out_free(&out);
    free(xd);
    return bad;
}

static void test_net(int f, struct ibp_rng *rng)
{
    struct ibp_net *net = fixture_net(f, rng);
    int K = ibp_net_outputs(net);
    size_t n = ibp_shape_size(net->input);
    struct ibp_error err;
    struct ibp_workspace *wc;
    CHECK_OK(ibp_ws_create(net, CHUNK, IBP_WS_CLEAN | IBP_WS_GRAD, &wc, &err), err);
    float *lo = malloc(sizeof(float) * n), *hi = malloc(sizeof(float) * n);
    float *pts = malloc(sizeof(float) * CHUNK * n), *g = malloc(sizeof(float) * CHUNK * n);
    float *gl = malloc(sizeof(float) * CHUNK * (size_t)K), *logits = malloc(sizeof(float) * CHUNK * (size_t)K);
    struct method_lb ml[6];
    int n_ml = 0, has_max = ibp_net_count_kind(net, IBP_LAYER_MAXPOOL) > 0;
    for (int m = IBP_BOUND_IBP; m <= IBP_BOUND_CROWN; m++)
        for (int s = 0; s < 2; s++)
            if (m == IBP_BOUND_IBP || !has_max)
                ml[n_ml++] = (struct method_lb){(enum ibp_bound_method)m, s, {0}};
    int bad = 0, total = 0;
    double worst = 0.0;
    for (int bx = 0; bx < BOXES; bx++) {
        double eps = 0.02 + 0.06 * bx;
        for (size_t i = 0; i < n; i++) {
            float x = (float)ibp_rng_uniform(rng);
            lo[i] = x - (float)eps;
            hi[i] = x + (float)eps;
        }
        int y = (int)ibp_rng_below(rng, (uint64_t)K);
        struct ibp_spec spec = {.labels = &y};
        for (int i = 0; i < n_ml; i++) {
            struct ibp_bounder_config cfg = {ml[i].m, ml[i].sound, 1, K - 1};
            struct ibp_bounder *b;
            CHECK_OK(ibp_bounder_create(net, &cfg, &b, &err), err);
            CHECK_OK(ibp_bounder_run(net, b, lo, hi, 1, &spec, ml[i].lb, &err), err);
            ibp_bounder_free(b);
        }
        for (int c = 0; c < SAMPLE_CHUNKS + CORNER_CHUNKS; c++) {
            for (size_t i = 0; i < CHUNK * n; i++) {
                size_t j = i % n;
                double u = c >= SAMPLE_CHUNKS ? (double)(ibp_rng_next(rng) & 1)
                                              : ibp_rng_uniform(rng);
                pts[i] = lo[j] + (float)u * (hi[j] - lo[j]);
            }
            bad += check_points(net, pts, CHUNK, y, ml, n_ml, &worst);
            total += CHUNK;
        }
        /* projected gradient descent on each margin */
        for (int r = 0; r < K - 1; r++) {
            int j = r < y ? r : r + 1;
            for (size_t i = 0; i < CHUNK * n; i++)
                pts[i] = lo[i % n] + (float)ibp_rng_uniform(rng) * (hi[i % n] - lo[i % n]);
            for (int step = 0; step < PGD_STEPS; step++) {
                CHECK_OK(ibp_pass_clean(net, wc, pts, CHUNK, IBP_BN_EVAL, logits, &err), err);
                memset(gl, 0, sizeof(float) * CHUNK * (size_t)K);
                for (int s = 0; s < CHUNK; s++) {
                    gl[s * K + y] = 1.0f;
                    gl[s * K + j] = -1.0f;
                }
                CHECK_OK(ibp_pass_input_grad(net, wc, gl, g, &err), err);
                for (size_t i = 0; i < CHUNK * n; i++) {
                    size_t q = i % n;
                    float st = 0.2f * (hi[q] - lo[q]);
                    float v = pts[i] - (g[i] > 0 ? st : (g[i] < 0 ? -st : 0.0f));
                    pts[i] = v < lo[q] ? lo[q] : (v > hi[q] ? hi[q] : v);
                }
            }
            bad += check_points(net, pts, CHUNK, y, ml, n_ml, &worst);
            total += CHUNK;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d violations of %d points x %d methods (worst by %.3g)",
              fixture_name(f), bad, total, n_ml, worst);
    printf("%s: %d points, %d methods, all margins above the bounds\n", fixture_name(f), total,
           n_ml);
    free(lo);
    free(hi);
    free(pts);
    free(g);
    free(gl);
    free(logits);
    ibp_ws_free(wc);
    ibp_net_free(net);
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 4242, 0);
    for (int f = 0; f < FIXTURE_COUNT; f++)
        test_net(f, &rng);
    return check_report();
}
