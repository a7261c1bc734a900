/* CROWN-IBP on a training workspace (crown_ibp.h).
 *
 * One margin row m at a time for the whole batch: lam[v] [batch][size] holds the
 * coefficients of the bound with respect to value v (NHWC, the workspace's layout),
 * bias[b] the constant. "Propagate" walks the layers from the last down to the input
 * (lam[in] += A_k^T lam[out], the relaxed ReLU choosing its line by the coefficient's
 * sign); the bound is lam[v0] . c - |lam[v0]| . r + bias on the box. The backward walks
 * the other way: dlam[v] = dL/dlam[v], every value written once by the layer that made
 * it, while the parameter, BN and ReLU-bound gradients accumulate over rows in a fixed
 * order (per-sample partial sums, added sample by sample), so results do not depend on
 * the thread count. The bounds call keeps every row's coefficients for the backward
 * when they fit in KEEP_BYTES; otherwise the backward recomputes them row by row. */
#include "nets/bounds/crown_ibp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/kernels/gemm.h"
#include "nets/passes/workspace.h"

/* Most memory the coefficients of all margin rows may take to be kept for backward. */
#define KEEP_BYTES ((size_t)512 << 20)

struct ibp_crown_ibp {
    int n_layers, max_batch;
    int v0;              /* the value the box is concretised on (after a NORMALIZE) */
    float **lam, **dlam; /* [n_layers + 1]: [max_batch][size] for values v0..n_layers-1;
                          * lam points into the slot of the row in hand */
    size_t *off;         /* [n_layers + 1]: offset of value v's lam in a slot */
    size_t slot_floats;  /* one slot: every value's lam for max_batch samples */
    float *slots;        /* [n_slots][slot_floats] */
    double *bias_slots;  /* [n_slots][max_batch] */
    int n_slots;
    int kept_rows, kept_batch; /* rows whose lam the last bounds call left (0: none) */
    double *bias;        /* [max_batch] of the row in hand */
    double *part;        /* [2][max_batch][largest channel count] per-sample partial sums */
    float *g;            /* [max_batch] dL/dbias of the row in hand */
    int max_channels;
};

static int supported(enum ibp_layer_kind kind)
{
    return kind == IBP_LAYER_LINEAR || kind == IBP_LAYER_CONV2D ||
           kind == IBP_LAYER_BATCHNORM || kind == IBP_LAYER_RELU ||
           kind == IBP_LAYER_FLATTEN || kind == IBP_LAYER_ADD;
}

void ibp_crown_ibp_free(struct ibp_crown_ibp *c)
{
    if (!c)
        return;
    for (int v = 0; c->dlam && v <= c->n_layers; v++)
        free(c->dlam[v]);
    free(c->lam);
    free(c->dlam);
    free(c->off);
    free(c->slots);
    free(c->bias_slots);
    free(c->part);
    free(c->g);
    free(c);
}

