/* conv_winograd.c — Winograd F(4x4, 3x3) convolution (see conv_winograd.h): the tile
 * transforms, vectorised over the channels of NHWC values, and the 36 GEMMs per chunk of
 * samples. */
#include "nets/kernels/conv_winograd.h"

#include <omp.h>
#include <string.h>

#include "nets/base/cpu.h"
#include "nets/kernels/conv.h"

#include "nets/kernels/gemm.h"

/* Target floats of one chunk scratch buffer (4 MiB): the 36 slices of V and M stay
 * near the cache while the GEMMs stay long enough along the tiles. */
#define WINO_TARGET_FLOATS ((size_t)1 << 20)

/* The tiling of one layer, from its geometry (conv.h). */
struct wino_tiling {
    int H, W, C, Ho, Wo, Co, ph, pw;
    int th, tw;  /* tiles along h and w */
    int tiles;   /* per sample */
    int chunk;   /* samples per chunk */
};

static struct wino_tiling wino_tiling_of(const struct ibp_net *net, int k)
{
    struct ibp_conv_geom c = ibp_conv_geom_of(net, k);
    struct wino_tiling g = {c.H, c.W, c.C, c.Ho, c.Wo, c.Co, c.ph, c.pw, 0, 0, 0, 0};
    g.th = (g.Ho + 3) / 4;
    g.tw = (g.Wo + 3) / 4;
    g.tiles = g.th * g.tw;
    size_t wide = (size_t)(g.C > g.Co ? g.C : g.Co);
    size_t s = WINO_TARGET_FLOATS / (36 * (size_t)g.tiles * wide);
    g.chunk = s ? (int)s : 1;
    return g;
}

int ibp_conv_winograd_eligible(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if (l->kind != IBP_LAYER_CONV2D || l->kh != 3 || l->kw != 3 || l->sh != 1 || l->sw != 1 ||
        l->dh != 1 || l->dw != 1 || l->groups != 1 || l->ph < 0 || l->ph > 1 || l->pw < 0 ||
        l->pw > 1 || net->shapes[l->in[0]].c < CONV_WINOGRAD_MIN_CHANNELS ||
        l->out < CONV_WINOGRAD_MIN_CHANNELS)
        return 0;
    /* at least half of the tiles' outputs fall inside the output */
    struct ibp_shape out = net->shapes[k + 1];
    long tiles = (long)((out.h + 3) / 4) * ((out.w + 3) / 4);
    return 2L * out.h * out.w >= 16 * tiles;
}

size_t ibp_conv_winograd_weight_floats(const struct ibp_net *net, int k)
{
    struct wino_tiling g = wino_tiling_of(net, k);
    return 36 * (size_t)g.C * g.Co;
}

size_t ibp_conv_winograd_u_floats(const struct ibp_net *net, int k)
{
    return 2 * ibp_conv_winograd_weight_floats(net, k);
}

size_t ibp_conv_winograd_scratch_floats(const struct ibp_net *net, int k)
{
    struct wino_tiling g = wino_tiling_of(net, k);
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

void ibp_conv_winograd_weights(const struct ibp_net *net, int k, const float *wp, float *u,
                           int threads)
{
    struct wino_tiling g = wino_tiling_of(net, k);
    size_t xs = (size_t)g.C * g.Co; /* u: [xi][c][o], then [36 + xi][o][c] */
    /* o innermost: each of the 36 slices gets whole runs of o (the reads of wp come back
     * to the same cache lines for the next few c) */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int c = 0; c < g.C; c++)
        for (int o = 0; o < g.Co; o++) {
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
    /* the transpose, in 16 x 16 blocks */
    float *ut = u + 36 * xs;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int xi = 0; xi < 36; xi++)
        for (int c0 = 0; c0 < g.C; c0 += 16)
            for (int o0 = 0; o0 < g.Co; o0 += 16)
                for (int c = c0; c < c0 + 16 && c < g.C; c++)
                    for (int o = o0; o < o0 + 16 && o < g.Co; o++)
                        ut[(size_t)xi * xs + (size_t)o * g.C + c] =
                            u[(size_t)xi * xs + (size_t)c * g.Co + o];
}

