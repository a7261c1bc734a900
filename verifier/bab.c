/* bab.c — branch and bound on ReLU splits (bab.h). */
#include "verifier/bab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/clock.h"
#include "nets/bounds/alpha_crown.h"
#include "nets/bounds/domain_bounds.h"
#include "nets/bounds/intermediate_bab.h"
#include "nets/bounds/sound_fp.h"
#include "nets/passes/attack.h"
#include "verifier/bab_leaf.h"

/* The β ascent on a fully split domain (close_leaf). */
#define LEAF_STEPS 300
#define LEAF_PATIENCE 50
#define LEAF_LR_BETA 0.1
#define LEAF_DECAY 0.995
/* α-CROWN steps for the intermediate bounds (SPEC §3.1 allows up to 100): on mnist_fc
 * 256x4, 20 steps take the root's worst bound from -11.6 to -3.5 in 2.3 s on one core,
 * 50 steps to -3.47 in 5.4 s. */
#define INTERMEDIATE_STEPS 20
/* Refinement of the intermediate bounds (refine) */
#define REFINE_BUDGET0 8
#define REFINE_BUDGET_MAX 256
#define REFINE_START 0.25
#define REFINE_STOP 0.5
#define REFINE_GAIN 0.1
/* Filtered smart branching: BaBSR's best this many neurons are tried per domain. */
#define FSB_CANDIDATES 4

struct ibp_bab_config ibp_bab_config_default(void)
{
    struct ibp_bab_config c = {60.0, 200000, (size_t)2 << 30, 16, 20, 1, 1, 1, 1, NULL, NULL};
    return c;
}

const char *ibp_bab_reason_name(enum ibp_bab_reason r)
{
    switch (r) {
    case IBP_BAB_TIME:
        return "time";
    case IBP_BAB_DOMAIN_CAP:
        return "domain cap";
    case IBP_BAB_MEMORY:
        return "memory";
    case IBP_BAB_LEAF:
        return "fully split domain (LP undecided)";
    default:
        return "";
    }
}

/* One open domain: its splits, the parameters of its bound and the bound per row. */
struct bab_dom {
    signed char *split; /* [N] */
    double *alpha;      /* [rows][N] */
    double *beta;       /* [rows][N] */
    float *lb;          /* [rows] */
    float minlb;
    int depth, branch;  /* branch: the neuron to split next */
    long id;            /* creation order: the tie-break of every choice */
};

struct bab {
    const struct ibp_net *net;
    const struct ibp_bab_config *cfg;
    struct ibp_dom_problem *p;
    struct ibp_attack *atk;
    const float *lo, *hi, *C; /* C: the rows bounded now ([rows][outputs]) */
    float *C_open;      /* owned: the one row bounded now, when rows go one at a time */
    double *offset;     /* [2 batch][rows] for the attack */
    int rows, N;
    size_t n0, dom_bytes;
    struct bab_dom **q;
    long nq, next_id;
    long done;          /* domains bounded before the row searched now (progress) */
    double t0;
};

static struct bab_dom *dom_new(struct bab *s)
{
    size_t N = (size_t)s->N, rn = (size_t)s->rows * N;
    struct bab_dom *d = malloc(sizeof *d + rn * 2 * sizeof(double) + (size_t)s->rows * sizeof(float) + N);
    if (!d)
        return NULL;
    d->alpha = (double *)(d + 1);
    d->beta = d->alpha + rn;
    d->lb = (float *)(d->beta + rn);
    d->split = (signed char *)(d->lb + s->rows);
    d->id = s->next_id++;
    return d;
}

/* BaBSR (SPEC §3.2) over the free unstable neurons of a domain and its rows still open,
 * from each row's ReLU coefficients lam[rows][N]: the k best-scoring neurons into
 * cand[0..k), best first, returning how many there are (0 when none is free). Ties (and
 * all-zero scores) go to the lowest index. */
static int babsr_top(const struct bab *s, const signed char *split, const float *lb,
                     const double *lam, int k, int *cand)
{
    double sc_of[FSB_CANDIDATES];
    int n = 0;
    for (int j = 0; j < s->N; j++) {
        if (split[j] || !ibp_dom_unstable(s->p, j))
            continue;
        double sc = 0.0;
        for (int r = 0; r < s->rows; r++)
            if (!(lb[r] > 0.0f))
                sc += ibp_dom_babsr_score(s->p, j, lam[(size_t)r * s->N + j]);
        int p = n;
        while (p > 0 && sc > sc_of[p - 1])
            p--;
        if (p >= k)
            continue;
        for (int q = (n < k ? n : k - 1); q > p; q--) {
            sc_of[q] = sc_of[q - 1];
            cand[q] = cand[q - 1];
        }
        sc_of[p] = sc;
        cand[p] = j;
        n = n < k ? n + 1 : k;
    }
    return n;
}