enum ibp_status ibp_crown_ibp_create(const struct ibp_net *net, int max_batch,
                                     struct ibp_crown_ibp **out, struct ibp_error *err)
{
    *out = NULL;
    int L = net->n_layers;
    if (max_batch <= 0)
        return ibp_fail(err, IBP_ERR_ARG, "crown-ibp: batch %d must be positive", max_batch);
    if (L < 1 || net->layers[L - 1].kind != IBP_LAYER_LINEAR)
        return ibp_fail(err, IBP_ERR_ARG, "crown-ibp: the last layer must be linear");
    int v0 = ibp_net_box_value(net);
    for (int k = v0; k < L; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        if (!supported(l->kind))
            return ibp_fail(err, IBP_ERR_ARG, "crown-ibp: layer %d (%s) is not supported", k,
                            ibp_layer_kind_name(l->kind));
        if (l->in[0] < v0 || (l->kind == IBP_LAYER_ADD && l->in[1] < v0))
            return ibp_fail(err, IBP_ERR_ARG,
                            "crown-ibp: layer %d (%s) reads the input before normalisation", k,
                            ibp_layer_kind_name(l->kind));
    }
    struct ibp_crown_ibp *c = calloc(1, sizeof *c);
    if (!c)
        return ibp_fail(err, IBP_ERR_NOMEM, "crown-ibp: out of memory");
    c->n_layers = L;
    c->max_batch = max_batch;
    c->v0 = v0;
    c->lam = calloc((size_t)L + 1, sizeof *c->lam);
    c->dlam = calloc((size_t)L + 1, sizeof *c->dlam);
    c->off = calloc((size_t)L + 1, sizeof *c->off);
    int ok = c->lam && c->dlam && c->off;
    for (int v = v0; ok && v < L; v++) {
        size_t n = (size_t)max_batch * ibp_shape_size(net->shapes[v]);
        c->off[v] = c->slot_floats;
        c->slot_floats += n;
        c->dlam[v] = malloc(n * sizeof(float));
        ok = c->dlam[v] != NULL;
        if (net->shapes[v].c > c->max_channels)
            c->max_channels = net->shapes[v].c;
    }
    if (ok) {
        c->n_slots = 1;
        c->slots = malloc(c->slot_floats * sizeof(float));
        c->bias_slots = malloc((size_t)max_batch * sizeof(double));
        c->part = malloc(2 * (size_t)max_batch * (size_t)c->max_channels * sizeof(double));
        c->g = malloc((size_t)max_batch * sizeof(float));
        ok = c->slots && c->bias_slots && c->part && c->g;
    }
    if (!ok) {
        ibp_crown_ibp_free(c);
        return ibp_fail(err, IBP_ERR_NOMEM, "crown-ibp: out of memory for %d samples",
                        max_batch);
    }
    *out = c;
    return IBP_OK;
}

static enum ibp_status check_ready(const struct ibp_crown_ibp *c, const struct ibp_net *net,
                                   const struct ibp_workspace *ws, const char *what,
                                   struct ibp_error *err)
{
    if (ws->n_layers != net->n_layers || c->n_layers != net->n_layers)
        return ibp_fail(err, IBP_ERR_ARG, "%s: made for a different network", what);
    if (!(ws->flags & IBP_WS_GRAD) || !(ws->flags & IBP_WS_BOUNDS))
        return ibp_fail(err, IBP_ERR_ARG, "%s: the workspace needs IBP_WS_BOUNDS | IBP_WS_GRAD",
                        what);
    if (!ws->bounds_done || ws->spec_kind != 1)
        return ibp_fail(err, IBP_ERR_ARG, "%s: no bounds pass with labels ran on the workspace",
                        what);
    if (ws->batch > c->max_batch)
        return ibp_fail(err, IBP_ERR_ARG, "%s: batch %d beyond the %d it was made for", what,
                        ws->batch, c->max_batch);
    return IBP_OK;
}

static struct pass_ctx ctx(const struct ibp_net *net, struct ibp_workspace *ws)
{
    struct pass_ctx p = {net, ws, ws->batch, 0, ws->batch, 0, 0, ws->bounds_mode, ws->threads};
    return p;
}

/* weights of LINEAR/CONV2D layer k (its parameters less the bias) */
static size_t weight_count(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    return ibp_layer_param_count(net, k) - (l->no_bias ? 0 : (size_t)l->out);
}

/* the class j != y of margin row m */
static int row_class(int y, int m)
{
    return m < y ? m : m + 1;
}

/* positions of value v (rows of [positions][channels]) */
static size_t positions(const struct ibp_net *net, int v)
{
    return (size_t)net->shapes[v].h * net->shapes[v].w;
}

