/* Input splitting (verifier/input_split.h) on random ReLU nets with 2-5 inputs: the
 * minimum of an output margin over the box is bracketed by a dense grid and a Lipschitz
 * bound, and properties on either side of the bracket must come out sat (with a point
 * the forward pass confirms) and unsat; plus a two-disjunct property and bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/rng.h"
#include "nets/graph/net.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "verifier/input_split.h"

#define HIDDEN 8
#define OUTPUTS 3

static struct ibp_net *random_net(int n, struct ibp_rng *rng)
{
    struct ibp_layer_spec L[5] = {
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = HIDDEN},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = HIDDEN},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = OUTPUTS},
    };
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    CHECK_OK(ibp_net_create((struct ibp_shape){n, 1, 1}, L, 5, &net, &err), err);
    for (size_t k = 0; net && k < net->n_params; k++)
        net->params[k] = (float)(2.0 * ibp_rng_uniform(rng) - 1.0) * 0.7f;
    return net;
}

/* ||W||_inf of the linear layers, multiplied: a Lipschitz constant (inf-norm) of z. */
static double lipschitz(const struct ibp_net *net)
{
    double L = 1.0;
    for (int k = 0; k < net->n_layers; k++) {
        if (net->layers[k].kind != IBP_LAYER_LINEAR)
            continue;
        const float *W = ibp_layer_weight(net, k);
        int out = net->layers[k].out, in = (int)ibp_shape_size(net->shapes[k]);
        double mx = 0.0;
        for (int o = 0; o < out; o++) {
            double s = 0.0;
            for (int i = 0; i < in; i++)
                s += fabs(W[o * in + i]);
            mx = fmax(mx, s);
        }
        L *= mx;
    }
    return L;
}

/* min over a grid of G points per dimension on [-1, 1]^n of z_0 - z_1. */
static double grid_min(const struct ibp_net *net, int n, int G)
{
    long total = 1;
    for (int i = 0; i < n; i++)
        total *= G;
    int chunk = 4096;
    float *x = malloc((size_t)chunk * (size_t)n * sizeof *x);
    float *z = malloc((size_t)chunk * OUTPUTS * sizeof *z);
    struct ibp_workspace *ws = NULL;
    struct ibp_error err = {0};
    CHECK_OK(ibp_ws_create(net, chunk, IBP_WS_CLEAN, &ws, &err), err);
    double best = INFINITY;
    for (long p0 = 0; ws && p0 < total; p0 += chunk) {
        int k = total - p0 < chunk ? (int)(total - p0) : chunk;
        for (int q = 0; q < k; q++) {
            long v = p0 + q;
            for (int i = 0; i < n; i++) {
                x[q * n + i] = (float)(-1.0 + 2.0 * (double)(v % G) / (G - 1));
                v /= G;
            }
        }
        CHECK_OK(ibp_pass_clean(net, ws, x, k, IBP_BN_EVAL, z, &err), err);
        for (int q = 0; q < k; q++)
            best = fmin(best, (double)z[q * OUTPUTS] - (double)z[q * OUTPUTS + 1]);
    }
    ibp_ws_free(ws);
    free(x);
    free(z);
    return best;
}

static double margin_at(const struct ibp_net *net, const float *x)
{
    struct ibp_workspace *ws = NULL;
    struct ibp_error err = {0};
    float z[OUTPUTS] = {0};
    CHECK_OK(ibp_ws_create(net, 1, IBP_WS_CLEAN, &ws, &err), err);
    CHECK_OK(ibp_pass_clean(net, ws, x, 1, IBP_BN_EVAL, z, &err), err);
    ibp_ws_free(ws);
    return (double)z[0] - (double)z[1];
}

