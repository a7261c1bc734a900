#include "nets/passes/workspace.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nets/kernels/conv.h"
#include "nets/kernels/conv_implicit.h"
#include "nets/kernels/conv_taps.h"
#include "nets/kernels/conv_winograd.h"

/* Largest im2col kept whole from forward to backward, in floats (32 MiB). */
#define COL_KEEP_FLOATS ((size_t)8 << 20)

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

static int grow(void **p, size_t bytes)
{
    void *q = calloc(bytes ? bytes : 1, 1);
    if (!q)
        return 0;
    free(*p);
    *p = q;
    return 1;
}

int ibp_ws_spec_reserve(struct ibp_workspace *ws, const struct ibp_net *net, int rows)
{
    if (rows <= ws->spec_cap)
        return 1;
    size_t b = (size_t)ws->max_batch, rr = (size_t)rows, out = (size_t)ibp_net_outputs(net);
    if (!grow((void **)&ws->spec_C, b * rr * out * sizeof(float)) ||
        !grow((void **)&ws->spec_c, b * rr * sizeof(float)) ||
        !grow((void **)&ws->spec_r, b * rr * sizeof(float)) ||
        !grow((void **)&ws->spec_gc, b * rr * sizeof(float)) ||
        !grow((void **)&ws->spec_gr, b * rr * sizeof(float)))
        return 0;
    ws->spec_cap = rows;
    return 1;
}

void ibp_ws_free(struct ibp_workspace *ws)
{
    if (!ws)
        return;
    for (int v = 0; ws->v && v <= ws->n_layers; v++) {
        free(ws->v[v].x);
        free(ws->v[v].r);
        free(ws->v[v].gx);
        free(ws->v[v].gr);
    }
    for (int k = 0; k < ws->n_layers; k++) {
        if (ws->bn) {
            free(ws->bn[k].mean);
            free(ws->bn[k].var);
            free(ws->bn[k].s);
            free(ws->bn[k].t);
            free(ws->bn[k].sabs);
            free(ws->bn[k].ds);
            free(ws->bn[k].dt);
            free(ws->bn[k].xds);
            free(ws->bn[k].xdt);
            free(ws->bn[k].sync);
        }
        if (ws->colkeep)
            free(ws->colkeep[k]);
        if (ws->wpack) {
            free(ws->wpack[k]);
            free(ws->wabs[k]);
            free(ws->dwpack[k]);
            free(ws->wino_u[k]);
            free(ws->wino_uabs[k]);
            free(ws->wimp[k]);
            free(ws->wimpabs[k]);
            free(ws->wtap[k]);
            free(ws->wtapabs[k]);
            free(ws->dwabs[k]);
        }
    }
    free(ws->v);
    free(ws->bn);
    free(ws->colkeep);
    free(ws->wpack);
    free(ws->wabs);
    free(ws->dwpack);
    free(ws->wino_u);
    free(ws->wino_uabs);
    free(ws->wimp);
    free(ws->wimpabs);
    free(ws->wino_v);
    free(ws->wino_m);
    free(ws->wino_du);
    free(ws->wtap);
    free(ws->wtapabs);
    free(ws->dwabs);
    free(ws->pool_tmp);
    free(ws->col);
    free(ws->dcol);
    free(ws->partial);
    free(ws->chsum);
    free(ws->chsum2);
    free(ws->chabs);
    free(ws->labels);
    free(ws->spec_C);
    free(ws->spec_c);
    free(ws->spec_r);
    free(ws->spec_gc);
    free(ws->spec_gr);
    free(ws->needs_grad);
    free(ws->grad_unset);
    free(ws->kinds);
    free(ws->layer_seconds);
    free(ws->in0);
    free(ws);
}

static float *alloc_floats(size_t n, int *ok)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        *ok = 0;
    return p;
}

/* The largest scratch any layer or value asks for, gathered while sizing them. */
struct ws_sizes {
    size_t most_partial, most_col, most_channels, most_wino, most_wino_du;
};

