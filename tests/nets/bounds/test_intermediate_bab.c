/* Intermediate bounds by branch and bound (nets/bounds/intermediate_bab.h) and the
 * one-row-per-domain bounds under it (ibp_dom_bound_rows): a domain bounding row r
 * alone gets the bound row r gets among all rows; on random MLPs with three hidden
 * layers, after intermediate α-CROWN, the refined bounds of every layer only narrow,
 * hold at sampled points of the box (pre-activations computed here in double from the
 * weights), and are narrower than α-CROWN's somewhere. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/alpha_crown.h"
#include "nets/bounds/domain_bounds.h"
#include "nets/bounds/intermediate_bab.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})
#define HIDDEN 3

static struct ibp_net *random_mlp(struct ibp_rng *rng, int in, const int *h, int out)
{
    struct ibp_layer_spec s[2 * HIDDEN + 1];
    int n = 0;
    for (int k = 0; k < HIDDEN; k++) {
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = h[k]);
        s[n++] = L(.kind = IBP_LAYER_RELU);
    }
    s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = out);
    return fixture_build((struct ibp_shape){in, 1, 1}, s, n, rng);
}

/* Domains with random splits: bounding row r alone equals row r among all rows. */
static void check_bound_rows(const struct ibp_dom_problem *p, struct ibp_rng *rng)
{
    int rows = ibp_dom_rows(p), N = ibp_dom_relus(p), nd = 5;
    size_t rn = (size_t)rows * N;
    signed char *split = calloc((size_t)nd * N, 1), *sp1 = calloc((size_t)nd * N, 1);
    double *alpha = malloc((size_t)nd * rn * sizeof(double)), *beta = malloc((size_t)nd * rn * sizeof(double));
    double *a1 = malloc((size_t)nd * N * sizeof(double)), *b1 = malloc((size_t)nd * N * sizeof(double));
    double *lb = malloc((size_t)nd * rows * sizeof(double)), lb1[5];
    int row[5];
    for (size_t i = 0; i < (size_t)nd * N; i++)
        split[i] = (signed char)((int)ibp_rng_below(rng, 3) - 1);
    for (size_t i = 0; i < (size_t)nd * rn; i++) {
        alpha[i] = ibp_rng_uniform(rng);
        beta[i] = ibp_rng_uniform(rng);
    }
    for (int d = 0; d < nd; d++) {
        row[d] = (int)ibp_rng_below(rng, (uint64_t)rows);
        memcpy(sp1 + (size_t)d * N, split + (size_t)d * N, (size_t)N);
        memcpy(a1 + (size_t)d * N, alpha + ((size_t)d * rows + row[d]) * N, (size_t)N * sizeof(double));
        memcpy(b1 + (size_t)d * N, beta + ((size_t)d * rows + row[d]) * N, (size_t)N * sizeof(double));
    }
    struct ibp_error err;
    for (int sound = 0; sound < 2; sound++) {
        CHECK_OK(ibp_dom_bound(p, nd, split, alpha, beta, sound, lb, NULL, &err), err);
        CHECK_OK(ibp_dom_bound_rows(p, nd, row, sp1, a1, b1, sound, lb1, NULL, &err), err);
        for (int d = 0; d < nd; d++) {
            double v = lb[(size_t)d * rows + row[d]];
            CHECK_MSG(fabs(v - lb1[d]) <= 1e-9 * (1.0 + fabs(v)),
                      "one row per domain: %.17g, among all rows %.17g", lb1[d], v);
        }
    }
    row[0] = rows;
    CHECK(ibp_dom_bound_rows(p, 1, row, sp1, a1, b1, 0, lb1, NULL, &err) == IBP_ERR_ARG);
    free(split);
    free(sp1);
    free(alpha);
    free(beta);
    free(a1);
    free(b1);
    free(lb);
}

