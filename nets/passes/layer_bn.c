/* BATCHNORM as a per-channel affine map (SPEC §2): s = gamma / sqrt(var + eps),
 * t = beta - mean s; y = s x + t on clean rows and centres, r' = |s| r.
 * Training: mean/var are the biased statistics of the clean rows, not detached: the
 * backward pass sends dL/dmean and dL/dvar into the clean rows. Evaluation: running
 * statistics.
 *
 * Values are [rows][C] (NHWC images: a row per position), so every loop runs over rows
 * with the channels innermost: the per-channel coefficients are plain arrays the
 * compiler vectorises against, with no index arithmetic per element. A BATCHNORM
 * followed by the RELU that reads it runs as one pass (ibp_layer_bn_relu_forward). */
#include <math.h>
#include <string.h>

#include "nets/passes/workspace.h"

/* rows of NHWC / vector values are [positions][channels] */
static size_t positions(const struct ibp_net *net, int v)
{
    return (size_t)net->shapes[v].h * net->shapes[v].w;
}

/* batch mean and biased variance of the clean rows, in double, two passes; with a sum
 * hook over the rows of every process (SyncBN): the sums and the row count are added up
 * before each division */
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
    ibp_reduce_rows(ws, p->threads, REDUCE_SUM, x, NULL, NULL, rows, C, mean);
    double n = (double)rows;
    if (ws->sum.fn) {
        memcpy(bn->sync, mean, (size_t)C * sizeof(double));
        bn->sync[C] = n;
        ws->sum.fn(ws->sum.ctx, bn->sync, (size_t)C + 1);
        memcpy(mean, bn->sync, (size_t)C * sizeof(double));
        n = bn->sync[C];
    }
    bn->rows = n;
    for (int c = 0; c < C; c++)
        mean[c] /= n;
    ibp_reduce_rows(ws, p->threads, REDUCE_SUM_SQ_DEV, x, NULL, mean, rows, C, sq);
    if (ws->sum.fn)
        ws->sum.fn(ws->sum.ctx, sq, (size_t)C);
    for (int c = 0; c < C; c++) {
        bn->mean[c] = (float)mean[c];
        bn->var[c] = (float)(sq[c] / n);
    }
}

/* (s, t, |s|) of this pass: a train-mode bounds pass re-uses those of the clean pass */
static void bn_affine(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct bn_state *bn = &p->ws->bn[k];
    if (!(p->clean || p->bn == IBP_BN_EVAL))
        return;
    const float *mean = ibp_bn_running_mean(p->net, k), *var = ibp_bn_running_var(p->net, k);
    if (p->bn == IBP_BN_TRAIN) {
        batch_stats(p, k);
        mean = bn->mean;
        var = bn->var;
    }
    const float *gamma = ibp_bn_gamma(p->net, k), *beta = ibp_bn_beta(p->net, k);
    for (int c = 0; c < bn->channels; c++) {
        float s = gamma[c] / sqrtf(var[c] + l->eps);
        bn->s[c] = s;
        bn->t[c] = beta[c] - mean[c] * s;
        bn->sabs[c] = fabsf(s);
    }
}

static float relu(float v)
{
    return v > 0.0f ? v : 0.0f;
}

/* Four lanes at a time with GCC vector extensions: a select written as `c ? a : b` on
 * floats is not vectorised by gcc under the default -ftrapping-math (it will not
 * if-convert the comparison), yet these loops are the bulk of the element-wise work.
 * Lane comparisons give all-ones / all-zero masks; selects are bit operations, so every
 * lane equals the scalar code exactly (NaN and -0 included). */
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

static v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void store4(float *p, v4f v)
{
    memcpy(p, &v, sizeof v);
}

/* m ? a : b per lane */
static v4f select4(v4i m, v4f a, v4f b)
{
    return (v4f)(((v4i)a & m) | ((v4i)b & ~m));
}

static v4f relu4(v4f v)
{
    v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
    return select4(v > zero, v, zero);
}