/* Step 1: the per-layer and per-value tables (zeroed; layers fill them as they need). */
static int alloc_tables(struct ibp_workspace *ws, int L, size_t B)
{
    ws->v = calloc((size_t)L + 1, sizeof *ws->v);
    ws->bn = calloc((size_t)L, sizeof *ws->bn);
    ws->wpack = calloc((size_t)L, sizeof(float *));
    ws->colkeep = calloc((size_t)L, sizeof(float *));
    ws->wabs = calloc((size_t)L, sizeof(float *));
    ws->dwpack = calloc((size_t)L, sizeof(float *));
    ws->wino_u = calloc((size_t)L, sizeof(float *));
    ws->wino_uabs = calloc((size_t)L, sizeof(float *));
    ws->wimp = calloc((size_t)L, sizeof(float *));
    ws->wimpabs = calloc((size_t)L, sizeof(float *));
    ws->winograd = 1;
    ws->wtap = calloc((size_t)L, sizeof(float *));
    ws->wtapabs = calloc((size_t)L, sizeof(float *));
    ws->dwabs = calloc((size_t)L, sizeof(float *));
    ws->labels = calloc(B, sizeof(int));
    ws->needs_grad = calloc((size_t)L + 1, sizeof(int));
    ws->grad_unset = calloc((size_t)L + 1, sizeof(int));
    ws->kinds = calloc((size_t)L, sizeof *ws->kinds);
    ws->in0 = calloc((size_t)L, sizeof *ws->in0);
    ws->layer_seconds = calloc(2 * (size_t)L, sizeof(double));
    return ws->kinds && ws->in0 && ws->layer_seconds && ws->v && ws->bn && ws->wpack &&
           ws->colkeep && ws->wabs && ws->dwpack && ws->wino_u && ws->wino_uabs && ws->wimp &&
           ws->wimpabs && ws->dwabs && ws->wtap && ws->wtapabs && ws->labels &&
           ws->needs_grad && ws->grad_unset;
}

/* Step 2: every value's streams (clean and centre rows, radius, their gradients). */
static void alloc_values(struct ibp_workspace *ws, const struct ibp_net *net, size_t B,
                         size_t xrows, int bounds, int grad, struct ws_sizes *z, int *okp)
{
    int ok = *okp;
    for (int v = 0; v <= net->n_layers && ok; v++) {
        struct ibp_shape s = net->shapes[v];
        size_t size = ibp_shape_size(s);
        ws->v[v].size = size;
        ws->v[v].x = alloc_floats(xrows * size, &ok);
        if (bounds)
            ws->v[v].r = alloc_floats(B * size, &ok);
        if (grad) {
            ws->v[v].gx = alloc_floats(xrows * size, &ok);
            if (bounds)
                ws->v[v].gr = alloc_floats(B * size, &ok);
        }
        size_t part = ceil_div(xrows * (size_t)s.h * s.w, REDUCE_CHUNK) * (size_t)s.c;
        if (part > z->most_partial)
            z->most_partial = part;
        if ((size_t)s.c > z->most_channels)
            z->most_channels = (size_t)s.c;
    }
    *okp = ok;
}

/* Step 3a: a BATCHNORM's statistics, affine map and their gradient sums. */
static void alloc_bn(struct ibp_workspace *ws, const struct ibp_net *net, int k, int *okp)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    int ok = *okp;
    int c = net->shapes[l->in[0]].c;
    ws->bn[k].channels = c;
    ws->bn[k].mean = alloc_floats((size_t)c, &ok);
    ws->bn[k].var = alloc_floats((size_t)c, &ok);
    ws->bn[k].s = alloc_floats((size_t)c, &ok);
    ws->bn[k].t = alloc_floats((size_t)c, &ok);
    ws->bn[k].sabs = alloc_floats((size_t)c, &ok);
    ws->bn[k].ds = calloc((size_t)c, sizeof(double));
    ws->bn[k].dt = calloc((size_t)c, sizeof(double));
    ws->bn[k].xds = calloc((size_t)c, sizeof(double));
    ws->bn[k].xdt = calloc((size_t)c, sizeof(double));
    ws->bn[k].sync = calloc(2 * (size_t)c + 1, sizeof(double));
    if (!ws->bn[k].ds || !ws->bn[k].dt || !ws->bn[k].xds || !ws->bn[k].xdt || !ws->bn[k].sync)
        ok = 0;
    *okp = ok;
}

