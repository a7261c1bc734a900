/* intermediate_bab.c — intermediate bounds by branch and bound (intermediate_bab.h). */
#include "nets/bounds/intermediate_bab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/clock.h"
#include "nets/bounds/alpha_crown.h"

struct ibp_ibab_config ibp_ibab_config_default(void)
{
    struct ibp_ibab_config c = {8, 10, (size_t)256 << 20, 0.0};
    return c;
}

/* The leaves of every bound ("task"), stored flat: leaf i belongs to task[i]. */
struct leaves {
    int N;
    int n, cap;
    signed char *split; /* [cap][N] */
    double *alpha;      /* [cap][N] */
    double *beta;       /* [cap][N] */
    double *lb;         /* [cap] */
    int *task;          /* [cap] */
    int *stuck;         /* [cap]: 1 when no earlier neuron is left to split */
};

static void leaves_free(struct leaves *L)
{
    free(L->split);
    free(L->alpha);
    free(L->beta);
    free(L->lb);
    free(L->task);
    free(L->stuck);
}

static int leaves_alloc(struct leaves *L, int N, int cap)
{
    size_t n = N > 0 ? (size_t)N : 1;
    L->N = N;
    L->n = 0;
    L->cap = cap;
    L->split = calloc((size_t)cap * n, 1);
    L->alpha = calloc((size_t)cap * n, sizeof(double));
    L->beta = calloc((size_t)cap * n, sizeof(double));
    L->lb = malloc((size_t)cap * sizeof(double));
    L->task = malloc((size_t)cap * sizeof(int));
    L->stuck = calloc((size_t)cap, sizeof(int));
    return L->split && L->alpha && L->beta && L->lb && L->task && L->stuck;
}

/* Copies leaf i into slot k of the batch arrays (split, alpha, beta [.][N]). */
static void gather(const struct leaves *L, int i, int k, signed char *sp, double *al, double *be)
{
    size_t N = (size_t)L->N;
    memcpy(sp + (size_t)k * N, L->split + (size_t)i * N, N);
    memcpy(al + (size_t)k * N, L->alpha + (size_t)i * N, N * sizeof(double));
    memcpy(be + (size_t)k * N, L->beta + (size_t)i * N, N * sizeof(double));
}

static void scatter(struct leaves *L, int i, int k, const signed char *sp, const double *al,
                    const double *be)
{
    size_t N = (size_t)L->N;
    memcpy(L->split + (size_t)i * N, sp + (size_t)k * N, N);
    memcpy(L->alpha + (size_t)i * N, al + (size_t)k * N, N * sizeof(double));
    memcpy(L->beta + (size_t)i * N, be + (size_t)k * N, N * sizeof(double));
}

/* The free unstable neuron before `first` with the best BaBSR score for a leaf whose
 * ReLU coefficients are lam [N]; -1 when none. Ties go to the lowest index. */
static int pick_neuron(const struct ibp_dom_problem *p, int first, const signed char *split,
                       const double *lam)
{
    int best = -1;
    double best_sc = -1.0;
    for (int j = 0; j < first; j++) {
        if (split[j] || !ibp_dom_unstable(p, j))
            continue;
        double sc = ibp_dom_babsr_score(p, j, lam[j]);
        if (sc > best_sc) {
            best_sc = sc;
            best = j;
        }
    }
    return best;
}

