/* crown.c — the backward linear pass of CROWN (SPEC §3) on rows of linear functions.
 *
 * A row i is a function Lambda_i . z_v + cst_i of some value v for sample
 * row_sample[i]. Going back through layer k (output v = k+1, input a) replaces
 * Lambda . z_v by Lambda' . z_a + (constant), which is a lower bound of it over the
 * sample's box: exact for affine layers, the CROWN relaxation for ReLU. At the end
 * the rows are concretised at the bounds of the values they reached
 * (sum_j min(Lambda_j lo_j, Lambda_j hi_j), i.e. Lambda.c - |Lambda|.r).
 *
 * Convolutions go back as conv-transpose: a GEMM of Lambda (rows x positions, out
 * channels) with the packed weight, then col2im, on the (row, position) pairs whose
 * Lambda is not all zero (one-hot rows of full CROWN and local receptive fields make
 * most of them zero) — never a dense matrix of the convolution.
 *
 * Windows (bounds_impl.h): a row is stored only over its window of each value, so a
 * row that starts at one position of a convolution's output costs its receptive
 * field, not the whole value; every pass maps the window to the per-sample arrays by
 * segments (struct segs). A chunk of rows goes backward in one thread with its own
 * context (the bounder runs chunks in parallel): no parallel region in here.
 *
 * Float mode uses branch-free row kernels (the signs of Lambda are unpredictable)
 * with float partial sums, and goes through a BatchNorm that follows a Linear or
 * Conv2d together with it (the folded map of bounds_impl.h: one sweep of the rows
 * instead of two); sound mode keeps every layer and the double sums with E3
 * allowances.
 *
 * Sound mode: the float Lambda' differs from the real product by rounding. With m_a
 * an upper bound of |z_a| (from the forward bounds), the discrepancy costs at most
 * sum_j |Lambda'_real,j - Lambda'_j| m_j, which each layer bounds as
 * coef * sum_o |Lambda_o| q_o + nuf eta M_a (q from the forward pass, bounds.c, with
 * the proofs in sound_fp.h), and it is subtracted from cst. Constants and the final
 * concretisation are summed in double with outward error bounds (E3). */
#include <math.h>
#include <string.h>

#include "nets/bounds/crown_state.h"
#include "nets/kernels/conv_implicit.h"
#include "nets/kernels/conv_taps.h"
#include "nets/kernels/gemm.h"

/* Functions that sweep rows of Lambda are compiled twice, for AVX2 and for any x86-64,
 * the version chosen at load time; both do the same operations in the same order (no
 * fused multiply-add, no reassociation), so results do not depend on the CPU. */
#define ROW_KERNEL __attribute__((target_clones("avx2", "default")))

static float *lam_of(const struct bnd_crown_state *cs, struct bnd_ctx *cx, int v)
{
    return cx->slot[cs->slot_of[v]];
}

int ibp_crown_plan_slots(const struct ibp_net *net, const char *alias, int *slot_of)
{
    int L = net->n_layers, n_slots = 0, n_free = 0;
    int free_list[2 * L + 2];
    for (int v = 0; v <= L; v++)
        slot_of[v] = -1;
    slot_of[L] = n_slots++;
    for (int k = L - 1; k >= 0; k--) {
        if (slot_of[k + 1] < 0)
            continue;
        const struct ibp_layer_spec *l = &net->layers[k];
        if (alias[k]) {
            slot_of[l->in[0]] = slot_of[k + 1];
            continue;
        }
        int n_in = l->kind == IBP_LAYER_ADD ? 2 : 1;
        for (int i = 0; i < n_in; i++)
            if (slot_of[l->in[i]] < 0)
                slot_of[l->in[i]] = n_free ? free_list[--n_free] : n_slots++;
        free_list[n_free++] = slot_of[k + 1];
    }
    return n_slots;
}

long ibp_crown_conv_pmax(const struct ibp_net *net, size_t budget_floats)
{
    long pmax = 1;
    for (int k = 0; k < net->n_layers; k++) {
        if (net->layers[k].kind != IBP_LAYER_CONV2D)
            continue;
        struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
        long p = (long)(budget_floats / (size_t)(g.K + g.og));
        long need = (long)g.Ho * g.Wo; /* one row's positions at least */
        if (p < need)
            p = need;
        if (p > pmax)
            pmax = p;
    }
    return pmax;
}

/* ---- windows ------------------------------------------------------------------ */

static int win_empty(const struct bnd_win *w)
{
    return w->h0 >= w->h1 || w->w0 >= w->w1;
}

static void win_union(struct bnd_win *a, const struct bnd_win *w)
{
    if (win_empty(w))
        return;
    if (win_empty(a)) {
        *a = *w;
        return;
    }
    a->h0 = w->h0 < a->h0 ? w->h0 : a->h0;
    a->w0 = w->w0 < a->w0 ? w->w0 : a->w0;
    a->h1 = w->h1 > a->h1 ? w->h1 : a->h1;
    a->w1 = w->w1 > a->w1 ? w->w1 : a->w1;
}

