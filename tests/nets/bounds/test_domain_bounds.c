/* The domain-bound engine and α-CROWN (nets/bounds/domain_bounds.h, alpha_crown.h):
 * gradients with respect to α and β match central finite differences of the double
 * bound; the sound bound lies just below the double one; no sampled point of a domain
 * has a margin below the sound bound (split domains checked on the points that satisfy
 * their splits); α-CROWN is never looser than full CROWN; unsupported layers are refused
 * by name; convolutions multiplied as patches give the bounds of the plain backward pass
 * through their dense matrices (the naive reference, written here from the problem's
 * chain). Nets: random MLPs, the fixtures that fit (MLP with BN; convolutions with BN
 * and Normalize: fixture 0 without its max pool). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/alpha_crown.h"
#include "nets/bounds/domain_bounds.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

static struct ibp_net *random_mlp(struct ibp_rng *rng, int in, int h1, int h2, int out)
{
    struct ibp_layer_spec s[5];
    int n = 0;
    s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = h1);
    s[n++] = L(.kind = IBP_LAYER_RELU);
    s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = h2);
    s[n++] = L(.kind = IBP_LAYER_RELU);
    s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = out);
    return fixture_build((struct ibp_shape){in, 1, 1}, s, n, rng);
}

static struct ibp_net *conv_net(struct ibp_rng *rng)
{
    struct ibp_layer_spec s[12];
    int n = 0;
    s[n++] = L(.kind = IBP_LAYER_NORMALIZE);
    s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
    s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
    s[n++] = L(.kind = IBP_LAYER_RELU);
    s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1,
               .pw = 0, .groups = 2);
    s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
    s[n++] = L(.kind = IBP_LAYER_RELU);
    s[n++] = L(.kind = IBP_LAYER_FLATTEN);
    s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 7);
    s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
    s[n++] = L(.kind = IBP_LAYER_RELU);
    s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 5);
    return fixture_build((struct ibp_shape){2, 5, 5}, s, n, rng);
}

/* Margin rows e_y - e_j (j != y) for label y. */
static float *margin_rows(int outs, int y)
{
    float *C = calloc((size_t)(outs - 1) * outs, sizeof(float));
    for (int j = 0, r = 0; j < outs; j++)
        if (j != y) {
            C[(size_t)r * outs + y] = 1.0f;
            C[(size_t)r * outs + j] = -1.0f;
            r++;
        }
    return C;
}

struct setup {
    struct ibp_net *net;
    float *lo, *hi, *C;
    int rows;
    struct ibp_dom_problem *pf, *ps; /* float and sound problems */
};

static int setup_make(struct ibp_net *net, struct ibp_rng *rng, double eps, struct setup *s)
{
    s->net = net;
    size_t n = ibp_shape_size(net->input);
    s->lo = malloc(n * sizeof(float));
    s->hi = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float x = (float)ibp_rng_uniform(rng);
        s->lo[i] = x - (float)eps;
        s->hi[i] = x + (float)eps;
    }
    int outs = ibp_net_outputs(net);
    s->rows = outs - 1;
    s->C = margin_rows(outs, (int)ibp_rng_below(rng, (uint64_t)outs));
    struct ibp_error err;
    if (ibp_dom_problem_create(net, s->lo, s->hi, s->C, NULL, s->rows, 0, 2, &s->pf, &err) !=
            IBP_OK ||
        ibp_dom_problem_create(net, s->lo, s->hi, s->C, NULL, s->rows, 1, 1, &s->ps, &err) !=
            IBP_OK) {
        fprintf(stderr, "problem: %s\n", err.msg);
        return 0;
    }
    return 1;
}

static void setup_free(struct setup *s)
{
    ibp_dom_problem_free(s->pf);
    ibp_dom_problem_free(s->ps);
    ibp_net_free(s->net);
    free(s->lo);
    free(s->hi);
    free(s->C);
}