/* Refines every layer after intermediate α-CROWN; returns the total narrowing. */
static double check_refined(struct ibp_net *net, struct ibp_dom_problem *p, const float *lo,
                            const float *hi, const int *h, struct ibp_rng *rng)
{
    int N = ibp_dom_relus(p);
    struct ibp_error err;
    CHECK_OK(ibp_alpha_crown_intermediate(p, NULL, 1, 1, &err), err);
    double *l0 = malloc((size_t)N * sizeof(double)), *u0 = malloc((size_t)N * sizeof(double));
    for (int j = 0; j < N; j++)
        ibp_dom_relu_bounds(p, j, &l0[j], &u0[j]);
    struct ibp_ibab_config cfg = ibp_ibab_config_default();
    cfg.budget = 16;
    for (int m = 1; m < ibp_dom_relu_layers(p); m++)
        CHECK_OK(ibp_intermediate_bab(p, m, &cfg, 1, &err), err);
    CHECK(ibp_intermediate_bab(p, 0, &cfg, 1, &err) == IBP_ERR_ARG);
    int narrow = 1, hold = 1;
    double gain = 0.0;
    for (int j = 0; j < N; j++) {
        double l, u;
        ibp_dom_relu_bounds(p, j, &l, &u);
        narrow &= l >= l0[j] && u <= u0[j];
        gain += (u0[j] - l0[j]) - (u - l);
    }
    CHECK_MSG(narrow, "branch and bound widened an intermediate bound");
    int n0 = (int)ibp_shape_size(net->input);
    double x[8], a[2][32];
    for (int t = 0; t < 4000; t++) {
        for (int i = 0; i < n0; i++) {
            double r = ibp_rng_uniform(rng);
            x[i] = t % 2 ? lo[i] + r * (hi[i] - lo[i]) : (r < 0.5 ? lo[i] : hi[i]);
        }
        const double *in = x;
        int n_in = n0, j0 = 0;
        for (int k = 0; k < HIDDEN; k++) {
            const float *W = ibp_layer_weight(net, 2 * k), *b = ibp_layer_bias(net, 2 * k);
            for (int o = 0; o < h[k]; o++) {
                double z = b[o], l, u;
                for (int i = 0; i < n_in; i++)
                    z += (double)W[(size_t)o * n_in + i] * in[i];
                ibp_dom_relu_bounds(p, j0 + o, &l, &u);
                hold &= z >= l - 1e-6 * (1.0 + fabs(z)) && z <= u + 1e-6 * (1.0 + fabs(z));
                a[k % 2][o] = z > 0.0 ? z : 0.0;
            }
            in = a[k % 2];
            n_in = h[k];
            j0 += h[k];
        }
    }
    CHECK_MSG(hold, "a sampled pre-activation outside the refined bounds");
    free(l0);
    free(u0);
    return gain;
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 2026, 12);
    double gain = 0.0;
    for (int t = 0; t < 5; t++) {
        int in = 3 + t % 3, h[HIDDEN] = {10 + 2 * t, 12, 8 + t}, out = 4;
        struct ibp_net *net = random_mlp(&rng, in, h, out);
        float lo[8], hi[8], C[3 * 4] = {0};
        for (int i = 0; i < in; i++) {
            float c = (float)ibp_rng_uniform(&rng);
            lo[i] = c - 0.5f;
            hi[i] = c + 0.5f;
        }
        for (int r = 0; r < out - 1; r++) {
            C[r * out] = 1.0f;
            C[r * out + r + 1] = -1.0f;
        }
        struct ibp_dom_problem *p;
        struct ibp_error err;
        if (ibp_dom_problem_create(net, lo, hi, C, NULL, out - 1, 1, 1, &p, &err) != IBP_OK) {
            CHECK_MSG(0, "problem: %s", err.msg);
            ibp_net_free(net);
            continue;
        }
        check_bound_rows(p, &rng);
        double g = check_refined(net, p, lo, hi, h, &rng);
        printf("net %d: bound widths narrowed by %g beyond alpha-crown\n", t, g);
        gain += g;
        ibp_dom_problem_free(p);
        ibp_net_free(net);
    }
    CHECK_MSG(gain > 0.0, "branch and bound narrowed no intermediate bound");
    return check_report();
}
