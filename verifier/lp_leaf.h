/* lp_leaf.h — linear programs of fully split domains (SPEC §3.3), solved by COIN-OR Clp,
 * and the sound re-checks that turn a solver's float answer into a certificate.
 *
 * The problem (all data doubles, taken as EXACT real numbers):
 *     minimise    g·x + h
 *     subject to  lo <= x <= hi               (n variables, finite bounds, lo <= hi)
 *                 A_i·x + d_i >= 0            (m constraints, A sparse by rows)
 * A caller whose constraints come from float computations (pre-activations of a split
 * network) must itself make sure that these exact data describe what it claims.
 *
 * Certificates (weak duality). For every y >= 0 and every feasible x,
 * y·(Ax + d) >= 0, so
 *     g·x + h >= (g - Aᵀy)·x + (h - y·d) >= min over the box of the same,
 * a lower bound of the LP's minimum that holds for ANY y >= 0; ibp_lp_dual_bound
 * evaluates it with outward rounding, so it holds in real arithmetic. With g = 0, h = 0:
 * when min over the box of -y·(Ax + d) > 0, no x in the box satisfies all constraints
 * (ibp_lp_infeasible_bound; y a Farkas ray). The solver's own optimum is never a
 * certificate; only these re-checks are.
 *
 * No function prints (the solver's messages are switched off per model) or exits. Each
 * call uses its own solver model, so calls may run in parallel on different threads. */
#ifndef IBP_LP_LEAF_H
#define IBP_LP_LEAF_H

#include "nets/base/status.h"

struct ibp_lp {
    int n, m;         /* variables (>= 1), constraints (>= 0) */
    const double *lo; /* [n] */
    const double *hi; /* [n] */
    const double *g;  /* [n] objective coefficients; NULL means 0 */
    double h;         /* objective constant */
    /* A by rows: row i's entries are k = row_start[i] .. row_start[i + 1] - 1, each
     * A[i][col[k]] = val[k] (columns distinct within a row; absent entries are 0).
     * row_start [m + 1] with row_start[0] = 0, non-decreasing; col, val [row_start[m]].
     * All may be NULL when m = 0. */
    const long *row_start;
    const int *col;
    const double *val;
    const double *d;  /* [m] constraint constants; NULL means 0 */
};

enum ibp_lp_status {
    IBP_LP_OPTIMAL,    /* x is an optimum (solver tolerances), y its duals */
    IBP_LP_INFEASIBLE, /* the solver found no feasible x; y is its Farkas ray */
    IBP_LP_FAILED,     /* no answer (time or iteration limit, numerical trouble): why */
};

struct ibp_lp_result {
    enum ibp_lp_status status;
    double objective; /* OPTIMAL: g·x + h at the solver's x (a float answer, no proof) */
    char why[IBP_ERROR_LEN]; /* FAILED: what the solver reported */
};

/* Solves lp (dual simplex). x [n] and y [m] are caller-owned; either may be NULL.
 * OPTIMAL: x the solver's optimum clipped into the box, y >= 0 its constraint duals.
 * INFEASIBLE: y >= 0 the solver's infeasibility ray, or e_i for a row i without
 * entries and d_i < 0 (the caller proves infeasibility with ibp_lp_infeasible_bound),
 * x the solver's last point clipped into the box (lo for such a row).
 * FAILED: x, y unspecified. max_seconds > 0 limits the solve (then FAILED on expiry).
 * Errors: IBP_ERR_ARG (n < 1, m < 0, a missing array, lo > hi, a non-finite box
 * bound, row starts out of order or a column out of range; the message names the
 * index), IBP_ERR_NUMERIC (NaN or Inf in g, h, A or d), IBP_ERR_NOMEM. */
enum ibp_status ibp_lp_solve(const struct ibp_lp *lp, double max_seconds, double *x,
                             double *y, struct ibp_lp_result *res, struct ibp_error *err);

/* A lower bound *lb of min { g·x + h : x feasible } that holds in real arithmetic on the
 * data as exact reals, from multipliers y [m]: min over the box of
 * (g - Aᵀy)·x + (h - y·d), rounded outward. Entries of y below 0 count as 0. *lb is
 * -inf when the evaluation overflows or meets a NaN or Inf in y (always sound). With an
 * empty feasible set the bound is still valid (vacuously). Errors: as ibp_lp_solve for
 * the problem data, IBP_ERR_NOMEM. */
enum ibp_status ibp_lp_dual_bound(const struct ibp_lp *lp, const double *y, double *lb,
                                  struct ibp_error *err);

/* A lower bound *lb, in real arithmetic, of min over the box of -y·(Ax + d) (g and h
 * ignored). *lb > 0 proves that no x in the box satisfies all constraints. */
enum ibp_status ibp_lp_infeasible_bound(const struct ibp_lp *lp, const double *y,
                                        double *lb, struct ibp_error *err);

#endif
