#include "nets/conv_taps.h"

#include <string.h>

struct geom {
    int H, W, C, Ho, Wo, Co, kh, kw, sh, sw, ph, pw, dh, dw;
};

static struct geom geom_of(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]], out = net->shapes[k + 1];
    struct geom g = {in.h, in.w, in.c, out.h, out.w, out.c, l->kh, l->kw,
                     l->sh, l->sw, l->ph, l->pw, l->dh, l->dw};
    return g;
}

int conv_few_taps(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if (l->kind != IBP_LAYER_CONV2D || l->groups != 1)
        return 0;
    int one_by_one = l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1 && l->ph == 0 &&
                     l->pw == 0;
    long taps = (long)l->kh * l->kw * net->shapes[l->in[0]].c;
    return !one_by_one && taps <= CONV_FEW_TAPS;
}

void conv_taps_transpose(const struct ibp_net *net, int k, const float *wp, float *wt)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    size_t taps = (size_t)l->kh * l->kw * net->shapes[l->in[0]].c;
    for (size_t t = 0; t < taps; t++)
        for (int o = 0; o < l->out; o++)
            wt[t * l->out + o] = wp[(size_t)o * taps + t];
}

/* Per output position, the taps (i, j, c) in order, each adding in * wt[tap][0..Co) to
 * the Co outputs, which stay in registers in blocks of 16. Every output is the same sum
 * in the same order in all versions below. */
typedef float v8f __attribute__((vector_size(32)));

/* outputs [o0, o0 + 16) of NP positions ow .. ow + NP - 1 of output row oh (Co a
 * multiple of 16); with NP > 1 every tap of every position must lie inside the input
 * (no padding), so the positions share the loop and each weight load */
#define FEW_TAPS_BLOCK(ATTR, NAME, NP)                                                       \
    ATTR static void NAME(const struct geom *g, const float *in, long n, int oh, int ow,      \
                          int o0, const float *wt, float *acc)                              \
    {                                                                                        \
        int Co = g->Co, C = g->C;                                                            \
        v8f a0[NP], a1[NP], w0, w1;                                                          \
        for (int q = 0; q < NP; q++) {                                                       \
            memcpy(&a0[q], acc + (size_t)q * Co + o0, sizeof a0[q]);                         \
            memcpy(&a1[q], acc + (size_t)q * Co + o0 + 8, sizeof a1[q]);                     \
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
static void few_taps_position(const struct geom *g, const float *in, long n, int oh, int ow,
                              const float *wt, float *acc)
{
    int Co = g->Co, C = g->C;
    for (int o = 0; o < Co; o++) {
        float a = acc[o];
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

void conv_taps_forward(const struct ibp_net *net, int k, const float *in, float *out, int ns,
                       const float *wt, int threads)
{
    struct geom gg = geom_of(net, k), *g = &gg;
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
                    few_taps_block4_avx2(g, in, n, oh, ow, o0, wt, acc);
                else
                    few_taps_block4(g, in, n, oh, ow, o0, wt, acc);
            }
            if (four) {
                ow += 4;
                continue;
            }
            if (!blocks)
                few_taps_position(g, in, n, oh, ow, wt, acc);
            for (int o0 = 0; blocks && o0 < g->Co; o0 += 16) {
                if (avx2)
                    few_taps_block_avx2(g, in, n, oh, ow, o0, wt, acc);
                else
                    few_taps_block(g, in, n, oh, ow, o0, wt, acc);
            }
            ow++;
        }
    }
}

