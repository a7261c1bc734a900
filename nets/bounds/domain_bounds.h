/* domain_bounds.h — batched linear lower bounds of specification rows over split domains
 * of a feed-forward ReLU network (SPEC §3.1, §3.2: α-CROWN and β-CROWN), with their
 * gradients with respect to the slopes α and the split multipliers β.
 *
 * A problem is one network, one input box and C rows (row r bounds (C z)_r + d_r, z the
 * network's output). At creation the network becomes a chain of dense affine maps
 * (Linear, Conv2d as a dense matrix; the engine multiplies by a convolution's matrix as
 * a GEMM on patches when its dense rows are mostly zeros), per-element affine maps
 * (BatchNorm in eval mode, Normalize) and ReLUs; Flatten is the identity in CHW order.
 * Residual Add and pooling are refused with IBP_ERR_UNSUPPORTED naming the layer, so
 * callers can fall back.
 * The intermediate bounds of every value are those of full CROWN (struct ibp_bounder,
 * IBP_BOUND_CROWN), sound in sound mode, and stay fixed for every domain.
 *
 * ReLU neurons are numbered 0..n_relu-1 in layer order (CHW order within a layer). A
 * domain is the box plus split constraints: split[j] = +1 (z_j >= 0), -1 (z_j <= 0) or
 * 0 (free). Parameters per (domain, row, neuron): alpha in [0, 1], the lower slope of a
 * free unstable neuron; beta >= 0, the multiplier of a split neuron's constraint (both
 * [nd][rows][n_relu]; other entries are ignored). Every choice gives a valid lower bound
 * of the row's minimum over the domain.
 *
 * The backward pass runs in double, the domains and rows stacked as the rows of each
 * GEMM (BLIS dgemm). Domains go in fixed blocks, so results do not depend on the thread
 * count. Sound evaluation widens the double result by a proven bound on its rounding
 * error (arguments next to the code in domain_bounds.c) and rounds it down to float. */
#ifndef IBP_DOMAIN_BOUNDS_H
#define IBP_DOMAIN_BOUNDS_H

#include <stddef.h>

#include "nets/base/status.h"
#include "nets/graph/net.h"

struct ibp_dom_problem;

/* Creates a problem for net over the box [lo, hi] ([C][H][W], input space, lo <= hi)
 * and rows C[rows][outputs], offsets d[rows] (NULL: 0). sound: intermediate bounds
 * sound, and ibp_dom_bound's sound flag allowed. threads: for the intermediate bounds
 * and for ibp_dom_bound. Errors: IBP_ERR_UNSUPPORTED (a layer, named), IBP_ERR_ARG,
 * IBP_ERR_NOMEM, and the bounder's errors. */
enum ibp_status ibp_dom_problem_create(const struct ibp_net *net, const float *lo,
                                       const float *hi, const float *C, const float *d,
                                       int rows, int sound, int threads,
                                       struct ibp_dom_problem **out, struct ibp_error *err);
void ibp_dom_problem_free(struct ibp_dom_problem *p);

int ibp_dom_rows(const struct ibp_dom_problem *p);
int ibp_dom_relus(const struct ibp_dom_problem *p);
size_t ibp_dom_inputs(const struct ibp_dom_problem *p);
/* 1 when neuron j is unstable under the intermediate bounds (l < 0 < u). */
int ibp_dom_unstable(const struct ibp_dom_problem *p, int j);
/* The bounds of neuron j's input. */
void ibp_dom_relu_bounds(const struct ibp_dom_problem *p, int j, double *l, double *u);
/* The bias of the affine map that produces neuron j's input (for branching scores). */
double ibp_dom_relu_bias(const struct ibp_dom_problem *p, int j);
/* BaBSR's score (SPEC §3.2) of unstable neuron j for one row whose coefficient of the
 * neuron's output is lam: how much splitting j is estimated to raise the row's bound
 * (>= 0; 0 for a NaN). */
double ibp_dom_babsr_score(const struct ibp_dom_problem *p, int j, double lam);
/* The chain of maps the problem bounds, for callers that build other relaxations of the
 * same network on a domain (verifier/bab_leaf.c: LPs of fully split domains). Layer i
 * maps its input (layer i - 1's output; layer 0's input is the box) to its output, in
 * CHW order. Every array is owned by the problem and holds exact values:
 *   dense  y = W x + b: W [n_out][n_in], b [n_out], the stored float32 parameters;
 *   diag   y_j = s'_j x_j + t'_j (BatchNorm in eval mode, Normalize) for the real s'_j,
 *          t'_j of real arithmetic on the stored parameters, which satisfy
 *          |s'_j - s[j]| <= s_dev[j] and t_lo[j] <= t'_j <= t_hi[j] (n_in = n_out);
 *   relu   y = max(x, 0) for neurons relu0 .. relu0 + n_in - 1.
 * in_lo, in_hi [n_in] are the intermediate bounds of the input (sound in sound mode,
 * as ibp_dom_relu_bounds); unused fields are NULL (relu0: -1). */
