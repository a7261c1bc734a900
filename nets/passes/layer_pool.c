/* AVGPOOL (a non-negative linear map: applied to centres and radii alike) and MAXPOOL
 * (IBP: max over the lower bounds and over the upper bounds separately). NHWC. */
#include <float.h>
#include <math.h>

#include "nets/passes/workspace.h"

struct pool_geom {
    int H, W, C, Ho, Wo, kh, kw, sh, sw, ph, pw, count_pad;
};

static struct pool_geom geom(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]], out = net->shapes[k + 1];
    return (struct pool_geom){in.h, in.w, in.c, out.h, out.w, l->kh, l->kw, l->sh,
                              l->sw, l->ph, l->pw, l->count_pad};
}

/* window of output (oh, ow) clipped to the input */
static void window(const struct pool_geom *g, int oh, int ow, int *i0, int *i1, int *j0, int *j1)
{
    int h0 = oh * g->sh - g->ph, w0 = ow * g->sw - g->pw;
    *i0 = h0 < 0 ? 0 : h0;
    *j0 = w0 < 0 ? 0 : w0;
    *i1 = h0 + g->kh > g->H ? g->H : h0 + g->kh;
    *j1 = w0 + g->kw > g->W ? g->W : w0 + g->kw;
}

static float avg_divisor(const struct pool_geom *g, int i0, int i1, int j0, int j1)
{
    return g->count_pad ? (float)(g->kh * g->kw) : (float)((i1 - i0) * (j1 - j0));
}

/* out[n] = avgpool(in[n]) (add = 0) or gin[n] += avgpool^T(gout[n]) (add = 1) */
static void avgpool_rows(const struct pool_geom *g, const float *src, float *dst, int rows,
                         int back, int threads)
{
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->C;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int n = 0; n < rows; n++)
        for (int oh = 0; oh < g->Ho; oh++)
            for (int ow = 0; ow < g->Wo; ow++) {
                int i0, i1, j0, j1;
                window(g, oh, ow, &i0, &i1, &j0, &j1);
                float inv = 1.0f / avg_divisor(g, i0, i1, j0, j1);
                size_t o = (size_t)n * out_per + ((size_t)oh * g->Wo + ow) * g->C;
                if (back) {
                    for (int i = i0; i < i1; i++)
                        for (int j = j0; j < j1; j++) {
                            float *d = dst + (size_t)n * in_per + ((size_t)i * g->W + j) * g->C;
                            for (int c = 0; c < g->C; c++)
                                d[c] += src[o + c] * inv;
                        }
                    continue;
                }
                for (int c = 0; c < g->C; c++)
                    dst[o + c] = 0.0f;
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) {
                        const float *s = src + (size_t)n * in_per + ((size_t)i * g->W + j) * g->C;
                        for (int c = 0; c < g->C; c++)
                            dst[o + c] += s[c];
                    }
                for (int c = 0; c < g->C; c++)
                    dst[o + c] *= inv;
            }
}

/* value at input element (n, i, j, c) for the max: x, or c - r / c + r */
static float pick(const float *x, const float *r, size_t idx, int sign)
{
    return r ? x[idx] + (float)sign * r[idx] : x[idx];
}

/* max over each window of x (r NULL) or of c + sign r; optionally routes gradient
 * gout to the argmax (first maximal element) when back */
