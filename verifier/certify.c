/* The verification driver of certify.h: workers over fixed batches, bounds then PGD. */
#include "verifier/certify.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nets/passes/passes.h"

const char *ibp_verdict_name(enum ibp_verdict v)
{
    switch (v) {
    case IBP_VERDICT_CERTIFIED: return "certified";
    case IBP_VERDICT_ATTACKED: return "attacked";
    case IBP_VERDICT_UNKNOWN: break;
    }
    return "unknown";
}

void ibp_certify_config_default(struct ibp_certify_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->eps = 0.0;
    cfg->methods[0] = IBP_BOUND_IBP;
    cfg->methods[1] = IBP_BOUND_CROWN_IBP;
    cfg->n_methods = 2;
    cfg->sound = 1;
    cfg->batch = 32;
    cfg->threads = 0;
    cfg->attack = 1;
    cfg->attack_certified = 0;
    ibp_attack_config_default(&cfg->attack_cfg);
}

/* Why 2^-50: lo = p/255 - eps evaluated in double carries three roundings (the division,
 * the parse of eps, the subtraction), each at most 2^-53 in absolute value because every
 * operand lies in [0, 1]; 2^-50 covers their sum with room to spare. */
static const double BOX_SLACK = 0x1p-50;

static float round_down(double v)
{
    float f = (float)v;
    if ((double)f > v)
        f = nextafterf(f, -INFINITY);
    return f;
}

static float round_up(double v)
{
    float f = (float)v;
    if ((double)f < v)
        f = nextafterf(f, INFINITY);
    return f;
}

void ibp_pixel_box(const uint8_t *p, size_t n, double eps, enum ibp_box_rounding rounding,
                   float *lo, float *hi)
{
    for (size_t i = 0; i < n; i++) {
        double x = (double)p[i] / 255.0;
        double l = x - eps, h = x + eps;
        switch (rounding) {
        case IBP_BOX_NEAREST: {
            /* as datasets/box.c, from the float pixel the trainer sees */
            double xf = (double)((float)p[i] / 255.0f);
            lo[i] = (float)fmax(xf - eps, 0.0);
            hi[i] = (float)fmin(xf + eps, 1.0);
            break;
        }
        case IBP_BOX_OUTWARD:
            l -= BOX_SLACK;
            h += BOX_SLACK;
            lo[i] = l <= 0.0 ? 0.0f : round_down(l);
            hi[i] = h >= 1.0 ? 1.0f : round_up(h);
            break;
        case IBP_BOX_INWARD:
            l += BOX_SLACK;
            h -= BOX_SLACK;
            lo[i] = l <= 0.0 ? 0.0f : round_up(l);
            hi[i] = h >= 1.0 ? 1.0f : round_down(h);
            if (lo[i] > hi[i])
                lo[i] = hi[i] = (float)p[i] / 255.0f; /* the clean point as the driver has it */
            break;
        }
    }
}

/* Everything one worker needs for one batch; allocated once per run. */
struct worker {
    struct ibp_bounder *bounder[IBP_CERTIFY_MAX_METHODS];
    struct ibp_attack *attack;
    struct ibp_workspace *ws; /* clean forward */
    float *x, *lo, *hi;       /* [B][in] clean points, bounder box */
    float *alo, *ahi;         /* [B][in] attack box (inward) */
    float *logits;            /* [B][outputs] */
    float *lb;                /* [B][outputs-1] */
    int *labels;              /* [B] */
    int *cert;                /* [B] some method's bound is > 0 */
    /* the samples a batch attacks, packed */
    int *pick;                /* [B] positions in the batch */
    int *plabels;             /* [B] */
    uint64_t *pstream;        /* [B] */
    float *px, *plo, *phi, *padv; /* [B][in] */
    double *pobj;             /* [B] */
    int *pfound;              /* [B] */
};

