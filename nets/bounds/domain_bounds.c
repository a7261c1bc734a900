/* domain_bounds.c — the batched α/β linear-bound engine (domain_bounds.h).
 *
 * Backward pass of one row (Λ a row vector, cst its constant), from Λ = C_r, cst = d_r:
 *   dense  y = W x + b:   cst += Λ·b,            Λ <- Λ W
 *   diag   y = s∘x + t:   cst += Λ·t,            Λ <- Λ∘s
 *   relu   split +1: Λ <- Λ - β;  split -1: Λ <- β;  stable on: Λ;  stable off: 0;
 *          free unstable: Λ_j >= 0: α_j Λ_j;  Λ_j < 0: k_j Λ_j, cst += Λ_j b_j
 *          (upper line k z + b, k = u/(u-l))
 *   box    lb = cst + Σ_j min(Λ_j lo_j, Λ_j hi_j).
 * The gradient is the adjoint: G = d lb / dΛ at the input is the box point x* (lo_j
 * where Λ_j >= 0, else hi_j), and going forward G_out = W G_in + b (dense), s∘G + t
 * (diag), and at a ReLU G_out_j = α_j G_in_j or k_j G_in_j + b_j (free, by the sign
 * that was used), G_in_j (on, split +1), 0 (off, split -1), with
 * d lb / dα_j = G_in_j Λ_out_j, d lb / dβ_j = -G_in_j (split +1) or +G_in_j (split -1). */
#include "nets/bounds/domain_bounds.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/bounds.h"
#include "nets/bounds/sound_fp.h"
#include "nets/kernels/gemm.h"

#define ETA_D 0x1p-1074 /* smallest positive subnormal double */
/* Stacked rows (domains x spec rows) per GEMM that blocks aim for: enough for BLIS's
 * micro-kernels to run at speed (a handful of rows is a memory-bound GEMV on the
 * weights). */
#define DOM_BLOCK_ROWS 64

enum dop_kind { DOP_DENSE, DOP_DIAG, DOP_RELU };

/* A convolution's geometry and weights [co][ci / groups][kh][kw] (as doubles), for the
 * structured products of a dense op that is a convolution: the engine multiplies by the
 * convolution's matrix as a GEMM on patches (im2col / col2im) instead of by the dense
 * matrix, which holds mostly zeros. */
struct dom_conv {
    int ci, hi, wi, co, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw, groups;
    double *w;
};

struct dom_op {
    enum dop_kind kind;
    int n_in, n_out;
    double *W, *b;           /* dense [n_out][n_in], [n_out]; diag: b = t (float mode) */
    struct dom_conv *cv;     /* dense: the convolution W is, or NULL */
    double *s, *t_lo, *t_hi; /* diag [n] */
    double *em;              /* sound: dense [n_out] >= Σ_j |W_ij| M_j; diag [n] >= dev_j M_j */
    double *sdev;            /* diag [n] >= |s' - s_j| for the real scale s' (build_op) */
    double *M;               /* [n_in] >= max |input| over the domain (intermediate bounds) */
    double *in_lo, *in_hi;   /* [n_in] the intermediate bounds of the input */
    double gam;              /* dense: gamma_{n_out} for double, rounded up */
    double tiny;             /* sound: underflow allowance, >= (n_out + 1) eta_d Σ_j M_j */
    int relu0;               /* relu: first neuron */
};

struct ibp_dom_problem {
    int n_ops, rows, n_relu, sound, threads, maxn;
    size_t n0;
    size_t conv_row;         /* doubles of patch scratch per stacked row (conv_scratch) */
    struct dom_op *ops;
    double *lo, *hi;         /* [n0] the box of op 0's input */
    double *C, *d;           /* [rows][outputs], [rows]: the rows bounded now */
    double *C_all, *d_all;   /* the same for the rows at creation */
    float *crown_all;        /* [rows at creation] */
    double *out_lo, *out_hi; /* [outputs] the intermediate bounds of the network's output */
    double *rl, *ru, *rb;    /* [n_relu] ReLU input bounds, producing bias */
    double *k, *bup;         /* [n_relu] upper line (bup sound in sound mode) */
    float *crown_lb;         /* [rows] */
    int view;                /* 1: a prefix view (ibp_dom_problem_prefix): ops and
                                intermediate bounds belong to the problem it views */
};

/* --- sound double helpers (model A1/A2 of sound_fp.h, for double: u_d = 2^-53) --- */

/* gamma_n = n u_d / (1 - n u_d) rounded up; as fp_gamma, the double evaluation errs by
 * far less than the 2^-40 relative margin. Needs n u_d < 1/2. */
static double dgamma_up(long n)
{
    double nu = (double)n * FP_UD;
    return fp_dup(nu / (1.0 - nu) * (1.0 + 0x1p-40));
}

/* An upper bound of the real Σ_i x_i y_i for non-negative doubles x, y. Proof: each
 * product rounds to p̂_i >= p_i (1 - u_d) - eta_d/2, so Σ p_i <= (Σ p̂_i + n eta_d/2)
 * / (1 - u_d); the double sum of the p̂_i is bounded by E2 (fp_dsum_up), and
 * 1/(1 - u_d) <= 1 + 4 u_d; each step rounds up (R1). */
static double dot_abs_up(const double *x, const double *y, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += fabs(x[i]) * y[i];
    return fp_dup(fp_dup(fp_dsum_up(s, n > 0 ? n : 1) + (double)n * ETA_D) * (1.0 + 4.0 * FP_UD));
}

/* --- creation --- */

static void op_free(struct dom_op *o)
{
    if (o->cv)
        free(o->cv->w);
    free(o->cv);
    free(o->W);
    free(o->b);
    free(o->s);
    free(o->t_lo);
    free(o->t_hi);
    free(o->em);
    free(o->sdev);
    free(o->M);
    free(o->in_lo);
    free(o->in_hi);
}

