/* The passes of passes.h: argument checks, layout conversion at the edges, and the
 * walk over the layers (forward in order, backward in reverse) calling the kernels. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nets/passes/workspace.h"

static enum ibp_status check_ws(const struct ibp_net *net, const struct ibp_workspace *ws,
                                int batch, const char *what, struct ibp_error *err)
{
    if (ws->n_layers != net->n_layers)
        return ibp_fail(err, IBP_ERR_ARG, "%s: workspace made for a different network", what);
    for (int k = 0; k < net->n_layers; k++)
        if (ws->kinds[k] != net->layers[k].kind || ws->in0[k] != net->layers[k].in[0])
            return ibp_fail(err, IBP_ERR_ARG, "%s: workspace made for a different network", what);
    if (batch <= 0 || batch > ws->max_batch)
        return ibp_fail(err, IBP_ERR_ARG, "%s: batch %d outside 1..%d", what, batch,
                        ws->max_batch);
    return IBP_OK;
}

/* [rows][C][H][W] -> [rows][H][W][C] */
static void to_internal(const struct ibp_shape s, const float *src, float *dst, size_t rows,
                        int threads)
{
    size_t hw = (size_t)s.h * s.w, C = (size_t)s.c;
    if (hw == 1) {
        memcpy(dst, src, rows * C * sizeof(float));
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t n = 0; n < rows; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t q = 0; q < hw; q++)
                dst[(n * hw + q) * C + c] = src[(n * C + c) * hw + q];
}

/* [rows][H][W][C] -> [rows][C][H][W] */
static void to_external(const struct ibp_shape s, const float *src, float *dst, size_t rows)
{
    size_t hw = (size_t)s.h * s.w, C = (size_t)s.c;
    for (size_t n = 0; n < rows; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t q = 0; q < hw; q++)
                dst[(n * C + c) * hw + q] = src[(n * hw + q) * C + c];
}

static void layer_forward_kernel(const struct pass_ctx *p, int k)
{
    switch (p->net->layers[k].kind) {
    case IBP_LAYER_NORMALIZE: ibp_layer_normalize_forward(p, k); break;
    case IBP_LAYER_LINEAR: ibp_layer_linear_forward(p, k); break;
    case IBP_LAYER_CONV2D: ibp_layer_conv_forward(p, k); break;
    case IBP_LAYER_BATCHNORM: ibp_layer_bn_forward(p, k); break;
    case IBP_LAYER_RELU: ibp_layer_relu_forward(p, k); break;
    case IBP_LAYER_FLATTEN: ibp_layer_flatten_forward(p, k); break;
    case IBP_LAYER_ADD: ibp_layer_add_forward(p, k); break;
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL: ibp_layer_pool_forward(p, k); break;
    }
}

static void layer_backward_kernel(const struct pass_ctx *p, int k, float *grad)
{
    switch (p->net->layers[k].kind) {
    case IBP_LAYER_NORMALIZE: ibp_layer_normalize_backward(p, k); break;
    case IBP_LAYER_LINEAR: ibp_layer_linear_backward(p, k, grad); break;
    case IBP_LAYER_CONV2D: ibp_layer_conv_backward(p, k, grad); break;
    case IBP_LAYER_BATCHNORM: ibp_layer_bn_backward(p, k, grad); break;
    case IBP_LAYER_RELU: ibp_layer_relu_backward(p, k); break;
    case IBP_LAYER_FLATTEN: ibp_layer_flatten_backward(p, k); break;
    case IBP_LAYER_ADD: ibp_layer_add_backward(p, k); break;
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL: ibp_layer_pool_backward(p, k); break;
    }
}

static void layer_forward(const struct pass_ctx *p, int k)
{
    double t0 = p->ws->profile ? omp_get_wtime() : 0.0;
    layer_forward_kernel(p, k);
    if (p->ws->profile)
        p->ws->layer_seconds[2 * k] += omp_get_wtime() - t0;
}

/* Forward over layers [k0, k1): a BATCHNORM whose output feeds the next layer, a RELU
 * inside the range, runs fused with it (timed as the BATCHNORM). */
