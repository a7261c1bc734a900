/* PGD on the specification's violation measure (attack.h). */
#include "nets/passes/attack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/passes/passes.h"
#include "nets/base/rng.h"

static const double PI = 3.14159265358979323846;

struct ibp_attack {
    struct ibp_workspace *ws; /* clean forward + input gradient, BN eval */
    int max_batch, max_rows, outputs;
    size_t in_size;
    float *x;        /* [max_batch][in] current iterates */
    float *gx;       /* [max_batch][in] d obj / d x */
    float *logits;   /* [max_batch][outputs] */
    float *g_logits; /* [max_batch][outputs] */
    double *best;    /* [max_batch] best objective so far */
    int *active_row; /* [max_batch] the row whose value is obj at the current iterate */
    struct ibp_rng *rng; /* [max_batch] */
};

void ibp_attack_config_default(struct ibp_attack_config *cfg)
{
    cfg->steps = 50;
    cfg->restarts = 2;
    cfg->step_size = 0.5;
    cfg->seed = 0;
    cfg->streams = NULL;
    cfg->constant_step = 0;
    cfg->keep_going = 0;
}

enum ibp_status ibp_attack_create(const struct ibp_net *net, int max_batch, int max_rows,
                                  struct ibp_attack **out, struct ibp_error *err)
{
    *out = NULL;
    if (max_batch < 1 || max_rows < 1)
        return ibp_fail(err, IBP_ERR_ARG, "attack: max_batch %d and max_rows %d must be >= 1",
                        max_batch, max_rows);
    struct ibp_attack *a = calloc(1, sizeof *a);
    if (!a)
        return ibp_fail(err, IBP_ERR_NOMEM, "attack: out of memory");
    enum ibp_status st = ibp_ws_create(net, max_batch, IBP_WS_CLEAN | IBP_WS_GRAD, &a->ws, err);
    if (st != IBP_OK) {
        free(a);
        return st;
    }
    a->max_batch = max_batch;
    a->max_rows = max_rows;
    a->outputs = ibp_net_outputs(net);
    a->in_size = ibp_shape_size(net->input);
    size_t B = (size_t)max_batch, O = (size_t)a->outputs;
    a->x = malloc(B * a->in_size * sizeof(float));
    a->gx = malloc(B * a->in_size * sizeof(float));
    a->logits = malloc(B * O * sizeof(float));
    a->g_logits = malloc(B * O * sizeof(float));
    a->best = malloc(B * sizeof(double));
    a->active_row = malloc(B * sizeof(int));
    a->rng = malloc(B * sizeof(struct ibp_rng));
    if (!a->x || !a->gx || !a->logits || !a->g_logits || !a->best || !a->active_row ||
        !a->rng) {
        ibp_attack_free(a);
        return ibp_fail(err, IBP_ERR_NOMEM, "attack: out of memory for batch %d", max_batch);
    }
    *out = a;
    return IBP_OK;
}

void ibp_attack_free(struct ibp_attack *a)
{
    if (!a)
        return;
    ibp_ws_free(a->ws);
    free(a->x);
    free(a->gx);
    free(a->logits);
    free(a->g_logits);
    free(a->best);
    free(a->active_row);
    free(a->rng);
    free(a);
}

void ibp_attack_set_threads(struct ibp_attack *a, int threads)
{
    ibp_ws_set_threads(a->ws, threads);
}

/* Value of row m of sample b at logits z. */
static double row_value(const struct ibp_attack_spec *spec, int b, int m, const float *z,
                        int outputs)
{
    if (spec->labels) {
        int y = spec->labels[b];
        int j = m < y ? m : m + 1;
        return (double)z[y] - (double)z[j];
    }
    const float *c = spec->C + ((size_t)b * spec->rows + m) * outputs;
    double v = spec->offset ? spec->offset[(size_t)b * spec->rows + m] : 0.0;
    for (int o = 0; o < outputs; o++)
        v += (double)c[o] * z[o];
    return v;
}

/* obj of sample b at logits z: min over disjuncts of the max over their rows; *row is
 * the row that attains it. NaN logits give NaN. */
