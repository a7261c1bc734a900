/* conv_winograd.c — Winograd F(4x4, 3x3) convolution (see conv_winograd.h): the tile
 * transforms, vectorised over the channels of NHWC values, and the 36 GEMMs per chunk of
 * samples. */
#include "nets/conv_winograd.h"

#include <string.h>

#include "nets/gemm.h"

/* Target floats of one chunk scratch buffer (4 MiB): the 36 slices of V and M stay
 * near the cache while the GEMMs stay long enough along the tiles. */
#define WINO_TARGET_FLOATS ((size_t)1 << 20)
/* Channels of a tile transformed together (a tile block lives on the stack). */
#define CB 16

struct wgeom {
    int H, W, C, Ho, Wo, Co, ph, pw;
    int th, tw;  /* tiles along h and w */
    int tiles;   /* per sample */
    int chunk;   /* samples per chunk */
};

static struct wgeom wgeom_of(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]], out = net->shapes[k + 1];
    struct wgeom g = {in.h, in.w, in.c, out.h, out.w, out.c, l->ph, l->pw, 0, 0, 0, 0};
    g.th = (g.Ho + 3) / 4;
    g.tw = (g.Wo + 3) / 4;
    g.tiles = g.th * g.tw;
    size_t wide = (size_t)(g.C > g.Co ? g.C : g.Co);
    size_t s = WINO_TARGET_FLOATS / (36 * (size_t)g.tiles * wide);
    g.chunk = s ? (int)s : 1;
    return g;
}

int conv_winograd_applies(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    return l->kind == IBP_LAYER_CONV2D && l->kh == 3 && l->kw == 3 && l->sh == 1 &&
           l->sw == 1 && l->dh == 1 && l->dw == 1 && l->groups == 1 && l->ph >= 0 &&
           l->ph <= 1 && l->pw >= 0 && l->pw <= 1 &&
           net->shapes[l->in[0]].c >= CONV_WINOGRAD_MIN_CHANNELS &&
           l->out >= CONV_WINOGRAD_MIN_CHANNELS;
}

size_t conv_winograd_weight_floats(const struct ibp_net *net, int k)
{
    struct wgeom g = wgeom_of(net, k);
    return 36 * (size_t)g.C * g.Co;
}

size_t conv_winograd_scratch_floats(const struct ibp_net *net, int k)
{
    struct wgeom g = wgeom_of(net, k);
    return 36 * (size_t)g.chunk * g.tiles * (size_t)(g.C > g.Co ? g.C : g.Co);
}

/* G, the weight transform (6 from 3); exact in double for the fractions. */
static const double wino_G[6][3] = {
    {1.0 / 4, 0.0, 0.0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0.0, 0.0, 1.0},
};

void conv_winograd_weights(const struct ibp_net *net, int k, const float *wp, float *u,
                           int threads)
{
    struct wgeom g = wgeom_of(net, k);
    size_t xs = (size_t)g.C * g.Co; /* u: [xi][c][o] */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int o = 0; o < g.Co; o++)
        for (int c = 0; c < g.C; c++) {
            double w[3][3], t[6][3];
            for (int q = 0; q < 9; q++)
                w[q / 3][q % 3] = wp[((size_t)o * 9 + q) * g.C + c];
            for (int a = 0; a < 6; a++)
                for (int j = 0; j < 3; j++)
                    t[a][j] = wino_G[a][0] * w[0][j] + wino_G[a][1] * w[1][j] +
                              wino_G[a][2] * w[2][j];
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++) {
                    double v = t[a][0] * wino_G[b][0] + t[a][1] * wino_G[b][1] +
                               t[a][2] * wino_G[b][2];
                    u[(size_t)(a * 6 + b) * xs + (size_t)c * g.Co + o] = (float)v;
                }
        }
}

/* dwp [o][i][j][c] += G^T dU G from du [xi][c][o] */
static void weight_grad_add(const struct wgeom *g, const float *du, float *dwp, int threads)
{
    size_t xs = (size_t)g->C * g->Co;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int o = 0; o < g->Co; o++)
        for (int c = 0; c < g->C; c++) {
            double d[6][6], t[3][6];
            for (int xi = 0; xi < 36; xi++)
                d[xi / 6][xi % 6] = du[(size_t)xi * xs + (size_t)c * g->Co + o];
            for (int i = 0; i < 3; i++)
                for (int b = 0; b < 6; b++) {
                    double s = 0.0;
                    for (int a = 0; a < 6; a++)
                        s += wino_G[a][i] * d[a][b];
                    t[i][b] = s;
                }
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    double s = 0.0;
                    for (int b = 0; b < 6; b++)
                        s += t[i][b] * wino_G[b][j];
                    dwp[((size_t)o * 9 + (size_t)(i * 3 + j)) * g->C + c] += (float)s;
                }
        }
}