static void forward_layers(const struct pass_ctx *p, int k0, int k1)
{
    const struct ibp_net *net = p->net;
    for (int k = k0; k < k1; k++) {
        if (net->layers[k].kind == IBP_LAYER_BATCHNORM && k + 1 < k1 &&
            net->layers[k + 1].kind == IBP_LAYER_RELU && net->layers[k + 1].in[0] == k + 1) {
            double t0 = p->ws->profile ? omp_get_wtime() : 0.0;
            ibp_layer_bn_relu_forward(p, k, k + 1);
            if (p->ws->profile)
                p->ws->layer_seconds[2 * k] += omp_get_wtime() - t0;
            k++;
            continue;
        }
        layer_forward(p, k);
    }
}

static void layer_backward(const struct pass_ctx *p, int k, float *grad)
{
    double t0 = p->ws->profile ? omp_get_wtime() : 0.0;
    layer_backward_kernel(p, k, grad);
    if (p->ws->profile)
        p->ws->layer_seconds[2 * k + 1] += omp_get_wtime() - t0;
}

/* the last layer is folded with the spec when it is LINEAR */
static int folds_last(const struct ibp_net *net, const struct ibp_workspace *ws)
{
    return ws->spec_kind != 0 && net->layers[net->n_layers - 1].kind == IBP_LAYER_LINEAR;
}

/* Runs the layers; with a spec, the bounds stream of the output goes through it. */
static void run_forward(const struct pass_ctx *p)
{
    const struct ibp_net *net = p->net;
    int last = net->n_layers - 1;
    forward_layers(p, 0, last);
    if (p->bounds && folds_last(net, p->ws)) {
        struct pass_ctx q = *p;
        q.bounds = 0;
        q.nx = p->clean ? p->batch : 0;
        if (q.nx)
            layer_forward(&q, last);
        ibp_spec_forward(p, last);
        return;
    }
    layer_forward(p, last);
    if (p->bounds && p->ws->spec_kind != 0)
        ibp_spec_forward(p, -1);
}

static enum ibp_status set_spec(const struct ibp_net *net, struct ibp_workspace *ws, int batch,
                                const struct ibp_spec *spec, struct ibp_error *err)
{
    int K = ibp_net_outputs(net);
    if (!spec || (!spec->labels && !spec->C)) {
        ws->spec_kind = 0;
        ws->rows = K;
        return IBP_OK;
    }
    if (spec->labels && spec->C)
        return ibp_fail(err, IBP_ERR_ARG, "spec: give labels or C, not both");
    if (spec->labels) {
        if (K < 2)
            return ibp_fail(err, IBP_ERR_ARG, "spec: margins need at least 2 outputs, net has %d",
                            K);
        for (int b = 0; b < batch; b++)
            if (spec->labels[b] < 0 || spec->labels[b] >= K)
                return ibp_fail(err, IBP_ERR_ARG, "spec: label %d of sample %d outside 0..%d",
                                spec->labels[b], b, K - 1);
        memcpy(ws->labels, spec->labels, (size_t)batch * sizeof(int));
        ws->spec_kind = 1;
        ws->rows = K - 1;
        return IBP_OK;
    }
    if (spec->rows <= 0)
        return ibp_fail(err, IBP_ERR_ARG, "spec: %d rows", spec->rows);
    if (!ibp_ws_spec_reserve(ws, net, spec->rows))
        return ibp_fail(err, IBP_ERR_NOMEM, "spec: out of memory for %d rows", spec->rows);
    size_t n = (size_t)batch * spec->rows * K;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(spec->C[i]))
            return ibp_fail(err, IBP_ERR_NUMERIC, "spec: C[%zu] is not finite", i);
    memcpy(ws->spec_C, spec->C, n * sizeof(float));
    ws->spec_kind = 2;
    ws->rows = spec->rows;
    return IBP_OK;
}

/* internal (NHWC) index of external (NCHW) element e of one sample */
static size_t internal_index(struct ibp_shape s, size_t e)
{
    size_t hw = (size_t)s.h * s.w;
    return (e % hw) * (size_t)s.c + e / hw;
}

/* centre/radius of the box into value 0 (bounds rows): c = (hi + lo)/2, r = (hi - lo)/2
 * (the verifier's sound mode widens these itself) */
