/* workspace.h — internal: what a workspace holds and how the layer kernels see it.
 * Not part of the public API (passes.h is).
 *
 * Streams. Every value v has
 *   x[v]  [2*batch][size]: rows [0, batch) the clean batch, rows [batch, 2*batch) the
 *         box centres c, so that one GEMM per layer serves both (they share W);
 *   r[v]  [batch][size]:   box radii;
 *   gx[v], gr[v]: gradients of the same shapes (with IBP_WS_GRAD).
 * Images are NHWC ([row][h][w][c]), vectors [row][c]. A pass works on the x rows
 * [x0, x0 + nx) (clean only: [0, B); bounds only: [B, 2B); both: [0, 2B)) and, when
 * bounds are active, on r rows [0, B). */
#ifndef IBP_WORKSPACE_H
#define IBP_WORKSPACE_H

#include <stddef.h>

#include "nets/passes/passes.h"

struct value_buf {
    size_t size; /* elements per sample */
    float *x, *r, *gx, *gr;
};

/* Per BATCHNORM layer: the affine (s, t) of the last pass and, in training, the batch
 * statistics that produced it; gradient accumulators for backward. */
struct bn_state {
    int channels;
    float *mean, *var; /* batch statistics (biased var) of the last train-mode clean pass */
    float *s, *t;      /* y = s x + t, per channel */
    float *sabs;       /* |s| */
    double *ds, *dt;   /* dL/ds, dL/dt accumulated in backward */
    double *xds, *xdt; /* dL/ds, dL/dt from outside the passes (the CROWN-IBP pass), added
                        * by the next backward; zeroed by every bounds pass and backward */
    double rows;       /* rows the batch statistics were taken over (all ranks' with a sum
                        * hook) */
    double *sync;      /* [2 channels + 1]: what the sum hook adds up across processes */
};

struct ibp_workspace {
    int n_layers;
    int max_batch;
    unsigned flags;
    int threads;
    struct value_buf *v;   /* [n_layers + 1] */
    struct bn_state *bn;   /* [n_layers], used for BATCHNORM layers */
    float **wpack;         /* [n_layers]: CONV2D weight as [out][kh][kw][in/g] (NULL else) */
    float **wabs;          /* [n_layers]: |W| in the packed layout (LINEAR/CONV2D) */
    float **wtap, **wtapabs; /* [n_layers]: W, |W| as [tap][out] for CONV2D layers with few
                            * taps (ibp_conv_few_taps), NULL for others */
    float **wino_u, **wino_uabs; /* [n_layers]: W, |W| transformed for Winograd
                            * ([36][in][out], then transposed) for the CONV2D layers where
                            * it applies (ibp_conv_winograd_eligible), NULL for others */
    float **wimp, **wimpabs; /* [n_layers]: W, |W| packed for the implicit GEMM
                            * (ibp_conv_implicit_pack) for the CONV2D layers where it applies
                            * (ibp_conv_implicit_applies), NULL for others */
    float *wino_v, *wino_m; /* Winograd chunk scratch (CONV_WINOGRAD_SLOTS slots of the
                            * largest ibp_conv_winograd_scratch_floats) */
    float *wino_du;        /* Winograd weight-gradient slots, with IBP_WS_GRAD */
    size_t lowered_floats; /* the total of the Winograd and implicit-GEMM buffers */
    int box_value;         /* ibp_net_box_value of the net */
    int winograd;          /* run the layers where it applies as Winograd (default 1) */
    float **dwpack;        /* [n_layers]: packed dW (c and clean streams) for CONV2D */
    float **dwabs;         /* [n_layers]: packed d|W| for LINEAR/CONV2D */
    float *pool_tmp;       /* [2][max_batch][largest MAXPOOL output] bound gradients */
    float *col;            /* im2col chunk [rows][k]; also the scratch of the few-taps and
                            * implicit-GEMM convolutions */
    float **colkeep;       /* [n_layers]: with IBP_WS_GRAD, the whole im2col of a small
                            * one-group CONV2D kept from forward for its weight gradient
                            * (see kept_col in layer_conv.c); NULL for other layers */
    size_t colkeep_floats; /* their total size */
    float *dcol;           /* its gradient */
    size_t col_floats;
    size_t chunk_rows;     /* target rows per im2col chunk */
    double *chsum, *chsum2; /* [largest channel count] per-channel sums */
    float *chabs;          /* [largest channel count] per-channel scratch */
    double *partial;       /* chunked reduction partial sums */
    size_t partial_doubles;
    /* specification on the output (bounds stream) */
    int spec_cap;          /* rows the spec buffers hold per sample */
    int rows;              /* rows of the last bounds pass */
    int spec_kind;         /* 0: none (bounds of z), 1: labels, 2: explicit C */
    int *labels;           /* [max_batch] copy of the last labels */
    float *spec_C;         /* [max_batch][spec_cap][outputs] copy of the last C */
    float *spec_c, *spec_r, *spec_gc, *spec_gr; /* [max_batch][spec_cap] */
    int *needs_grad;       /* [n_layers + 1]: value's gradient is needed */
    int *grad_unset;       /* [n_layers + 1]: during a backward, the value's gx and gr were
                            * not zeroed: its only consumer (BATCHNORM, or a RELU fused with
                            * the BATCHNORM before it) stores instead of adding, then clears
                            * this */
    enum ibp_layer_kind *kinds; /* [n_layers]: the structure the workspace was made for */
    int *in0;              /* [n_layers]: first input value of each layer */
    /* what ran since the last backward */
    int batch;
    int clean_done;
    enum ibp_bn_mode clean_mode;
    int bounds_done;
    enum ibp_bn_mode bounds_mode;
    int relu_slots_armed;
    int profile;
    struct ibp_sum_hook sum; /* SyncBN: sums over every process's rows (sum.fn NULL: none) */
    double *layer_seconds; /* [n_layers][2]: forward, backward */
};

