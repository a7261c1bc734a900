#include "verifier/input_split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/clock.h"
#include "nets/bounds/bounds.h"
#include "nets/passes/passes.h"

void ibp_input_split_config_default(struct ibp_input_split_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->sound = 1;
    /* 64 sub-boxes share one GEMM per layer; more only grows the stack */
    cfg->batch = 64;
    cfg->max_domains = 2000000;
    cfg->time_limit = 0.0;
    cfg->threads = 0;
}

struct split {
    const struct ibp_net *net;
    const struct ibp_input_split_problem *p;
    int n, n_out, rows, n_disj, B, pts; /* pts = 2n + 1 points per sub-box */
    struct ibp_bounder *bd;
    struct ibp_workspace *ws;
    float *stack;      /* [cap][2n]: lo then hi of each open sub-box, a binary heap */
    int *depth;        /* [cap] */
    double *key;       /* [cap] the parent's worst margin bound: lowest first */
    long top, cap;
    float *lo, *hi;    /* [B][n] the batch */
    int *bdepth;       /* [B] */
    float *C;          /* [B][rows][n_out] */
    float *lb;         /* [B][rows] */
    float *pt;         /* [B * pts][n] forward points */
    float *y;          /* [B * pts][n_out] */
    float *cx, *cy;    /* [B][n], [B][n_out]: descent corners and their outputs */
    const float *start_lo, *start_hi;
};

static double row_value(const struct split *s, int r, const float *y)
{
    const float *c = s->p->C + (size_t)r * (size_t)s->n_out;
    double v = s->p->offset ? s->p->offset[r] : 0.0;
    for (int k = 0; k < s->n_out; k++)
        v += (double)c[k] * (double)y[k];
    return v;
}

static int disjunct_of(const struct split *s, int r)
{
    return s->p->disjunct ? s->p->disjunct[r] : r;
}

/* 1 when some disjunct holds at output y (every row <= 0; NaN never holds). */
static int violated(const struct split *s, const float *y)
{
    for (int k = 0; k < s->n_out; k++)
        if (!isfinite(y[k]))
            return 0;
    for (int r0 = 0; r0 < s->rows;) {
        int r1 = r0, holds = 1;
        while (r1 < s->rows && disjunct_of(s, r1) == disjunct_of(s, r0)) {
            holds &= row_value(s, r1, y) <= 0.0;
            r1++;
        }
        if (holds)
            return 1;
        r0 = r1;
    }
    return 0;
}

/* Sub-box b of the batch closed by its bounds? Otherwise *row is the row closest to
 * closing the least refuted disjunct. */
static int closed(const struct split *s, int b, int *row, double *worst_out)
{
    const float *lb = s->lb + (size_t)b * (size_t)s->rows;
    double worst = INFINITY;
    *row = 0;
    for (int r0 = 0; r0 < s->rows;) {
        int r1 = r0, best_r = r0;
        double best = -INFINITY;
        while (r1 < s->rows && disjunct_of(s, r1) == disjunct_of(s, r0)) {
            double v = (double)lb[r1] + (s->p->offset ? s->p->offset[r1] : 0.0);
            if (v > best) {
                best = v;
                best_r = r1;
            }
            r1++;
        }
        if (!(best > 0.0) && !(best >= worst)) {
            worst = best;
            *row = best_r;
        }
        r0 = r1;
    }
    *worst_out = worst;
    return worst == INFINITY;
}

static void heap_swap(struct split *s, long a, long b)
{
    size_t w = 2 * (size_t)s->n;
    float *pa = s->stack + (size_t)a * w, *pb = s->stack + (size_t)b * w;
    for (size_t k = 0; k < w; k++) {
        float t = pa[k];
        pa[k] = pb[k];
        pb[k] = t;
    }
    int d = s->depth[a];
    s->depth[a] = s->depth[b];
    s->depth[b] = d;
    double q = s->key[a];
    s->key[a] = s->key[b];
    s->key[b] = q;
}