void ibp_dom_problem_free(struct ibp_dom_problem *p)
{
    if (!p)
        return;
    if (p->view) {
        free(p->C);
        free(p->d);
        free(p->C_all);
        free(p->d_all);
        free(p->crown_all);
        free(p->crown_lb);
        free(p);
        return;
    }
    for (int i = 0; i < p->n_ops; i++)
        op_free(&p->ops[i]);
    free(p->ops);
    free(p->lo);
    free(p->hi);
    free(p->C);
    free(p->d);
    free(p->C_all);
    free(p->d_all);
    free(p->crown_all);
    free(p->out_lo);
    free(p->out_hi);
    free(p->rl);
    free(p->ru);
    free(p->rb);
    free(p->k);
    free(p->bup);
    free(p->crown_lb);
    free(p);
}

/* The bounder's bounds of value v (NHWC) into CHW doubles. */
static void value_bounds(const struct ibp_net *net, const struct ibp_bounder *b, int v,
                         double *lo, double *hi)
{
    const float *l, *u;
    ibp_bounder_value_bounds(b, v, 0, &l, &u);
    struct ibp_shape s = net->shapes[v];
    size_t hw = (size_t)s.h * s.w;
    for (int c = 0; c < s.c; c++)
        for (size_t q = 0; q < hw; q++) {
            lo[(size_t)c * hw + q] = l[q * (size_t)s.c + c];
            hi[(size_t)c * hw + q] = u[q * (size_t)s.c + c];
        }
}

static void conv_dense(const struct ibp_net *net, int k, double *W)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[k], out = net->shapes[k + 1];
    const float *w = ibp_layer_weight(net, k);
    int cg = in.c / l->groups, og = out.c / l->groups;
    size_t n_in = ibp_shape_size(in);
    for (int co = 0; co < out.c; co++)
        for (int oh = 0; oh < out.h; oh++)
            for (int ow = 0; ow < out.w; ow++) {
                double *row = W + (((size_t)co * out.h + oh) * out.w + ow) * n_in;
                for (int cl = 0; cl < cg; cl++)
                    for (int a = 0; a < l->kh; a++)
                        for (int c2 = 0; c2 < l->kw; c2++) {
                            int ih = oh * l->sh - l->ph + a * l->dh;
                            int iw = ow * l->sw - l->pw + c2 * l->dw;
                            if (ih < 0 || ih >= in.h || iw < 0 || iw >= in.w)
                                continue;
                            int ci = (co / og) * cg + cl;
                            row[((size_t)ci * in.h + ih) * in.w + iw] +=
                                w[(((size_t)co * cg + cl) * l->kh + a) * l->kw + c2];
                        }
            }
}

/* The patch products pay when each output reads far fewer inputs than the dense row
 * holds (the zeros a dense GEMM multiplies). */
#define CONV_STRUCTURED_RATIO 4

/* o->cv for conv layer k when its patch products beat the dense matrix. */
static enum ibp_status conv_structured(const struct ibp_net *net, int k, struct dom_op *o)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[k], out = net->shapes[k + 1];
    size_t taps = (size_t)(in.c / l->groups) * l->kh * l->kw;
    if (taps * CONV_STRUCTURED_RATIO > ibp_shape_size(in))
        return IBP_OK;
    struct dom_conv *cv = malloc(sizeof *cv);
    if (!cv)
        return IBP_ERR_NOMEM;
    *cv = (struct dom_conv){in.c, in.h, in.w, out.c, out.h, out.w, l->kh, l->kw,
                            l->sh, l->sw, l->ph, l->pw, l->dh, l->dw, l->groups, NULL};
    cv->w = malloc((size_t)out.c * taps * sizeof(double));
    o->cv = cv;
    if (!cv->w)
        return IBP_ERR_NOMEM;
    const float *w = ibp_layer_weight(net, k);
    for (size_t i = 0; i < (size_t)out.c * taps; i++)
        cv->w[i] = w[i];
    return IBP_OK;
}

/* Doubles of patch scratch per stacked row that op o's structured products need. */
static size_t conv_scratch(const struct dom_op *o)
{
    const struct dom_conv *c = o->cv;
    if (!c)
        return 0;
    size_t kk = (size_t)c->ci * c->kh * c->kw;
    return (size_t)c->ho * c->wo * (kk + (size_t)c->co);
}

/* Input (ih, iw) of output (oh, ow) at tap (a, b), or -1 in the padding. */
static long conv_at(const struct dom_conv *c, int ci, int oh, int ow, int a, int b)
{
    int ih = oh * c->sh - c->ph + a * c->dh, iw = ow * c->sw - c->pw + b * c->dw;
    if (ih < 0 || ih >= c->hi || iw < 0 || iw >= c->wi)
        return -1;
    return ((long)ci * c->hi + ih) * c->wi + iw;
}

/* out[R][ld] = lam[R][ld] · W for the convolution's matrix W [co·ho·wo][ci·hi·wi]
 * (both CHW): per group, the rows' output coefficients as [R·ho·wo][co] times the
 * weights [co][ci k k] give each patch's coefficients, added back onto the inputs
 * (col2im). scratch: conv_scratch(o) doubles per row. */
static void conv_backward(const struct dom_op *o, int R, const double *lam, double *out, long ld,
                          double *scratch)
{
    const struct dom_conv *c = o->cv;
    long hw = (long)c->ho * c->wo, kk = (long)c->ci * c->kh * c->kw, M = (long)R * hw;
    long cg = c->ci / c->groups, og = c->co / c->groups, kg = cg * c->kh * c->kw;
    double *A = scratch, *T = scratch + M * c->co;
    for (int q = 0; q < R; q++)
        for (int ch = 0; ch < c->co; ch++)
            for (long s = 0; s < hw; s++)
                A[((long)q * hw + s) * c->co + ch] = lam[(long)q * ld + ch * hw + s];
    for (int g = 0; g < c->groups; g++)
        ibp_dgemm_serial(0, 0, M, kg, og, 1.0, A + g * og, c->co, c->w + g * og * kg, kg, 0.0,
                         T + g * kg, kk);
    for (int q = 0; q < R; q++) {
        double *oq = out + (long)q * ld;
        memset(oq, 0, (size_t)o->n_in * sizeof(double));
        for (int oh = 0; oh < c->ho; oh++)
            for (int ow = 0; ow < c->wo; ow++) {
                const double *t = T + ((long)q * hw + (long)oh * c->wo + ow) * kk;
                for (int ci = 0; ci < c->ci; ci++)
                    for (int a = 0; a < c->kh; a++)
                        for (int b = 0; b < c->kw; b++) {
                            long j = conv_at(c, ci, oh, ow, a, b);
                            if (j >= 0)
                                oq[j] += t[((long)ci * c->kh + a) * c->kw + b];
                        }
            }
    }
}

