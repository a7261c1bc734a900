/* CONV2D on NHWC values: im2col over a chunk of whole samples, then one GEMM per group
 * against the packed weight [out][kh][kw][in/g]. Chunks have a fixed number of samples
 * per layer, so accumulations over chunks (dW) do not depend on the thread count.
 * A 1x1 convolution with stride 1, no padding and one group reads its input directly;
 * 3x3 stride-1 convolutions with enough channels run as Winograd F(4x4, 3x3)
 * (conv_winograd.c), layers with few taps as a direct loop (conv_taps.c), other
 * one-group convolutions as an implicit GEMM without im2col (conv_implicit.c). */
#include <math.h>
#include <string.h>

#include "nets/kernels/conv_implicit.h"
#include "nets/kernels/conv_taps.h"
#include "nets/kernels/conv_winograd.h"
#include "nets/kernels/gemm.h"
#include "nets/passes/workspace.h"

struct conv_geom {
    int H, W, C;       /* input */
    int Ho, Wo, Co;    /* output */
    int kh, kw, sh, sw, ph, pw, dh, dw, groups;
    int cg, og;        /* channels per group in / out */
    long K;            /* kh * kw * cg */
    int direct;        /* the input is already the im2col matrix */
};

static struct conv_geom geom(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]], out = net->shapes[k + 1];
    struct conv_geom g = {in.h, in.w, in.c, out.h, out.w, out.c, l->kh, l->kw, l->sh, l->sw,
                          l->ph, l->pw, l->dh, l->dw, l->groups, in.c / l->groups,
                          out.c / l->groups, 0, 0};
    g.K = (long)g.kh * g.kw * g.cg;
    g.direct = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 &&
               g.groups == 1;
    return g;
}

static void copy_floats(float *restrict dst, const float *restrict src, long n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void zero_floats(float *dst, long n)
{
    memset(dst, 0, (size_t)n * sizeof(float));
}

/* col[(n, oh, ow)][(i, j, c)] for samples [0, ns) of `in` (NHWC), group `grp`.
 * One task per output row (n, oh), so the row checks are made once per kernel row. */
static void im2col(const struct conv_geom *g, const float *in, int ns, int grp, float *col,
                   int threads)
{
    long ntask = (long)ns * g->Ho;
    /* with one group and no dilation along w, the taps j of one kernel row are
     * contiguous in the NHWC input: one copy of (j1 - j0) C floats */
    int runs = g->groups == 1 && g->dw == 1;
    long span = (long)g->kw * g->cg;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long task = 0; task < ntask; task++) {
        long n = task / g->Ho;
        int oh = (int)(task % g->Ho);
        float *row0 = col + task * g->Wo * g->K;
        for (int i = 0; i < g->kh; i++) {
            int ih = oh * g->sh - g->ph + i * g->dh;
            float *dst = row0 + i * span;
            if (ih < 0 || ih >= g->H) {
                for (int ow = 0; ow < g->Wo; ow++, dst += g->K)
                    zero_floats(dst, span);
                continue;
            }
            const float *src_row = in + ((size_t)n * g->H + ih) * g->W * g->C;
            if (runs && g->C == 1) {
                /* a grey image: a few single floats per kernel row, picked one by one
                 * (a copy call per tap would cost more than the data) */
                for (int ow = 0; ow < g->Wo; ow++, dst += g->K) {
                    int w0 = ow * g->sw - g->pw;
                    for (int j = 0; j < g->kw; j++) {
                        int iw = w0 + j;
                        dst[j] = iw >= 0 && iw < g->W ? src_row[iw] : 0.0f;
                    }
                }
                continue;
            }
            for (int ow = 0; ow < g->Wo; ow++, dst += g->K) {
                int w0 = ow * g->sw - g->pw;
                if (runs) {
                    /* taps [j0, j1) fall inside the input; clamped for any padding */
                    int j0 = w0 < 0 ? -w0 : 0, j1 = g->W - w0;
                    j0 = j0 < g->kw ? j0 : g->kw;
                    j1 = j1 < g->kw ? j1 : g->kw;
                    j1 = j1 > j0 ? j1 : j0;
                    if (j0 == 0 && j1 == g->kw) {
                        copy_floats(dst, src_row + (long)w0 * g->C, span);
                        continue;
                    }
                    zero_floats(dst, (long)j0 * g->C);
                    copy_floats(dst + (long)j0 * g->C, src_row + (long)(w0 + j0) * g->C,
                                (long)(j1 - j0) * g->C);
                    zero_floats(dst + (long)j1 * g->C, (long)(g->kw - j1) * g->C);
                    continue;
                }
                for (int j = 0; j < g->kw; j++) {
                    int iw = w0 + j * g->dw;
                    float *d = dst + (long)j * g->cg;
                    if (iw < 0 || iw >= g->W)
                        zero_floats(d, g->cg);
                    else
                        copy_floats(d, src_row + (size_t)iw * g->C + (size_t)grp * g->cg, g->cg);
                }
            }
        }
    }
}