/* Filtered smart branching (SPEC §3.2): for each domain doms[i] (ReLU coefficients
 * lams[i]), the BaBSR top candidates' two children are bounded once with the domain's
 * own α and β (no optimisation), all in one batched call, and the candidate whose worse
 * child has the highest bound on the domain's worst open row becomes doms[i]->branch
 * (-1 when no neuron is free). Ties go to the better BaBSR score. */
static enum ibp_status choose_branches(struct bab *s, struct bab_dom **doms, int n,
                                       const double *const *lams, struct ibp_error *err)
{
    int rows = s->rows, N = s->N, K = FSB_CANDIDATES;
    size_t rn = (size_t)rows * N;
    int *cand = malloc((size_t)n * K * sizeof(int)), *nc = malloc((size_t)n * sizeof(int));
    if (!cand || !nc) {
        free(cand);
        free(nc);
        return ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: branching");
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        nc[i] = babsr_top(s, doms[i]->split, doms[i]->lb, lams[i], K, cand + (size_t)i * K);
        doms[i]->branch = nc[i] > 0 ? cand[(size_t)i * K] : -1;
        m += nc[i] > 1 ? 2 * nc[i] : 0;
    }
    enum ibp_status st = IBP_OK;
    signed char *split = NULL;
    double *alpha = NULL, *beta = NULL, *lb = NULL;
    if (m == 0)
        goto done;
    split = malloc((size_t)m * (size_t)N);
    alpha = malloc((size_t)m * rn * sizeof(double));
    beta = malloc((size_t)m * rn * sizeof(double));
    lb = malloc((size_t)m * rows * sizeof(double));
    if (!split || !alpha || !beta || !lb) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: branching");
        goto done;
    }
    int q = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; nc[i] > 1 && c < nc[i]; c++)
            for (int side = 0; side < 2; side++, q++) {
                int j = cand[(size_t)i * K + c];
                memcpy(split + (size_t)q * N, doms[i]->split, (size_t)N);
                split[(size_t)q * N + j] = side ? -1 : 1;
                memcpy(alpha + q * rn, doms[i]->alpha, rn * sizeof(double));
                memcpy(beta + q * rn, doms[i]->beta, rn * sizeof(double));
                for (int r = 0; r < rows; r++)
                    beta[q * rn + (size_t)r * N + j] = 0.0;
            }
    st = ibp_dom_bound(s->p, m, split, alpha, beta, 0, lb, NULL, err);
    q = 0;
    for (int i = 0; st == IBP_OK && i < n; i++) {
        if (nc[i] <= 1)
            continue;
        double best = -INFINITY;
        for (int c = 0; c < nc[i]; c++, q += 2) {
            double v = INFINITY;
            for (int r = 0; r < rows; r++)
                if (!(doms[i]->lb[r] > 0.0f))
                    v = fmin(v, fmin(lb[(size_t)q * rows + r], lb[(size_t)(q + 1) * rows + r]));
            if (v > best) {
                best = v;
                doms[i]->branch = cand[(size_t)i * K + c];
            }
        }
    }
done:
    free(cand);
    free(nc);
    free(split);
    free(alpha);
    free(beta);
    free(lb);
    return st;
}

/* PGD on the whole box from x_start[n][inputs] (one start per domain; RNG stream 1 +
 * domain id, 0 without ids): a short run per child, the default attack (thorough) at
 * the root and at fully split domains. The first point found goes to cex and sets
 * *found_any. */