static double objective(const struct ibp_attack_spec *spec, int rows, int b, const float *z,
                        int outputs, int *row)
{
    double obj = INFINITY;
    int m = 0;
    *row = 0;
    while (m < rows) {
        int d_end = m + 1;
        if (spec->disjunct)
            while (d_end < rows && spec->disjunct[d_end] == spec->disjunct[m])
                d_end++;
        double dmax = -INFINITY;
        int arg = m;
        for (int k = m; k < d_end; k++) {
            double v = row_value(spec, b, k, z, outputs);
            if (isnan(v))
                return NAN;
            if (v > dmax) {
                dmax = v;
                arg = k;
            }
        }
        if (dmax < obj) {
            obj = dmax;
            *row = arg;
        }
        m = d_end;
    }
    return obj;
}

/* d(row m of sample b)/dz into g[outputs]. */
static void row_gradient(const struct ibp_attack_spec *spec, int b, int m, int outputs, float *g)
{
    if (spec->labels) {
        int y = spec->labels[b];
        memset(g, 0, (size_t)outputs * sizeof(float));
        g[y] = 1.0f;
        g[m < y ? m : m + 1] = -1.0f;
        return;
    }
    memcpy(g, spec->C + ((size_t)b * spec->rows + m) * outputs, (size_t)outputs * sizeof(float));
}

static enum ibp_status check_run(const struct ibp_attack *a, const struct ibp_attack_config *cfg,
                                 const float *lo, const float *hi, int batch,
                                 const struct ibp_attack_spec *spec, int rows,
                                 struct ibp_error *err)
{
    if (batch < 1 || batch > a->max_batch)
        return ibp_fail(err, IBP_ERR_ARG, "attack: batch %d outside 1..%d", batch, a->max_batch);
    if (cfg->steps < 0 || cfg->restarts < 1 || !(cfg->step_size > 0.0) ||
        !isfinite(cfg->step_size))
        return ibp_fail(err, IBP_ERR_ARG,
                        "attack: steps %d, restarts %d, step size %g: need steps >= 0, "
                        "restarts >= 1, step size > 0",
                        cfg->steps, cfg->restarts, cfg->step_size);
    if (!spec->labels && !spec->C)
        return ibp_fail(err, IBP_ERR_ARG, "attack: the spec has neither labels nor C");
    if (rows < 1 || rows > a->max_rows)
        return ibp_fail(err, IBP_ERR_ARG, "attack: %d spec rows outside 1..%d", rows,
                        a->max_rows);
    if (spec->labels)
        for (int b = 0; b < batch; b++)
            if (spec->labels[b] < 0 || spec->labels[b] >= a->outputs)
                return ibp_fail(err, IBP_ERR_ARG, "attack: sample %d: label %d outside 0..%d", b,
                                spec->labels[b], a->outputs - 1);
    if (!spec->labels && spec->disjunct)
        for (int m = 1; m < rows; m++)
            if (spec->disjunct[m] < spec->disjunct[m - 1])
                return ibp_fail(err, IBP_ERR_ARG, "attack: disjunct ids decrease at row %d", m);
    for (size_t i = 0; i < (size_t)batch * a->in_size; i++) {
        if (isnan(lo[i]) || isnan(hi[i]))
            return ibp_fail(err, IBP_ERR_NUMERIC, "attack: sample %zu: NaN in the box",
                            i / a->in_size);
        if (lo[i] > hi[i])
            return ibp_fail(err, IBP_ERR_ARG, "attack: sample %zu, element %zu: lo %g > hi %g",
                            i / a->in_size, i % a->in_size, (double)lo[i], (double)hi[i]);
    }
    return IBP_OK;
}

static float clampf(float v, float l, float h)
{
    return v < l ? l : (v > h ? h : v);
}