/* Step 3b: a CONV2D's weight in the layout of its lowering (conv.h), with the scratch
 * that lowering needs and, where it pays, the forward's im2col kept for backward. */
static void alloc_conv(struct ibp_workspace *ws, const struct ibp_net *net, int k, size_t nw,
                       size_t B, size_t xrows, int bounds, int grad, struct ws_sizes *z,
                       int *okp)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    int ok = *okp;
    ws->wpack[k] = alloc_floats(nw, &ok);
    if (grad)
        ws->dwpack[k] = alloc_floats(nw, &ok);
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    enum ibp_conv_lowering low = ibp_conv_lowering(net, k, IBP_CONV_FOR_PASSES);
    size_t kdim = (size_t)g.K;
    size_t samples = (size_t)ibp_conv_chunk_samples(&g, INT_MAX);
    if (samples > xrows)
        samples = xrows;
    size_t col = samples * (size_t)g.Ho * g.Wo * kdim;
    if (low == IBP_CONV_IMPLICIT) {
        /* no im2col: the scratch holds a chunk of padded input */
        col = ibp_conv_implicit_scratch_floats(&g, INT_MAX);
        size_t nimp = ibp_conv_implicit_packed_floats(&g);
        ws->wimp[k] = alloc_floats(nimp, &ok);
        ws->lowered_floats += nimp;
        if (bounds) {
            ws->wimpabs[k] = alloc_floats(nimp, &ok);
            ws->lowered_floats += nimp;
        }
    }
    if (col > z->most_col)
        z->most_col = col;
    /* a small im2col is kept from forward so that backward need not redo it */
    size_t keep = (2 * B + B) * (size_t)g.Ho * g.Wo * kdim;
    if (low == IBP_CONV_WINOGRAD) {
        /* no im2col kept: backward recomputes the (smaller) input transform */
        size_t nu = ibp_conv_winograd_weight_floats(net, k);
        size_t nut = ibp_conv_winograd_u_floats(net, k);
        size_t scratch = ibp_conv_winograd_scratch_floats(net, k);
        ws->wino_u[k] = alloc_floats(nut, &ok);
        ws->lowered_floats += nut;
        if (bounds) {
            ws->wino_uabs[k] = alloc_floats(nut, &ok);
            ws->lowered_floats += nut;
        }
        z->most_wino = scratch > z->most_wino ? scratch : z->most_wino;
        if (grad)
            z->most_wino_du = nu > z->most_wino_du ? nu : z->most_wino_du;
    } else if (low == IBP_CONV_FEW_TAPS) {
        /* direct forward and weight gradient (no im2col to keep) */
        ws->wtap[k] = alloc_floats(nw, &ok);
        size_t pad = ibp_conv_taps_scratch_floats(net, k, 1);
        if (grad)
            pad += ibp_conv_taps_weight_grad_floats(net, k);
        z->most_col = pad > z->most_col ? pad : z->most_col;
        if (bounds)
            ws->wtapabs[k] = alloc_floats(nw, &ok);
    } else if (grad && bounds && low == IBP_CONV_IM2COL && l->groups == 1 &&
               keep <= COL_KEEP_FLOATS) {
        ws->colkeep[k] = alloc_floats(keep, &ok);
        ws->colkeep_floats += keep;
    }
    *okp = ok;
}