/* gin (NHWC) += col2im(dcol) for samples [0, ns); each sample by one thread, so the
 * order of additions is fixed */
static void col2im_add(const struct conv_geom *g, const float *dcol, int ns, int grp, float *gin,
                       int threads)
{
    long rows_per_sample = (long)g->Ho * g->Wo;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int n = 0; n < ns; n++) {
        for (long q = 0; q < rows_per_sample; q++) {
            int oh = (int)(q / g->Wo), ow = (int)(q % g->Wo);
            const float *src = dcol + ((long)n * rows_per_sample + q) * g->K;
            for (int i = 0; i < g->kh; i++) {
                int ih = oh * g->sh - g->ph + i * g->dh;
                for (int j = 0; j < g->kw; j++, src += g->cg) {
                    int iw = ow * g->sw - g->pw + j * g->dw;
                    if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                        continue;
                    float *dst = gin + (((size_t)n * g->H + ih) * g->W + iw) * g->C +
                                 (size_t)grp * g->cg;
                    for (int c = 0; c < g->cg; c++)
                        dst[c] += src[c];
                }
            }
        }
    }
}

/* The kept im2col of layer k (ws_col_keep) from x row x0 (radius: r row x0), or NULL
 * when the layer keeps none. Layout: [2 max_batch x rows][max_batch r rows], each
 * Ho*Wo rows of K. */
static float *kept_col(const struct pass_ctx *p, int k, const struct conv_geom *g, int radius,
                       int row0)
{
    float *keep = p->ws->colkeep ? p->ws->colkeep[k] : NULL;
    if (!keep)
        return NULL;
    size_t per = (size_t)g->Ho * g->Wo * (size_t)g->K;
    size_t base = radius ? 2 * (size_t)p->ws->max_batch : 0;
    return keep + (base + (size_t)row0) * per;
}

/* The Winograd-transformed weight of layer k for the x stream (radius: |W| for the r
 * stream), or NULL when the layer runs im2col + GEMM. */
static const float *wino_weight(const struct ibp_workspace *ws, int k, int radius)
{
    if (!ws->winograd || !ws->wino_u[k])
        return NULL;
    return radius ? ws->wino_uabs[k] : ws->wino_u[k];
}

/* The weight of layer k packed for the implicit GEMM (radius: |W|), or NULL when the
 * layer runs another lowering. */
static const float *implicit_weight(const struct ibp_workspace *ws, int k, int radius)
{
    return radius ? ws->wimpabs[k] : ws->wimp[k];
}

static struct conv_winograd_scratch wino_scratch(const struct ibp_workspace *ws)
{
    return (struct conv_winograd_scratch){ws->wino_v, ws->wino_m, ws->wino_du};
}

/* out[s0 .. s0+ns) = conv(in[...], wp) (+ bias) for one stream array; wt: the same
 * weights as [tap][out] for a layer with few taps (then no im2col is made or kept); wu:
 * the same weights transformed for Winograd, wi: packed for the implicit GEMM (then
 * that runs instead) */
