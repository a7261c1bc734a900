/* loss.h — the training losses with their gradients, and the counts reported per batch.
 *
 * Losses are averaged over the batch and computed in double; gradients are written as
 * float arrays of the input's shape (overwritten, not accumulated). */
#ifndef IBP_LOSS_H
#define IBP_LOSS_H

/* Robust cross-entropy on margin lower bounds lb[batch][rows] (SPEC §4.4):
 *   L = (1/batch) sum_b log(1 + sum_j exp(-lb_bj)),
 * i.e. cross-entropy of the worst-case logits [0, -lb_b1, ...] with target 0, computed as a
 * log-sum-exp that stays finite for lb down to about -1e300. grad (may be NULL) receives
 * dL/dlb[batch][rows] = -softmax([0, -lb])_j / batch. */
double ibp_robust_ce(const float *lb, int batch, int rows, float *grad);

/* Clean cross-entropy L = (1/batch) sum_b (logsumexp(z_b) - z_b,y) on logits
 * [batch][classes] with labels in [0, classes). grad (may be NULL) receives
 * dL/dlogits = (softmax(z_b) - onehot(y)) / batch. */
double ibp_cross_entropy(const float *logits, const int *labels, int batch, int classes,
                         float *grad);

/* MTL-IBP (SPEC §4.9): L = alpha ibp_robust_ce(lb) + (1 - alpha) ibp_cross_entropy at
 * the logits of the PGD points, logits_adv [batch][classes] (labels in [0, classes),
 * rows = classes - 1). g_lb [batch][rows] and g_logits [batch][classes] (both or neither
 * NULL) receive the two gradients, each scaled by its weight; *robust and *adv (may be
 * NULL) the unweighted parts. With the clean logits and alpha = 1 - kappa it is also
 * CROWN-IBP's kappa mix of clean and robust loss. */
double ibp_mtl_ibp_loss(const float *lb, const float *logits_adv, const int *labels,
                        int batch, int classes, double alpha, float *g_lb, float *g_logits,
                        double *robust, double *adv);

/* Samples whose every lb_bj > 0 strictly (SPEC §2: lb = 0 or NaN is not verified). */
int ibp_count_verified(const float *lb, int batch, int rows);

/* Samples whose argmax (ties: lowest index) differs from the label; a row containing NaN
 * counts as an error. */
int ibp_count_errors(const float *logits, const int *labels, int batch, int classes);

#endif