/* Step 4: the scratch shared by all layers, sized by the largest user. */
static void alloc_scratch(struct ibp_workspace *ws, const struct ibp_net *net, size_t B,
                          int bounds, int grad, const struct ws_sizes *z, int *okp)
{
    int L = net->n_layers, ok = *okp;
    size_t max_pool = 0;
    for (int k = 0; k < L; k++)
        if (net->layers[k].kind == IBP_LAYER_MAXPOOL && ibp_shape_size(net->shapes[k + 1]) > max_pool)
            max_pool = ibp_shape_size(net->shapes[k + 1]);
    if (ok && grad && bounds && max_pool)
        ws->pool_tmp = alloc_floats(2 * B * max_pool, &ok);
    if (ok) {
        ws->col_floats = z->most_col;
        ws->col = alloc_floats(z->most_col, &ok);
        if (z->most_wino) {
            ws->wino_v = alloc_floats(CONV_WINOGRAD_SLOTS * z->most_wino, &ok);
            ws->wino_m = alloc_floats(CONV_WINOGRAD_SLOTS * z->most_wino, &ok);
            ws->lowered_floats += 2 * CONV_WINOGRAD_SLOTS * z->most_wino;
        }
        if (z->most_wino_du) {
            ws->wino_du = alloc_floats(CONV_WINOGRAD_SLOTS * z->most_wino_du, &ok);
            ws->lowered_floats += CONV_WINOGRAD_SLOTS * z->most_wino_du;
        }
        if (grad)
            ws->dcol = alloc_floats(z->most_col, &ok);
        /* ibp_reduce_rows_prod_sum keeps two sets of partial sums, ibp_layer_relu_bn_backward three */
        ws->partial_doubles = 3 * z->most_partial;
        ws->partial = calloc(z->most_partial ? 3 * z->most_partial : 1, sizeof(double));
        ws->chsum = calloc(z->most_channels, sizeof(double));
        ws->chsum2 = calloc(z->most_channels, sizeof(double));
        ws->chabs = calloc(z->most_channels, sizeof(float));
        if (!ws->partial || !ws->chsum || !ws->chsum2 || !ws->chabs)
            ok = 0;
    }
    *okp = ok;
}

/* Step 5: the layer kinds the passes dispatch on, and which values need a gradient (a
 * parameter lies upstream of them). */
static void mark_layers(struct ibp_workspace *ws, const struct ibp_net *net)
{
    int L = net->n_layers;
    for (int k = 0; k < L; k++) {
        ws->kinds[k] = net->layers[k].kind;
        ws->in0[k] = net->layers[k].in[0];
    }
    /* a value's gradient is needed when a parameter lies upstream of it */
    for (int k = 0; k < L; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        int upstream = ws->needs_grad[l->in[0]] ||
                       (l->kind == IBP_LAYER_ADD && ws->needs_grad[l->in[1]]);
        ws->needs_grad[k + 1] = upstream || ibp_layer_param_count(net, k) > 0;
    }
}

enum ibp_status ibp_ws_create(const struct ibp_net *net, int max_batch, unsigned flags,
                              struct ibp_workspace **out, struct ibp_error *err)
{
    *out = NULL;
    if (max_batch <= 0)
        return ibp_fail(err, IBP_ERR_ARG, "workspace: batch size %d must be positive", max_batch);
    if (!(flags & (IBP_WS_CLEAN | IBP_WS_BOUNDS)))
        return ibp_fail(err, IBP_ERR_ARG, "workspace: needs IBP_WS_CLEAN and/or IBP_WS_BOUNDS");
    struct ibp_workspace *ws = calloc(1, sizeof *ws);
    if (!ws)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for a workspace");
    int L = net->n_layers, ok = 1;
    size_t B = (size_t)max_batch;
    ws->n_layers = L;
    ws->max_batch = max_batch;
    ws->flags = flags;
    ws->threads = omp_get_max_threads();
    if (!alloc_tables(ws, L, B)) {
        ibp_ws_free(ws);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for a workspace");
    }
    int bounds = (flags & IBP_WS_BOUNDS) != 0, grad = (flags & IBP_WS_GRAD) != 0;
    size_t xrows = bounds ? 2 * B : B;
    struct ws_sizes z = {.most_channels = 1};
    alloc_values(ws, net, B, xrows, bounds, grad, &z, &ok);
    for (int k = 0; k < L && ok; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        size_t nw = ibp_layer_param_count(net, k) - (l->no_bias ? 0 : (size_t)l->out);
        if (l->kind == IBP_LAYER_BATCHNORM)
            alloc_bn(ws, net, k, &ok);
        if (l->kind == IBP_LAYER_CONV2D)
            alloc_conv(ws, net, k, nw, B, xrows, bounds, grad, &z, &ok);
        if ((l->kind == IBP_LAYER_CONV2D || l->kind == IBP_LAYER_LINEAR) && bounds) {
            ws->wabs[k] = alloc_floats(nw, &ok);
            if (grad)
                ws->dwabs[k] = alloc_floats(nw, &ok);
        }
    }
    alloc_scratch(ws, net, B, bounds, grad, &z, &ok);
    if (ok && bounds && !ibp_ws_spec_reserve(ws, net, ibp_net_outputs(net)))
        ok = 0;
    if (!ok) {
        ibp_ws_free(ws);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for a workspace of batch %d",
                        max_batch);
    }
    mark_layers(ws, net);
    ws->box_value = ibp_net_box_value(net);
    *out = ws;
    return IBP_OK;
}