static void conv_stream_forward(const struct pass_ctx *p, int k, const struct conv_geom *g,
                                const float *in, float *out, int ns_total, const float *wp,
                                const float *wt, const float *wu, const float *wi,
                                const float *bias, float *keep)
{
    struct ibp_workspace *ws = p->ws;
    if (wi) {
        struct conv_implicit_geom ig = ibp_conv_implicit_geom_of(p->net, k);
        ibp_conv_implicit_forward(&ig, in, out, ns_total, wi, bias, ws->col, p->threads);
        return;
    }
    if (wu) {
        struct conv_winograd_scratch s = wino_scratch(ws);
        ibp_conv_winograd_forward(p->net, k, in, out, ns_total, wu, bias, &s, p->threads);
        return;
    }
    if (wt) {
        ibp_conv_taps_forward(p->net, k, in, out, ns_total, wt, bias, 0, ws->col, ws->col_floats,
                          p->threads);
        return;
    }
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    /* with a kept im2col (keep: this stream's rows), one chunk writes all of it */
    int chunk = keep ? ns_total : (int)ibp_ws_conv_chunk_samples(p->net, k);
    for (int s0 = 0; s0 < ns_total; s0 += chunk) {
        int ns = ns_total - s0 < chunk ? ns_total - s0 : chunk;
        const float *src = in + (size_t)s0 * in_per;
        float *dst = out + (size_t)s0 * out_per;
        long M = (long)ns * g->Ho * g->Wo;
        if (bias) {
#pragma omp parallel for num_threads(p->threads) schedule(static)
            for (long r = 0; r < M; r++)
                memcpy(dst + r * g->Co, bias, (size_t)g->Co * sizeof(float));
        }
        float beta = bias ? 1.0f : 0.0f;
        for (int grp = 0; grp < g->groups; grp++) {
            const float *a = src;
            if (!g->direct) {
                float *col = keep ? keep : ws->col;
                im2col(g, src, ns, grp, col, p->threads);
                a = col;
            }
            ibp_sgemm(0, 1, M, g->og, g->K, 1.0f, a, g->K, wp + (size_t)grp * g->og * g->K, g->K,
                      beta, dst + (size_t)grp * g->og, g->Co, p->threads);
        }
    }
}

void ibp_layer_conv_forward(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    struct conv_geom g = geom(p->net, k);
    conv_stream_forward(p, k, &g, in->x + (size_t)p->x0 * in->size,
                        out->x + (size_t)p->x0 * out->size, p->nx, ws->wpack[k], ws->wtap[k],
                        wino_weight(ws, k, 0), implicit_weight(ws, k, 0),
                        ibp_layer_bias(p->net, k), kept_col(p, k, &g, 0, p->x0));
    if (p->bounds)
        conv_stream_forward(p, k, &g, in->r, out->r, p->batch, ws->wabs[k], ws->wtapabs[k],
                            wino_weight(ws, k, 1), implicit_weight(ws, k, 1), NULL,
                            kept_col(p, k, &g, 1, 0));
}

/* For one stream: dwp += gout^T col (when dwp), gin += col2im(gout wp) (when gin); with
 * wu (wp transformed for Winograd) the same by Winograd, with wi (packed for the implicit
 * GEMM) by the implicit GEMM. */
static void conv_stream_backward(const struct pass_ctx *p, int k, const struct conv_geom *g,
                                 const float *in, const float *gout, float *gin, int ns_total,
                                 const float *wp, const float *wu, const float *wi, float *dwp,
                                 const float *keep)
{
    struct ibp_workspace *ws = p->ws;
    if (wi) {
        struct conv_implicit_geom ig = ibp_conv_implicit_geom_of(p->net, k);
        if (dwp)
            ibp_conv_implicit_weight_grad(&ig, in, gout, ns_total, dwp, ws->col, p->threads);
        if (gin)
            ibp_conv_implicit_input_grad(&ig, gout, gin, ns_total, wi, ws->col, p->threads);
        return;
    }
    if (wu) {
        struct conv_winograd_scratch s = wino_scratch(ws);
        ibp_conv_winograd_backward(p->net, k, in, gout, gin, ns_total, wu, dwp, &s, p->threads);
        return;
    }
    if (dwp && ws->wtap[k]) {
        /* few taps: the weight gradient directly; the input gradient (rarely wanted: the
         * first layer's) by the GEMM and col2im below */
        ibp_conv_taps_weight_grad(p->net, k, in, gout, ns_total, dwp, ws->col, ws->col_floats,
                              p->threads);
        dwp = NULL;
        if (!gin)
            return;
    }
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    int chunk = (int)ibp_ws_conv_chunk_samples(p->net, k);
    for (int s0 = 0; s0 < ns_total; s0 += chunk) {
        int ns = ns_total - s0 < chunk ? ns_total - s0 : chunk;
        const float *src = in + (size_t)s0 * in_per;
        const float *go = gout + (size_t)s0 * out_per;
        long M = (long)ns * g->Ho * g->Wo;
        for (int grp = 0; grp < g->groups; grp++) {
            const float *w_g = wp + (size_t)grp * g->og * g->K;
            const float *go_g = go + (size_t)grp * g->og;
            if (dwp) {
                const float *a = src;
                if (keep) {
                    /* the forward's im2col of these rows, kept */
                    a = keep + (size_t)s0 * g->Ho * g->Wo * (size_t)g->K;
                } else if (!g->direct) {
                    im2col(g, src, ns, grp, ws->col, p->threads);
                    a = ws->col;
                }
                ibp_sgemm(1, 0, g->og, g->K, M, 1.0f, go_g, g->Co, a, g->K, 1.0f,
                          dwp + (size_t)grp * g->og * g->K, g->K, p->threads);
            }
            if (!gin)
                continue;
            float *gi = gin + (size_t)s0 * in_per;
            if (g->direct) {
                ibp_sgemm(0, 0, M, g->K, g->og, 1.0f, go_g, g->Co, w_g, g->K, 1.0f, gi, g->C,
                          p->threads);
            } else {
                ibp_sgemm(0, 0, M, g->K, g->og, 1.0f, go_g, g->Co, w_g, g->K, 0.0f, ws->dcol,
                          g->K, p->threads);
                col2im_add(g, ws->dcol, ns, grp, gi, p->threads);
            }
        }
    }
}