/* The 1-D transforms along one axis of a tile, for n channels: element e of the input
 * at x + e xs, of the output at y + e ys, channels contiguous. */

/* y = B^T x (6 from 6): the input transform */
static inline void bt_6(const float *restrict x, size_t xs, float *restrict y, size_t ys, int n)
{
    for (int c = 0; c < n; c++) {
        float x0 = x[c], x1 = x[xs + c], x2 = x[2 * xs + c], x3 = x[3 * xs + c],
              x4 = x[4 * xs + c], x5 = x[5 * xs + c];
        float s = x4 - x2, d = x3 - x1;
        y[c] = 4.0f * x0 - 5.0f * x2 + x4;
        y[ys + c] = (x3 + x4) - 4.0f * (x1 + x2);
        y[2 * ys + c] = (x4 - x3) + 4.0f * (x1 - x2);
        y[3 * ys + c] = s + 2.0f * d;
        y[4 * ys + c] = s - 2.0f * d;
        y[5 * ys + c] = 4.0f * x1 - 5.0f * x3 + x5;
    }
}

/* y = B x (6 from 6): the transpose of the input transform */
static inline void b_6(const float *restrict x, size_t xs, float *restrict y, size_t ys, int n)
{
    for (int c = 0; c < n; c++) {
        float x0 = x[c], x1 = x[xs + c], x2 = x[2 * xs + c], x3 = x[3 * xs + c],
              x4 = x[4 * xs + c], x5 = x[5 * xs + c];
        float p = x1 + x2, q = x1 - x2, s = x3 + x4, t = x3 - x4;
        y[c] = 4.0f * x0;
        y[ys + c] = 4.0f * (x5 - q) - 2.0f * t;
        y[2 * ys + c] = -5.0f * x0 - 4.0f * p - s;
        y[3 * ys + c] = q + 2.0f * t - 5.0f * x5;
        y[4 * ys + c] = x0 + p + s;
        y[5 * ys + c] = x5;
    }
}

/* y = A^T x (4 from 6): the output transform */
static inline void at_6(const float *restrict x, size_t xs, float *restrict y, size_t ys, int n)
{
    for (int c = 0; c < n; c++) {
        float x0 = x[c], x1 = x[xs + c], x2 = x[2 * xs + c], x3 = x[3 * xs + c],
              x4 = x[4 * xs + c], x5 = x[5 * xs + c];
        float s12 = x1 + x2, d12 = x1 - x2, s34 = x3 + x4, d34 = x3 - x4;
        y[c] = x0 + s12 + s34;
        y[ys + c] = d12 + 2.0f * d34;
        y[2 * ys + c] = s12 + 4.0f * s34;
        y[3 * ys + c] = d12 + 8.0f * d34 + x5;
    }
}

/* y = A x (6 from 4): the transpose of the output transform */
static inline void a_4(const float *restrict x, size_t xs, float *restrict y, size_t ys, int n)
{
    for (int c = 0; c < n; c++) {
        float x0 = x[c], x1 = x[xs + c], x2 = x[2 * xs + c], x3 = x[3 * xs + c];
        float e = x0 + x2, f = x1 + x3, h = x0 + 4.0f * x2, q = 2.0f * x1 + 8.0f * x3;
        y[c] = x0;
        y[ys + c] = e + f;
        y[2 * ys + c] = e - f;
        y[3 * ys + c] = h + q;
        y[4 * ys + c] = h - q;
        y[5 * ys + c] = x3;
    }
}

/* v[xi * xs + (0..C)] = B^T d B for the 6x6 input tile at (h0, w0) of one NHWC sample */
static void input_tile(const struct wgeom *g, const float *sample, int h0, int w0, float *v,
                       size_t xs)
{
    float d[36][CB], t[36][CB];
    for (int c0 = 0; c0 < g->C; c0 += CB) {
        int n = g->C - c0 < CB ? g->C - c0 : CB;
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) {
                int ih = h0 + i, iw = w0 + j;
                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                    memset(d[i * 6 + j], 0, (size_t)n * sizeof(float));
                else
                    memcpy(d[i * 6 + j], sample + ((size_t)ih * g->W + iw) * g->C + c0,
                           (size_t)n * sizeof(float));
            }
        for (int j = 0; j < 6; j++) /* along h: t[a][j] */
            bt_6(d[j], 6 * CB, t[j], 6 * CB, n);
        for (int a = 0; a < 6; a++) /* along w: v[a][b] */
            bt_6(t[a * 6], CB, v + (size_t)(a * 6) * xs + c0, xs, n);
    }
}

