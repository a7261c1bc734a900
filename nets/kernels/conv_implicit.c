/* conv_implicit.c — implicit-GEMM convolution on NHWC values (see conv_implicit.h):
 * zero-padded copies of chunks of samples and two register-blocked micro-kernels, each
 * in an AVX2+FMA and a portable version. */
#include "nets/kernels/conv_implicit.h"


#include <immintrin.h>
#include <omp.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

/* Positions per tile (output positions forward, input positions for the input
 * gradient), output channels per weight-gradient tile: 6 with two vectors of 8 per row
 * (AVX2 and portable kernels), 12 with one vector of 16 (AVX-512); 12 accumulators
 * either way. The tile size changes which thread computes an element, never its sum. */
#define TILE 6
#define TILE_WIDE 12
/* Channels per panel (output channels forward, input channels for the input gradient),
 * taps per weight-gradient block: two vectors. */
#define LANES 16
/* Target floats of one chunk of the padded input or output gradient (256 KiB): it stays
 * in L2 while every tile of the chunk reads it. */
#define CHUNK_FLOATS 65536
/* Fewest samples per chunk when ns allows (more tiles to share among the threads). */
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
    long T, Lm;   /* zero rows above, columns left of the output gradient in its padded copy */
    long Hq, Wq;  /* padded output gradient */
    long perq;    /* floats per padded output-gradient sample, Hq Wq Co */
};

static struct dims dims_of(const struct ibp_conv_geom *g)
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
    /* the input gradient reads output rows u - a for u <= (H - 1 + ph) / sh and a below
     * ceil(kh / sh) (see phase_of) */
    long umax = (g->H - 1 + g->ph) / g->sh, vmax = (g->W - 1 + g->pw) / g->sw;
    d.T = (g->kh + g->sh - 1) / g->sh - 1;
    d.Lm = (g->kw + g->sw - 1) / g->sw - 1;
    d.Hq = d.T + (g->Ho > umax + 1 ? g->Ho : umax + 1);
    d.Wq = d.Lm + (g->Wo > vmax + 1 ? g->Wo : vmax + 1);
    d.perq = d.Hq * d.Wq * g->Co;
    return d;
}

/* The input gradient as a gather: input row ih with (ih + ph) mod sh = rh takes kernel
 * rows i = rh + a sh (a < ka) from output rows oh = u - a, u = (ih + ph - rh) / sh; the
 * same along w. Each phase (rh, rw) is thus a stride-1 correlation of the output
 * gradient with its ka x kb sub-kernel, flipped, over the input positions of that
 * phase: ih = ih0 + y sh (y < nh), iw = iw0 + x sw (x < nw). */
struct phase {
    long ka, kb;    /* kernel rows and columns of the phase */
    long ih0, iw0;  /* its first input row and column */
    long nh, nw;    /* its input rows and columns */
    long u0, v0;    /* u and v of (ih0, iw0) */
    long w;         /* offset of its packed weight after the forward weight */
};

static long phase_count(const struct ibp_conv_geom *g)
{
    return (long)g->sh * g->sw;
}

/* Phase q = rh sw + rw of the input gradient. */
static struct phase phase_of(const struct ibp_conv_geom *g, long q)
{
    long rh = q / g->sw, rw = q % g->sw, pc = (g->C + LANES - 1) / LANES;
    struct phase f;
    f.ka = rh < g->kh ? (g->kh - rh + g->sh - 1) / g->sh : 0;
    f.kb = rw < g->kw ? (g->kw - rw + g->sw - 1) / g->sw : 0;
    f.ih0 = ((rh - g->ph) % g->sh + g->sh) % g->sh;
    f.iw0 = ((rw - g->pw) % g->sw + g->sw) % g->sw;
    f.nh = f.ih0 < g->H ? (g->H - f.ih0 + g->sh - 1) / g->sh : 0;
    f.nw = f.iw0 < g->W ? (g->W - f.iw0 + g->sw - 1) / g->sw : 0;
    f.u0 = (f.ih0 + g->ph - rh) / g->sh;
    f.v0 = (f.iw0 + g->pw - rw) / g->sw;
    f.w = 0;
    for (long p = 0; p < q; p++) {
        long ph = p / g->sw, pw = p % g->sw;
        long a = ph < g->kh ? (g->kh - ph + g->sh - 1) / g->sh : 0;
        long b = pw < g->kw ? (g->kw - pw + g->sw - 1) / g->sw : 0;
        f.w += pc * a * b * g->Co * LANES;
    }
    return f;
}

