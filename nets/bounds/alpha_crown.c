/* alpha_crown.c — Adam on the α/β parameters of the domain-bound engine (alpha_crown.h). */
#include "nets/bounds/alpha_crown.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/clock.h"
#include "nets/bounds/sound_fp.h"

#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8

struct ibp_opt_config ibp_alpha_crown_config(void)
{
    struct ibp_opt_config c = {100, 10, 0.1, 0.0, 0.98, 0.0};
    return c;
}

struct ibp_opt_config ibp_beta_crown_config(int steps)
{
    struct ibp_opt_config c = {steps, 10, 0.01, 0.05, 0.98, 0.0};
    return c;
}

/* One Adam ascent step on x[n] with gradient gr, moments m, v, step t >= 1, projected to
 * [lo, hi]. */
static void adam_step(double *x, const double *gr, double *m, double *v, size_t n, int t,
                      double lr, double lo, double hi)
{
    double c1 = 1.0 - pow(ADAM_B1, t), c2 = 1.0 - pow(ADAM_B2, t);
    for (size_t i = 0; i < n; i++) {
        m[i] = ADAM_B1 * m[i] + (1.0 - ADAM_B1) * gr[i];
        v[i] = ADAM_B2 * v[i] + (1.0 - ADAM_B2) * gr[i] * gr[i];
        double s = lr * (m[i] / c1) / (sqrt(v[i] / c2) + ADAM_EPS);
        double y = x[i] + s;
        x[i] = y < lo ? lo : (y > hi ? hi : y);
    }
}

enum ibp_status ibp_dom_optimize_rows(const struct ibp_dom_problem *p, int nd, const int *row_of,
                                      const signed char *split, double *alpha, double *beta,
                                      const struct ibp_opt_config *cfg, double *lb,
                                      struct ibp_error *err)
{
    int rows = row_of ? 1 : ibp_dom_rows(p), N = ibp_dom_relus(p);
    size_t nq = (size_t)nd * rows, np = nq * (size_t)(N > 0 ? N : 1);
    int nb = beta ? 2 : 1;
    /* per parameter set: gradient, m, v, best (4 np), then the current bounds */
    double *buf = calloc(np * 4 * nb + nq, sizeof(double));
    if (!buf)
        return ibp_fail(err, IBP_ERR_NOMEM, "optimiser: %zu parameters", np * nb);
    double *ga = buf, *ma = ga + np, *va = ma + np, *besta = va + np;
    double *gbeta = NULL, *mb = NULL, *vb = NULL, *bestb = NULL, *cur = buf + np * 4 * nb;
    if (beta) {
        gbeta = besta + np;
        mb = gbeta + np;
        vb = mb + np;
        bestb = vb + np;
    }
    struct ibp_dom_grad g = {ga, gbeta, NULL, NULL};
    enum ibp_status st = IBP_OK;
    int since = 0;
    for (size_t q = 0; q < nq; q++)
        lb[q] = -INFINITY;
    for (int t = 0; t <= cfg->steps; t++) {
        st = ibp_dom_bound_rows(p, nd, row_of, split, alpha, beta, 0, cur, &g, err);
        if (st != IBP_OK)
            break;
        int improved = 0;
        for (size_t q = 0; q < nq; q++)
            if (cur[q] > lb[q]) {
                improved = 1;
                lb[q] = cur[q];
                memcpy(besta + q * N, alpha + q * N, (size_t)N * sizeof(double));
                if (beta)
                    memcpy(bestb + q * N, beta + q * N, (size_t)N * sizeof(double));
            }
        since = improved ? 0 : since + 1;
        if (t == cfg->steps || since >= cfg->patience || ibp_clock_past(cfg->deadline))
            break;
        double f = pow(cfg->decay, t);
        adam_step(alpha, ga, ma, va, np, t + 1, cfg->lr_alpha * f, 0.0, 1.0);
        if (beta)
            adam_step(beta, gbeta, mb, vb, np, t + 1, cfg->lr_beta * f, 0.0, INFINITY);
    }
    if (st == IBP_OK) {
        memcpy(alpha, besta, np * sizeof(double));
        if (beta)
            memcpy(beta, bestb, np * sizeof(double));
    }
    free(buf);
    return st;
}

enum ibp_status ibp_dom_optimize(const struct ibp_dom_problem *p, int nd,
                                 const signed char *split, double *alpha, double *beta,
                                 const struct ibp_opt_config *cfg, double *lb,
                                 struct ibp_error *err)
{
    return ibp_dom_optimize_rows(p, nd, NULL, split, alpha, beta, cfg, lb, err);
}

enum ibp_status ibp_alpha_crown(const struct ibp_dom_problem *p, const struct ibp_opt_config *cfg,
                                int sound, double *alpha, float *lb, float *own_lb,
                                struct ibp_error *err)
{
    int rows = ibp_dom_rows(p), N = ibp_dom_relus(p);
    struct ibp_opt_config def = ibp_alpha_crown_config();
    size_t np = (size_t)rows * (N > 0 ? N : 1);
    signed char *split = calloc(N > 0 ? (size_t)N : 1, 1);
    double *a = malloc(np * sizeof(double)), *best = malloc(2 * (size_t)rows * sizeof(double));
    enum ibp_status st = IBP_OK;
    if (!split || !a || !best) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "alpha-crown: %zu slopes", np);
        goto done;
    }
    ibp_dom_alpha_init(p, a);
    st = ibp_dom_optimize(p, 1, split, a, NULL, cfg ? cfg : &def, best, err);
    if (st == IBP_OK)
        st = ibp_dom_bound(p, 1, split, a, NULL, sound, best + rows, NULL, err);
    if (st != IBP_OK)
        goto done;
    const float *crown = ibp_dom_crown_bounds(p);
    for (int r = 0; r < rows; r++) {
        /* the double bound to float: rounded down when sound (R1) */
        double v = best[rows + r];
        float f = sound ? fp_to_float_dn(v) : (float)v;
        if (own_lb)
            own_lb[r] = f;
        lb[r] = f > crown[r] ? f : crown[r];
    }
    if (alpha)
        memcpy(alpha, a, np * sizeof(double));