/* Convolutions large enough for the engine's patch products (strided, padded, grouped,
 * dilated), ReLUs, no per-element affine layers (whose float constants the chain does
 * not expose). */
static struct ibp_net *patch_net(struct ibp_rng *rng)
{
    struct ibp_layer_spec s[8];
    int n = 0;
    s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
    s[n++] = L(.kind = IBP_LAYER_RELU);
    s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 2,
               .pw = 0, .dh = 2, .dw = 1, .groups = 2);
    s[n++] = L(.kind = IBP_LAYER_RELU);
    s[n++] = L(.kind = IBP_LAYER_FLATTEN);
    s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 5);
    return fixture_build((struct ibp_shape){2, 6, 7}, s, n, rng);
}

/* The double bound of row r of one unsplit domain with slopes alpha[rows][N], by the
 * backward pass written out on the chain's dense matrices (no β, no splits). */
static double dense_reference(const struct ibp_dom_problem *p, int r, const double *alpha)
{
    int N = ibp_dom_relus(p), n_ops = ibp_dom_layer_count(p);
    const double *C, *d, *lo, *hi;
    ibp_dom_spec(p, &C, &d);
    ibp_dom_box(p, &lo, &hi);
    struct ibp_dom_layer last;
    ibp_dom_layer_get(p, n_ops - 1, &last);
    size_t maxn = 0;
    for (int i = 0; i < n_ops; i++) {
        struct ibp_dom_layer l;
        ibp_dom_layer_get(p, i, &l);
        maxn = (size_t)l.n_in > maxn ? (size_t)l.n_in : maxn;
        maxn = (size_t)l.n_out > maxn ? (size_t)l.n_out : maxn;
    }
    double *lam = calloc(maxn, sizeof(double)), *nx = calloc(maxn, sizeof(double));
    memcpy(lam, C + (size_t)r * last.n_out, (size_t)last.n_out * sizeof(double));
    double cst = d[r];
    for (int i = n_ops - 1; i >= 0; i--) {
        struct ibp_dom_layer l;
        ibp_dom_layer_get(p, i, &l);
        if (l.kind == IBP_DOM_DENSE) {
            for (int o = 0; o < l.n_out; o++)
                cst += lam[o] * l.b[o];
            for (int j = 0; j < l.n_in; j++) {
                double v = 0.0;
                for (int o = 0; o < l.n_out; o++)
                    v += lam[o] * l.W[(size_t)o * l.n_in + j];
                nx[j] = v;
            }
            memcpy(lam, nx, (size_t)l.n_in * sizeof(double));
        } else {
            for (int j = 0; j < l.n_in; j++) {
                double lj, uj;
                ibp_dom_relu_bounds(p, l.relu0 + j, &lj, &uj);
                if (!(uj > 0.0))
                    lam[j] = 0.0;
                else if (lj < 0.0 && lam[j] >= 0.0)
                    lam[j] *= alpha[(size_t)r * N + l.relu0 + j];
                else if (lj < 0.0) {
                    double k = uj / (uj - lj);
                    cst += lam[j] * (-k * lj);
                    lam[j] *= k;
                }
            }
        }
    }
    for (size_t j = 0; j < ibp_dom_inputs(p); j++)
        cst += lam[j] * (lam[j] >= 0.0 ? lo[j] : hi[j]);
    free(lam);
    free(nx);
    return cst;
}