static int clampi(int x, int lo, int hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* the input positions a window of a strided window op's output reads (clipped) */
static struct bnd_win win_back(const struct bnd_win *o, struct ibp_shape in, int kh, int kw,
                               int sh, int sw, int ph, int pw, int dh, int dw)
{
    if (win_empty(o))
        return *o;
    struct bnd_win w = {o->h0 * sh - ph, (o->h1 - 1) * sh - ph + (kh - 1) * dh + 1,
                        o->w0 * sw - pw, (o->w1 - 1) * sw - pw + (kw - 1) * dw + 1};
    w.h0 = clampi(w.h0, 0, in.h);
    w.h1 = clampi(w.h1, 0, in.h);
    w.w0 = clampi(w.w0, 0, in.w);
    w.w1 = clampi(w.w1, 0, in.w);
    return w;
}

long ibp_crown_plan_windows(const struct ibp_net *net, const struct bnd_crown_state *cs,
                        struct bnd_ctx *cx, int v_start, int k_stop, const struct bnd_win *w)
{
    int L = net->n_layers;
    char reach[L + 1];
    for (int v = 0; v <= L; v++) {
        cx->win[v] = (struct bnd_win){0, 0, 0, 0};
        reach[v] = 0;
    }
    struct ibp_shape s0 = net->shapes[v_start];
    cx->win[v_start] = w && !cs->full_windows ? *w : (struct bnd_win){0, s0.h, 0, s0.w};
    reach[v_start] = 1;
    /* every consumer of value a is a layer k >= a, so a's window is complete before
     * layer a - 1 is planned */
    for (int k = v_start - 1; k >= k_stop; k--) {
        if (!reach[k + 1])
            continue;
        const struct ibp_layer_spec *l = &net->layers[k];
        const struct bnd_win *o = &cx->win[k + 1];
        struct ibp_shape in = net->shapes[l->in[0]];
        struct bnd_win d = *o;
        switch (l->kind) {
        case IBP_LAYER_CONV2D:
            d = win_back(o, in, l->kh, l->kw, l->sh, l->sw, l->ph, l->pw, l->dh, l->dw);
            break;
        case IBP_LAYER_AVGPOOL:
        case IBP_LAYER_MAXPOOL:
            d = win_back(o, in, l->kh, l->kw, l->sh, l->sw, l->ph, l->pw, 1, 1);
            break;
        case IBP_LAYER_LINEAR:
        case IBP_LAYER_FLATTEN:
            d = (struct bnd_win){0, in.h, 0, in.w};
            break;
        default: /* elementwise: BN, Normalize, ReLU, Add */
            break;
        }
        if (cs->full_windows)
            d = (struct bnd_win){0, in.h, 0, in.w};
        int n_in = l->kind == IBP_LAYER_ADD ? 2 : 1;
        for (int i = 0; i < n_in; i++) {
            win_union(&cx->win[l->in[i]], &d);
            reach[l->in[i]] = 1;
        }
    }
    size_t most = 1;
    for (int v = 0; v <= L; v++) {
        const struct bnd_win *x = &cx->win[v];
        cx->wn[v] = !reach[v] || win_empty(x)
                       ? 0
                       : (size_t)(x->h1 - x->h0) * (size_t)(x->w1 - x->w0) *
                             (size_t)net->shapes[v].c;
        most = cx->wn[v] > most ? cx->wn[v] : most;
    }
    return (long)(cs->slot_floats / most);
}

/* Segments of window wo of value v inside the row layout of window wi (wi contains wo;
 * values of the same spatial shape), and in the per-sample layout of the whole value:
 * segment t covers len floats at src s0 + t ss of the wo layout, dst d0 + t ds of the
 * wi layout and g0 + t gs of the whole value. */
struct segs {
    int n;
    size_t len, s0, ss, d0, ds, g0, gs;
};

static struct segs segs_of(const struct ibp_net *net, int v, const struct bnd_win *wo,
                           const struct bnd_win *wi)
{
    struct ibp_shape s = net->shapes[v];
    size_t C = (size_t)s.c;
    if (win_empty(wo))
        return (struct segs){0, 0, 0, 0, 0, 0, 0, 0};
    size_t len = (size_t)(wo->w1 - wo->w0) * C, iw = (size_t)(wi->w1 - wi->w0) * C;
    struct segs g = {wo->h1 - wo->h0,
                     len,
                     0,
                     len,
                     ((size_t)(wo->h0 - wi->h0) * (size_t)(wi->w1 - wi->w0) +
                      (size_t)(wo->w0 - wi->w0)) * C,
                     iw,
                     ((size_t)wo->h0 * (size_t)s.w + (size_t)wo->w0) * C,
                     (size_t)s.w * C};
    if (len == iw && len == g.gs) { /* whole lines: one segment */
        g.len *= (size_t)g.n;
        g.n = 1;
    }
    return g;
}

/* ---- rounding-error terms (sound mode) ----------------------------------------- */

/* sound: cst[i] -= coef * sum_j |Lo[i][j]| q[s][j] + nuf eta M[s], outward. Lo rows
 * have n floats (window segments sg of the value q belongs to). */
ROW_KERNEL static void
err_q(struct bnd_crown_state *cs, struct bnd_ctx *cx, int nrows, const float *Lo, size_t n,
      const struct segs *sg, size_t n_val, const float *q, double coef, double nuf,
      const double *M)
{
    for (int i = 0; i < nrows; i++) {
        int s = cx->row_sample[i];
        const float *lam = Lo + (size_t)i * n, *qs = q + (size_t)s * n_val;
        double d = 0.0;
        for (int t = 0; t < sg->n; t++) {
            const float *x = lam + sg->s0 + t * sg->ss, *y = qs + sg->g0 + t * sg->gs;
            for (size_t j = 0; j < sg->len; j++)
                if (x[j] != 0.0f)
                    d += (double)fabsf(x[j]) * y[j];
        }
        double e = fp_dup(coef * fp_dsum_up(d, (long)n_val));
        e = fp_dup(e + fp_dup(nuf * (double)FP_ETA * M[s]));
        cx->cst[i] = fp_ddn(cx->cst[i] - e);
    }
}

/* sound: cst[i] -= coef * sum_j |Li[i][j]| m_a,j (m = max(|lo|, |hi|) of value a; Li
 * rows of wn[a] floats in a's window) */
ROW_KERNEL static void
err_mag(const struct ibp_net *net, struct bnd_crown_state *cs, struct bnd_ctx *cx,
        int nrows,
        const float *Li, int a, double coef)
{
    size_t n = cx->wn[a], n_val = cs->n[a];
    struct segs sg = segs_of(net, a, &cx->win[a], &cx->win[a]);
    for (int i = 0; i < nrows; i++) {
        int s = cx->row_sample[i];
        const float *lam = Li + (size_t)i * n;
        const float *lo = cs->lo[a] + (size_t)s * n_val, *hi = cs->hi[a] + (size_t)s * n_val;
        double d = 0.0;
        for (int t = 0; t < sg.n; t++) {
            const float *x = lam + sg.s0 + t * sg.ss;
            size_t g = sg.g0 + t * sg.gs;
            for (size_t j = 0; j < sg.len; j++)
                if (x[j] != 0.0f)
                    d += (double)fabsf(x[j]) * fmaxf(fabsf(lo[g + j]), fabsf(hi[g + j]));
        }
        cx->cst[i] = fp_ddn(cx->cst[i] - fp_dup(coef * fp_dsum_up(d, (long)n_val)));
    }
}

/* ---- constant terms ------------------------------------------------------------- */

/* sum_j x_j * (x_j >= 0 ? pl : ph)_j over len terms into four partial sums (fixed
 * order: the result does not depend on threads); zero terms count as 0 (0 * inf would
 * be NaN). */
static inline void dot_sel(const float *x, const float *pl, const float *ph, size_t len,
                           double sum[4], double asum[4])
{
    for (size_t j = 0; j < len; j++) {
        float v = x[j] >= 0.0f ? pl[j] : ph[j];
        double t = x[j] != 0.0f ? (double)x[j] * v : 0.0;
        sum[j & 3] += t;
        asum[j & 3] += fabs(t);
    }
}

static void add_const(struct bnd_crown_state *cs, struct bnd_ctx *cx, int i, const double sum[4],
                      const double asum[4], long terms)
{
    double s = (sum[0] + sum[1]) + (sum[2] + sum[3]);
    double a = (asum[0] + asum[1]) + (asum[2] + asum[3]);
    if (cs->sound)
        cx->cst[i] = fp_dadd_dn(cx->cst[i], fp_dsum_lower(s, a, terms));
    else
        cx->cst[i] += s;
}

/* sum_j x_j v_j in float, eight partial sums in a fixed order (float mode only, where
 * the constants are finite and do not depend on the sign of x) */
static inline void dot8(const float *restrict x, const float *restrict v, size_t len,
                        float *restrict acc)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int t = 0; t < 8; t++)
            acc[t] += x[j + t] * v[j + t];
    for (; j < len; j++)
        acc[j & 7] += x[j] * v[j];
}