static long min_long(long a, long b)
{
    return a < b ? a : b;
}

/* off [q] = the offset in the padded buffer of the first tap of output position
 * (n, oh, ow) advanced q times, for q < nv (counted from the first position of the
 * buffer's first sample); the rest, up to the tile size, repeat the last; (n, oh, ow)
 * advanced nv times */
static inline void walk(const struct ibp_conv_geom *g, const struct dims *d, long *n,
                        long *oh, long *ow, long nv, long tile, long *off)
{
    for (long q = 0; q < tile; q++) {
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

/* The two micro-kernels; MADD(a, x, w) = a + x w (fused or not).
 *
 * gemm_tile: for the positions q < nv, acc [q][16] = init + the sum over the nrows runs
 *   r and the L taps t of src [off[q] + r rstride + t] x panel [r L + t][16]; then
 *   dst[q] [0, vo) = acc (add: += acc). The forward (runs: kernel rows of the padded
 *   input) and the input gradient (runs: rows of a phase's sub-kernel over the padded
 *   output gradient) both run on it.
 * weight_grad_tile: dw [r][0, vl) (dw = dwp + o0 K + i L + t0, rows of K) += the sum over
 *   the positions of nc samples of go [m][o0 + r] x pad(m) + off, for r < min(TILE,
 *   Co - o0). */
#define IMPLICIT_KERNELS(ATTR, SFX, MADD)                                                    \
    ATTR static void gemm_tile##SFX(const float *src, const long off[TILE], long nrows,      \
                                    long rstride, long L, const float *panel,                \
                                    const float init[LANES], float *const dst[TILE],         \
                                    long nv, long vo, int add)                               \
    {                                                                                        \
        v8f a0[TILE], a1[TILE], b0, b1;                                                      \
        memcpy(&b0, init, sizeof b0);                                                        \
        memcpy(&b1, init + 8, sizeof b1);                                                    \
        _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++) {                             \
            a0[q] = b0;                                                                      \
            a1[q] = b1;                                                                      \
        }                                                                                    \
        const float *w = panel;                                                              \
        for (long r = 0; r < nrows; r++) {                                                   \
            const float *s[TILE];                                                            \
            _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++)                           \
                s[q] = src + off[q] + r * rstride;                                           \
            for (long t = 0; t < L; t++, w += LANES) {                                       \
                v8f w0, w1;                                                                  \
                memcpy(&w0, w, sizeof w0);                                                   \
                memcpy(&w1, w + 8, sizeof w1);                                               \
                _Pragma("GCC unroll 6") for (int q = 0; q < TILE; q++) {                     \
                    float x = s[q][t];                                                       \
                    v8f v = {x, x, x, x, x, x, x, x};                                        \
                    a0[q] = MADD(a0[q], v, w0);                                              \
                    a1[q] = MADD(a1[q], v, w1);                                              \
                }                                                                            \
            }                                                                                \
        }                                                                                    \
        /* constant trip: the accumulators stay registers */                                 \
        _Pragma("GCC unroll 6") for (long q = 0; q < TILE; q++) {                            \
            if (q >= nv)                                                                     \
                continue;                                                                    \
            if (add)                                                                         \
                add16(dst[q], &a0[q], &a1[q], vo);                                           \
            else                                                                             \
                store16(dst[q], &a0[q], &a1[q], vo);                                         \
        }                                                                                    \
    }                                                                                        \
    ATTR static void weight_grad_tile##SFX(const struct ibp_conv_geom *g,               \
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
    static const struct kernels kernels##SFX = {gemm_tile##SFX, weight_grad_tile##SFX,     \
                                                TILE};

