/* bab_leaf.c — LPs of fully split domains (bab_leaf.h). */
#include "verifier/bab_leaf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/sound_fp.h"
#include "nets/passes/passes.h"

void ibp_leaf_lp_free(struct ibp_leaf_lp *l)
{
    free(l->out_var);
    free(l->store);
    free(l->row_start);
    free(l->col);
    memset(l, 0, sizeof *l);
}

/* A ReLU neuron's state on the domain: 1 active, -1 inactive, 0 free unstable (the
 * same rule as the bound engine: a split decides, else the intermediate bounds). */
static int neuron_state(const struct ibp_dom_problem *p, const signed char *split, int n)
{
    if (split[n])
        return split[n] > 0 ? 1 : -1;
    double l, u;
    ibp_dom_relu_bounds(p, n, &l, &u);
    if (!(l < 0.0))
        return 1;
    if (!(u > 0.0))
        return -1;
    return 0;
}

/* The LP being filled: constraints a·x + d >= 0 appended as rows m, m + 1, ... (sparse:
 * row_start, col, val with nnz entries so far), d; the variables' box lo, hi [n]. */
struct lp_build {
    long *row_start;
    int *col;
    double *val, *d, *lo, *hi;
    int n, m;
    long nnz;
};

static void entry(struct lp_build *b, int j, double v)
{
    b->col[b->nnz] = j;
    b->val[b->nnz++] = v;
}

static void end_row(struct lp_build *b, double d)
{
    b->d[b->m++] = d;
    b->row_start[b->m] = b->nnz;
}

/* y - Σ_e W_ie x_e - b_i >= 0 and its negation (the equality y = W_i x + b_i). */
static void dense_rows(struct lp_build *b, const struct ibp_dom_layer *L, const int *cur,
                       int base)
{
    for (int i = 0; i < L->n_out; i++) {
        const double *w = L->W + (size_t)i * L->n_in;
        for (int side = 0; side < 2; side++) {
            double sg = side ? -1.0 : 1.0;
            entry(b, base + i, sg);
            for (int e = 0; e < L->n_in; e++)
                if (cur[e] >= 0 && w[e] != 0.0)
                    entry(b, cur[e], -sg * w[e]);
            end_row(b, -sg * L->b[i]);
        }
    }
}

/* y = s' x + t' for some real s' in [s - dev, s + dev], t' in [t_lo, t_hi], x in its box
 * [xl, xu]: y - a_lo x - c_lo >= 0 and a_hi x + c_hi - y >= 0 with
 *   x >= 0: a_lo <= s - dev, a_hi >= s + dev (s' x between them), c = t_lo, t_hi;
 *   x <= 0: the slopes swap (s' x between (s + dev) x and (s - dev) x);
 *   else:   a = s, and |(s' - s) x| <= dev max(|xl|, |xu|) widens the constants;
 * every derived number rounded outward (R1), so the real (x, y) satisfies both. */
static void diag_rows(struct lp_build *b, const struct ibp_dom_layer *L, const int *cur,
                      int base)
{
    for (int j = 0; j < L->n_in; j++) {
        int x = cur[j];
        double s = L->s[j], dev = L->s_dev[j], a_lo = 0.0, a_hi = 0.0;
        double c_lo = L->t_lo[j], c_hi = L->t_hi[j];
        if (x >= 0) {
            double xl = b->lo[x], xu = b->hi[x];
            double s_lo = fp_ddn(s - dev), s_hi = fp_dup(s + dev);
            if (xl >= 0.0) {
                a_lo = s_lo;
                a_hi = s_hi;
            } else if (xu <= 0.0) {
                a_lo = s_hi;
                a_hi = s_lo;
            } else {
                double w = fp_dup(dev * fmax(-xl, xu));
                a_lo = a_hi = s;
                c_lo = fp_ddn(c_lo - w);
                c_hi = fp_dup(c_hi + w);
            }
            entry(b, x, -a_lo);
        }
        entry(b, base + j, 1.0);
        end_row(b, -c_lo);
        if (x >= 0)
            entry(b, x, a_hi);
        entry(b, base + j, -1.0);
        end_row(b, c_hi);
    }
}

