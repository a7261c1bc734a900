#include "trainer/regularizer.h"

#include <math.h>

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

enum ibp_status ibp_reg_warmup(const struct ibp_relu_bounds *layers, int m, int batch,
                               const float *input_r, size_t input_size, double tau,
                               double lambda, struct ibp_reg_terms *out, struct ibp_error *err)
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
    size_t n0 = (size_t)batch * input_size;
    double d0 = 0.0;
    for (size_t j = 0; j < n0; j++)
        d0 += input_r[j];
    d0 /= (double)n0;

    double tight = 0.0, relu = 0.0;
    for (int i = 0; i < m; i++) {
        const struct ibp_relu_bounds *l = &layers[i];
        size_t n = (size_t)batch * l->size;
        struct layer_sums s = {0};
        first_sums(l->c, l->r, n, &s);

        /* tightness: ReLU(tau - D_0 / max(D_i, 1e-12)) */
        double di = s.sum_r / (double)n;
        double dc = di > TIGHT_FLOOR ? di : TIGHT_FLOOR;
        double t = tau - d0 / dc;
        double g_r = 0.0; /* d(lambda L)/dr_j, the same for every j of the layer */
        if (t > 0.0) {
            tight += t;
            if (di >= TIGHT_FLOOR)
                g_r = lambda / (tau * m) * d0 / (dc * dc) / (double)n;
        }

        /* balance: skipped when a side is empty */
        double g_alpha = 0.0, g_beta = 0.0, mu = s.sum_c / (double)n;
        if (s.n_act > 0 && s.n_inact > 0) {
            second_sums(l->c, l->r, n, mu, &s);
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
            gb_all = g_beta * (-2.0 * s.e_act / (double)n / s.d_inact +
                               s.d_act * 2.0 * s.e_inact / (double)n / di2);
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
    out->tight = tight / (tau * m);
    out->relu = relu / m;
    return IBP_OK;
}
