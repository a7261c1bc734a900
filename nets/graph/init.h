/* init.h — parameter initialisation of a network from an explicit RNG.
 *
 * Two schemes (SPEC §4.1):
 *   IBP_INIT_DEFAULT  PyTorch's defaults: every LINEAR/CONV2D weight and bias
 *                     ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with
 *                     a = sqrt(5) reduces to this bound for weights);
 *   IBP_INIT_IBP      the short-warmup recipe's IBP initialisation: every LINEAR/CONV2D
 *                     weight except the final classifier ~ N(0, sigma^2) with
 *                     sigma = sqrt(2*pi)/fan_in; biases and the classifier as the
 *                     default; then every LINEAR/CONV2D whose input is RELU(ADD(...))
 *                     (a residual block's first conv and shortcut after the first block)
 *                     has its weight halved.
 * Both set BatchNorm gamma = 1, beta = 0, running mean 0, running var 1. NORMALIZE
 * buffers (the data normalisation) are left as they are.
 * fan_in = in_features for LINEAR, (in_channels/groups)*kh*kw for CONV2D.
 * Values are drawn layer by layer in order, weight before bias, in row-major order, so a
 * (seed, stream) pair determines the network. */
#ifndef IBP_INIT_H
#define IBP_INIT_H

#include "nets/graph/net.h"
#include "nets/base/rng.h"

enum ibp_init_kind {
    IBP_INIT_DEFAULT,
    IBP_INIT_IBP,
};

/* Initialises every parameter and BatchNorm buffer of net, drawing from rng (advanced).
 * Errors: IBP_ERR_ARG for an unknown kind. */
enum ibp_status ibp_net_init(struct ibp_net *net, enum ibp_init_kind kind, struct ibp_rng *rng,
                             struct ibp_error *err);

/* fan_in of LINEAR/CONV2D layer k (0 for other kinds). */
int ibp_layer_fan_in(const struct ibp_net *net, int k);

/* Index of the final classifier: the last LINEAR or CONV2D layer; -1 when there is none. */
int ibp_net_classifier(const struct ibp_net *net);

/* 1 when layer k's input is the output of a RELU whose input is the output of an ADD. */
int ibp_layer_after_residual(const struct ibp_net *net, int k);

#endif