size_t ibp_ws_bytes(const struct ibp_workspace *ws)
{
    size_t floats = ws->col_floats * (ws->dcol ? 2 : 1) + (size_t)ws->max_batch * ws->spec_cap * 4;
    floats += ws->colkeep_floats + ws->lowered_floats;
    size_t xrows = (ws->flags & IBP_WS_BOUNDS) ? 2 : 1;
    for (int v = 0; v <= ws->n_layers; v++) {
        size_t per = ws->v[v].size * (size_t)ws->max_batch;
        floats += per * xrows * (ws->v[v].gx ? 2 : 1);
        if (ws->v[v].r)
            floats += per * (ws->v[v].gr ? 2 : 1);
    }
    return floats * sizeof(float) + ws->partial_doubles * sizeof(double);
}

void ibp_ws_set_winograd(struct ibp_workspace *ws, int enable)
{
    ws->winograd = enable != 0;
}

void ibp_ws_set_sum_hook(struct ibp_workspace *ws, const struct ibp_sum_hook *hook)
{
    ws->sum = hook && hook->fn ? *hook : (struct ibp_sum_hook){0};
}

void ibp_ws_set_threads(struct ibp_workspace *ws, int threads)
{
    ws->threads = threads > 0 ? threads : 1;
}

int ibp_ws_threads(const struct ibp_workspace *ws)
{
    return ws->threads;
}

int ibp_ws_spec_rows(const struct ibp_workspace *ws)
{
    return ws->rows;
}

void ibp_reduce_rows(struct ibp_workspace *ws, int threads, enum reduce_kind kind, const float *a,
                 const float *b, const double *center, size_t rows, int channels, double *out)
{
    size_t nchunk = ceil_div(rows, REDUCE_CHUNK);
    double *part = ws->partial;
    size_t C = (size_t)channels;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t ch = 0; ch < nchunk; ch++) {
        double *acc = part + ch * C;
        for (size_t c = 0; c < C; c++)
            acc[c] = 0.0;
        size_t r1 = (ch + 1) * REDUCE_CHUNK < rows ? (ch + 1) * REDUCE_CHUNK : rows;
        for (size_t r = ch * REDUCE_CHUNK; r < r1; r++) {
            const float *ar = a + r * C;
            if (kind == REDUCE_SUM) {
                for (size_t c = 0; c < C; c++)
                    acc[c] += ar[c];
            } else if (kind == REDUCE_SUM_SQ_DEV) {
                for (size_t c = 0; c < C; c++) {
                    double d = ar[c] - center[c];
                    acc[c] += d * d;
                }
            } else {
                const float *br = b + r * C;
                for (size_t c = 0; c < C; c++)
                    acc[c] += (double)ar[c] * br[c];
            }
        }
    }
    for (size_t ch = 0; ch < nchunk; ch++)
        for (size_t c = 0; c < C; c++)
            out[c] += part[ch * C + c];
}

void ibp_reduce_rows_prod_sum(struct ibp_workspace *ws, int threads, const float *a, const float *b,
                          size_t rows, int channels, double *prod, double *sum)
{
    size_t nchunk = ceil_div(rows, REDUCE_CHUNK);
    size_t C = (size_t)channels;
    double *part = ws->partial, *part2 = ws->partial + nchunk * C;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t ch = 0; ch < nchunk; ch++) {
        double *acc = part + ch * C, *acc2 = part2 + ch * C;
        for (size_t c = 0; c < C; c++) {
            acc[c] = 0.0;
            acc2[c] = 0.0;
        }
        size_t r1 = (ch + 1) * REDUCE_CHUNK < rows ? (ch + 1) * REDUCE_CHUNK : rows;
        for (size_t r = ch * REDUCE_CHUNK; r < r1; r++) {
            const float *ar = a + r * C, *br = b + r * C;
            for (size_t c = 0; c < C; c++) {
                acc[c] += (double)ar[c] * br[c];
                acc2[c] += ar[c];
            }
        }
    }
    for (size_t ch = 0; ch < nchunk; ch++)
        for (size_t c = 0; c < C; c++) {
            prod[c] += part[ch * C + c];
            sum[c] += part2[ch * C + c];
        }
}