/* out[R][ld] = W · x[R][ld] + b per row (the forward product of conv_backward's W): the
 * rows' patches (im2col) [R·ho·wo][ci k k] times the weights give [R·ho·wo][co]. */
static void conv_forward(const struct dom_op *o, int R, const double *x, double *out, long ld,
                         double *scratch)
{
    const struct dom_conv *c = o->cv;
    long hw = (long)c->ho * c->wo, kk = (long)c->ci * c->kh * c->kw, M = (long)R * hw;
    long cg = c->ci / c->groups, og = c->co / c->groups, kg = cg * c->kh * c->kw;
    double *X = scratch, *Y = scratch + M * kk;
    for (int q = 0; q < R; q++)
        for (int oh = 0; oh < c->ho; oh++)
            for (int ow = 0; ow < c->wo; ow++) {
                double *t = X + ((long)q * hw + (long)oh * c->wo + ow) * kk;
                for (int ci = 0; ci < c->ci; ci++)
                    for (int a = 0; a < c->kh; a++)
                        for (int b = 0; b < c->kw; b++) {
                            long j = conv_at(c, ci, oh, ow, a, b);
                            t[((long)ci * c->kh + a) * c->kw + b] =
                                j >= 0 ? x[(long)q * ld + j] : 0.0;
                        }
            }
    for (int g = 0; g < c->groups; g++)
        ibp_dgemm_serial(0, 1, M, og, kg, 1.0, X + g * kg, kk, c->w + g * og * kg, kg, 0.0,
                         Y + g * og, c->co);
    for (int q = 0; q < R; q++)
        for (int ch = 0; ch < c->co; ch++)
            for (long s = 0; s < hw; s++)
                out[(long)q * ld + ch * hw + s] =
                    Y[((long)q * hw + s) * c->co + ch] + o->b[ch * hw + s];
}

static int diag_affine(const struct ibp_net *net, int k, int c, struct fp_affine *a)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if (l->kind == IBP_LAYER_BATCHNORM)
        return fp_bn_affine(ibp_bn_gamma(net, k)[c], ibp_bn_beta(net, k)[c],
                            ibp_bn_running_mean(net, k)[c], ibp_bn_running_var(net, k)[c],
                            l->eps, a);
    return fp_normalize_affine(ibp_normalize_mean(net, k)[c], ibp_normalize_std(net, k)[c], a);
}

static enum ibp_status build_op(const struct ibp_net *net, struct ibp_dom_problem *p, int k,
                                struct dom_op *o, int *relu_next, struct ibp_error *err)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[k];
    size_t n_in = ibp_shape_size(in), n_out = ibp_shape_size(net->shapes[k + 1]);
    o->n_in = (int)n_in;
    o->n_out = (int)n_out;
    if (l->kind == IBP_LAYER_LINEAR || l->kind == IBP_LAYER_CONV2D) {
        o->kind = DOP_DENSE;
        o->W = calloc(n_in * n_out, sizeof(double));
        o->b = calloc(n_out, sizeof(double));
        if (!o->W || !o->b)
            return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: %zu bytes for layer %d",
                            n_in * n_out * sizeof(double), k);
        if (l->kind == IBP_LAYER_LINEAR) {
            const float *w = ibp_layer_weight(net, k);
            for (size_t i = 0; i < n_in * n_out; i++)
                o->W[i] = w[i];
        } else {
            conv_dense(net, k, o->W);
            if (conv_structured(net, k, o) != IBP_OK)
                return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: layer %d", k);
        }
        const float *bias = ibp_layer_bias(net, k);
        size_t hw = n_out / (size_t)net->shapes[k + 1].c;
        for (size_t i = 0; bias && i < n_out; i++)
            o->b[i] = bias[i / hw];
        o->gam = dgamma_up((long)n_out);
    } else if (l->kind == IBP_LAYER_BATCHNORM || l->kind == IBP_LAYER_NORMALIZE) {
        o->kind = DOP_DIAG;
        o->s = malloc(n_in * sizeof(double));
        o->b = malloc(n_in * sizeof(double));
        o->t_lo = malloc(n_in * sizeof(double));
        o->t_hi = malloc(n_in * sizeof(double));
        o->em = malloc(n_in * sizeof(double));
        o->sdev = malloc(n_in * sizeof(double));
        if (!o->s || !o->b || !o->t_lo || !o->t_hi || !o->em || !o->sdev)
            return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: layer %d", k);
        size_t hw = (size_t)in.h * in.w;
        for (int c = 0; c < in.c; c++) {
            struct fp_affine a;
            if (!diag_affine(net, k, c, &a))
                return ibp_fail(err, IBP_ERR_NUMERIC, "domain bounds: layer %d (%s): no "
                                "affine map for channel %d", k, ibp_layer_kind_name(l->kind), c);
            /* float mode: t = beta - mean s (BN) or -mean / sd (Normalize), in double */
            double t = l->kind == IBP_LAYER_BATCHNORM
                           ? (double)ibp_bn_beta(net, k)[c] -
                                 (double)ibp_bn_running_mean(net, k)[c] * a.s_mid
                           : -(double)ibp_normalize_mean(net, k)[c] / ibp_normalize_std(net, k)[c];
            /* dev >= |s - s_mid| for every real s in [s_lo, s_hi], plus u_d |s_mid| for
             * the rounding of Λ s_mid (see eval's diag step) */
            double dev = fp_dup(fmax(fp_dup((double)a.s_hi - a.s_mid),
                                     fp_dup((double)a.s_mid - a.s_lo)) +
                                fp_dup(FP_UD * fabs((double)a.s_mid)));
            for (size_t q = 0; q < hw; q++) {
                size_t e = (size_t)c * hw + q;
                o->s[e] = a.s_mid;
                o->b[e] = t;
                o->t_lo[e] = a.t_lo;
                o->t_hi[e] = a.t_hi;
                o->em[e] = dev;
                o->sdev[e] = dev;
            }
        }
    } else if (l->kind == IBP_LAYER_RELU) {
        o->kind = DOP_RELU;
        o->relu0 = *relu_next;
        *relu_next += (int)n_in;
    } else {
        return ibp_fail(err, IBP_ERR_UNSUPPORTED, "domain bounds: layer %d (%s) is not "
                        "supported (feed-forward Linear/Conv2d/BatchNorm/Normalize/Flatten/ReLU "
                        "only)", k, ibp_layer_kind_name(l->kind));
    }
    (void)p;
    return IBP_OK;
}