static enum ibp_status load_box(const struct ibp_net *net, struct ibp_workspace *ws,
                                const float *lo, const float *hi, int batch, int threads,
                                struct ibp_error *err)
{
    size_t n = ibp_shape_size(net->input), e = (size_t)batch * n;
    int bad = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(| : bad)
    for (size_t i = 0; i < e; i++)
        bad |= !(lo[i] <= hi[i]) || !isfinite(lo[i]) || !isfinite(hi[i]);
    for (size_t i = 0; bad && i < e; i++) /* the first bad element, for the message */
        if (!(lo[i] <= hi[i]) || !isfinite(lo[i]) || !isfinite(hi[i]))
            return ibp_fail(err, IBP_ERR_ARG,
                            "bounds: box element %zu of sample %zu is [%g, %g] (need finite "
                            "lo <= hi)",
                            i % n, i / n, (double)lo[i], (double)hi[i]);
    float *c = ws->v[0].x + (size_t)batch * n, *r = ws->v[0].r;
    size_t hw = (size_t)net->input.h * net->input.w, C = (size_t)net->input.c;
    /* [batch][C][H][W] -> [batch][H][W][C], as to_internal */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t b = 0; b < (size_t)batch; b++)
        for (size_t ch = 0; ch < C; ch++)
            for (size_t q = 0; q < hw; q++) {
                size_t i = (b * C + ch) * hw + q, j = (b * hw + q) * C + ch;
                c[j] = (hi[i] + lo[i]) * 0.5f;
                r[j] = (hi[i] - lo[i]) * 0.5f;
            }
    return IBP_OK;
}

static void load_clean(const struct ibp_net *net, struct ibp_workspace *ws, const float *x,
                       int batch, int threads)
{
    to_internal(net->input, x, ws->v[0].x, (size_t)batch, threads);
}

static void record_clean(struct ibp_workspace *ws, int batch, enum ibp_bn_mode mode)
{
    ws->batch = batch;
    ws->clean_done = 1;
    ws->clean_mode = mode;
    ws->bounds_done = 0;
    ws->relu_slots_armed = 0;
}

/* p [0, n) = 0, in fixed slices over the threads (memory bandwidth: one core does not
 * saturate it, and the other would wait) */
static void zero_floats(float *p, size_t n, int threads)
{
    const size_t slice = 16384;
    long slices = (long)((n + slice - 1) / slice);
#pragma omp parallel for num_threads(threads) schedule(static) if (slices > 1)
    for (long i = 0; i < slices; i++) {
        size_t s0 = (size_t)i * slice, len = n - s0 < slice ? n - s0 : slice;
        memset(p + s0, 0, len * sizeof(float));
    }
}

/* after a bounds pass: the ReLU-input gradients become the caller's slots */
static void arm_relu_slots(const struct ibp_net *net, struct ibp_workspace *ws)
{
    if (!(ws->flags & IBP_WS_GRAD))
        return;
    size_t xrows = 2 * (size_t)ws->batch;
    for (int k = 0; k < net->n_layers; k++) {
        if (net->layers[k].kind == IBP_LAYER_BATCHNORM) {
            memset(ws->bn[k].xds, 0, (size_t)ws->bn[k].channels * sizeof(double));
            memset(ws->bn[k].xdt, 0, (size_t)ws->bn[k].channels * sizeof(double));
        }
        if (net->layers[k].kind != IBP_LAYER_RELU)
            continue;
        struct value_buf *v = &ws->v[net->layers[k].in[0]];
        zero_floats(v->gx, xrows * v->size, ws->threads);
        zero_floats(v->gr, (size_t)ws->batch * v->size, ws->threads);
    }
    ws->relu_slots_armed = 1;
}

static void copy_bounds_out(const struct ibp_net *net, const struct ibp_workspace *ws, int batch,
                            float *lb, float *ub)
{
    size_t rows = (size_t)ws->rows, e = (size_t)batch * rows;
    if (ws->spec_kind != 0) {
        for (size_t i = 0; i < e; i++) {
            if (lb)
                lb[i] = ws->spec_c[i] - ws->spec_r[i];
            if (ub)
                ub[i] = ws->spec_c[i] + ws->spec_r[i];
        }
        return;
    }
    const struct value_buf *out = &ws->v[net->n_layers];
    struct ibp_shape s = net->shapes[net->n_layers];
    for (size_t i = 0; i < e; i++) {
        size_t j = (i / rows) * rows + internal_index(s, i % rows);
        float c = out->x[(size_t)batch * rows + j], r = out->r[j];
        if (lb)
            lb[i] = c - r;
        if (ub)
            ub[i] = c + r;
    }
}

