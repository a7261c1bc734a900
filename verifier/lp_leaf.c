#include "verifier/lp_leaf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Clp_C_Interface.h>

#include "nets/bounds/sound_fp.h"

#define DBL_ETA 0x1p-1074 /* smallest positive subnormal double */

static enum ibp_status check_finite(const double *v, int n, const char *what,
                                    struct ibp_error *err)
{
    for (int i = 0; v && i < n; i++)
        if (!isfinite(v[i]))
            return ibp_fail(err, IBP_ERR_NUMERIC, "lp: %s[%d] = %g is not finite", what, i, v[i]);
    return IBP_OK;
}

/* The row of entry k. */
static int row_of(const struct ibp_lp *lp, long k)
{
    int i = 0;
    while (i + 1 < lp->m && lp->row_start[i + 1] <= k)
        i++;
    return i;
}

static enum ibp_status check_lp(const struct ibp_lp *lp, struct ibp_error *err)
{
    int have_a = lp->row_start && lp->col && lp->val;
    if (lp->n < 1 || lp->m < 0 || !lp->lo || !lp->hi || (lp->m > 0 && !have_a))
        return ibp_fail(err, IBP_ERR_ARG, "lp: %d variables, %d constraints, box %s, A %s",
                        lp->n, lp->m, lp->lo && lp->hi ? "given" : "missing",
                        have_a ? "given" : "missing");
    for (int i = 0; i < lp->m; i++)
        if ((i == 0 && lp->row_start[0] != 0) || lp->row_start[i + 1] < lp->row_start[i])
            return ibp_fail(err, IBP_ERR_ARG, "lp: row_start[%d] is out of order", i);
    for (long k = 0; lp->m > 0 && k < lp->row_start[lp->m]; k++)
        if (lp->col[k] < 0 || lp->col[k] >= lp->n)
            return ibp_fail(err, IBP_ERR_ARG, "lp: col[%ld] = %d is not a variable", k,
                            lp->col[k]);
    for (int j = 0; j < lp->n; j++)
        if (!isfinite(lp->lo[j]) || !isfinite(lp->hi[j]) || !(lp->lo[j] <= lp->hi[j]))
            return ibp_fail(err, IBP_ERR_ARG, "lp: box of x[%d] is [%g, %g]", j, lp->lo[j],
                            lp->hi[j]);
    if (!isfinite(lp->h))
        return ibp_fail(err, IBP_ERR_NUMERIC, "lp: objective constant %g is not finite", lp->h);
    enum ibp_status st = check_finite(lp->g, lp->n, "g", err);
    for (long k = 0; st == IBP_OK && lp->m > 0 && k < lp->row_start[lp->m]; k++)
        if (!isfinite(lp->val[k]))
            st = ibp_fail(err, IBP_ERR_NUMERIC, "lp: A[%d][%d] = %g is not finite",
                          row_of(lp, k), lp->col[k], lp->val[k]);
    if (st == IBP_OK)
        st = check_finite(lp->d, lp->m, "d", err);
    return st;
}

/* ---- sound evaluation of the Lagrangian bound ----
 *
 * Error model: A1/A2 of nets/bounds/sound_fp.h for double (unit roundoff u = 2^-53,
 * underflow eta = 2^-1074), R1 for fp_dup/fp_ddn, E3 (fp_dsum_lower) for signed sums of
 * exact doubles.
 *
 * D1 (double dot products). Let S = sum_{i<m} a_i b_i (a_i, b_i doubles, products NOT
 * exact) be computed by recursive summation in double (products rounded, or FMAs), and
 * T the computed sum of |a_i||b_i| in the same way. Then
 *     |fl(S) - S| <= g_m T + 2 m eta,   g_m = m u / (1 - 2 m u).
 * Proof: the proof of E1 in sound_fp.h, word for word with double's u and eta: each term
 * meets at most m roundings, fl(S) = sum a_i b_i (1 + t_i) + sum e_i (1 + t'_i) with
 * |t_i| <= gamma_m, |e_i| <= eta/2 (Higham §3.1 with underflow, errors of additions
 * being pure relative ones), so |fl(S) - S| <= gamma_m R + m eta with R = sum |a_i b_i|;
 * T >= (1 - gamma_m) R - m eta likewise, hence R <= (T + m eta)/(1 - gamma_m) and
 * |fl(S) - S| <= g_m T + m eta (1 + g_m) <= g_m T + 2 m eta (g_m <= 1 for 2 m u <= 1/2,
 * true for any int m). dot_err rounds every step of the bound up (R1); gm_up is g_m
 * rounded up: m u and 1 - 2 m u are exact for m < 2^52, the division and the product by
 * (1 + 2^-40) round once each, and (1 - u)^2 (1 + 2^-40) > 1; 2 m eta is exact.
 *
 * The bound. With y+ = max(y, 0) (exact), c_j = g_j - sum_i A_ij y+_i and
 * k = h - sum_i y+_i d_i are enclosed by D1 and outward steps (R1); for x_j in
 * [lo_j, hi_j] and c_j in [c_lo, c_hi], c_j x_j is bilinear, so its minimum is one of
 * the four corner products, each rounded down by R1 (also when it underflows: R1 only
 * uses rounding to nearest); the n terms and k are exact doubles summed by E3. Any Inf
 * or NaN on the way makes the bound -inf. */