enum ibp_status ibp_leaf_lp_build(const struct ibp_dom_problem *p, const signed char *split,
                                  size_t max_entries, struct ibp_leaf_lp *out,
                                  struct ibp_error *err)
{
    memset(out, 0, sizeof *out);
    int nl = ibp_dom_layer_count(p), n0 = (int)ibp_dom_inputs(p), maxn = n0;
    size_t n = (size_t)n0, m = 0, nnz = 0; /* nnz: at most, from W's nonzeros */
    for (int i = 0; i < nl; i++) {
        struct ibp_dom_layer L;
        ibp_dom_layer_get(p, i, &L);
        maxn = L.n_out > maxn ? L.n_out : maxn;
        if (L.kind == IBP_DOM_RELU) {
            for (int j = 0; j < L.n_in; j++)
                if (neuron_state(p, split, L.relu0 + j) == 0)
                    return ibp_fail(err, IBP_ERR_ARG, "LP leaf: ReLU neuron %d is unstable "
                                    "and not split (the domain is not fully split)", L.relu0 + j);
        } else {
            n += (size_t)L.n_out;
            m += 2 * (size_t)L.n_out;
            nnz += 4 * (size_t)L.n_out;
            for (size_t k = 0; L.kind == IBP_DOM_DENSE && k < (size_t)L.n_out * L.n_in; k++)
                nnz += 2 * (L.W[k] != 0.0);
        }
    }
    if (n > (size_t)1 << 30 || m > (size_t)1 << 30 || nnz > max_entries)
        return ibp_fail(err, IBP_ERR_UNSUPPORTED, "LP leaf: %zu variables, %zu constraints "
                        "and %zu entries exceed the cap of %zu entries", n, m, nnz, max_entries);
    out->store = calloc(3 * n + nnz + m + 1, sizeof(double));
    out->row_start = calloc(m + 1, sizeof(long));
    out->col = malloc((nnz ? nnz : 1) * sizeof(int));
    out->out_var = malloc((size_t)maxn * sizeof(int));
    int *cur = malloc((size_t)maxn * sizeof(int));
    if (!out->store || !out->row_start || !out->col || !out->out_var || !cur) {
        free(cur);
        ibp_leaf_lp_free(out);
        return ibp_fail(err, IBP_ERR_NOMEM, "LP leaf: %zu variables x %zu constraints", n, m);
    }
    struct lp_build b = {out->row_start, out->col, out->store + 3 * n, out->store + 3 * n + nnz,
                         out->store, out->store + n, (int)n, 0, 0};
    const double *blo, *bhi;
    ibp_dom_box(p, &blo, &bhi);
    for (int j = 0; j < n0; j++) {
        b.lo[j] = blo[j];
        b.hi[j] = bhi[j];
        cur[j] = j;
    }
    int nv = n0;
    for (int i = 0; i < nl; i++) {
        struct ibp_dom_layer L;
        ibp_dom_layer_get(p, i, &L);
        if (L.kind == IBP_DOM_RELU) {
            for (int j = 0; j < L.n_in; j++) {
                int x = cur[j];
                if (neuron_state(p, split, L.relu0 + j) > 0) {
                    if (x >= 0)
                        b.lo[x] = fmax(b.lo[x], 0.0);
                } else {
                    if (x >= 0)
                        b.hi[x] = fmin(b.hi[x], 0.0);
                    cur[j] = -1;
                }
            }
            continue;
        }
        /* the output's box: the next layer's input bounds, or the network output's */
        const double *olo, *ohi;
        if (i + 1 < nl) {
            struct ibp_dom_layer nx;
            ibp_dom_layer_get(p, i + 1, &nx);
            olo = nx.in_lo;
            ohi = nx.in_hi;
        } else {
            ibp_dom_output_bounds(p, &olo, &ohi);
        }
        for (int j = 0; j < L.n_out; j++) {
            b.lo[nv + j] = olo[j];
            b.hi[nv + j] = ohi[j];
        }
        if (L.kind == IBP_DOM_DENSE)
            dense_rows(&b, &L, cur, nv);
        else
            diag_rows(&b, &L, cur, nv);
        for (int j = 0; j < L.n_out; j++)
            cur[j] = nv + j;
        nv += L.n_out;
    }
    struct ibp_dom_layer last;
    ibp_dom_layer_get(p, nl - 1, &last); /* the engine refuses nets without layers */
    out->outs = last.n_out;
    memcpy(out->out_var, cur, (size_t)out->outs * sizeof(int));
    free(cur);
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(b.lo[j]) || !isfinite(b.hi[j])) {
            ibp_leaf_lp_free(out);
            return ibp_fail(err, IBP_ERR_UNSUPPORTED, "LP leaf: variable %zu has the "
                            "unbounded range [%g, %g]", j, b.lo[j], b.hi[j]);
        }
        out->empty |= !(b.lo[j] <= b.hi[j]);
    }
    out->lp = (struct ibp_lp){.n = (int)n, .m = (int)m, .lo = b.lo, .hi = b.hi,
                              .g = out->store + 2 * n, .row_start = m ? b.row_start : NULL,
                              .col = m ? b.col : NULL, .val = m ? b.val : NULL,
                              .d = m ? b.d : NULL};
    return IBP_OK;
}

