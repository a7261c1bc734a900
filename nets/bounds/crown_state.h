/* crown_state.h — internal: what the backward linear pass (nets/bounds/crown.c) works
 * on — the per-layer data, the per-thread contexts of rows and the state it reads of the
 * bounder (struct bnd_crown_state) — and the pass's entry points. The bounder
 * (bounds_impl.h) contains a bnd_crown_state and the contexts; crown.c sees nothing else
 * of it.
 *
 * Layout: every value is kept per sample in NHWC order (vectors [c]), as in the
 * workspace of passes.h, so a convolution is one GEMM over (sample, position) rows.
 * The forward pass stores each value's bounds lo/hi [max_batch][n]. The backward pass
 * works on "rows": each row is one linear function Lambda of a value for one sample
 * (row_sample), stored in a slot; values share slots by liveness.
 *
 * Windows: all rows of one backward pass share, per value, a spatial window (a
 * rectangle of positions, all channels) outside which their Lambda is zero; a row
 * stores only its window ([wh][ww][C], wn[v] floats). A row that starts at one
 * position of a convolution's output depends on a small receptive field of each
 * earlier value, so its window is small; rows that start at a vector (a Linear's
 * output) have full windows (the dense case). */
#ifndef IBP_CROWN_STATE_H
#define IBP_CROWN_STATE_H

#include <stddef.h>

#include "nets/graph/net.h"
#include "nets/bounds/sound_fp.h"
#include "nets/kernels/conv.h"

struct bnd_layer {
    /* LINEAR / CONV2D: packed weight ([out][in], conv [out][kh][kw][in/g]) and |W| */
    float *wp, *wabs;
    float *wtap, *wtapabs;   /* CONV2D with few taps (conv_taps.h): W, |W| as [tap][out] */
    float *wimp, *wimpabs;   /* CONV2D where the implicit GEMM lowering (conv.h): W, |W| packed for it */
    float *wtapz;            /* CROWN methods, few taps: W as [out][CONV_FEW_TAPS], zero
                              * beyond K (crown.c's conv_transpose_taps) */
    float *wtrans;           /* float-mode CROWN methods, a CONV2D where the implicit GEMM lowering (conv.h)
                              * with at least 16 input channels: the backward map's weight
                              * (wfold or wp) packed for ibp_conv_implicit_input_grad, which
                              * crown.c runs on rows spanning the whole image */
    int tapz_bias;           /* float mode, K < CONV_FEW_TAPS: column K of wtapz holds the
                              * bias of the backward map (crown.c adds Lambda . bias from it) */
    /* float-mode CROWN methods, a LINEAR / CONV2D whose output only feeds a BATCHNORM
     * (y = s (W x + b) + t): the backward pass goes through both at once with
     * wfold = s W (packed) and bfold = s b + t; that BATCHNORM is marked folded and its
     * input shares its output's slot (bounds.c, ibp_crown_plan_slots) */
    float *wfold, *bfold;
    int fold_bn;             /* index of the folded BATCHNORM layer (0: none) */
    int folded;              /* BATCHNORM: folded into the layer before it */
    const float *bias;       /* the net's bias (NULL: none) */
    float *babs;             /* |bias| */
    long K;                  /* dot length of the forward map (in, or kh*kw*in/g) */
    float g_fwd, tiny_fwd;   /* E1 constants for K+1 terms */
    /* BATCHNORM / NORMALIZE: per-channel affine; the backward pass multiplies by s_mid
     * and takes t_lo (Lambda >= 0) or t_hi (Lambda < 0); float mode: t_lo = t_hi = t */
    struct fp_affine *aff;
    float *s_mid, *t_lo, *t_hi;
    float *dev;              /* fp_affine_dev per channel */
    /* RELU: per sample and element, the relaxation of the lower bound: slope for
     * lambda >= 0 (lo), slope and intercept for lambda < 0 (up) */
    float *slope_lo, *slope_up, *icpt;
    /* sound backward: q [max_batch][out size] bounds the rounding error of the
     * backward product (see crown.c), err = coef * sum |Lambda_out| q + nuf eta M */
    float *q;
    double coef, nuf;
};

/* rows [h0, h1) x columns [w0, w1) of a value's positions; empty when h0 >= h1 */
struct bnd_win {
    int h0, h1, w0, w1;
};