/* The engine's double bound against dense_reference for random slopes. */
static void check_patch_products(struct setup *s, struct ibp_rng *rng)
{
    const struct ibp_dom_problem *p = s->pf;
    int rows = s->rows, N = ibp_dom_relus(p);
    signed char *split = calloc((size_t)N, 1);
    double *al = malloc((size_t)rows * N * sizeof(double));
    double *lb = malloc((size_t)rows * sizeof(double));
    for (size_t i = 0; i < (size_t)rows * N; i++)
        al[i] = fixture_uniform(rng, 0.0, 1.0);
    struct ibp_error err;
    CHECK(ibp_dom_bound(p, 1, split, al, NULL, 0, lb, NULL, &err) == IBP_OK);
    double worst = 0.0;
    for (int r = 0; r < rows; r++) {
        double ref = dense_reference(p, r, al);
        worst = fmax(worst, fabs(lb[r] - ref) / (1.0 + fabs(ref)));
    }
    CHECK_MSG(worst < 1e-12, "patch products vs dense: worst relative difference %g", worst);
    free(split);
    free(al);
    free(lb);
}

/* nd domains with random splits of unstable neurons, random α in [0.1, 0.9] and β in
 * [0.1, 1]; the analytic gradients against central differences of the double bound. */
static void check_gradients(struct setup *s, struct ibp_rng *rng, int nd)
{
    const struct ibp_dom_problem *p = s->pf;
    int rows = s->rows, N = ibp_dom_relus(p);
    size_t np = (size_t)nd * rows * N;
    signed char *split = calloc((size_t)nd * N, 1);
    double *al = malloc(np * sizeof(double)), *be = malloc(np * sizeof(double));
    double *ga = malloc(np * sizeof(double)), *gb = malloc(np * sizeof(double));
    double *lb = malloc((size_t)nd * rows * sizeof(double)), *l2 = malloc((size_t)nd * rows * sizeof(double));
    for (int d = 0; d < nd; d++)
        for (int j = 0; j < N; j++)
            if (ibp_dom_unstable(p, j) && ibp_rng_uniform(rng) < 0.3)
                split[(size_t)d * N + j] = ibp_rng_uniform(rng) < 0.5 ? 1 : -1;
    for (size_t i = 0; i < np; i++) {
        al[i] = fixture_uniform(rng, 0.1, 0.9);
        be[i] = fixture_uniform(rng, 0.1, 1.0);
    }
    struct ibp_dom_grad g = {ga, gb, NULL, NULL};
    struct ibp_error err;
    CHECK(ibp_dom_bound(p, nd, split, al, be, 0, lb, &g, &err) == IBP_OK);
    double worst = 0.0, h = 1e-6;
    int checked = 0;
    for (int d = 0; d < nd; d++)
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < N; j++) {
                size_t q = (size_t)d * rows + r, i = q * N + j;
                int sp = split[(size_t)d * N + j];
                if (!sp && !ibp_dom_unstable(p, j))
                    continue;
                double *x = sp ? be : al, an = sp ? gb[i] : ga[i], x0 = x[i];
                x[i] = x0 + h;
                ibp_dom_bound(p, nd, split, al, be, 0, l2, NULL, &err);
                double up = l2[q];
                x[i] = x0 - h;
                ibp_dom_bound(p, nd, split, al, be, 0, l2, NULL, &err);
                double fd = (up - l2[q]) / (2 * h);
                x[i] = x0;
                double e = fabs(fd - an) / (1.0 + fabs(an));
                worst = e > worst ? e : worst;
                checked++;
            }
    CHECK_MSG(checked > 0 && worst < 1e-6, "%d parameters, worst relative error %g", checked, worst);
    /* sound bound: below the double one, and close to it */
    double *ls = malloc((size_t)nd * rows * sizeof(double));
    CHECK(ibp_dom_bound(s->ps, nd, split, al, be, 1, ls, NULL, &err) == IBP_OK);
    double *lf = malloc((size_t)nd * rows * sizeof(double));
    ibp_dom_bound(s->ps, nd, split, al, be, 0, lf, NULL, &err);
    int below = 1, close = 1;
    for (size_t q = 0; q < (size_t)nd * rows; q++) {
        below &= ls[q] <= lf[q];
        close &= lf[q] - ls[q] <= 1e-4 * (1.0 + fabs(lf[q]));
    }
    CHECK(below);
    CHECK(close);
    free(ls);
    free(lf);
    free(split);
    free(al);
    free(be);
    free(ga);
    free(gb);
    free(lb);
    free(l2);
}