static void worker_free(struct worker *w)
{
    for (int k = 0; k < IBP_CERTIFY_MAX_METHODS; k++)
        ibp_bounder_free(w->bounder[k]);
    ibp_attack_free(w->attack);
    ibp_ws_free(w->ws);
    free(w->x);
    free(w->lo);
    free(w->hi);
    free(w->alo);
    free(w->ahi);
    free(w->logits);
    free(w->lb);
    free(w->labels);
    free(w->cert);
    free(w->pick);
    free(w->plabels);
    free(w->pstream);
    free(w->px);
    free(w->plo);
    free(w->phi);
    free(w->padv);
    free(w->pobj);
    free(w->pfound);
    memset(w, 0, sizeof *w);
}

static enum ibp_status worker_init(struct worker *w, const struct ibp_net *net,
                                   const struct ibp_certify_config *cfg, int threads,
                                   struct ibp_error *err)
{
    memset(w, 0, sizeof *w);
    int B = cfg->batch, O = ibp_net_outputs(net);
    size_t in = ibp_shape_size(net->input), nb = (size_t)B;
    enum ibp_status st;
    for (int k = 0; k < cfg->n_methods; k++) {
        struct ibp_bounder_config bc = {cfg->methods[k], cfg->sound, B, O - 1};
        st = ibp_bounder_create(net, &bc, &w->bounder[k], err);
        if (st != IBP_OK)
            goto fail;
        ibp_bounder_set_threads(w->bounder[k], threads);
    }
    st = ibp_attack_create(net, B, O - 1, &w->attack, err);
    if (st != IBP_OK)
        goto fail;
    ibp_attack_set_threads(w->attack, threads);
    st = ibp_ws_create(net, B, IBP_WS_CLEAN, &w->ws, err);
    if (st != IBP_OK)
        goto fail;
    ibp_ws_set_threads(w->ws, threads);
    w->x = malloc(nb * in * sizeof(float));
    w->lo = malloc(nb * in * sizeof(float));
    w->hi = malloc(nb * in * sizeof(float));
    w->alo = malloc(nb * in * sizeof(float));
    w->ahi = malloc(nb * in * sizeof(float));
    w->logits = malloc(nb * (size_t)O * sizeof(float));
    w->lb = malloc(nb * (size_t)(O - 1) * sizeof(float));
    w->labels = malloc(nb * sizeof(int));
    w->cert = malloc(nb * sizeof(int));
    w->pick = malloc(nb * sizeof(int));
    w->plabels = malloc(nb * sizeof(int));
    w->pstream = malloc(nb * sizeof(uint64_t));
    w->px = malloc(nb * in * sizeof(float));
    w->plo = malloc(nb * in * sizeof(float));
    w->phi = malloc(nb * in * sizeof(float));
    w->padv = malloc(nb * in * sizeof(float));
    w->pobj = malloc(nb * sizeof(double));
    w->pfound = malloc(nb * sizeof(int));
    if (!w->x || !w->lo || !w->hi || !w->alo || !w->ahi || !w->logits || !w->lb ||
        !w->labels || !w->cert || !w->pick || !w->plabels || !w->pstream || !w->px || !w->plo ||
        !w->phi || !w->padv || !w->pobj || !w->pfound) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "verify: out of memory for batch %d", B);
        goto fail;
    }
    return IBP_OK;
fail:
    worker_free(w);
    return st;
}