/* y[rows][C] = x s + t (t NULL: no shift); with ry, also the ReLU of y */
static void affine_rows(const float *restrict x, float *restrict y, float *restrict ry,
                        size_t rows, size_t C, const float *restrict s, const float *restrict t,
                        int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        if (t)
            for (size_t c = 0; c < C; c++)
                yr[c] = xr[c] * s[c] + t[c];
        else
            for (size_t c = 0; c < C; c++)
                yr[c] = xr[c] * s[c];
        if (ry) {
            float *rr = ry + r * C;
            for (size_t c = 0; c < C; c++)
                rr[c] = relu(yr[c]);
        }
    }
}

/* centres and radii through the affine map and then through the ReLU (IBP on the
 * bounds: lo = max(c - r, 0), hi = max(c + r, 0)) */
static void affine_relu_bounds(const float *restrict c, const float *restrict r,
                               float *restrict cy, float *restrict ry, float *restrict co,
                               float *restrict ro, size_t rows, size_t C,
                               const float *restrict s, const float *restrict t,
                               const float *restrict sabs, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t q = 0; q < rows; q++) {
        const float *cq = c + q * C, *rq = r + q * C;
        float *cyq = cy + q * C, *ryq = ry + q * C, *coq = co + q * C, *roq = ro + q * C;
        size_t j = 0;
        v4f half = {0.5f, 0.5f, 0.5f, 0.5f};
        for (; j + 4 <= C; j += 4) {
            v4f cc = load4(cq + j) * load4(s + j) + load4(t + j), rr = load4(rq + j) * load4(sabs + j);
            store4(cyq + j, cc);
            store4(ryq + j, rr);
            v4f lo = relu4(cc - rr), hi = relu4(cc + rr);
            store4(coq + j, (hi + lo) * half);
            store4(roq + j, (hi - lo) * half);
        }
        for (; j < C; j++) {
            float cc = cq[j] * s[j] + t[j], rr = rq[j] * sabs[j];
            cyq[j] = cc;
            ryq[j] = rr;
            float lo = relu(cc - rr), hi = relu(cc + rr);
            coq[j] = (hi + lo) * 0.5f;
            roq[j] = (hi - lo) * 0.5f;
        }
    }
}

/* gi[rows][C] += g s, or = g s when store */
static void affine_add_rows(const float *restrict g, float *restrict gi, size_t rows, size_t C,
                            const float *restrict s, int store, int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *gr = g + r * C;
        float *ir = gi + r * C;
        if (store)
            for (size_t c = 0; c < C; c++)
                ir[c] = gr[c] * s[c];
        else
            for (size_t c = 0; c < C; c++)
                ir[c] += gr[c] * s[c];
    }
}

void ibp_layer_bn_forward(const struct pass_ctx *p, int k)
{
    ibp_layer_bn_relu_forward(p, k, -1);
}

void ibp_layer_bn_relu_forward(const struct pass_ctx *p, int k, int relu_k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    struct bn_state *bn = &ws->bn[k];
    bn_affine(p, k);
    size_t C = (size_t)bn->channels, pos = positions(p->net, l->in[0]);
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    const struct value_buf *ro = relu_k >= 0 ? &ws->v[relu_k + 1] : NULL;
    size_t n = out->size, B = (size_t)p->batch;
    /* clean rows [x0, B) (bounds-only passes have none); centres [B, 2B) */
    size_t x0 = (size_t)p->x0, xc = p->clean ? B : 0;
    if (xc > x0)
        affine_rows(in->x + x0 * n, out->x + x0 * n, ro ? ro->x + x0 * n : NULL,
                    (xc - x0) * pos, C, bn->s, bn->t, p->threads);
    if (!p->bounds)
        return;
    if (ro) {
        affine_relu_bounds(in->x + B * n, in->r, out->x + B * n, out->r, ro->x + B * n, ro->r,
                           B * pos, C, bn->s, bn->t, bn->sabs, p->threads);
        return;
    }
    affine_rows(in->x + B * n, out->x + B * n, NULL, B * pos, C, bn->s, bn->t, p->threads);
    affine_rows(in->r, out->r, NULL, B * pos, C, bn->sabs, NULL, p->threads);
}