/* The magnitudes M of op o's input (value v), and the sound allowances that use them. */
static enum ibp_status op_magnitudes(const struct ibp_net *net, const struct ibp_bounder *bd,
                                     int v, struct dom_op *o, double *lo, double *hi,
                                     struct ibp_error *err)
{
    o->M = malloc((size_t)o->n_in * sizeof(double));
    o->in_lo = malloc((size_t)o->n_in * sizeof(double));
    o->in_hi = malloc((size_t)o->n_in * sizeof(double));
    if (!o->M || !o->in_lo || !o->in_hi)
        return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: magnitudes");
    value_bounds(net, bd, v, lo, hi);
    memcpy(o->in_lo, lo, (size_t)o->n_in * sizeof(double));
    memcpy(o->in_hi, hi, (size_t)o->n_in * sizeof(double));
    double msum = 0.0;
    for (int j = 0; j < o->n_in; j++) {
        o->M[j] = fmax(fabs(lo[j]), fabs(hi[j]));
        msum += o->M[j];
    }
    /* msum is a double sum of exact non-negative terms: E2 bounds the real sum */
    msum = fp_dsum_up(msum, o->n_in);
    o->tiny = fp_dup((double)(o->n_out + 1) * ETA_D * msum);
    if (o->kind == DOP_DENSE) {
        o->em = malloc((size_t)o->n_out * sizeof(double));
        if (!o->em)
            return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: magnitudes");
        for (int i = 0; i < o->n_out; i++)
            o->em[i] = dot_abs_up(o->W + (size_t)i * o->n_in, o->M, o->n_in);
    } else if (o->kind == DOP_DIAG) {
        for (int j = 0; j < o->n_in; j++)
            o->em[j] = fp_dup(o->em[j] * o->M[j]);
    }
    return IBP_OK;
}

/* The upper line of neuron j: k = u/(u-l); b >= u - k u and b >= -k l makes k z + b lie
 * above ReLU on [l, u] (ReLU is convex, so the two ends suffice: E6 in double). */
static void upper_line(double l, double u, int sound, double *k, double *b)
{
    if (!(l < 0.0) || !(u > 0.0)) {
        *k = 0.0;
        *b = 0.0;
    } else if (isinf(u)) {
        *k = 1.0;
        *b = isinf(l) ? INFINITY : -l;
    } else if (isinf(l)) {
        *k = 0.0;
        *b = u;
    } else {
        *k = u / (u - l);
        *b = sound ? fmax(fp_dup(u - fp_ddn(*k * u)), fp_dup(-fp_ddn(*k * l))) : -*k * l;
    }
}

