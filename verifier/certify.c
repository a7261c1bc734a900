/* The verification driver of certify.h: workers over fixed batches, bounds then PGD. */
#include "verifier/certify.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/memory.h"
#include "nets/bounds/alpha_crown.h"
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

const char *ibp_decider_name(const struct ibp_certify_config *cfg, enum ibp_decider by,
                             int by_method)
{
    switch (by) {
    case IBP_BY_CLEAN: return "clean";
    case IBP_BY_BOUND:
        return by_method >= 0 && by_method < cfg->n_methods
                   ? ibp_bound_method_name(cfg->methods[by_method])
                   : "?";
    case IBP_BY_ATTACK: return "attack";
    case IBP_BY_ALPHA_CROWN: return "alpha-crown";
    case IBP_BY_BAB: return "bab";
    case IBP_BY_NONE: break;
    }
    return "";
}

const char *ibp_unknown_reason_name(enum ibp_unknown_reason why)
{
    switch (why) {
    case IBP_WHY_BOUNDS: return "bounds";
    case IBP_WHY_TIME: return "time";
    case IBP_WHY_DOMAIN_CAP: return "domain cap";
    case IBP_WHY_MEMORY: return "memory";
    case IBP_WHY_LEAF: return "leaf";
    case IBP_WHY_UNSUPPORTED: return "unsupported";
    case IBP_WHY_UNCONFIRMED: return "unconfirmed";
    case IBP_WHY_NONE: break;
    }
    return "";
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
    cfg->alpha_crown = 0;
    cfg->bab = 0;
    cfg->bab_cfg = ibp_bab_config_default();
    cfg->bab_cfg.timeout_s = 20.0;
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
    float *adv;               /* [B][in] each attacked sample's counterexample */
    float *C;                 /* [outputs-1][outputs] one sample's margin rows */
    float *cex;               /* [in] branch and bound's counterexample */
    int threads;              /* for α-CROWN and branch and bound */
    int unsupported;          /* the domain-bound engine refused the net */
    char note[IBP_CERTIFY_NOTE_LEN];           /* its message */
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
    free(w->adv);
    free(w->C);
    free(w->cex);
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
    w->adv = malloc(nb * in * sizeof(float));
    w->C = malloc((size_t)(O - 1) * (size_t)O * sizeof(float));
    w->cex = malloc(in * sizeof(float));
    w->threads = threads;
    if (!w->adv || !w->C || !w->cex || !w->x || !w->lo || !w->hi || !w->alo || !w->ahi || !w->logits || !w->lb ||
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
    const struct ibp_bab_config *bc = &cfg->bab_cfg;
    if (cfg->bab && (!(bc->timeout_s > 0.0) || !isfinite(bc->timeout_s) ||
                     bc->max_domains < 1 || bc->max_bytes < 1 || bc->batch < 1 ||
                     bc->steps < 0))
        return ibp_fail(err, IBP_ERR_ARG,
                        "branch and bound: timeout %g s, %ld domains, %zu bytes, batch %d, "
                        "%d steps: need all > 0 (steps >= 0)",
                        bc->timeout_s, bc->max_domains, bc->max_bytes, bc->batch, bc->steps);
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

/* The workers ibp_certify_run starts for n samples, and the threads each one uses. */
static void worker_count(const struct ibp_certify_config *cfg, int64_t n, int *T, int *inner)
{
    int64_t n_batches = (n + cfg->batch - 1) / cfg->batch;
    int threads = cfg->threads > 0 ? cfg->threads : omp_get_max_threads();
    *T = (int64_t)threads < n_batches ? threads : (int)n_batches;
    if (*T < 1)
        *T = 1;
    *inner = threads / *T > 1 ? threads / *T : 1;
}

enum ibp_status ibp_certify_run_bytes(const struct ibp_net *net, const struct ibp_dataset *ds,
                                      const struct ibp_certify_config *cfg, size_t *bytes,
                                      struct ibp_error *err)
{
    *bytes = 0;
    enum ibp_status st = check_fit(net, "network", ds, "dataset", cfg, err);
    if (st != IBP_OK)
        return st;
    int T, inner;
    worker_count(cfg, ds->n, &T, &inner);
    size_t before = ibp_mem_heap_allocated();
    struct worker w;
    st = worker_init(&w, net, cfg, inner, err);
    size_t after = ibp_mem_heap_allocated();
    if (st != IBP_OK)
        return st;
    worker_free(&w);
    size_t one = after > before ? after - before : 0;
    *bytes = (size_t)T * (one + sizeof w + (cfg->bab ? cfg->bab_cfg.max_bytes : 0));
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

/* Certified by a later step: a conflict when a counterexample is already known. */
static void certify_by(struct ibp_certify_sample *s, enum ibp_decider by)
{
    if (s->verdict == IBP_VERDICT_ATTACKED) {
        s->conflict = 1;
        return;
    }
    s->verdict = IBP_VERDICT_CERTIFIED;
    s->by = by;
    s->why = IBP_WHY_NONE;
}

/* Whether steps 4-5 still have something to do for s. */
static int still_open(const struct ibp_certify_config *cfg, const struct ibp_certify_sample *s)
{
    return s->clean_correct && !s->conflict && s->verdict != IBP_VERDICT_CERTIFIED &&
           (s->verdict == IBP_VERDICT_UNKNOWN || cfg->attack_certified);
}

/* A refusal of the domain-bound engine: noted once per worker, not an error. */
static enum ibp_status domain_refused(struct worker *w, struct ibp_certify_sample *s,
                                      enum ibp_status st, const struct ibp_error *e,
                                      struct ibp_error *err)
{
    if (st != IBP_ERR_UNSUPPORTED) {
        if (err)
            *err = *e;
        return st;
    }
    w->unsupported = 1;
    snprintf(w->note, sizeof w->note, "alpha-crown and bab skipped: %.200s", e->msg);
    if (s->verdict == IBP_VERDICT_UNKNOWN)
        s->why = IBP_WHY_UNSUPPORTED;
    return IBP_OK;
}

/* The rows z_y - z_j, j != y, into w->C. */
static void margin_rows(struct worker *w, int O, int y)
{
    memset(w->C, 0, (size_t)(O - 1) * (size_t)O * sizeof(float));
    for (int j = 0, r = 0; j < O; j++)
        if (j != y) {
            w->C[(size_t)r * O + (size_t)y] = 1.0f;
            w->C[(size_t)r * O + (size_t)j] = -1.0f;
            r++;
        }
}

/* Step 4 on sample b of the batch. */
static enum ibp_status alpha_step(const struct ibp_net *net, const struct ibp_certify_config *cfg,
                                  struct worker *w, int b, struct ibp_certify_sample *s,
                                  struct ibp_error *err)
{
    int R = ibp_net_outputs(net) - 1;
    size_t in = ibp_shape_size(net->input);
    struct ibp_dom_problem *p = NULL;
    struct ibp_error e;
    ibp_error_clear(&e);
    enum ibp_status st = ibp_dom_problem_create(net, w->lo + (size_t)b * in, w->hi + (size_t)b * in,
                                                w->C, NULL, R, cfg->sound, w->threads, &p, &e);
    if (st == IBP_OK)
        st = ibp_alpha_crown(p, NULL, cfg->sound, NULL, w->lb, NULL, &e);
    ibp_dom_problem_free(p);
    if (st != IBP_OK)
        return domain_refused(w, s, st, &e, err);
    float m = INFINITY;
    for (int r = 0; r < R; r++)
        m = isnan(w->lb[r]) || isnan(m) ? NAN : fminf(m, w->lb[r]);
    s->lb_alpha = m;
    if (m > 0.0f)
        certify_by(s, IBP_BY_ALPHA_CROWN);
    return IBP_OK;
}

/* Forwards branch and bound's progress to the driver's hook, serialised. */
struct bab_progress_ctx {
    const struct ibp_certify_hooks *hooks;
    int64_t index;
};

static void bab_progress(void *ctx, const struct ibp_bab_progress *p)
{
    const struct bab_progress_ctx *c = ctx;
#pragma omp critical(ibp_certify_hook)
    c->hooks->bab_progress(c->hooks->ctx, c->index, p);
}

static enum ibp_unknown_reason bab_why(enum ibp_bab_reason r)
{
    switch (r) {
    case IBP_BAB_TIME: return IBP_WHY_TIME;
    case IBP_BAB_DOMAIN_CAP: return IBP_WHY_DOMAIN_CAP;
    case IBP_BAB_MEMORY: return IBP_WHY_MEMORY;
    case IBP_BAB_LEAF: return IBP_WHY_LEAF;
    case IBP_BAB_DECIDED: break;
    }
    return IBP_WHY_NONE;
}

/* Step 5 on sample b of the batch. A counterexample is clipped into the inward box and
 * handed to PGD as its first start: the attack's own re-check decides it. */
static enum ibp_status bab_step(const struct ibp_net *net, const struct ibp_certify_config *cfg,
                                struct worker *w, int b, struct ibp_certify_sample *s,
                                const struct ibp_certify_hooks *hooks, struct ibp_error *err)
{
    int R = ibp_net_outputs(net) - 1;
    size_t in = ibp_shape_size(net->input);
    struct ibp_bab_config bc = cfg->bab_cfg;
    struct bab_progress_ctx pc = {hooks, s->index};
    bc.sound = cfg->sound;
    bc.threads = w->threads;
    bc.progress = hooks && hooks->bab_progress ? bab_progress : NULL;
    bc.progress_ctx = &pc;
    struct ibp_bab_result res;
    struct ibp_error e;
    ibp_error_clear(&e);
    enum ibp_status st = ibp_bab_run(net, w->lo + (size_t)b * in, w->hi + (size_t)b * in, w->C,
                                     NULL, R, &bc, w->cex, &res, &e);
    if (st != IBP_OK)
        return domain_refused(w, s, st, &e, err);
    s->bab_domains = res.domains;
    if (res.verdict == IBP_BAB_UNSAT) {
        certify_by(s, IBP_BY_BAB);
        return IBP_OK;
    }
    if (res.verdict == IBP_BAB_UNKNOWN || s->verdict != IBP_VERDICT_UNKNOWN) {
        if (s->verdict == IBP_VERDICT_UNKNOWN)
            s->why = bab_why(res.reason);
        return IBP_OK;
    }
    const float *alo = w->alo + (size_t)b * in, *ahi = w->ahi + (size_t)b * in;
    for (size_t i = 0; i < in; i++)
        w->cex[i] = fminf(fmaxf(w->cex[i], alo[i]), ahi[i]);
    struct ibp_attack_config ac = cfg->attack_cfg;
    uint64_t stream = (uint64_t)s->index;
    ac.streams = &stream;
    struct ibp_attack_spec aspec = {&s->label, NULL, NULL, NULL, R};
    double obj;
    int found;
    st = ibp_attack_run(net, w->attack, &ac, w->cex, alo, ahi, 1, &aspec, w->adv + (size_t)b * in,
                        &obj, &found, err);
    if (st != IBP_OK)
        return st;
    if (found) {
        s->verdict = IBP_VERDICT_ATTACKED;
        s->by = IBP_BY_BAB;
        s->why = IBP_WHY_NONE;
        s->attack_obj = obj;
    } else {
        s->why = IBP_WHY_UNCONFIRMED;
    }
    return IBP_OK;
}

/* adv_pred of the batch's attacked samples s[0..nb): one clean pass over their
 * counterexamples (a clean error's is its own image; the rows of the others are filled
 * with their images too, so the pass reads no stale values). */
static enum ibp_status predict_counterexamples(const struct ibp_net *net, struct worker *w,
                                               struct ibp_certify_sample *s, int nb,
                                               struct ibp_error *err)
{
    int any = 0;
    for (int b = 0; b < nb; b++)
        any |= s[b].verdict == IBP_VERDICT_ATTACKED && s[b].clean_correct;
    if (!any)
        return IBP_OK;
    int O = ibp_net_outputs(net);
    size_t in = ibp_shape_size(net->input);
    for (int b = 0; b < nb; b++)
        if (!(s[b].verdict == IBP_VERDICT_ATTACKED && s[b].clean_correct))
            memcpy(w->adv + (size_t)b * in, w->x + (size_t)b * in, in * sizeof(float));
    enum ibp_status st = ibp_pass_clean(net, w->ws, w->adv, nb, IBP_BN_EVAL, w->logits, err);
    if (st != IBP_OK)
        return st;
    for (int b = 0; b < nb; b++)
        if (s[b].verdict == IBP_VERDICT_ATTACKED)
            s[b].adv_pred = argmax(w->logits + (size_t)b * O, O);
    return IBP_OK;
}

/* One batch: samples [first, first+nb) of ds into out[first..]. */
static enum ibp_status run_batch(const struct ibp_net *net, const struct ibp_dataset *ds,
                                 const struct ibp_certify_config *cfg, struct worker *w,
                                 int64_t first, int nb, struct ibp_certify_sample *out,
                                 const struct ibp_certify_hooks *hooks, struct ibp_error *err)
{
    double t0 = omp_get_wtime();
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
        s->adv_pred = s->clean_correct ? -1 : s->pred;
        s->attack_obj = s->clean_correct ? NAN : cm;
        s->verdict = s->clean_correct ? IBP_VERDICT_UNKNOWN : IBP_VERDICT_ATTACKED;
        s->conflict = 0;
        for (int k = 0; k < IBP_CERTIFY_MAX_METHODS; k++)
            s->lb_min[k] = NAN;
        s->lb_alpha = NAN;
        s->by = s->clean_correct ? IBP_BY_NONE : IBP_BY_CLEAN;
        s->by_method = -1;
        s->bab_domains = 0;
        s->seconds = 0.0;
        s->why = IBP_WHY_NONE;
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
        for (int k = cfg->n_methods - 1; k >= 0; k--)
            if (s->lb_min[k] > 0.0f) {
                certified[b] = 1;
                s->by_method = k;
            }
        if (certified[b] && s->clean_correct) {
            s->verdict = IBP_VERDICT_CERTIFIED;
            s->by = IBP_BY_BOUND;
        }
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
                s->by = IBP_BY_ATTACK;
                memcpy(w->adv + (size_t)w->pick[k] * in, w->padv + (size_t)k * in,
                       in * sizeof(float));
            }
        }
    }
    double shared = (omp_get_wtime() - t0) / nb;
    for (int b = 0; b < nb && st == IBP_OK; b++) {
        struct ibp_certify_sample *s = &out[first + b];
        double ts = omp_get_wtime();
        if ((cfg->alpha_crown || cfg->bab) && still_open(cfg, s))
            margin_rows(w, O, s->label);
        if (cfg->alpha_crown && !w->unsupported && still_open(cfg, s))
            st = alpha_step(net, cfg, w, b, s, err);
        if (st == IBP_OK && cfg->bab && !w->unsupported && still_open(cfg, s))
            st = bab_step(net, cfg, w, b, s, hooks, err);
        if (s->verdict == IBP_VERDICT_UNKNOWN && s->why == IBP_WHY_NONE)
            s->why = w->unsupported ? IBP_WHY_UNSUPPORTED : IBP_WHY_BOUNDS;
        s->seconds = shared + (omp_get_wtime() - ts);
    }

    if (st == IBP_OK)
        st = predict_counterexamples(net, w, out + first, nb, err);
    if (hooks && hooks->counterexample) {
        for (int b = 0; b < nb && st == IBP_OK; b++) {
            const struct ibp_certify_sample *s = &out[first + b];
            if (s->verdict != IBP_VERDICT_ATTACKED)
                continue;
            const float *x = w->x + (size_t)b * in;
            const float *adv = s->clean_correct ? w->adv + (size_t)b * in : x;
#pragma omp critical(ibp_certify_hook)
            st = hooks->counterexample(hooks->ctx, s, x, adv, err);
        }
    }
    return st;
}