/* What the sums of the BN backward need; see bn_backward_apply. */
static int bn_needs_sums(const struct pass_ctx *p, int k, const float *grad)
{
    return grad || (p->bn == IBP_BN_TRAIN && p->ws->needs_grad[p->net->layers[k].in[0]]);
}

static void bn_backward_apply(const struct pass_ctx *p, int k, float *grad);

/* ds, dt += what the CROWN-IBP pass left (xds, xdt), which is then spent */
static void add_outside_sums(struct bn_state *bn)
{
    for (int c = 0; c < bn->channels; c++) {
        bn->ds[c] += bn->xds[c];
        bn->dt[c] += bn->xdt[c];
        bn->xds[c] = bn->xdt[c] = 0.0;
    }
}

void ibp_layer_bn_backward(const struct pass_ctx *p, int k, float *grad)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    struct bn_state *bn = &ws->bn[k];
    int C = bn->channels;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    size_t pos = positions(p->net, l->in[0]), n = out->size;
    const float *s = bn->s;

    /* dL/ds and dL/dt: the x rows give sum g*x and sum g, the r rows sum g_r*r*sign(s) */
    double *ds = bn->ds, *dt = bn->dt;
    memset(ds, 0, (size_t)C * sizeof(double));
    memset(dt, 0, (size_t)C * sizeof(double));
    if (bn_needs_sums(p, k, grad)) {
        size_t rows = (size_t)p->nx * pos, off = (size_t)p->x0 * n;
        ibp_reduce_rows_prod_sum(ws, p->threads, out->gx + off, in->x + off, rows, C, ds, dt);
        if (p->bounds) {
            double *dr = ws->chsum;
            memset(dr, 0, (size_t)C * sizeof(double));
            ibp_reduce_rows(ws, p->threads, REDUCE_SUM_PROD, out->gr, in->r, NULL,
                        (size_t)p->batch * pos, C, dr);
            for (int c = 0; c < C; c++)
                ds[c] += s[c] > 0.0f ? dr[c] : (s[c] < 0.0f ? -dr[c] : 0.0);
        }
    }
    add_outside_sums(bn);
    bn_backward_apply(p, k, grad);
}

/* One row of the ReLU backward, clean: g += go where y > 0 (store: g = that, g's old
 * contents ignored) */
static void relu_grad_row(float *restrict g, const float *restrict y, const float *restrict go,
                          size_t C, int store)
{
    size_t c = 0;
    v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
    for (; c + 4 <= C; c += 4) {
        v4f gv = store ? zero : load4(g + c);
        store4(g + c, select4(load4(y + c) > zero, gv + load4(go + c), gv));
    }
    for (; c < C; c++) {
        float gv = store ? 0.0f : g[c];
        g[c] = y[c] > 0.0f ? gv + go[c] : gv;
    }
}

/* One row of the ReLU backward on bounds, as ibp_layer_relu_backward: c' = (hi + lo)/2,
 * r' = (hi - lo)/2 with lo = max(c - r, 0), hi = max(c + r, 0) */
static void relu_bounds_grad_row(float *restrict gc, float *restrict gr, const float *restrict c,
                                 const float *restrict r, const float *restrict gco,
                                 const float *restrict gro, size_t C, int store)
{
    size_t j = 0;
    v4f zero = {0.0f, 0.0f, 0.0f, 0.0f}, half = {0.5f, 0.5f, 0.5f, 0.5f};
    for (; j + 4 <= C; j += 4) {
        v4f a = load4(gco + j), b = load4(gro + j), cv = load4(c + j), rv = load4(r + j);
        v4f ghi = select4(cv + rv > zero, (a + b) * half, zero);
        v4f glo = select4(cv - rv > zero, (a - b) * half, zero);
        store4(gc + j, (store ? zero : load4(gc + j)) + (ghi + glo));
        store4(gr + j, (store ? zero : load4(gr + j)) + (ghi - glo));
    }
    for (; j < C; j++) {
        float ghi = (gco[j] + gro[j]) * 0.5f, glo = (gco[j] - gro[j]) * 0.5f;
        glo = c[j] - r[j] > 0.0f ? glo : 0.0f;
        ghi = c[j] + r[j] > 0.0f ? ghi : 0.0f;
        gc[j] = (store ? 0.0f : gc[j]) + (ghi + glo);
        gr[j] = (store ? 0.0f : gr[j]) + (ghi - glo);
    }
}