/* The state of one chunk of rows going backward (one per thread). */
struct bnd_ctx {
    float **slot;            /* [n_slots][slot_floats] */
    char *active;            /* [L+1] */
    struct bnd_win *win;     /* [L+1] windows of the current backward pass */
    size_t *wn;              /* [L+1] floats per row in those windows */
    int *row_sample;         /* [rmax] */
    double *cst;             /* [rmax] */
    float *acomp, *dcol;     /* conv-T: compacted Lambda rows [pmax][og], [pmax][K] */
    long *cidx;              /* [pmax] (row * positions + position) */
    int *tapidx;             /* few-taps conv-T: [2 pmax CONV_FEW_TAPS] (crown.c) */
    long *rstart;            /* [rmax + 1] */
    float *share;            /* full CROWN, float mode: shared rows [slot_floats / 2] */
    double *share_cst;       /* [most channels] */
    int *share_row;          /* [rmax] full CROWN, float mode: each neuron's shared row */
    int *chan_row;           /* [most channels] */
};

/* What the backward pass (crown.c) reads of the bounder, and all it reads: the values'
 * sizes and forward bounds, the layers' backward data and the slot plan. The bounder
 * owns one and fills it at creation (the bounds at each run). */
struct bnd_crown_state {
    int sound;               /* the bounder's cfg.sound */
    size_t *n;               /* [L+1] value sizes */
    float **lo, **hi;        /* [L+1][max_batch][n] forward bounds */
    double **msum;           /* [L+1][max_batch] sound: upper bound of sum_j max(|lo|,|hi|) */
    struct bnd_layer *ly;    /* [L] */
    int *slot_of;            /* [L+1] */
    size_t slot_floats;      /* floats per slot */
    long pmax;               /* conv-T: most compacted (row, position) pairs */
    int full_windows;        /* tests: every window the whole value (the dense path) */
};

/* Plans the windows of a backward pass from value v_start (rows zero outside window w
 * there; NULL: the whole value) down to layer k_stop into cx->win, cx->wn; returns the
 * most rows one chunk can hold with them (the slots' capacity, at most rmax when the
 * bounder is made). */
long ibp_crown_plan_windows(const struct ibp_net *net, const struct bnd_crown_state *cs,
                        struct bnd_ctx *cx, int v_start, int k_stop, const struct bnd_win *w);

/* Runs layers [v_start - 1 .. k_stop] backward on the context's rows [0, nrows) (one
 * thread, no parallel region inside) whose Lambda for value v_start the caller put
 * into that value's slot in the layout of the windows
 * ibp_crown_plan_windows planned for the same (v_start, k_stop) (and cst[] = 0); on return
 * cst[i] is a lower bound of row i's function over the box (sound in sound mode).
 * With concretize = 0 it stops at value k_stop instead: Lambda there (in its slot) and
 * cst are the exact affine rest (no box yet). */
void ibp_crown_backward(const struct ibp_net *net, struct bnd_crown_state *cs, struct bnd_ctx *cx,
                    int v_start, int k_stop, int nrows, int concretize);

/* Float mode, full CROWN's shared rows (bounds.c): layer vs - 1 is a RELU with input a;
 * for q < np, rows 2q and 2q + 1 of a (in its slot, window layout of the current plan)
 * become the ReLU transpose of +share[row_of[q]] and -share[row_of[q]] (rows of
 * value vs's window), their cst (set by the caller) gaining the intercepts; then
 * ibp_crown_backward from a goes on. Saves writing the +- copies at vs. */
void ibp_crown_relu_shared(const struct ibp_net *net, struct bnd_crown_state *cs, struct bnd_ctx *cx,
                       int vs, const float *share, const int *row_of, int np);

/* Assigns each value reached backward from the output a slot (values share slots when
 * their Lambdas are never alive together; the input of a layer k with alias[k] takes its
 * output's slot); returns the number of slots. */
int ibp_crown_plan_slots(const struct ibp_net *net, const char *alias, int *slot_of);

/* Largest compacted (row, position) count and conv-T scratch a layer needs per chunk. */
long ibp_crown_conv_pmax(const struct ibp_net *net, size_t budget_floats);

#endif