enum ibp_status ibp_dom_problem_create(const struct ibp_net *net, const float *lo,
                                       const float *hi, const float *C, const float *d,
                                       int rows, int sound, int threads,
                                       struct ibp_dom_problem **out, struct ibp_error *err)
{
    *out = NULL;
    int L = net->n_layers, outs = ibp_net_outputs(net);
    if (rows < 1 || threads < 1)
        return ibp_fail(err, IBP_ERR_ARG, "domain bounds: rows and threads must be positive");
    for (int k = 0; k < L; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        if (l->kind == IBP_LAYER_ADD || l->kind == IBP_LAYER_AVGPOOL ||
            l->kind == IBP_LAYER_MAXPOOL || l->in[0] != k)
            return ibp_fail(err, IBP_ERR_UNSUPPORTED, "domain bounds: layer %d (%s) is not "
                            "supported (feed-forward Linear/Conv2d/BatchNorm/Normalize/Flatten/"
                            "ReLU only)", k, ibp_layer_kind_name(l->kind));
    }
    struct ibp_dom_problem *p = calloc(1, sizeof *p);
    if (!p)
        return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: problem");
    p->rows = rows;
    p->sound = sound;
    p->threads = threads;
    p->n0 = ibp_shape_size(net->input);
    p->n_relu = 0;
    for (int k = 0; k < L; k++)
        if (net->layers[k].kind == IBP_LAYER_RELU)
            p->n_relu += (int)ibp_shape_size(net->shapes[k]);
    p->ops = calloc((size_t)L, sizeof *p->ops);
    p->lo = malloc(p->n0 * sizeof(double));
    p->hi = malloc(p->n0 * sizeof(double));
    p->C = malloc((size_t)rows * outs * sizeof(double));
    p->d = calloc((size_t)rows, sizeof(double));
    p->out_lo = malloc((size_t)outs * sizeof(double));
    p->out_hi = malloc((size_t)outs * sizeof(double));
    size_t nr = p->n_relu > 0 ? (size_t)p->n_relu : 1;
    p->rl = malloc(nr * sizeof(double));
    p->ru = malloc(nr * sizeof(double));
    p->rb = calloc(nr, sizeof(double));
    p->k = malloc(nr * sizeof(double));
    p->bup = malloc(nr * sizeof(double));
    p->crown_lb = malloc((size_t)rows * sizeof(float));
    size_t maxv = 0;
    for (int v = 0; v <= L; v++) {
        size_t n = ibp_shape_size(net->shapes[v]);
        maxv = n > maxv ? n : maxv;
    }
    double *vlo = malloc(maxv * sizeof(double)), *vhi = malloc(maxv * sizeof(double));
    struct ibp_bounder *bd = NULL;
    enum ibp_status st = IBP_OK;
    if (!p->ops || !p->lo || !p->hi || !p->C || !p->d || !p->out_lo || !p->out_hi || !p->rl || !p->ru || !p->rb ||
        !p->k || !p->bup || !p->crown_lb || !vlo || !vhi) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: problem");
        goto done;
    }
    p->maxn = (int)maxv;
    for (size_t i = 0; i < (size_t)rows * outs; i++)
        p->C[i] = C[i];
    for (int r = 0; d && r < rows; r++)
        p->d[r] = d[r];
    /* intermediate bounds: full CROWN on this box */
    struct ibp_bounder_config cfg = {IBP_BOUND_CROWN, sound, 1, rows};
    st = ibp_bounder_create(net, &cfg, &bd, err);
    if (st != IBP_OK)
        goto done;
    ibp_bounder_set_threads(bd, threads);
    struct ibp_spec spec = {NULL, C, rows};
    st = ibp_bounder_run(net, bd, lo, hi, 1, &spec, p->crown_lb, err);
    if (st != IBP_OK)
        goto done;
    for (int r = 0; r < rows; r++) /* + d_r, rounded down in sound mode (R1) */
        p->crown_lb[r] = sound ? fp_to_float_dn(fp_ddn((double)p->crown_lb[r] + p->d[r]))
                               : (float)((double)p->crown_lb[r] + p->d[r]);
    int relu_next = 0;
    for (int k = 0; k < L && st == IBP_OK; k++) {
        if (net->layers[k].kind == IBP_LAYER_FLATTEN)
            continue;
        struct dom_op *o = &p->ops[p->n_ops++];
        st = build_op(net, p, k, o, &relu_next, err);
        if (st == IBP_OK)
            st = op_magnitudes(net, bd, k, o, vlo, vhi, err);
        p->conv_row = conv_scratch(o) > p->conv_row ? conv_scratch(o) : p->conv_row;
        if (st == IBP_OK && o->kind == DOP_RELU) {
            for (int j = 0; j < o->n_in; j++) {
                int n = o->relu0 + j;
                p->rl[n] = vlo[j];
                p->ru[n] = vhi[j];
                upper_line(vlo[j], vhi[j], sound, &p->k[n], &p->bup[n]);
                if (p->n_ops >= 2) {
                    const struct dom_op *pr = &p->ops[p->n_ops - 2];
                    p->rb[n] = pr->b ? pr->b[j] : 0.0;
                }
            }
        }
    }
    if (st == IBP_OK) {
        value_bounds(net, bd, L, vlo, vhi);
        memcpy(p->out_lo, vlo, (size_t)outs * sizeof(double));
        memcpy(p->out_hi, vhi, (size_t)outs * sizeof(double));
        for (size_t i = 0; i < p->n0; i++) {
            p->lo[i] = lo[i];
            p->hi[i] = hi[i];
        }
        if (p->n_ops == 0)
            st = ibp_fail(err, IBP_ERR_UNSUPPORTED, "domain bounds: network has no layers");
    }
    if (st == IBP_OK) { /* the creation rows, for ibp_dom_problem_keep_rows */
        p->C_all = malloc((size_t)rows * outs * sizeof(double));
        p->d_all = malloc((size_t)rows * sizeof(double));
        p->crown_all = malloc((size_t)rows * sizeof(float));
        if (!p->C_all || !p->d_all || !p->crown_all)
            st = ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: problem");
    }
    if (st == IBP_OK) {
        memcpy(p->C_all, p->C, (size_t)rows * outs * sizeof(double));
        memcpy(p->d_all, p->d, (size_t)rows * sizeof(double));
        memcpy(p->crown_all, p->crown_lb, (size_t)rows * sizeof(float));
    }
done:
    ibp_bounder_free(bd);
    free(vlo);
    free(vhi);
    if (st != IBP_OK) {
        ibp_dom_problem_free(p);
        return st;
    }
    *out = p;
    return IBP_OK;
}

int ibp_dom_rows(const struct ibp_dom_problem *p) { return p->rows; }

void ibp_dom_problem_keep_rows(struct ibp_dom_problem *p, const int *keep, int n)
{
    size_t outs = (size_t)p->ops[p->n_ops - 1].n_out;
    for (int i = 0; i < n; i++) {
        memcpy(p->C + (size_t)i * outs, p->C_all + (size_t)keep[i] * outs, outs * sizeof(double));
        p->d[i] = p->d_all[keep[i]];
        p->crown_lb[i] = p->crown_all[keep[i]];
    }
    p->rows = n;
}
int ibp_dom_relus(const struct ibp_dom_problem *p) { return p->n_relu; }

/* The op index of ReLU layer m, or -1. */
static int relu_op(const struct ibp_dom_problem *p, int m)
{
    for (int i = 0; i < p->n_ops; i++)
        if (p->ops[i].kind == DOP_RELU && m-- == 0)
            return i;
    return -1;
}

int ibp_dom_relu_layers(const struct ibp_dom_problem *p)
{
    int n = 0;
    for (int i = 0; i < p->n_ops; i++)
        n += p->ops[i].kind == DOP_RELU;
    return n;
}

void ibp_dom_relu_layer(const struct ibp_dom_problem *p, int m, int *first, int *n)
{
    const struct dom_op *o = &p->ops[relu_op(p, m)];
    *first = o->relu0;
    *n = o->n_in;
}

