/* CONV2D on NHWC values: im2col over a chunk of whole samples, then one GEMM per group
 * against the packed weight [out][kh][kw][in/g]. Chunks have a fixed number of samples
 * per layer, so accumulations over chunks (dW) do not depend on the thread count.
 * A 1x1 convolution with stride 1, no padding and one group reads its input directly. */
#include <math.h>
#include <string.h>

#include "nets/gemm.h"
#include "nets/workspace.h"

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

/* Layers with few taps (conv_few_taps): per output position, the taps (i, j, c) in
 * order, each adding in * wt[tap][0..Co) to the Co outputs, which stay in registers in
 * blocks of 16. Every output is the same sum in the same order in both versions below,
 * and one task is one output row, so nothing depends on the thread count or the CPU. */
typedef float v8f __attribute__((vector_size(32)));

/* outputs [o0, o0 + 16) of NP positions ow .. ow + NP - 1 of output row oh (Co a
 * multiple of 16); with NP > 1 every tap of every position must lie inside the input
 * (no padding), so the positions share the loop and each weight load */
#define FEW_TAPS_BLOCK(ATTR, NAME, NP)                                                       \
    ATTR static void NAME(const struct conv_geom *g, const float *in, long n, int oh, int ow, \
                          int o0, const float *wt, const float *bias, float *acc)           \
    {                                                                                        \
        int Co = g->Co, C = g->C;                                                            \
        v8f a0[NP], a1[NP], w0, w1, b0 = {0}, b1 = {0};                                      \
        if (bias) {                                                                          \
            memcpy(&b0, bias + o0, sizeof b0);                                               \
            memcpy(&b1, bias + o0 + 8, sizeof b1);                                           \
        }                                                                                    \
        for (int q = 0; q < NP; q++) {                                                       \
            a0[q] = b0;                                                                      \
            a1[q] = b1;                                                                      \
        }                                                                                    \
        size_t step = (size_t)g->sw * C;                                                     \
        for (int i = 0; i < g->kh; i++) {                                                    \
            int ih = oh * g->sh - g->ph + i * g->dh;                                         \
            if (ih < 0 || ih >= g->H)                                                        \
                continue;                                                                    \
            for (int j = 0; j < g->kw; j++) {                                                \
                int iw = ow * g->sw - g->pw + j * g->dw;                                     \
                if (iw < 0 || iw >= g->W)                                                    \
                    continue;                                                                \
                const float *src = in + (((size_t)n * g->H + ih) * g->W + iw) * C;           \
                const float *w = wt + (size_t)(i * g->kw + j) * C * Co + o0;                 \
                for (int c = 0; c < C; c++, w += Co) {                                       \
                    memcpy(&w0, w, sizeof w0);                                               \
                    memcpy(&w1, w + 8, sizeof w1);                                           \
                    for (int q = 0; q < NP; q++) {                                           \
                        float x = src[q * step + (size_t)c];                                 \
                        v8f v = {x, x, x, x, x, x, x, x};                                    \
                        a0[q] += v * w0;                                                     \
                        a1[q] += v * w1;                                                     \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        for (int q = 0; q < NP; q++) {                                                       \
            memcpy(acc + (size_t)q * Co + o0, &a0[q], sizeof a0[q]);                         \
            memcpy(acc + (size_t)q * Co + o0 + 8, &a1[q], sizeof a1[q]);                     \
        }                                                                                    \
    }
FEW_TAPS_BLOCK(__attribute__((target("avx2"))), few_taps_block_avx2, 1)
FEW_TAPS_BLOCK(__attribute__((target("avx2"))), few_taps_block4_avx2, 4)
FEW_TAPS_BLOCK(, few_taps_block, 1)
FEW_TAPS_BLOCK(, few_taps_block4, 4)

/* the same sums one output at a time, for Co not a multiple of 16 */
static void few_taps_position(const struct conv_geom *g, const float *in, long n, int oh, int ow,
                              const float *wt, const float *bias, float *acc)
{
    int Co = g->Co, C = g->C;
    for (int o = 0; o < Co; o++) {
        float a = bias ? bias[o] : 0.0f;
        for (int i = 0; i < g->kh; i++) {
            int ih = oh * g->sh - g->ph + i * g->dh;
            if (ih < 0 || ih >= g->H)
                continue;
            for (int j = 0; j < g->kw; j++) {
                int iw = ow * g->sw - g->pw + j * g->dw;
                if (iw < 0 || iw >= g->W)
                    continue;
                const float *src = in + (((size_t)n * g->H + ih) * g->W + iw) * C;
                const float *w = wt + (size_t)(i * g->kw + j) * C * Co + o;
                for (int c = 0; c < C; c++)
                    a += src[c] * w[(size_t)c * Co];
            }
        }
        acc[o] = a;
    }
}

static void conv_few_taps_forward(const struct conv_geom *g, const float *in, float *out,
                                  int ns, const float *wt, const float *bias, int threads)
{
    long ntask = (long)ns * g->Ho;
    int blocks = g->Co % 16 == 0, avx2 = blocks && __builtin_cpu_supports("avx2");
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long task = 0; task < ntask; task++) {
        long n = task / g->Ho;
        int oh = (int)(task % g->Ho);
        for (int ow = 0; ow < g->Wo;) {
            float *acc = out + ((size_t)task * g->Wo + (size_t)ow) * g->Co;
            /* four positions at once where all their taps are inside the input */
            int four = blocks && ow + 4 <= g->Wo && ow * g->sw - g->pw >= 0 &&
                       (ow + 3) * g->sw - g->pw + (g->kw - 1) * g->dw < g->W;
            for (int o0 = 0; four && o0 < g->Co; o0 += 16) {
                if (avx2)
                    few_taps_block4_avx2(g, in, n, oh, ow, o0, wt, bias, acc);
                else
                    few_taps_block4(g, in, n, oh, ow, o0, wt, bias, acc);
            }
            if (four) {
                ow += 4;
                continue;
            }
            if (!blocks)
                few_taps_position(g, in, n, oh, ow, wt, bias, acc);
            for (int o0 = 0; blocks && o0 < g->Co; o0 += 16) {
                if (avx2)
                    few_taps_block_avx2(g, in, n, oh, ow, o0, wt, bias, acc);
                else
                    few_taps_block(g, in, n, oh, ow, o0, wt, bias, acc);
            }
            ow++;
        }
    }
}

/* out[s0 .. s0+ns) = conv(in[...], wp) (+ bias) for one stream array; wt: the same
 * weights as [tap][out] for a layer with few taps (then no im2col is made or kept) */
static void conv_stream_forward(const struct pass_ctx *p, int k, const struct conv_geom *g,
                                const float *in, float *out, int ns_total, const float *wp,
                                const float *wt, const float *bias, float *keep)
{
    struct ibp_workspace *ws = p->ws;
    if (wt) {
        conv_few_taps_forward(g, in, out, ns_total, wt, bias, p->threads);
        return;
    }
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    /* with a kept im2col (keep: this stream's rows), one chunk writes all of it */
    int chunk = keep ? ns_total : (int)ws_conv_chunk_samples(p->net, k);
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

void layer_conv_forward(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    struct conv_geom g = geom(p->net, k);
    conv_stream_forward(p, k, &g, in->x + (size_t)p->x0 * in->size,
                        out->x + (size_t)p->x0 * out->size, p->nx, ws->wpack[k], ws->wtap[k],
                        ibp_layer_bias(p->net, k), kept_col(p, k, &g, 0, p->x0));
    if (p->bounds)
        conv_stream_forward(p, k, &g, in->r, out->r, p->batch, ws->wabs[k], ws->wtapabs[k],
                            NULL, kept_col(p, k, &g, 1, 0));
}

/* For one stream: dwp += gout^T col (when dwp), gin += col2im(gout wp) (when gin). */
static void conv_stream_backward(const struct pass_ctx *p, int k, const struct conv_geom *g,
                                 const float *in, const float *gout, float *gin, int ns_total,
                                 const float *wp, float *dwp, const float *keep)
{
    struct ibp_workspace *ws = p->ws;
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    int chunk = (int)ws_conv_chunk_samples(p->net, k);
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

void conv_grad_unpack_add(const struct pass_ctx *p, int k, const float *dwp, const float *dwa,
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

void conv_samples_forward(const struct pass_ctx *p, int k, const float *in, float *out, int ns)
{
    struct conv_geom g = geom(p->net, k);
    conv_stream_forward(p, k, &g, in, out, ns, p->ws->wpack[k], p->ws->wtap[k], NULL, NULL);
}

void conv_samples_backward(const struct pass_ctx *p, int k, const float *in, const float *gout,
                           float *gin, int ns, float *dwp)
{
    struct conv_geom g = geom(p->net, k);
    conv_stream_backward(p, k, &g, in, gout, gin, ns, p->ws->wpack[k], dwp, NULL);
}

void layer_conv_backward(const struct pass_ctx *p, int k, float *grad)
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
                         ws->wpack[k], dwp, kept_col(p, k, &g, 0, p->x0));
    if (p->bounds)
        conv_stream_backward(p, k, &g, in->r, out->gr, want_in ? in->gr : NULL, p->batch,
                             ws->wabs[k], dwa, kept_col(p, k, &g, 1, 0));
    if (!grad)
        return;
    conv_grad_unpack_add(p, k, dwp, dwa, grad + p->net->param_off[k]);
    float *b = ibp_layer_bias(p->net, k);
    if (b) {
        double *sum = ws->chsum;
        memset(sum, 0, (size_t)g.Co * sizeof(double));
        reduce_rows(ws, p->threads, REDUCE_SUM, out->gx + (size_t)p->x0 * out->size, NULL, NULL,
                    (size_t)p->nx * g.Ho * g.Wo, g.Co, sum);
        float *gb = grad + (b - p->net->params);
        for (int o = 0; o < g.Co; o++)
            gb[o] += (float)sum[o];
    }
}
