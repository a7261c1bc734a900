#include "nets/kernels/conv_taps.h"

#include <string.h>

#include "nets/base/cpu.h"
#include "nets/kernels/conv.h"

int ibp_conv_few_taps(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if (l->kind != IBP_LAYER_CONV2D || l->groups != 1)
        return 0;
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    return !ibp_conv_plain_1x1(&g) && g.K <= CONV_FEW_TAPS;
}

void ibp_conv_taps_transpose(const struct ibp_net *net, int k, const float *wp, float *wt)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    size_t taps = (size_t)l->kh * l->kw * net->shapes[l->in[0]].c;
    for (size_t t = 0; t < taps; t++)
        for (int o = 0; o < l->out; o++)
            wt[t * l->out + o] = wp[(size_t)o * taps + t];
}

/* The input is first copied, a chunk of whole samples at a time, into a zero-padded
 * buffer [n][H + 2 ph][W + 2 pw][C], so that every tap of every output lies inside it:
 * tap t = (i, j, c) of the output (oh, ow) is at base(oh, ow) + off[t]. Output positions
 * are taken in tiles of TAPS_TILE along the flattened (n, oh, ow) order (the last tile
 * repeats its last position), and each block of 16 outputs of a tile stays in vector
 * registers while the taps stream through. Every output is its starting value plus the
 * products x * w of all taps in (i, j, c) order, one multiply and one add each (a
 * padding tap adds an exact zero), in all versions below. */
#define TAPS_TILE 6

typedef float v8f __attribute__((vector_size(32)));

size_t ibp_conv_taps_scratch_floats(const struct ibp_net *net, int k, int ns)
{
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    return (size_t)ns * (size_t)(g.H + 2 * g.ph) * (size_t)(g.W + 2 * g.pw) * (size_t)g.C;
}

/* pad[n][ih + ph][iw + pw][c] = in[n][ih][iw][c], zero elsewhere, samples [0, ns) */
static void pad_input(const struct ibp_conv_geom *g, const float *in, int ns, float *pad, int threads)
{
    int Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw;
    size_t row = (size_t)Wp * g->C, in_row = (size_t)g->W * g->C;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long task = 0; task < (long)ns * Hp; task++) {
        long n = task / Hp;
        int hp = (int)(task % Hp), ih = hp - g->ph;
        float *dst = pad + (size_t)task * row;
        if (ih < 0 || ih >= g->H) {
            memset(dst, 0, row * sizeof(float));
            continue;
        }
        size_t left = (size_t)g->pw * g->C;
        memset(dst, 0, left * sizeof(float));
        memcpy(dst + left, in + ((size_t)n * g->H + ih) * in_row, in_row * sizeof(float));
        memset(dst + left + in_row, 0, (row - left - in_row) * sizeof(float));
    }
}

/* outputs [o0, o0 + 16) of the tile's first np positions at dst (row stride Co, a
 * multiple of 16), starting from dst (accumulate), bias or zero; x[q] + off[t] is tap t
 * of position q */