static double sum8(const float acc[8])
{
    return (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                    ((acc[4] + acc[5]) + (acc[6] + acc[7])));
}

/* Float-mode row kernels. Written with restrict pointers and the split
 * x = max(x, 0) + min(x, 0) instead of a branch on the sign of x (unpredictable), so
 * that the compiler vectorises them; eight partial sums in a fixed order. Each gives
 * the same values as the obvious branchy form as long as the factors are finite
 * (slopes are in [0, 1]); an infinite bound or intercept meets a zero weight as NaN,
 * which the pass turns into a -inf bound (always sound). */
static inline float pos_part(float x)
{
    return x > 0.0f ? x : 0.0f;
}

static inline float neg_part(float x)
{
    return x < 0.0f ? x : 0.0f;
}

/* y += z (.) (z >= 0 ? slo : sup); acc += min(z, 0) (.) ic, with z = sx x (sx = +-1,
 * exact) */
static inline void relu_row(const float *restrict x, float sx, const float *restrict slo,
                            const float *restrict sup, const float *restrict ic,
                            float *restrict y, size_t len, float *restrict acc)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int e = 0; e < 8; e++) {
            float z = sx * x[j + e], p = pos_part(z), m = neg_part(z);
            y[j + e] += p * slo[j + e] + m * sup[j + e];
            acc[e] += m * ic[j + e];
        }
    for (; j < len; j++) {
        float z = sx * x[j], p = pos_part(z), m = neg_part(z);
        y[j] += p * slo[j] + m * sup[j];
        acc[j & 7] += m * ic[j];
    }
}

/* acc += max(x, 0) (.) lo + min(x, 0) (.) hi */
static inline void sel_row(const float *restrict x, const float *restrict lo,
                           const float *restrict hi, size_t len, float *restrict acc)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int e = 0; e < 8; e++)
            acc[e] += pos_part(x[j + e]) * lo[j + e] + neg_part(x[j + e]) * hi[j + e];
    for (; j < len; j++)
        acc[j & 7] += pos_part(x[j]) * lo[j] + neg_part(x[j]) * hi[j];
}

/* y += x */
static inline void add_row(const float *restrict x, float *restrict y, size_t len)
{
    for (size_t j = 0; j < len; j++)
        y[j] += x[j];
}

/* y += x (.) s, acc += x (.) t */
static inline void affine_row(const float *restrict x, const float *restrict sc,
                              const float *restrict t, float *restrict y, size_t len,
                              float *restrict acc)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int e = 0; e < 8; e++) {
            y[j + e] += x[j + e] * sc[j + e];
            acc[e] += x[j + e] * t[j + e];
        }
    for (; j < len; j++) {
        y[j] += x[j] * sc[j];
        acc[j & 7] += x[j] * t[j];
    }
}