/* The splitting loop on the leaves of the view v (tasks rows of v). */
static enum ibp_status split_leaves(const struct ibp_dom_problem *p,
                                    const struct ibp_dom_problem *v, int first, int tasks,
                                    struct leaves *L, int budget,
                                    const struct ibp_ibab_config *cfg, struct ibp_error *err)
{
    size_t N = (size_t)L->N;
    int *pick = malloc((size_t)tasks * sizeof(int)), *low = malloc((size_t)tasks * sizeof(int));
    int *row = malloc(2 * (size_t)tasks * sizeof(int));
    signed char *sp = malloc(2 * (size_t)tasks * N);
    double *al = malloc(2 * (size_t)tasks * N * sizeof(double));
    double *be = malloc(2 * (size_t)tasks * N * sizeof(double));
    double *lam = malloc((size_t)tasks * N * sizeof(double)), *lb = malloc(2 * (size_t)tasks * sizeof(double));
    enum ibp_status st = IBP_OK;
    if (!pick || !low || !row || !sp || !al || !be || !lam || !lb) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "intermediate bounds: %d bounds", tasks);
        goto done;
    }
    struct ibp_opt_config oc = ibp_beta_crown_config(cfg->steps);
    oc.deadline = cfg->deadline;
    for (int round = 0; round < budget && !ibp_clock_past(cfg->deadline); round++) {
        /* each task's lowest leaf (the task's bound); split it unless it is > 0 (the
         * neuron is proved stable, and then the other side's task stops too) or has no
         * earlier neuron left to split (the task's bound cannot rise) */
        for (int t = 0; t < tasks; t++)
            low[t] = -1;
        for (int i = 0; i < L->n; i++) {
            int t = L->task[i];
            if (low[t] < 0 || L->lb[i] < L->lb[low[t]])
                low[t] = i;
        }
        int na = 0;
        for (int t = 0; t < tasks; t++) {
            int i = low[t];
            if (L->lb[i] > 0.0 || L->lb[low[t ^ 1]] > 0.0 || L->stuck[i])
                continue;
            pick[na++] = i;
        }
        if (na == 0 || L->n + na > L->cap)
            break;
        /* the ReLU coefficients of the picked leaves, for the branching choice */
        for (int k = 0; k < na; k++) {
            gather(L, pick[k], k, sp, al, be);
            row[k] = L->task[pick[k]];
        }
        struct ibp_dom_grad g = {NULL, NULL, lam, NULL};
        st = ibp_dom_bound_rows(v, na, row, sp, al, be, 0, lb, &g, err);
        if (st != IBP_OK)
            goto done;
        int nc = 0;
        for (int k = 0; k < na; k++) {
            int i = pick[k], j = pick_neuron(p, first, L->split + (size_t)i * N, lam + (size_t)k * N);
            if (j < 0) {
                L->stuck[i] = 1;
                continue;
            }
            for (int c = 0; c < 2; c++) {
                gather(L, i, nc + c, sp, al, be);
                sp[(size_t)(nc + c) * N + (size_t)j] = c ? 1 : -1;
                row[nc + c] = L->task[i];
            }
            pick[nc / 2] = i;
            nc += 2;
        }
        if (nc == 0)
            continue;
        st = ibp_dom_optimize_rows(v, nc, row, sp, al, be, &oc, lb, err);
        if (st != IBP_OK)
            goto done;
        /* child 0 replaces its parent, child 1 is a new leaf; a child's domain lies in
         * its parent's, so the parent's bound holds for it too */
        for (int k = 0; k < nc / 2; k++) {
            int i = pick[k], t = L->task[i];
            double parent = L->lb[i];
            scatter(L, i, 2 * k, sp, al, be);
            L->lb[i] = fmax(lb[2 * k], parent);
            int n = L->n++;
            scatter(L, n, 2 * k + 1, sp, al, be);
            L->lb[n] = fmax(lb[2 * k + 1], parent);
            L->task[n] = t;
            L->stuck[n] = 0;
        }
    }
done:
    free(pick);
    free(low);
    free(row);
    free(sp);
    free(al);
    free(be);
    free(lam);
    free(lb);
    return st;
}