static enum ibp_status attack(struct bab *s, int n, const float *x_start, const long *ids,
                              int thorough, float *cex, int *found_any, struct ibp_error *err)
{
    struct ibp_attack_config ac;
    ibp_attack_config_default(&ac);
    if (!thorough) {
        ac.steps = 10;
        ac.restarts = 1;
    }
    uint64_t *streams = malloc((size_t)n * sizeof(uint64_t));
    float *lo = malloc((size_t)n * s->n0 * sizeof(float)), *hi = malloc((size_t)n * s->n0 * sizeof(float));
    float *C = malloc((size_t)n * s->rows * ibp_net_outputs(s->net) * sizeof(float));
    float *x = malloc((size_t)n * s->n0 * sizeof(float));
    int *found = malloc((size_t)n * sizeof(int));
    enum ibp_status st = IBP_OK;
    if (!streams || !lo || !hi || !C || !x || !found) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: attack scratch");
        goto done;
    }
    size_t nc = (size_t)s->rows * ibp_net_outputs(s->net);
    for (int i = 0; i < n; i++) {
        streams[i] = ids ? (uint64_t)ids[i] + 1 : 0;
        memcpy(lo + (size_t)i * s->n0, s->lo, s->n0 * sizeof(float));
        memcpy(hi + (size_t)i * s->n0, s->hi, s->n0 * sizeof(float));
        memcpy(C + (size_t)i * nc, s->C, nc * sizeof(float));
    }
    ac.streams = streams;
    struct ibp_attack_spec sp = {NULL, C, s->offset, NULL, s->rows};
    st = ibp_attack_run(s->net, s->atk, &ac, x_start, lo, hi, n, &sp, x, NULL, found, err);
    for (int i = 0; st == IBP_OK && i < n; i++)
        if (found[i]) {
            *found_any = 1;
            if (cex)
                memcpy(cex, x + (size_t)i * s->n0, s->n0 * sizeof(float));
            break;
        }
done:
    free(streams);
    free(lo);
    free(hi);
    free(C);
    free(x);
    free(found);
    return st;
}

static int cmp_best(const void *a, const void *b)
{
    const struct bab_dom *x = *(struct bab_dom *const *)a, *y = *(struct bab_dom *const *)b;
    if (x->minlb != y->minlb)
        return x->minlb < y->minlb ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

static int cmp_deep(const void *a, const void *b)
{
    const struct bab_dom *x = *(struct bab_dom *const *)a, *y = *(struct bab_dom *const *)b;
    if (x->depth != y->depth)
        return x->depth > y->depth ? -1 : 1;
    return cmp_best(a, b);
}

static float min_row(const float *lb, int rows)
{
    float m = INFINITY;
    for (int r = 0; r < rows; r++)
        m = lb[r] < m ? lb[r] : m;
    return m;
}

/* A fully split domain: the network is affine on it and the best β bound is the
 * minimum of an LP (strong duality), so a longer β ascent than a step's (more steps, a
 * larger and slower-decaying step size) often closes it; *closed = 1 when its bound,
 * re-evaluated (sound in sound mode), is > 0 on every row. */
static enum ibp_status close_leaf(struct bab *s, struct bab_dom *d, int *closed,
                                  struct ibp_error *err)
{
    struct ibp_opt_config oc = {LEAF_STEPS, LEAF_PATIENCE, 0.0, LEAF_LR_BETA, LEAF_DECAY,
                                s->t0 + s->cfg->timeout_s};
    double *lb = malloc((size_t)s->rows * sizeof(double));
    if (!lb)
        return ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: leaf");
    enum ibp_status st = ibp_dom_optimize(s->p, 1, d->split, d->alpha, d->beta, &oc, lb, err);
    if (st == IBP_OK && s->cfg->sound)
        st = ibp_dom_bound(s->p, 1, d->split, d->alpha, d->beta, 1, lb, NULL, err);
    *closed = 0;
    if (st == IBP_OK) {
        *closed = 1;
        for (int r = 0; r < s->rows; r++) {
            float f = s->cfg->sound ? fp_to_float_dn(lb[r]) : (float)lb[r];
            *closed &= f > 0.0f || d->lb[r] > 0.0f;
        }
    }
    free(lb);
    return st;
}

/* An open fully split domain: the default attack from its worst row's best point. */
static enum ibp_status attack_leaf(struct bab *s, const struct bab_dom *d, float *cex, int *sat,
                                   struct ibp_error *err)
{
    double *lb = malloc((size_t)s->rows * sizeof(double));
    float *xb = malloc((size_t)s->rows * s->n0 * sizeof(float));
    enum ibp_status st = IBP_OK;
    if (!lb || !xb) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: leaf");
    } else {
        struct ibp_dom_grad g = {NULL, NULL, NULL, xb};
        st = ibp_dom_bound(s->p, 1, d->split, d->alpha, d->beta, 0, lb, &g, err);
        int worst = 0;
        for (int r = 1; r < s->rows; r++)
            worst = lb[r] < lb[worst] ? r : worst;
        if (st == IBP_OK)
            st = attack(s, 1, xb + (size_t)worst * s->n0, &d->id, 1, cex, sat, err);
    }
    free(lb);
    free(xb);
    return st;
}