static void test_random_nets(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 34, 0);
    float C[OUTPUTS] = {1, -1, 0};
    for (int t = 0; t < 8; t++) {
        int n = 2 + t % 4, G = n <= 3 ? 41 : 11;
        struct ibp_net *net = random_net(n, &rng);
        if (!net)
            return;
        float lo[5], hi[5], x[5];
        for (int i = 0; i < n; i++) {
            lo[i] = -1.0f;
            hi[i] = 1.0f;
        }
        double M = grid_min(net, n, G);
        double gap = lipschitz(net) * (1.0 / (G - 1)); /* half the grid spacing, times L */
        struct ibp_input_split_config cfg;
        ibp_input_split_config_default(&cfg);
        cfg.time_limit = 60;
        struct ibp_input_split_result res;
        struct ibp_error err = {0};
        /* violated iff z0 - z1 <= M + 0.01: a grid point does it */
        double off = -(M + 0.01);
        struct ibp_input_split_problem p = {.lo = lo, .hi = hi, .C = C, .offset = &off,
                                            .rows = 1};
        CHECK_OK(ibp_input_split_run(net, &p, &cfg, x, &res, &err), err);
        CHECK_MSG(res.answer == IBP_INPUT_SPLIT_SAT, "net %d (n %d): answer %d (%s)", t, n,
                  res.answer, res.why);
        if (res.answer == IBP_INPUT_SPLIT_SAT) {
            for (int i = 0; i < n; i++)
                CHECK(x[i] >= lo[i] && x[i] <= hi[i]);
            CHECK(margin_at(net, x) + off <= 0.0);
        }
        /* violated iff z0 - z1 <= M - gap - 0.01: below the true minimum */
        off = -(M - gap - 0.01);
        CHECK_OK(ibp_input_split_run(net, &p, &cfg, x, &res, &err), err);
        CHECK_MSG(res.answer == IBP_INPUT_SPLIT_UNSAT, "net %d (n %d): answer %d (%s), %ld domains",
                  t, n, res.answer, res.why, res.domains);
        ibp_net_free(net);
    }
}

/* Two disjuncts (z0 <= z1 - a) or (z2 <= z1 - a): unsat needs both refuted on every
 * sub-box; the tiny domain cap stops a search that needs more sub-boxes. */
static void test_disjuncts_and_cap(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 35, 0);
    struct ibp_net *net = random_net(3, &rng);
    if (!net)
        return;
    float lo[3] = {-1, -1, -1}, hi[3] = {1, 1, 1}, x[3];
    float C[2 * OUTPUTS] = {1, -1, 0, 0, -1, 1};
    double M = grid_min(net, 3, 41), gap = lipschitz(net) / 40.0;
    double off[2] = {-(M - gap - 0.01), 1e6};
    int dj[2] = {0, 1};
    struct ibp_input_split_problem p = {.lo = lo, .hi = hi, .C = C, .offset = off,
                                        .disjunct = dj, .rows = 2};
    struct ibp_input_split_config cfg;
    ibp_input_split_config_default(&cfg);
    struct ibp_input_split_result res;
    struct ibp_error err = {0};
    CHECK_OK(ibp_input_split_run(net, &p, &cfg, x, &res, &err), err);
    CHECK(res.answer == IBP_INPUT_SPLIT_UNSAT);
    long needed = res.domains;
    /* the second disjunct always holds (offset -1e6 would be needed; -(-1e6) holds) */
    off[1] = -1e6;
    CHECK_OK(ibp_input_split_run(net, &p, &cfg, x, &res, &err), err);
    CHECK(res.answer == IBP_INPUT_SPLIT_SAT);
    off[1] = 1e6;
    if (needed > 1) {
        cfg.max_domains = 1;
        CHECK_OK(ibp_input_split_run(net, &p, &cfg, x, &res, &err), err);
        CHECK(res.answer == IBP_INPUT_SPLIT_UNKNOWN && strcmp(res.why, "domain cap") == 0);
    }
    cfg.max_domains = 10;
    cfg.batch = 0;
    CHECK(ibp_input_split_run(net, &p, &cfg, x, &res, &err) == IBP_ERR_ARG);
    cfg.batch = 4;
    dj[1] = -1;
    CHECK(ibp_input_split_run(net, &p, &cfg, x, &res, &err) == IBP_ERR_ARG);
    dj[1] = 1;
    lo[1] = 2;
    CHECK(ibp_input_split_run(net, &p, &cfg, x, &res, &err) == IBP_ERR_ARG);
    ibp_net_free(net);
}

int main(void)
{
    test_random_nets();
    test_disjuncts_and_cap();
    return check_report();
}