void ibp_leaf_lp_set_row(const struct ibp_dom_problem *p, struct ibp_leaf_lp *l, int r)
{
    const double *C, *d;
    ibp_dom_spec(p, &C, &d);
    double *g = l->store + 2 * (size_t)l->lp.n;
    memset(g, 0, (size_t)l->lp.n * sizeof(double));
    for (int o = 0; o < l->outs; o++)
        if (l->out_var[o] >= 0) /* distinct outputs have distinct variables: exact */
            g[l->out_var[o]] = C[(size_t)r * l->outs + o];
    l->lp.h = d[r];
}

/* 1 when the input part of x, clipped into the box and rounded to float (which stays
 * in the float box), gives some row <= 0 in the float32 forward pass; the point goes
 * to xf [inputs]. */
static enum ibp_status confirms(const struct ibp_dom_problem *p, const struct ibp_net *net,
                                struct ibp_workspace *ws, const double *x, float *xf,
                                float *z, int *sat, struct ibp_error *err)
{
    const double *lo, *hi, *C, *d;
    ibp_dom_box(p, &lo, &hi);
    ibp_dom_spec(p, &C, &d);
    size_t n0 = ibp_dom_inputs(p);
    for (size_t j = 0; j < n0; j++)
        xf[j] = (float)fmin(fmax(x[j], lo[j]), hi[j]);
    enum ibp_status st = ibp_pass_clean(net, ws, xf, 1, IBP_BN_EVAL, z, err);
    int outs = ibp_net_outputs(net);
    *sat = 0;
    for (int r = 0; st == IBP_OK && r < ibp_dom_rows(p); r++) {
        double v = d[r];
        for (int o = 0; o < outs; o++)
            v += C[(size_t)r * outs + o] * (double)z[o];
        *sat |= v <= 0.0;
    }
    return st;
}

/* One row's LP: *proved = 1 when its minimum is proved > 0 (or the region empty:
 * *empty = 1), *sat = 1 when the optimum is a confirmed counterexample (in xf). */
struct leaf_run {
    const struct ibp_dom_problem *p;
    const struct ibp_net *net;
    struct ibp_leaf_lp *l;
    struct ibp_workspace *ws;
    double *x, *y;
    float *xf, *z;
    int sound;
    double max_seconds;
};