/* A kernel set: the two micro-kernels and their tile size (positions of gemm, output
 * channels of weight_grad; off and dst hold that many entries). */
struct kernels {
    void (*gemm)(const float *src, const long *off, long nrows, long rstride, long L,
                 const float *panel, const float init[LANES], float *const *dst, long nv,
                 long vo, int add);
    void (*weight_grad)(const struct ibp_conv_geom *g, const struct dims *d,
                        const float *pad, const float *go, int nc, long off, long o0,
                        float *dw, long vl);
    long tile;
};

IMPLICIT_KERNELS(__attribute__((target("avx2,fma"))), _avx2, MADD_FUSED)
IMPLICIT_KERNELS(, _plain, MADD_PLAIN)

/* The AVX-512 kernels: the same two, one vector of 16 per row and TILE_WIDE rows. Each
 * lane is the same chain of fused multiply-adds in the same order as in the AVX2
 * kernels, so the two give bit-identical results. */
#define AVX512 __attribute__((target("avx512f")))
#define MADD16(a, x, w) ((v16f)_mm512_fmadd_ps((__m512)(x), (__m512)(w), (__m512)(a)))

/* dst [0, valid) (+)= the 16 floats of a */
AVX512 static inline void put16(float *dst, const v16f *a, long valid, int add)
{
    if (valid == LANES) {
        v16f d = *a;
        if (add) {
            v16f cur;
            memcpy(&cur, dst, sizeof cur);
            d += cur;
        }
        memcpy(dst, &d, sizeof d);
        return;
    }
    float t[LANES];
    memcpy(t, a, sizeof t);
    for (long l = 0; l < valid; l++)
        dst[l] = add ? dst[l] + t[l] : t[l];
}

AVX512 static void gemm_tile_avx512(const float *src, const long *off, long nrows,
                                    long rstride, long L, const float *panel,
                                    const float init[LANES], float *const *dst, long nv,
                                    long vo, int add)
{
    v16f a[TILE_WIDE], b;
    memcpy(&b, init, sizeof b);
#pragma GCC unroll 12
    for (int q = 0; q < TILE_WIDE; q++)
        a[q] = b;
    const float *w = panel;
    for (long r = 0; r < nrows; r++) {
        const float *s[TILE_WIDE];
#pragma GCC unroll 12
        for (int q = 0; q < TILE_WIDE; q++)
            s[q] = src + off[q] + r * rstride;
        for (long t = 0; t < L; t++, w += LANES) {
            v16f w0;
            memcpy(&w0, w, sizeof w0);
#pragma GCC unroll 12
            for (int q = 0; q < TILE_WIDE; q++) {
                float x = s[q][t];
                v16f v = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
                a[q] = MADD16(a[q], v, w0);
            }
        }
    }
    /* constant trip: the accumulators stay registers */
#pragma GCC unroll 12
    for (long q = 0; q < TILE_WIDE; q++)
        if (q < nv)
            put16(dst[q], &a[q], vo, add);
}

AVX512 static void weight_grad_tile_avx512(const struct ibp_conv_geom *g,
                                           const struct dims *d, const float *pad,
                                           const float *go, int nc, long off, long o0,
                                           float *dw, long vl)
{
    long vo = min_long(g->Co - o0, TILE_WIDE);
    long oi[TILE_WIDE];
    for (int r = 0; r < TILE_WIDE; r++)
        oi[r] = o0 + (r < vo ? r : vo - 1);
    v16f a[TILE_WIDE];
#pragma GCC unroll 12
    for (int r = 0; r < TILE_WIDE; r++)
        a[r] = (v16f){0};
    long step = (long)g->sw * g->C;
    for (long n = 0; n < nc; n++)
        for (long oh = 0; oh < g->Ho; oh++) {
            const float *x = pad + (n * d->Hp + oh * g->sh) * d->row + off;
            const float *gr = go + (n * d->HoWo + oh * g->Wo) * g->Co;
            for (long ow = 0; ow < g->Wo; ow++, x += step, gr += g->Co) {
                v16f x0;
                memcpy(&x0, x, sizeof x0);
#pragma GCC unroll 12
                for (int r = 0; r < TILE_WIDE; r++) {
                    float y = gr[oi[r]];
                    v16f v = {y, y, y, y, y, y, y, y, y, y, y, y, y, y, y, y};
                    a[r] = MADD16(a[r], v, x0);
                }
            }
        }
#pragma GCC unroll 12
    for (long r = 0; r < TILE_WIDE; r++)
        if (r < vo)
            put16(dw + r * d->K, &a[r], vl, 1);
}