/* dwp [o][i][j][c] += G^T dU G from du [xi][c][o] */
static void weight_grad_add(const struct wino_tiling *g, const float *du, float *dwp, int threads)
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

/* The tile transforms work on the channels of NHWC values, WT_VL at a time in a GCC
 * vector: 16 (one AVX-512 register), or 8 (one AVX register, two SSE2 ones). Every
 * output is the same sum in the same order whichever is used (no FMA contraction), so
 * results do not depend on the CPU. */
#define INLINE static inline __attribute__((always_inline))

typedef float vf8 __attribute__((vector_size(32)));
#define WT_VEC vf8
#define WT_VL 8
#define WT(f) f##_8
#include "nets/kernels/conv_winograd_tiles.inc"
#undef WT_VEC
#undef WT_VL
#undef WT

typedef float vf16 __attribute__((vector_size(64)));
#define WT_VEC vf16
#define WT_VL 16
#define WT(f) f##_16
#include "nets/kernels/conv_winograd_tiles.inc"
#undef WT_VEC
#undef WT_VL
#undef WT

/* The tile transforms compiled for AVX-512 (16 lanes) or AVX2 (8 lanes), chosen at run
 * time, and for the baseline (8 lanes). */
struct tile_ops {
    void (*input)(const struct wino_tiling *g, const float *sample, int h0, int w0, float *v,
                  size_t xs);
    void (*output)(const struct wino_tiling *g, const float *m, size_t ms, const float *bias,
                   float *sample, int ti, int tj);
    void (*grad_out)(const struct wino_tiling *g, const float *sample, int ti, int tj, float *m,
                     size_t ms);
    void (*input_grad)(const struct wino_tiling *g, const float *v, size_t xs, float *sample, int h0,
                       int w0);
};

#define TILE_OPS(ATTR, SFX, W)                                                               \
    ATTR static void input_tile##SFX(const struct wino_tiling *g, const float *sample, int h0,     \
                                     int w0, float *v, size_t xs)                            \
    {                                                                                        \
        input_tile_body##W(g, sample, h0, w0, v, xs);                                        \
    }                                                                                        \
    ATTR static void output_tile##SFX(const struct wino_tiling *g, const float *m, size_t ms,      \
                                      const float *bias, float *sample, int ti, int tj)      \
    {                                                                                        \
        output_tile_body##W(g, m, ms, bias, sample, ti, tj);                                 \
    }                                                                                        \
    ATTR static void grad_out_tile##SFX(const struct wino_tiling *g, const float *sample, int ti,  \
                                        int tj, float *m, size_t ms)                         \
    {                                                                                        \
        grad_out_tile_body##W(g, sample, ti, tj, m, ms);                                     \
    }                                                                                        \
    ATTR static void input_grad_tile##SFX(const struct wino_tiling *g, const float *v, size_t xs,  \
                                          float *sample, int h0, int w0)                     \
    {                                                                                        \
        input_grad_tile_body##W(g, v, xs, sample, h0, w0);                                   \
    }                                                                                        \
    static const struct tile_ops tile_ops##SFX = {input_tile##SFX, output_tile##SFX,         \
                                                  grad_out_tile##SFX, input_grad_tile##SFX};
TILE_OPS(__attribute__((target("avx512f"))), _avx512, _16)
TILE_OPS(__attribute__((target("avx2"))), _avx2, _8)
TILE_OPS(, _base, _8)

static const struct tile_ops *tile_ops(void)
{
    enum ibp_isa isa = ibp_cpu_isa();
    if (isa == IBP_ISA_AVX512)
        return &tile_ops_avx512;
    return isa == IBP_ISA_AVX2 ? &tile_ops_avx2 : &tile_ops_base;
}

/* v [36][T][C] = the input tiles of samples [0, ns) of in (T = ns tiles) */
static void input_transform(const struct wino_tiling *g, const struct tile_ops *ops, const float *in,
                            int ns, float *v, int threads)
{
    long T = (long)ns * g->tiles;
    size_t in_per = (size_t)g->H * g->W * g->C;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long t = 0; t < T; t++) {
        int n = (int)(t / g->tiles), q = (int)(t % g->tiles);
        int ti = q / g->tw, tj = q % g->tw;
        ops->input(g, in + (size_t)n * in_per, 4 * ti - g->ph, 4 * tj - g->pw,
                   v + (size_t)t * g->C, (size_t)T * g->C);
    }
}