/* lam[in] += A_k^T lam[k + 1], bias += the layer's constant term */
static void propagate_layer(struct ibp_crown_ibp *c, const struct ibp_net *net,
                            struct ibp_workspace *ws, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    int B = ws->batch, threads = ws->threads, vi = l->in[0];
    size_t isz = ibp_shape_size(net->shapes[vi]), osz = ibp_shape_size(net->shapes[k + 1]);
    const float *lo = c->lam[k + 1];
    float *li = c->lam[vi];
    double *bias = c->bias;
    switch (l->kind) {
    case IBP_LAYER_LINEAR: {
        ibp_sgemm(0, 0, B, l->in_size, l->out, 1.0f, lo, l->out, ibp_layer_weight(net, k),
                  l->in_size, 1.0f, li, l->in_size, threads);
        const float *b = ibp_layer_bias(net, k);
        for (int n = 0; b && n < B; n++) {
            double acc = 0.0;
            for (int o = 0; o < l->out; o++)
                acc += (double)lo[(size_t)n * l->out + o] * b[o];
            bias[n] += acc;
        }
        break;
    }
    case IBP_LAYER_CONV2D: {
        struct pass_ctx p = ctx(net, ws);
        ibp_conv_samples_backward(&p, k, li, lo, li, B, NULL);
        const float *b = ibp_layer_bias(net, k);
        int C = l->out;
        size_t pos = positions(net, k + 1);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int n = 0; n < B; n++) {
            if (!b)
                continue;
            double acc = 0.0;
            for (size_t q = 0; q < pos; q++)
                for (int o = 0; o < C; o++)
                    acc += (double)lo[((size_t)n * pos + q) * C + o] * b[o];
            bias[n] += acc;
        }
        break;
    }
    case IBP_LAYER_BATCHNORM: {
        const float *s = ws->bn[k].s, *t = ws->bn[k].t;
        size_t C = (size_t)ws->bn[k].channels, pos = osz / C;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int n = 0; n < B; n++) {
            double acc = 0.0;
            for (size_t q = 0; q < pos; q++) {
                const float *a = lo + ((size_t)n * pos + q) * C;
                float *d = li + ((size_t)n * pos + q) * C;
                for (size_t ch = 0; ch < C; ch++) {
                    d[ch] += a[ch] * s[ch];
                    acc += (double)a[ch] * t[ch];
                }
            }
            bias[n] += acc;
        }
        break;
    }
    case IBP_LAYER_RELU: {
        const struct value_buf *v = &ws->v[vi];
        const float *cen = v->x + (size_t)B * isz, *rad = v->r;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int n = 0; n < B; n++) {
            double acc = 0.0;
            for (size_t i = (size_t)n * isz; i < (size_t)(n + 1) * isz; i++) {
                float lw = cen[i] - rad[i], up = cen[i] + rad[i], a = lo[i];
                if (!(lw < 0.0f)) {
                    li[i] += a;
                } else if (up > 0.0f) {
                    if (a > 0.0f) {
                        if (up > -lw)
                            li[i] += a;
                    } else {
                        float d = up / (up - lw);
                        li[i] += d * a;
                        acc += (double)a * (-d * lw);
                    }
                }
            }
            bias[n] += acc;
        }
        break;
    }
    case IBP_LAYER_FLATTEN: {
        struct ibp_shape s = net->shapes[vi];
        ibp_flatten_rows(lo, li, (size_t)B, (size_t)s.h * s.w, (size_t)s.c, 1, threads);
        break;
    }
    case IBP_LAYER_ADD: {
        float *l2 = c->lam[l->in[1]];
        size_t e = (size_t)B * osz;
        for (size_t i = 0; i < e; i++) {
            li[i] += lo[i];
            l2[i] += lo[i];
        }
        break;
    }
    default:
        break; /* excluded by ibp_crown_ibp_create */
    }
}

/* lam and bias point into slot s */
static void use_slot(struct ibp_crown_ibp *c, int s)
{
    for (int v = c->v0; v < c->n_layers; v++)
        c->lam[v] = c->slots + (size_t)s * c->slot_floats + c->off[v];
    c->bias = c->bias_slots + (size_t)s * c->max_batch;
}

/* One slot per margin row when they fit in KEEP_BYTES (keeping one slot otherwise, or
 * when out of memory: the backward then recomputes). */