/* What one pass over the layers does. */
struct pass_ctx {
    const struct ibp_net *net;
    struct ibp_workspace *ws;
    int batch;
    int x0, nx;       /* x rows in use */
    int clean;        /* clean stream active (rows [0, batch)) */
    int bounds;       /* bounds stream active (x rows [batch, 2 batch), r rows) */
    enum ibp_bn_mode bn;
    int threads;
};

/* Layer kernels (nets/layer_*.c). Forward writes value k+1 from its inputs; backward
 * adds into the gradients of the inputs (and of the parameters, into grad). */
void ibp_layer_normalize_forward(const struct pass_ctx *p, int k);
void ibp_layer_normalize_backward(const struct pass_ctx *p, int k);
void ibp_layer_relu_forward(const struct pass_ctx *p, int k);
void ibp_layer_relu_backward(const struct pass_ctx *p, int k);
void ibp_layer_add_forward(const struct pass_ctx *p, int k);
void ibp_layer_add_backward(const struct pass_ctx *p, int k);
void ibp_layer_flatten_forward(const struct pass_ctx *p, int k);
/* Per row of hw*C floats: NHWC [hw][C] -> c-major [C][hw] into dst, or (back) dst +=
 * the reverse (c-major -> NHWC). */
void ibp_flatten_rows(const float *src, float *dst, size_t rows, size_t hw, size_t C, int back,
                  int threads);
void ibp_layer_flatten_backward(const struct pass_ctx *p, int k);
void ibp_layer_linear_forward(const struct pass_ctx *p, int k);
void ibp_layer_linear_backward(const struct pass_ctx *p, int k, float *grad);
void ibp_layer_conv_forward(const struct pass_ctx *p, int k);
void ibp_layer_conv_backward(const struct pass_ctx *p, int k, float *grad);
/* CONV2D k on whole NHWC sample arrays outside the value streams (the CROWN-IBP pass),
 * with the packed weight of this pass and ws->col / ws->dcol as scratch (ns <= 2 batch):
 * out = conv(in) without bias; gin += conv^T(gout) (gin may be NULL) and, with dwp,
 * dwp += gout^T im2col(in) in the packed layout. */