#define TAPS_BLOCK(ATTR, NAME)                                                               \
    ATTR static void NAME(const float *const *x, const int *off, int T, const float *wt,      \
                          int Co, int o0, const float *bias, int accumulate, float *dst,      \
                          int np)                                                            \
    {                                                                                        \
        v8f a0[TAPS_TILE], a1[TAPS_TILE], b0 = {0}, b1 = {0};                                \
        if (bias) {                                                                          \
            memcpy(&b0, bias + o0, sizeof b0);                                               \
            memcpy(&b1, bias + o0 + 8, sizeof b1);                                           \
        }                                                                                    \
        for (int q = 0; q < TAPS_TILE; q++) {                                                \
            a0[q] = b0;                                                                      \
            a1[q] = b1;                                                                      \
            if (accumulate && q < np) {                                                      \
                memcpy(&a0[q], dst + (size_t)q * Co + o0, sizeof a0[q]);                     \
                memcpy(&a1[q], dst + (size_t)q * Co + o0 + 8, sizeof a1[q]);                 \
            }                                                                                \
        }                                                                                    \
        const float *w = wt + o0;                                                            \
        for (int t = 0; t < T; t++, w += Co) {                                               \
            v8f w0, w1;                                                                      \
            memcpy(&w0, w, sizeof w0);                                                       \
            memcpy(&w1, w + 8, sizeof w1);                                                   \
            int ot = off[t];                                                                 \
            for (int q = 0; q < TAPS_TILE; q++) {                                            \
                float xs = x[q][ot];                                                         \
                v8f v = {xs, xs, xs, xs, xs, xs, xs, xs};                                    \
                a0[q] += v * w0;                                                             \
                a1[q] += v * w1;                                                             \
            }                                                                                \
        }                                                                                    \
        for (int q = 0; q < TAPS_TILE; q++) {                                                \
            if (q >= np)                                                                     \
                break;                                                                       \
            memcpy(dst + (size_t)q * Co + o0, &a0[q], sizeof a0[q]);                         \
            memcpy(dst + (size_t)q * Co + o0 + 8, &a1[q], sizeof a1[q]);                     \
        }                                                                                    \
    }
TAPS_BLOCK(__attribute__((target("avx2"))), taps_block_avx2)
TAPS_BLOCK(, taps_block)

/* the same sums one output at a time, for Co not a multiple of 16 */
static void taps_scalar(const float *const *x, const int *off, int T, const float *wt, int Co,
                        int o, const float *bias, int accumulate, float *dst, int np)
{
    for (int q = 0; q < np; q++) {
        float *out = dst + (size_t)q * Co + o;
        float a = accumulate ? *out : (bias ? bias[o] : 0.0f);
        for (int t = 0; t < T; t++)
            a += x[q][off[t]] * wt[(size_t)t * Co + o];
        *out = a;
    }
}

/* outputs of samples [0, ns) from their padded input */
static void taps_chunk(const struct ibp_conv_geom *g, const float *pad, float *out, int ns, const int *off,
                       const float *wt, const float *bias, int accumulate, int threads)
{
    int T = g->kh * g->kw * g->C, Co = g->Co;
    int Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw;
    long per_sample = (long)g->Ho * g->Wo, positions = (long)ns * per_sample;
    long tiles = (positions + TAPS_TILE - 1) / TAPS_TILE;
    int blocks = Co % 16 == 0, avx2 = blocks && ibp_cpu_isa() <= IBP_ISA_AVX2;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long tile = 0; tile < tiles; tile++) {
        const float *x[TAPS_TILE];
        long p0 = tile * TAPS_TILE;
        int np = positions - p0 < TAPS_TILE ? (int)(positions - p0) : TAPS_TILE;
        for (int q = 0; q < TAPS_TILE; q++) {
            long pos = q < np ? p0 + q : p0 + np - 1;
            long n = pos / per_sample;
            int oh = (int)(pos % per_sample / g->Wo), ow = (int)(pos % g->Wo);
            x[q] = pad + (((size_t)n * Hp + (size_t)oh * g->sh) * Wp + (size_t)ow * g->sw) * g->C;
        }
        float *dst = out + (size_t)p0 * Co;
        for (int o0 = 0; o0 < Co; o0 += blocks ? 16 : 1) {
            if (!blocks)
                taps_scalar(x, off, T, wt, Co, o0, bias, accumulate, dst, np);
            else if (avx2)
                taps_block_avx2(x, off, T, wt, Co, o0, bias, accumulate, dst, np);
            else
                taps_block(x, off, T, wt, Co, o0, bias, accumulate, dst, np);
        }
    }
}

/* off[t] = the offset of tap t = (i, j, c) in the padded input from its output's base */
static void tap_offsets(const struct ibp_conv_geom *g, int off[CONV_FEW_TAPS])
{
    int t = 0, Wp = g->W + 2 * g->pw;
    for (int i = 0; i < g->kh; i++)
        for (int j = 0; j < g->kw; j++)
            for (int c = 0; c < g->C; c++)
                off[t++] = ((i * g->dh) * Wp + j * g->dw) * g->C + c;
}