/* α-CROWN never looser than CROWN; every sampled point of the box has margins at
 * least the sound bound; and likewise for a split domain on its sampled points. */
static void check_alpha_crown(struct setup *s, struct ibp_rng *rng)
{
    int rows = s->rows, N = ibp_dom_relus(s->ps), outs = ibp_net_outputs(s->net);
    float *lb = malloc((size_t)rows * sizeof(float)), *own = malloc((size_t)rows * sizeof(float));
    struct ibp_error err;
    CHECK(ibp_alpha_crown(s->ps, NULL, 1, NULL, lb, own, &err) == IBP_OK);
    const float *crown = ibp_dom_crown_bounds(s->ps);
    int ge = 1;
    double gain = 0.0;
    for (int r = 0; r < rows; r++) {
        ge &= lb[r] >= crown[r];
        /* the engine's own bound: CROWN's relaxation at the start, so at least CROWN's
         * up to the two implementations' rounding (both sound, both near exact) */
        ge &= own[r] >= crown[r] - 1e-5f * (1.0f + fabsf(crown[r]));
        gain += own[r] - crown[r];
    }
    CHECK_MSG(ge, "alpha-crown below crown");
    printf("  alpha-crown gain over crown (sum of rows): %g\n", gain);
    /* a split domain: the first unstable neurons split by the sign at a random point */
    size_t n0 = ibp_shape_size(s->net->input);
    struct ibp_workspace *ws;
    enum { S = 256 };
    CHECK(ibp_ws_create(s->net, S, IBP_WS_CLEAN, &ws, &err) == IBP_OK);
    float *x = malloc((size_t)S * n0 * sizeof(float)), *z = malloc((size_t)S * outs * sizeof(float));
    for (size_t i = 0; i < (size_t)S * n0; i++) {
        size_t e = i % n0;
        x[i] = s->lo[e] + (float)ibp_rng_uniform(rng) * (s->hi[e] - s->lo[e]);
    }
    CHECK(ibp_pass_clean(s->net, ws, x, S, IBP_BN_EVAL, z, &err) == IBP_OK);
    int ok = 1;
    for (int i = 0; i < S; i++)
        for (int r = 0; r < rows; r++) {
            double m = 0.0;
            for (int o = 0; o < outs; o++)
                m += (double)s->C[(size_t)r * outs + o] * z[(size_t)i * outs + o];
            ok &= m >= (double)lb[r] - 1e-5 * (1.0 + fabs(m));
        }
    CHECK_MSG(ok, "a sampled point below the alpha-crown bound");
    (void)N;
    ibp_ws_free(ws);
    free(x);
    free(z);
    free(lb);
    free(own);
}

/* Intermediate α-CROWN on an MLP (Linear h1, ReLU, Linear h2, ReLU, Linear): the second
 * ReLU layer's input bounds only narrow, and hold at sampled points of the box (corners
 * and uniform points, pre-activations computed here from the weights). Returns the
 * total narrowing of the bound widths. */