/* The checks of ibp_certify_check that allocate nothing. */
static enum ibp_status check_fit(const struct ibp_net *net, const char *net_name,
                                 const struct ibp_dataset *ds, const char *data_name,
                                 const struct ibp_certify_config *cfg, struct ibp_error *err)
{
    int O = ibp_net_outputs(net);
    if (net->input.c != ds->c || net->input.h != ds->h || net->input.w != ds->w)
        return ibp_fail(err, IBP_ERR_SHAPE, "%s: images are %dx%dx%d but %s expects %dx%dx%d",
                        data_name, ds->c, ds->h, ds->w, net_name, net->input.c, net->input.h,
                        net->input.w);
    if (O < 2)
        return ibp_fail(err, IBP_ERR_SHAPE, "%s: %d output: a classifier needs at least 2",
                        net_name, O);
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] >= O)
            return ibp_fail(err, IBP_ERR_ARG,
                            "%s: sample %lld has label %d but %s has only %d classes", data_name,
                            (long long)i, (int)ds->labels[i], net_name, O);
    if (!(cfg->eps >= 0.0 && cfg->eps <= 1.0))
        return ibp_fail(err, IBP_ERR_ARG, "eps %g outside [0, 1]", cfg->eps);
    if (cfg->batch < 1 || cfg->threads < 0 || cfg->n_methods < 0 ||
        cfg->n_methods > IBP_CERTIFY_MAX_METHODS)
        return ibp_fail(err, IBP_ERR_ARG, "verify: batch %d, threads %d, %d methods: invalid",
                        cfg->batch, cfg->threads, cfg->n_methods);
    const struct ibp_attack_config *ac = &cfg->attack_cfg;
    if (ac->steps < 0 || ac->restarts < 1 || !(ac->step_size > 0.0) || !isfinite(ac->step_size))
        return ibp_fail(err, IBP_ERR_ARG,
                        "attack: steps %d, restarts %d, step size %g: need steps >= 0, "
                        "restarts >= 1, step size > 0",
                        ac->steps, ac->restarts, ac->step_size);
    return IBP_OK;
}

enum ibp_status ibp_certify_check(const struct ibp_net *net, const char *net_name,
                                  const struct ibp_dataset *ds, const char *data_name,
                                  const struct ibp_certify_config *cfg, struct ibp_error *err)
{
    enum ibp_status st = check_fit(net, net_name, ds, data_name, cfg, err);
    if (st != IBP_OK)
        return st;
    struct worker w;
    struct ibp_error e;
    ibp_error_clear(&e);
    st = worker_init(&w, net, cfg, 1, &e);
    if (st != IBP_OK)
        return ibp_fail(err, st, "%s: %s", net_name, e.msg);
    worker_free(&w);
    return IBP_OK;
}

/* Index of the largest logit, lowest on ties. */
static int argmax(const float *z, int O)
{
    int best = 0;
    for (int j = 1; j < O; j++)
        if (z[j] > z[best])
            best = j;
    return best;
}

/* min over j != y of z_y - z_j (NaN when any is NaN). */
static double min_margin(const float *z, int O, int y)
{
    double m = INFINITY;
    for (int j = 0; j < O; j++)
        if (j != y) {
            double v = (double)z[y] - (double)z[j];
            if (isnan(v))
                return NAN;
            if (v < m)
                m = v;
        }
    return m;
}