void ibp_conv_taps_forward(const struct ibp_net *net, int k, const float *in, float *out, int ns,
                       const float *wt, const float *bias, int accumulate, float *scratch,
                       size_t scratch_floats, int threads)
{
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    int off[CONV_FEW_TAPS];
    tap_offsets(&g, off);
    size_t per = ibp_conv_taps_scratch_floats(net, k, 1);
    int chunk = (int)(scratch_floats / per);
    size_t in_per = (size_t)g.H * g.W * g.C, out_per = (size_t)g.Ho * g.Wo * g.Co;
    for (int s0 = 0; s0 < ns; s0 += chunk) {
        int nc = ns - s0 < chunk ? ns - s0 : chunk;
        pad_input(&g, in + (size_t)s0 * in_per, nc, scratch, threads);
        taps_chunk(&g, scratch, out + (size_t)s0 * out_per, nc, off, wt, bias, accumulate,
                   threads);
    }
}

/* The weight gradient: tasks of (block of 16 output channels, block of taps), each
 * summing its dwt [tap][o] entries over every position of the chunk in order, in vector
 * registers (WG_TAPS taps x 16 channels). dwt [T][Co] holds dwp transposed meanwhile;
 * Co not a multiple of 16 takes the scalar loop. */
#define WG_TAPS_WIDE 16 /* AVX-512: one 16-float vector per tap */
#define WG_TAPS 6       /* otherwise: two 8-float vectors per tap */

typedef float v16f __attribute__((vector_size(64)));

/* dwt [t0 + u][o0 .. o0 + 16) += the sum over the output positions of the chunk's nc
 * samples, in order, of the gradient of output o times tap t0 + u of the position's
 * padded input, for u < nt */
