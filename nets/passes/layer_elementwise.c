/* Layers without parameters that act element by element or move data: NORMALIZE,
 * RELU, ADD, FLATTEN. See workspace.h for the row conventions. */
#include <math.h>

#include "nets/passes/workspace.h"

static const struct value_buf *in_value(const struct pass_ctx *p, int k, int which)
{
    return &p->ws->v[p->net->layers[k].in[which]];
}

static const struct value_buf *out_value(const struct pass_ctx *p, int k)
{
    return &p->ws->v[k + 1];
}

/* channel count of value v: NHWC images keep channels innermost, vectors are all
 * channels */
static int value_channels(const struct pass_ctx *p, int v)
{
    return p->net->shapes[v].c;
}

static float relu(float v)
{
    return v > 0.0f ? v : 0.0f;
}

/* dst[rows][C] = src / sd (back = 0), or dst += src / sd (back = 1); sd per channel.
 * Rows outer, channels inner: no index arithmetic per element. */
static void scale_rows(const float *src, float *dst, const float *sub, const float *sd,
                       size_t rows, size_t C, int back, int threads)
{
    if (C == 1) {
        /* one channel (a grey image): one flat loop */
        float m = sub ? sub[0] : 0.0f, q = sd[0];
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < rows; i++) {
            if (back)
                dst[i] += src[i] / q;
            else
                dst[i] = sub ? (src[i] - m) / q : src[i] / q;
        }
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * C;
        float *d = dst + r * C;
        if (back)
            for (size_t c = 0; c < C; c++)
                d[c] += s[c] / sd[c];
        else if (sub)
            for (size_t c = 0; c < C; c++)
                d[c] = (s[c] - sub[c]) / sd[c];
        else
            for (size_t c = 0; c < C; c++)
                d[c] = s[c] / sd[c];
    }
}

/* |std| per channel into ws scratch (the radius is divided by it) */
static const float *abs_std(const struct pass_ctx *p, int k, size_t C)
{
    const float *sd = ibp_normalize_std(p->net, k);
    float *a = p->ws->chabs;
    for (size_t c = 0; c < C; c++)
        a[c] = fabsf(sd[c]);
    return a;
}

void ibp_layer_normalize_forward(const struct pass_ctx *p, int k)
{
    const struct value_buf *in = in_value(p, k, 0), *out = out_value(p, k);
    const float *mean = ibp_normalize_mean(p->net, k), *sd = ibp_normalize_std(p->net, k);
    size_t C = (size_t)value_channels(p, p->net->layers[k].in[0]), n = out->size;
    size_t x0 = (size_t)p->x0 * n, rows = (size_t)p->nx * n / C;
    scale_rows(in->x + x0, out->x + x0, mean, sd, rows, C, 0, p->threads);
    if (p->bounds)
        scale_rows(in->r, out->r, NULL, abs_std(p, k, C), (size_t)p->batch * n / C, C, 0,
                   p->threads);
}

void ibp_layer_normalize_backward(const struct pass_ctx *p, int k)
{
    int vin = p->net->layers[k].in[0];
    if (!p->ws->needs_grad[vin])
        return;
    const struct value_buf *in = in_value(p, k, 0), *out = out_value(p, k);
    const float *sd = ibp_normalize_std(p->net, k);
    size_t C = (size_t)value_channels(p, vin), n = out->size;
    size_t x0 = (size_t)p->x0 * n, rows = (size_t)p->nx * n / C;
    scale_rows(out->gx + x0, in->gx + x0, NULL, sd, rows, C, 1, p->threads);
    if (p->bounds)
        scale_rows(out->gr, in->gr, NULL, abs_std(p, k, C), (size_t)p->batch * n / C, C, 1,
                   p->threads);
}

void ibp_layer_relu_forward(const struct pass_ctx *p, int k)
{
    const struct value_buf *in = in_value(p, k, 0), *out = out_value(p, k);
    size_t n = out->size, B = (size_t)p->batch;
    if (p->clean) {
        size_t e = B * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < e; i++)
            out->x[i] = relu(in->x[i]);
    }
    if (p->bounds) {
        const float *c = in->x + B * n, *r = in->r;
        float *co = out->x + B * n, *ro = out->r;
        size_t e = B * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < e; i++) {
            float lo = relu(c[i] - r[i]), hi = relu(c[i] + r[i]);
            co[i] = (hi + lo) * 0.5f;
            ro[i] = (hi - lo) * 0.5f;
        }
    }
}