static const struct kernels kernels_avx512 = {gemm_tile_avx512, weight_grad_tile_avx512,
                                              TILE_WIDE};

static const struct kernels *kernels_for(const struct ibp_conv_geom *g)
{
    enum ibp_isa isa = ibp_isa_allowed(g->isa);
    if (isa == IBP_ISA_PORTABLE)
        return &kernels_plain;
    return isa == IBP_ISA_AVX512 ? &kernels_avx512 : &kernels_avx2;
}

size_t ibp_conv_implicit_packed_floats(const struct ibp_conv_geom *g)
{
    struct dims d = dims_of(g);
    long pc = (g->C + LANES - 1) / LANES;
    return (size_t)(d.P * d.K * LANES + pc * LANES * g->Co * g->kh * g->kw);
}

void ibp_conv_implicit_pack(const struct ibp_conv_geom *g, const float *wp, float *packed)
{
    struct dims d = dims_of(g);
    /* forward [P][K][16] */
    for (long p = 0; p < d.P; p++)
        for (long k = 0; k < d.K; k++)
            for (long l = 0; l < LANES; l++) {
                long o = p * LANES + l;
                packed[(p * d.K + k) * LANES + l] = o < g->Co ? wp[o * d.K + k] : 0.0f;
            }
    /* input gradient, per phase [ceil(C/16)][ka][kb][Co][16]: row a of the run is kernel
     * row rh + (ka - 1 - a) sh (flipped), likewise the columns */
    long pc = (g->C + LANES - 1) / LANES;
    for (long q = 0; q < phase_count(g); q++) {
        struct phase f = phase_of(g, q);
        long rh = q / g->sw, rw = q % g->sw;
        float *dst = packed + d.P * d.K * LANES + f.w;
        for (long p = 0; p < pc; p++)
            for (long a = 0; a < f.ka; a++)
                for (long b = 0; b < f.kb; b++)
                    for (long o = 0; o < g->Co; o++)
                        for (long l = 0; l < LANES; l++) {
                            long c = p * LANES + l, i = rh + (f.ka - 1 - a) * g->sh;
                            long j = rw + (f.kb - 1 - b) * g->sw;
                            *dst++ = c < g->C ? wp[o * d.K + i * d.L + j * g->C + c] : 0.0f;
                        }
    }
}

int ibp_conv_implicit_chunk(const struct ibp_conv_geom *g, int ns)
{
    struct dims d = dims_of(g);
    long c = CHUNK_FLOATS / (d.per > d.perq ? d.per : d.perq);
    c = c < CHUNK_MIN ? CHUNK_MIN : c;
    c = c < ns ? c : ns;
    return c < 1 ? 1 : (int)c;
}

size_t ibp_conv_implicit_scratch_floats(const struct ibp_conv_geom *g, int ns)
{
    struct dims d = dims_of(g);
    return (size_t)ibp_conv_implicit_chunk(g, ns) * (size_t)(d.per > d.perq ? d.per : d.perq) +
           SLACK;
}

/* pad [nc][Hp][Wp][C] = in [nc][H][W][C] shifted by (ph, pw), zeros around; the rows are
 * shared among the threads of the enclosing parallel region */