/* A fully split domain: its LPs decide it (closed, or sat with cex written); when they
 * do not (a solver failure, a minimum <= 0 without a confirmed point), the long β
 * ascent and the default attack try. */
static enum ibp_status decide_leaf(struct bab *s, struct bab_dom *d, float *cex, int *closed,
                                   int *sat, struct ibp_error *err)
{
    enum ibp_leaf_verdict v;
    double left = s->cfg->timeout_s - (ibp_clock_seconds() - s->t0);
    enum ibp_status st = ibp_leaf_decide(s->p, s->net, d->split, d->lb, s->cfg->sound,
                                         left > 0.01 ? left : 0.01, cex, &v, NULL, err);
    *closed = st == IBP_OK && v == IBP_LEAF_CLOSED;
    *sat |= st == IBP_OK && v == IBP_LEAF_SAT;
    if (st == IBP_OK && v == IBP_LEAF_OPEN)
        st = close_leaf(s, d, closed, err);
    if (st == IBP_OK && v == IBP_LEAF_OPEN && !*closed)
        st = attack_leaf(s, d, cex, sat, err);
    return st;
}

/* Scratch of one step for nc children. */
struct step_buf {
    signed char *split;
    double *alpha, *beta, *lbd, *lbs, *lam;
    float *xbest, *xstart;
    long *ids;
};

/* Bounds the children of the picked domains pick[0..np), pushing the open ones; sets
 * *sat (cex written) when an attack finds a point, *leaf when a fully split domain
 * stays open. */
static enum ibp_status step(struct bab *s, struct bab_dom **pick, int np, struct step_buf *w,
                            float *cex, int *sat, int *leaf, struct ibp_bab_result *res,
                            struct ibp_error *err)
{
    int rows = s->rows, N = s->N, nc = 2 * np;
    size_t rn = (size_t)rows * N;
    for (int i = 0; i < nc; i++) {
        const struct bab_dom *par = pick[i / 2];
        signed char *sp = w->split + (size_t)i * N;
        memcpy(sp, par->split, (size_t)N);
        sp[par->branch] = i % 2 ? -1 : 1;
        memcpy(w->alpha + i * rn, par->alpha, rn * sizeof(double));
        memcpy(w->beta + i * rn, par->beta, rn * sizeof(double));
        for (int r = 0; r < rows; r++)
            w->beta[i * rn + (size_t)r * N + par->branch] = 0.0;
    }
    struct ibp_opt_config oc = ibp_beta_crown_config(s->cfg->steps);
    enum ibp_status st = ibp_dom_optimize(s->p, nc, w->split, w->alpha, w->beta, &oc, w->lbd, err);
    struct ibp_dom_grad g = {NULL, NULL, w->lam, w->xbest};
    if (st == IBP_OK)
        st = ibp_dom_bound(s->p, nc, w->split, w->alpha, w->beta, 0, w->lbd, &g, err);
    if (st == IBP_OK && s->cfg->sound)
        st = ibp_dom_bound(s->p, nc, w->split, w->alpha, w->beta, 1, w->lbs, NULL, err);
    if (st != IBP_OK)
        return st;
    res->domains += nc;
    int na = 0;
    struct bab_dom **kids = calloc((size_t)nc, sizeof *kids);
    const double **kid_lam = calloc((size_t)nc, sizeof *kid_lam);
    if (!kids || !kid_lam) {
        free(kids);
        free(kid_lam);
        return ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: children");
    }
    for (int i = 0; i < nc; i++) {
        const struct bab_dom *par = pick[i / 2];
        float lbv[64], *lb = rows <= 64 ? lbv : malloc((size_t)rows * sizeof(float));
        if (!lb) {
            st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: rows");
            break;
        }
        /* a child lies inside its parent: the parent's (valid) row bounds still hold */
        int worst = 0;
        for (int r = 0; r < rows; r++) {
            double v = s->cfg->sound ? w->lbs[(size_t)i * rows + r] : w->lbd[(size_t)i * rows + r];
            float f = s->cfg->sound ? fp_to_float_dn(v) : (float)v;
            lb[r] = f > par->lb[r] ? f : par->lb[r];
            if (w->lbd[(size_t)i * rows + r] < w->lbd[(size_t)i * rows + worst])
                worst = r;
        }
        if (min_row(lb, rows) > 0.0f) {
            if (lb != lbv)
                free(lb);
            continue;
        }
        struct bab_dom *d = dom_new(s);
        if (!d) {
            if (lb != lbv)
                free(lb);
            st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: domain");
            break;
        }
        memcpy(d->split, w->split + (size_t)i * N, (size_t)N);
        memcpy(d->alpha, w->alpha + i * rn, rn * sizeof(double));
        memcpy(d->beta, w->beta + i * rn, rn * sizeof(double));
        memcpy(d->lb, lb, (size_t)rows * sizeof(float));
        d->minlb = min_row(lb, rows);
        d->depth = par->depth + 1;
        kid_lam[na] = w->lam + i * rn;
        res->max_depth = d->depth > res->max_depth ? d->depth : res->max_depth;
        memcpy(w->xstart + (size_t)na * s->n0, w->xbest + ((size_t)i * rows + worst) * s->n0,
               s->n0 * sizeof(float));
        w->ids[na] = d->id;
        kids[na++] = d;
        if (lb != lbv)
            free(lb);
    }
    if (st == IBP_OK && na > 0)
        st = choose_branches(s, kids, na, kid_lam, err);
    if (st == IBP_OK && na > 0)
        st = attack(s, na, w->xstart, w->ids, 0, cex, sat, err);
    for (int i = 0; i < na; i++) {
        int closed = 0;
        if (st == IBP_OK && !*sat && kids[i]->branch < 0)
            st = decide_leaf(s, kids[i], cex, &closed, sat, err);
        if (st != IBP_OK || *sat || kids[i]->branch < 0) {
            *leaf |= st == IBP_OK && !*sat && !closed;
            free(kids[i]);
        } else {
            s->q[s->nq++] = kids[i];
        }
    }
    free(kids);
    free(kid_lam);
    return st;
}