/* What one call works on: the layer, its tile transforms, and the arrays. */
struct wcall {
    struct wino_tiling g;
    const struct tile_ops *ops;
    int ns, chunks;
    const float *in, *gout, *u, *bias;
    float *out, *gin, *dwp;
    const struct conv_winograd_scratch *s;
    size_t vfloats, ufloats; /* one slot of v and m, one of du */
};

static struct wcall wcall_of(const struct ibp_net *net, int k, int ns,
                             const struct conv_winograd_scratch *s)
{
    struct wcall w = {.g = wino_tiling_of(net, k), .ops = tile_ops(), .ns = ns, .s = s};
    w.chunks = (ns + w.g.chunk - 1) / w.g.chunk;
    w.vfloats = ibp_conv_winograd_scratch_floats(net, k);
    w.ufloats = ibp_conv_winograd_weight_floats(net, k);
    return w;
}

/* The samples of chunk c: the first, and how many. */
static int chunk_samples(const struct wcall *w, int c, int *s0)
{
    *s0 = c * w->g.chunk;
    return w->ns - *s0 < w->g.chunk ? w->ns - *s0 : w->g.chunk;
}

/* The forward of chunk c with scratch slot `slot`, on `threads` threads. */
static void forward_chunk(const struct wcall *w, int c, int slot, int threads)
{
    const struct wino_tiling *g = &w->g;
    int s0, nc = chunk_samples(w, c, &s0);
    long T = (long)nc * g->tiles;
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    float *v = w->s->v + (size_t)slot * w->vfloats, *m = w->s->m + (size_t)slot * w->vfloats;
    input_transform(g, w->ops, w->in + (size_t)s0 * in_per, nc, v, threads);
    /* one GEMM per transform point, each on one thread */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int xi = 0; xi < 36; xi++)
        ibp_sgemm(0, 0, T, g->Co, g->C, 1.0f, v + (size_t)xi * T * g->C, g->C,
                  w->u + (size_t)xi * g->C * g->Co, g->Co, 0.0f, m + (size_t)xi * T * g->Co,
                  g->Co, 1);
    float *dst = w->out + (size_t)s0 * out_per;
    size_t ms = (size_t)T * g->Co;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long t = 0; t < T; t++) {
        int n = (int)(t / g->tiles), q = (int)(t % g->tiles);
        w->ops->output(g, m + (size_t)t * g->Co, ms, w->bias, dst + (size_t)n * out_per,
                       q / g->tw, q % g->tw);
    }
}

/* Chunks run whole on one thread each when there are several (fewer barriers, V and M
 * stay with one core); a single chunk splits its tiles and GEMMs over the threads.
 * Either way every chunk is the same computation. */
static int chunks_in_parallel(const struct wcall *w, int threads)
{
    return threads > 1 && w->chunks > 1;
}

static int min_int(int a, int b)
{
    return a < b ? a : b;
}

void ibp_conv_winograd_forward(const struct ibp_net *net, int k, const float *in, float *out,
                           int ns, const float *u, const float *bias,
                           const struct conv_winograd_scratch *s, int threads)
{
    struct wcall w = wcall_of(net, k, ns, s);
    w.in = in;
    w.out = out;
    w.u = u;
    w.bias = bias;
    if (!chunks_in_parallel(&w, threads)) {
        for (int c = 0; c < w.chunks; c++)
            forward_chunk(&w, c, 0, threads);
        return;
    }
#pragma omp parallel num_threads(min_int(threads, CONV_WINOGRAD_SLOTS))
    {
        int slot = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int c = 0; c < w.chunks; c++)
            forward_chunk(&w, c, slot, 1);
    }
}

/* The backward of chunk c with scratch slot `slot`, on `threads` threads: the input
 * gradient of its samples, and its weight gradient added into dU slot `slot` (set
 * when `first`). */