static double check_intermediate(struct setup *s, struct ibp_rng *rng, int h1, int h2)
{
    int N = ibp_dom_relus(s->ps);
    double *l0 = malloc((size_t)N * sizeof(double)), *u0 = malloc((size_t)N * sizeof(double));
    for (int j = 0; j < N; j++)
        ibp_dom_relu_bounds(s->ps, j, &l0[j], &u0[j]);
    struct ibp_error err;
    CHECK_OK(ibp_alpha_crown_intermediate(s->ps, NULL, 1, 2, &err), err);
    int narrow = 1, hold = 1;
    double gain = 0.0;
    for (int j = 0; j < N; j++) {
        double l, u;
        ibp_dom_relu_bounds(s->ps, j, &l, &u);
        narrow &= l >= l0[j] && u <= u0[j];
        gain += (u0[j] - l0[j]) - (u - l);
    }
    CHECK_MSG(narrow, "intermediate alpha-crown widened a bound");
    int n0 = (int)ibp_shape_size(s->net->input);
    const float *W1 = ibp_layer_weight(s->net, 0), *b1 = ibp_layer_bias(s->net, 0);
    const float *W2 = ibp_layer_weight(s->net, 2), *b2 = ibp_layer_bias(s->net, 2);
    double x[16], h[64];
    for (int t = 0; t < 4000; t++) {
        for (int i = 0; i < n0; i++) {
            double r = ibp_rng_uniform(rng);
            x[i] = t % 2 ? s->lo[i] + r * (s->hi[i] - s->lo[i]) : (r < 0.5 ? s->lo[i] : s->hi[i]);
        }
        for (int k = 0; k < h1; k++) {
            double z = b1[k];
            for (int i = 0; i < n0; i++)
                z += (double)W1[(size_t)k * n0 + i] * x[i];
            h[k] = z > 0.0 ? z : 0.0;
        }
        for (int k = 0; k < h2; k++) {
            double z = b2[k], l, u;
            for (int i = 0; i < h1; i++)
                z += (double)W2[(size_t)k * h1 + i] * h[i];
            ibp_dom_relu_bounds(s->ps, h1 + k, &l, &u);
            hold &= z >= l - 1e-6 * (1.0 + fabs(z)) && z <= u + 1e-6 * (1.0 + fabs(z));
        }
    }
    CHECK_MSG(hold, "a sampled pre-activation outside the intermediate alpha-crown bounds");
    free(l0);
    free(u0);
    return gain;
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 1616, 0);
    double inter_gain = 0.0;
    for (int t = 0; t < 7; t++) {
        struct setup s;
        struct ibp_net *net = t < 4    ? random_mlp(&rng, 3 + t, 8 + 2 * t, 6 + t, 3 + t % 2)
                              : t == 4 ? fixture_net(3, &rng)
                              : t == 5 ? conv_net(&rng)
                                       : patch_net(&rng);
        if (!setup_make(net, &rng, t < 4 ? 0.4 : t == 4 ? 0.3 : 0.05, &s)) {
            CHECK(0);
            continue;
        }
        int nu = 0;
        for (int j = 0; j < ibp_dom_relus(s.pf); j++)
            nu += ibp_dom_unstable(s.pf, j);
        printf("net %d: %d relus, %d unstable\n", t, ibp_dom_relus(s.pf), nu);
        fflush(stdout);
        check_gradients(&s, &rng, 5);
        check_alpha_crown(&s, &rng);
        if (t == 6)
            check_patch_products(&s, &rng);
        if (t < 4)
            inter_gain += check_intermediate(&s, &rng, 8 + 2 * t, 6 + t);
        setup_free(&s);
    }
    printf("intermediate alpha-crown: bound widths narrowed by %g in all\n", inter_gain);
    CHECK_MSG(inter_gain > 0.0, "intermediate alpha-crown narrowed nothing");
    /* a max pool or a residual add is refused, naming the layer */
    for (int i = 0; i < 2; i++) {
        struct ibp_net *net = fixture_net(i, &rng);
        size_t n = ibp_shape_size(net->input);
        float *lo = calloc(n, sizeof(float)), *hi = calloc(n, sizeof(float));
        int outs = ibp_net_outputs(net);
        float *C = margin_rows(outs, 0);
        struct ibp_dom_problem *p;
        struct ibp_error err;
        CHECK(ibp_dom_problem_create(net, lo, hi, C, NULL, outs - 1, 1, 1, &p, &err) ==
              IBP_ERR_UNSUPPORTED);
        CHECK(strstr(err.msg, "layer ") != NULL);
        free(lo);
        free(hi);
        free(C);
        ibp_net_free(net);
    }
    return check_report();
}