enum ibp_status ibp_pass_clean(const struct ibp_net *net, struct ibp_workspace *ws,
                               const float *x, int batch, enum ibp_bn_mode mode, float *logits,
                               struct ibp_error *err)
{
    enum ibp_status st = check_ws(net, ws, batch, "clean pass", err);
    if (st != IBP_OK)
        return st;
    if (!(ws->flags & IBP_WS_CLEAN))
        return ibp_fail(err, IBP_ERR_ARG, "clean pass: workspace made without IBP_WS_CLEAN");
    ibp_weights_prepare(net, ws, ws->threads, 0);
    load_clean(net, ws, x, batch, ws->threads);
    struct pass_ctx p = {net, ws, batch, 0, batch, 1, 0, mode, ws->threads};
    ws->spec_kind = 0;
    forward_layers(&p, 0, net->n_layers);
    record_clean(ws, batch, mode);
    if (logits)
        to_external(net->shapes[net->n_layers], ws->v[net->n_layers].x, logits, (size_t)batch);
    return IBP_OK;
}

static enum ibp_status bounds_common(const struct ibp_net *net, struct ibp_workspace *ws,
                                     const float *lo, const float *hi, int batch,
                                     const struct ibp_spec *spec, const char *what,
                                     struct ibp_error *err)
{
    enum ibp_status st = check_ws(net, ws, batch, what, err);
    if (st != IBP_OK)
        return st;
    if (!(ws->flags & IBP_WS_BOUNDS))
        return ibp_fail(err, IBP_ERR_ARG, "%s: workspace made without IBP_WS_BOUNDS", what);
    st = set_spec(net, ws, batch, spec, err);
    if (st != IBP_OK)
        return st;
    return load_box(net, ws, lo, hi, batch, ws->threads, err);
}

enum ibp_status ibp_pass_bounds(const struct ibp_net *net, struct ibp_workspace *ws,
                                const float *lo, const float *hi, int batch,
                                const struct ibp_spec *spec, enum ibp_bn_mode mode,
                                float *lb, float *ub, struct ibp_error *err)
{
    if (mode == IBP_BN_TRAIN &&
        !(ws->clean_done && ws->clean_mode == IBP_BN_TRAIN && ws->batch == batch))
        return ibp_fail(err, IBP_ERR_ARG,
                        "bounds pass: train-mode BN needs a train-mode clean pass on the same "
                        "batch first");
    enum ibp_status st = bounds_common(net, ws, lo, hi, batch, spec, "bounds pass", err);
    if (st != IBP_OK)
        return st;
    ibp_weights_prepare(net, ws, ws->threads, 1);
    struct pass_ctx p = {net, ws, batch, batch, batch, 0, 1, mode, ws->threads};
    run_forward(&p);
    if (mode == IBP_BN_EVAL && !(ws->clean_done && ws->batch == batch))
        ws->clean_done = 0;
    ws->batch = batch;
    ws->bounds_done = 1;
    ws->bounds_mode = mode;
    arm_relu_slots(net, ws);
    copy_bounds_out(net, ws, batch, lb, ub);
    return IBP_OK;
}

enum ibp_status ibp_pass_train(const struct ibp_net *net, struct ibp_workspace *ws,
                               const float *x, const float *lo, const float *hi, int batch,
                               const struct ibp_spec *spec, float *logits, float *lb,
                               struct ibp_error *err)
{
    if ((ws->flags & (IBP_WS_CLEAN | IBP_WS_BOUNDS)) != (IBP_WS_CLEAN | IBP_WS_BOUNDS))
        return ibp_fail(err, IBP_ERR_ARG,
                        "train pass: workspace needs IBP_WS_CLEAN | IBP_WS_BOUNDS");
    enum ibp_status st = bounds_common(net, ws, lo, hi, batch, spec, "train pass", err);
    if (st != IBP_OK)
        return st;
    ibp_weights_prepare(net, ws, ws->threads, 1);
    load_clean(net, ws, x, batch, ws->threads);
    struct pass_ctx p = {net, ws, batch, 0, 2 * batch, 1, 1, IBP_BN_TRAIN, ws->threads};
    run_forward(&p);
    record_clean(ws, batch, IBP_BN_TRAIN);
    ws->bounds_done = 1;
    ws->bounds_mode = IBP_BN_TRAIN;
    arm_relu_slots(net, ws);
    if (logits)
        to_external(net->shapes[net->n_layers], ws->v[net->n_layers].x, logits, (size_t)batch);
    copy_bounds_out(net, ws, batch, lb, NULL);
    return IBP_OK;
}