/* One batch: samples [first, first+nb) of ds into out[first..]. */
static enum ibp_status run_batch(const struct ibp_net *net, const struct ibp_dataset *ds,
                                 const struct ibp_certify_config *cfg, struct worker *w,
                                 int64_t first, int nb, struct ibp_certify_sample *out,
                                 const struct ibp_certify_hooks *hooks, struct ibp_error *err)
{
    int O = ibp_net_outputs(net), R = O - 1;
    size_t in = ibp_shape_size(net->input);
    const uint8_t *px = ibp_dataset_sample(ds, first);
    size_t total = (size_t)nb * in;
    for (size_t i = 0; i < total; i++)
        w->x[i] = (float)px[i] / 255.0f;
    ibp_pixel_box(px, total, cfg->eps, cfg->sound ? IBP_BOX_OUTWARD : IBP_BOX_NEAREST, w->lo,
                  w->hi);
    ibp_pixel_box(px, total, cfg->eps, IBP_BOX_INWARD, w->alo, w->ahi);

    enum ibp_status st = ibp_pass_clean(net, w->ws, w->x, nb, IBP_BN_EVAL, w->logits, err);
    if (st != IBP_OK)
        return st;
    for (int b = 0; b < nb; b++) {
        struct ibp_certify_sample *s = &out[first + b];
        const float *z = w->logits + (size_t)b * O;
        s->index = first + b;
        s->pred = argmax(z, O);
        int y = ds->labels[first + b];
        s->label = y >= 0 ? y : s->pred;
        w->labels[b] = s->label;
        double cm = min_margin(z, O, s->label);
        s->clean_correct = cm > 0.0;
        s->attack_obj = s->clean_correct ? NAN : cm;
        s->verdict = s->clean_correct ? IBP_VERDICT_UNKNOWN : IBP_VERDICT_ATTACKED;
        s->conflict = 0;
        for (int k = 0; k < IBP_CERTIFY_MAX_METHODS; k++)
            s->lb_min[k] = NAN;
    }

    struct ibp_spec spec = {w->labels, NULL, 0};
    for (int k = 0; k < cfg->n_methods; k++) {
        st = ibp_bounder_run(net, w->bounder[k], w->lo, w->hi, nb, &spec, w->lb, err);
        if (st != IBP_OK)
            return st;
        for (int b = 0; b < nb; b++) {
            float m = INFINITY;
            for (int j = 0; j < R; j++) {
                float v = w->lb[(size_t)b * R + j];
                if (isnan(v)) {
                    m = NAN; /* a NaN bound never certifies */
                    break;
                }
                if (v < m)
                    m = v;
            }
            out[first + b].lb_min[k] = m;
        }
    }
    int *certified = w->cert;
    for (int b = 0; b < nb; b++) {
        struct ibp_certify_sample *s = &out[first + b];
        certified[b] = 0;
        for (int k = 0; k < cfg->n_methods; k++)
            if (s->lb_min[k] > 0.0f)
                certified[b] = 1;
        if (certified[b] && s->clean_correct)
            s->verdict = IBP_VERDICT_CERTIFIED;
        else if (certified[b])
            s->conflict = 1; /* a sound bound > 0 at a misclassified point */
    }

    int np = 0;
    if (cfg->attack)
        for (int b = 0; b < nb; b++) {
            const struct ibp_certify_sample *s = &out[first + b];
            if (s->clean_correct && (!certified[b] || cfg->attack_certified)) {
                w->pick[np] = b;
                w->plabels[np] = s->label;
                w->pstream[np] = (uint64_t)s->index;
                memcpy(w->px + (size_t)np * in, w->x + (size_t)b * in, in * sizeof(float));
                memcpy(w->plo + (size_t)np * in, w->alo + (size_t)b * in, in * sizeof(float));
                memcpy(w->phi + (size_t)np * in, w->ahi + (size_t)b * in, in * sizeof(float));
                np++;
            }
        }
    if (np > 0) {
        struct ibp_attack_config ac = cfg->attack_cfg;
        ac.streams = w->pstream;
        struct ibp_attack_spec aspec = {w->plabels, NULL, NULL, NULL, R};
        st = ibp_attack_run(net, w->attack, &ac, w->px, w->plo, w->phi, np, &aspec, w->padv,
                            w->pobj, w->pfound, err);
        if (st != IBP_OK)
            return st;
        for (int k = 0; k < np; k++) {
            struct ibp_certify_sample *s = &out[first + w->pick[k]];
            s->attack_obj = w->pobj[k];
            if (w->pfound[k]) {
                if (s->verdict == IBP_VERDICT_CERTIFIED)
                    s->conflict = 1;
                s->verdict = IBP_VERDICT_ATTACKED;
            }
        }
    }

    if (hooks && hooks->counterexample) {
        int k = 0;
        for (int b = 0; b < nb && st == IBP_OK; b++) {
            const struct ibp_certify_sample *s = &out[first + b];
            while (k < np && w->pick[k] < b)
                k++;
            if (s->verdict != IBP_VERDICT_ATTACKED)
                continue;
            const float *x = w->x + (size_t)b * in;
            const float *adv = s->clean_correct ? w->padv + (size_t)k * in : x;
#pragma omp critical(ibp_certify_hook)
            st = hooks->counterexample(hooks->ctx, s, x, adv, err);
        }
    }
    return st;
}