/* The progress hook, when set and a quarter second has passed since *last. */
static void report_progress(const struct bab *s, const struct ibp_bab_result *res, double *last)
{
    double t = ibp_clock_seconds();
    if (!s->cfg->progress || t - *last < 0.25)
        return;
    *last = t;
    struct ibp_bab_progress p = {s->done + res->domains, s->nq, INFINITY, t - s->t0};
    for (long i = 0; i < s->nq; i++)
        p.worst_lb = s->q[i]->minlb < p.worst_lb ? s->q[i]->minlb : p.worst_lb;
    s->cfg->progress(s->cfg->progress_ctx, &p);
}

static enum ibp_status run_loop(struct bab *s, float *cex, struct ibp_bab_result *res,
                                struct ibp_error *err)
{
    const struct ibp_bab_config *cfg = s->cfg;
    int B = cfg->batch, rows = s->rows, leaf = 0, sat = 0;
    size_t rn = (size_t)rows * s->N, nc = 2 * (size_t)B;
    struct step_buf w;
    w.split = malloc(nc * (s->N > 0 ? (size_t)s->N : 1));
    w.alpha = malloc(nc * rn * sizeof(double));
    w.beta = malloc(nc * rn * sizeof(double));
    w.lam = malloc(nc * rn * sizeof(double));
    w.lbd = malloc(nc * rows * sizeof(double));
    w.lbs = malloc(nc * rows * sizeof(double));
    w.xbest = malloc(nc * rows * s->n0 * sizeof(float));
    w.xstart = malloc(nc * s->n0 * sizeof(float));
    w.ids = malloc(nc * sizeof(long));
    struct bab_dom **pick = malloc((size_t)B * sizeof *pick);
    enum ibp_status st = IBP_OK;
    if (!w.split || !w.alpha || !w.beta || !w.lam || !w.lbd || !w.lbs || !w.xbest ||
        !w.xstart || !w.ids || !pick) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: step scratch");
        goto done;
    }
    res->reason = IBP_BAB_DECIDED;
    double last_progress = s->t0;
    while (s->nq > 0) {
        report_progress(s, res, &last_progress);
        if (ibp_clock_seconds() - s->t0 >= cfg->timeout_s) {
            res->reason = IBP_BAB_TIME;
            break;
        }
        if (s->nq > cfg->max_domains) {
            res->reason = IBP_BAB_DOMAIN_CAP;
            break;
        }
        /* memory: the open domains plus this step's children */
        int np = s->nq < B ? (int)s->nq : B;
        size_t need = ((size_t)s->nq + 2 * (size_t)np) * s->dom_bytes;
        if (need > cfg->max_bytes && (size_t)s->nq * s->dom_bytes + 2 * s->dom_bytes > cfg->max_bytes) {
            res->reason = IBP_BAB_MEMORY;
            break;
        }
        int deep = need > cfg->max_bytes;
        if (deep) /* depth-first, as few domains as fit */
            while (np > 1 && ((size_t)s->nq + 2 * (size_t)np) * s->dom_bytes > cfg->max_bytes)
                np--;
        qsort(s->q, (size_t)s->nq, sizeof *s->q, deep ? cmp_deep : cmp_best);
        memcpy(pick, s->q, (size_t)np * sizeof *pick);
        memmove(s->q, s->q + np, (size_t)(s->nq - np) * sizeof *s->q);
        s->nq -= np;
        st = step(s, pick, np, &w, cex, &sat, &leaf, res, err);
        for (int i = 0; i < np; i++)
            free(pick[i]);
        if (st != IBP_OK)
            break;
        if (sat) {
            res->verdict = IBP_BAB_SAT;
            break;
        }
    }
    if (st == IBP_OK && !sat) {
        if (s->nq == 0 && !leaf)
            res->verdict = IBP_BAB_UNSAT;
        else if (s->nq == 0)
            res->reason = IBP_BAB_LEAF;
    }
