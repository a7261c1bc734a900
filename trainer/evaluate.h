/* evaluate.h — clean and IBP-verified error of a network on a dataset, in evaluation
 * mode (BatchNorm running statistics), as the trainer reports after every epoch.
 *
 * For each sample x with label y: the clean prediction is the argmax of the logits
 * (ties: lowest index); the box is l = clip(x - eps, 0, 1), u = clip(x + eps, 0, 1) in
 * pixel space (the network's NORMALIZE layer normalises it, SPEC §1); the sample is
 * verified when it is classified correctly and every margin lower bound
 * lb_j = lower bound of z_y - z_j (j != y) from IBP is > 0 strictly (SPEC §2), or, for
 * an evaluator made with crown_ibp, from the better of IBP and CROWN-IBP per margin
 * (nets/bounds/crown_ibp.h: the models of mtl-ibp and sabr certify poorly by IBP alone).
 * This is float32 round-to-nearest, the training-time figure; the verifier's sound
 * mode (nets/bounds/bounds.h) is what certifies a model for deployment. */
#ifndef IBP_EVALUATE_H
#define IBP_EVALUATE_H

#include <stdint.h>

#include "datasets/dataset.h"
#include "nets/graph/net.h"
#include "nets/base/status.h"

struct ibp_eval_result {
    int64_t n;        /* samples evaluated */
    int64_t errors;   /* misclassified clean samples */
    int64_t verified; /* samples verified at eps */
};

/* Error rates in percent: 100 * errors / n and 100 * (n - verified) / n. */
double ibp_eval_clean_error(const struct ibp_eval_result *r);
double ibp_eval_verified_error(const struct ibp_eval_result *r);

struct ibp_evaluator;

/* An evaluator for net and batches of up to max_batch samples (buffers and an IBP
 * workspace sized once; crown_ibp non-zero adds CROWN-IBP's buffers, two arrays of every
 * value's size per sample, and counts a margin verified by either bound). Errors:
 * IBP_ERR_ARG (max_batch < 1), CROWN-IBP's (a layer it does not take), IBP_ERR_NOMEM. */
enum ibp_status ibp_evaluator_create(const struct ibp_net *net, int max_batch, int crown_ibp,
                                     struct ibp_evaluator **out, struct ibp_error *err);
void ibp_evaluator_free(struct ibp_evaluator *ev);

/* Threads used by the passes (results do not depend on it). */
void ibp_evaluator_set_threads(struct ibp_evaluator *ev, int threads);

/* Evaluates net on every sample of ds at radius eps (pixel units, [0,1]). eps = 0
 * still reports `verified` (bounds over the point itself). Errors: IBP_ERR_SHAPE when
 * the dataset's image shape is not the network's input or a label is outside the
 * network's outputs; IBP_ERR_ARG for eps outside [0,1]; the passes' errors. */
enum ibp_status ibp_evaluate(const struct ibp_net *net, struct ibp_evaluator *ev,
                             const struct ibp_dataset *ds, double eps,
                             struct ibp_eval_result *out, struct ibp_error *err);

#endif