enum ibp_status ibp_dom_problem_prefix(const struct ibp_dom_problem *p, int m, const double *C,
                                       int rows, struct ibp_dom_problem **out,
                                       struct ibp_error *err)
{
    *out = NULL;
    int oi = m >= 0 ? relu_op(p, m) : -1;
    if (oi < 1 || rows < 1 || p->view)
        return ibp_fail(err, IBP_ERR_ARG, "domain bounds: ReLU layer %d has no affine layer "
                                          "before it, or no rows", m);
    size_t n = (size_t)p->ops[oi].n_in;
    struct ibp_dom_problem *v = malloc(sizeof *v);
    if (!v)
        return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: prefix");
    *v = *p;
    v->view = 1;
    v->n_ops = oi;
    v->rows = rows;
    v->C = malloc((size_t)rows * n * sizeof(double));
    v->d = calloc((size_t)rows, sizeof(double));
    v->C_all = malloc((size_t)rows * n * sizeof(double));
    v->d_all = calloc((size_t)rows, sizeof(double));
    v->crown_lb = malloc((size_t)rows * sizeof(float));
    v->crown_all = malloc((size_t)rows * sizeof(float));
    if (!v->C || !v->d || !v->C_all || !v->d_all || !v->crown_lb || !v->crown_all) {
        ibp_dom_problem_free(v);
        return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: prefix of %d rows", rows);
    }
    memcpy(v->C, C, (size_t)rows * n * sizeof(double));
    memcpy(v->C_all, C, (size_t)rows * n * sizeof(double));
    for (int r = 0; r < rows; r++)
        v->crown_lb[r] = v->crown_all[r] = -INFINITY;
    *out = v;
    return IBP_OK;
}

void ibp_dom_tighten_relu(struct ibp_dom_problem *p, int j, double l, double u)
{
    p->rl[j] = fmax(p->rl[j], l);
    p->ru[j] = fmin(p->ru[j], u);
    upper_line(p->rl[j], p->ru[j], p->sound, &p->k[j], &p->bup[j]);
}
size_t ibp_dom_inputs(const struct ibp_dom_problem *p) { return p->n0; }
const float *ibp_dom_crown_bounds(const struct ibp_dom_problem *p) { return p->crown_lb; }

int ibp_dom_unstable(const struct ibp_dom_problem *p, int j)
{
    return p->rl[j] < 0.0 && p->ru[j] > 0.0;
}

void ibp_dom_relu_bounds(const struct ibp_dom_problem *p, int j, double *l, double *u)
{
    *l = p->rl[j];
    *u = p->ru[j];
}

double ibp_dom_relu_bias(const struct ibp_dom_problem *p, int j) { return p->rb[j]; }

double ibp_dom_babsr_score(const struct ibp_dom_problem *p, int j, double lam)
{
    double l = p->rl[j], u = p->ru[j], b = p->rb[j];
    double sl = u / (u - l), t = -l * sl;
    double sc = fabs(fmax(b * lam * (sl - 1.0), b * lam * sl) + fmin(lam, 0.0) * t);
    return isnan(sc) ? 0.0 : sc;
}

int ibp_dom_layer_count(const struct ibp_dom_problem *p) { return p->n_ops; }

void ibp_dom_layer_get(const struct ibp_dom_problem *p, int i, struct ibp_dom_layer *out)
{
    const struct dom_op *o = &p->ops[i];
    static const enum ibp_dom_layer_kind kinds[] = {IBP_DOM_DENSE, IBP_DOM_DIAG, IBP_DOM_RELU};
    *out = (struct ibp_dom_layer){kinds[o->kind], o->n_in, o->n_out, NULL, NULL, NULL, NULL,
                                  NULL, NULL, o->in_lo, o->in_hi, -1};
    if (o->kind == DOP_DENSE) {
        out->W = o->W;
        out->b = o->b;
    } else if (o->kind == DOP_DIAG) {
        out->s = o->s;
        out->s_dev = o->sdev;
        out->t_lo = o->t_lo;
        out->t_hi = o->t_hi;
    } else {
        out->relu0 = o->relu0;
    }
}

void ibp_dom_output_bounds(const struct ibp_dom_problem *p, const double **lo, const double **hi)
{
    *lo = p->out_lo;
    *hi = p->out_hi;
}

void ibp_dom_box(const struct ibp_dom_problem *p, const double **lo, const double **hi)
{
    *lo = p->lo;
    *hi = p->hi;
}

void ibp_dom_spec(const struct ibp_dom_problem *p, const double **C, const double **d)
{
    *C = p->C;
    *d = p->d;
}

void ibp_dom_alpha_init(const struct ibp_dom_problem *p, double *alpha)
{
    for (int r = 0; r < p->rows; r++)
        for (int j = 0; j < p->n_relu; j++)
            alpha[(size_t)r * p->n_relu + j] = p->ru[j] > -p->rl[j] ? 1.0 : 0.0;
}

/* --- evaluation --- */

/* One row's constant in sound mode: the double sum s of computed terms t̂_i, the sum a
 * of their |t̂_i|, their count n, and e >= the total of the rounding allowances of the
 * backward steps. */
struct cst_acc {
    double s, a, e;
    long n;
};

static void acc_term(struct cst_acc *c, double t)
{
    c->s += t;
    c->a += fabs(t);
    c->n++;
}

static void acc_err(struct cst_acc *c, double e)
{
    c->e = fp_dup(c->e + e);
}

/* A lower bound of the real Σ t_i whose computed terms t̂_i (each one rounded product
 * of exact doubles, or exact) went into c, minus the allowances c->e. Proof: E3
 * (fp_dsum_lower) bounds the real Σ t̂_i from below; |t_i - t̂_i| <= u_d |t_i| +
 * eta_d/2 <= 2 u_d |t̂_i| + eta_d, and Σ|t̂_i| <= fp_dsum_up(a, n) (E2); every step rounds
 * outward (R1). */
static double acc_lower(const struct cst_acc *c)
{
    long n = c->n > 0 ? c->n : 1;
    double prod = fp_dup(2.0 * FP_UD * fp_dsum_up(c->a, n) + (double)n * ETA_D);
    return fp_ddn(fp_ddn(fp_dsum_lower(c->s, c->a, n) - prod) - c->e);
}

struct blk_scratch {
    double *lam, *lam2, *g, *g2, *lr; /* [R][maxn] x4, lam_relu [R][n_relu] */
    double *cs;                       /* [R][conv_row] patch scratch */
    struct cst_acc *acc;              /* [R] */
    double *cst;                      /* [R] */
};

/* Neuron j's state in domain split row sp: +1 / -1 split or stable, 0 free unstable. */
static int relu_state(const struct ibp_dom_problem *p, const signed char *sp, int j)
{
    if (sp[j])
        return sp[j] > 0 ? 2 : -2;
    if (!(p->rl[j] < 0.0))
        return 1;
    if (!(p->ru[j] > 0.0))
        return -1;
    return 0;
}