/* y += x sc, acc += x t (scalars sc, t) */
static inline void affine_row1(const float *restrict x, float sc, float t, float *restrict y,
                               size_t len, float *restrict acc)
{
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        for (int e = 0; e < 8; e++) {
            y[j + e] += x[j + e] * sc;
            acc[e] += x[j + e] * t;
        }
    for (; j < len; j++) {
        y[j] += x[j] * sc;
        acc[j & 7] += x[j] * t;
    }
}

/* y += x (.) s */
static inline void scale_add_row(const float *restrict x, const float *restrict sc,
                                 float *restrict y, size_t len)
{
    for (size_t j = 0; j < len; j++)
        y[j] += x[j] * sc[j];
}

/* cst[i] += sum_j Lo[i][j] * (Lo >= 0 ? vlo : vhi)[j % C], a lower bound in sound
 * mode: per-channel constants (bias, BatchNorm shift); n is a multiple of C. In float
 * mode vlo = vhi. */
ROW_KERNEL static void
const_chan(struct bnd_crown_state *cs, struct bnd_ctx *cx, int nrows, const float *Lo,
           size_t n, const float *vlo, const float *vhi, size_t C)
{
    int sound = cs->sound;
    for (int i = 0; i < nrows; i++) {
        const float *lam = Lo + (size_t)i * n;
        if (!sound) {
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (size_t p0 = 0; p0 < n; p0 += C)
                dot8(lam + p0, vlo, C, acc);
            cx->cst[i] += sum8(acc);
            continue;
        }
        double sum[4] = {0, 0, 0, 0}, asum[4] = {0, 0, 0, 0};
        for (size_t p0 = 0; p0 < n; p0 += C)
            dot_sel(lam + p0, vlo, vhi, C, sum, asum);
        add_const(cs, cx, i, sum, asum, (long)n);
    }
}

/* cst[i] += sum_j Lo[i][j] * (Lo >= 0 ? vlo : vhi)[s][j] with per-sample values of
 * a value (n_val per sample), Lo in the window layout sg */
ROW_KERNEL static void
const_elem(struct bnd_crown_state *cs, struct bnd_ctx *cx, int nrows, const float *Lo,
           size_t n, const struct segs *sg, size_t n_val, const float *vlo,
           const float *vhi)
{
    for (int i = 0; i < nrows; i++) {
        size_t off = (size_t)cx->row_sample[i] * n_val;
        const float *lam = Lo + (size_t)i * n;
        if (!cs->sound) {
            /* float mode: branch-free, eight float partial sums (vectorises) */
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int t = 0; t < sg->n; t++) {
                size_t g = off + sg->g0 + t * sg->gs;
                sel_row(lam + sg->s0 + t * sg->ss, vlo + g, vhi + g, sg->len, acc);
            }
            cx->cst[i] += sum8(acc);
            continue;
        }
        double sum[4] = {0, 0, 0, 0}, asum[4] = {0, 0, 0, 0};
        for (int t = 0; t < sg->n; t++) {
            size_t g = off + sg->g0 + t * sg->gs;
            dot_sel(lam + sg->s0 + t * sg->ss, vlo + g, vhi + g, sg->len, sum, asum);
        }
        add_const(cs, cx, i, sum, asum, (long)n);
    }
}

static void zero_rows(float *x, int nrows, size_t n)
{
    for (int i = 0; i < nrows; i++)
        memset(x + (size_t)i * n, 0, n * sizeof(float));
}

/* ---- transposed layers ---------------------------------------------------------- */

/* Li (+)= col2im(Lo . W) for one conv layer, on the nonzero (row, position) pairs; Lo
 * rows in window wo of the output, Li rows in window wi of the input (which holds every
 * input position wo reads) */