enum ibp_status ibp_attack_run(const struct ibp_net *net, struct ibp_attack *a,
                               const struct ibp_attack_config *cfg, const float *x_start,
                               const float *lo, const float *hi, int batch,
                               const struct ibp_attack_spec *spec, float *x_adv,
                               double *obj, int *found, struct ibp_error *err)
{
    int O = a->outputs;
    int rows = spec->labels ? O - 1 : spec->rows;
    enum ibp_status st = check_run(a, cfg, lo, hi, batch, spec, rows, err);
    if (st != IBP_OK)
        return st;
    size_t n = a->in_size, total = (size_t)batch * n;
    for (int b = 0; b < batch; b++) {
        a->best[b] = INFINITY;
        ibp_rng_seed(&a->rng[b], cfg->seed, cfg->streams ? cfg->streams[b] : (uint64_t)b);
    }
    /* x_adv holds the best point of every sample; it starts at the box's lower corner so
     * that it lies in the box even if no pass ever improves on +inf (NaN outputs). */
    memcpy(x_adv, lo, total * sizeof(float));
    int all_found = 0;
    /* keep_going: a counterexample neither stops its sample nor ends the run early */
    int stop_found = !cfg->keep_going;
    for (int r = 0; r < cfg->restarts && !all_found; r++) {
        for (int b = 0; b < batch; b++) {
            float *x = a->x + (size_t)b * n;
            const float *l = lo + (size_t)b * n, *h = hi + (size_t)b * n;
            /* a sample with a counterexample waits at it, so that its result does not
             * depend on how long its neighbours in the batch keep searching */
            if (stop_found && a->best[b] <= 0.0)
                memcpy(x, x_adv + (size_t)b * n, n * sizeof(float));
            else if (r == 0 && x_start)
                for (size_t i = 0; i < n; i++)
                    x[i] = clampf(x_start[(size_t)b * n + i], l[i], h[i]);
            else
                for (size_t i = 0; i < n; i++) {
                    double u = ibp_rng_uniform(&a->rng[b]);
                    x[i] = clampf((float)(l[i] + u * ((double)h[i] - l[i])), l[i], h[i]);
                }
        }
        for (int t = 0; t <= cfg->steps; t++) {
            st = ibp_pass_clean(net, a->ws, a->x, batch, IBP_BN_EVAL, a->logits, err);
            if (st != IBP_OK)
                return st;
            all_found = 1;
            for (int b = 0; b < batch; b++) {
                double v = objective(spec, rows, b, a->logits + (size_t)b * O, O,
                                     &a->active_row[b]);
                if (v < a->best[b]) {
                    a->best[b] = v;
                    memcpy(x_adv + (size_t)b * n, a->x + (size_t)b * n, n * sizeof(float));
                }
                if (!(stop_found && a->best[b] <= 0.0))
                    all_found = 0;
            }
            if (t == cfg->steps || all_found)
                break;
            /* A sample that already has a counterexample (unless keep_going), or whose
             * output is NaN, gets a zero gradient and so stays where it is. */
            for (int b = 0; b < batch; b++) {
                float *g = a->g_logits + (size_t)b * O;
                if ((stop_found && a->best[b] <= 0.0) || isnan(a->best[b]))
                    memset(g, 0, (size_t)O * sizeof(float));
                else
                    row_gradient(spec, b, a->active_row[b], O, g);
            }
            st = ibp_pass_input_grad(net, a->ws, a->g_logits, a->gx, err);
            if (st != IBP_OK)
                return st;
            double frac = 0.5 * (1.0 + cos(PI * (double)t / (double)cfg->steps));
            double step = cfg->constant_step ? cfg->step_size
                                             : cfg->step_size * (0.1 + 0.9 * frac);
            for (size_t i = 0; i < total; i++) {
                float g = a->gx[i];
                if (g == 0.0f || isnan(g))
                    continue;
                /* descend on obj: move against the gradient's sign */
                float d = (float)(step * 0.5 * ((double)hi[i] - lo[i]));
                float v = g > 0.0f ? a->x[i] - d : a->x[i] + d;
                a->x[i] = clampf(v, lo[i], hi[i]);
            }
        }
    }
    /* The re-check: a plain forward pass at exactly the reported points. */
    st = ibp_pass_clean(net, a->ws, x_adv, batch, IBP_BN_EVAL, a->logits, err);
    if (st != IBP_OK)
        return st;
    for (int b = 0; b < batch; b++) {
        int row;
        double v = objective(spec, rows, b, a->logits + (size_t)b * O, O, &row);
        int inside = 1;
        for (size_t i = (size_t)b * n; i < (size_t)(b + 1) * n; i++)
            if (!(x_adv[i] >= lo[i] && x_adv[i] <= hi[i]))
                inside = 0;
        if (obj)
            obj[b] = v;
        found[b] = inside && v <= 0.0;
    }
    return IBP_OK;
}
