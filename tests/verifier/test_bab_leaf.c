/* LP leaves of branch and bound (verifier/bab_leaf.h) against exact answers.
 *
 * Checked:
 *  - fully split domains of random 2-input ReLU MLPs (exact_mlp.h: exact row ranges
 *    over the part of the box where an activation pattern holds, by enumeration): with
 *    each row's minimum placed a margin above 0 the leaf is closed, with one row's a
 *    margin below 0 it is sat with a point the forward pass confirms, and an empty
 *    pattern region is never sat (patterns from random points, and random patterns);
 *  - the LP of a net with BatchNorm contains the real network: at random points of a
 *    pattern's region, the double-precision activations satisfy every constraint;
 *  - a leaf whose solver optimum is positive while its true minimum is < 0 (an
 *    objective slope under the solver's tolerance) is not closed in sound mode, and is
 *    closed when the solver is trusted (sound = 0), so the re-check is what decides;
 *  - branch and bound with one β step per child (so that domains reach full split)
 *    returns the exact answer on random nets, never the reason "leaf", and the same
 *    verdict on 1 and 2 threads unless the 2-thread run ran out of time (slow under
 *    sanitizers on a loaded machine; counted in the summary line). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/rng.h"
#include "nets/bounds/domain_bounds.h"
#include "tests/common/check.h"
#include "tests/verifier/exact_mlp.h"
#include "verifier/bab.h"
#include "verifier/bab_leaf.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

static const float box_lo[2] = {-1, -1}, box_hi[2] = {1, 1};

/* The split of a pattern: its sign on the unstable neurons, 0 on the stable ones
 * (*agrees = 0 when the pattern contradicts a stable neuron's state). */
static void pattern_split(const struct ibp_dom_problem *p, const signed char *pattern,
                          signed char *split, int *agrees)
{
    *agrees = 1;
    for (int j = 0; j < ibp_dom_relus(p); j++) {
        double l, u;
        ibp_dom_relu_bounds(p, j, &l, &u);
        split[j] = ibp_dom_unstable(p, j) ? pattern[j] : 0;
        if (!ibp_dom_unstable(p, j))
            *agrees &= (l >= 0.0) == (pattern[j] > 0);
    }
}

struct leaf_tally {
    int closed, sat, open, empty, cases;
};

/* One pattern of net m: both placements of the rows (or the empty region). */
static void leaf_case(const struct ibp_net *net, const struct exact_mlp *m,
                      const signed char *pattern, struct leaf_tally *t)
{
    double mn[EXACT_ROWS], mx[EXACT_ROWS];
    int nonempty = exact_mlp_range(m, pattern, mn, mx);
    struct ibp_error err;
    for (int sat_case = 0; sat_case < 2; sat_case++) {
        float d[EXACT_ROWS] = {0, 0};
        for (int r = 0; nonempty && r < EXACT_ROWS; r++) {
            double delta = 0.05 * (mx[r] - mn[r]) + 1e-3;
            d[r] = (float)(-mn[r] + (sat_case && r == 0 ? -delta : delta));
        }
        struct ibp_dom_problem *p;
        CHECK_OK(ibp_dom_problem_create(net, box_lo, box_hi, exact_mlp_C, d, EXACT_ROWS, 1, 1,
                                        &p, &err), err);
        signed char split[2 * EXACT_MAXH];
        int agrees;
        pattern_split(p, pattern, split, &agrees);
        if (!agrees) { /* a stable neuron's other side: the region is empty */
            CHECK(!nonempty);
            ibp_dom_problem_free(p);
            return;
        }
        enum ibp_leaf_verdict v;
        float cex[2];
        int lps;
        CHECK_OK(ibp_leaf_decide(p, net, split, NULL, 1, 10.0, cex, &v, &lps, &err), err);
        t->cases++;
        t->closed += v == IBP_LEAF_CLOSED;
        t->sat += v == IBP_LEAF_SAT;
        t->open += v == IBP_LEAF_OPEN;
        if (!nonempty) {
            t->empty++;
            CHECK_MSG(v != IBP_LEAF_SAT, "empty region answered sat");
            CHECK_MSG(v == IBP_LEAF_CLOSED, "empty region left open (%d LPs)", lps);
        } else if (sat_case) {
            CHECK_MSG(v == IBP_LEAF_SAT, "row minimum %g below 0: verdict %d", mn[0] + d[0], v);
        } else {
            CHECK_MSG(v == IBP_LEAF_CLOSED, "row minima %g %g above 0: verdict %d",
                      mn[0] + d[0], mn[1] + d[1], v);
        }
        if (v == IBP_LEAF_SAT) {
            CHECK(exact_mlp_violated(net, d, cex));
            CHECK(cex[0] >= -1.0f && cex[0] <= 1.0f && cex[1] >= -1.0f && cex[1] <= 1.0f);
        }
        ibp_dom_problem_free(p);
        if (!nonempty)
            return; /* d does not matter */
    }
}

