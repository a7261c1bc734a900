/* alpha_crown.h — α-CROWN (SPEC §3.1) and the joint α/β optimiser of β-CROWN branch and
 * bound (SPEC §3.2), on the domain-bound engine (domain_bounds.h).
 *
 * The optimiser is projected gradient ascent with Adam (beta1 0.9, beta2 0.999, eps 1e-8)
 * on the sum of the rows' lower bounds, the step size decaying exponentially per step;
 * α is clipped to [0, 1] and β to [0, inf) after each step. Each (domain, row) keeps
 * the parameters of its best bound (rows do not share parameters, so the best of every
 * row is reached together); it stops after `steps` steps or after `patience` steps in
 * which no row improved. The optimised parameters are only parameters of a valid bound:
 * callers report the bound re-evaluated at them (sound when asked). */
#ifndef IBP_ALPHA_CROWN_H
#define IBP_ALPHA_CROWN_H

#include "nets/bounds/domain_bounds.h"

struct ibp_opt_config {
    int steps;       /* most gradient steps */
    int patience;    /* stop after this many steps without improvement */
    double lr_alpha; /* initial step sizes */
    double lr_beta;
    double decay;    /* step size factor per step */
    double deadline; /* > 0: stop at this CLOCK_MONOTONIC time (seconds), keeping the best
                        parameters so far (still those of valid bounds); 0: none */
};

/* SPEC §3.1: 100 steps, patience 10, lr 0.1, decay 0.98, no deadline. */
struct ibp_opt_config ibp_alpha_crown_config(void);
/* SPEC §3.2's joint optimisation in branch and bound: lr_α 0.01, lr_β 0.05, decay 0.98,
 * the given number of steps (20-50), patience 10. */
struct ibp_opt_config ibp_beta_crown_config(int steps);

/* Optimises alpha[nd][rows][n_relu] (and beta, same layout, when not NULL) in place for
 * the nd domains split[nd][n_relu], starting from their values; on return they hold each
 * row's best parameters and lb[nd][rows] the best (double, unrounded) bounds. Errors: as
 * ibp_dom_bound, IBP_ERR_NOMEM. */
enum ibp_status ibp_dom_optimize(const struct ibp_dom_problem *p, int nd,
                                 const signed char *split, double *alpha, double *beta,
                                 const struct ibp_opt_config *cfg, double *lb,
                                 struct ibp_error *err);

/* As ibp_dom_optimize with one row per domain (ibp_dom_bound_rows): alpha, beta
 * [nd][n_relu], lb [nd]. */
enum ibp_status ibp_dom_optimize_rows(const struct ibp_dom_problem *p, int nd, const int *row_of,
                                      const signed char *split, double *alpha, double *beta,
                                      const struct ibp_opt_config *cfg, double *lb,
                                      struct ibp_error *err);

/* α-CROWN on the whole box: from the adaptive slopes, optimise (cfg, NULL: the SPEC
 * config), then re-evaluate at the best slopes (sound when sound, a sound problem
 * needed). lb[rows] receives max(that bound, the problem's CROWN bound) — both valid —
 * and own_lb[rows] (may be NULL) the re-evaluated bound alone; alpha[rows][n_relu] (may
 * be NULL) the best slopes. */
enum ibp_status ibp_alpha_crown(const struct ibp_dom_problem *p, const struct ibp_opt_config *cfg,
                                int sound, double *alpha, float *lb, float *own_lb,
                                struct ibp_error *err);

/* α-CROWN for the intermediate bounds (SPEC §3.1): layer by layer from the second ReLU
 * layer, the lower and upper bound of every unstable neuron's input are optimised as
 * rows of a prefix view (domain_bounds.h), each row with its own slopes, and the
 * problem's bounds are narrowed to them (ibp_dom_tighten_relu) before the next layer.
 * Re-evaluated at the best slopes, sound when sound (a sound problem needed), so the
 * narrowed bounds are valid; every later bound of p gains from them. cfg NULL: the
 * SPEC config. threads: chunks of rows in parallel (results do not depend on it, unless
 * cfg's deadline stops the optimiser, or the layers: past it the later layers keep
 * their bounds). Errors: IBP_ERR_NOMEM, those of ibp_dom_bound. */
enum ibp_status ibp_alpha_crown_intermediate(struct ibp_dom_problem *p,
                                             const struct ibp_opt_config *cfg, int sound,
                                             int threads, struct ibp_error *err);
/* The same from ReLU layer m0 on (m0 <= 1: every layer), for a caller that tightened the
 * layers before m0 otherwise (intermediate_bab.h). */
enum ibp_status ibp_alpha_crown_intermediate_from(struct ibp_dom_problem *p, int m0,
                                                  const struct ibp_opt_config *cfg, int sound,
                                                  int threads, struct ibp_error *err);

#endif