static void reserve_slots(struct ibp_crown_ibp *c, int rows)
{
    if (rows <= c->n_slots || (size_t)rows * c->slot_floats * sizeof(float) > KEEP_BYTES)
        return;
    float *s = malloc((size_t)rows * c->slot_floats * sizeof(float));
    double *b = malloc((size_t)rows * c->max_batch * sizeof(double));
    if (!s || !b) {
        free(s);
        free(b);
        return;
    }
    free(c->slots);
    free(c->bias_slots);
    c->slots = s;
    c->bias_slots = b;
    c->n_slots = rows;
}

/* lam and bias of margin row m for the whole batch */
static void propagate(struct ibp_crown_ibp *c, const struct ibp_net *net,
                      struct ibp_workspace *ws, int m)
{
    int L = net->n_layers, B = ws->batch;
    for (int v = c->v0; v < L; v++)
        memset(c->lam[v], 0, (size_t)B * ibp_shape_size(net->shapes[v]) * sizeof(float));
    const struct ibp_layer_spec *last = &net->layers[L - 1];
    const float *W = ibp_layer_weight(net, L - 1), *b = ibp_layer_bias(net, L - 1);
    size_t H = (size_t)last->in_size;
    float *top = c->lam[last->in[0]];
    for (int n = 0; n < B; n++) {
        int y = ws->labels[n], j = row_class(y, m);
        for (size_t h = 0; h < H; h++)
            top[(size_t)n * H + h] = W[(size_t)y * H + h] - W[(size_t)j * H + h];
        c->bias[n] = b ? (double)b[y] - b[j] : 0.0;
    }
    for (int k = L - 2; k >= c->v0; k--)
        propagate_layer(c, net, ws, k);
}

enum ibp_status ibp_crown_ibp_bounds(struct ibp_crown_ibp *c, const struct ibp_net *net,
                                     struct ibp_workspace *ws, float *lb,
                                     struct ibp_error *err)
{
    enum ibp_status st = check_ready(c, net, ws, "crown-ibp bounds", err);
    if (st != IBP_OK)
        return st;
    int B = ws->batch, rows = ws->rows;
    const struct value_buf *v = &ws->v[c->v0];
    size_t n0 = v->size;
    const float *cen = v->x + (size_t)B * n0, *rad = v->r;
    reserve_slots(c, rows);
    int keep = c->n_slots >= rows;
    for (int m = 0; m < rows; m++) {
        use_slot(c, keep ? m : 0);
        propagate(c, net, ws, m);
        const float *a = c->lam[c->v0];
#pragma omp parallel for num_threads(ws->threads) schedule(static)
        for (int n = 0; n < B; n++) {
            double acc = c->bias[n];
            for (size_t i = (size_t)n * n0; i < (size_t)(n + 1) * n0; i++)
                acc += (double)a[i] * cen[i] - fabs((double)a[i]) * rad[i];
            lb[(size_t)n * rows + m] = (float)acc;
        }
    }
    c->kept_rows = keep ? rows : 0;
    c->kept_batch = B;
    return IBP_OK;
}

/* dlam[k + 1] from dlam[in]; parameter gradients into grad (conv: packed, ws->dwpack),
 * BN's into xds/xdt, the relaxation's into the ReLU-input slots. g[n] = dL/dbias[n]. */
