/* LP leaves (verifier/lp_leaf.h): Clp's answers against brute-force vertex enumeration
 * on small random LPs, the sound dual bound never above the optimum and tight at the
 * solver's duals, infeasibility proved from the ray, and data on which round-to-nearest
 * evaluation of the Lagrangian would certify a false claim. */
#include <math.h>
#include <string.h>

#include "nets/base/rng.h"
#include "tests/common/check.h"
#include "verifier/lp_leaf.h"

#define MAX_N 3
#define MAX_M 5

/* Solves the k x k system M z = r by Gaussian elimination with partial pivoting;
 * 0 when (nearly) singular. */
static int solve_dense(int k, double M[MAX_N][MAX_N], double *r, double *z)
{
    for (int c = 0; c < k; c++) {
        int p = c;
        for (int i = c + 1; i < k; i++)
            if (fabs(M[i][c]) > fabs(M[p][c]))
                p = i;
        if (fabs(M[p][c]) < 1e-9)
            return 0;
        for (int j = 0; j < k; j++) {
            double t = M[c][j];
            M[c][j] = M[p][j];
            M[p][j] = t;
        }
        double t = r[c];
        r[c] = r[p];
        r[p] = t;
        for (int i = c + 1; i < k; i++) {
            double f = M[i][c] / M[c][c];
            for (int j = c; j < k; j++)
                M[i][j] -= f * M[c][j];
            r[i] -= f * r[c];
        }
    }
    for (int c = k - 1; c >= 0; c--) {
        double s = r[c];
        for (int j = c + 1; j < k; j++)
            s -= M[c][j] * z[j];
        z[c] = s / M[c][c];
    }
    return 1;
}

/* A dense matrix A [m][n] as the LP's rows: its nonzeros, in column order. */
struct rows {
    long start[MAX_M + 1];
    int col[MAX_M * MAX_N];
    double val[MAX_M * MAX_N];
};

static void set_rows(struct ibp_lp *lp, const double *A, struct rows *r)
{
    long k = 0;
    r->start[0] = 0;
    for (int i = 0; i < lp->m; i++) {
        for (int j = 0; j < lp->n; j++)
            if (A[i * lp->n + j] != 0.0) {
                r->col[k] = j;
                r->val[k++] = A[i * lp->n + j];
            }
        r->start[i + 1] = k;
    }
    lp->row_start = r->start;
    lp->col = r->col;
    lp->val = r->val;
}

/* A[i][j] of the LP's rows. */
static double entry_of(const struct ibp_lp *lp, int i, int j)
{
    for (long k = lp->row_start[i]; k < lp->row_start[i + 1]; k++)
        if (lp->col[k] == j)
            return lp->val[k];
    return 0.0;
}

/* Hyperplane h of the LP: h < 2n are box faces, then the constraints. */
static void hyperplane(const struct ibp_lp *lp, int h, double *a, double *b)
{
    int n = lp->n;
    memset(a, 0, (size_t)n * sizeof *a);
    if (h < 2 * n) {
        a[h / 2] = 1.0;
        *b = h % 2 ? lp->hi[h / 2] : lp->lo[h / 2];
    } else {
        for (int j = 0; j < n; j++)
            a[j] = entry_of(lp, h - 2 * n, j);
        *b = -lp->d[h - 2 * n];
    }
}

static int feasible(const struct ibp_lp *lp, const double *x, double tol)
{
    for (int j = 0; j < lp->n; j++)
        if (x[j] < lp->lo[j] - tol || x[j] > lp->hi[j] + tol)
            return 0;
    for (int i = 0; i < lp->m; i++) {
        double s = lp->d[i];
        for (int j = 0; j < lp->n; j++)
            s += entry_of(lp, i, j) * x[j];
        if (s < -tol)
            return 0;
    }
    return 1;
}

/* The minimum over every vertex (n of the 2n + m hyperplanes active, feasible);
 * +inf when there is none, i.e. the LP is infeasible (its feasible set is bounded). */
static double brute_min(const struct ibp_lp *lp)
{
    int n = lp->n, H = 2 * n + lp->m;
    double best = INFINITY;
    int idx[MAX_N];
    for (int c = 0; c < n; c++)
        idx[c] = c;
    for (;;) {
        double M[MAX_N][MAX_N], r[MAX_N], z[MAX_N];
        for (int c = 0; c < n; c++)
            hyperplane(lp, idx[c], M[c], &r[c]);
        if (solve_dense(n, M, r, z) && feasible(lp, z, 1e-9)) {
            double v = lp->h;
            for (int j = 0; j < n; j++)
                v += lp->g[j] * z[j];
            best = fmin(best, v);
        }
        int c = n - 1;
        while (c >= 0 && idx[c] == H - n + c)
            c--;
        if (c < 0)
            break;
        idx[c]++;
        for (int k = c + 1; k < n; k++)
            idx[k] = idx[k - 1] + 1;
    }
    return best;
}