ROW_KERNEL static void
conv_transpose(struct bnd_crown_state *cs, struct bnd_ctx *cx, const struct ibp_conv_geom *g,
               const float *Lo, float *Li, int nrows, const float *wp,
               const struct bnd_win *wo, const struct bnd_win *wi)
{
    int oww = wo->w1 - wo->w0, iww = wi->w1 - wi->w0;
    long P = win_empty(wo) ? 0 : (long)(wo->h1 - wo->h0) * oww;
    size_t n_out = (size_t)P * g->Co;
    size_t n_in = win_empty(wi) ? 0 : (size_t)(wi->h1 - wi->h0) * iww * g->C;
    long *rs = cx->rstart;
    for (int grp = 0; grp < g->groups; grp++) {
        /* nonzero positions per row */
        for (int i = 0; i < nrows; i++) {
            const float *lam = Lo + (size_t)i * n_out + (size_t)grp * g->og;
            long cnt = 0;
            for (long p = 0; p < P; p++) {
                const float *x = lam + (size_t)p * g->Co;
                for (int o = 0; o < g->og; o++)
                    if (x[o] != 0.0f) {
                        cnt++;
                        break;
                    }
            }
            rs[i + 1] = cnt;
        }
        rs[0] = 0;
        for (int i = 0; i < nrows; i++)
            rs[i + 1] += rs[i];
        int r0 = 0;
        while (r0 < nrows) {
            int r1 = r0 + 1;
            while (r1 < nrows && rs[r1 + 1] - rs[r0] <= cs->pmax)
                r1++;
            long base = rs[r0], np = rs[r1] - base;
            if (np > 0) {
                /* rows with every position nonzero (dense rows) are already the
                 * GEMM's operand: (row, position) pairs of Co floats, contiguous */
                int dense = g->groups == 1 && np == (long)(r1 - r0) * P;
                for (int i = r0; i < r1; i++) {
                    const float *lam = Lo + (size_t)i * n_out + (size_t)grp * g->og;
                    long e = rs[i] - base;
                    for (long p = 0; p < P; p++) {
                        const float *x = lam + (size_t)p * g->Co;
                        if (!dense) {
                            int nz = 0;
                            for (int o = 0; o < g->og; o++)
                                nz |= x[o] != 0.0f;
                            if (!nz)
                                continue;
                            memcpy(cx->acomp + (size_t)e * g->og, x,
                                   (size_t)g->og * sizeof(float));
                        }
                        cx->cidx[e++] = p;
                    }
                }
                const float *A = dense ? Lo + (size_t)r0 * n_out : cx->acomp;
                ibp_sgemm(0, 0, np, g->K, g->og, 1.0f, A, dense ? g->Co : g->og,
                          wp + (size_t)grp * g->og * g->K, g->K, 0.0f, cx->dcol, g->K,
                          1);
                for (int i = r0; i < r1; i++) {
                    float *dst0 = Li + (size_t)i * n_in + (size_t)grp * g->cg;
                    for (long e = rs[i] - base; e < rs[i + 1] - base; e++) {
                        long p = cx->cidx[e];
                        int oh = wo->h0 + (int)(p / oww), ow = wo->w0 + (int)(p % oww);
                        int iw0 = ow * g->sw - g->pw;
                        /* taps kj in [kj0, kj1) land inside the window (the rest is
                         * padding) */
                        int kj0 = 0, kj1 = g->kw;
                        while (kj0 < kj1 && iw0 + kj0 * g->dw < wi->w0)
                            kj0++;
                        while (kj1 > kj0 && iw0 + (kj1 - 1) * g->dw >= wi->w1)
                            kj1--;
                        if (kj0 >= kj1)
                            continue;
                        const float *src0 = cx->dcol + (size_t)e * g->K;
                        for (int ki = 0; ki < g->kh; ki++) {
                            int ih = oh * g->sh - g->ph + ki * g->dh;
                            if (ih < wi->h0 || ih >= wi->h1)
                                continue;
                            const float *src = src0 + ((size_t)ki * g->kw + kj0) * g->cg;
                            float *dst = dst0 + ((size_t)(ih - wi->h0) * iww +
                                                 (size_t)(iw0 + kj0 * g->dw - wi->w0)) * g->C;
                            if (g->dw == 1 && g->cg == g->C) { /* one contiguous run */
                                add_row(src, dst, (size_t)(kj1 - kj0) * g->C);
                                continue;
                            }
                            for (int kj = kj0; kj < kj1; kj++, src += g->cg)
                                add_row(src, dst + (size_t)(kj - kj0) * g->dw * g->C,
                                        (size_t)g->cg);
                        }
                    }
                }
            }
            r0 = r1;
        }
    }
}

/* whether window w spans the whole of a value of shape s */
static int win_whole(const struct bnd_win *w, struct ibp_shape s)
{
    return w->h0 == 0 && w->w0 == 0 && w->h1 == s.h && w->w1 == s.w;
}

/* Li += Lo . W for conv layer k on rows spanning the whole image (Lo [nrows][Ho][Wo][Co],
 * Li [nrows][H][W][C]), by the implicit GEMM's input gradient (conv_implicit.h) with
 * wt: the backward map's weight packed for it. Float mode only: it sums each element's
 * taps in one chain, longer than ly->coef allows for. */
static void conv_transpose_implicit(const struct ibp_net *net, int k, struct bnd_ctx *cx,
                                    const float *Lo, float *Li, int nrows, const float *wt)
{
    struct ibp_conv_geom ig = ibp_conv_geom_of(net, k);
    ibp_conv_implicit_input_grad(&ig, Lo, Li, nrows, wt, cx->dcol, 1);
}

typedef float v8f __attribute__((vector_size(32)));

/* d0, d1 [8 nv] = the tap sums sum_o x0[o] wz[o][.], sum_o x1[o] wz[o][.] over the
 * first 8 nv <= CONV_FEW_TAPS taps (two positions share each weight load; 2 nv vector
 * accumulators). Called with a constant nv, so each call keeps only its vectors. */
__attribute__((always_inline)) static inline void
tap_sums2(const float *x0, const float *x1, int Co, const float *wz, int nv, float *d0,
          float *d1)
{
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
    for (int o = 0; o < Co; o++) {
        const float *wr = wz + (size_t)o * CONV_FEW_TAPS;
        float u = x0[o], v = x1[o];
        v8f w;
        memcpy(&w, wr, sizeof w);
        a0 += u * w;
        b0 += v * w;
        if (nv > 1) {
            memcpy(&w, wr + 8, sizeof w);
            a1 += u * w;
            b1 += v * w;
        }
        if (nv > 2) {
            memcpy(&w, wr + 16, sizeof w);
            a2 += u * w;
            b2 += v * w;
        }
        if (nv > 3) {
            memcpy(&w, wr + 24, sizeof w);
            a3 += u * w;
            b3 += v * w;
        }
    }
    memcpy(d0, &a0, sizeof a0);
    memcpy(d1, &b0, sizeof b0);
    if (nv > 1) {
        memcpy(d0 + 8, &a1, sizeof a1);
        memcpy(d1 + 8, &b1, sizeof b1);
    }
    if (nv > 2) {
        memcpy(d0 + 16, &a2, sizeof a2);
        memcpy(d1 + 16, &b2, sizeof b2);
    }
    if (nv > 3) {
        memcpy(d0 + 24, &a3, sizeof a3);
        memcpy(d1 + 24, &b3, sizeof b3);
    }
}

/* Li (+)= col2im(Lo . W) for a layer with few taps (conv_taps.h: one group, K <= 32).
 * Per row: first every position's tap sums over the output channels, in vector
 * registers (wz: the weight [out][CONV_FEW_TAPS], zero beyond K), into D [P][32];
 * then the (position, tap) pairs that land inside the input window, listed once per
 * call (src: index into D, dst: into the row's window), are added in one loop. A GEMM
 * with K and N this small runs far below its rate. D holds P x 32 floats, idx
 * 2 P CONV_FEW_TAPS ints. With cst (float mode), column K of wz holds the bias and
 * cst[i] += Lo . bias comes out of the same sums. Compiled for AVX2 too (chosen at
 * load time): the same operations in the same order either way. */