done:
    free(split);
    free(a);
    free(best);
    return st;
}

/* Rows per prefix view: the unstable neurons of a layer go in chunks of this many
 * (lower and upper rows together), the chunks in parallel. */
#define INTERMEDIATE_CHUNK_ROWS 64

/* α-CROWN on rows r0..r1 of the bound rows of layer m: C holds +e_j (lower bound of
 * z_j) and -e_j (minus the upper bound) for each listed neuron j (first: the layer's
 * first neuron), lb [r1 - r0] the bounds. */
static enum ibp_status intermediate_chunk(const struct ibp_dom_problem *p, int m, int first,
                                          int n, const int *neurons, int r0, int r1,
                                          const struct ibp_opt_config *cfg, int sound,
                                          float *lb, struct ibp_error *err)
{
    int rows = r1 - r0;
    double *C = calloc((size_t)rows * n, sizeof(double));
    if (!C)
        return ibp_fail(err, IBP_ERR_NOMEM, "alpha-crown: intermediate rows");
    for (int r = r0; r < r1; r++)
        C[(size_t)(r - r0) * n + (neurons[r / 2] - first)] = r % 2 ? -1.0 : 1.0;
    struct ibp_dom_problem *v;
    enum ibp_status st = ibp_dom_problem_prefix(p, m, C, rows, &v, err);
    free(C);
    if (st != IBP_OK)
        return st;
    st = ibp_alpha_crown(v, cfg, sound, NULL, lb, NULL, err);
    ibp_dom_problem_free(v);
    return st;
}

enum ibp_status ibp_alpha_crown_intermediate(struct ibp_dom_problem *p,
                                             const struct ibp_opt_config *cfg, int sound,
                                             int threads, struct ibp_error *err)
{
    return ibp_alpha_crown_intermediate_from(p, 1, cfg, sound, threads, err);
}

enum ibp_status ibp_alpha_crown_intermediate_from(struct ibp_dom_problem *p, int m0,
                                                  const struct ibp_opt_config *cfg, int sound,
                                                  int threads, struct ibp_error *err)
{
    int layers = ibp_dom_relu_layers(p), N = ibp_dom_relus(p);
    int *neurons = malloc((N > 0 ? (size_t)N : 1) * sizeof(int));
    float *lb = malloc((N > 0 ? 2 * (size_t)N : 1) * sizeof(float));
    if (!neurons || !lb) {
        free(neurons);
        free(lb);
        return ibp_fail(err, IBP_ERR_NOMEM, "alpha-crown: intermediate bounds");
    }
    enum ibp_status st = IBP_OK;
    /* layer 0's input is an affine map of the box: CROWN's bounds are already exact */
    for (int m = m0 > 1 ? m0 : 1; st == IBP_OK && m < layers && !ibp_clock_past(cfg ? cfg->deadline : 0.0);
         m++) {
        int first, n, nu = 0;
        ibp_dom_relu_layer(p, m, &first, &n);
        for (int j = first; j < first + n; j++)
            if (ibp_dom_unstable(p, j))
                neurons[nu++] = j;
        if (nu == 0)
            continue;
        int rows = 2 * nu, chunks = (rows + INTERMEDIATE_CHUNK_ROWS - 1) / INTERMEDIATE_CHUNK_ROWS;
        enum ibp_status fail = IBP_OK;
        struct ibp_error e2 = {0};
#pragma omp parallel for num_threads(threads < chunks ? threads : chunks) schedule(dynamic)
        for (int c = 0; c < chunks; c++) {
            int r0 = c * INTERMEDIATE_CHUNK_ROWS;
            int r1 = r0 + INTERMEDIATE_CHUNK_ROWS < rows ? r0 + INTERMEDIATE_CHUNK_ROWS : rows;
            struct ibp_error ec = {0};
            enum ibp_status sc =
                intermediate_chunk(p, m, first, n, neurons, r0, r1, cfg, sound, lb + r0, &ec);
            if (sc != IBP_OK) {
#pragma omp critical(ibp_alpha_intermediate_error)
                {
                    if (fail == IBP_OK) {
                        e2 = ec;
                        fail = sc;
                    }
                }
            }
        }
        if (fail != IBP_OK) {
            st = ibp_fail(err, fail, "%s", e2.msg);
            break;
        }
        /* the bounds of layer m are all computed before any is narrowed: they do not
         * depend on each other, and the result does not depend on the chunking order */
        for (int i = 0; i < nu; i++)
            ibp_dom_tighten_relu(p, neurons[i], (double)lb[2 * i], -(double)lb[2 * i + 1]);
    }
    free(neurons);
    free(lb);
    return st;
}