struct lp_store {
    double lo[MAX_N], hi[MAX_N], g[MAX_N], A[MAX_M * MAX_N], d[MAX_M];
    struct rows rows;
    struct ibp_lp lp;
};

static void random_lp(struct ibp_rng *rng, struct lp_store *s)
{
    int n = 1 + (int)(ibp_rng_uniform(rng) * MAX_N);
    int m = (int)(ibp_rng_uniform(rng) * (MAX_M + 1));
    if (m > MAX_M)
        m = MAX_M;
    for (int j = 0; j < n; j++) {
        s->lo[j] = -1.0 + ibp_rng_uniform(rng);
        s->hi[j] = s->lo[j] + 2.0 * ibp_rng_uniform(rng);
        s->g[j] = 2.0 * ibp_rng_uniform(rng) - 1.0;
    }
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) /* about one entry in four absent */
            s->A[i * n + j] = ibp_rng_uniform(rng) < 0.25 ? 0.0 : 2.0 * ibp_rng_uniform(rng) - 1.0;
        s->d[i] = 1.5 * ibp_rng_uniform(rng) - 0.9;
    }
    s->lp = (struct ibp_lp){.n = n, .m = m, .lo = s->lo, .hi = s->hi, .g = s->g,
                            .h = ibp_rng_uniform(rng) - 0.5, .d = s->d};
    set_rows(&s->lp, s->A, &s->rows);
}

static void test_random(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 16, 1);
    int optimal = 0, infeasible = 0;
    for (int t = 0; t < 400; t++) {
        struct lp_store s;
        random_lp(&rng, &s);
        const struct ibp_lp *lp = &s.lp;
        double opt = brute_min(lp);
        double x[MAX_N], y[MAX_M], lb;
        struct ibp_lp_result res;
        struct ibp_error err = {0};
        CHECK_OK(ibp_lp_solve(lp, 0, x, y, &res, &err), err);
        if (isfinite(opt)) {
            optimal++;
            CHECK_MSG(res.status == IBP_LP_OPTIMAL, "case %d: status %d", t, res.status);
            if (res.status != IBP_LP_OPTIMAL)
                continue;
            CHECK_NEAR(res.objective, opt, 1e-7);
            CHECK(feasible(lp, x, 1e-7));
            CHECK_OK(ibp_lp_dual_bound(lp, y, &lb, &err), err);
            CHECK_MSG(lb <= opt + 1e-12 && lb >= opt - 1e-7, "case %d: lb %.17g, opt %.17g",
                      t, lb, opt);
            /* any y >= 0 (negative entries count as 0) bounds the optimum from below */
            for (int k = 0; k < 5; k++) {
                for (int i = 0; i < lp->m; i++)
                    y[i] = 3.0 * ibp_rng_uniform(&rng) - 1.0;
                CHECK_OK(ibp_lp_dual_bound(lp, y, &lb, &err), err);
                CHECK_MSG(lb <= opt + 1e-12, "case %d: lb %.17g > opt %.17g", t, lb, opt);
            }
        } else {
            infeasible++;
            CHECK_MSG(res.status == IBP_LP_INFEASIBLE, "case %d: status %d", t, res.status);
            CHECK_OK(ibp_lp_infeasible_bound(lp, y, &lb, &err), err);
            CHECK_MSG(lb > 0, "case %d: infeasibility not proved (%.17g)", t, lb);
        }
    }
    CHECK(optimal > 100 && infeasible > 20);
}

static void test_infeasible_hand(void)
{
    /* x0, x1 in [0, 1]: x0 + x1 >= 1.5 contradicts x0 <= 0.2, x1 <= 0.2 */
    double lo[2] = {0, 0}, hi[2] = {1, 1}, g[2] = {1, 2};
    double A[8] = {1, 1, -1, 0, 0, -1, 1, -1}, d[4] = {-1.5, 0.2, 0.2, 5};
    struct ibp_lp lp = {.n = 2, .m = 4, .lo = lo, .hi = hi, .g = g, .d = d};
    struct rows rows;
    set_rows(&lp, A, &rows);
    double y[4], lb;
    struct ibp_lp_result res;
    struct ibp_error err = {0};
    CHECK_OK(ibp_lp_solve(&lp, 0, NULL, y, &res, &err), err);
    CHECK(res.status == IBP_LP_INFEASIBLE);
    CHECK_OK(ibp_lp_infeasible_bound(&lp, y, &lb, &err), err);
    CHECK(lb > 0);
    /* the exact value of min over the box of -y(Ax + d) with y = (1, 1, 1, 0) is 1.1 */
    double y1[4] = {1, 1, 1, 0};
    CHECK_OK(ibp_lp_infeasible_bound(&lp, y1, &lb, &err), err);
    CHECK(lb <= 1.1 && lb > 1.1 - 1e-12);
    /* y = 0 proves nothing; a NaN multiplier gives -inf */
    double y0[4] = {0, 0, 0, 0}, yn[4] = {1, NAN, 0, 0};
    CHECK_OK(ibp_lp_infeasible_bound(&lp, y0, &lb, &err), err);
    CHECK(lb <= 0.0 && lb > -1e-300);
    CHECK_OK(ibp_lp_infeasible_bound(&lp, yn, &lb, &err), err);
    CHECK(lb == -INFINITY);
}