/* The output tile (ti, tj) of one sample from m[xi * ms + (0..Co)]: A^T M A (+ bias),
 * the positions inside the output only */
static void output_tile(const struct wgeom *g, const float *m, size_t ms, const float *bias,
                        float *sample, int ti, int tj)
{
    float t[24][CB], y[16][CB];
    for (int o0 = 0; o0 < g->Co; o0 += CB) {
        int n = g->Co - o0 < CB ? g->Co - o0 : CB;
        for (int a = 0; a < 6; a++) /* along w: t[a][x] */
            at_6(m + (size_t)(a * 6) * ms + o0, ms, t[a * 4], CB, n);
        for (int x = 0; x < 4; x++) /* along h: y[r][x] */
            at_6(t[x], 4 * CB, y[x], 4 * CB, n);
        for (int r = 0; r < 4; r++) {
            int oh = 4 * ti + r;
            if (oh >= g->Ho)
                break;
            for (int x = 0; x < 4; x++) {
                int ow = 4 * tj + x;
                if (ow >= g->Wo)
                    break;
                float *dst = sample + ((size_t)oh * g->Wo + ow) * g->Co + o0;
                for (int c = 0; c < n; c++)
                    dst[c] = bias ? y[r * 4 + x][c] + bias[o0 + c] : y[r * 4 + x][c];
            }
        }
    }
}

/* m[xi * ms + (0..Co)] = A dY A^T for the output tile (ti, tj) of one sample's gradient
 * (positions past the edge are zeros) */
static void grad_out_tile(const struct wgeom *g, const float *sample, int ti, int tj, float *m,
                          size_t ms)
{
    float dy[16][CB], t[24][CB];
    for (int o0 = 0; o0 < g->Co; o0 += CB) {
        int n = g->Co - o0 < CB ? g->Co - o0 : CB;
        for (int r = 0; r < 4; r++)
            for (int x = 0; x < 4; x++) {
                int oh = 4 * ti + r, ow = 4 * tj + x;
                if (oh >= g->Ho || ow >= g->Wo)
                    memset(dy[r * 4 + x], 0, (size_t)n * sizeof(float));
                else
                    memcpy(dy[r * 4 + x], sample + ((size_t)oh * g->Wo + ow) * g->Co + o0,
                           (size_t)n * sizeof(float));
            }
        for (int r = 0; r < 4; r++) /* along w: t[r][b] */
            a_4(dy[r * 4], CB, t[r * 6], CB, n);
        for (int b = 0; b < 6; b++) /* along h: m[a][b] */
            a_4(t[b], 6 * CB, m + (size_t)b * ms + o0, 6 * ms, n);
    }
}

/* The input gradient of the tile at (h0, w0) of one sample: += B dV B^T from
 * v[xi * xs + (0..C)], the positions inside the input only */
static void input_grad_tile(const struct wgeom *g, const float *v, size_t xs, float *sample,
                            int h0, int w0)
{
    float t[36][CB], dd[36][CB];
    for (int c0 = 0; c0 < g->C; c0 += CB) {
        int n = g->C - c0 < CB ? g->C - c0 : CB;
        for (int a = 0; a < 6; a++) /* along w: t[a][j] */
            b_6(v + (size_t)(a * 6) * xs + c0, xs, t[a * 6], CB, n);
        for (int j = 0; j < 6; j++) /* along h: dd[i][j] */
            b_6(t[j], 6 * CB, dd[j], 6 * CB, n);
        for (int i = 0; i < 6; i++) {
            int ih = h0 + i;
            if (ih < 0 || ih >= g->H)
                continue;
            for (int j = 0; j < 6; j++) {
                int iw = w0 + j;
                if (iw < 0 || iw >= g->W)
                    continue;
                float *dst = sample + ((size_t)ih * g->W + iw) * g->C + c0;
                for (int c = 0; c < n; c++)
                    dst[c] += dd[i * 6 + j][c];
            }
        }
    }
}

/* v [36][T][C] = the input tiles of samples [0, ns) of in (T = ns tiles) */
static void input_transform(const struct wgeom *g, const float *in, int ns, float *v,
                            int threads)
{
    long T = (long)ns * g->tiles;
    size_t in_per = (size_t)g->H * g->W * g->C;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long t = 0; t < T; t++) {
        int n = (int)(t / g->tiles), q = (int)(t % g->tiles);
        int ti = q / g->tw, tj = q % g->tw;
        input_tile(g, in + (size_t)n * in_per, 4 * ti - g->ph, 4 * tj - g->pw,
                   v + (size_t)t * g->C, (size_t)T * g->C);
    }
}