static void backward_chunk(const struct wcall *w, int c, int slot, int first, int threads)
{
    const struct wino_tiling *g = &w->g;
    int s0, nc = chunk_samples(w, c, &s0);
    long T = (long)nc * g->tiles;
    size_t in_per = (size_t)g->H * g->W * g->C, out_per = (size_t)g->Ho * g->Wo * g->Co;
    size_t us = (size_t)g->C * g->Co, ms = (size_t)T * g->Co, vs = (size_t)T * g->C;
    float *v = w->s->v + (size_t)slot * w->vfloats, *m = w->s->m + (size_t)slot * w->vfloats;
    const float *go = w->gout + (size_t)s0 * out_per;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long t = 0; t < T; t++) {
        int n = (int)(t / g->tiles), q = (int)(t % g->tiles);
        w->ops->grad_out(g, go + (size_t)n * out_per, q / g->tw, q % g->tw, m + (size_t)t * g->Co,
                         ms);
    }
    if (w->dwp) {
        /* dU[xi] (+)= V[xi]^T dM[xi] */
        float *du = w->s->du + (size_t)slot * w->ufloats;
        input_transform(g, w->ops, w->in + (size_t)s0 * in_per, nc, v, threads);
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int xi = 0; xi < 36; xi++)
            ibp_sgemm(1, 0, g->C, g->Co, T, 1.0f, v + (size_t)xi * vs, g->C, m + (size_t)xi * ms,
                      g->Co, first ? 0.0f : 1.0f, du + (size_t)xi * us, g->Co, 1);
    }
    if (!w->gin)
        return;
    /* dV[xi] = dM[xi] U[xi]^T (the stored transpose), into the V buffer */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int xi = 0; xi < 36; xi++)
        ibp_sgemm(0, 0, T, g->C, g->Co, 1.0f, m + (size_t)xi * ms, g->Co,
                  w->u + (size_t)(36 + xi) * us, g->C, 0.0f, v + (size_t)xi * vs, g->C, 1);
    /* Tiles overlap by two rows and columns (chunks hold whole samples, so only within
     * a chunk): one task per (sample, tile row), the even tile rows first, then the odd
     * ones, tiles of a row in order, so no two tasks touch the same input and every sum
     * has a fixed order. */
    float *gi = w->gin + (size_t)s0 * in_per;
    for (int parity = 0; parity < 2; parity++) {
        int rows = (g->th - parity + 1) / 2;
        long ntask = (long)nc * rows;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (long task = 0; task < ntask; task++) {
            int n = (int)(task / rows), ti = 2 * (int)(task % rows) + parity;
            for (int tj = 0; tj < g->tw; tj++) {
                long t = (long)n * g->tiles + (long)ti * g->tw + tj;
                w->ops->input_grad(g, v + (size_t)t * g->C, vs, gi + (size_t)n * in_per,
                                   4 * ti - g->ph, 4 * tj - g->pw);
            }
        }
    }
}

void ibp_conv_winograd_backward(const struct ibp_net *net, int k, const float *in,
                            const float *gout, float *gin, int ns, const float *u, float *dwp,
                            const struct conv_winograd_scratch *s, int threads)
{
    if ((!dwp && !gin) || ns <= 0)
        return;
    struct wcall w = wcall_of(net, k, ns, s);
    w.in = in;
    w.gout = gout;
    w.gin = gin;
    w.u = u;
    w.dwp = dwp;
    /* Chunk c adds its weight gradient into dU slot c % SLOTS, the chunks of a slot in
     * order; the slots are then summed in order: the same sums whether the chunks run
     * one after the other or the slots in parallel. */
    int slots = min_int(w.chunks, CONV_WINOGRAD_SLOTS);
    if (!chunks_in_parallel(&w, threads)) {
        for (int c = 0; c < w.chunks; c++)
            backward_chunk(&w, c, c % CONV_WINOGRAD_SLOTS, c < CONV_WINOGRAD_SLOTS, threads);
    } else {
#pragma omp parallel for num_threads(min_int(threads, slots)) schedule(dynamic, 1)
        for (int slot = 0; slot < slots; slot++)
            for (int c = slot; c < w.chunks; c += CONV_WINOGRAD_SLOTS)
                backward_chunk(&w, c, slot, c == slot, 1);
    }
    if (!dwp)
        return;
    float *du = s->du;
    long nu = (long)w.ufloats;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < nu; i++)
        for (int slot = 1; slot < slots; slot++)
            du[i] += du[(size_t)slot * w.ufloats + (size_t)i];
    weight_grad_add(&w.g, du, dwp, threads);
}
