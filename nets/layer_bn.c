/* BATCHNORM as a per-channel affine map (SPEC §2): s = gamma / sqrt(var + eps),
 * t = beta - mean s; y = s x + t on clean rows and centres, r' = |s| r.
 * Training: mean/var are the biased statistics of the clean rows, not detached: the
 * backward pass sends dL/dmean and dL/dvar into the clean rows. Evaluation: running
 * statistics. */
#include <math.h>
#include <string.h>

#include "nets/workspace.h"

/* rows of NHWC / vector values are [positions][channels] */
static size_t positions(const struct ibp_net *net, int v)
{
    return (size_t)net->shapes[v].h * net->shapes[v].w;
}

/* batch mean and biased variance of the clean rows, in double, two passes */
static void batch_stats(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    struct bn_state *bn = &ws->bn[k];
    int C = bn->channels;
    const float *x = ws->v[l->in[0]].x;
    size_t rows = (size_t)p->batch * positions(p->net, l->in[0]);
    double *mean = ws->chsum, *sq = ws->chsum2;
    memset(mean, 0, (size_t)C * sizeof(double));
    memset(sq, 0, (size_t)C * sizeof(double));
    reduce_rows(ws, p->threads, REDUCE_SUM, x, NULL, NULL, rows, C, mean);
    for (int c = 0; c < C; c++)
        mean[c] /= (double)rows;
    reduce_rows(ws, p->threads, REDUCE_SUM_SQ_DEV, x, NULL, mean, rows, C, sq);
    for (int c = 0; c < C; c++) {
        bn->mean[c] = (float)mean[c];
        bn->var[c] = (float)(sq[c] / (double)rows);
    }
}

void layer_bn_forward(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    struct bn_state *bn = &ws->bn[k];
    int C = bn->channels;
    /* a train-mode bounds pass re-uses the affine of the clean pass before it */
    if (p->clean || p->bn == IBP_BN_EVAL) {
        const float *mean = ibp_bn_running_mean(p->net, k), *var = ibp_bn_running_var(p->net, k);
        if (p->bn == IBP_BN_TRAIN) {
            batch_stats(p, k);
            mean = bn->mean;
            var = bn->var;
        }
        const float *gamma = ibp_bn_gamma(p->net, k), *beta = ibp_bn_beta(p->net, k);
        for (int c = 0; c < C; c++) {
            float s = gamma[c] / sqrtf(var[c] + l->eps);
            bn->s[c] = s;
            bn->t[c] = beta[c] - mean[c] * s;
        }
    }
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    const float *s = bn->s, *t = bn->t;
    size_t n = out->size;
    size_t x0 = (size_t)p->x0 * n, x1 = x0 + (size_t)p->nx * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t i = x0; i < x1; i++)
        out->x[i] = in->x[i] * s[i % C] + t[i % C];
    if (p->bounds) {
        size_t r1 = (size_t)p->batch * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < r1; i++)
            out->r[i] = in->r[i] * fabsf(s[i % C]);
    }
}

void layer_bn_backward(const struct pass_ctx *p, int k, float *grad)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    struct bn_state *bn = &ws->bn[k];
    int C = bn->channels;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    size_t pos = positions(p->net, l->in[0]), n = out->size;
    const float *s = bn->s;
    int train = p->bn == IBP_BN_TRAIN;
    int want_in = ws->needs_grad[l->in[0]];

    /* dL/ds and dL/dt: the x rows give sum g*x and sum g, the r rows sum g_r*r*sign(s) */
    double *ds = bn->ds, *dt = bn->dt;
    memset(ds, 0, (size_t)C * sizeof(double));
    memset(dt, 0, (size_t)C * sizeof(double));
    if (grad || (train && want_in)) {
        size_t rows = (size_t)p->nx * pos, off = (size_t)p->x0 * n;
        reduce_rows(ws, p->threads, REDUCE_SUM_PROD, out->gx + off, in->x + off, NULL, rows, C,
                    ds);
        reduce_rows(ws, p->threads, REDUCE_SUM, out->gx + off, NULL, NULL, rows, C, dt);
        if (p->bounds) {
            double *dr = ws->chsum;
            memset(dr, 0, (size_t)C * sizeof(double));
            reduce_rows(ws, p->threads, REDUCE_SUM_PROD, out->gr, in->r, NULL,
                        (size_t)p->batch * pos, C, dr);
            for (int c = 0; c < C; c++)
                ds[c] += s[c] > 0.0f ? dr[c] : (s[c] < 0.0f ? -dr[c] : 0.0);
        }
    }
    const float *gamma = ibp_bn_gamma(p->net, k);
    const float *mean = train ? bn->mean : ibp_bn_running_mean(p->net, k);
    const float *var = train ? bn->var : ibp_bn_running_var(p->net, k);
    /* t = beta - mean s: the s seen by the loss is ds + dt * (-mean) */
    double *ds_total = ws->chsum2;
    for (int c = 0; c < C; c++)
        ds_total[c] = ds[c] - dt[c] * mean[c];
    if (grad) {
        float *gg = grad + (ibp_bn_gamma(p->net, k) - p->net->params);
        float *gb = grad + (ibp_bn_beta(p->net, k) - p->net->params);
        for (int c = 0; c < C; c++) {
            gg[c] += (float)(ds_total[c] / sqrt((double)var[c] + l->eps));
            gb[c] += (float)dt[c];
        }
    }
    if (!want_in)
        return;
    size_t x0 = (size_t)p->x0 * n, x1 = x0 + (size_t)p->nx * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t i = x0; i < x1; i++)
        in->gx[i] += out->gx[i] * s[i % C];
    if (p->bounds) {
        size_t r1 = (size_t)p->batch * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < r1; i++)
            in->gr[i] += out->gr[i] * fabsf(s[i % C]);
    }
    if (!train || !p->clean)
        return;
    /* the statistics depend on the clean rows: mean = sum x / N, var = sum (x-mean)^2 / N
     * dmean = -s dt, dvar = ds_total * gamma * (-1/2) (var + eps)^(-3/2) */
    double N = (double)p->batch * (double)pos;
    /* ds/dt are done with: they now hold the per-channel coefficients */
    for (int c = 0; c < C; c++) {
        double inv = 1.0 / sqrt((double)var[c] + l->eps);
        double dmean = -(double)s[c] * dt[c];
        double dvar = ds_total[c] * gamma[c] * -0.5 * inv * inv * inv;
        ds[c] = 2.0 * dvar / N; /* coefficient of (x - mean) */
        dt[c] = dmean / N;      /* constant term */
    }
    size_t e = (size_t)p->batch * n;
    const float *bm = bn->mean;
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t i = 0; i < e; i++) {
        size_t c = i % (size_t)C;
        in->gx[i] += (float)(ds[c] * ((double)in->x[i] - bm[c]) + dt[c]);
    }
}