static void eval_block(const struct ibp_dom_problem *p, struct blk_scratch *w, int nb,
                       const int *row_of, const signed char *split, const double *alpha,
                       const double *beta, int sound, double *lb, const struct ibp_dom_grad *g,
                       size_t dom0)
{
    /* with row_of, every domain bounds one row: the stacked rows are the domains */
    int rows = row_of ? 1 : p->rows, R = nb * rows, N = p->n_relu, maxn = p->maxn;
    const struct dom_op *last = &p->ops[p->n_ops - 1];
    int outs = last->n_out;
    double *lam = w->lam, *lam2 = w->lam2;
    for (int q = 0; q < R; q++) {
        int r = row_of ? row_of[dom0 + (size_t)q] : q % rows;
        memcpy(lam + (size_t)q * maxn, p->C + (size_t)r * outs, (size_t)outs * sizeof(double));
        w->cst[q] = p->d[r];
        w->acc[q] = (struct cst_acc){0.0, 0.0, 0.0, 0};
        if (sound)
            acc_term(&w->acc[q], p->d[r]);
    }
    for (int oi = p->n_ops - 1; oi >= 0; oi--) {
        const struct dom_op *o = &p->ops[oi];
        if (o->kind == DOP_DENSE) {
            for (int q = 0; q < R; q++) {
                const double *lq = lam + (size_t)q * maxn;
                if (sound) {
                    for (int i = 0; i < o->n_out; i++)
                        acc_term(&w->acc[q], lq[i] * o->b[i]);
                    /* Λ̂_in = fl(Λ W): |Λ̂_in,j - (Λ W)_j| <= gamma Σ_i |Λ_i||W_ij| + n eta_d
                     * (Higham 3.1 with underflow); times |x_j| <= M_j and summed over j:
                     * <= gamma Σ_i |Λ_i| em_i + tiny */
                    acc_err(&w->acc[q], fp_dup(fp_dup(o->gam * dot_abs_up(lq, o->em, o->n_out)) + o->tiny));
                } else {
                    double c = 0.0;
                    for (int i = 0; i < o->n_out; i++)
                        c += lq[i] * o->b[i];
                    w->cst[q] += c;
                }
            }
            if (o->cv)
                conv_backward(o, R, lam, lam2, maxn, w->cs);
            else
                ibp_dgemm_serial(0, 0, R, o->n_in, o->n_out, 1.0, lam, maxn, o->W, o->n_in, 0.0,
                                 lam2, maxn);
            double *t = lam;
            lam = lam2;
            lam2 = t;
        } else if (o->kind == DOP_DIAG) {
            for (int q = 0; q < R; q++) {
                double *lq = lam + (size_t)q * maxn;
                if (sound) {
                    for (int j = 0; j < o->n_in; j++)
                        acc_term(&w->acc[q], lq[j] * (lq[j] >= 0.0 ? o->t_lo[j] : o->t_hi[j]));
                    /* |Λ_j s_j - fl(Λ_j s_mid_j)| <= |Λ_j| dev_j + eta_d for the real s_j
                     * in [s_lo, s_hi] (dev: build_op), times |x_j| <= M_j: em_j = dev_j M_j */
                    acc_err(&w->acc[q], fp_dup(dot_abs_up(lq, o->em, o->n_in) + o->tiny));
                } else {
                    for (int j = 0; j < o->n_in; j++)
                        w->cst[q] += lq[j] * o->b[j];
                }
                for (int j = 0; j < o->n_in; j++)
                    lq[j] *= o->s[j];
            }
        } else {
            for (int q = 0; q < R; q++) {
                double *lq = lam + (size_t)q * maxn;
                size_t pr = (dom0 + (size_t)(q / rows)) * (size_t)rows + (size_t)(q % rows);
                const signed char *sp = split + (dom0 + (size_t)(q / rows)) * (size_t)N;
                const double *al = alpha + pr * N, *be = beta ? beta + pr * N : NULL;
                if (g)
                    memcpy(w->lr + (size_t)q * N + o->relu0, lq, (size_t)o->n_in * sizeof(double));
                for (int j = 0; j < o->n_in; j++) {
                    int n = o->relu0 + j, s = relu_state(p, sp, n);
                    double lm = lq[j], bj = be ? be[n] : 0.0;
                    if (s == 2)
                        lq[j] = lm - bj;
                    else if (s == -2)
                        lq[j] = bj;
                    else if (s == -1)
                        lq[j] = 0.0;
                    else if (s == 0) {
                        if (lm >= 0.0) {
                            lq[j] = al[n] * lm;
                        } else {
                            lq[j] = p->k[n] * lm;
                            if (sound)
                                acc_term(&w->acc[q], lm * p->bup[n]);
                            else
                                w->cst[q] += lm * p->bup[n];
                        }
                    }
                }
                /* each new Λ_j is exact or one rounding of its exact value:
                 * |err_j| <= 2 u_d |Λ̂_j| + eta_d, times M_j, summed */
                if (sound)
                    acc_err(&w->acc[q], fp_dup(fp_dup(2.0 * FP_UD * dot_abs_up(lq, o->M, o->n_in)) + o->tiny));
            }
        }
    }
    /* the box: op 0's input */
    int n0 = (int)p->n0;
    for (int q = 0; q < R; q++) {
        const double *lq = lam + (size_t)q * maxn;
        double *x = w->g + (size_t)q * maxn;
        double c = 0.0;
        for (int j = 0; j < n0; j++) {
            x[j] = lq[j] >= 0.0 ? p->lo[j] : p->hi[j];
            if (sound)
                acc_term(&w->acc[q], lq[j] * x[j]);
            else
                c += lq[j] * x[j];
        }
        double v = sound ? acc_lower(&w->acc[q]) : w->cst[q] + c;
        lb[dom0 * rows + q] = isnan(v) ? -INFINITY : v;
        if (g && g->xbest)
            for (int j = 0; j < n0; j++)
                g->xbest[(dom0 * rows + q) * p->n0 + j] = (float)x[j];
    }
    if (!g)
        return;
    if (g->lam_relu)
        for (int q = 0; q < R; q++)
            memcpy(g->lam_relu + (dom0 * rows + q) * (size_t)N, w->lr + (size_t)q * N,
                   (size_t)N * sizeof(double));
    if (!g->galpha && !g->gbeta)
        return;
    /* adjoint sweep, forward */
    double *G = w->g, *G2 = w->g2;
    for (int oi = 0; oi < p->n_ops; oi++) {
        const struct dom_op *o = &p->ops[oi];
        if (o->kind == DOP_DENSE) {
            if (o->cv) {
                conv_forward(o, R, G, G2, maxn, w->cs);
            } else {
                ibp_dgemm_serial(0, 1, R, o->n_out, o->n_in, 1.0, G, maxn, o->W, o->n_in, 0.0,
                                 G2, maxn);
                for (int q = 0; q < R; q++)
                    for (int i = 0; i < o->n_out; i++)
                        G2[(size_t)q * maxn + i] += o->b[i];
            }
            double *t = G;
            G = G2;
            G2 = t;
        } else if (o->kind == DOP_DIAG) {
            for (int q = 0; q < R; q++)
                for (int j = 0; j < o->n_in; j++) {
                    double *gq = G + (size_t)q * maxn;
                    gq[j] = o->s[j] * gq[j] + o->b[j];
                }
        } else {
            for (int q = 0; q < R; q++) {
                double *gq = G + (size_t)q * maxn;
                size_t pr = (dom0 + (size_t)(q / rows)) * (size_t)rows + (size_t)(q % rows);
                const signed char *sp = split + (dom0 + (size_t)(q / rows)) * (size_t)N;
                const double *al = alpha + pr * N;
                double *ga = g->galpha ? g->galpha + pr * N : NULL;
                double *gb = g->gbeta ? g->gbeta + pr * N : NULL;
                for (int j = 0; j < o->n_in; j++) {
                    int n = o->relu0 + j, s = relu_state(p, sp, n);
                    double lm = w->lr[(size_t)q * N + n], gi = gq[j];
                    if (ga)
                        ga[n] = 0.0;
                    if (gb)
                        gb[n] = 0.0;
                    if (s == 2) {
                        if (gb)
                            gb[n] = -gi;
                    } else if (s == -2) {
                        if (gb)
                            gb[n] = gi;
                        gq[j] = 0.0;
                    } else if (s == -1) {
                        gq[j] = 0.0;
                    } else if (s == 0) {
                        if (lm >= 0.0) {
                            if (ga)
                                ga[n] = gi * lm;
                            gq[j] = al[n] * gi;
                        } else {
                            gq[j] = p->k[n] * gi + p->bup[n];
                        }
                    }
                }
            }
        }
    }
}