static int push(struct split *s, const float *lo, const float *hi, int depth, double key)
{
    if (s->top == s->cap) {
        long cap = s->cap * 2;
        float *st = realloc(s->stack, (size_t)cap * 2 * (size_t)s->n * sizeof *st);
        if (!st)
            return -1;
        s->stack = st;
        int *dp = realloc(s->depth, (size_t)cap * sizeof *dp);
        if (!dp)
            return -1;
        s->depth = dp;
        double *kp = realloc(s->key, (size_t)cap * sizeof *kp);
        if (!kp)
            return -1;
        s->key = kp;
        s->cap = cap;
    }
    long i = s->top++;
    float *d = s->stack + (size_t)i * 2 * (size_t)s->n;
    memcpy(d, lo, (size_t)s->n * sizeof *d);
    memcpy(d + s->n, hi, (size_t)s->n * sizeof *d);
    s->depth[i] = depth;
    s->key[i] = key;
    while (i > 0 && s->key[(i - 1) / 2] > s->key[i]) {
        heap_swap(s, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 0;
}

/* Moves the open sub-box with the lowest key into slot b of the batch. */
static void pop(struct split *s, int b)
{
    size_t n = (size_t)s->n;
    memcpy(s->lo + (size_t)b * n, s->stack, n * sizeof *s->lo);
    memcpy(s->hi + (size_t)b * n, s->stack + n, n * sizeof *s->hi);
    s->bdepth[b] = s->depth[0];
    s->top--;
    if (s->top > 0)
        heap_swap(s, 0, s->top);
    for (long i = 0;;) {
        long l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->top && s->key[l] < s->key[m])
            m = l;
        if (r < s->top && s->key[r] < s->key[m])
            m = r;
        if (m == i)
            break;
        heap_swap(s, i, m);
        i = m;
    }
}

/* Forward points of sub-box b: its centre, then for each i the centres of the faces
 * x_i = lo_i and x_i = hi_i. */
static void make_points(struct split *s, int b)
{
    const float *lo = s->lo + (size_t)b * (size_t)s->n, *hi = s->hi + (size_t)b * (size_t)s->n;
    float *p = s->pt + (size_t)b * (size_t)s->pts * (size_t)s->n;
    for (int k = 0; k < s->pts; k++)
        for (int i = 0; i < s->n; i++) {
            float c = 0.5f * lo[i] + 0.5f * hi[i];
            c = fminf(fmaxf(c, lo[i]), hi[i]);
            int face = k - 1;
            p[(size_t)k * (size_t)s->n + i] =
                face >= 0 && face / 2 == i ? (face % 2 ? hi[i] : lo[i]) : c;
        }
}

/* The bisection dimension of sub-box b (bounds not closing it, row its worst row), or
 * -1 when no dimension has a float strictly between its ends. */
static int split_dim(const struct split *s, int b, int row)
{
    const float *lo = s->lo + (size_t)b * (size_t)s->n, *hi = s->hi + (size_t)b * (size_t)s->n;
    const float *y = s->y + (size_t)b * (size_t)s->pts * (size_t)s->n_out;
    int best = -1;
    double best_smear = -1.0, best_rel = -1.0;
    for (int i = 0; i < s->n; i++) {
        float mid = lo[i] + 0.5f * (hi[i] - lo[i]);
        if (!(lo[i] < mid && mid < hi[i]))
            continue;
        double a = row_value(s, row, y + (size_t)(1 + 2 * i) * (size_t)s->n_out);
        double c = row_value(s, row, y + (size_t)(2 + 2 * i) * (size_t)s->n_out);
        double smear = isfinite(a - c) ? fabs(a - c) : 0.0;
        double w0 = (double)s->start_hi[i] - (double)s->start_lo[i];
        double rel = ((double)hi[i] - (double)lo[i]) / (w0 > 0.0 ? w0 : 1.0);
        if (smear > best_smear || (smear == best_smear && rel > best_rel)) {
            best = i;
            best_smear = smear;
            best_rel = rel;
        }
    }
    return best;
}

/* The corner of sub-box b where the secant model of `row` is lowest (each x_i at the
 * end whose face centre gave the smaller value): a one-step attack point. */
static void descent_corner(const struct split *s, int b, int row, float *corner)
{
    const float *lo = s->lo + (size_t)b * (size_t)s->n, *hi = s->hi + (size_t)b * (size_t)s->n;
    const float *y = s->y + (size_t)b * (size_t)s->pts * (size_t)s->n_out;
    for (int i = 0; i < s->n; i++) {
        double a = row_value(s, row, y + (size_t)(1 + 2 * i) * (size_t)s->n_out);
        double c = row_value(s, row, y + (size_t)(2 + 2 * i) * (size_t)s->n_out);
        corner[i] = c < a ? hi[i] : lo[i];
    }
}

static enum ibp_status check_args(const struct ibp_input_split_problem *p,
                                  const struct ibp_input_split_config *cfg, int n,
                                  struct ibp_error *err)
{
    if (cfg->batch < 1 || cfg->max_domains < 1 || cfg->threads < 0 || isnan(cfg->time_limit) ||
        p->rows < 1 || !p->lo || !p->hi || !p->C)
        return ibp_fail(err, IBP_ERR_ARG,
                        "input split: batch %d, max_domains %ld, threads %d, rows %d: out of range",
                        cfg->batch, cfg->max_domains, cfg->threads, p->rows);
    for (int i = 0; i < n; i++) {
        if (isnan(p->lo[i]) || isnan(p->hi[i]))
            return ibp_fail(err, IBP_ERR_NUMERIC, "input split: NaN in the box at input %d", i);
        if (p->lo[i] > p->hi[i])
            return ibp_fail(err, IBP_ERR_ARG, "input split: lo > hi at input %d", i);
    }
    for (int r = 1; p->disjunct && r < p->rows; r++)
        if (p->disjunct[r] < p->disjunct[r - 1])
            return ibp_fail(err, IBP_ERR_ARG,
                            "input split: disjunct ids decrease at row %d", r);
    return IBP_OK;
}

static void split_free(struct split *s)
{
    ibp_bounder_free(s->bd);
    ibp_ws_free(s->ws);
    free(s->stack);
    free(s->depth);
    free(s->key);
    free(s->lo);
    free(s->hi);
    free(s->bdepth);
    free(s->C);
    free(s->lb);
    free(s->pt);
    free(s->y);
    free(s->cx);
    free(s->cy);
}

static enum ibp_status split_init(struct split *s, const struct ibp_input_split_config *cfg,
                                  struct ibp_error *err)
{
    size_t n = (size_t)s->n, B = (size_t)s->B, P = B * (size_t)s->pts;
    s->cap = 1024;
    s->stack = malloc((size_t)s->cap * 2 * n * sizeof *s->stack);
    s->depth = malloc((size_t)s->cap * sizeof *s->depth);
    s->key = malloc((size_t)s->cap * sizeof *s->key);
    s->lo = malloc(B * n * sizeof *s->lo);
    s->hi = malloc(B * n * sizeof *s->hi);
    s->bdepth = malloc(B * sizeof *s->bdepth);
    s->C = malloc(B * (size_t)s->rows * (size_t)s->n_out * sizeof *s->C);
    s->lb = malloc(B * (size_t)s->rows * sizeof *s->lb);
    s->pt = malloc(P * n * sizeof *s->pt);
    s->y = malloc(P * (size_t)s->n_out * sizeof *s->y);
    s->cx = malloc(B * n * sizeof *s->cx);
    s->cy = malloc(B * (size_t)s->n_out * sizeof *s->cy);
    if (!s->stack || !s->depth || !s->key || !s->lo || !s->hi || !s->bdepth || !s->C || !s->lb || !s->pt ||
        !s->y || !s->cx || !s->cy)
        return ibp_fail(err, IBP_ERR_NOMEM, "input split: out of memory");
    for (size_t b = 0; b < B; b++)
        memcpy(s->C + b * (size_t)s->rows * (size_t)s->n_out, s->p->C,
               (size_t)s->rows * (size_t)s->n_out * sizeof *s->C);
    struct ibp_bounder_config bc = {.method = IBP_BOUND_CROWN, .sound = cfg->sound,
                                    .max_batch = s->B, .max_rows = s->rows};
    enum ibp_status st = ibp_bounder_create(s->net, &bc, &s->bd, err);
    if (st == IBP_OK && cfg->threads > 0)
        ibp_bounder_set_threads(s->bd, cfg->threads);
    if (st == IBP_OK)
        st = ibp_ws_create(s->net, (int)P, IBP_WS_CLEAN, &s->ws, err);
    if (st == IBP_OK && cfg->threads > 0)
        ibp_ws_set_threads(s->ws, cfg->threads);
    return st;
}

enum ibp_status ibp_input_split_run(const struct ibp_net *net,
                                    const struct ibp_input_split_problem *prob,
                                    const struct ibp_input_split_config *cfg, float *x,
                                    struct ibp_input_split_result *res, struct ibp_error *err)
{
    double t0 = ibp_clock_seconds();
    memset(res, 0, sizeof *res);
    res->answer = IBP_INPUT_SPLIT_UNKNOWN;
    res->why = "";
    int n = (int)ibp_shape_size(net->input);
    enum ibp_status st = check_args(prob, cfg, n, err);
    if (st != IBP_OK)
        return st;
    struct split s = {.net = net, .p = prob, .n = n, .n_out = ibp_net_outputs(net),
                      .rows = prob->rows, .B = cfg->batch, .pts = 2 * n + 1,
                      .start_lo = prob->lo, .start_hi = prob->hi};
    double deadline = cfg->time_limit > 0 ? t0 + cfg->time_limit : INFINITY;
    st = split_init(&s, cfg, err);
    if (st == IBP_OK && push(&s, prob->lo, prob->hi, 0, -INFINITY))
        st = ibp_fail(err, IBP_ERR_NOMEM, "input split: out of memory");
    while (st == IBP_OK && s.top > 0) {
        if (ibp_clock_seconds() >= deadline) {
            res->why = "time limit";
            break;
        }
        if (res->domains >= cfg->max_domains) {
            res->why = "domain cap";
            break;
        }
        int nb = 0;
        while (nb < s.B && s.top > 0 && res->domains + nb < cfg->max_domains)
            pop(&s, nb++);
        for (int b = 0; b < nb; b++)
            make_points(&s, b);
        st = ibp_pass_clean(net, s.ws, s.pt, nb * s.pts, IBP_BN_EVAL, s.y, err);
        for (int k = 0; st == IBP_OK && k < nb * s.pts; k++)
            if (violated(&s, s.y + (size_t)k * (size_t)s.n_out)) {
                memcpy(x, s.pt + (size_t)k * (size_t)n, (size_t)n * sizeof *x);
                res->answer = IBP_INPUT_SPLIT_SAT;
                break;
            }
        if (st != IBP_OK || res->answer == IBP_INPUT_SPLIT_SAT)
            break;
        struct ibp_spec spec = {.labels = NULL, .C = s.C, .rows = s.rows};
        st = ibp_bounder_run(net, s.bd, s.lo, s.hi, nb, &spec, s.lb, err);
        res->domains += nb;
        int nc = 0;
        for (int b = 0; st == IBP_OK && b < nb; b++) {
            int row;
            double worst;
            if (!closed(&s, b, &row, &worst))
                descent_corner(&s, b, row, s.cx + (size_t)nc++ * (size_t)n);
        }
        if (st == IBP_OK && nc > 0)
            st = ibp_pass_clean(net, s.ws, s.cx, nc, IBP_BN_EVAL, s.cy, err);
        for (int k = 0; st == IBP_OK && k < nc; k++)
            if (violated(&s, s.cy + (size_t)k * (size_t)s.n_out)) {
                memcpy(x, s.cx + (size_t)k * (size_t)n, (size_t)n * sizeof *x);
                res->answer = IBP_INPUT_SPLIT_SAT;
                break;
            }
        if (st != IBP_OK || res->answer == IBP_INPUT_SPLIT_SAT)
            break;
        for (int b = 0; st == IBP_OK && b < nb; b++) {
            int row;
            double worst;
            if (s.bdepth[b] > res->max_depth)
                res->max_depth = s.bdepth[b];
            if (closed(&s, b, &row, &worst))
                continue;
            int i = split_dim(&s, b, row);
            if (i < 0) {
                res->why = "float resolution";
                s.top = -1;
                break;
            }
            float *lo = s.lo + (size_t)b * (size_t)n, *hi = s.hi + (size_t)b * (size_t)n;
            float l = lo[i], h = hi[i], mid = l + 0.5f * (h - l);
            hi[i] = mid;
            int fail = push(&s, lo, hi, s.bdepth[b] + 1, worst);
            hi[i] = h;
            lo[i] = mid;
            fail |= push(&s, lo, hi, s.bdepth[b] + 1, worst);
            lo[i] = l;
            if (fail)
                st = ibp_fail(err, IBP_ERR_NOMEM, "input split: out of memory for %ld sub-boxes",
                              s.cap);
        }
    }
    if (st == IBP_OK && s.top == 0 && res->answer != IBP_INPUT_SPLIT_SAT && !res->why[0])
        res->answer = IBP_INPUT_SPLIT_UNSAT;
    split_free(&s);
    res->seconds = ibp_clock_seconds() - t0;
    return st;
}
