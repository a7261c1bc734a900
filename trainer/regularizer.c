#include "trainer/regularizer.h"

#include <math.h>
#include <stdlib.h>

#define TIGHT_FLOOR 1e-12

/* min(a, b) with NaN propagating, as torch.min */
static double min_nan(double a, double b)
{
    if (isnan(a) || isnan(b))
        return NAN;
    return a < b ? a : b;
}

/* x' = min(x, 1/max(x, 1e-12)) and dx'/dx (autograd's: a tie splits the gradient) */
static double balance(double x, double *dx)
{
    double inv = 1.0 / (x > TIGHT_FLOOR ? x : TIGHT_FLOOR);
    double d_inv = x >= TIGHT_FLOOR ? -inv * inv : 0.0;
    if (x < inv)
        *dx = 1.0;
    else if (x > inv)
        *dx = d_inv;
    else
        *dx = 0.5 * (1.0 + d_inv);
    return min_nan(x, inv);
}

/* Sums of one layer over its n = batch*size values. */
struct layer_sums {
    double sum_r, sum_c, s_act, s_inact; /* sum r, sum c, sum_A c, sum_I c */
    size_t n_act, n_inact;
    double d_act, d_inact, e_act, e_inact; /* sum_A (c-mu)^2, sum_I ..., sum_A (c-mu), ... */
};

static void first_sums(const float *c, const float *r, size_t n, struct layer_sums *s)
{
    for (size_t j = 0; j < n; j++) {
        double cj = c[j], rj = r[j];
        s->sum_r += rj;
        s->sum_c += cj;
        /* the masks use the float bounds, as the reference does on its float tensors */
        if (c[j] - r[j] > 0.0f) {
            s->s_act += cj;
            s->n_act++;
        } else if (c[j] + r[j] < 0.0f) {
            s->s_inact += cj;
            s->n_inact++;
        }
    }
}

static void second_sums(const float *c, const float *r, size_t n, double mu, struct layer_sums *s)
{
    for (size_t j = 0; j < n; j++) {
        double dev = (double)c[j] - mu;
        if (c[j] - r[j] > 0.0f) {
            s->d_act += dev * dev;
            s->e_act += dev;
        } else if (c[j] + r[j] < 0.0f) {
            s->d_inact += dev * dev;
            s->e_inact += dev;
        }
    }
}

/* The first sums of every layer and the input's radius sum as one vector, for the sum
 * hook: [sum_r, sum_c, s_act, s_inact, n_act, n_inact, n] per layer, then [sum, n] of
 * the input radius. */
#define FIRST 7
#define SECOND 4

static void pack_first(const struct layer_sums *s, double n, double *v)
{
    v[0] = s->sum_r;
    v[1] = s->sum_c;
    v[2] = s->s_act;
    v[3] = s->s_inact;
    v[4] = (double)s->n_act;
    v[5] = (double)s->n_inact;
    v[6] = n;
}

static void unpack_first(const double *v, struct layer_sums *s, double *n)
{
    s->sum_r = v[0];
    s->sum_c = v[1];
    s->s_act = v[2];
    s->s_inact = v[3];
    s->n_act = (size_t)v[4];
    s->n_inact = (size_t)v[5];
    *n = v[6];
}

enum ibp_status ibp_reg_warmup(const struct ibp_relu_bounds *layers, int m, int batch,
                               const float *input_r, size_t input_size, double tau,
                               double lambda, const struct ibp_sum_hook *sum,
                               struct ibp_reg_terms *out, struct ibp_error *err)
{
    out->tight = out->relu = 0.0;
    out->relu_counted = 0;
    if (batch < 1 || !(tau > 0.0) || input_size == 0 || m < 0)
        return ibp_fail(err, IBP_ERR_ARG,
                        "warmup regulariser: batch %d, tau %g, input size %zu, %d layers", batch,
                        tau, input_size, m);
    for (int i = 0; i < m; i++) {
        if (layers[i].size == 0)
            return ibp_fail(err, IBP_ERR_ARG, "warmup regulariser: ReLU layer %d is empty",
                            layers[i].layer);
        if (lambda != 0.0 && (!layers[i].gc || !layers[i].gr))
            return ibp_fail(err, IBP_ERR_ARG,
                            "warmup regulariser: ReLU layer %d has no gradient slots",
                            layers[i].layer);
    }
    if (m == 0)
        return IBP_OK;
    int pooled = sum && sum->fn;
    struct layer_sums *ls = calloc((size_t)m, sizeof *ls);
    double *ns = calloc((size_t)m, sizeof *ns);
    double *v = pooled ? calloc((size_t)m * FIRST + 2, sizeof *v) : NULL;
    if (!ls || !ns || (pooled && !v)) {
        free(ls);
        free(ns);
        free(v);
        return ibp_fail(err, IBP_ERR_NOMEM, "warmup regulariser: out of memory");
    }
    size_t n0 = (size_t)batch * input_size;
    double d0 = 0.0, dn0 = (double)n0;
    for (size_t j = 0; j < n0; j++)
        d0 += input_r[j];
    for (int i = 0; i < m; i++) {
        ns[i] = (double)((size_t)batch * layers[i].size);
        first_sums(layers[i].c, layers[i].r, (size_t)batch * layers[i].size, &ls[i]);
    }
    /* with a hook: pooled over every process's part of the batch */
    if (pooled) {
        for (int i = 0; i < m; i++)
            pack_first(&ls[i], ns[i], v + (size_t)i * FIRST);
        v[(size_t)m * FIRST] = d0;
        v[(size_t)m * FIRST + 1] = dn0;
        sum->fn(sum->ctx, v, (size_t)m * FIRST + 2);
        for (int i = 0; i < m; i++)
            unpack_first(v + (size_t)i * FIRST, &ls[i], &ns[i]);
        d0 = v[(size_t)m * FIRST];
        dn0 = v[(size_t)m * FIRST + 1];
    }
    d0 /= dn0;
    for (int i = 0; i < m; i++)
        if (ls[i].n_act > 0 && ls[i].n_inact > 0)
            second_sums(layers[i].c, layers[i].r, (size_t)batch * layers[i].size,
                        ls[i].sum_c / ns[i], &ls[i]);
    if (pooled) {
        for (int i = 0; i < m; i++) {
            double *w = v + (size_t)i * SECOND;
            w[0] = ls[i].d_act;
            w[1] = ls[i].d_inact;
            w[2] = ls[i].e_act;
            w[3] = ls[i].e_inact;
        }
        sum->fn(sum->ctx, v, (size_t)m * SECOND);
        for (int i = 0; i < m; i++) {
            const double *w = v + (size_t)i * SECOND;
            ls[i].d_act = w[0];
            ls[i].d_inact = w[1];
            ls[i].e_act = w[2];
            ls[i].e_inact = w[3];
        }
    }

