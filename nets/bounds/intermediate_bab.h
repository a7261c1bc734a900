/* intermediate_bab.h — tighter intermediate bounds by branch and bound on the ReLUs
 * before them.
 *
 * On deep networks the bounds of the later layers are loose because every layer's
 * relaxation error is passed on; α-CROWN (alpha_crown.h) narrows them only as far as the
 * single-neuron relaxation allows. Here, for one ReLU layer m of a problem, the lower
 * and the upper bound of every unstable neuron's input each become a small branch and
 * bound of their own on the prefix of the network before layer m (a prefix view,
 * domain_bounds.h): from the α-CROWN root, `budget` times the leaf with the lowest bound
 * is split on the free unstable neuron of an earlier layer with the best BaBSR score,
 * and both children are bounded with α and β warm-started from it and optimised
 * jointly. The leaves of one bound partition the box by split constraints, so the
 * lowest of their bounds is a valid bound; each leaf is re-evaluated at its parameters
 * (sound when sound, a sound problem needed) and the neuron's bounds are narrowed to
 * the result (ibp_dom_tighten_relu). A bound whose neuron is proved stable stops
 * early. All the bounds of the layer are bounded together, one row per domain
 * (ibp_dom_bound_rows), so each step is one batched pass. */
#ifndef IBP_INTERMEDIATE_BAB_H
#define IBP_INTERMEDIATE_BAB_H

#include <stddef.h>

#include "nets/base/status.h"
#include "nets/bounds/domain_bounds.h"

struct ibp_ibab_config {
    int budget;        /* splits per bound (>= 0; 0: the α-CROWN root alone) */
    int steps;         /* joint α/β steps per batch of children, and α steps at the root */
    size_t max_bytes;  /* most memory for the leaves; the budget shrinks to fit */
    double deadline;   /* > 0: stop splitting at this CLOCK_MONOTONIC time (the leaves so
                        * far still give valid bounds); 0: none */
};

/* budget 8, 10 steps, 256 MiB, no deadline. */
struct ibp_ibab_config ibp_ibab_config_default(void);

/* Narrows the input bounds of ReLU layer m (1 <= m < ibp_dom_relu_layers; layer 0's
 * input is an affine map of the box, already exact) of p as above. Results do not depend
 * on p's thread count unless the deadline stops the splitting. Errors: IBP_ERR_ARG (m
 * out of range, sound on an unsound problem), IBP_ERR_NOMEM, those of ibp_dom_bound. */
enum ibp_status ibp_intermediate_bab(struct ibp_dom_problem *p, int m,
                                     const struct ibp_ibab_config *cfg, int sound,
                                     struct ibp_error *err);

#endif
