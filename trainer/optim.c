#include "trainer/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ibp_optim_config ibp_optim_adam_defaults(void)
{
    return (struct ibp_optim_config){.kind = IBP_OPTIM_ADAM, .beta1 = 0.9, .beta2 = 0.999,
                                     .eps = 1e-8};
}

static int has_m(const struct ibp_optim_config *cfg)
{
    return cfg->kind == IBP_OPTIM_ADAM || cfg->momentum != 0.0;
}

enum ibp_status ibp_optim_create(const struct ibp_optim_config *cfg, size_t n,
                                 struct ibp_optim **out, struct ibp_error *err)
{
    *out = NULL;
    if (cfg->kind == IBP_OPTIM_ADAM) {
        if (!(cfg->beta1 >= 0.0 && cfg->beta1 < 1.0) || !(cfg->beta2 >= 0.0 && cfg->beta2 < 1.0))
            return ibp_fail(err, IBP_ERR_ARG, "adam: betas %g, %g must be in [0, 1)", cfg->beta1,
                            cfg->beta2);
        if (!(cfg->eps > 0.0) || !isfinite(cfg->eps))
            return ibp_fail(err, IBP_ERR_ARG, "adam: eps %g must be positive", cfg->eps);
    } else if (cfg->kind == IBP_OPTIM_SGD) {
        if (!(cfg->momentum >= 0.0 && cfg->momentum < 1.0))
            return ibp_fail(err, IBP_ERR_ARG, "sgd: momentum %g must be in [0, 1)",
                            cfg->momentum);
        if (cfg->nesterov && cfg->momentum == 0.0)
            return ibp_fail(err, IBP_ERR_ARG, "sgd: nesterov needs a momentum > 0");
    } else {
        return ibp_fail(err, IBP_ERR_ARG, "unknown optimiser kind %d", (int)cfg->kind);
    }
    if (!(cfg->weight_decay >= 0.0) || !isfinite(cfg->weight_decay))
        return ibp_fail(err, IBP_ERR_ARG, "weight decay %g must be >= 0", cfg->weight_decay);
    struct ibp_optim *o = calloc(1, sizeof *o);
    if (!o)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the optimiser");
    o->cfg = *cfg;
    o->n = n;
    size_t bytes = (n ? n : 1) * sizeof(float);
    if (has_m(cfg))
        o->m = calloc(1, bytes);
    if (cfg->kind == IBP_OPTIM_ADAM)
        o->v = calloc(1, bytes);
    if ((has_m(cfg) && !o->m) || (cfg->kind == IBP_OPTIM_ADAM && !o->v)) {
        ibp_optim_free(o);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the optimiser state (%zu values)",
                        n);
    }
    *out = o;
    return IBP_OK;
}

void ibp_optim_free(struct ibp_optim *opt)
{
    if (!opt)
        return;
    free(opt->m);
    free(opt->v);
    free(opt);
}

/* Fewest entries for which the updates run on several threads. */
#define PARALLEL_MIN 65536

static void adam_step(struct ibp_optim *o, float *p, const float *grad, double lr, int threads)
{
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2, wd = o->cfg.weight_decay;
    o->step++;
    double bc1 = 1.0 - pow(b1, (double)o->step);
    double bc2_sqrt = sqrt(1.0 - pow(b2, (double)o->step));
    double step_size = lr / bc1;
    long n = (long)o->n;
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= PARALLEL_MIN)
    for (long i = 0; i < n; i++) {
        double g = grad[i];
        if (wd != 0.0)
            g += wd * p[i];
        double m = o->m[i] + (1.0 - b1) * (g - o->m[i]);
        double v = b2 * o->v[i] + (1.0 - b2) * g * g;
        o->m[i] = (float)m;
        o->v[i] = (float)v;
        /* torch: denom from the stored (float) moments */
        double denom = sqrt((double)o->v[i]) / bc2_sqrt + o->cfg.eps;
        p[i] = (float)(p[i] - step_size * (double)o->m[i] / denom);
    }
}

static void sgd_step(struct ibp_optim *o, float *p, const float *grad, double lr, int threads)
{
    const double mom = o->cfg.momentum, wd = o->cfg.weight_decay;
    int first = o->step == 0;
    o->step++;
    long n = (long)o->n;
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= PARALLEL_MIN)
    for (long i = 0; i < n; i++) {
        double g = grad[i];
        if (wd != 0.0)
            g += wd * p[i];
        double d = g;
        if (mom != 0.0) {
            double buf = first ? g : mom * o->m[i] + g;
            o->m[i] = (float)buf;
            d = o->cfg.nesterov ? g + mom * (double)o->m[i] : (double)o->m[i];
        }
        p[i] = (float)(p[i] - lr * d);
    }
}

void ibp_optim_step(struct ibp_optim *opt, float *params, const float *grad, double lr,
                    int threads)
{
    threads = threads > 0 ? threads : 1;
    if (opt->cfg.kind == IBP_OPTIM_ADAM)
        adam_step(opt, params, grad, lr, threads);
    else
        sgd_step(opt, params, grad, lr, threads);
}