static void reverse_layer(struct ibp_crown_ibp *c, const struct ibp_net *net,
                          struct ibp_workspace *ws, int k, const float *g, float *grad)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    int B = ws->batch, threads = ws->threads, vi = l->in[0];
    size_t isz = ibp_shape_size(net->shapes[vi]), osz = ibp_shape_size(net->shapes[k + 1]);
    const float *lo = c->lam[k + 1], *di = c->dlam[vi];
    float *dout = c->dlam[k + 1];
    double *part = c->part, *part2 = c->part + (size_t)c->max_batch * c->max_channels;
    switch (l->kind) {
    case IBP_LAYER_LINEAR: {
        const float *W = ibp_layer_weight(net, k), *b = ibp_layer_bias(net, k);
        int I = l->in_size, O = l->out;
        ibp_sgemm(0, 1, B, O, I, 1.0f, di, I, W, I, 0.0f, dout, O, threads);
        ibp_sgemm(1, 0, O, I, B, 1.0f, lo, O, di, I, 1.0f, grad + net->param_off[k], I, threads);
        if (!b)
            break;
        float *db = grad + (b - net->params);
        for (int n = 0; n < B; n++)
            for (int o = 0; o < O; o++) {
                dout[(size_t)n * O + o] += g[n] * b[o];
                db[o] += g[n] * lo[(size_t)n * O + o];
            }
        break;
    }
    case IBP_LAYER_CONV2D: {
        struct pass_ctx p = ctx(net, ws);
        ibp_conv_samples_forward(&p, k, di, dout, B);
        ibp_conv_samples_backward(&p, k, di, lo, NULL, B, ws->dwpack[k]);
        const float *b = ibp_layer_bias(net, k);
        if (!b)
            break;
        int C = l->out;
        size_t pos = positions(net, k + 1);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int n = 0; n < B; n++) {
            double *sum = part + (size_t)n * C;
            for (int o = 0; o < C; o++)
                sum[o] = 0.0;
            for (size_t q = 0; q < pos; q++) {
                float *d = dout + ((size_t)n * pos + q) * C;
                const float *a = lo + ((size_t)n * pos + q) * C;
                for (int o = 0; o < C; o++) {
                    d[o] += g[n] * b[o];
                    sum[o] += a[o];
                }
            }
        }
        float *db = grad + (b - net->params);
        for (int n = 0; n < B; n++)
            for (int o = 0; o < C; o++)
                db[o] += (float)(g[n] * part[(size_t)n * C + o]);
        break;
    }
    case IBP_LAYER_BATCHNORM: {
        struct bn_state *bn = &ws->bn[k];
        const float *s = bn->s, *t = bn->t;
        size_t C = (size_t)bn->channels, pos = osz / C;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int n = 0; n < B; n++) {
            double *ps = part + (size_t)n * C, *pt = part2 + (size_t)n * C;
            for (size_t ch = 0; ch < C; ch++)
                ps[ch] = pt[ch] = 0.0;
            for (size_t q = 0; q < pos; q++) {
                size_t o = ((size_t)n * pos + q) * C;
                for (size_t ch = 0; ch < C; ch++) {
                    dout[o + ch] = di[o + ch] * s[ch] + g[n] * t[ch];
                    ps[ch] += (double)di[o + ch] * lo[o + ch];
                    pt[ch] += lo[o + ch];
                }
            }
        }
        for (int n = 0; n < B; n++)
            for (size_t ch = 0; ch < C; ch++) {
                bn->xds[ch] += part[(size_t)n * C + ch];
                bn->xdt[ch] += g[n] * part2[(size_t)n * C + ch];
            }
        break;
    }
    case IBP_LAYER_RELU: {
        struct value_buf *v = &ws->v[vi];
        const float *cen = v->x + (size_t)B * isz, *rad = v->r;
        float *gc = v->gx + (size_t)B * isz, *gr = v->gr;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int n = 0; n < B; n++)
            for (size_t i = (size_t)n * isz; i < (size_t)(n + 1) * isz; i++) {
                float lw = cen[i] - rad[i], up = cen[i] + rad[i], a = lo[i];
                if (!(lw < 0.0f)) {
                    dout[i] = di[i];
                } else if (!(up > 0.0f)) {
                    dout[i] = 0.0f;
                } else if (a > 0.0f) {
                    dout[i] = up > -lw ? di[i] : 0.0f;
                } else {
                    /* lam_in = d a, bias += a (-d l), d = u / (u - l) */
                    double ld = lw, ud = up, w = ud - ld, d = ud / w, gn = g[n];
                    dout[i] = (float)(d * di[i] - gn * d * ld);
                    double dd = (double)a * (di[i] - gn * ld);
                    double dl = -gn * a * d + dd * ud / (w * w);
                    double du = -dd * ld / (w * w);
                    gc[i] += (float)(dl + du);
                    gr[i] += (float)(du - dl);
                }
            }
        break;
    }
    case IBP_LAYER_FLATTEN: {
        struct ibp_shape s = net->shapes[vi];
        ibp_flatten_rows(di, dout, (size_t)B, (size_t)s.h * s.w, (size_t)s.c, 0, threads);
        break;
    }
    case IBP_LAYER_ADD: {
        const float *d2 = c->dlam[l->in[1]];
        size_t e = (size_t)B * osz;
        for (size_t i = 0; i < e; i++)
            dout[i] = di[i] + d2[i];
        break;
    }
    default:
        break;
    }
}

