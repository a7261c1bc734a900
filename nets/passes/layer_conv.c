/* CONV2D on NHWC values in the passes, by the lowering ibp_conv_lowering chose
 * (nets/kernels/conv.h; the workspace holds the weight in that lowering's layout):
 * few taps, Winograd, implicit GEMM, one GEMM on the input of a plain 1x1, or im2col
 * over a chunk of whole samples and one GEMM per group against the packed weight
 * [out][kh][kw][in/g]. Chunks have a fixed number of samples per layer, so
 * accumulations over chunks (dW) do not depend on the thread count. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "nets/kernels/conv.h"
#include "nets/kernels/conv_implicit.h"
#include "nets/kernels/conv_taps.h"
#include "nets/kernels/conv_winograd.h"
#include "nets/kernels/gemm.h"
#include "nets/passes/workspace.h"

/* gin (NHWC) += col2im(dcol) for samples [0, ns); each sample by one thread, so the
 * order of additions is fixed */
static void col2im_add(const struct ibp_conv_geom *g, const float *dcol, int ns, int grp, float *gin,
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
static float *kept_col(const struct pass_ctx *p, int k, const struct ibp_conv_geom *g, int radius,
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
static void conv_stream_forward(const struct pass_ctx *p, int k, const struct ibp_conv_geom *g,
                                const float *in, float *out, int ns_total, const float *wp,
                                const float *wt, const float *wu, const float *wi,
                                const float *bias, float *keep)
{
    struct ibp_workspace *ws = p->ws;
    if (wi) {
        ibp_conv_implicit_forward(g, in, out, ns_total, wi, bias, ws->col, p->threads);
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
    int chunk = keep ? ns_total : ibp_conv_chunk_samples(g, INT_MAX);
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
            if (!ibp_conv_plain_1x1(g)) {
                float *col = keep ? keep : ws->col;
                ibp_conv_im2col(g, src, ns, grp, col, p->threads);
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
    struct ibp_conv_geom g = ibp_conv_geom_of(p->net, k);
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
static void conv_stream_backward(const struct pass_ctx *p, int k, const struct ibp_conv_geom *g,
                                 const float *in, const float *gout, float *gin, int ns_total,
                                 const float *wp, const float *wu, const float *wi, float *dwp,
                                 const float *keep)
{
    struct ibp_workspace *ws = p->ws;
    if (wi) {
        if (dwp)
            ibp_conv_implicit_weight_grad(g, in, gout, ns_total, dwp, ws->col, p->threads);
        if (gin)
            ibp_conv_implicit_input_grad(g, gout, gin, ns_total, wi, ws->col, p->threads);
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
    int chunk = ibp_conv_chunk_samples(g, INT_MAX);
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
                } else if (!ibp_conv_plain_1x1(g)) {
                    ibp_conv_im2col(g, src, ns, grp, ws->col, p->threads);
                    a = ws->col;
                }
                ibp_sgemm(1, 0, g->og, g->K, M, 1.0f, go_g, g->Co, a, g->K, 1.0f,
                          dwp + (size_t)grp * g->og * g->K, g->K, p->threads);
            }
            if (!gin)
                continue;
            float *gi = gin + (size_t)s0 * in_per;
            if (ibp_conv_plain_1x1(g)) {
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
    struct ibp_conv_geom g = ibp_conv_geom_of(p->net, k);
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
    struct ibp_conv_geom g = ibp_conv_geom_of(p->net, k);
    conv_stream_forward(p, k, &g, in, out, ns, p->ws->wpack[k], p->ws->wtap[k],
                        wino_weight(p->ws, k, 0), implicit_weight(p->ws, k, 0), NULL, NULL);
}

void ibp_conv_samples_backward(const struct pass_ctx *p, int k, const float *in, const float *gout,
                           float *gin, int ns, float *dwp)
{
    struct ibp_conv_geom g = ibp_conv_geom_of(p->net, k);
    conv_stream_backward(p, k, &g, in, gout, gin, ns, p->ws->wpack[k], wino_weight(p->ws, k, 0),
                         implicit_weight(p->ws, k, 0), dwp, NULL);
}

void ibp_layer_conv_backward(const struct pass_ctx *p, int k, float *grad)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    struct ibp_conv_geom g = ibp_conv_geom_of(p->net, k);
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