ROW_KERNEL static void
conv_transpose_taps(const struct ibp_conv_geom *g, const float *Lo, float *Li, int nrows,
                    const float *wz, float *D, int *idx, const struct bnd_win *wo,
                    const struct bnd_win *wi, double *cst)
{
    if (win_empty(wo) || win_empty(wi))
        return;
    int oww = wo->w1 - wo->w0, iww = wi->w1 - wi->w0, Co = g->Co, C = g->C;
    long P = (long)(wo->h1 - wo->h0) * oww;
    size_t n_out = (size_t)P * Co, n_in = (size_t)(wi->h1 - wi->h0) * iww * C;
    int *src = idx, *dst = idx + P * CONV_FEW_TAPS;
    /* the taps (and the bias column) fit in three vectors: the fourth is zeros */
    int short_taps = g->K + (cst ? 1 : 0) <= 24;
    long n = 0;
    for (int ki = 0; ki < g->kh; ki++)
        for (int kj = 0; kj < g->kw; kj++)
            for (int c = 0; c < C; c++)
                for (long p = 0; p < P; p++) {
                    int oh = wo->h0 + (int)(p / oww), ow = wo->w0 + (int)(p % oww);
                    int ih = oh * g->sh - g->ph + ki * g->dh, iw = ow * g->sw - g->pw + kj * g->dw;
                    if (ih < wi->h0 || ih >= wi->h1 || iw < wi->w0 || iw >= wi->w1)
                        continue;
                    src[n] = (int)(p * CONV_FEW_TAPS + ((long)ki * g->kw + kj) * C + c);
                    dst[n++] = (int)(((long)(ih - wi->h0) * iww + (iw - wi->w0)) * C + c);
                }
    for (int i = 0; i < nrows; i++) {
        const float *lam = Lo + (size_t)i * n_out;
        for (long p = 0; p < P; p += 2) {
            long p1 = p + 1 < P ? p + 1 : p;
            const float *x0 = lam + (size_t)p * Co, *x1 = lam + (size_t)p1 * Co;
            float *d0 = D + (size_t)p * CONV_FEW_TAPS, *d1 = D + (size_t)p1 * CONV_FEW_TAPS;
            if (short_taps)
                tap_sums2(x0, x1, Co, wz, 3, d0, d1);
            else
                tap_sums2(x0, x1, Co, wz, 4, d0, d1);
        }
        if (cst) {
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (long p = 0; p < P; p++)
                acc[p & 7] += D[(size_t)p * CONV_FEW_TAPS + (size_t)g->K];
            cst[i] += sum8(acc);
        }
        float *y = Li + (size_t)i * n_in;
        for (long e = 0; e < n; e++)
            y[dst[e]] += D[src[e]];
    }
}

/* Li[i] += avgpool^T(Lo[i]) (windows as in conv_transpose) */
ROW_KERNEL static void
avgpool_transpose(struct bnd_crown_state *cs, struct bnd_ctx *cx,
                  const struct ibp_net *net, int k, const float *Lo, float *Li,
                  int nrows, const struct bnd_win *wo, const struct bnd_win *wi)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape is = net->shapes[l->in[0]];
    int C = is.c, oww = wo->w1 - wo->w0, iww = wi->w1 - wi->w0;
    size_t n_out = cx->wn[k + 1], n_in = cx->wn[l->in[0]];
    if (win_empty(wo))
        return;
    for (int i = 0; i < nrows; i++)
        for (int oh = wo->h0; oh < wo->h1; oh++)
            for (int ow = wo->w0; ow < wo->w1; ow++) {
                int h0 = oh * l->sh - l->ph, w0 = ow * l->sw - l->pw;
                int i0 = h0 < 0 ? 0 : h0, j0 = w0 < 0 ? 0 : w0;
                int i1 = h0 + l->kh > is.h ? is.h : h0 + l->kh;
                int j1 = w0 + l->kw > is.w ? is.w : w0 + l->kw;
                float inv = 1.0f / (l->count_pad ? (float)(l->kh * l->kw)
                                                 : (float)((i1 - i0) * (j1 - j0)));
                const float *src = Lo + (size_t)i * n_out +
                                   ((size_t)(oh - wo->h0) * oww + (size_t)(ow - wo->w0)) * C;
                for (int ih = i0; ih < i1; ih++)
                    for (int iw = j0; iw < j1; iw++) {
                        float *dst = Li + (size_t)i * n_in +
                                     ((size_t)(ih - wi->h0) * iww + (size_t)(iw - wi->w0)) * C;
                        for (int c = 0; c < C; c++)
                            dst[c] += src[c] * inv;
                    }
            }
}

/* Li += s (.) Lo (per channel) over the segments sg of Lo's window in Li's; with t
 * (float mode), also cst += Lo . t (per channel), fused */
ROW_KERNEL static void
diag_transpose(struct bnd_crown_state *cs, struct bnd_ctx *cx, const float *Lo,
               size_t n_out, float *Li, size_t n_in, int nrows,
               const struct segs *sg, int C, const float *s, const float *t)
{
    for (int i = 0; i < nrows; i++) {
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int q = 0; q < sg->n; q++) {
            const float *x = Lo + (size_t)i * n_out + sg->s0 + q * sg->ss;
            float *y = Li + (size_t)i * n_in + sg->d0 + q * sg->ds;
            if (C == 1) { /* one channel: one run over the whole segment */
                if (t)
                    affine_row1(x, s[0], t[0], y, sg->len, acc);
                else
                    affine_row1(x, s[0], 0.0f, y, sg->len, acc);
                continue;
            }
            for (size_t p0 = 0; p0 < sg->len; p0 += (size_t)C) {
                if (t)
                    affine_row(x + p0, s, t, y + p0, (size_t)C, acc);
                else
                    scale_add_row(x + p0, s, y + p0, (size_t)C);
            }
        }
        if (t)
            cx->cst[i] += sum8(acc);
    }
}

