/* conv_implicit.c — implicit-GEMM convolution on NHWC values (see conv_implicit.h): a
 * zero-padded copy of a chunk of samples and three register-blocked micro-kernels, each
 * in an AVX2+FMA and a portable version. */
#include "nets/conv_implicit.h"

#include "nets/conv_taps.h"
#include "nets/conv_winograd.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

/* Output positions per forward and input-gradient tile, output channels per
 * weight-gradient tile: with two vectors of 8 per row, 12 accumulators. */
#define TILE 6
/* Output channels per forward panel, taps per block (two vectors). */
#define LANES 16
/* Target floats of one chunk of the padded input (256 KiB): it stays in L2 while every
 * tile of the chunk reads it. */
#define CHUNK_FLOATS 65536
/* Fewest samples per chunk when ns allows: the input gradient spreads a chunk's samples
 * over the threads. */
#define CHUNK_MIN 4
/* Output positions per partial sum of the weight gradient (whole samples, at least one). */
#define WG_POSITIONS 64
/* Floats after a chunk that the weight gradient may read past the end of the last run. */
#define SLACK LANES

struct dims {
    long Hp, Wp;  /* padded input */
    long row;     /* floats per padded row, Wp C */
    long L;       /* taps per kernel row, kw C */
    long K;       /* taps per output, kh L */
    long nb;      /* blocks of LANES taps per kernel row */
    long P;       /* panels of LANES output channels */
    long per;     /* floats per padded sample, Hp Wp C */
    long HoWo;    /* output positions per sample */
};

static struct dims dims_of(const struct conv_implicit_geom *g)
{
    struct dims d;
    d.Hp = (long)(g->Ho - 1) * g->sh + g->kh;
    d.Wp = (long)(g->Wo - 1) * g->sw + g->kw;
    d.row = d.Wp * g->C;
    d.L = (long)g->kw * g->C;
    d.K = g->kh * d.L;
    d.nb = (d.L + LANES - 1) / LANES;
    d.P = (g->Co + LANES - 1) / LANES;
    d.per = d.Hp * d.row;
    d.HoWo = (long)g->Ho * g->Wo;
    return d;
}

static long min_long(long a, long b)
{
    return a < b ? a : b;
}

/* off [q] = the offset in the padded buffer of the first tap of output position
 * (n, oh, ow) advanced q times, for q < nv (counted from the first position of the
 * buffer's first sample); the rest repeat the last; (n, oh, ow) advanced nv times */
static inline void walk(const struct conv_implicit_geom *g, const struct dims *d, long *n,
                        long *oh, long *ow, long nv, long off[TILE])
{
    for (long q = 0; q < TILE; q++) {
        if (q >= nv) {
            off[q] = off[nv - 1];
            continue;
        }
        off[q] = (*n * d->Hp + *oh * g->sh) * d->row + *ow * g->sw * (long)g->C;
        if (++*ow == g->Wo) {
            *ow = 0;
            if (++*oh == g->Ho) {
                *oh = 0;
                ++*n;
            }
        }
    }
}

/* dst [0, valid) = the 16 floats a0 a1 */
static inline void store16(float *dst, const v8f *a0, const v8f *a1, long valid)
{
    float t[LANES];
    memcpy(t, a0, sizeof *a0);
    memcpy(t + 8, a1, sizeof *a1);
    memcpy(dst, t, (size_t)valid * sizeof(float));
}

/* dst [0, valid) += the 16 floats a0 a1 */
static inline void add16(float *dst, const v8f *a0, const v8f *a1, long valid)
{
    if (valid == LANES) {
        v8f d0, d1;
        memcpy(&d0, dst, sizeof d0);
        memcpy(&d1, dst + 8, sizeof d1);
        d0 += *a0;
        d1 += *a1;
        memcpy(dst, &d0, sizeof d0);
        memcpy(dst + 8, &d1, sizeof d1);
        return;
    }
    float t[LANES];
    memcpy(t, a0, sizeof *a0);
    memcpy(t + 8, a1, sizeof *a1);
    for (long l = 0; l < valid; l++)
        dst[l] += t[l];
}

/* a + x w, rounded once (AVX2 kernels only) or twice (macros: a vector argument or
 * result in a function without AVX would change the ABI) */
#define MADD_FUSED(a, x, w) ((v8f)_mm256_fmadd_ps((__m256)(x), (__m256)(w), (__m256)(a)))
#define MADD_PLAIN(a, x, w) ((a) + (x) * (w))