static void maxpool_rows(const struct pool_geom *g, const float *x, const float *r, int sign,
                         float *out, const float *gout, float *gx, float *gr, int rows,
                         int threads)
{
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->C;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int n = 0; n < rows; n++)
        for (int oh = 0; oh < g->Ho; oh++)
            for (int ow = 0; ow < g->Wo; ow++) {
                int i0, i1, j0, j1;
                window(g, oh, ow, &i0, &i1, &j0, &j1);
                size_t o = (size_t)n * out_per + ((size_t)oh * g->Wo + ow) * g->C;
                for (int c = 0; c < g->C; c++) {
                    float best = -FLT_MAX;
                    size_t arg = 0;
                    int first = 1;
                    for (int i = i0; i < i1; i++)
                        for (int j = j0; j < j1; j++) {
                            size_t idx = (size_t)n * in_per + ((size_t)i * g->W + j) * g->C + c;
                            float v = pick(x, r, idx, sign);
                            if (first || v > best) {
                                best = v;
                                arg = idx;
                                first = 0;
                            }
                        }
                    if (out)
                        out[o + c] = best;
                    if (gout) {
                        gx[arg] += gout[o + c];
                        if (gr)
                            gr[arg] += (float)sign * gout[o + c];
                    }
                }
            }
}

void ibp_layer_pool_forward(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    struct pool_geom g = geom(p->net, k);
    size_t B = (size_t)p->batch, n = out->size;
    if (l->kind == IBP_LAYER_AVGPOOL) {
        avgpool_rows(&g, in->x + (size_t)p->x0 * in->size, out->x + (size_t)p->x0 * n, p->nx, 0,
                     p->threads);
        if (p->bounds)
            avgpool_rows(&g, in->r, out->r, p->batch, 0, p->threads);
        return;
    }
    if (p->clean)
        maxpool_rows(&g, in->x, NULL, 0, out->x, NULL, NULL, NULL, p->batch, p->threads);
    if (p->bounds) {
        /* lower bounds into the centre rows, upper bounds into r, then back to c/r */
        float *co = out->x + B * n, *ro = out->r;
        const float *c = in->x + B * in->size;
        maxpool_rows(&g, c, in->r, -1, co, NULL, NULL, NULL, p->batch, p->threads);
        maxpool_rows(&g, c, in->r, +1, ro, NULL, NULL, NULL, p->batch, p->threads);
        size_t e = B * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < e; i++) {
            float lo = co[i], hi = ro[i];
            co[i] = (hi + lo) * 0.5f;
            ro[i] = (hi - lo) * 0.5f;
        }
    }
}

void ibp_layer_pool_backward(const struct pass_ctx *p, int k)
{
    const struct ibp_layer_spec *l = &p->net->layers[k];
    struct ibp_workspace *ws = p->ws;
    if (!ws->needs_grad[l->in[0]])
        return;
    const struct value_buf *in = &ws->v[l->in[0]], *out = &ws->v[k + 1];
    struct pool_geom g = geom(p->net, k);
    size_t B = (size_t)p->batch, n = out->size;
    if (l->kind == IBP_LAYER_AVGPOOL) {
        avgpool_rows(&g, out->gx + (size_t)p->x0 * n, in->gx + (size_t)p->x0 * in->size, p->nx, 1,
                     p->threads);
        if (p->bounds)
            avgpool_rows(&g, out->gr, in->gr, p->batch, 1, p->threads);
        return;
    }
    if (p->clean)
        maxpool_rows(&g, in->x, NULL, 0, NULL, out->gx, in->gx, NULL, p->batch, p->threads);
    if (p->bounds) {
        /* c' = (U + L)/2, r' = (U - L)/2: dL/dL = (gc - gr)/2, dL/dU = (gc + gr)/2, and
         * L = c - r, U = c + r at the argmax */
        const float *gco = out->gx + B * n, *gro = out->gr;
        float *gl = ws->pool_tmp, *gu = ws->pool_tmp + B * n;
        size_t e = B * n;
        for (size_t i = 0; i < e; i++) {
            gl[i] = (gco[i] - gro[i]) * 0.5f;
            gu[i] = (gco[i] + gro[i]) * 0.5f;
        }
        const float *c = in->x + B * in->size;
        float *gc = in->gx + B * in->size;
        maxpool_rows(&g, c, in->r, -1, NULL, gl, gc, in->gr, p->batch, p->threads);
        maxpool_rows(&g, c, in->r, +1, NULL, gu, gc, in->gr, p->batch, p->threads);
    }
}