/* Li += relaxed ReLU slopes (.) Lo, and cst += the upper relaxation's intercepts where
 * Lo < 0 (fused: one pass over Lo). Float mode sums the intercepts in float (eight
 * partial sums), sound mode in double with the E3 allowance. With lo_row (float mode:
 * full CROWN's shared rows), row i of Lo is +-(row lo_row[i / 2] of Lo), + for even i
 * and - for odd i. */
ROW_KERNEL static void
relu_transpose(struct bnd_crown_state *cs, struct bnd_ctx *cx,
               const struct bnd_layer *ly, const float *Lo, size_t n_out, float *Li,
               size_t n_in, int nrows, const struct segs *sg, size_t n_val, const int *lo_row)
{
    int sound = cs->sound;
    for (int i = 0; i < nrows; i++) {
        size_t src = lo_row ? (size_t)lo_row[i / 2] : (size_t)i;
        float sx = lo_row && (i & 1) ? -1.0f : 1.0f;
        size_t off = (size_t)cx->row_sample[i] * n_val;
        double sum[4] = {0, 0, 0, 0}, asum[4] = {0, 0, 0, 0};
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int t = 0; t < sg->n; t++) {
            size_t g = off + sg->g0 + t * sg->gs;
            const float *slo = ly->slope_lo + g, *sup = ly->slope_up + g, *ic = ly->icpt + g;
            const float *x = Lo + src * n_out + sg->s0 + t * sg->ss;
            float *y = Li + (size_t)i * n_in + sg->d0 + t * sg->ds;
            if (!sound) {
                relu_row(x, sx, slo, sup, ic, y, sg->len, acc);
                continue;
            }
            for (size_t j = 0; j < sg->len; j++) {
                float xj = x[j];
                y[j] += xj * (xj >= 0.0f ? slo[j] : sup[j]);
                double c = xj < 0.0f ? (double)xj * ic[j] : 0.0;
                sum[j & 3] += c;
                asum[j & 3] += fabs(c);
            }
        }
        if (sound)
            add_const(cs, cx, i, sum, asum, (long)n_out);
        else
            cx->cst[i] += sum8(acc);
    }
}

/* flatten: value a is NHWC (hw positions, C channels), the vector c-major; whole
 * windows on both sides */
ROW_KERNEL static void
flatten_transpose(const float *Lo, float *Li, int nrows,
                  size_t hw, size_t C)
{
    size_t n = hw * C;
    for (int i = 0; i < nrows; i++) {
        const float *x = Lo + (size_t)i * n;
        float *y = Li + (size_t)i * n;
        for (size_t q = 0; q < hw; q++)
            for (size_t c = 0; c < C; c++)
                y[q * C + c] += x[c * hw + q];
    }
}

/* Li += Lo over the segments sg of Lo's window in Li's */
ROW_KERNEL static void
copy_add(const float *Lo, size_t n_out, float *Li,
         size_t n_in, int nrows, const struct segs *sg)
{
    for (int i = 0; i < nrows; i++)
        for (int t = 0; t < sg->n; t++) {
            const float *x = Lo + (size_t)i * n_out + sg->s0 + t * sg->ss;
            float *y = Li + (size_t)i * n_in + sg->d0 + t * sg->ds;
            for (size_t j = 0; j < sg->len; j++)
                y[j] += x[j];
        }
}

void ibp_crown_relu_shared(const struct ibp_net *net, struct bnd_crown_state *cs, struct bnd_ctx *cx,
                       int vs, const float *share, const int *row_of, int np)
{
    int k = vs - 1, a = net->layers[k].in[0];
    size_t n_out = cx->wn[vs], n_in = cx->wn[a];
    struct segs sd = segs_of(net, vs, &cx->win[vs], &cx->win[a]);
    float *Li = lam_of(cs, cx, a);
    zero_rows(Li, 2 * np, n_in);
    relu_transpose(cs, cx, &cs->ly[k], share, n_out, Li, n_in, 2 * np, &sd, cs->n[vs], row_of);
}