/* The three micro-kernels; MADD(a, x, w) = a + x w (fused or not).
 *
 * forward_tile: out [m][o0, o0 + 16) = bias + sum over the K taps of pad(m) x panel, for
 *   the positions m of [m0, m0 + TILE) below npos (out and pad for the same chunk).
 * input_grad_sample: for the tiles of TILE positions m of one sample in order, dcol [m]
 *   [taps t0 .. t0 + 16 of kernel row i] = sum over o of go [m][o] panel [o], added into
 *   gpad at pad(m) + off (off = i row + t0), valid taps only, positions in order.
 * weight_grad_tile: dw [r][0, vl) (dw = dwp + o0 K + i L + t0, rows of K) += the sum over
 *   the positions of nc samples of go [m][o0 + r] x pad(m) + off, for r < min(TILE,
 *   Co - o0). */
#define IMPLICIT_KERNELS(ATTR, SFX, MADD)                                                    \
    ATTR static void forward_tile##SFX(const struct conv_implicit_geom *g,                   \
                                       const struct dims *d, const float *pad, long npos,    \
                                       long m0, const float *panel, const float *bias,       \
                                       float *out, long o0)                                  \
    {                                                                                        \
        long nv = min_long(npos - m0, TILE), vo = min_long(g->Co - o0, LANES);               \
        long n = m0 / d->HoWo, oh = m0 % d->HoWo / g->Wo, ow = m0 % g->Wo, off[TILE] = {0}; \
        walk(g, d, &n, &oh, &ow, nv, off);                                                   \
        float b[LANES] = {0};                                                                \
        for (long l = 0; bias && l < vo; l++)                                                \
            b[l] = bias[o0 + l];                                                             \
        v8f a0[TILE], a1[TILE], b0, b1;                                                      \
        memcpy(&b0, b, sizeof b0);                                                           \
        memcpy(&b1, b + 8, sizeof b1);                                                       \
        _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++) {                                                     \
            a0[q] = b0;                                                                      \
            a1[q] = b1;                                                                      \
        }                                                                                    \
        const float *w = panel;                                                              \
        for (int i = 0; i < g->kh; i++) {                                                    \
            const float *s[TILE];                                                            \
            _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++)                                                   \
                s[q] = pad + off[q] + i * d->row;                                            \
            for (long t = 0; t < d->L; t++, w += LANES) {                                    \
                v8f w0, w1;                                                                  \
                memcpy(&w0, w, sizeof w0);                                                   \
                memcpy(&w1, w + 8, sizeof w1);                                               \
                _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++) {                                             \
                    float x = s[q][t];                                                       \
                    v8f v = {x, x, x, x, x, x, x, x};                                        \
                    a0[q] = MADD(a0[q], v, w0);                                              \
                    a1[q] = MADD(a1[q], v, w1);                                              \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        _Pragma("GCC unroll 6") for (long q = 0; q < TILE; q++) /* constant trip: the accumulators stay registers */ \
            if (q < nv)                                                                      \
                store16(out + (m0 + q) * g->Co + o0, &a0[q], &a1[q], vo);                      \
    }                                                                                        \
    ATTR static void input_grad_sample##SFX(const struct conv_implicit_geom *g,              \
                                            const struct dims *d, const float *go,           \
                                            const float *panel, float *gpad, long off,       \
                                            long vl)                                         \
    {                                                                                        \
        long n = 0, oh = 0, ow = 0;                                                          \
        for (long m0 = 0; m0 < d->HoWo; m0 += TILE) {                                        \
            long nv = min_long(d->HoWo - m0, TILE), po[TILE] = {0};                          \
            walk(g, d, &n, &oh, &ow, nv, po);                                                \
            const float *gq[TILE];                                                           \
            _Pragma("GCC unroll 6") for (long q = 0; q < TILE; q++)                                                  \
                gq[q] = go + (m0 + (q < nv ? q : nv - 1)) * g->Co;                           \
            v8f a0[TILE], a1[TILE];                                                          \
            _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++) {                                                 \
                a0[q] = (v8f){0};                                                            \
                a1[q] = (v8f){0};                                                            \
            }                                                                                \
            const float *w = panel;                                                          \
            for (int o = 0; o < g->Co; o++, w += LANES) {                                    \
                v8f w0, w1;                                                                  \
                memcpy(&w0, w, sizeof w0);                                                   \
                memcpy(&w1, w + 8, sizeof w1);                                               \
                _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++) {                                             \
                    float x = gq[q][o];                                                      \
                    v8f v = {x, x, x, x, x, x, x, x};                                        \
                    a0[q] = MADD(a0[q], v, w0);                                              \
                    a1[q] = MADD(a1[q], v, w1);                                              \
                }                                                                            \
            }                                                                                \
            _Pragma("GCC unroll 6") for (long q = 0; q < TILE; q++)                                                  \
                if (q < nv)                                                                  \
                    add16(gpad + po[q] + off, &a0[q], &a1[q], vl);                           \
        }                                                                                    \
    }                                                                                        \
    ATTR static void weight_grad_tile##SFX(const struct conv_implicit_geom *g,               \
                                           const struct dims *d, const float *pad,           \
                                           const float *go, int nc, long off, long o0,       \
                                           float *dw, long vl)                               \
    {                                                                                        \
        long vo = min_long(g->Co - o0, TILE);                                                \
        long oi[TILE];                                                                       \
        for (int r = 0; r < TILE; r++)                                                       \
            oi[r] = o0 + (r < vo ? r : vo - 1);                                              \
        v8f a0[TILE], a1[TILE];                                                              \
        _Pragma("GCC unroll 6") for (int r = 0; r < TILE; r++) {                             \
            a0[r] = (v8f){0};                                                                \
            a1[r] = (v8f){0};                                                                \
        }                                                                                    \
        long step = (long)g->sw * g->C;                                                      \
        for (long n = 0; n < nc; n++)                                                        \
            for (long oh = 0; oh < g->Ho; oh++) {                                            \
                const float *x = pad + (n * d->Hp + oh * g->sh) * d->row + off;              \
                const float *gr = go + (n * d->HoWo + oh * g->Wo) * g->Co;                   \
                for (long ow = 0; ow < g->Wo; ow++, x += step, gr += g->Co) {                \
                    v8f x0, x1;                                                              \
                    memcpy(&x0, x, sizeof x0);                                               \
                    memcpy(&x1, x + 8, sizeof x1);                                           \
                    _Pragma("GCC unroll 6") for (int r = 0; r < TILE; r++) {                 \
                        float y = gr[oi[r]];                                                 \
                        v8f v = {y, y, y, y, y, y, y, y};                                    \
                        a0[r] = MADD(a0[r], v, x0);                                          \
                        a1[r] = MADD(a1[r], v, x1);                                          \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
        _Pragma("GCC unroll 6") for (long r = 0; r < TILE; r++)                              \
            if (r < vo)                                                                      \
                add16(dw + r * d->K, &a0[r], &a1[r], vl);                                      \
    }                                                                                        \
    static const struct kernels kernels##SFX = {forward_tile##SFX, input_grad_sample##SFX,     \
                                                weight_grad_tile##SFX};

struct kernels {
    void (*forward)(const struct conv_implicit_geom *g, const struct dims *d, const float *pad,
                    long npos, long m0, const float *panel, const float *bias, float *out,
                    long o0);
    void (*input_grad)(const struct conv_implicit_geom *g, const struct dims *d,
                       const float *go, const float *panel, float *gpad, long off, long vl);
    void (*weight_grad)(const struct conv_implicit_geom *g, const struct dims *d,
                        const float *pad, const float *go, int nc, long off, long o0,
                        float *dw, long vl);
};

IMPLICIT_KERNELS(__attribute__((target("avx2,fma"))), _avx2, MADD_FUSED)
IMPLICIT_KERNELS(, _plain, MADD_PLAIN)

static const struct kernels *kernels_for(const struct conv_implicit_geom *g)
{
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return avx2 && !g->portable ? &kernels_avx2 : &kernels_plain;
}

int conv_implicit_applies(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if (l->kind != IBP_LAYER_CONV2D || l->groups != 1 || l->dh != 1 || l->dw != 1)
        return 0;
    int one_by_one = l->kh == 1 && l->kw == 1 && l->sh == 1 && l->sw == 1 && l->ph == 0 &&
                     l->pw == 0;
    return !one_by_one && !conv_few_taps(net, k) && !conv_winograd_applies(net, k);
}

struct conv_implicit_geom conv_implicit_geom_of(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]], out = net->shapes[k + 1];
    return (struct conv_implicit_geom){.H = in.h, .W = in.w, .C = in.c, .Ho = out.h,
                                       .Wo = out.w, .Co = out.c, .kh = l->kh, .kw = l->kw,
                                       .sh = l->sh, .sw = l->sw, .ph = l->ph, .pw = l->pw};
}

size_t conv_implicit_packed_floats(const struct conv_implicit_geom *g)
{
    struct dims d = dims_of(g);
    return (size_t)(d.P * d.K * LANES + g->kh * d.nb * g->Co * LANES);
}

void conv_implicit_pack(const struct conv_implicit_geom *g, const float *wp, float *packed)
{
    struct dims d = dims_of(g);
    /* forward [P][K][16] */
    for (long p = 0; p < d.P; p++)
        for (long k = 0; k < d.K; k++)
            for (long l = 0; l < LANES; l++) {
                long o = p * LANES + l;
                packed[(p * d.K + k) * LANES + l] = o < g->Co ? wp[o * d.K + k] : 0.0f;
            }
    /* input gradient [kh][nb][Co][16] */
    float *ig = packed + d.P * d.K * LANES;
    for (long i = 0; i < g->kh; i++)
        for (long b = 0; b < d.nb; b++)
            for (long o = 0; o < g->Co; o++)
                for (long l = 0; l < LANES; l++) {
                    long t = b * LANES + l;
                    ig[((i * d.nb + b) * g->Co + o) * LANES + l] =
                        t < d.L ? wp[o * d.K + i * d.L + t] : 0.0f;
                }
}

int conv_implicit_chunk(const struct conv_implicit_geom *g, int ns)
{
    struct dims d = dims_of(g);
    long c = CHUNK_FLOATS / d.per;
    c = c < CHUNK_MIN ? CHUNK_MIN : c;
    c = c < ns ? c : ns;
    return c < 1 ? 1 : (int)c;
}

size_t conv_implicit_scratch_floats(const struct conv_implicit_geom *g, int ns)
{
    struct dims d = dims_of(g);
    return (size_t)conv_implicit_chunk(g, ns) * (size_t)d.per + SLACK;
}

/* pad [nc][Hp][Wp][C] = in [nc][H][W][C] shifted by (ph, pw), zeros around; the rows are
 * shared among the threads of the enclosing parallel region */
static void pad_chunk(const struct conv_implicit_geom *g, const struct dims *d, const float *in,
                      int nc, float *pad)
{
    long C = g->C, left = min_long(g->pw, d->Wp);
    long copy = min_long(g->W, d->Wp - left);
    copy = copy > 0 ? copy : 0;
    long right = d->Wp - left - copy;
#pragma omp for schedule(static)
    for (long r = 0; r < nc * d->Hp; r++) {
        long n = r / d->Hp, ih = r % d->Hp - g->ph;
        float *dst = pad + r * d->row;
        if (ih < 0 || ih >= g->H) {
            memset(dst, 0, (size_t)d->row * sizeof(float));
            continue;
        }
        const float *src = in + (n * g->H + ih) * g->W * C;
        memset(dst, 0, (size_t)(left * C) * sizeof(float));
        memcpy(dst + left * C, src, (size_t)(copy * C) * sizeof(float));
        memset(dst + (left + copy) * C, 0, (size_t)(right * C) * sizeof(float));
    }
}

void conv_implicit_forward(const struct conv_implicit_geom *g, const float *in, float *out,
                           int ns, const float *packed, const float *bias, float *scratch,
                           int threads)
{
    struct dims d = dims_of(g);
    const struct kernels *kr = kernels_for(g);
    int chunk = conv_implicit_chunk(g, ns);
    size_t in_per = (size_t)g->H * g->W * g->C;
#pragma omp parallel num_threads(threads)
    {
        long tid = omp_get_thread_num(), nth = omp_get_num_threads();
        for (int s0 = 0; s0 < ns; s0 += chunk) {
            int nc = ns - s0 < chunk ? ns - s0 : chunk;
            pad_chunk(g, &d, in + (size_t)s0 * in_per, nc, scratch);
            long npos = nc * d.HoWo, ntiles = (npos + TILE - 1) / TILE;
            float *o = out + (size_t)s0 * (size_t)d.HoWo * g->Co;
            /* each thread an even range of tiles: it writes whole output rows (cache lines
             * shared with another thread only at the range's ends); the tiles of a panel
             * in a row, reusing its weight panel */
            long t0 = ntiles * tid / nth, t1 = ntiles * (tid + 1) / nth;
            for (long p = 0; p < d.P; p++)
                for (long t = t0; t < t1; t++)
                    kr->forward(g, &d, scratch, npos, t * TILE, packed + p * d.K * LANES,
                                bias, o, p * LANES);
#pragma omp barrier
        }
    }
}

void conv_implicit_input_grad(const struct conv_implicit_geom *g, const float *gout,
                              float *gin, int ns, const float *packed, float *scratch,
                              int threads)
{
    struct dims d = dims_of(g);
    const struct kernels *kr = kernels_for(g);
    int chunk = conv_implicit_chunk(g, ns);
    const float *ig = packed + d.P * d.K * LANES;
    long C = g->C;
    /* the part of an input row inside the padded buffer (the rest gets no gradient) */
    long cols = min_long(g->W, d.Wp - g->pw);
#pragma omp parallel num_threads(threads)
    for (int s0 = 0; s0 < ns; s0 += chunk) {
        int nc = ns - s0 < chunk ? ns - s0 : chunk;
        /* each sample by one thread, in its own slot of the scratch */
#pragma omp for schedule(static)
        for (int n = 0; n < nc; n++) {
            float *gp = scratch + (size_t)n * d.per;
            memset(gp, 0, (size_t)d.per * sizeof(float));
            const float *go = gout + (size_t)(s0 + n) * d.HoWo * g->Co;
            for (long i = 0; i < g->kh; i++)
                for (long b = 0; b < d.nb; b++) {
                    const float *panel = ig + (i * d.nb + b) * g->Co * LANES;
                    long off = i * d.row + b * LANES, vl = min_long(d.L - b * LANES, LANES);
                    kr->input_grad(g, &d, go, panel, gp, off, vl);
                }
            float *gi = gin + (size_t)(s0 + n) * g->H * g->W * C;
            for (long ih = 0; ih < g->H && ih + g->ph < d.Hp; ih++) {
                float *dst = gi + ih * g->W * C;
                const float *src = gp + (ih + g->ph) * d.row + g->pw * C;
                for (long x = 0; x < cols * C; x++)
                    dst[x] += src[x];
            }
        }
    }
}

void conv_implicit_weight_grad(const struct conv_implicit_geom *g, const float *in,
                               const float *gout, int ns, float *dwp, float *scratch,
                               int threads)
{
    struct dims d = dims_of(g);
    const struct kernels *kr = kernels_for(g);
    int chunk = conv_implicit_chunk(g, ns);
    size_t in_per = (size_t)g->H * g->W * g->C;
    long otiles = (g->Co + TILE - 1) / TILE, ntask = g->kh * d.nb * otiles;
    /* samples per partial sum: about WG_POSITIONS positions */
    long block = WG_POSITIONS / d.HoWo > 1 ? WG_POSITIONS / d.HoWo : 1;
    /* the slack read past the last run of the first (full) chunk; later chunks leave
     * earlier data there, finite floats whose products are dropped */
    memset(scratch + (size_t)chunk * d.per, 0, SLACK * sizeof(float));
#pragma omp parallel num_threads(threads)
    {
        /* each thread its own range of tiles, output-channel major (a thread's dwp rows
         * are contiguous: few cache lines shared); the dwp elements of a tile are summed
         * by one thread, block after block in order, whichever thread that is */
        long tid = omp_get_thread_num(), nth = omp_get_num_threads();
        long t0 = ntask * tid / nth, t1 = ntask * (tid + 1) / nth;
        for (int s0 = 0; s0 < ns; s0 += chunk) {
            int nc = ns - s0 < chunk ? ns - s0 : chunk;
            pad_chunk(g, &d, in + (size_t)s0 * in_per, nc, scratch);
            /* sample blocks outer, tiles inner: a block's input and gradient stay in
             * L1 or L2 while the thread's tiles read them */
            for (long n = 0; n < nc; n += block) {
                const float *pad = scratch + n * d.per;
                const float *go = gout + ((size_t)s0 + (size_t)n) * d.HoWo * g->Co;
                int nb = (int)min_long(nc - n, block);
                for (long task = t0; task < t1; task++) {
                    long ot = task / (g->kh * d.nb), i = task / d.nb % g->kh, b = task % d.nb;
                    long o0 = ot * TILE, t = b * LANES;
                    kr->weight_grad(g, &d, pad, go, nb, i * d.row + t, o0,
                                    dwp + o0 * d.K + i * d.L + t, min_long(d.L - t, LANES));
                }
            }
#pragma omp barrier
        }
    }
}