enum ibp_status ibp_certify_run(const struct ibp_net *net, const struct ibp_dataset *ds,
                                const struct ibp_certify_config *cfg,
                                const struct ibp_certify_hooks *hooks,
                                struct ibp_certify_sample *out,
                                struct ibp_certify_summary *summary, struct ibp_error *err)
{
    double t0 = omp_get_wtime();
    enum ibp_status st = check_fit(net, "network", ds, "dataset", cfg, err);
    if (st != IBP_OK)
        return st;
    int64_t n = ds->n, n_batches = (n + cfg->batch - 1) / cfg->batch;
    if (n_batches < 1)
        return ibp_fail(err, IBP_ERR_ARG, "dataset: %lld samples", (long long)n);
    int threads = cfg->threads > 0 ? cfg->threads : omp_get_max_threads();
    int T = (int64_t)threads < n_batches ? threads : (int)n_batches;
    if (T < 1)
        T = 1;
    int inner = threads / T > 1 ? threads / T : 1;
    struct worker *workers = calloc((size_t)T, sizeof *workers);
    if (!workers)
        return ibp_fail(err, IBP_ERR_NOMEM, "verify: out of memory");
    for (int t = 0; t < T && st == IBP_OK; t++)
        st = worker_init(&workers[t], net, cfg, inner, err);

    /* The first failing batch (lowest index) decides the error, whatever the threads. */
    int64_t failed_batch = n_batches;
    struct ibp_error first_err;
    ibp_error_clear(&first_err);
    int64_t done = 0;
    if (st == IBP_OK) {
#pragma omp parallel num_threads(T)
        {
            struct worker *w = &workers[omp_get_thread_num()];
            struct ibp_error e;
            ibp_error_clear(&e);
#pragma omp for schedule(dynamic, 1)
            for (int64_t bi = 0; bi < n_batches; bi++) {
                int64_t stop;
#pragma omp atomic read
                stop = failed_batch;
                if (bi > stop)
                    continue;
                int64_t first = bi * cfg->batch;
                int nb = (int)(n - first < cfg->batch ? n - first : cfg->batch);
                enum ibp_status s = run_batch(net, ds, cfg, w, first, nb, out, hooks, &e);
#pragma omp critical(ibp_certify_hook)
                {
                    if (s != IBP_OK && bi < failed_batch) {
#pragma omp atomic write
                        failed_batch = bi;
                        first_err = e;
                    }
                    done += nb;
                    if (s == IBP_OK && hooks && hooks->progress)
                        hooks->progress(hooks->ctx, done, n);
                }
            }
        }
        if (failed_batch < n_batches) {
            st = first_err.status;
            if (err)
                *err = first_err;
        }
    }
    for (int t = 0; t < T; t++)
        worker_free(&workers[t]);
    free(workers);
    if (st != IBP_OK)
        return st;

    if (summary) {
        memset(summary, 0, sizeof *summary);
        summary->n = n;
        for (int64_t i = 0; i < n; i++) {
            const struct ibp_certify_sample *s = &out[i];
            summary->clean_errors += !s->clean_correct;
            summary->attacked += s->verdict == IBP_VERDICT_ATTACKED;
            summary->certified += s->verdict == IBP_VERDICT_CERTIFIED;
            summary->unknown += s->verdict == IBP_VERDICT_UNKNOWN;
            summary->conflicts += s->conflict;
            for (int k = 0; k < cfg->n_methods; k++)
                summary->verified_by[k] += s->clean_correct && s->lb_min[k] > 0.0f;
        }
        summary->seconds = omp_get_wtime() - t0;
    }
    return IBP_OK;
}
