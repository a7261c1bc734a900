/* Branch and bound (verifier/bab.h) against exact answers.
 *
 * Nets: random 2-input ReLU MLPs (up to 40 ReLUs) on the box [-1, 1]^2 with exact row
 * ranges from enumerated activation patterns (exact_mlp.h); the properties are placed
 * 5% of each row's range away from the threshold, so rounding cannot change their
 * answer.
 *
 * Checked: the verdict equals the exact answer (never unsat when a counterexample
 * exists; a sat point really violates a row); 1 and 2 threads give the same verdict and
 * the same number of domains; a net whose round-to-nearest bound certifies a false
 * property is not certified in sound mode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/alpha_crown.h"
#include "nets/bounds/domain_bounds.h"
#include "nets/base/rng.h"
#include "tests/common/check.h"
#include "tests/verifier/exact_mlp.h"
#include "verifier/bab.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

static void exact_nets(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 2016, 0);
    const float *C = exact_mlp_C;
    float lo[2] = {-1, -1}, hi[2] = {1, 1};
    int agree = 0, total = 0, unknown = 0;
    long dom_total = 0;
    for (int t = 0; t < 40; t++) {
        struct exact_mlp m;
        int h1 = 6 + (t % 4) * 4, h2 = 4 + (t % 3) * 4; /* 10 .. 38 ReLUs */
        struct ibp_net *net = exact_mlp_make(&rng, h1, h2, &m);
        CHECK(net != NULL);
        if (!net)
            continue;
        double mn[EXACT_ROWS], mx[EXACT_ROWS];
        exact_mlp_range(&m, NULL, mn, mx);
        for (int sat_case = 0; sat_case < 2; sat_case++) {
            float d[EXACT_ROWS];
            int truth_unsat = exact_mlp_offsets(mn, mx, 0.05, sat_case ? t % EXACT_ROWS : -1, d);
            struct ibp_bab_config cfg = ibp_bab_config_default();
            cfg.timeout_s = 30.0;
            cfg.batch = 8;
            struct ibp_bab_result r1, r2;
            struct ibp_error err;
            float cex[2];
            CHECK(ibp_bab_run(net, lo, hi, C, d, EXACT_ROWS, &cfg, cex, &r1, &err) == IBP_OK);
            /* two threads on every fourth net, with a limit that a loaded machine (other
             * tests running beside this one) does not reach: the same domains */
            cfg.threads = 2;
            cfg.timeout_s = 240.0;
            int both = t % 4 == 0;
            memset(&r2, 0, sizeof r2);
            if (both)
                CHECK(ibp_bab_run(net, lo, hi, C, d, EXACT_ROWS, &cfg, NULL, &r2, &err) == IBP_OK);
            total++;
            dom_total += r1.domains;
            int want = truth_unsat ? IBP_BAB_UNSAT : IBP_BAB_SAT;
            agree += (int)r1.verdict == want;
            unknown += r1.verdict == IBP_BAB_UNKNOWN;
            CHECK_MSG((int)r1.verdict == want, "net %d (%d relus) case %d: verdict %d (%s), "
                      "exact %s, %ld domains", t, h1 + h2, sat_case, (int)r1.verdict,
                      ibp_bab_reason_name(r1.reason), truth_unsat ? "unsat" : "sat", r1.domains);
            CHECK(!(r1.verdict == IBP_BAB_UNSAT && !truth_unsat));
            if (r1.verdict == IBP_BAB_SAT)
                CHECK(exact_mlp_violated(net, d, cex));
            CHECK_MSG(!both || (r1.verdict == r2.verdict && r1.domains == r2.domains),
                      "net %d case %d: threads 1: verdict %d (%s), %ld domains, %.2f s; "
                      "threads 2: %d (%s), %ld, %.2f s", t, sat_case, (int)r1.verdict,
                      ibp_bab_reason_name(r1.reason), r1.domains, r1.seconds,
                      (int)r2.verdict, ibp_bab_reason_name(r2.reason), r2.domains, r2.seconds);
        }
        ibp_net_free(net);
    }
    printf("exact nets: %d of %d verdicts equal the exact answer, %d unknown, %ld domains\n",
           agree, total, unknown, dom_total);
}

/* x = 0.25, h = relu(x + 2^54), out = h - 2^54, row out - 0.5: really 0.25 - 0.5 < 0.
 * The round-to-nearest backward pass adds -0.5 to -2^54 (the -0.5 is lost), then 2^54,
 * then 0.25: it claims 0.25 > 0. */
static void sound_trap(void)
{
    struct ibp_layer_spec s[3] = {L(.kind = IBP_LAYER_LINEAR, .out = 1), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = 1)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK(ibp_net_create((struct ibp_shape){1, 1, 1}, s, 3, &net, &err) == IBP_OK);
    ibp_layer_weight(net, 0)[0] = 1.0f;
    ibp_layer_bias(net, 0)[0] = 0x1p54f;
    ibp_layer_weight(net, 2)[0] = 1.0f;
    ibp_layer_bias(net, 2)[0] = -0x1p54f;
    float x = 0.25f, C = 1.0f, d = -0.5f, lb, own;
    struct ibp_dom_problem *p;
    CHECK(ibp_dom_problem_create(net, &x, &x, &C, &d, 1, 0, 1, &p, &err) == IBP_OK);
    CHECK(ibp_alpha_crown(p, NULL, 0, NULL, &lb, &own, &err) == IBP_OK);
    CHECK_MSG(own > 0.0f, "round-to-nearest bound %g (the trap needs it > 0)", own);
    ibp_dom_problem_free(p);
    CHECK(ibp_dom_problem_create(net, &x, &x, &C, &d, 1, 1, 1, &p, &err) == IBP_OK);
    CHECK(ibp_alpha_crown(p, NULL, 1, NULL, &lb, &own, &err) == IBP_OK);
    CHECK_MSG(lb <= 0.0f && own <= 0.0f, "sound bound %g, own %g", lb, own);
    ibp_dom_problem_free(p);
    struct ibp_bab_config cfg = ibp_bab_config_default();
    cfg.timeout_s = 5.0;
    struct ibp_bab_result r;
    CHECK(ibp_bab_run(net, &x, &x, &C, &d, 1, &cfg, NULL, &r, &err) == IBP_OK);
    CHECK(r.verdict != IBP_BAB_UNSAT);
    ibp_net_free(net);
}

static void bad_config(void)
{
    struct ibp_bab_config cfg = ibp_bab_config_default();
    cfg.timeout_s = 0.0;
    struct ibp_bab_result r;
    struct ibp_error err;
    float lo = 0, C = 1;
    CHECK(ibp_bab_run(NULL, &lo, &lo, &C, NULL, 1, &cfg, NULL, &r, &err) == IBP_ERR_ARG);
}

int main(void)
{
    bad_config();
    sound_trap();
    exact_nets();
    return check_report();
}