static double gm_up(int m)
{
    double mu = (double)m * FP_UD;
    return mu / (1.0 - 2.0 * mu) * (1.0 + 0x1p-40);
}

static double dot_err(double T, double g, int m)
{
    return fp_dup(fp_dup(g * T) + 2.0 * (double)m * DBL_ETA);
}

static double corner_min(double c_lo, double c_hi, double lo, double hi)
{
    double p1 = fp_ddn(c_lo * lo), p2 = fp_ddn(c_lo * hi);
    double p3 = fp_ddn(c_hi * lo), p4 = fp_ddn(c_hi * hi);
    return fmin(fmin(p1, p2), fmin(p3, p4));
}

/* min over the box of (w g - Aᵀy+)·x + (w h - y+·d), rounded down; w is 1 or 0. */
static enum ibp_status lagrangian_bound(const struct ibp_lp *lp, const double *y,
                                        int with_objective, double *lb, struct ibp_error *err)
{
    *lb = -INFINITY;
    enum ibp_status st = check_lp(lp, err);
    if (st != IBP_OK)
        return st;
    int n = lp->n, m = lp->m;
    if (m > 0 && !y)
        return ibp_fail(err, IBP_ERR_ARG, "lp: no multipliers for %d constraints", m);
    for (int i = 0; i < m; i++)
        if (!isfinite(y[i]))
            return IBP_OK;
    double *S = calloc(2 * (size_t)n, sizeof *S);
    if (!S)
        return ibp_fail(err, IBP_ERR_NOMEM, "lp: out of memory for %d variables", n);
    double *T = S + n;
    double sd = 0.0, td = 0.0;
    for (int i = 0; i < m; i++) {
        double yi = y[i] > 0.0 ? y[i] : 0.0;
        if (yi == 0.0)
            continue; /* a zero term adds nothing, exactly */
        for (long k = lp->row_start[i]; k < lp->row_start[i + 1]; k++) {
            S[lp->col[k]] += lp->val[k] * yi;
            T[lp->col[k]] += fabs(lp->val[k]) * yi;
        }
        double di = lp->d ? lp->d[i] : 0.0;
        sd += di * yi;
        td += fabs(di) * yi;
    }
    double gm = gm_up(m);
    double s = 0.0, sa = 0.0;
    int finite = 1;
    for (int j = 0; j < n && finite; j++) {
        double e = dot_err(T[j], gm, m);
        double S_lo = fp_ddn(S[j] - e), S_hi = fp_dup(S[j] + e);
        double gj = with_objective && lp->g ? lp->g[j] : 0.0;
        double c_lo = fp_ddn(gj - S_hi), c_hi = fp_dup(gj - S_lo);
        finite = isfinite(c_lo) && isfinite(c_hi);
        double t = corner_min(c_lo, c_hi, lp->lo[j], lp->hi[j]);
        s += t;
        sa += fabs(t);
    }
    double k = fp_ddn((with_objective ? lp->h : 0.0) - fp_dup(sd + dot_err(td, gm, m)));
    s += k;
    sa += fabs(k);
    free(S);
    if (finite && isfinite(k)) {
        double v = fp_dsum_lower(s, sa, (long)n + 1);
        *lb = isnan(v) ? -INFINITY : v;
    }
    return IBP_OK;
}

enum ibp_status ibp_lp_dual_bound(const struct ibp_lp *lp, const double *y, double *lb,
                                  struct ibp_error *err)
{
    return lagrangian_bound(lp, y, 1, lb, err);
}

enum ibp_status ibp_lp_infeasible_bound(const struct ibp_lp *lp, const double *y,
                                        double *lb, struct ibp_error *err)
{
    return lagrangian_bound(lp, y, 0, lb, err);
}

/* ---- the solver ---- */

/* min over the box of -ray·(Ax + d) in plain double: which sign of Clp's ray proves.
 * c [n] is scratch. */
static double farkas_value(const struct ibp_lp *lp, const double *ray, double sign, double *c)
{
    double v = 0.0;
    memset(c, 0, (size_t)lp->n * sizeof(double));
    for (int i = 0; i < lp->m; i++) {
        double yi = fmax(sign * ray[i], 0.0);
        for (long k = lp->row_start[i]; k < lp->row_start[i + 1]; k++)
            c[lp->col[k]] -= yi * lp->val[k];
    }
    for (int j = 0; j < lp->n; j++)
        v += c[j] * (c[j] > 0.0 ? lp->lo[j] : lp->hi[j]);
    for (int i = 0; lp->d && i < lp->m; i++)
        v -= fmax(sign * ray[i], 0.0) * lp->d[i];
    return v;
}

/* y = max(sign ray, 0), scaled so that its largest entry is 1. */
static void ray_to_multipliers(const double *ray, int m, double sign, double *y)
{
    double mx = 0.0;
    for (int i = 0; i < m; i++) {
        y[i] = fmax(sign * ray[i], 0.0);
        mx = fmax(mx, y[i]);
    }
    for (int i = 0; mx > 0.0 && i < m; i++)
        y[i] /= mx;
}

