/* zoo.h — the architectures of SPEC §5 for any input shape and class count.
 *
 * Names: "cnn7" (options width = first conv channels, default 64, and hidden = Linear
 * width, default 512), "wrn8", "cnn-small" (with BatchNorm after every hidden layer),
 * "cnn-small-nobn", "mlp" (hidden layers of `hidden` units, `depth` of them, BN after
 * each). Every model starts with a NORMALIZE layer carrying mean/std (one value per
 * input channel; NULL means mean 0, std 1), so the network maps pixels in [0,1] to
 * logits and the normalisation travels with it. Parameters are zero: initialise with
 * init.h. */
#ifndef IBP_ZOO_H
#define IBP_ZOO_H

#include "nets/graph/net.h"

struct ibp_zoo_options {
    int width;   /* cnn7: channels of the first convs (0: 64); mlp: unused */
    int hidden;  /* cnn7 / wrn8 / mlp hidden Linear width (0: 512; mlp 0: 256) */
    int depth;   /* mlp hidden layers (0: 2) */
};

/* Builds model `name` for input (C,H,W) and `classes` outputs. Errors name the model
 * ("unknown model 'cnn9'; known: cnn7, wrn8, cnn-small, cnn-small-nobn, mlp"). */
enum ibp_status ibp_zoo_create(const char *name, struct ibp_shape input, int classes,
                               const struct ibp_zoo_options *opt, const float *mean,
                               const float *std, struct ibp_net **out, struct ibp_error *err);

/* The known names, comma separated, for --help. */
const char *ibp_zoo_names(void);

#endif
