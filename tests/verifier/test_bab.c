/* Branch and bound (verifier/bab.h) against exact answers.
 *
 * Nets: random 2-input ReLU MLPs (up to 40 ReLUs) on the box [-1, 1]^2. The exact
 * minimum of every row over the box comes from enumerating activation patterns: the
 * box is a convex polygon; going through the neurons in order, each neuron's
 * pre-activation is an affine function of x on the current polygon (the earlier
 * neurons' states fix the network there), its range on the polygon is the range over
 * the polygon's vertices (an affine function on a convex polygon), and when it changes
 * sign the polygon is clipped into its two halves. The leaves cover the box and the
 * network is affine on each, so the minimum of a row is the least value at a leaf's
 * vertices. This is exact up to double rounding (relative 1e-12 or so: a clipped
 * vertex may lie that far outside its half-plane, where the neighbouring affine piece
 * differs by as little); the properties are placed 5% of each row's range away from
 * the threshold, so rounding cannot change their answer.
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
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "verifier/bab.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})
enum { MAXH = 24, MAXV = 64, OUTS = 3, ROWS = 2 };

struct mlp {
    int h1, h2;
    double W1[MAXH][2], b1[MAXH], W2[MAXH][MAXH], b2[MAXH], W3[OUTS][MAXH], b3[OUTS];
};

struct poly {
    int n;
    double x[MAXV], y[MAXV];
};

/* the part of P where a x + b y + c >= 0 */
static void clip(const struct poly *P, double a, double b, double c, struct poly *Q)
{
    Q->n = 0;
    for (int i = 0; i < P->n; i++) {
        int k = (i + 1) % P->n;
        double vi = a * P->x[i] + b * P->y[i] + c, vk = a * P->x[k] + b * P->y[k] + c;
        if (vi >= 0) {
            Q->x[Q->n] = P->x[i];
            Q->y[Q->n++] = P->y[i];
        }
        if ((vi >= 0) != (vk >= 0)) {
            double t = vi / (vi - vk);
            Q->x[Q->n] = P->x[i] + t * (P->x[k] - P->x[i]);
            Q->y[Q->n++] = P->y[i] + t * (P->y[k] - P->y[i]);
        }
    }
}

struct enum_state {
    const struct mlp *m;
    double mn[ROWS], mx[ROWS]; /* rows z_0 - z_{r+1} */
};

/* affine maps [3] = (coef x, coef y, const) */
static void rec(struct enum_state *s, int layer, int j, const struct poly *P,
                double (*pre)[3], double (*post)[3])
{
    const struct mlp *m = s->m;
    int width = layer == 0 ? m->h1 : m->h2;
    if (P->n == 0)
        return;
    if (j == width) {
        double nxt[MAXH][3], out[OUTS][3];
        if (layer == 0) {
            for (int i = 0; i < m->h2; i++)
                for (int t = 0; t < 3; t++) {
                    double v = t == 2 ? m->b2[i] : 0.0;
                    for (int k = 0; k < m->h1; k++)
                        v += m->W2[i][k] * post[k][t];
                    nxt[i][t] = v;
                }
            double post2[MAXH][3];
            rec(s, 1, 0, P, nxt, post2);
            return;
        }
        for (int o = 0; o < OUTS; o++)
            for (int t = 0; t < 3; t++) {
                double v = t == 2 ? m->b3[o] : 0.0;
                for (int k = 0; k < m->h2; k++)
                    v += m->W3[o][k] * post[k][t];
                out[o][t] = v;
            }
        for (int r = 0; r < ROWS; r++)
            for (int i = 0; i < P->n; i++) {
                double v = 0.0;
                for (int t = 0; t < 3; t++) {
                    double c = out[0][t] - out[r + 1][t];
                    v += t == 0 ? c * P->x[i] : t == 1 ? c * P->y[i] : c;
                }
                s->mn[r] = fmin(s->mn[r], v);
                s->mx[r] = fmax(s->mx[r], v);
            }
        return;
    }
    double *z = pre[j], lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < P->n; i++) {
        double v = z[0] * P->x[i] + z[1] * P->y[i] + z[2];
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    if (hi > 0) { /* active part */
        struct poly Q;
        if (lo >= 0)
            Q = *P;
        else
            clip(P, z[0], z[1], z[2], &Q);
        memcpy(post[j], z, 3 * sizeof(double));
        rec(s, layer, j + 1, &Q, pre, post);
    }
    if (lo < 0) { /* inactive part */
        struct poly Q;
        if (hi <= 0)
            Q = *P;
        else
            clip(P, -z[0], -z[1], -z[2], &Q);
        memset(post[j], 0, 3 * sizeof(double));
        rec(s, layer, j + 1, &Q, pre, post);
    }
}