/* acc[c] += a b */
static void prod_row(double *restrict acc, const float *restrict a, const float *restrict b,
                     size_t C)
{
    for (size_t c = 0; c < C; c++)
        acc[c] += (double)a[c] * b[c];
}

/* acc[c] += a b, acc2[c] += a */
static void prod_sum_row(double *restrict acc, double *restrict acc2, const float *restrict a,
                         const float *restrict b, size_t C)
{
    for (size_t c = 0; c < C; c++) {
        acc[c] += (double)a[c] * b[c];
        acc2[c] += a[c];
    }
}

void ibp_layer_relu_bn_backward(const struct pass_ctx *p, int relu_k, int bn_k, float *grad)
{
    struct ibp_workspace *ws = p->ws;
    const struct ibp_layer_spec *l = &p->net->layers[bn_k];
    struct bn_state *bn = &ws->bn[bn_k];
    if (!ws->needs_grad[bn_k + 1])
        return; /* then BATCHNORM has nothing to do either (no parameters, no input) */
    const struct value_buf *in = &ws->v[l->in[0]], *mid = &ws->v[bn_k + 1];
    const struct value_buf *out = &ws->v[relu_k + 1];
    size_t C = (size_t)bn->channels, pos = positions(p->net, l->in[0]);
    size_t B = (size_t)p->batch, bpos = B * pos;
    int sums = bn_needs_sums(p, bn_k, grad);
    /* mid's gradient was not zeroed (see grad_unset): the rows below store */
    int store = ws->grad_unset[bn_k + 1];
    ws->grad_unset[bn_k + 1] = 0;
    /* x rows [r0, r1): clean rows below bpos, centre rows from bpos on (their radii at
     * row - bpos); partial sums over fixed chunks of REDUCE_CHUNK rows from r0 */
    size_t r0 = (size_t)p->x0 * pos, r1 = r0 + (size_t)p->nx * pos;
    size_t nchunk = (r1 - r0 + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
    double *pprod = ws->partial, *psum = pprod + nchunk * C, *pdr = psum + nchunk * C;
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t ch = 0; ch < nchunk; ch++) {
        double *acc = pprod + ch * C, *acc2 = psum + ch * C, *acc3 = pdr + ch * C;
        for (size_t c = 0; c < C; c++)
            acc[c] = acc2[c] = acc3[c] = 0.0;
        size_t a0 = r0 + ch * REDUCE_CHUNK, a1 = a0 + REDUCE_CHUNK < r1 ? a0 + REDUCE_CHUNK : r1;
        for (size_t r = a0; r < a1; r++) {
            const float *xi = in->x + r * C, *y = mid->x + r * C, *go = out->gx + r * C;
            float *g = mid->gx + r * C;
            if (r < bpos) {
                relu_grad_row(g, y, go, C, store);
            } else {
                size_t q = r - bpos;
                relu_bounds_grad_row(g, mid->gr + q * C, y, mid->r + q * C, go, out->gr + q * C,
                                     C, store);
                if (sums)
                    prod_row(acc3, mid->gr + q * C, in->r + q * C, C);
            }
            if (sums)
                prod_sum_row(acc, acc2, g, xi, C);
        }
    }
    double *ds = bn->ds, *dt = bn->dt, *dr = ws->chsum;
    memset(ds, 0, C * sizeof(double));
    memset(dt, 0, C * sizeof(double));
    memset(dr, 0, C * sizeof(double));
    for (size_t ch = 0; sums && ch < nchunk; ch++)
        for (size_t c = 0; c < C; c++) {
            ds[c] += pprod[ch * C + c];
            dt[c] += psum[ch * C + c];
            dr[c] += pdr[ch * C + c];
        }
    const float *s = bn->s;
    for (size_t c = 0; sums && p->bounds && c < C; c++)
        ds[c] += s[c] > 0.0f ? dr[c] : (s[c] < 0.0f ? -dr[c] : 0.0);
    add_outside_sums(bn);
    bn_backward_apply(p, bn_k, grad);
}