static enum ibp_status solve_row(struct leaf_run *w, int r, int *proved, int *empty, int *sat,
                                 struct ibp_error *err)
{
    *proved = *empty = *sat = 0;
    ibp_leaf_lp_set_row(w->p, w->l, r);
    struct ibp_lp_result res;
    enum ibp_status st = ibp_lp_solve(&w->l->lp, w->max_seconds, w->x, w->y, &res, err);
    if (st != IBP_OK || res.status == IBP_LP_FAILED)
        return st;
    double lb = -INFINITY;
    if (res.status == IBP_LP_INFEASIBLE) {
        if (w->sound)
            st = ibp_lp_infeasible_bound(&w->l->lp, w->y, &lb, err);
        *empty = st == IBP_OK && (!w->sound || lb > 0.0);
        return st;
    }
    if (w->sound)
        st = ibp_lp_dual_bound(&w->l->lp, w->y, &lb, err);
    else
        lb = res.objective;
    if (st != IBP_OK)
        return st;
    *proved = lb > 0.0;
    if (!*proved)
        st = confirms(w->p, w->net, w->ws, w->x, w->xf, w->z, sat, err);
    return st;
}

enum ibp_status ibp_leaf_decide(const struct ibp_dom_problem *p, const struct ibp_net *net,
                                const signed char *split, const float *known_lb, int sound,
                                double max_seconds, float *cex, enum ibp_leaf_verdict *verdict,
                                int *lps, struct ibp_error *err)
{
    *verdict = IBP_LEAF_OPEN;
    if (lps)
        *lps = 0;
    struct ibp_leaf_lp l;
    enum ibp_status st = ibp_leaf_lp_build(p, split, IBP_LEAF_MAX_ENTRIES, &l, err);
    if (st == IBP_ERR_UNSUPPORTED) {
        ibp_error_clear(err);
        return IBP_OK;
    }
    if (st != IBP_OK)
        return st;
    if (l.empty) { /* a variable's sound box is empty: no point of the box is in the domain */
        *verdict = IBP_LEAF_CLOSED;
        ibp_leaf_lp_free(&l);
        return IBP_OK;
    }
    struct leaf_run w = {p, net, &l, NULL, NULL, NULL, NULL, NULL, sound, max_seconds};
    w.x = malloc((size_t)l.lp.n * sizeof(double));
    w.y = malloc(((size_t)l.lp.m + 1) * sizeof(double));
    w.xf = malloc(ibp_dom_inputs(p) * sizeof(float));
    w.z = malloc((size_t)ibp_net_outputs(net) * sizeof(float));
    if (!w.x || !w.y || !w.xf || !w.z)
        st = ibp_fail(err, IBP_ERR_NOMEM, "LP leaf: %d variables", l.lp.n);
    else
        st = ibp_ws_create(net, 1, IBP_WS_CLEAN, &w.ws, err);
    int closed = 1;
    for (int r = 0; st == IBP_OK && closed && r < ibp_dom_rows(p); r++) {
        if (known_lb && known_lb[r] > 0.0f)
            continue;
        int proved, empty, sat;
        st = solve_row(&w, r, &proved, &empty, &sat, err);
        if (lps)
            ++*lps;
        if (st != IBP_OK)
            break;
        if (empty)
            break; /* the whole domain is empty: every row holds */
        if (sat) {
            *verdict = IBP_LEAF_SAT;
            if (cex)
                memcpy(cex, w.xf, ibp_dom_inputs(p) * sizeof(float));
        }
        closed = proved;
    }
    if (st == IBP_OK && closed)
        *verdict = IBP_LEAF_CLOSED;
    ibp_ws_free(w.ws);
    free(w.x);
    free(w.y);
    free(w.xf);
    free(w.z);
    ibp_leaf_lp_free(&l);
    return st;
}