done:
    free(w.split);
    free(w.alpha);
    free(w.beta);
    free(w.lam);
    free(w.lbd);
    free(w.lbs);
    free(w.xbest);
    free(w.xstart);
    free(w.ids);
    free(pick);
    return st;
}

/* Branch and bound on row r alone of the rows given to ibp_bab_run (C_all, d_all), from
 * the root's α-CROWN slopes alpha_all[rows][N] and its bound lb_r of that row. Rows
 * go one at a time: a domain then carries, splits on and bounds one row only, and rows
 * that close early cost nothing later. res: this row's verdict, reason, domains. */
static enum ibp_status solve_row(struct bab *s, int r, const double *alpha_all, float lb_r,
                                 const float *C_all, const float *d_all, float *cex,
                                 struct ibp_bab_result *res, struct ibp_error *err)
{
    size_t N = (size_t)s->N, outs = (size_t)ibp_net_outputs(s->net);
    ibp_dom_problem_keep_rows(s->p, &r, 1);
    s->rows = 1;
    memcpy(s->C_open, C_all + (size_t)r * outs, outs * sizeof(float));
    s->C = s->C_open;
    for (int c = 0; c < 2 * s->cfg->batch; c++)
        s->offset[c] = d_all ? d_all[r] : 0.0;
    s->dom_bytes = sizeof(struct bab_dom) + N * 2 * sizeof(double) + sizeof(float) + N;
    struct bab_dom *root = dom_new(s);
    double *lam = malloc((N > 0 ? N : 1) * sizeof(double));
    float *xs = malloc(s->n0 * sizeof(float));
    double lbd;
    enum ibp_status st = IBP_OK;
    if (!root || !lam || !xs) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: root");
        goto done;
    }
    memset(root->split, 0, N);
    memcpy(root->alpha, alpha_all + (size_t)r * N, N * sizeof(double));
    memset(root->beta, 0, N * sizeof(double));
    root->lb[0] = lb_r;
    root->minlb = lb_r;
    root->depth = 0;
    struct ibp_dom_grad g = {NULL, NULL, lam, xs};
    st = ibp_dom_bound(s->p, 1, root->split, root->alpha, root->beta, 0, &lbd, &g, err);
    if (st != IBP_OK)
        goto done;
    const double *root_lam = lam;
    st = choose_branches(s, &root, 1, &root_lam, err);
    if (st != IBP_OK)
        goto done;
    if (root->branch < 0) {
        int closed = 0, sat = 0;
        st = decide_leaf(s, root, cex, &closed, &sat, err);
        if (sat)
            res->verdict = IBP_BAB_SAT;
        else if (closed)
            res->verdict = IBP_BAB_UNSAT;
        else
            res->reason = IBP_BAB_LEAF;
        goto done;
    }
    s->q[s->nq++] = root;
    root = NULL;
    st = run_loop(s, cex, res, err);
    for (long i = 0; i < s->nq; i++) {
        res->worst_lb = s->q[i]->minlb < res->worst_lb ? s->q[i]->minlb : res->worst_lb;
        free(s->q[i]);
    }
    s->nq = 0;
done:
    free(root);
    free(lam);
    free(xs);
    return st;
}

static enum ibp_status check_config(const struct ibp_bab_config *c, struct ibp_error *err)
{
    if (!(c->timeout_s > 0.0) || c->max_domains < 1 || c->max_bytes < 1 || c->batch < 1 ||
        c->steps < 0 || c->threads < 1)
        return ibp_fail(err, IBP_ERR_ARG, "branch and bound: timeout, domain cap, memory cap, "
                        "batch and threads must be positive");
    return IBP_OK;
}

