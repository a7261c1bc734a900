/* net_prepend.h — a network with new layers in front of an existing one: how a model
 * trained elsewhere gets the normalisation its caller applied (a NORMALIZE layer) or
 * takes images where it was exported with a flat input (a FLATTEN layer). */
#ifndef IBP_NET_PREPEND_H
#define IBP_NET_PREPEND_H

#include "nets/graph/net.h"

/* Builds *out: the layers pre[0..n_pre) (in[] as for ibp_net_create, relative to the new
 * input of shape `input`), then every layer of net reading what it read before, with
 * net's input replaced by the output of pre's last layer. net's parameters and buffers
 * are copied; the new layers' are as ibp_net_create leaves them (NORMALIZE mean 0, std
 * 1: set them through ibp_normalize_mean/std). net is only read.
 * Errors: IBP_ERR_ARG (n_pre < 1), IBP_ERR_SHAPE (a bad new layer, or pre's output shape
 * is not net's input shape; the message gives both), IBP_ERR_NOMEM. */
enum ibp_status ibp_net_prepend(const struct ibp_net *net, struct ibp_shape input,
                                const struct ibp_layer_spec *pre, int n_pre,
                                struct ibp_net **out, struct ibp_error *err);

#endif
