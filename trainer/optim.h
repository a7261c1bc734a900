/* optim.h — first-order optimisers with PyTorch semantics, gradient-norm clipping, and
 * the optimiser state a resumed run needs.
 *
 * Adam (torch.optim.Adam, amsgrad off):       with g = grad + wd * p,
 *   m = m + (1-b1)(g - m);  v = b2 v + (1-b2) g^2;  t = t + 1
 *   p -= lr/(1 - b1^t) * m / (sqrt(v)/sqrt(1 - b2^t) + eps)
 * SGD (torch.optim.SGD, dampening 0):         with g = grad + wd * p,
 *   buf = g on the first step, else momentum * buf + g;
 *   d = nesterov ? g + momentum * buf : buf (d = g without momentum);  p -= lr d
 * Moments are float32 like the parameters; each update is evaluated in double. */
#ifndef IBP_OPTIM_H
#define IBP_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "nets/base/bytes.h"
#include "nets/base/status.h"

enum ibp_optim_kind {
    IBP_OPTIM_ADAM,
    IBP_OPTIM_SGD,
};

struct ibp_optim_config {
    enum ibp_optim_kind kind;
    double beta1, beta2, eps;  /* Adam: 0.9, 0.999, 1e-8 */
    double momentum;           /* SGD: 0 = plain SGD */
    int nesterov;              /* SGD: needs momentum > 0 */
    double weight_decay;       /* L2 term added to the gradient (torch's weight_decay) */
};

/* Adam with b1 0.9, b2 0.999, eps 1e-8, no weight decay. */
struct ibp_optim_config ibp_optim_adam_defaults(void);

struct ibp_optim {
    struct ibp_optim_config cfg;
    size_t n;       /* parameters */
    int64_t step;   /* updates done */
    float *m;       /* [n] Adam first moment / SGD momentum buffer (NULL for plain SGD) */
    float *v;       /* [n] Adam second moment (NULL for SGD) */
};

/* An optimiser for n parameters, moments zero, step 0. Free with ibp_optim_free.
 * Errors: IBP_ERR_ARG for betas outside [0,1), eps <= 0, momentum outside [0,1),
 * nesterov without momentum, negative weight decay, an unknown kind; IBP_ERR_NOMEM. */
enum ibp_status ibp_optim_create(const struct ibp_optim_config *cfg, size_t n,
                                 struct ibp_optim **out, struct ibp_error *err);
void ibp_optim_free(struct ibp_optim *opt);

/* One update of params[n] with grad[n] (read only) at learning rate lr, on `threads`
 * threads (each entry is updated on its own: the result does not depend on them). */
void ibp_optim_step(struct ibp_optim *opt, float *params, const float *grad, double lr,
                    int threads);

/* Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_: the 2-norm of
 * grad[n] is summed in double (IBP_CLIP_PARTS fixed parts in order, each on one of
 * `threads` threads: the result does not depend on them); when max_norm / (norm + 1e-6)
 * < 1 every entry is scaled by it. Returns the norm before clipping; a NaN/Inf norm is
 * returned without touching grad (the caller stops the run). max_norm <= 0 disables the
 * scaling. */
#define IBP_CLIP_PARTS 64
double ibp_grad_clip(float *grad, size_t n, double max_norm, int threads);

/* Appends the state (kind, n, step, moments) to w (fixed-width little-endian). */
void ibp_optim_state_save(const struct ibp_optim *opt, struct ibp_wbuf *w);

/* Restores a state written by ibp_optim_state_save into opt, which must have the same
 * kind and parameter count. Errors: IBP_ERR_FORMAT ("optimiser state: saved for 1234
 * parameters, model has 999", "... truncated", non-finite moments); opt is unchanged
 * on failure. */
enum ibp_status ibp_optim_state_load(struct ibp_optim *opt, struct ibp_rbuf *r,
                                     struct ibp_error *err);

#endif