void ibp_conv_samples_forward(const struct pass_ctx *p, int k, const float *in, float *out, int ns);
void ibp_conv_samples_backward(const struct pass_ctx *p, int k, const float *in, const float *gout,
                           float *gin, int ns, float *dwp);
/* dw (PyTorch layout [o][c][kh][kw]) += the packed dwp, plus sign(W) dwa when dwa. */
void ibp_conv_grad_unpack_add(const struct pass_ctx *p, int k, const float *dwp, const float *dwa,
                          float *dw);
void ibp_layer_bn_forward(const struct pass_ctx *p, int k);
void ibp_layer_bn_backward(const struct pass_ctx *p, int k, float *grad);
/* The backward of RELU relu_k and of the BATCHNORM bn_k whose output it reads: the ReLU's
 * input gradients and BATCHNORM's per-channel sums in one pass over the rows. */
void ibp_layer_relu_bn_backward(const struct pass_ctx *p, int relu_k, int bn_k, float *grad);
/* BATCHNORM k and the RELU relu_k reading its output in one pass (both values are
 * written, as by the two kernels in turn); relu_k < 0: the BATCHNORM alone. */
void ibp_layer_bn_relu_forward(const struct pass_ctx *p, int k, int relu_k);
void ibp_layer_pool_forward(const struct pass_ctx *p, int k);
void ibp_layer_pool_backward(const struct pass_ctx *p, int k);

/* The bounds stream of the output under the spec (nets/passes/spec.c). The last LINEAR layer
 * is folded with the spec (k = its index) or, for other last layers, the spec is
 * applied to the output value (k = -1). */
void ibp_spec_forward(const struct pass_ctx *p, int k);
void ibp_spec_backward(const struct pass_ctx *p, int k, float *grad);


/* Winograd on (1, the default) or off (0: every CONV2D runs im2col + GEMM, the path the
 * tests compare with). Takes effect from the next pass; not between a pass and its
 * backward. */
void ibp_ws_set_winograd(struct ibp_workspace *ws, int enable);

/* Sizes the spec buffers for `rows` rows per sample (only grows); 0 when out of memory. */
int ibp_ws_spec_reserve(struct ibp_workspace *ws, const struct ibp_net *net, int rows);

/* Packs the weights of the LINEAR/CONV2D layers for this pass (conv layout and, when
 * with_abs, |W|). */
void ibp_weights_prepare(const struct ibp_net *net, struct ibp_workspace *ws, int threads,
                     int with_abs);

/* Rows of one partial sum in the reductions: fixed, so sums do not depend on threads. */
#define REDUCE_CHUNK 512

/* Deterministic per-channel sums over rows of a [rows][channels] array:
 * out[c] += sum_rows f(row, c), computed in fixed chunks of rows whatever the thread
 * count. `kind` selects f (below; ibp_reduce_rows in workspace.c). */
enum reduce_kind {
    REDUCE_SUM,         /* a */
    REDUCE_SUM_SQ_DEV,  /* (a - center[c])^2 */
    REDUCE_SUM_PROD,    /* a * b */
};
void ibp_reduce_rows(struct ibp_workspace *ws, int threads, enum reduce_kind kind, const float *a,
                 const float *b, const double *center, size_t rows, int channels, double *out);
/* The same chunks, two sums in one pass: prod[c] += sum a*b, sum[c] += sum a (equal to
 * REDUCE_SUM_PROD and REDUCE_SUM run separately). */
void ibp_reduce_rows_prod_sum(struct ibp_workspace *ws, int threads, const float *a, const float *b,
                          size_t rows, int channels, double *prod, double *sum);

#endif