#define TAPS_WGRAD(ATTR, NAME, VT, VW, NV, TB)                                               \
    ATTR static void NAME(const struct ibp_conv_geom *g, const float *pad, const float *gout,          \
                          int nc, const int *off, int t0, int nt, int o0, float *dwt)         \
    {                                                                                        \
        VT a[TB][NV];                                                                        \
        for (int u = 0; u < TB; u++)                                                         \
            for (int v = 0; v < NV; v++) {                                                   \
                a[u][v] = (VT){0};                                                           \
                if (u < nt)                                                                  \
                    memcpy(&a[u][v], dwt + (size_t)(t0 + u) * g->Co + o0 + v * VW,           \
                           sizeof a[u][v]);                                                  \
            }                                                                                \
        int ou[TB];                                                                          \
        for (int u = 0; u < TB; u++)                                                         \
            ou[u] = off[t0 + (u < nt ? u : nt - 1)];                                         \
        int Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw;                                    \
        const float *gq = gout + o0;                                                         \
        for (int n = 0; n < nc; n++)                                                         \
            for (int oh = 0; oh < g->Ho; oh++) {                                             \
                const float *x = pad + ((size_t)n * Hp + (size_t)oh * g->sh) * Wp * g->C;    \
                for (int ow = 0; ow < g->Wo; ow++, x += g->sw * g->C, gq += g->Co) {         \
                    VT gv[NV];                                                               \
                    for (int v = 0; v < NV; v++)                                             \
                        memcpy(&gv[v], gq + v * VW, sizeof gv[v]);                           \
                    _Pragma("GCC unroll 16") for (int u = 0; u < TB; u++)                    \
                    {                                                                        \
                        if (u >= nt)                                                         \
                            break;                                                           \
                        float xs = x[ou[u]];                                                 \
                        for (int v = 0; v < NV; v++)                                         \
                            a[u][v] += xs * gv[v];                                           \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
        for (int u = 0; u < nt; u++)                                                         \
            for (int v = 0; v < NV; v++)                                                     \
                memcpy(dwt + (size_t)(t0 + u) * g->Co + o0 + v * VW, &a[u][v],               \
                       sizeof a[u][v]);                                                      \
    }
TAPS_WGRAD(__attribute__((target("avx512f"))), taps_wgrad_avx512, v16f, 16, 1, WG_TAPS_WIDE)
TAPS_WGRAD(__attribute__((target("avx2"))), taps_wgrad_avx2, v8f, 8, 2, WG_TAPS)
TAPS_WGRAD(, taps_wgrad, v8f, 8, 2, WG_TAPS)

/* the same sums one element at a time, for Co not a multiple of 16 */
static void taps_wgrad_scalar(const struct ibp_conv_geom *g, const float *pad, const float *gout,
                              int nc, const int *off, int t, int o, float *dwt)
{
    int Hp = g->H + 2 * g->ph, Wp = g->W + 2 * g->pw;
    float a = dwt[(size_t)t * g->Co + o];
    const float *gq = gout + o;
    for (int n = 0; n < nc; n++)
        for (int oh = 0; oh < g->Ho; oh++) {
            const float *x = pad + ((size_t)n * Hp + (size_t)oh * g->sh) * Wp * g->C + off[t];
            for (int ow = 0; ow < g->Wo; ow++, x += g->sw * g->C, gq += g->Co)
                a += *x * *gq;
        }
    dwt[(size_t)t * g->Co + o] = a;
}

size_t ibp_conv_taps_weight_grad_floats(const struct ibp_net *net, int k)
{
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    return (size_t)g.kh * g.kw * g.C * g.Co;
}

void ibp_conv_taps_weight_grad(const struct ibp_net *net, int k, const float *in, const float *gout,
                           int ns, float *dwp, float *scratch, size_t scratch_floats,
                           int threads)
{
    struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
    int off[CONV_FEW_TAPS], T = g.kh * g.kw * g.C, Co = g.Co;
    tap_offsets(&g, off);
    size_t nwt = ibp_conv_taps_weight_grad_floats(net, k);
    float *dwt = scratch, *pad = scratch + nwt;
    for (int t = 0; t < T; t++)
        for (int o = 0; o < Co; o++)
            dwt[(size_t)t * Co + o] = dwp[(size_t)o * T + t];
    enum ibp_isa isa = ibp_cpu_isa();
    int blocks = Co % 16 == 0, wide = blocks && isa == IBP_ISA_AVX512;
    int avx2 = blocks && isa <= IBP_ISA_AVX2;
    int tb = wide ? WG_TAPS_WIDE : WG_TAPS;
    int ntb = (T + tb - 1) / tb;
    /* tasks: (output block, tap block), or (output, tap) for the scalar loop */
    long ntask = blocks ? (long)(Co / 16) * ntb : (long)Co * T;
    size_t per = ibp_conv_taps_scratch_floats(net, k, 1);
    int chunk = (int)((scratch_floats - nwt) / per);
    size_t in_per = (size_t)g.H * g.W * g.C, out_per = (size_t)g.Ho * g.Wo * g.Co;
    for (int s0 = 0; s0 < ns; s0 += chunk) {
        int nc = ns - s0 < chunk ? ns - s0 : chunk;
        pad_input(&g, in + (size_t)s0 * in_per, nc, pad, threads);
        const float *go = gout + (size_t)s0 * out_per;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long task = 0; task < ntask; task++) {
            if (!blocks) {
                taps_wgrad_scalar(&g, pad, go, nc, off, (int)(task % T), (int)(task / T),
                                  dwt);
                continue;
            }
            int o0 = (int)(task / ntb) * 16, t0 = (int)(task % ntb) * tb;
            int nt = T - t0 < tb ? T - t0 : tb;
            if (wide)
                taps_wgrad_avx512(&g, pad, go, nc, off, t0, nt, o0, dwt);
            else if (avx2)
                taps_wgrad_avx2(&g, pad, go, nc, off, t0, nt, o0, dwt);
            else
                taps_wgrad(&g, pad, go, nc, off, t0, nt, o0, dwt);
        }
    }
    for (int o = 0; o < Co; o++)
        for (int t = 0; t < T; t++)
            dwp[(size_t)o * T + t] = dwt[(size_t)t * Co + o];
}