double ibp_grad_clip(float *grad, size_t n, double max_norm, int threads)
{
    threads = threads > 0 ? threads : 1;
    double part[IBP_CLIP_PARTS];
    size_t len = (n + IBP_CLIP_PARTS - 1) / IBP_CLIP_PARTS;
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= PARALLEL_MIN)
    for (int q = 0; q < IBP_CLIP_PARTS; q++) {
        size_t s0 = (size_t)q * len < n ? (size_t)q * len : n;
        size_t e = s0 + len < n ? s0 + len : n;
        double sq = 0.0;
        for (size_t i = s0; i < e; i++)
            sq += (double)grad[i] * grad[i];
        part[q] = sq;
    }
    double sq = 0.0;
    for (int q = 0; q < IBP_CLIP_PARTS; q++)
        sq += part[q];
    double norm = sqrt(sq);
    if (!isfinite(norm) || !(max_norm > 0.0))
        return norm;
    double scale = max_norm / (norm + 1e-6);
    long nl = (long)n;
    if (scale < 1.0) {
#pragma omp parallel for num_threads(threads) schedule(static) if (nl >= PARALLEL_MIN)
        for (long i = 0; i < nl; i++)
            grad[i] = (float)(grad[i] * scale);
    }
    return norm;
}

#define STATE_TAG 0x4f505431u /* "1TPO": optimiser state, version 1 */

void ibp_optim_state_save(const struct ibp_optim *opt, struct ibp_wbuf *w)
{
    ibp_wbuf_u32(w, STATE_TAG);
    ibp_wbuf_u32(w, (uint32_t)opt->cfg.kind);
    ibp_wbuf_u32(w, opt->m ? 1u : 0u);
    ibp_wbuf_u64(w, opt->n);
    ibp_wbuf_i64(w, opt->step);
    if (opt->m)
        ibp_wbuf_f32s(w, opt->m, opt->n);
    if (opt->v)
        ibp_wbuf_f32s(w, opt->v, opt->n);
}

static int all_finite(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return 0;
    return 1;
}

enum ibp_status ibp_optim_state_load(struct ibp_optim *opt, struct ibp_rbuf *r,
                                     struct ibp_error *err)
{
    uint32_t tag = ibp_rbuf_u32(r), kind = ibp_rbuf_u32(r), with_m = ibp_rbuf_u32(r);
    uint64_t n = ibp_rbuf_u64(r);
    int64_t step = ibp_rbuf_i64(r);
    if (r->failed)
        return ibp_fail(err, IBP_ERR_FORMAT, "optimiser state: truncated");
    if (tag != STATE_TAG)
        return ibp_fail(err, IBP_ERR_FORMAT, "optimiser state: bad tag (not an optimiser state)");
    if (kind != (uint32_t)opt->cfg.kind || with_m != (opt->m ? 1u : 0u))
        return ibp_fail(err, IBP_ERR_FORMAT,
                        "optimiser state: saved for another optimiser (%s%s), run uses %s%s",
                        kind == IBP_OPTIM_ADAM ? "adam" : "sgd",
                        kind != IBP_OPTIM_ADAM && with_m ? " with momentum" : "",
                        opt->cfg.kind == IBP_OPTIM_ADAM ? "adam" : "sgd",
                        opt->cfg.kind != IBP_OPTIM_ADAM && opt->m ? " with momentum" : "");
    if (n != opt->n)
        return ibp_fail(err, IBP_ERR_FORMAT,
                        "optimiser state: saved for %llu parameters, model has %zu",
                        (unsigned long long)n, opt->n);
    if (step < 0)
        return ibp_fail(err, IBP_ERR_FORMAT, "optimiser state: negative step count %lld",
                        (long long)step);
    size_t arrays = (opt->m ? 1 : 0) + (opt->v ? 1 : 0);
    if (ibp_rbuf_left(r) / 4 / (arrays ? arrays : 1) < opt->n)
        return ibp_fail(err, IBP_ERR_FORMAT, "optimiser state: truncated moments");
    size_t at = r->pos;
    const float *ms[2] = {opt->m, opt->v};
    /* decode into a scratch copy first so that opt is untouched on a bad value */
    for (int a = 0; a < 2; a++) {
        if (!ms[a])
            continue;
        float *tmp = malloc((opt->n ? opt->n : 1) * sizeof *tmp);
        if (!tmp)
            return ibp_fail(err, IBP_ERR_NOMEM, "optimiser state: out of memory");
        ibp_rbuf_f32s(r, tmp, opt->n);
        int ok = all_finite(tmp, opt->n);
        free(tmp);
        if (!ok) {
            r->pos = at;
            return ibp_fail(err, IBP_ERR_FORMAT, "optimiser state: non-finite %s moment",
                            a == 0 ? "first" : "second");
        }
    }
    r->pos = at;
    if (opt->m)
        ibp_rbuf_f32s(r, opt->m, opt->n);
    if (opt->v)
        ibp_rbuf_f32s(r, opt->v, opt->n);
    opt->step = step;
    return IBP_OK;
}