/* With bn->ds, bn->dt holding dL/ds and dL/dt: the parameter gradients and the input
 * gradients (through the batch statistics in train mode). */
static void bn_backward_apply(const struct pass_ctx *p, int k, float *grad)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    struct bn_state *bn = &ws->bn[k];
    int C = bn->channels;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    size_t pos = positions(p->net, l->in[0]);
    const float *s = bn->s;
    int train = p->bn == IBP_BN_TRAIN;
    int want_in = ws->needs_grad[l->in[0]];
    double *ds = bn->ds, *dt = bn->dt;
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
    /* The statistics depend on the clean rows: mean = sum x / N, var = sum (x-mean)^2 / N,
     * dmean = -s dt, dvar = ds_total * gamma * (-1/2) (var + eps)^(-3/2).
     * ds/dt are done with: they now hold the per-channel coefficients of (x - mean) and
     * the constant term of that gradient. */
    int stats = train && p->clean;
    if (stats && ws->sum.fn) {
        /* SyncBN: the statistics are every process's, so is what flows back through them */
        memcpy(bn->sync, ds, (size_t)C * sizeof(double));
        memcpy(bn->sync + C, dt, (size_t)C * sizeof(double));
        ws->sum.fn(ws->sum.ctx, bn->sync, 2 * (size_t)C);
        memcpy(ds, bn->sync, (size_t)C * sizeof(double));
        memcpy(dt, bn->sync + C, (size_t)C * sizeof(double));
        for (int c = 0; c < C; c++)
            ds_total[c] = ds[c] - dt[c] * mean[c];
    }
    if (stats) {
        double N = bn->rows;
        for (int c = 0; c < C; c++) {
            double inv = 1.0 / sqrt((double)var[c] + l->eps);
            double dmean = -(double)s[c] * dt[c];
            double dvar = ds_total[c] * gamma[c] * -0.5 * inv * inv * inv;
            ds[c] = 2.0 * dvar / N;
            dt[c] = dmean / N;
        }
    }
    size_t Cz = (size_t)C, B = (size_t)p->batch;
    size_t r0 = (size_t)p->x0 * pos, r1 = r0 + (size_t)p->nx * pos, rc = stats ? B * pos : r0;
    const float *bm = bn->mean;
    const double *a = ds, *b0 = dt;
    /* the input's gradient was not zeroed (see grad_unset): store every row read later */
    int in_v = l->in[0], store = ws->grad_unset[in_v];
    ws->grad_unset[in_v] = 0;
    /* clean rows with the statistics term: gx += g s, then += a (x - mean) + b0 */
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t r = r0; r < rc; r++) {
        const float *g = out->gx + r * Cz, *x = in->x + r * Cz;
        float *gi = in->gx + r * Cz;
        for (size_t c = 0; c < Cz; c++) {
            float v = (store ? 0.0f : gi[c]) + g[c] * s[c];
            gi[c] = v + (float)(a[c] * ((double)x[c] - bm[c]) + b0[c]);
        }
    }
    size_t rs = rc > r0 ? rc : r0;
    if (r1 > rs)
        affine_add_rows(out->gx + rs * Cz, in->gx + rs * Cz, r1 - rs, Cz, s, store, p->threads);
    if (p->bounds)
        affine_add_rows(out->gr, in->gr, B * pos, Cz, bn->sabs, store, p->threads);
}