void conv_winograd_forward(const struct ibp_net *net, int k, const float *in, float *out,
                           int ns, const float *u, const float *bias,
                           const struct conv_winograd_scratch *s, int threads)
{
    struct wgeom gg = wgeom_of(net, k), *g = &gg;
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    for (int s0 = 0; s0 < ns; s0 += g->chunk) {
        int nc = ns - s0 < g->chunk ? ns - s0 : g->chunk;
        long T = (long)nc * g->tiles;
        input_transform(g, in + (size_t)s0 * in_per, nc, s->v, threads);
        /* one GEMM per transform point, each on one thread */
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int xi = 0; xi < 36; xi++)
            ibp_sgemm(0, 0, T, g->Co, g->C, 1.0f, s->v + (size_t)xi * T * g->C, g->C,
                      u + (size_t)xi * g->C * g->Co, g->Co, 0.0f,
                      s->m + (size_t)xi * T * g->Co, g->Co, 1);
        float *dst = out + (size_t)s0 * out_per;
        size_t ms = (size_t)T * g->Co;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long t = 0; t < T; t++) {
            int n = (int)(t / g->tiles), q = (int)(t % g->tiles);
            output_tile(g, s->m + (size_t)t * g->Co, ms, bias, dst + (size_t)n * out_per,
                        q / g->tw, q % g->tw);
        }
    }
}

void conv_winograd_backward(const struct ibp_net *net, int k, const float *in,
                            const float *gout, float *gin, int ns, const float *u, float *dwp,
                            const struct conv_winograd_scratch *s, int threads)
{
    if (!dwp && !gin)
        return;
    struct wgeom gg = wgeom_of(net, k), *g = &gg;
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    size_t us = (size_t)g->C * g->Co;
    for (int s0 = 0; s0 < ns; s0 += g->chunk) {
        int nc = ns - s0 < g->chunk ? ns - s0 : g->chunk;
        long T = (long)nc * g->tiles;
        size_t ms = (size_t)T * g->Co, vs = (size_t)T * g->C;
        const float *go = gout + (size_t)s0 * out_per;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long t = 0; t < T; t++) {
            int n = (int)(t / g->tiles), q = (int)(t % g->tiles);
            grad_out_tile(g, go + (size_t)n * out_per, q / g->tw, q % g->tw,
                          s->m + (size_t)t * g->Co, ms);
        }
        if (dwp) {
            /* dU[xi] (+)= V[xi]^T dM[xi], chunk after chunk */
            input_transform(g, in + (size_t)s0 * in_per, nc, s->v, threads);
            float beta = s0 == 0 ? 0.0f : 1.0f;
#pragma omp parallel for num_threads(threads) schedule(static)
            for (int xi = 0; xi < 36; xi++)
                ibp_sgemm(1, 0, g->C, g->Co, T, 1.0f, s->v + (size_t)xi * vs, g->C,
                          s->m + (size_t)xi * ms, g->Co, beta, s->du + (size_t)xi * us, g->Co,
                          1);
        }
        if (!gin)
            continue;
        /* dV[xi] = dM[xi] U[xi]^T, into the V buffer */
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int xi = 0; xi < 36; xi++)
            ibp_sgemm(0, 1, T, g->C, g->Co, 1.0f, s->m + (size_t)xi * ms, g->Co,
                      u + (size_t)xi * us, g->Co, 0.0f, s->v + (size_t)xi * vs, g->C, 1);
        /* Tiles overlap by two rows and columns: one task per (sample, tile row), the
         * even tile rows first, then the odd ones, tiles of a row in order, so no two
         * tasks touch the same input and every sum has a fixed order. */
        float *gi = gin + (size_t)s0 * in_per;
        for (int parity = 0; parity < 2; parity++) {
            int rows = (g->th - parity + 1) / 2;
            long ntask = (long)nc * rows;
#pragma omp parallel for num_threads(threads) schedule(static)
            for (long task = 0; task < ntask; task++) {
                int n = (int)(task / rows), ti = 2 * (int)(task % rows) + parity;
                for (int tj = 0; tj < g->tw; tj++) {
                    long t = (long)n * g->tiles + (long)ti * g->tw + tj;
                    input_grad_tile(g, s->v + (size_t)t * g->C, vs, gi + (size_t)n * in_per,
                                    4 * ti - g->ph, 4 * tj - g->pw);
                }
            }
        }
    }
    if (dwp && ns > 0)
        weight_grad_add(g, s->du, dwp, threads);
}
