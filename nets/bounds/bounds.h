/* bounds.h — bound methods for verification: IBP, CROWN-IBP and CROWN, optionally
 * floating-point sound (SPEC §3, §6). Evaluation mode only (BatchNorm with running
 * statistics).
 *
 * A bounder is a workspace for one network and batches up to max_batch with up to
 * max_rows specification rows; it allocates everything at creation, so a run allocates
 * nothing. The network is read-only during a run: one network can serve several
 * bounders (threads).
 *
 * Methods:
 *   IBP_BOUND_IBP        interval bound propagation (centre/radius, passes.h);
 *   IBP_BOUND_CROWN_IBP  intermediate ReLU-input bounds by IBP, one backward linear
 *                        pass (CROWN relaxation) from the specification rows;
 *   IBP_BOUND_CROWN      intermediate bounds by CROWN itself, layer by layer.
 * The CROWN methods return the element-wise maximum of their bound and IBP's.
 *
 * Sound mode (sound = 1): every returned lower bound holds for REAL arithmetic on the
 * stored float32 parameters (BatchNorm's affine map, the normalisation and the folding
 * of the specification included) for every real input in [lo, hi]: each computed
 * quantity is widened outward by a proven bound on its rounding error. With sound = 0
 * the bounds are those of float32 round-to-nearest arithmetic (faster). */
#ifndef IBP_BOUNDS_H
#define IBP_BOUNDS_H

#include <stddef.h>

#include "nets/graph/net.h"
#include "nets/passes/passes.h"

enum ibp_bound_method {
    IBP_BOUND_IBP,
    IBP_BOUND_CROWN_IBP,
    IBP_BOUND_CROWN,
};
#define IBP_BOUND_METHOD_COUNT 3
/* The names, in enum order, for help texts (the table itself is in bound_method.c). */
#define IBP_BOUND_METHOD_LIST "ibp, crown-ibp, crown"

/* "ibp", "crown-ibp", "crown" ("?" for anything else). */
const char *ibp_bound_method_name(enum ibp_bound_method m);

/* A comma list of method names into methods[0..*n_methods) (at most
 * IBP_BOUND_METHOD_COUNT, no repeats, in the given order). Errors: IBP_ERR_ARG naming the
 * bad item, prefixed by `what` ("--methods"). */
enum ibp_status ibp_bound_methods_parse(const char *text, const char *what,
                                        enum ibp_bound_method *methods, int *n_methods,
                                        struct ibp_error *err);

struct ibp_bounder_config {
    enum ibp_bound_method method;
    int sound;     /* 1: floating-point sound bounds (SPEC §6) */
    int max_batch; /* samples per run */
    int max_rows;  /* specification rows per sample (labels: outputs - 1) */
};

struct ibp_bounder;

/* Creates a bounder for net. Errors: IBP_ERR_ARG (bad config), IBP_ERR_UNSUPPORTED
 * (a layer the method cannot handle, named), IBP_ERR_NOMEM (message gives the bytes
 * asked for: full CROWN on a large net). */
enum ibp_status ibp_bounder_create(const struct ibp_net *net,
                                   const struct ibp_bounder_config *cfg,
                                   struct ibp_bounder **out, struct ibp_error *err);
void ibp_bounder_free(struct ibp_bounder *b);

/* Bytes the bounder holds. */
size_t ibp_bounder_bytes(const struct ibp_bounder *b);

/* Threads used by a run (default and upper limit: OpenMP's maximum when the bounder was
 * created); results do not depend on it. */
void ibp_bounder_set_threads(struct ibp_bounder *b, int threads);

/* Lower bounds lb[batch][rows] of the specification rows (C z)_m over the box
 * [lo, hi] (both [batch][C][H][W] in the network's input space; pixel space when the
 * network starts with NORMALIZE), rows as in struct ibp_spec (labels: z_y - z_j for
 * j != y in increasing j). Errors: IBP_ERR_ARG (batch or rows beyond the config,
 * lo > hi somewhere, label out of range), IBP_ERR_NUMERIC (NaN in the input). */
enum ibp_status ibp_bounder_run(const struct ibp_net *net, struct ibp_bounder *b,
                                const float *lo, const float *hi, int batch,
                                const struct ibp_spec *spec, float *lb,
                                struct ibp_error *err);

/* The CROWN methods' own lower bounds of the last run, before the element-wise
 * maximum with IBP ([batch][rows] of that run, owned by the bounder, valid until the
 * next run); NULL for IBP_BOUND_IBP. For tests and reports of how much CROWN adds. */
const float *ibp_bounder_crown_bounds(const struct ibp_bounder *b);

/* The bounds of value v (0..n_layers) for sample s of the last run, in the bounder's
 * internal NHWC order ([h][w][c], a vector is [c]): *lo, *hi point to its n elements
 * (owned by the bounder, valid until the next run); sound in sound mode, and for the
 * CROWN methods the inputs of ReLUs are CROWN-tightened. For engines that need a
 * bounder's intermediate bounds (nets/bounds/domain_bounds.c). */
void ibp_bounder_value_bounds(const struct ibp_bounder *b, int v, int s, const float **lo,
                              const float **hi);

#endif