enum ibp_status ibp_lp_solve(const struct ibp_lp *lp, double max_seconds, double *x,
                             double *y, struct ibp_lp_result *res, struct ibp_error *err)
{
    memset(res, 0, sizeof *res);
    res->status = IBP_LP_FAILED;
    res->objective = NAN;
    enum ibp_status st = check_lp(lp, err);
    if (st != IBP_OK)
        return st;
    int n = lp->n, m = lp->m;
    size_t nnz = m > 0 ? (size_t)lp->row_start[m] : 0;
    CoinBigIndex *start = calloc((size_t)n + 1, sizeof *start);
    CoinBigIndex *pos = malloc((size_t)n * sizeof *pos);
    int *index = malloc((nnz ? nnz : 1) * sizeof *index);
    double *value = malloc((nnz ? nnz : 1) * sizeof *value);
    double *row_lo = malloc(((size_t)m + 1) * sizeof *row_lo);
    double *y_tmp = malloc(((size_t)m + 1) * sizeof *y_tmp);
    double *c_tmp = malloc((size_t)n * sizeof *c_tmp);
    Clp_Simplex *model = Clp_newModel();
    if (!start || !pos || !index || !value || !row_lo || !y_tmp || !c_tmp || !model) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "lp: out of memory for %d x %d constraints", m, n);
        goto done;
    }
    /* a row without entries is a constant: Clp fails on one that is negative (its own
     * status "dual infeasible"), though e_i proves the LP infeasible */
    for (int i = 0; i < m; i++) {
        int empty = 1;
        for (long k = lp->row_start[i]; empty && k < lp->row_start[i + 1]; k++)
            empty = lp->val[k] == 0.0;
        if (empty && lp->d && lp->d[i] < 0.0) {
            for (int q = 0; y && q < m; q++)
                y[q] = q == i;
            for (int j = 0; x && j < n; j++)
                x[j] = lp->lo[j];
            res->status = IBP_LP_INFEASIBLE;
            goto done;
        }
    }
    /* column-major, zeros left out: Clp's packed matrix (a counting sort by column;
     * rows stay in order within a column). pos: each column's next free entry. */
    for (size_t k = 0; k < nnz; k++)
        start[lp->col[k] + 1] += lp->val[k] != 0.0;
    for (int j = 0; j < n; j++) {
        start[j + 1] += start[j];
        pos[j] = start[j];
    }
    for (int i = 0; i < m; i++)
        for (long k = lp->row_start[i]; k < lp->row_start[i + 1]; k++)
            if (lp->val[k] != 0.0) {
                CoinBigIndex at = pos[lp->col[k]]++;
                index[at] = i;
                value[at] = lp->val[k];
            }
    for (int i = 0; i < m; i++)
        row_lo[i] = lp->d ? -lp->d[i] : 0.0;
    Clp_setLogLevel(model, 0);
    Clp_loadProblem(model, n, m, start, index, value, lp->lo, lp->hi, lp->g, row_lo, NULL);
    if (max_seconds > 0)
        Clp_setMaximumSeconds(model, max_seconds);
    Clp_dual(model, 0);
    int status = Clp_status(model);
    if (x) {
        const double *xs = Clp_primalColumnSolution(model);
        for (int j = 0; j < n; j++)
            x[j] = fmin(fmax(xs[j], lp->lo[j]), lp->hi[j]);
    }
    if (status == 0) {
        res->status = IBP_LP_OPTIMAL;
        res->objective = Clp_objectiveValue(model) + lp->h;
        const double *ys = Clp_dualRowSolution(model);
        for (int i = 0; y && i < m; i++)
            y[i] = ys[i] > 0.0 ? ys[i] : 0.0;
    } else if (status == 1) {
        double *ray = Clp_infeasibilityRay(model);
        if (ray) {
            /* Clp's sign convention has varied between versions: keep the sign that
             * proves (the caller re-checks soundly either way) */
            double sign = farkas_value(lp, ray, -1.0, c_tmp) >= farkas_value(lp, ray, 1.0, c_tmp)
                              ? -1.0
                              : 1.0;
            ray_to_multipliers(ray, m, sign, y ? y : y_tmp);
            Clp_freeRay(model, ray);
            res->status = IBP_LP_INFEASIBLE;
        } else {
            snprintf(res->why, sizeof res->why, "Clp: infeasible, but it gave no ray");
        }
    } else {
        snprintf(res->why, sizeof res->why, "Clp: %s (status %d, secondary %d)",
                 status == 3 ? "stopped on the time or iteration limit"
                 : status == 2 ? "dual infeasible"
                               : "stopped on numerical trouble",
                 status, Clp_secondaryStatus(model));
    }
done:
    if (model)
        Clp_deleteModel(model);
    free(start);
    free(pos);
    free(c_tmp);
    free(index);
    free(value);
    free(row_lo);
    free(y_tmp);
    return st;
}