    double tight = 0.0, relu = 0.0;
    for (int i = 0; i < m; i++) {
        const struct ibp_relu_bounds *l = &layers[i];
        size_t n = (size_t)batch * l->size; /* this process's values */
        double nn = ns[i];                  /* the batch's */
        const struct layer_sums s = ls[i];

        /* tightness: ReLU(tau - D_0 / max(D_i, 1e-12)) */
        double di = s.sum_r / nn;
        double dc = di > TIGHT_FLOOR ? di : TIGHT_FLOOR;
        double t = tau - d0 / dc;
        double g_r = 0.0; /* d(lambda L)/dr_j, the same for every j of the layer */
        if (t > 0.0) {
            tight += t;
            if (di >= TIGHT_FLOOR)
                g_r = lambda / (tau * m) * d0 / (dc * dc) / nn;
        }

        /* balance: skipped when a side is empty */
        double g_alpha = 0.0, g_beta = 0.0, mu = s.sum_c / nn;
        if (s.n_act > 0 && s.n_inact > 0) {
            double alpha = s.s_act / -s.s_inact;
            double beta = s.d_act / s.d_inact;
            double da, db;
            double a1 = balance(alpha, &da), b1 = balance(beta, &db);
            double term =
                ((tau - a1 > 0.0 ? tau - a1 : 0.0) + (tau - b1 > 0.0 ? tau - b1 : 0.0)) / tau;
            if (isfinite(term)) {
                relu += term;
                out->relu_counted++;
                double scale = lambda / m / tau;
                if (tau - a1 > 0.0)
                    g_alpha = -scale * da;
                if (tau - b1 > 0.0 && db != 0.0)
                    g_beta = -scale * db;
            }
        }
        if (lambda == 0.0)
            continue;

        /* dalpha/dc_j: 1/(-S_I) on A, S_A/S_I^2 on I.
         * dbeta/dc_j = (2(c_j-mu)[A] - 2 e_A/n)/D_I - D_A (2(c_j-mu)[I] - 2 e_I/n)/D_I^2 */
        double ga_act = 0.0, ga_inact = 0.0, gb_dev_act = 0.0, gb_dev_inact = 0.0,
               gb_all = 0.0;
        if (g_alpha != 0.0) {
            ga_act = g_alpha / -s.s_inact;
            ga_inact = g_alpha * s.s_act / (s.s_inact * s.s_inact);
        }
        if (g_beta != 0.0) {
            double di2 = s.d_inact * s.d_inact;
            gb_dev_act = g_beta * 2.0 / s.d_inact;
            gb_dev_inact = -g_beta * s.d_act * 2.0 / di2;
            gb_all = g_beta * (-2.0 * s.e_act / nn / s.d_inact +
                               s.d_act * 2.0 * s.e_inact / nn / di2);
        }
        int any_c = g_alpha != 0.0 || g_beta != 0.0;
        for (size_t j = 0; j < n; j++) {
            l->gr[j] += (float)g_r;
            if (!any_c)
                continue;
            double g = gb_all, dev = (double)l->c[j] - mu;
            if (l->c[j] - l->r[j] > 0.0f)
                g += ga_act + gb_dev_act * dev;
            else if (l->c[j] + l->r[j] < 0.0f)
                g += ga_inact + gb_dev_inact * dev;
            l->gc[j] += (float)g;
        }
    }
    free(ls);
    free(ns);
    free(v);
    out->tight = tight / (tau * m);
    out->relu = relu / m;
    return IBP_OK;
}