void ibp_crown_backward(const struct ibp_net *net, struct bnd_crown_state *cs, struct bnd_ctx *cx,
                    int v_start, int k_stop, int nrows, int concretize)
{
    int sound = cs->sound;
    /* one addition into an existing Lambda: |a + b - fl(a + b)| <= u|a + b| <= 2u|fl| */
    const double two_u = 2.0 * (double)FP_U;
    memset(cx->active, 0, (size_t)net->n_layers + 1);
    cx->active[v_start] = 1;
    for (int k = v_start - 1; k >= k_stop; k--) {
        if (!cx->active[k + 1])
            continue;
        const struct ibp_layer_spec *l = &net->layers[k];
        const struct bnd_layer *ly = &cs->ly[k];
        int a = l->in[0], acc = cx->active[a], v = k + 1;
        size_t n_out = cx->wn[v], n_in = cx->wn[a], nv_out = cs->n[v];
        const struct bnd_win *wo = &cx->win[v], *wi = &cx->win[a];
        struct segs so = segs_of(net, v, wo, wo);
        float *Lo = lam_of(cs, cx, v), *Li = lam_of(cs, cx, a);
        /* every step below adds into Li: a first write starts from zero */
        if (!acc && l->kind != IBP_LAYER_LINEAR && l->kind != IBP_LAYER_ADD && !ly->folded)
            zero_rows(Li, nrows, n_in);
        /* a BATCHNORM folded into the layer before it (bounds_impl.h) */
        const float *wb = ly->wfold ? ly->wfold : ly->wp, *bias = ly->bfold ? ly->bfold : ly->bias;
        switch (l->kind) {
        case IBP_LAYER_LINEAR:
            if (sound) {
                err_q(cs, cx, nrows, Lo, n_out, &so, nv_out, ly->q, ly->coef, ly->nuf, cs->msum[a]);
                if (acc)
                    err_mag(net, cs, cx, nrows, Li, a, ly->coef);
            }
            if (bias)
                const_chan(cs, cx, nrows, Lo, n_out, bias, bias, n_out);
            ibp_sgemm(0, 0, nrows, (long)n_in, (long)n_out, 1.0f, Lo, (long)n_out, wb,
                      (long)n_in, acc ? 1.0f : 0.0f, Li, (long)n_in,
                      1);
            break;
        case IBP_LAYER_CONV2D: {
            struct ibp_conv_geom g = ibp_conv_geom_of(net, k);
            if (sound) {
                err_q(cs, cx, nrows, Lo, n_out, &so, nv_out, ly->q, ly->coef, ly->nuf, cs->msum[a]);
                if (acc)
                    err_mag(net, cs, cx, nrows, Li, a, ly->coef);
            }
            if (bias && !ly->tapz_bias)
                const_chan(cs, cx, nrows, Lo, n_out, bias, bias, (size_t)g.Co);
            if (ly->wtapz)
                conv_transpose_taps(&g, Lo, Li, nrows, ly->wtapz, cx->dcol, cx->tapidx, wo, wi,
                                    ly->tapz_bias ? cx->cst : NULL);
            else if (ly->wtrans && win_whole(wo, net->shapes[v]) &&
                     win_whole(wi, net->shapes[a]))
                conv_transpose_implicit(net, k, cx, Lo, Li, nrows, ly->wtrans);
            else
                conv_transpose(cs, cx, &g, Lo, Li, nrows, wb, wo, wi);
            break;
        }
        case IBP_LAYER_BATCHNORM:
        case IBP_LAYER_NORMALIZE: {
            if (ly->folded)
                break; /* Li is Lo (one slot); the layer before applies it */
            int C = net->shapes[a].c;
            struct segs sd = segs_of(net, v, wo, wi);
            if (sound) {
                err_q(cs, cx, nrows, Lo, n_out, &so, nv_out, ly->q, 1.0, 1.0, cs->msum[a]);
                const_chan(cs, cx, nrows, Lo, n_out, ly->t_lo, ly->t_hi, (size_t)C);
            }
            diag_transpose(cs, cx, Lo, n_out, Li, n_in, nrows, &sd, C, ly->s_mid,
                           sound ? NULL : ly->t_lo);
            if (sound && acc)
                err_mag(net, cs, cx, nrows, Li, a, two_u);
            break;
        }
        case IBP_LAYER_RELU: {
            struct segs sd = segs_of(net, v, wo, wi);
            if (sound)
                err_q(cs, cx, nrows, Lo, n_out, &so, nv_out, ly->q, 1.0, 1.0, cs->msum[a]);
            relu_transpose(cs, cx, ly, Lo, n_out, Li, n_in, nrows, &sd, nv_out, NULL);
            if (sound && acc)
                err_mag(net, cs, cx, nrows, Li, a, two_u);
            break;
        }
        case IBP_LAYER_FLATTEN: {
            struct ibp_shape s = net->shapes[a];
            flatten_transpose(Lo, Li, nrows, (size_t)s.h * s.w, (size_t)s.c);
            if (sound && acc)
                err_mag(net, cs, cx, nrows, Li, a, two_u);
            break;
        }
        case IBP_LAYER_ADD:
            for (int t = 0; t < 2; t++) {
                int in = l->in[t], acc_t = cx->active[in];
                float *dst = lam_of(cs, cx, in);
                struct segs sd = segs_of(net, v, wo, &cx->win[in]);
                if (!acc_t)
                    zero_rows(dst, nrows, cx->wn[in]);
                copy_add(Lo, n_out, dst, cx->wn[in], nrows, &sd);
                if (sound && acc_t)
                    err_mag(net, cs, cx, nrows, dst, in, two_u);
                cx->active[in] = 1;
            }
            break;
        case IBP_LAYER_AVGPOOL:
            if (sound) {
                err_q(cs, cx, nrows, Lo, n_out, &so, nv_out, ly->q, ly->coef, ly->nuf, cs->msum[a]);
                if (acc)
                    err_mag(net, cs, cx, nrows, Li, a, ly->coef);
            }
            avgpool_transpose(cs, cx, net, k, Lo, Li, nrows, wo, wi);
            break;
        case IBP_LAYER_MAXPOOL:
            /* rejected at creation for the CROWN methods; the IBP fold never gets here */
            break;
        }
        cx->active[v] = 0;
        cx->active[a] = 1;
    }
    if (!concretize)
        return;
    for (int v = 0; v <= net->n_layers; v++)
        if (cx->active[v]) {
            struct segs sg = segs_of(net, v, &cx->win[v], &cx->win[v]);
            const_elem(cs, cx, nrows, lam_of(cs, cx, v), cx->wn[v], &sg, cs->n[v], cs->lo[v], cs->hi[v]);
        }
    for (int i = 0; i < nrows; i++)
        if (isnan(cx->cst[i]))
            cx->cst[i] = -INFINITY;
}