static void leaf_exact(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 316, 0);
    struct leaf_tally t = {0};
    for (int n = 0; n < 16; n++) {
        struct exact_mlp m;
        int h1 = 4 + (n % 4) * 3, h2 = 3 + (n % 3) * 3;
        struct ibp_net *net = exact_mlp_make(&rng, h1, h2, &m);
        CHECK(net != NULL);
        if (!net)
            continue;
        signed char pattern[2 * EXACT_MAXH];
        for (int k = 0; k < 6; k++) {
            double x[2] = {2.0 * ibp_rng_uniform(&rng) - 1.0, 2.0 * ibp_rng_uniform(&rng) - 1.0};
            exact_mlp_pattern(&m, x, pattern);
            leaf_case(net, &m, pattern, &t);
        }
        for (int k = 0; k < 4; k++) {
            for (int j = 0; j < h1 + h2; j++)
                pattern[j] = ibp_rng_uniform(&rng) < 0.5 ? 1 : -1;
            leaf_case(net, &m, pattern, &t);
        }
        ibp_net_free(net);
    }
    printf("leaf LPs: %d cases (%d empty regions): %d closed, %d sat, %d open\n", t.cases,
           t.empty, t.closed, t.sat, t.open);
}

/* Linear(2, H) BatchNorm ReLU Linear(H, 3), random BatchNorm statistics. */
enum { BN_H = 8 };

static void bn_contains_real(void)
{
    struct ibp_layer_spec s[4] = {L(.kind = IBP_LAYER_LINEAR, .out = BN_H),
                                  L(.kind = IBP_LAYER_BATCHNORM), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = 3)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){2, 1, 1}, s, 4, &net, &err), err);
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 77, 0);
    float *w = ibp_layer_weight(net, 0), *b = ibp_layer_bias(net, 0);
    for (int i = 0; i < 2 * BN_H; i++)
        w[i] = (float)ibp_rng_normal(&rng);
    for (int i = 0; i < BN_H; i++) {
        b[i] = (float)(0.5 * ibp_rng_normal(&rng));
        ibp_bn_gamma(net, 1)[i] = (float)(0.5 + ibp_rng_uniform(&rng)) * (i % 3 ? 1.0f : -1.0f);
        ibp_bn_beta(net, 1)[i] = (float)(0.3 * ibp_rng_normal(&rng));
        ibp_bn_running_mean(net, 1)[i] = (float)(0.2 * ibp_rng_normal(&rng));
        ibp_bn_running_var(net, 1)[i] = (float)(0.1 + ibp_rng_uniform(&rng));
    }
    float *w3 = ibp_layer_weight(net, 3);
    for (int i = 0; i < 3 * BN_H; i++)
        w3[i] = (float)ibp_rng_normal(&rng);
    float C[3] = {1, -1, 0};
    struct ibp_dom_problem *p;
    CHECK_OK(ibp_dom_problem_create(net, box_lo, box_hi, C, NULL, 1, 1, 1, &p, &err), err);
    double eps = net->layers[1].eps;
    int checked = 0;
    for (int k = 0; k < 40; k++) {
        /* a point, its real (double) activations, its pattern as the split */
        double x[2] = {2.0 * ibp_rng_uniform(&rng) - 1.0, 2.0 * ibp_rng_uniform(&rng) - 1.0};
        double v[2 + 2 * BN_H + 3];
        signed char pattern[BN_H], split[BN_H];
        v[0] = x[0];
        v[1] = x[1];
        for (int i = 0; i < BN_H; i++) {
            double z = (double)w[2 * i] * x[0] + (double)w[2 * i + 1] * x[1] + b[i];
            double sc = ibp_bn_gamma(net, 1)[i] / sqrt((double)ibp_bn_running_var(net, 1)[i] + eps);
            double y = sc * (z - ibp_bn_running_mean(net, 1)[i]) + ibp_bn_beta(net, 1)[i];
            v[2 + i] = z;
            v[2 + BN_H + i] = y;
            pattern[i] = y > 0 ? 1 : -1;
        }
        for (int o = 0; o < 3; o++) {
            double z = ibp_layer_bias(net, 3)[o];
            for (int i = 0; i < BN_H; i++)
                z += (double)w3[o * BN_H + i] * fmax(v[2 + BN_H + i], 0.0);
            v[2 + 2 * BN_H + o] = z;
        }
        int agrees;
        pattern_split(p, pattern, split, &agrees);
        CHECK(agrees);
        struct ibp_leaf_lp l;
        CHECK_OK(ibp_leaf_lp_build(p, split, IBP_LEAF_MAX_ENTRIES, &l, &err), err);
        CHECK(l.lp.n == 2 + 2 * BN_H + 3 && l.lp.m == 2 * (2 * BN_H + 3) && !l.empty);
        if (l.lp.n != 2 + 2 * BN_H + 3) {
            ibp_leaf_lp_free(&l);
            continue;
        }
        for (int j = 0; j < l.lp.n; j++)
            CHECK_MSG(v[j] >= l.lp.lo[j] - 1e-9 && v[j] <= l.lp.hi[j] + 1e-9,
                      "variable %d = %g outside [%g, %g]", j, v[j], l.lp.lo[j], l.lp.hi[j]);
        for (int i = 0; i < l.lp.m; i++) {
            double a = l.lp.d[i];
            for (long e = l.lp.row_start[i]; e < l.lp.row_start[i + 1]; e++)
                a += l.lp.val[e] * v[l.lp.col[e]];
            CHECK_MSG(a >= -1e-9, "constraint %d violated by the real point: %g", i, a);
        }
        checked++;
        ibp_leaf_lp_free(&l);
    }
    CHECK(checked == 40);
    ibp_dom_problem_free(p);
    ibp_net_free(net);
}