static void mark_needs_grad(const struct ibp_net *net, struct ibp_workspace *ws, int want_input,
                            int want_params)
{
    ws->needs_grad[0] = want_input;
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        int upstream = ws->needs_grad[l->in[0]] ||
                       (l->kind == IBP_LAYER_ADD && ws->needs_grad[l->in[1]]);
        ws->needs_grad[k + 1] = upstream || (want_params && ibp_layer_param_count(net, k) > 0);
    }
}

/* Whether run_backward runs RELU layer k fused with the BATCHNORM before it
 * (ibp_layer_relu_bn_backward): k reads that BATCHNORM's output and is not the last layer
 * (which run_backward takes on its own). */
static int relu_fused_with_bn(const struct ibp_net *net, int k)
{
    return k > 0 && k < net->n_layers - 1 && net->layers[k].kind == IBP_LAYER_RELU &&
           net->layers[k].in[0] == k && net->layers[k - 1].kind == IBP_LAYER_BATCHNORM;
}

/* Whether the backward stores value v's whole gradient (every row it reads later)
 * instead of adding to it: v has one consumer, a BATCHNORM (bn_backward_apply), or, in
 * a backward that fuses them (run_backward), a RELU run with the BATCHNORM that makes v
 * (ibp_layer_relu_bn_backward). */
static int grad_stored(const struct ibp_net *net, int v, int fused)
{
    int consumer = -1, count = 0;
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        int reads = l->in[0] == v || (l->kind == IBP_LAYER_ADD && l->in[1] == v);
        count += reads;
        consumer = reads ? k : consumer;
    }
    if (count != 1)
        return 0;
    if (net->layers[consumer].kind == IBP_LAYER_BATCHNORM)
        return 1;
    return fused && relu_fused_with_bn(net, consumer);
}

/* Zeroes every value gradient the coming backward adds into (fused: it is
 * run_backward), but the armed ReLU-input slots and those it stores (grad_stored, then
 * marked grad_unset); a value whose gradient is not needed is neither written nor read
 * by any backward kernel, so it is left alone. */
static void zero_value_grads(const struct ibp_net *net, struct ibp_workspace *ws, int fused)
{
    size_t B = (size_t)ws->batch, xrows = (ws->flags & IBP_WS_BOUNDS) ? 2 * B : B;
    for (int v = 0; v <= net->n_layers; v++) {
        ws->grad_unset[v] = 0;
        if (!ws->needs_grad[v])
            continue;
        int slot = 0;
        for (int k = 0; ws->relu_slots_armed && k < net->n_layers; k++)
            slot |= net->layers[k].kind == IBP_LAYER_RELU && net->layers[k].in[0] == v;
        if (slot)
            continue;
        if (grad_stored(net, v, fused)) {
            ws->grad_unset[v] = 1;
            continue;
        }
        zero_floats(ws->v[v].gx, xrows * ws->v[v].size, ws->threads);
        if (ws->v[v].gr)
            zero_floats(ws->v[v].gr, B * ws->v[v].size, ws->threads);
    }
}

static void run_backward(const struct pass_ctx *p, float *grad)
{
    const struct ibp_net *net = p->net;
    int last = net->n_layers - 1;
    if (p->bounds && folds_last(net, p->ws)) {
        ibp_spec_backward(p, last, grad);
        if (p->clean) {
            struct pass_ctx q = *p;
            q.bounds = 0;
            q.nx = p->batch;
            layer_backward(&q, last, grad);
        }
    } else {
        if (p->bounds && p->ws->spec_kind != 0)
            ibp_spec_backward(p, -1, grad);
        layer_backward(p, last, grad);
    }
    for (int k = last - 1; k >= 0; k--) {
        /* a RELU reading a BATCHNORM's output runs fused with it (timed as the RELU) */
        if (relu_fused_with_bn(net, k)) {
            double t0 = p->ws->profile ? omp_get_wtime() : 0.0;
            ibp_layer_relu_bn_backward(p, k, k - 1, grad);
            if (p->ws->profile)
                p->ws->layer_seconds[2 * k + 1] += omp_get_wtime() - t0;
            k--;
            continue;
        }
        layer_backward(p, k, grad);
    }
}

