#include "nets/kernels/conv.h"

#include <math.h>
#include <string.h>

#include "nets/kernels/conv_taps.h"
#include "nets/kernels/conv_winograd.h"

struct ibp_conv_geom ibp_conv_geom_of(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]], out = net->shapes[k + 1];
    struct ibp_conv_geom g = {
        .H = in.h, .W = in.w, .C = in.c, .Ho = out.h, .Wo = out.w, .Co = out.c,
        .kh = l->kh, .kw = l->kw, .sh = l->sh, .sw = l->sw, .ph = l->ph, .pw = l->pw,
        .dh = l->dh, .dw = l->dw, .groups = l->groups, .cg = in.c / l->groups,
        .og = out.c / l->groups, .isa = IBP_ISA_BEST};
    g.K = (long)g.kh * g.kw * g.cg;
    return g;
}

int ibp_conv_plain_1x1(const struct ibp_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->groups == 1;
}

enum ibp_conv_lowering ibp_conv_lowering(const struct ibp_net *net, int k,
                                         enum ibp_conv_user user)
{
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    int plain = ibp_conv_plain_1x1(&g);
    if (ibp_conv_few_taps(net, k))
        return IBP_CONV_FEW_TAPS;
    if (ibp_conv_winograd_eligible(net, k))
        return user == IBP_CONV_FOR_PASSES ? IBP_CONV_WINOGRAD : IBP_CONV_IM2COL;
    if (g.groups == 1 && g.dh == 1 && g.dw == 1 && !plain)
        return IBP_CONV_IMPLICIT;
    if (plain)
        return user == IBP_CONV_FOR_PASSES ? IBP_CONV_DIRECT_GEMM : IBP_CONV_IM2COL;
    return IBP_CONV_IM2COL;
}

void ibp_conv_pack_weight(const struct ibp_net *net, int k, const float *w, float *packed,
                          float *wabs, int threads)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    int cin = net->shapes[l->in[0]].c / l->groups, kk = l->kh * l->kw;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int o = 0; o < l->out; o++)
        for (int i = 0; i < cin; i++)
            for (int q = 0; q < kk; q++) {
                float val = w[((size_t)o * cin + i) * kk + q];
                size_t dst = ((size_t)o * kk + q) * cin + i;
                packed[dst] = val;
                if (wabs)
                    wabs[dst] = fabsf(val);
            }
}

int ibp_conv_chunk_samples(const struct ibp_conv_geom *g, int max_batch)
{
    size_t per_sample = (size_t)g->K * g->Ho * g->Wo;
    size_t s = IBP_CONV_COL_TARGET_FLOATS / (per_sample ? per_sample : 1);
    if (s < 1)
        s = 1;
    return s > (size_t)max_batch ? max_batch : (int)s;
}

static void copy_floats(float *restrict dst, const float *restrict src, long n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static void zero_floats(float *dst, long n)
{
    memset(dst, 0, (size_t)n * sizeof(float));
}

/* One task per output row (n, oh), so the row checks are made once per kernel row. */
void ibp_conv_im2col(const struct ibp_conv_geom *g, const float *in, int ns, int grp,
                     float *col, int threads)
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