void ibp_conv_grad_unpack_add(const struct pass_ctx *p, int k, const float *dwp, const float *dwa,
                          float *dw)
{
    struct conv_geom g = geom(p->net, k);
    const float *wp = p->ws->wpack[k];
    int kk = g.kh * g.kw;
    /* [o][kh][kw][c] -> [o][c][kh][kw], adding sign(W) d|W| */
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (int o = 0; o < g.Co; o++)
        for (int c = 0; c < g.cg; c++)
            for (int q = 0; q < kk; q++) {
                size_t src = ((size_t)o * kk + q) * g.cg + c;
                float d = dwp[src];
                if (dwa)
                    d += wp[src] > 0.0f ? dwa[src] : (wp[src] < 0.0f ? -dwa[src] : 0.0f);
                dw[((size_t)o * g.cg + c) * kk + q] += d;
            }
}

void ibp_conv_samples_forward(const struct pass_ctx *p, int k, const float *in, float *out, int ns)
{
    struct conv_geom g = geom(p->net, k);
    conv_stream_forward(p, k, &g, in, out, ns, p->ws->wpack[k], p->ws->wtap[k],
                        wino_weight(p->ws, k, 0), implicit_weight(p->ws, k, 0), NULL, NULL);
}

void ibp_conv_samples_backward(const struct pass_ctx *p, int k, const float *in, const float *gout,
                           float *gin, int ns, float *dwp)
{
    struct conv_geom g = geom(p->net, k);
    conv_stream_backward(p, k, &g, in, gout, gin, ns, p->ws->wpack[k], wino_weight(p->ws, k, 0),
                         implicit_weight(p->ws, k, 0), dwp, NULL);
}

void ibp_layer_conv_backward(const struct pass_ctx *p, int k, float *grad)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    struct conv_geom g = geom(p->net, k);
    int want_in = ws->needs_grad[l->in[0]];
    size_t nw = (size_t)g.Co * g.K;
    float *dwp = grad ? ws->dwpack[k] : NULL, *dwa = grad && p->bounds ? ws->dwabs[k] : NULL;
    if (dwp)
        memset(dwp, 0, nw * sizeof(float));
    if (dwa)
        memset(dwa, 0, nw * sizeof(float));
    conv_stream_backward(p, k, &g, in->x + (size_t)p->x0 * in->size,
                         out->gx + (size_t)p->x0 * out->size,
                         want_in ? in->gx + (size_t)p->x0 * in->size : NULL, p->nx,
                         ws->wpack[k], wino_weight(ws, k, 0), implicit_weight(ws, k, 0), dwp,
                         kept_col(p, k, &g, 0, p->x0));
    if (p->bounds)
        conv_stream_backward(p, k, &g, in->r, out->gr, want_in ? in->gr : NULL, p->batch,
                             ws->wabs[k], wino_weight(ws, k, 1), implicit_weight(ws, k, 1), dwa,
                             kept_col(p, k, &g, 1, 0));
    if (!grad)
        return;
    ibp_conv_grad_unpack_add(p, k, dwp, dwa, grad + p->net->param_off[k]);
    float *b = ibp_layer_bias(p->net, k);
    if (b) {
        double *sum = ws->chsum;
        memset(sum, 0, (size_t)g.Co * sizeof(double));
        ibp_reduce_rows(ws, p->threads, REDUCE_SUM, out->gx + (size_t)p->x0 * out->size, NULL, NULL,
                    (size_t)p->nx * g.Ho * g.Wo, g.Co, sum);
        float *gb = grad + (b - p->net->params);
        for (int o = 0; o < g.Co; o++)
            gb[o] += (float)sum[o];
    }
}