/* A feasible problem (x = (1, 1) satisfies every row) on which the plain double
 * evaluation of -y(Ax + d) at y = 1 gives 2^-61 > 0, a false proof of infeasibility and
 * a false dual bound 2^-61 above the minimum 0: the first column sums to 0 in double
 * (1 + 2^-60 rounds to 1) but to 2^-60 in the reals, so the exact value is -2^-61. */
static void test_rounding_adversary(void)
{
    double lo[2] = {1, 1}, hi[2] = {1, 1}, g[2] = {0, 0};
    double A[6] = {1, 0, 0x1p-60, -0x1p-61, -1, 0}, d[3] = {-1, 0, 1}, y[3] = {1, 1, 1};
    struct ibp_lp lp = {.n = 2, .m = 3, .lo = lo, .hi = hi, .g = g, .d = d};
    struct rows rows;
    set_rows(&lp, A, &rows);
    double plain = 0.0;
    for (int j = 0; j < 2; j++) {
        double c = 0.0;
        for (int i = 0; i < 3; i++)
            c += A[i * 2 + j] * y[i];
        plain -= c;
    }
    CHECK(plain == 0x1p-61); /* round-to-nearest overstates */
    double lb;
    struct ibp_error err = {0};
    CHECK_OK(ibp_lp_infeasible_bound(&lp, y, &lb, &err), err);
    CHECK_MSG(lb <= -0x1p-61, "sound value %.17g above the exact -2^-61", lb);
    CHECK_OK(ibp_lp_dual_bound(&lp, y, &lb, &err), err);
    CHECK_MSG(lb <= -0x1p-61, "dual bound %.17g above the exact -2^-61", lb);
    double x[2], yy[3];
    struct ibp_lp_result res;
    CHECK_OK(ibp_lp_solve(&lp, 0, x, yy, &res, &err), err);
    CHECK(res.status == IBP_LP_OPTIMAL);
}

/* The pointwise bound is exact where it can be: an objective over a box without
 * constraints is the sum of the coordinate minima. */
static void test_box_only(void)
{
    double lo[3] = {-1, 0.5, 2}, hi[3] = {1, 0.75, 2}, g[3] = {2, -4, 0.25};
    struct ibp_lp lp = {.n = 3, .m = 0, .lo = lo, .hi = hi, .g = g, .h = 0.5};
    double lb, x[3];
    struct ibp_lp_result res;
    struct ibp_error err = {0};
    CHECK_OK(ibp_lp_dual_bound(&lp, NULL, &lb, &err), err);
    CHECK(lb <= -4.0 && lb > -4.0 - 1e-14); /* -2 - 3 + 0.5 + 0.5 */
    CHECK_OK(ibp_lp_solve(&lp, 0, x, NULL, &res, &err), err);
    CHECK(res.status == IBP_LP_OPTIMAL);
    CHECK_NEAR(res.objective, -4.0, 1e-12);
    CHECK(x[0] == -1 && x[1] == 0.75 && x[2] == 2);
}

static void test_bad_input(void)
{
    double lo[2] = {0, 1}, hi[2] = {1, 0}, g[2] = {0, 0}, A[2] = {1, NAN}, d[1] = {0};
    struct ibp_lp lp = {.n = 2, .m = 1, .lo = lo, .hi = hi, .g = g, .d = d};
    struct rows rows;
    set_rows(&lp, A, &rows);
    struct ibp_lp_result res;
    struct ibp_error err = {0};
    double lb;
    CHECK(ibp_lp_solve(&lp, 0, NULL, NULL, &res, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "x[1]") != NULL);
    hi[1] = 2;
    CHECK(ibp_lp_dual_bound(&lp, d, &lb, &err) == IBP_ERR_NUMERIC);
    CHECK(strstr(err.msg, "A[0][1]") != NULL);
    rows.val[1] = 1.0;
    rows.col[1] = 2; /* not a variable */
    CHECK(ibp_lp_solve(&lp, 0, NULL, NULL, &res, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "col[1]") != NULL);
    rows.col[1] = 1;
    rows.start[1] = -1; /* rows out of order */
    CHECK(ibp_lp_dual_bound(&lp, d, &lb, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "row_start[0]") != NULL);
    rows.start[1] = 2;
    CHECK_OK(ibp_lp_dual_bound(&lp, d, &lb, &err), err);
    lp.n = 0;
    CHECK(ibp_lp_solve(&lp, 0, NULL, NULL, &res, &err) == IBP_ERR_ARG);
}

int main(void)
{
    test_random();
    test_infeasible_hand();
    test_rounding_adversary();
    test_box_only();
    test_bad_input();
    return check_report();
}