static void pad_chunk(const struct ibp_conv_geom *g, const struct dims *d, const float *in,
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

/* q [nc][Hq][Wq][Co] = gout [nc][Ho][Wo][Co] shifted by (T, Lm), zeros around; rows
 * shared as in pad_chunk */
static void pad_gout_chunk(const struct ibp_conv_geom *g, const struct dims *d,
                           const float *gout, int nc, float *q)
{
    long Co = g->Co, row = d->Wq * Co, right = d->Wq - d->Lm - g->Wo;
#pragma omp for schedule(static)
    for (long r = 0; r < nc * d->Hq; r++) {
        long n = r / d->Hq, oh = r % d->Hq - d->T;
        float *dst = q + r * row;
        if (oh < 0 || oh >= g->Ho) {
            memset(dst, 0, (size_t)row * sizeof(float));
            continue;
        }
        memset(dst, 0, (size_t)(d->Lm * Co) * sizeof(float));
        memcpy(dst + d->Lm * Co, gout + (n * g->Ho + oh) * g->Wo * Co,
               (size_t)(g->Wo * Co) * sizeof(float));
        memset(dst + (d->Lm + g->Wo) * Co, 0, (size_t)(right * Co) * sizeof(float));
    }
}

void ibp_conv_implicit_forward(const struct ibp_conv_geom *g, const float *in, float *out,
                           int ns, const float *packed, const float *bias, float *scratch,
                           int threads)
{
    struct dims d = dims_of(g);
    const struct kernels *kr = kernels_for(g);
    int chunk = ibp_conv_implicit_chunk(g, ns);
    size_t in_per = (size_t)g->H * g->W * g->C;
#pragma omp parallel num_threads(threads)
    {
        long tid = omp_get_thread_num(), nth = omp_get_num_threads();
        for (int s0 = 0; s0 < ns; s0 += chunk) {
            int nc = ns - s0 < chunk ? ns - s0 : chunk;
            pad_chunk(g, &d, in + (size_t)s0 * in_per, nc, scratch);
            long npos = nc * d.HoWo, tile = kr->tile, ntiles = (npos + tile - 1) / tile;
            float *o = out + (size_t)s0 * (size_t)d.HoWo * g->Co;
            /* each thread an even range of tiles: it writes whole output rows (cache lines
             * shared with another thread only at the range's ends); the tiles of a panel
             * in a row, reusing its weight panel */
            long t0 = ntiles * tid / nth, t1 = ntiles * (tid + 1) / nth;
            for (long p = 0; p < d.P; p++) {
                long o0 = p * LANES, vo = min_long(g->Co - o0, LANES);
                float b[LANES] = {0};
                for (long l = 0; bias && l < vo; l++)
                    b[l] = bias[o0 + l];
                for (long t = t0; t < t1; t++) {
                    long m0 = t * tile, nv = min_long(npos - m0, tile), off[TILE_WIDE];
                    long n = m0 / d.HoWo, oh = m0 % d.HoWo / g->Wo, ow = m0 % g->Wo;
                    walk(g, &d, &n, &oh, &ow, nv, tile, off);
                    float *dst[TILE_WIDE];
                    for (long q = 0; q < tile; q++)
                        dst[q] = o + (m0 + min_long(q, nv - 1)) * g->Co + o0;
                    kr->gemm(scratch, off, g->kh, d.row, d.L, packed + p * d.K * LANES, b, dst,
                             nv, vo, 0);
                }
            }
#pragma omp barrier
        }
    }
}

/* One tile of the input gradient: positions [m0, m0 + kr->tile) of phase f (counted over
 * the chunk's samples, nh nw each) and channels [c0, c0 + 16), from the padded output
 * gradient q of the chunk into gin (the chunk's first sample) */
static void input_grad_tile(const struct kernels *kr, const struct ibp_conv_geom *g,
                            const struct dims *d, const struct phase *f, const float *q,
                            long npos, long m0, const float *panel, long c0, float *gin)
{
    static const float zero[LANES];
    long nv = min_long(npos - m0, kr->tile), per = f->nh * f->nw, off[TILE_WIDE];
    float *dst[TILE_WIDE];
    /* position m0 = (n, y, x), then walk on (one division per tile, not per position) */
    long n = m0 / per, y = m0 % per / f->nw, x = m0 % f->nw;
    for (long k = 0; k < kr->tile; k++) {
        if (k >= nv) {
            off[k] = off[nv - 1];
            dst[k] = dst[nv - 1];
            continue;
        }
        off[k] = ((n * d->Hq + f->u0 + y + d->T - f->ka + 1) * d->Wq +
                  (f->v0 + x + d->Lm - f->kb + 1)) * g->Co;
        dst[k] = gin + ((n * g->H + f->ih0 + y * g->sh) * g->W + f->iw0 + x * g->sw) * g->C +
                 c0;
        if (++x == f->nw) {
            x = 0;
            if (++y == f->nh) {
                y = 0;
                ++n;
            }
        }
    }
    kr->gemm(q, off, f->ka, d->Wq * g->Co, f->kb * g->Co, panel, zero, dst, nv,
             min_long(g->C - c0, LANES), 1);
}

void ibp_conv_implicit_input_grad(const struct ibp_conv_geom *g, const float *gout,
                              float *gin, int ns, const float *packed, float *scratch,
                              int threads)
{
    struct dims d = dims_of(g);
    const struct kernels *kr = kernels_for(g);
    int chunk = ibp_conv_implicit_chunk(g, ns);
    const float *ig = packed + d.P * d.K * LANES;
    long pc = (g->C + LANES - 1) / LANES, nph = phase_count(g);
#pragma omp parallel num_threads(threads)
    {
        long tid = omp_get_thread_num(), nth = omp_get_num_threads();
        for (int s0 = 0; s0 < ns; s0 += chunk) {
            int nc = ns - s0 < chunk ? ns - s0 : chunk;
            pad_gout_chunk(g, &d, gout + (size_t)s0 * d.HoWo * g->Co, nc, scratch);
            float *gi = gin + (size_t)s0 * g->H * g->W * g->C;
            /* the tasks (phase, channel panel, tile) in that order, an even range each;
             * every input element belongs to one tile of one phase */
            long ntask = 0;
            for (long ph = 0; ph < nph; ph++) {
                struct phase f = phase_of(g, ph);
                if (f.ka > 0 && f.kb > 0)
                    ntask += pc * ((nc * f.nh * f.nw + kr->tile - 1) / kr->tile);
            }
            long t0 = ntask * tid / nth, t1 = ntask * (tid + 1) / nth, base = 0;
            for (long ph = 0; ph < nph && base < t1; ph++) {
                struct phase f = phase_of(g, ph);
                if (f.ka == 0 || f.kb == 0)
                    continue; /* no kernel tap reaches these inputs: their gradient is 0 */
                long npos = nc * f.nh * f.nw, ntiles = (npos + kr->tile - 1) / kr->tile;
                for (long p = 0; p < pc; p++, base += ntiles) {
                    long lo = t0 > base ? t0 - base : 0, hi = min_long(t1 - base, ntiles);
                    const float *panel = ig + f.w + p * f.ka * f.kb * g->Co * LANES;
                    for (long t = lo; t < hi; t++)
                        input_grad_tile(kr, g, &d, &f, scratch, npos, t * kr->tile, panel,
                                        p * LANES, gi);
                }
            }
#pragma omp barrier
        }
    }
}

void ibp_conv_implicit_weight_grad(const struct ibp_conv_geom *g, const float *in,
                               const float *gout, int ns, float *dwp, float *scratch,
                               int threads)
{
    struct dims d = dims_of(g);
    const struct kernels *kr = kernels_for(g);
    int chunk = ibp_conv_implicit_chunk(g, ns);
    size_t in_per = (size_t)g->H * g->W * g->C;
    long otiles = (g->Co + kr->tile - 1) / kr->tile, ntask = g->kh * d.nb * otiles;
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
                    long o0 = ot * kr->tile, t = b * LANES;
                    kr->weight_grad(g, &d, pad, go, nb, i * d.row + t, o0,
                                    dwp + o0 * d.K + i * d.L + t, min_long(d.L - t, LANES));
                }
            }
#pragma omp barrier
        }
    }
}