enum ibp_dom_layer_kind { IBP_DOM_DENSE, IBP_DOM_DIAG, IBP_DOM_RELU };
struct ibp_dom_layer {
    enum ibp_dom_layer_kind kind;
    int n_in, n_out;
    const double *W, *b;
    const double *s, *s_dev, *t_lo, *t_hi;
    const double *in_lo, *in_hi;
    int relu0;
};
int ibp_dom_layer_count(const struct ibp_dom_problem *p);
/* Layer i (0 <= i < ibp_dom_layer_count) into *out. */
void ibp_dom_layer_get(const struct ibp_dom_problem *p, int i, struct ibp_dom_layer *out);
/* The intermediate bounds of the network's output [outputs] (sound in sound mode). */
void ibp_dom_output_bounds(const struct ibp_dom_problem *p, const double **lo, const double **hi);
/* The input box [inputs] and the rows C [rows][outputs], d [rows], as exact doubles of
 * the float arguments of ibp_dom_problem_create. */
void ibp_dom_box(const struct ibp_dom_problem *p, const double **lo, const double **hi);
void ibp_dom_spec(const struct ibp_dom_problem *p, const double **C, const double **d);

/* The bounder's full-CROWN lower bounds of the rows (element-wise max with IBP, sound in
 * sound mode) for this box, [rows]. */
const float *ibp_dom_crown_bounds(const struct ibp_dom_problem *p);

/* From now on bounds only rows keep[0..n) (indices into the rows given at creation,
 * distinct, 1 <= n <= those rows), in that order; ibp_dom_rows, ibp_dom_crown_bounds
 * and every [rows] array then follow this selection. Calls may repeat (each selects from
 * the creation rows again): for a caller that proves rows one at a time. Intermediate
 * bounds do not depend on the rows and stay. */
void ibp_dom_problem_keep_rows(struct ibp_dom_problem *p, const int *keep, int n);

/* ReLU layers, in order: how many, and layer m's first neuron and size. */
int ibp_dom_relu_layers(const struct ibp_dom_problem *p);
void ibp_dom_relu_layer(const struct ibp_dom_problem *p, int m, int *first, int *n);

/* A view of p that bounds rows C[rows][n] of the INPUT of ReLU layer m (n its size,
 * offsets 0) over the same box, through the layers before it with p's intermediate
 * bounds (read live: ibp_dom_tighten_relu on p reaches the view). Its neurons,
 * parameters and splits are numbered as p's (those of later layers are ignored); its
 * CROWN bounds (ibp_dom_crown_bounds) are -inf. p must outlive it; free it with
 * ibp_dom_problem_free. Errors: IBP_ERR_ARG (layer m is the first op or does not exist,
 * rows < 1, p a view), IBP_ERR_NOMEM. */
enum ibp_status ibp_dom_problem_prefix(const struct ibp_dom_problem *p, int m, const double *C,
                                       int rows, struct ibp_dom_problem **out,
                                       struct ibp_error *err);

/* Narrows neuron j's input bounds to their intersection with [l, u] and recomputes its
 * upper line. l and u must be valid bounds over the box (sound ones for a sound
 * problem, e.g. a prefix view's sound α-CROWN bounds); every later bound uses them. */
void ibp_dom_tighten_relu(struct ibp_dom_problem *p, int j, double l, double u);

/* The adaptive lower slopes of SPEC §3 (1 where u > -l, else 0) into alpha[rows][n_relu]
 * of one domain. */
void ibp_dom_alpha_init(const struct ibp_dom_problem *p, double *alpha);

/* Optional outputs of ibp_dom_bound. */
struct ibp_dom_grad {
    double *galpha;   /* [nd][rows][n_relu]: d lb[d][r] / d alpha[d][r][j] (0 elsewhere) */
    double *gbeta;    /* [nd][rows][n_relu]: d lb[d][r] / d beta[d][r][j] (0 elsewhere) */
    double *lam_relu; /* [nd][rows][n_relu]: each row's coefficient of each ReLU's output */
    float *xbest;     /* [nd][rows][inputs]: the box point minimising each row's linear
                       * lower bound (input space, float) */
};

/* Lower bounds lb[nd][rows] for nd domains (split[nd][n_relu], alpha, beta as above;
 * beta may be NULL for 0). sound = 1 (only for a sound problem): lb holds in real
 * arithmetic on the stored float32 parameters; sound = 0: the double value. g may be
 * NULL; gradients and lam_relu are of the double value. Errors: IBP_ERR_ARG,
 * IBP_ERR_NOMEM (scratch for nd domains). */
enum ibp_status ibp_dom_bound(const struct ibp_dom_problem *p, int nd, const signed char *split,
                              const double *alpha, const double *beta, int sound, double *lb,
                              const struct ibp_dom_grad *g, struct ibp_error *err);

/* As ibp_dom_bound, but domain i bounds the one row row_of[i] (an index into the rows,
 * 0 <= row_of[i] < ibp_dom_rows): alpha, beta and the gradients are then [nd][n_relu],
 * lam_relu [nd][n_relu], xbest [nd][inputs] and lb [nd]. For callers whose domains each
 * bound a different row (intermediate_bab.h). Errors: as ibp_dom_bound, IBP_ERR_ARG for
 * a row out of range. */
enum ibp_status ibp_dom_bound_rows(const struct ibp_dom_problem *p, int nd, const int *row_of,
                                   const signed char *split, const double *alpha,
                                   const double *beta, int sound, double *lb,
                                   const struct ibp_dom_grad *g, struct ibp_error *err);

#endif