enum ibp_status ibp_dom_bound_rows(const struct ibp_dom_problem *p, int nd, const int *row_of,
                                   const signed char *split, const double *alpha,
                                   const double *beta, int sound, double *lb,
                                   const struct ibp_dom_grad *g, struct ibp_error *err)
{
    if (nd < 0 || (sound && !p->sound) || (sound && g && (g->galpha || g->gbeta)))
        return ibp_fail(err, IBP_ERR_ARG, "domain bounds: bad domain count or sound request");
    for (int i = 0; row_of && i < nd; i++)
        if (row_of[i] < 0 || row_of[i] >= p->rows)
            return ibp_fail(err, IBP_ERR_ARG, "domain bounds: row %d of domain %d is not one "
                                              "of the %d rows", row_of[i], i, p->rows);
    int rows = row_of ? 1 : p->rows;
    /* Blocks of about DOM_BLOCK_ROWS stacked rows, and at least two when there are two
     * domains (two threads then share the work); fixed by nd and the rows alone, so
     * results do not depend on the thread count. */
    int nblk = (int)(((long)nd * rows + DOM_BLOCK_ROWS - 1) / DOM_BLOCK_ROWS);
    nblk = nblk < 2 && nd >= 2 ? 2 : nblk;
    int bd = nblk > 0 ? (nd + nblk - 1) / nblk : 1;
    nblk = nblk > 0 ? (nd + bd - 1) / bd : 0;
    int T = p->threads < nblk ? p->threads : (nblk > 0 ? nblk : 1);
    size_t R = (size_t)bd * rows, N = p->n_relu > 0 ? (size_t)p->n_relu : 1;
    int fail = 0;
#pragma omp parallel num_threads(T) reduction(| : fail)
    {
        struct blk_scratch w;
        w.lam = malloc(R * p->maxn * sizeof(double));
        w.lam2 = malloc(R * p->maxn * sizeof(double));
        w.g = malloc(R * p->maxn * sizeof(double));
        w.g2 = malloc(R * p->maxn * sizeof(double));
        w.lr = malloc(R * N * sizeof(double));
        w.acc = malloc(R * sizeof(struct cst_acc));
        w.cst = malloc(R * sizeof(double));
        w.cs = malloc((p->conv_row > 0 ? R * p->conv_row : 1) * sizeof(double));
        int ok = w.lam && w.lam2 && w.g && w.g2 && w.lr && w.acc && w.cst && w.cs;
#pragma omp for schedule(dynamic)
        for (int bi = 0; bi < nblk; bi++) {
            int nb = nd - bi * bd < bd ? nd - bi * bd : bd;
            if (ok)
                eval_block(p, &w, nb, row_of, split, alpha, beta, sound, lb, g, (size_t)bi * bd);
            else
                fail = 1;
        }
        free(w.lam);
        free(w.lam2);
        free(w.g);
        free(w.g2);
        free(w.lr);
        free(w.acc);
        free(w.cst);
        free(w.cs);
    }
    if (fail)
        return ibp_fail(err, IBP_ERR_NOMEM, "domain bounds: scratch for %d domains", nd);
    return IBP_OK;
}

enum ibp_status ibp_dom_bound(const struct ibp_dom_problem *p, int nd, const signed char *split,
                              const double *alpha, const double *beta, int sound, double *lb,
                              const struct ibp_dom_grad *g, struct ibp_error *err)
{
    return ibp_dom_bound_rows(p, nd, NULL, split, alpha, beta, sound, lb, g, err);
}