/* Intermediate bounds narrowed by branch and bound (intermediate_bab.h), every ReLU
 * layer in order, in passes of budget REFINE_BUDGET0, twice that, ...: each pass starts
 * from the bounds the last one left, and is followed by α-CROWN on the root's rows
 * (alpha, lb). A pass starts only before REFINE_START of the time limit and stops
 * splitting at REFINE_STOP of it; when all rows are proved, or the last pass closed
 * less than REFINE_GAIN of the worst row's gap to 0, no more passes. On
 * ERAN's mnist_relu_6_100 (image 4, ε 0.026) the root's worst bound goes from -13.8
 * to -5.3 (budget 8), -3.7 (16), -2.0 (64, 32 s on one core). */
static enum ibp_status refine(struct bab *s, double *alpha, float *lb, float *fresh,
                              struct ibp_error *err)
{
    const struct ibp_bab_config *cfg = s->cfg;
    int layers = ibp_dom_relu_layers(s->p);
    enum ibp_status st = IBP_OK;
    float last_worst = -INFINITY;
    for (int budget = REFINE_BUDGET0; budget <= REFINE_BUDGET_MAX; budget *= 2) {
        float worst = INFINITY;
        for (int r = 0; r < s->rows; r++)
            worst = lb[r] < worst ? lb[r] : worst;
        if (worst > 0.0f || ibp_clock_seconds() - s->t0 >= REFINE_START * cfg->timeout_s)
            break;
        /* a pass that closed less than REFINE_GAIN of the gap: splitting gains more */
        if (budget > REFINE_BUDGET0 && !(worst - last_worst > -REFINE_GAIN * last_worst))
            break;
        last_worst = worst;
        struct ibp_ibab_config bc = ibp_ibab_config_default();
        bc.budget = budget;
        bc.deadline = s->t0 + REFINE_STOP * cfg->timeout_s;
        int m = 1;
        for (; st == IBP_OK && m < layers && ibp_clock_seconds() < bc.deadline; m++)
            st = ibp_intermediate_bab(s->p, m, &bc, cfg->sound, err);
        if (st == IBP_OK && m < layers) {
            /* stopped by the deadline: the later layers gain from the narrowed ones */
            struct ibp_opt_config ic = ibp_alpha_crown_config();
            ic.steps = INTERMEDIATE_STEPS;
            ic.deadline = s->t0 + cfg->timeout_s;
            st = ibp_alpha_crown_intermediate_from(s->p, m, &ic, cfg->sound, cfg->threads, err);
        }
        if (st != IBP_OK)
            return st;
        struct ibp_opt_config rc = ibp_alpha_crown_config();
        rc.deadline = s->t0 + cfg->timeout_s;
        st = ibp_alpha_crown(s->p, &rc, cfg->sound, alpha, fresh, NULL, err);
        if (st != IBP_OK)
            return st;
        /* both bounds hold for the whole box */
        for (int r = 0; r < s->rows; r++)
            lb[r] = fresh[r] > lb[r] ? fresh[r] : lb[r];
    }
    return st;
}