enum ibp_status ibp_intermediate_bab(struct ibp_dom_problem *p, int m,
                                     const struct ibp_ibab_config *cfg, int sound,
                                     struct ibp_error *err)
{
    int layers = ibp_dom_relu_layers(p), N = ibp_dom_relus(p);
    if (m < 1 || m >= layers || cfg->budget < 0 || cfg->steps < 0)
        return ibp_fail(err, IBP_ERR_ARG, "intermediate bounds: layer %d of %d, budget %d",
                        m, layers, cfg->budget);
    int first, n, nu = 0;
    ibp_dom_relu_layer(p, m, &first, &n);
    int *neurons = malloc((size_t)n * sizeof(int));
    if (!neurons)
        return ibp_fail(err, IBP_ERR_NOMEM, "intermediate bounds: layer %d", m);
    for (int j = first; j < first + n; j++)
        if (ibp_dom_unstable(p, j))
            neurons[nu++] = j;
    if (nu == 0) {
        free(neurons);
        return IBP_OK;
    }
    /* task 2i bounds z_j from below (row +e_j), task 2i + 1 from above (row -e_j) */
    int tasks = 2 * nu;
    size_t leaf_bytes = (size_t)N * (1 + 2 * sizeof(double)) + sizeof(double) + 2 * sizeof(int);
    long most = (long)(cfg->max_bytes / leaf_bytes) / tasks - 1;
    int budget = most < cfg->budget ? (most > 0 ? (int)most : 0) : cfg->budget;
    double *C = calloc((size_t)tasks * n, sizeof(double));
    double *lb = malloc((size_t)tasks * (budget + 1) * sizeof(double));
    double *best = malloc((size_t)tasks * sizeof(double));
    struct leaves L = {0};
    struct ibp_dom_problem *v = NULL;
    enum ibp_status st = IBP_OK;
    if (!C || !lb || !best || !leaves_alloc(&L, N, tasks * (budget + 1))) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "intermediate bounds: %d bounds of layer %d", tasks, m);
        goto done;
    }
    for (int t = 0; t < tasks; t++)
        C[(size_t)t * n + (size_t)(neurons[t / 2] - first)] = t % 2 ? -1.0 : 1.0;
    st = ibp_dom_problem_prefix(p, m, C, tasks, &v, err);
    if (st != IBP_OK)
        goto done;
    /* the roots: α-CROWN from the adaptive slopes, one leaf per task */
    double *a0 = malloc((size_t)tasks * (N > 0 ? (size_t)N : 1) * sizeof(double));
    if (!a0) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "intermediate bounds: slopes of layer %d", m);
        goto done;
    }
    ibp_dom_alpha_init(v, a0);
    memcpy(L.alpha, a0, (size_t)tasks * N * sizeof(double));
    free(a0);
    for (int t = 0; t < tasks; t++)
        L.task[t] = t;
    L.n = tasks;
    struct ibp_opt_config rc = ibp_alpha_crown_config();
    rc.steps = cfg->steps;
    rc.deadline = cfg->deadline;
    st = ibp_dom_optimize_rows(v, tasks, L.task, L.split, L.alpha, NULL, &rc, L.lb, err);
    if (st != IBP_OK)
        goto done;
    st = split_leaves(p, v, first, tasks, &L, budget, cfg, err);
    if (st != IBP_OK)
        goto done;
    /* every leaf re-evaluated at its parameters (sound when sound); a task's bound is
     * the lowest of its leaves */
    st = ibp_dom_bound_rows(v, L.n, L.task, L.split, L.alpha, L.beta, sound, lb, NULL, err);
    if (st != IBP_OK)
        goto done;
    for (int t = 0; t < tasks; t++)
        best[t] = INFINITY;
    for (int i = 0; i < L.n; i++)
        best[L.task[i]] = fmin(best[L.task[i]], isnan(lb[i]) ? -INFINITY : lb[i]);
    /* all bounds of the layer are computed before any is narrowed, so they do not
     * depend on each other's order */
    for (int i = 0; i < nu; i++)
        ibp_dom_tighten_relu(p, neurons[i], best[2 * i], -best[2 * i + 1]);
done:
    ibp_dom_problem_free(v);
    leaves_free(&L);
    free(C);
    free(lb);
    free(best);
    free(neurons);
    return st;
}