enum ibp_status ibp_pass_backward(const struct ibp_net *net, struct ibp_workspace *ws,
                                  const float *g_logits, const float *g_lb, float *grad,
                                  struct ibp_error *err)
{
    if (!(ws->flags & IBP_WS_GRAD))
        return ibp_fail(err, IBP_ERR_ARG, "backward: workspace made without IBP_WS_GRAD");
    enum ibp_status st = check_ws(net, ws, ws->batch > 0 ? ws->batch : 1, "backward", err);
    if (st != IBP_OK)
        return st;
    if (!ws->clean_done && !ws->bounds_done)
        return ibp_fail(err, IBP_ERR_ARG, "backward: no forward pass to differentiate");
    if (ws->clean_done && ws->bounds_done && ws->clean_mode != ws->bounds_mode)
        return ibp_fail(err, IBP_ERR_ARG, "backward: clean and bounds passes used different BN modes");
    if (g_lb && !ws->bounds_done)
        return ibp_fail(err, IBP_ERR_ARG, "backward: dL/dlb given but no bounds pass ran");
    if (g_logits && !ws->clean_done)
        return ibp_fail(err, IBP_ERR_ARG, "backward: dL/dlogits given but no clean pass ran");
    int B = ws->batch;
    enum ibp_bn_mode mode = ws->bounds_done ? ws->bounds_mode : ws->clean_mode;
    mark_needs_grad(net, ws, 0, 1);
    zero_floats(grad, net->n_params, ws->threads);
    zero_value_grads(net, ws, 1);
    struct value_buf *out = &ws->v[net->n_layers];
    struct ibp_shape os = net->shapes[net->n_layers];
    if (ws->clean_done && g_logits)
        to_internal(os, g_logits, out->gx, (size_t)B, ws->threads);
    if (ws->bounds_done) {
        size_t rows = (size_t)ws->rows, e = (size_t)B * rows;
        for (size_t i = 0; i < e; i++) {
            float g = g_lb ? g_lb[i] : 0.0f;
            if (ws->spec_kind != 0) {
                ws->spec_gc[i] = g;
                ws->spec_gr[i] = -g;
            } else {
                size_t j = (i / rows) * rows + internal_index(os, i % rows);
                out->gx[(size_t)B * rows + j] += g;
                out->gr[j] -= g;
            }
        }
    }
    int x0 = ws->clean_done ? 0 : B;
    int nx = (ws->clean_done + ws->bounds_done) * B;
    struct pass_ctx p = {net, ws, B, x0, nx, ws->clean_done, ws->bounds_done, mode, ws->threads};
    run_backward(&p, grad);
    ws->relu_slots_armed = 0;
    return IBP_OK;
}

enum ibp_status ibp_pass_input_grad(const struct ibp_net *net, struct ibp_workspace *ws,
                                    const float *g_logits, float *g_x, struct ibp_error *err)
{
    if (!(ws->flags & IBP_WS_GRAD))
        return ibp_fail(err, IBP_ERR_ARG, "input gradient: workspace made without IBP_WS_GRAD");
    if (!ws->clean_done)
        return ibp_fail(err, IBP_ERR_ARG, "input gradient: no clean pass ran");
    enum ibp_status st = check_ws(net, ws, ws->batch, "input gradient", err);
    if (st != IBP_OK)
        return st;
    int B = ws->batch;
    mark_needs_grad(net, ws, 1, 0);
    ws->relu_slots_armed = 0;
    ws->bounds_done = 0;
    zero_value_grads(net, ws, 0);
    to_internal(net->shapes[net->n_layers], g_logits, ws->v[net->n_layers].gx, (size_t)B,
                ws->threads);
    struct pass_ctx p = {net, ws, B, 0, B, 1, 0, ws->clean_mode, ws->threads};
    for (int k = net->n_layers - 1; k >= 0; k--)
        layer_backward(&p, k, NULL);
    to_external(net->input, ws->v[0].gx, g_x, (size_t)B);
    return IBP_OK;
}

void ibp_bn_update_running(struct ibp_net *net, const struct ibp_workspace *ws, float momentum)
{
    if (!ws->clean_done || ws->clean_mode != IBP_BN_TRAIN)
        return;
    for (int k = 0; k < net->n_layers; k++) {
        if (net->layers[k].kind != IBP_LAYER_BATCHNORM)
            continue;
        const struct bn_state *bn = &ws->bn[k];
        double N = bn->rows;
        double unbias = N > 1.0 ? N / (N - 1.0) : 1.0;
        float *rm = ibp_bn_running_mean(net, k), *rv = ibp_bn_running_var(net, k);
        for (int c = 0; c < bn->channels; c++) {
            rm[c] = (1.0f - momentum) * rm[c] + momentum * bn->mean[c];
            rv[c] = (1.0f - momentum) * rv[c] + momentum * (float)(bn->var[c] * unbias);
        }
    }
}