enum ibp_status ibp_crown_ibp_backward(struct ibp_crown_ibp *c, const struct ibp_net *net,
                                       struct ibp_workspace *ws, const float *g_lb,
                                       float *grad, struct ibp_error *err)
{
    enum ibp_status st = check_ready(c, net, ws, "crown-ibp backward", err);
    if (st != IBP_OK)
        return st;
    if (!ws->relu_slots_armed)
        return ibp_fail(err, IBP_ERR_ARG,
                        "crown-ibp backward: must come before ibp_pass_backward");
    int L = net->n_layers, B = ws->batch, rows = ws->rows;
    memset(grad, 0, net->n_params * sizeof(float));
    for (int k = c->v0; k < L - 1; k++)
        if (net->layers[k].kind == IBP_LAYER_CONV2D)
            memset(ws->dwpack[k], 0, weight_count(net, k) * sizeof(float));
    const struct value_buf *v = &ws->v[c->v0];
    size_t n0 = v->size;
    const float *cen = v->x + (size_t)B * n0, *rad = v->r;
    const struct ibp_layer_spec *last = &net->layers[L - 1];
    size_t H = (size_t)last->in_size;
    float *dW = grad + net->param_off[L - 1];
    float *db = ibp_layer_bias(net, L - 1) ? grad + (ibp_layer_bias(net, L - 1) - net->params)
                                           : NULL;
    float *g = c->g;
    int kept = c->kept_rows == rows && c->kept_batch == B;
    c->kept_rows = 0;
    for (int m = 0; m < rows; m++) {
        use_slot(c, kept ? m : 0);
        if (!kept)
            propagate(c, net, ws, m);
        for (int n = 0; n < B; n++)
            g[n] = g_lb[(size_t)n * rows + m];
        const float *a = c->lam[c->v0];
        float *d0 = c->dlam[c->v0];
#pragma omp parallel for num_threads(ws->threads) schedule(static)
        for (int n = 0; n < B; n++)
            for (size_t i = (size_t)n * n0; i < (size_t)(n + 1) * n0; i++) {
                float sg = a[i] > 0.0f ? 1.0f : (a[i] < 0.0f ? -1.0f : 0.0f);
                d0[i] = g[n] * (cen[i] - sg * rad[i]);
            }
        for (int k = c->v0; k < L - 1; k++)
            reverse_layer(c, net, ws, k, g, grad);
        const float *dtop = c->dlam[last->in[0]];
        for (int n = 0; n < B; n++) {
            int y = ws->labels[n], j = row_class(y, m);
            for (size_t h = 0; h < H; h++) {
                dW[(size_t)y * H + h] += dtop[(size_t)n * H + h];
                dW[(size_t)j * H + h] -= dtop[(size_t)n * H + h];
            }
            if (db) {
                db[y] += g[n];
                db[j] -= g[n];
            }
        }
    }
    struct pass_ctx p = ctx(net, ws);
    for (int k = c->v0; k < L - 1; k++)
        if (net->layers[k].kind == IBP_LAYER_CONV2D)
            ibp_conv_grad_unpack_add(&p, k, ws->dwpack[k], NULL, grad + net->param_off[k]);
    return IBP_OK;
}