void ibp_layer_relu_backward(const struct pass_ctx *p, int k)
{
    int vin = p->net->layers[k].in[0];
    if (!p->ws->needs_grad[vin])
        return;
    const struct value_buf *in = in_value(p, k, 0), *out = out_value(p, k);
    size_t n = out->size, B = (size_t)p->batch;
    if (p->clean) {
        size_t e = B * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < e; i++)
            in->gx[i] = in->x[i] > 0.0f ? in->gx[i] + out->gx[i] : in->gx[i];
    }
    if (p->bounds) {
        const float *c = in->x + B * n, *r = in->r;
        const float *gco = out->gx + B * n, *gro = out->gr;
        float *gc = in->gx + B * n, *gr = in->gr;
        size_t e = B * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < e; i++) {
            /* c' = (hi + lo)/2, r' = (hi - lo)/2 with lo = max(c - r, 0), hi = max(c + r, 0) */
            float ghi = (gco[i] + gro[i]) * 0.5f, glo = (gco[i] - gro[i]) * 0.5f;
            glo = c[i] - r[i] > 0.0f ? glo : 0.0f;
            ghi = c[i] + r[i] > 0.0f ? ghi : 0.0f;
            gc[i] += ghi + glo;
            gr[i] += ghi - glo;
        }
    }
}

void ibp_layer_add_forward(const struct pass_ctx *p, int k)
{
    const struct value_buf *a = in_value(p, k, 0), *b = in_value(p, k, 1), *out = out_value(p, k);
    size_t n = out->size;
    size_t x0 = (size_t)p->x0 * n, x1 = x0 + (size_t)p->nx * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t i = x0; i < x1; i++)
        out->x[i] = a->x[i] + b->x[i];
    if (p->bounds) {
        size_t r1 = (size_t)p->batch * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < r1; i++)
            out->r[i] = a->r[i] + b->r[i];
    }
}

void ibp_layer_add_backward(const struct pass_ctx *p, int k)
{
    const struct value_buf *out = out_value(p, k);
    size_t n = out->size;
    size_t x0 = (size_t)p->x0 * n, x1 = x0 + (size_t)p->nx * n;
    for (int which = 0; which < 2; which++) {
        if (!p->ws->needs_grad[p->net->layers[k].in[which]])
            continue;
        const struct value_buf *in = in_value(p, k, which);
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = x0; i < x1; i++)
            in->gx[i] += out->gx[i];
        if (p->bounds) {
            size_t r1 = (size_t)p->batch * n;
#pragma omp parallel for num_threads(p->threads) schedule(static)
            for (size_t i = 0; i < r1; i++)
                in->gr[i] += out->gr[i];
        }
    }
}

void ibp_flatten_rows(const float *src, float *dst, size_t rows, size_t hw, size_t C, int back,
                         int threads)
{
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t row = 0; row < rows; row++) {
        const float *s = src + row * hw * C;
        float *d = dst + row * hw * C;
        for (size_t q = 0; q < hw; q++)
            for (size_t c = 0; c < C; c++) {
                if (back)
                    d[q * C + c] += s[c * hw + q];
                else
                    d[c * hw + q] = s[q * C + c];
            }
    }
}

void ibp_layer_flatten_forward(const struct pass_ctx *p, int k)
{
    const struct value_buf *in = in_value(p, k, 0), *out = out_value(p, k);
    struct ibp_shape s = p->net->shapes[p->net->layers[k].in[0]];
    size_t hw = (size_t)s.h * s.w, n = out->size;
    ibp_flatten_rows(in->x + (size_t)p->x0 * n, out->x + (size_t)p->x0 * n, (size_t)p->nx, hw,
                 (size_t)s.c, 0, p->threads);
    if (p->bounds)
        ibp_flatten_rows(in->r, out->r, (size_t)p->batch, hw, (size_t)s.c, 0, p->threads);
}

void ibp_layer_flatten_backward(const struct pass_ctx *p, int k)
{
    int vin = p->net->layers[k].in[0];
    if (!p->ws->needs_grad[vin])
        return;
    const struct value_buf *in = in_value(p, k, 0), *out = out_value(p, k);
    struct ibp_shape s = p->net->shapes[vin];
    size_t hw = (size_t)s.h * s.w, n = out->size;
    ibp_flatten_rows(out->gx + (size_t)p->x0 * n, in->gx + (size_t)p->x0 * n, (size_t)p->nx, hw,
                 (size_t)s.c, 1, p->threads);
    if (p->bounds)
        ibp_flatten_rows(out->gr, in->gr, (size_t)p->batch, hw, (size_t)s.c, 1, p->threads);
}