void ibp_weights_prepare(const struct ibp_net *net, struct ibp_workspace *ws, int threads,
                     int with_abs)
{
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        if (l->kind != IBP_LAYER_CONV2D && l->kind != IBP_LAYER_LINEAR)
            continue;
        const float *w = ibp_layer_weight(net, k);
        float *packed = ws->wpack[k], *wa = with_abs ? ws->wabs[k] : NULL;
        if (l->kind == IBP_LAYER_LINEAR) {
            if (!wa)
                continue;
            size_t n = (size_t)l->out * l->in_size;
#pragma omp parallel for num_threads(threads) schedule(static)
            for (size_t i = 0; i < n; i++)
                wa[i] = fabsf(w[i]);
            continue;
        }
        ibp_conv_pack_weight(net, k, w, packed, wa, threads);
        if (ws->wino_u[k] && ws->winograd) {
            ibp_conv_winograd_weights(net, k, packed, ws->wino_u[k], threads);
            if (wa)
                ibp_conv_winograd_weights(net, k, wa, ws->wino_uabs[k], threads);
        }
        if (ws->wimp[k]) {
            struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
            ibp_conv_implicit_pack(&g, packed, ws->wimp[k]);
            if (wa)
                ibp_conv_implicit_pack(&g, wa, ws->wimpabs[k]);
        }
        if (ws->wtap[k])
            ibp_conv_taps_transpose(net, k, packed, ws->wtap[k]);
        if (ws->wtapabs[k] && wa)
            ibp_conv_taps_transpose(net, k, wa, ws->wtapabs[k]);
    }
}

enum ibp_status ibp_ws_relu_bounds(struct ibp_workspace *ws, struct ibp_relu_bounds *out, int n,
                                   const float **input_r, size_t *input_size,
                                   struct ibp_error *err)
{
    if (!(ws->flags & IBP_WS_GRAD) || !(ws->flags & IBP_WS_BOUNDS))
        return ibp_fail(err, IBP_ERR_ARG,
                        "relu bounds: the workspace needs IBP_WS_BOUNDS | IBP_WS_GRAD");
    if (!ws->bounds_done)
        return ibp_fail(err, IBP_ERR_ARG, "relu bounds: no bounds pass has run");
    int B = ws->batch, found = 0;
    for (int k = 0; k < ws->n_layers; k++) {
        if (ws->kinds[k] != IBP_LAYER_RELU)
            continue;
        if (found < n) {
            struct value_buf *v = &ws->v[ws->in0[k]];
            out[found] = (struct ibp_relu_bounds){
                .layer = k,
                .size = v->size,
                .c = v->x + (size_t)B * v->size,
                .r = v->r,
                .gc = v->gx + (size_t)B * v->size,
                .gr = v->gr,
            };
        }
        found++;
    }
    if (found != n)
        return ibp_fail(err, IBP_ERR_ARG, "relu bounds: the network has %d ReLU layers, not %d",
                        found, n);
    int v0 = ws->box_value;
    *input_r = ws->v[v0].r;
    *input_size = ws->v[v0].size;
    return IBP_OK;
}

void ibp_ws_profile(struct ibp_workspace *ws, int enable)
{
    ws->profile = enable;
    memset(ws->layer_seconds, 0, 2 * (size_t)ws->n_layers * sizeof(double));
}

void ibp_ws_layer_seconds(const struct ibp_workspace *ws, int layer, double *forward,
                          double *backward)
{
    *forward = ws->layer_seconds[2 * layer];
    *backward = ws->layer_seconds[2 * layer + 1];
}