enum ibp_status ibp_certify_run_batches(const struct ibp_net *net, const struct ibp_dataset *ds,
                                        const struct ibp_certify_config *cfg,
                                        const struct ibp_certify_hooks *hooks, int64_t batch_lo,
                                        int64_t batch_hi, struct ibp_certify_sample *out,
                                        char note[IBP_CERTIFY_NOTE_LEN], struct ibp_error *err)
{
    note[0] = '\0';
    enum ibp_status st = check_fit(net, "network", ds, "dataset", cfg, err);
    if (st != IBP_OK)
        return st;
    int64_t n = ds->n, n_all = (n + cfg->batch - 1) / cfg->batch;
    if (n_all < 1)
        return ibp_fail(err, IBP_ERR_ARG, "dataset: %lld samples", (long long)n);
    if (batch_lo < 0 || batch_hi > n_all || batch_lo >= batch_hi)
        return ibp_fail(err, IBP_ERR_ARG, "verify: batches [%lld, %lld) of %lld",
                        (long long)batch_lo, (long long)batch_hi, (long long)n_all);
    int64_t s_lo = batch_lo * cfg->batch, s_hi = batch_hi * cfg->batch < n ? batch_hi * cfg->batch : n;
    int T, inner;
    worker_count(cfg, s_hi - s_lo, &T, &inner);
    struct worker *workers = calloc((size_t)T, sizeof *workers);
    if (!workers)
        return ibp_fail(err, IBP_ERR_NOMEM, "verify: out of memory");
    for (int t = 0; t < T && st == IBP_OK; t++)
        st = worker_init(&workers[t], net, cfg, inner, err);

    /* The first failing batch (lowest index) decides the error, whatever the threads. */
    int64_t failed_batch = batch_hi;
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
            for (int64_t bi = batch_lo; bi < batch_hi; bi++) {
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
                        hooks->progress(hooks->ctx, done, s_hi - s_lo);
                }
            }
        }
        if (failed_batch < batch_hi) {
            st = first_err.status;
            if (err)
                *err = first_err;
        }
    }
    for (int t = 0; t < T; t++) {
        if (!note[0])
            memcpy(note, workers[t].note, IBP_CERTIFY_NOTE_LEN);
        worker_free(&workers[t]);
    }
    free(workers);
    return st;
}

void ibp_certify_summarize(const struct ibp_certify_config *cfg,
                           const struct ibp_certify_sample *out, int64_t n, const char *note,
                           double seconds, struct ibp_certify_summary *summary)
{
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
        int cert = s->verdict == IBP_VERDICT_CERTIFIED;
        if (cert && s->by == IBP_BY_BOUND)
            summary->by_bound[s->by_method]++;
        summary->by_alpha_crown += cert && s->by == IBP_BY_ALPHA_CROWN;
        summary->by_bab += cert && s->by == IBP_BY_BAB;
        summary->bab_attacked += !cert && s->by == IBP_BY_BAB;
    }
    snprintf(summary->note, sizeof summary->note, "%s", note);
    summary->seconds = seconds;
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
    int64_t n_batches = (ds->n + cfg->batch - 1) / cfg->batch;
    char note[IBP_CERTIFY_NOTE_LEN];
    st = ibp_certify_run_batches(net, ds, cfg, hooks, 0, n_batches, out, note, err);
    if (st == IBP_OK && summary)
        ibp_certify_summarize(cfg, out, ds->n, note, omp_get_wtime() - t0, summary);
    return st;
}