/* x in [0, 1000], z = x, h = relu(z), out = h, row -1e-8 out + 5e-6: really
 * 5e-6 - 1e-5 < 0 at x = 1000. The objective's slope is below the solver's dual
 * tolerance (1e-7), so it stops at x = 0 with the optimum 5e-6 > 0, where the forward
 * pass confirms nothing. */
static void solver_trap(void)
{
    struct ibp_layer_spec s[3] = {L(.kind = IBP_LAYER_LINEAR, .out = 1), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = 1)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){1, 1, 1}, s, 3, &net, &err), err);
    ibp_layer_weight(net, 0)[0] = 1.0f;
    ibp_layer_bias(net, 0)[0] = 0.0f;
    ibp_layer_weight(net, 2)[0] = 1.0f;
    ibp_layer_bias(net, 2)[0] = 0.0f;
    float lo = 0.0f, hi = 1000.0f, C = -1e-8f, d = 5e-6f;
    struct ibp_dom_problem *p;
    CHECK_OK(ibp_dom_problem_create(net, &lo, &hi, &C, &d, 1, 1, 1, &p, &err), err);
    signed char split[1] = {(signed char)(ibp_dom_unstable(p, 0) ? 1 : 0)};
    struct ibp_leaf_lp l;
    CHECK_OK(ibp_leaf_lp_build(p, split, IBP_LEAF_MAX_ENTRIES, &l, &err), err);
    ibp_leaf_lp_set_row(p, &l, 0);
    struct ibp_lp_result res;
    double xs[8], y[8];
    CHECK(l.lp.n <= 8 && l.lp.m <= 8);
    CHECK_OK(ibp_lp_solve(&l.lp, 0, xs, y, &res, &err), err);
    CHECK_MSG(res.status == IBP_LP_OPTIMAL && res.objective > 0.0,
              "the trap needs a positive solver optimum: status %d, objective %g", res.status,
              res.objective);
    ibp_leaf_lp_free(&l);
    enum ibp_leaf_verdict v;
    CHECK_OK(ibp_leaf_decide(p, net, split, NULL, 1, 5.0, NULL, &v, NULL, &err), err);
    CHECK_MSG(v != IBP_LEAF_CLOSED, "sound mode closed a leaf whose true minimum is -5e-6");
    CHECK_OK(ibp_leaf_decide(p, net, split, NULL, 0, 5.0, NULL, &v, NULL, &err), err);
    CHECK_MSG(v == IBP_LEAF_CLOSED, "trusting the solver should close it (the trap): %d", v);
    ibp_dom_problem_free(p);
    /* branch and bound: the leaf stays open for the LP, the attack then finds x = 1000 */
    struct ibp_bab_config cfg = ibp_bab_config_default();
    cfg.timeout_s = 5.0;
    struct ibp_bab_result r;
    float cex;
    CHECK_OK(ibp_bab_run(net, &lo, &hi, &C, &d, 1, &cfg, &cex, &r, &err), err);
    CHECK_MSG(r.verdict == IBP_BAB_SAT, "verdict %d (%s)", r.verdict, ibp_bab_reason_name(r.reason));
    ibp_net_free(net);
}

