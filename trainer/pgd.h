/* pgd.h — the training PGD of MTL-IBP and SABR (SPEC §4.9): the shared attack
 * (nets/passes/attack.h) on the robustness margins of the labels, run on the model with
 * BN in eval mode (running statistics), starting from the clean image, one restart,
 * `steps` constant steps of `step` x the box half-width, not stopping at the first
 * counterexample (the training loss wants the worst point found, the one with the
 * lowest margin). With one restart and a start point no random number is drawn, so the
 * points depend on nothing but the model and the batch. */
#ifndef IBP_TRAINER_PGD_H
#define IBP_TRAINER_PGD_H

#include "nets/base/status.h"
#include "nets/graph/net.h"

struct ibp_train_pgd;

/* For net and batches up to max_batch. threads: for the attack's passes (0 = OpenMP's
 * default). Errors: IBP_ERR_ARG (max_batch < 1, steps < 1, step not > 0), IBP_ERR_NOMEM. */
enum ibp_status ibp_train_pgd_create(const struct ibp_net *net, int max_batch, int steps,
                                     double step, int threads, struct ibp_train_pgd **out,
                                     struct ibp_error *err);
void ibp_train_pgd_free(struct ibp_train_pgd *p);

/* x_adv [batch][input] = the point of lowest margin found in [lo, hi] from x (clamped into
 * the box). Errors: the attack's (batch too large, NaN in the box, labels out of range). */
enum ibp_status ibp_train_pgd_run(struct ibp_train_pgd *p, const struct ibp_net *net,
                                  const float *x, const float *lo, const float *hi,
                                  const int *labels, int batch, float *x_adv,
                                  struct ibp_error *err);

#endif
