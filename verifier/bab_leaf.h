/* bab_leaf.h — deciding a fully split domain of branch and bound by linear programs
 * (SPEC §3.3).
 *
 * On a domain where every unstable ReLU is split, the network is affine on the region,
 * so the minimum of each spec row is an LP. Variables: the inputs and the output of
 * every dense and per-element (diag) layer of the problem's chain
 * (nets/bounds/domain_bounds.h); a ReLU's output is its input (active: split +1 or
 * stable on) or 0 (inactive). Constraints, all with exact double data:
 *   - each variable within its intermediate bounds (sound bounds: they only tighten),
 *     an active ReLU input >= 0, an inactive one <= 0 (in the variable's box);
 *   - dense layers y = W x + b as two inequalities per output (W, b: float32 values);
 *   - diag layers y = s' x + t' with s', t' the real values known only to lie in
 *     intervals: relaxed soundly to two inequalities per element (x >= 0: slopes
 *     s - dev and s + dev rounded outward; x <= 0 likewise; sign unknown: s x with the
 *     constant widened by dev max |x|).
 * Objective: (C z + d)_r for each row r not already proved. The domain is closed when
 * every such row's minimum is proved > 0 by ibp_lp_dual_bound on the solver's duals, or
 * the whole region is proved empty by ibp_lp_infeasible_bound (or an empty box of some
 * variable). It is sat only when some LP optimum's input part, clipped into the box and
 * rounded to float, gives some row <= 0 in a plain float32 forward pass. Otherwise open.
 * Sound mode (sound = 1) rests "closed" on those re-checks only; sound = 0 trusts the
 * solver's optimum and infeasibility verdicts. */
#ifndef IBP_BAB_LEAF_H
#define IBP_BAB_LEAF_H

#include "nets/base/status.h"
#include "nets/bounds/domain_bounds.h"
#include "nets/graph/net.h"
#include "verifier/lp_leaf.h"

enum ibp_leaf_verdict {
    IBP_LEAF_CLOSED, /* every open row proved > 0, or the domain proved empty */
    IBP_LEAF_SAT,    /* cex holds a point the forward pass confirms */
    IBP_LEAF_OPEN,   /* neither (solver failure, a row with a minimum <= 0 that the
                      * float forward pass does not confirm, or a bound too loose) */
};

/* The LP of a fully split domain (split [n_relu] as in domain_bounds.h), with every
 * array owned by the struct; lp.g and lp.h are row r's objective after
 * ibp_leaf_lp_set_row. empty = 1 when some variable's box is empty (then lp is not
 * usable and the domain is empty). */
struct ibp_leaf_lp {
    struct ibp_lp lp;
    int empty;
    int outs;        /* the network's outputs */
    int *out_var;    /* [outputs] the variable of each output, -1 for the constant 0 */
    double *store;   /* owns lo, hi, g, A's values, d */
    long *row_start; /* owns A's rows and columns */
    int *col;
};

/* The cap on the LP's constraint entries (nonzeros) used by ibp_leaf_decide (16 Mi, 192
 * MiB with their columns). */
#define IBP_LEAF_MAX_ENTRIES ((size_t)1 << 24)

/* Builds the LP. Errors: IBP_ERR_ARG (a free unstable neuron: not fully split),
 * IBP_ERR_UNSUPPORTED (the constraint matrix would exceed max_entries nonzeros, or an
 * intermediate bound is infinite), IBP_ERR_NOMEM. On error *out holds nothing to free. */
enum ibp_status ibp_leaf_lp_build(const struct ibp_dom_problem *p, const signed char *split,
                                  size_t max_entries, struct ibp_leaf_lp *out,
                                  struct ibp_error *err);
/* Sets the objective to row r of the problem's spec. */
void ibp_leaf_lp_set_row(const struct ibp_dom_problem *p, struct ibp_leaf_lp *l, int r);
void ibp_leaf_lp_free(struct ibp_leaf_lp *l);

/* Decides the domain split of problem p (net: the network p was made from, for the
 * forward pass). known_lb [rows] (may be NULL): rows whose bound is already > 0 need
 * no LP. max_seconds > 0 limits each solve. cex [inputs] receives the point when sat
 * (may be NULL). *lps counts the LPs solved (may be NULL). Errors: as ibp_leaf_lp_build,
 * except that IBP_ERR_UNSUPPORTED answers IBP_LEAF_OPEN with IBP_OK, and the solver's and
 * forward pass's errors. */
enum ibp_status ibp_leaf_decide(const struct ibp_dom_problem *p, const struct ibp_net *net,
                                const signed char *split, const float *known_lb, int sound,
                                double max_seconds, float *cex, enum ibp_leaf_verdict *verdict,
                                int *lps, struct ibp_error *err);

#endif