enum ibp_status ibp_bab_run(const struct ibp_net *net, const float *lo, const float *hi,
                            const float *C, const float *d, int rows,
                            const struct ibp_bab_config *cfg, float *cex,
                            struct ibp_bab_result *res, struct ibp_error *err)
{
    memset(res, 0, sizeof *res);
    res->verdict = IBP_BAB_UNKNOWN;
    res->worst_lb = INFINITY;
    enum ibp_status st = check_config(cfg, err);
    if (st != IBP_OK)
        return st;
    struct bab s = {0};
    s.net = net;
    s.cfg = cfg;
    s.lo = lo;
    s.hi = hi;
    s.C = C;
    s.rows = rows;
    s.t0 = ibp_clock_seconds();
    s.n0 = ibp_shape_size(net->input);
    float *lb = NULL, *fresh = NULL, *xs = NULL;
    double *alpha = NULL; /* [rows][N]: the root's α-CROWN slopes of every row */
    int *order = NULL;
    st = ibp_dom_problem_create(net, lo, hi, C, d, rows, cfg->sound, cfg->threads, &s.p, err);
    if (st != IBP_OK)
        goto done;
    s.N = ibp_dom_relus(s.p);
    size_t rn = (size_t)rows * s.N;
    st = ibp_attack_create(net, 2 * cfg->batch, rows, &s.atk, err);
    if (st != IBP_OK)
        goto done;
    ibp_attack_set_threads(s.atk, cfg->threads);
    s.offset = calloc((size_t)2 * cfg->batch * rows, sizeof(double));
    long cap = cfg->max_domains + 2L * cfg->batch + 1;
    s.q = malloc((size_t)cap * sizeof *s.q);
    lb = malloc((size_t)rows * sizeof(float));
    fresh = malloc((size_t)rows * sizeof(float));
    xs = malloc(s.n0 * sizeof(float));
    alpha = malloc((rn > 0 ? rn : 1) * sizeof(double));
    order = malloc((size_t)rows * sizeof(int));
    s.C_open = malloc((size_t)ibp_net_outputs(net) * sizeof(float));
    if (!s.offset || !s.q || !lb || !fresh || !xs || !alpha || !order || !s.C_open) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: %ld domains", cap);
        goto done;
    }
    for (int i = 0; i < 2 * cfg->batch; i++)
        for (int r = 0; d && r < rows; r++)
            s.offset[(size_t)i * rows + r] = d[r];
    /* PGD on the box, from its centre first */
    for (size_t j = 0; j < s.n0; j++)
        xs[j] = lo[j] + 0.5f * (hi[j] - lo[j]);
    int sat = 0;
    st = attack(&s, 1, xs, NULL, 1, cex, &sat, err);
    if (st != IBP_OK)
        goto done;
    res->domains = 1;
    if (sat) {
        res->verdict = IBP_BAB_SAT;
        goto done;
    }
    /* α-CROWN on the intermediate bounds, then on the root's rows */
    if (cfg->intermediate) {
        struct ibp_opt_config ic = ibp_alpha_crown_config();
        ic.steps = INTERMEDIATE_STEPS;
        ic.deadline = s.t0 + cfg->timeout_s;
        st = ibp_alpha_crown_intermediate(s.p, &ic, cfg->sound, cfg->threads, err);
        if (st != IBP_OK)
            goto done;
    }
    struct ibp_opt_config rc = ibp_alpha_crown_config();
    rc.deadline = s.t0 + cfg->timeout_s;
    st = ibp_alpha_crown(s.p, &rc, cfg->sound, alpha, lb, NULL, err);
    if (st != IBP_OK)
        goto done;
    if (cfg->refine && cfg->intermediate) {
        st = refine(&s, alpha, lb, fresh, err);
        if (st != IBP_OK)
            goto done;
    }
    /* the open rows one at a time, the furthest from proved first (where a
     * counterexample most likely lies); a row left open by a fully split domain does
     * not stop the search for a counterexample in the others */
    int n_open = 0;
    for (int r = 0; r < rows; r++)
        if (!(lb[r] > 0.0f))
            order[n_open++] = r;
    for (int i = 1; i < n_open; i++)
        for (int k = i; k > 0 && lb[order[k]] < lb[order[k - 1]]; k--) {
            int t = order[k];
            order[k] = order[k - 1];
            order[k - 1] = t;
        }
    res->verdict = IBP_BAB_UNSAT;
    for (int i = 0; st == IBP_OK && i < n_open; i++) {
        struct ibp_bab_result rr = {IBP_BAB_UNKNOWN, IBP_BAB_DECIDED, 0, 0, 0.0, INFINITY};
        s.done = res->domains;
        st = solve_row(&s, order[i], alpha, lb[order[i]], C, d, cex, &rr, err);
        res->domains += rr.domains;
        res->max_depth = rr.max_depth > res->max_depth ? rr.max_depth : res->max_depth;
        if (st != IBP_OK || rr.verdict == IBP_BAB_UNSAT)
            continue;
        res->verdict = rr.verdict;
        res->reason = rr.reason;
        res->worst_lb = rr.worst_lb < res->worst_lb ? rr.worst_lb : res->worst_lb;
        if (rr.verdict == IBP_BAB_SAT || rr.reason != IBP_BAB_LEAF)
            break;
    }
done:
    if (st != IBP_OK)
        res->verdict = IBP_BAB_UNKNOWN;
    if (st == IBP_OK && res->verdict != IBP_BAB_UNKNOWN)
        res->reason = IBP_BAB_DECIDED;
    res->seconds = ibp_clock_seconds() - s.t0;
    for (long i = 0; i < s.nq; i++)
        free(s.q[i]);
    free(s.q);
    free(lb);
    free(fresh);
    free(xs);
    free(alpha);
    free(order);
    free(s.offset);
    free(s.C_open);
    ibp_attack_free(s.atk);
    ibp_dom_problem_free(s.p);
    return st;
}