static void exact_range(const struct mlp *m, double *mn, double *mx)
{
    struct enum_state s = {m, {INFINITY, INFINITY}, {-INFINITY, -INFINITY}};
    struct poly P = {4, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
    double pre[MAXH][3], post[MAXH][3];
    for (int i = 0; i < m->h1; i++) {
        pre[i][0] = m->W1[i][0];
        pre[i][1] = m->W1[i][1];
        pre[i][2] = m->b1[i];
    }
    rec(&s, 0, 0, &P, pre, post);
    memcpy(mn, s.mn, sizeof s.mn);
    memcpy(mx, s.mx, sizeof s.mx);
}

/* A random net; the double copy m holds exactly the float parameters. */
static struct ibp_net *make_net(struct ibp_rng *rng, int h1, int h2, struct mlp *m)
{
    struct ibp_layer_spec s[5] = {L(.kind = IBP_LAYER_LINEAR, .out = h1), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = h2), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = OUTS)};
    struct ibp_net *net;
    struct ibp_error err;
    if (ibp_net_create((struct ibp_shape){2, 1, 1}, s, 5, &net, &err) != IBP_OK)
        return NULL;
    m->h1 = h1;
    m->h2 = h2;
    int fan[3] = {2, h1, h2}, outn[3] = {h1, h2, OUTS}, lay[3] = {0, 2, 4};
    for (int l = 0; l < 3; l++) {
        float *w = ibp_layer_weight(net, lay[l]), *b = ibp_layer_bias(net, lay[l]);
        for (int i = 0; i < outn[l]; i++) {
            for (int k = 0; k < fan[l]; k++) {
                w[i * fan[l] + k] = (float)(ibp_rng_normal(rng) / sqrt((double)fan[l]));
                double v = w[i * fan[l] + k];
                if (l == 0)
                    m->W1[i][k] = v;
                else if (l == 1)
                    m->W2[i][k] = v;
                else
                    m->W3[i][k] = v;
            }
            b[i] = (float)(0.5 * ibp_rng_normal(rng));
            (l == 0 ? m->b1 : l == 1 ? m->b2 : m->b3)[i] = b[i];
        }
    }
    return net;
}

static int violated(const struct ibp_net *net, const float *C, const float *d, const float *x)
{
    struct ibp_workspace *ws;
    struct ibp_error err;
    float z[OUTS];
    if (ibp_ws_create(net, 1, IBP_WS_CLEAN, &ws, &err) != IBP_OK)
        return 0;
    int bad = ibp_pass_clean(net, ws, x, 1, IBP_BN_EVAL, z, &err) == IBP_OK ? 0 : -1;
    for (int r = 0; bad == 0 && r < ROWS; r++) {
        double v = d[r];
        for (int o = 0; o < OUTS; o++)
            v += (double)C[r * OUTS + o] * z[o];
        bad |= v <= 0.0;
    }
    ibp_ws_free(ws);
    return bad == 1;
}

static void exact_nets(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 2016, 0);
    float C[ROWS * OUTS] = {1, -1, 0, 1, 0, -1}, lo[2] = {-1, -1}, hi[2] = {1, 1};
    int agree = 0, total = 0, unknown = 0;
    long dom_total = 0;
    for (int t = 0; t < 40; t++) {
        struct mlp m;
        int h1 = 6 + (t % 4) * 4, h2 = 4 + (t % 3) * 4; /* 10 .. 38 ReLUs */
        struct ibp_net *net = make_net(&rng, h1, h2, &m);
        CHECK(net != NULL);
        if (!net)
            continue;
        double mn[ROWS], mx[ROWS];
        exact_range(&m, mn, mx);
        for (int sat_case = 0; sat_case < 2; sat_case++) {
            float d[ROWS];
            int truth_unsat = 1;
            for (int r = 0; r < ROWS; r++) {
                double delta = 0.05 * (mx[r] - mn[r]);
                d[r] = (float)(-mn[r] + (sat_case && r == t % ROWS ? -delta : delta));
                truth_unsat &= mn[r] + (double)d[r] > 0.0;
            }
            struct ibp_bab_config cfg = ibp_bab_config_default();
            cfg.timeout_s = 30.0;
            cfg.batch = 8;
            struct ibp_bab_result r1, r2;
            struct ibp_error err;
            float cex[2];
            CHECK(ibp_bab_run(net, lo, hi, C, d, ROWS, &cfg, cex, &r1, &err) == IBP_OK);
            /* two threads on every fourth net, with a limit that a loaded machine (other
             * tests running beside this one) does not reach: the same domains */
            cfg.threads = 2;
            cfg.timeout_s = 240.0;
            int both = t % 4 == 0;
            memset(&r2, 0, sizeof r2);
            if (both)
                CHECK(ibp_bab_run(net, lo, hi, C, d, ROWS, &cfg, NULL, &r2, &err) == IBP_OK);
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
                CHECK(violated(net, C, d, cex));
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
