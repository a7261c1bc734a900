/* passes.h — batched passes over a network: clean forward/backward, IBP bounds
 * (centre/radius form, SPEC §2) and their gradients.
 *
 * Inputs are NCHW float32 arrays, [batch][C][H][W] in the network's input space (pixel
 * space when the network starts with a NORMALIZE layer). Everything a pass needs beyond
 * the network lives in a workspace sized once for a maximum batch; a pass allocates
 * nothing.
 *
 * A training step is:
 *   ibp_pass_train      clean forward with BN batch statistics + IBP forward that
 *                       re-uses those (non-detached) statistics, margins folded into
 *                       the last LINEAR;
 *   ibp_pass_backward   gradients of a loss given through dL/dlogits, dL/dlb and the
 *                       ReLU-input bound gradients (ibp_ws_relu_bounds), through the IBP
 *                       pass, the BN batch statistics and the clean pass;
 *   ibp_bn_update_running (running statistics from the same batch statistics).
 * Evaluation is ibp_pass_clean / ibp_pass_bounds with IBP_BN_EVAL (running stats).
 *
 * Internal layout: images are kept NHWC inside the workspace (convolutions become one
 * GEMM over batch*positions); bounds exposed by ibp_ws_relu_bounds are in that layout.
 * Anything pooled over a whole tensor (the warmup regularisers) does not see it. */
#ifndef IBP_PASSES_H
#define IBP_PASSES_H

#include "nets/graph/net.h"

enum ibp_bn_mode {
    IBP_BN_EVAL,  /* running statistics */
    IBP_BN_TRAIN, /* statistics of the clean batch (biased variance) */
};

/* What a workspace must be able to do (bit flags). */
enum ibp_ws_flags {
    IBP_WS_CLEAN = 1,  /* clean forward */
    IBP_WS_BOUNDS = 2, /* IBP forward */
    IBP_WS_GRAD = 4,   /* backward passes (keeps every value for backward) */
};

/* The property whose lower bound the IBP pass computes, row by row per sample:
 * lb_m = lower bound of (C z)_m over the box, z = network output. Either
 *   labels != NULL: margins z_y - z_j for every j != y in increasing j
 *                   (rows = outputs - 1), the classic robustness spec; or
 *   C != NULL:      an explicit [batch][rows][outputs] matrix (VNN-LIB properties).
 * When the last layer is LINEAR the matrix is folded into it (W' = C W, b' = C b),
 * which is never looser than bounding z first. With neither set, rows = outputs and
 * the bounds are those of z itself. */
struct ibp_spec {
    const int *labels; /* [batch], in [0, outputs) */
    const float *C;    /* [batch][rows][outputs] */
    int rows;          /* only with C */
};

struct ibp_workspace;

/* A workspace for `net` and batches up to max_batch with the given flags. The net's
 * structure must not change while the workspace is in use (parameters may). */
enum ibp_status ibp_ws_create(const struct ibp_net *net, int max_batch, unsigned flags,
                              struct ibp_workspace **out, struct ibp_error *err);
void ibp_ws_free(struct ibp_workspace *ws);

/* Bytes the workspace holds (for memory reports). */
size_t ibp_ws_bytes(const struct ibp_workspace *ws);

/* Clean forward of x[batch][C][H][W]; logits[batch][outputs] (may be NULL).
 * IBP_BN_TRAIN stores the batch statistics in ws for a following bounds pass,
 * backward and ibp_bn_update_running. */
enum ibp_status ibp_pass_clean(const struct ibp_net *net, struct ibp_workspace *ws,
                               const float *x, int batch, enum ibp_bn_mode mode,
                               float *logits, struct ibp_error *err);

/* IBP bounds over the box [lo, hi] (both [batch][C][H][W], lo <= hi). lb, ub are
 * [batch][rows] (either may be NULL). IBP_BN_TRAIN uses the statistics of the
 * preceding ibp_pass_clean(IBP_BN_TRAIN) on the same batch in this ws. */
enum ibp_status ibp_pass_bounds(const struct ibp_net *net, struct ibp_workspace *ws,
                                const float *lo, const float *hi, int batch,
                                const struct ibp_spec *spec, enum ibp_bn_mode mode,
                                float *lb, float *ub, struct ibp_error *err);

/* ibp_pass_clean(x, IBP_BN_TRAIN) followed by ibp_pass_bounds(IBP_BN_TRAIN), fused
 * layer by layer (the clean batch and the box centres share one GEMM per layer).
 * Same results as the two calls up to float rounding (GEMM blocks fall differently). */