static void bab_full_split(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 4242, 0);
    int agree = 0, total = 0, maxd = 0, timed_out = 0;
    double secs = 0.0;
    for (int t = 0; t < 12; t++) {
        struct exact_mlp m;
        int h1 = 6 + (t % 3) * 4, h2 = 4 + (t % 2) * 4; /* 10 .. 26 ReLUs */
        struct ibp_net *net = exact_mlp_make(&rng, h1, h2, &m);
        CHECK(net != NULL);
        if (!net)
            continue;
        double mn[EXACT_ROWS], mx[EXACT_ROWS];
        exact_mlp_range(&m, NULL, mn, mx);
        for (int sat_case = 0; sat_case < 2; sat_case++) {
            float d[EXACT_ROWS];
            int truth_unsat = exact_mlp_offsets(mn, mx, 0.02, sat_case ? t % EXACT_ROWS : -1, d);
            struct ibp_bab_config cfg = ibp_bab_config_default();
            cfg.timeout_s = 60.0;
            cfg.batch = 4;
            cfg.steps = 1;
            struct ibp_bab_result r1, r2;
            struct ibp_error err;
            float cex[2];
            CHECK_OK(ibp_bab_run(net, box_lo, box_hi, exact_mlp_C, d, EXACT_ROWS, &cfg, cex, &r1,
                                 &err), err);
            cfg.threads = 2;
            CHECK_OK(ibp_bab_run(net, box_lo, box_hi, exact_mlp_C, d, EXACT_ROWS, &cfg, NULL, &r2,
                                 &err), err);
            total++;
            maxd = r1.max_depth > maxd ? r1.max_depth : maxd;
            int want = truth_unsat ? IBP_BAB_UNSAT : IBP_BAB_SAT;
            agree += (int)r1.verdict == want;
            CHECK_MSG((int)r1.verdict == want, "net %d case %d: verdict %d (%s), exact %s", t,
                      sat_case, (int)r1.verdict, ibp_bab_reason_name(r1.reason),
                      truth_unsat ? "unsat" : "sat");
            CHECK(!(r1.verdict == IBP_BAB_UNSAT && !truth_unsat));
            CHECK(r1.reason != IBP_BAB_LEAF && r2.reason != IBP_BAB_LEAF);
            if (r1.verdict == IBP_BAB_SAT)
                CHECK(exact_mlp_violated(net, d, cex));
            /* the verdict depends on the thread count only through the time limit */
            timed_out += r2.reason == IBP_BAB_TIME;
            CHECK_MSG(r1.verdict == r2.verdict || r2.reason == IBP_BAB_TIME,
                      "net %d case %d: 1 thread %d, 2 threads %d (%s)", t, sat_case,
                      (int)r1.verdict, (int)r2.verdict, ibp_bab_reason_name(r2.reason));
            secs += r1.seconds;
        }
        ibp_net_free(net);
    }
    printf("branch and bound, 1 beta step: %d of %d exact, deepest split %d, %.1f s on 1 "
           "thread, %d 2-thread runs out of time\n", agree, total, maxd, secs, timed_out);
}

int main(void)
{
    solver_trap();
    bn_contains_real();
    leaf_exact();
    bab_full_split();
    return check_report();
}
