/* crown_ibp.h — CROWN-IBP margin lower bounds on a training workspace, with gradients
 * (SPEC §3, the crown-ibp baseline of §4.8).
 *
 * After a bounds pass with a labels spec on a workspace made with IBP_WS_GRAD
 * (ibp_pass_train, or ibp_pass_clean + ibp_pass_bounds in one BN mode), the IBP bounds
 * of every ReLU input in that workspace are the intermediate bounds; one backward
 * linear pass from each margin row e_y - e_j, through the relaxation (upper line
 * u(x-l)/(u-l), lower line alpha x with alpha = 1 when u > -l, else 0), concretised on
 * the input box, gives the CROWN-IBP lower bound of the margin. BatchNorm uses the
 * (s, t) of the bounds pass: in train mode they depend on the clean batch, and the
 * gradient flows there too.
 *
 * The gradient of a loss on these bounds has two parts: along the coefficients of the
 * linear pass (weights, biases, BN's s and t) and along the relaxations (the IBP bounds
 * of every ReLU input, hence the whole IBP pass). ibp_crown_ibp_backward writes the
 * first into grad and leaves the second in the workspace (the ReLU-input slots of
 * ibp_ws_relu_bounds and BN's statistics path), where the next ibp_pass_backward on the
 * same workspace picks it up; the caller adds the two gradients. These bounds are
 * float, for training; the verifier's certified bounds are in bounds.h.
 *
 * Supported layers: NORMALIZE (first layer only), LINEAR, CONV2D, BATCHNORM, RELU,
 * FLATTEN, ADD; the last layer must be LINEAR (the margins are folded into it). */
#ifndef IBP_CROWN_IBP_H
#define IBP_CROWN_IBP_H

#include "nets/passes/passes.h"

struct ibp_crown_ibp;

/* Buffers for batches up to max_batch (two arrays of every value's size per sample).
 * Fails with a message naming the layer when the net has a layer it cannot handle. */
enum ibp_status ibp_crown_ibp_create(const struct ibp_net *net, int max_batch,
                                     struct ibp_crown_ibp **out, struct ibp_error *err);
void ibp_crown_ibp_free(struct ibp_crown_ibp *c);

/* lb[batch][outputs-1]: CROWN-IBP lower bounds of the margins z_y - z_j (j != y in
 * increasing order) over the box of the last bounds pass on ws. */
enum ibp_status ibp_crown_ibp_bounds(struct ibp_crown_ibp *c, const struct ibp_net *net,
                                     struct ibp_workspace *ws, float *lb,
                                     struct ibp_error *err);

/* For a loss with dL/dlb = g_lb[batch][outputs-1] on the bounds of the last
 * ibp_crown_ibp_bounds call (whose coefficients it re-uses when they were kept: up to
 * 512 MiB; then no other pass may run on ws in between), grad[n_params]
 * (overwritten) gets the part along the linear pass's coefficients; the part along the
 * IBP bounds is added to ws (see above) for the following ibp_pass_backward, which must
 * be the next pass on ws. Threads: those of ws. Results do not depend on them. */
enum ibp_status ibp_crown_ibp_backward(struct ibp_crown_ibp *c, const struct ibp_net *net,
                                       struct ibp_workspace *ws, const float *g_lb,
                                       float *grad, struct ibp_error *err);

#endif