enum ibp_status ibp_pass_train(const struct ibp_net *net, struct ibp_workspace *ws,
                               const float *x, const float *lo, const float *hi, int batch,
                               const struct ibp_spec *spec, float *logits, float *lb,
                               struct ibp_error *err);

/* Rows of the last bounds pass (spec rows). */
int ibp_ws_spec_rows(const struct ibp_workspace *ws);

/* The bounds of a ReLU's input from the last bounds pass, in centre/radius form, and
 * slots where the caller puts dL/dc and dL/dr for ibp_pass_backward (zeroed by every
 * bounds pass). Arrays are [batch][size] in the internal layout. */
struct ibp_relu_bounds {
    int layer;       /* index of the RELU layer */
    size_t size;     /* elements per sample */
    const float *c;  /* centres */
    const float *r;  /* radii (>= 0) */
    float *gc;       /* dL/dc, caller-filled */
    float *gr;       /* dL/dr, caller-filled */
};

/* Fills out[0..n) for the ReLU layers in order (n = ibp_net_count_kind(RELU)), and
 * *input_r with the radius of the (normalised) input box: the output of a leading
 * NORMALIZE layer, else the input ([batch][input size]). Needs IBP_WS_GRAD. */
enum ibp_status ibp_ws_relu_bounds(struct ibp_workspace *ws, struct ibp_relu_bounds *out,
                                   int n, const float **input_r, size_t *input_size,
                                   struct ibp_error *err);

/* Gradients of a loss L with respect to all parameters, grad[n_params] (overwritten),
 * after the passes of one step on this ws (needs IBP_WS_GRAD):
 *   g_logits [batch][outputs] dL/dlogits of the last clean pass (NULL: none);
 *   g_lb     [batch][rows]    dL/dlb of the last bounds pass (NULL: none);
 *   plus the ReLU-input bound gradients written into ibp_ws_relu_bounds slots.
 * In IBP_BN_TRAIN the gradient also flows through the BN batch statistics into the
 * clean pass, as autograd does with non-detached statistics. */
enum ibp_status ibp_pass_backward(const struct ibp_net *net, struct ibp_workspace *ws,
                                  const float *g_logits, const float *g_lb, float *grad,
                                  struct ibp_error *err);

/* Gradient of the clean pass with respect to its input x, [batch][C][H][W], from
 * dL/dlogits (for attacks). Needs a preceding ibp_pass_clean on this ws with
 * IBP_WS_GRAD; BN in that pass's mode (eval for attacks). */
enum ibp_status ibp_pass_input_grad(const struct ibp_net *net, struct ibp_workspace *ws,
                                    const float *g_logits, float *g_x, struct ibp_error *err);

/* Running statistics from the batch statistics of the last IBP_BN_TRAIN clean pass:
 * rm = (1-momentum) rm + momentum mean, rv = (1-momentum) rv + momentum unbiased var. */
void ibp_bn_update_running(struct ibp_net *net, const struct ibp_workspace *ws,
                           float momentum);

/* Per-layer timing: when enabled, every pass adds the wall time each layer takes
 * (forward, backward) to counters read with ibp_ws_layer_seconds (for benchmarks). */
void ibp_ws_profile(struct ibp_workspace *ws, int enable);
void ibp_ws_layer_seconds(const struct ibp_workspace *ws, int layer, double *forward,
                          double *backward);

/* Adds up buf[n] across the processes of a data-parallel run, in place, the same result
 * on every process (nets/base/cluster.h's ibp_cluster_sum_hook); ctx is its own. */
struct ibp_sum_hook {
    void (*fn)(void *ctx, double *buf, size_t n);
    void *ctx;
};

/* SyncBN: with a hook (hook->fn not NULL), every train-mode clean pass takes its BN
 * batch statistics over the rows of all processes (sums of x, of (x - mean)^2 and the
 * row count are added up through the hook), and the backward adds up the per-channel
 * sums dL/ds, dL/dt before sending them through the statistics; the parameter
 * gradients stay each process's own share (the caller adds those up). Every process
 * must run the same passes in the same order. NULL: statistics of this batch alone (the
 * default). */
void ibp_ws_set_sum_hook(struct ibp_workspace *ws, const struct ibp_sum_hook *hook);

/* Threads used by the passes (default: OpenMP's max). Results do not depend on it. */
void ibp_ws_set_threads(struct ibp_workspace *ws, int threads);
int ibp_ws_threads(const struct ibp_workspace *ws);

#endif
