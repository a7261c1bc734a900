/* The training steps of mtl-ibp and sabr (SPEC §4.9) on the fixture networks (every layer
 * kind, BN in train mode): the training PGD's points lie in the box and are no better
 * for the label than the clean image; SABR's small box lies in the box; each method's
 * loss equals the double-precision reference's, and its parameter gradient (mtl-ibp:
 * through the clean logits at the PGD point and the IBP bounds at once) matches central
 * finite differences of that reference; so does crown-ibp's kappa mix of clean and robust
 * loss on the f-mixed CROWN-IBP / IBP bound, on the nets CROWN-IBP supports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/crown_ibp.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"
#include "tests/common/ref_net.h"
#include "trainer/loss.h"
#include "trainer/pgd.h"
#include "trainer/sabr_box.h"

enum { BATCH = 4 };
static const double ALPHA = 0.3, LAMBDA = 0.4, EPS = 0.05, F_CROWN = 0.6;

/* log(1 + sum_j exp(-lb_j)) and logsumexp(z) - z_y in double, averaged over the batch */
static double ref_robust_ce(const double *lb, int rows)
{
    double t = 0;
    for (int b = 0; b < BATCH; b++) {
        double m = 0;
        for (int j = 0; j < rows; j++)
            m = fmax(m, -lb[b * rows + j]);
        double s = exp(-m);
        for (int j = 0; j < rows; j++)
            s += exp(-lb[b * rows + j] - m);
        t += m + log(s);
    }
    return t / BATCH;
}

static double ref_ce(const double *z, const int *y, int K)
{
    double t = 0;
    for (int b = 0; b < BATCH; b++) {
        double m = z[b * K];
        for (int j = 1; j < K; j++)
            m = fmax(m, z[b * K + j]);
        double s = 0;
        for (int j = 0; j < K; j++)
            s += exp(z[b * K + j] - m);
        t += m + log(s) - z[b * K + y[b]];
    }
    return t / BATCH;
}

struct problem {
    const struct ibp_net *net;
    int mtl;                /* 1: mtl-ibp, 0: sabr, 2: crown-ibp with the kappa mix */
    const double *x, *lo, *hi; /* the clean input of the pass and its box */
    const int *labels;
};

static double loss_ref(const struct problem *pr, const double *params)
{
    struct ref_out o;
    ref_run(pr->net, params, pr->x, pr->lo, pr->hi, BATCH, 1, pr->labels, 1, &o);
    int K = ibp_net_outputs(pr->net);
    if (pr->mtl == 2) {
        /* kappa = f: f CE_clean + (1 - f) CE_robust(f CROWN-IBP + (1 - f) IBP) */
        double crown[BATCH * 16];
        ref_crown_ibp(pr->net, params, pr->x, pr->lo, pr->hi, BATCH, 1, pr->labels, crown);
        for (int i = 0; i < BATCH * (K - 1); i++)
            crown[i] = F_CROWN * crown[i] + (1 - F_CROWN) * o.lb[i];
        double L = F_CROWN * ref_ce(o.logits, pr->labels, K) +
                   (1 - F_CROWN) * ref_robust_ce(crown, K - 1);
        ref_out_free(&o);
        return L;
    }
    double L = ref_robust_ce(o.lb, K - 1);
    if (pr->mtl)
        L = ALPHA * L + (1 - ALPHA) * ref_ce(o.logits, pr->labels, K);
    ref_out_free(&o);
    return L;
}

static double min_margin(const float *z, int K, int y)
{
    double m = INFINITY;
    for (int j = 0; j < K; j++)
        if (j != y)
            m = fmin(m, (double)z[y] - z[j]);
    return m;
}

static void check_pgd(struct ibp_net *net, const char *name, const struct fixture_data *d,
                      const float *x_adv)
{
    int K = ibp_net_outputs(net);
    int outside = 0, better = 0;
    for (size_t i = 0; i < d->n; i++)
        outside += !(x_adv[i] >= d->lo[i] && x_adv[i] <= d->hi[i]);
    struct ibp_workspace *ws;
    struct ibp_error err;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN, &ws, &err), err);
    ibp_ws_set_threads(ws, 1);
    float z0[BATCH * 16], z1[BATCH * 16];
    CHECK_OK(ibp_pass_clean(net, ws, d->x, BATCH, IBP_BN_EVAL, z0, &err), err);
    CHECK_OK(ibp_pass_clean(net, ws, x_adv, BATCH, IBP_BN_EVAL, z1, &err), err);
    for (int b = 0; b < BATCH; b++)
        better += min_margin(z1 + b * K, K, d->labels[b]) >
                  min_margin(z0 + b * K, K, d->labels[b]) + 1e-6;
    ibp_ws_free(ws);
    CHECK_MSG(outside == 0, "%s: %d PGD coordinates outside the box", name, outside);
    CHECK_MSG(better == 0, "%s: %d PGD points with a larger margin than the image", name,
              better);
}

static void check_grads(const char *what, const float *ana, const double *fd, size_t n)
{
    double scale = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(fd[i]));
    for (size_t i = 0; i < n; i++)
        if (fabs(ana[i] - fd[i]) > worst) {
            worst = fabs(ana[i] - fd[i]);
            at = i;
        }
    CHECK_MSG(scale > 0 && worst <= 2e-3 * scale,
              "%s: worst error %.3g at %zu (%g vs %g), scale %.3g", what, worst, at,
              (double)ana[at], fd[at], scale);
}

static int kappa_cases;

/* train.c's crown-ibp step with kappa_mix at f = F_CROWN, on the image's box. */
static void kappa_case(struct ibp_net *net, const char *name, struct ibp_workspace *ws,
                       const struct fixture_data *d, double *p, double *fd, float *grad)
{
    struct ibp_crown_ibp *c;
    struct ibp_error err;
    if (ibp_crown_ibp_create(net, BATCH, &c, &err) != IBP_OK)
        return; /* a layer CROWN-IBP does not take (pooling) */
    kappa_cases++;
    int K = ibp_net_outputs(net), R = K - 1;
    struct ibp_spec spec = {.labels = d->labels};
    float logits[BATCH * 16], lb[BATCH * 16], lbc[BATCH * 16], g_logits[BATCH * 16],
          g_lb[BATCH * 16], g_c[BATCH * 16];
    float *grad_c = malloc(net->n_params * sizeof(float));
    CHECK_OK(ibp_pass_train(net, ws, d->x, d->lo, d->hi, BATCH, &spec, logits, lb, &err), err);
    CHECK_OK(ibp_crown_ibp_bounds(c, net, ws, lbc, &err), err);
    for (int i = 0; i < BATCH * R; i++)
        lbc[i] = (float)(F_CROWN * lbc[i] + (1 - F_CROWN) * lb[i]);
    double L = ibp_mtl_ibp_loss(lbc, logits, d->labels, BATCH, K, 1 - F_CROWN, g_lb, g_logits,
                                NULL, NULL);
    for (int i = 0; i < BATCH * R; i++) {
        g_c[i] = (float)(F_CROWN * g_lb[i]);
        g_lb[i] = (float)((1 - F_CROWN) * g_lb[i]);
    }
    CHECK_OK(ibp_crown_ibp_backward(c, net, ws, g_c, grad_c, &err), err);
    CHECK_OK(ibp_pass_backward(net, ws, g_logits, g_lb, grad, &err), err);
    for (size_t i = 0; i < net->n_params; i++)
        grad[i] += grad_c[i];
    struct problem pr = {net, 2, d->xd, d->lod, d->hid, d->labels};
    double want = loss_ref(&pr, p);
    CHECK_MSG(fabs(L - want) <= 1e-4 * (1 + fabs(want)), "%s kappa mix: loss %.9g, reference %.9g",
              name, L, want);
    for (size_t i = 0; i < net->n_params; i++) {
        double h = 1e-5 * (1.0 + fabs(p[i])), keep = p[i];
        p[i] = keep + h;
        double up = loss_ref(&pr, p);
        p[i] = keep - h;
        double dn = loss_ref(&pr, p);
        p[i] = keep;
        fd[i] = (up - dn) / (2 * h);
    }
    char what[128];
    snprintf(what, sizeof what, "%s, crown-ibp kappa mix gradient", name);
    check_grads(what, grad, fd, net->n_params);
    free(grad_c);
    ibp_crown_ibp_free(c);
}

static void run_case(struct ibp_net *net, const char *name, struct ibp_rng *rng)
{
    int K = ibp_net_outputs(net);
    struct fixture_data d;
    fixture_data_make(net, BATCH, EPS, 1, rng, &d);
    struct ibp_error err;
    float *x_adv = malloc(d.n * sizeof(float)), *ls = malloc(d.n * sizeof(float)),
          *hs = malloc(d.n * sizeof(float));
    double *xad = malloc(d.n * sizeof(double)), *lsd = malloc(d.n * sizeof(double)),
           *hsd = malloc(d.n * sizeof(double));

    /* one saturating step, then 8 steps of 0.25 half-widths (the two settings of §4.9) */
    struct ibp_train_pgd *pgd;
    CHECK_OK(ibp_train_pgd_create(net, BATCH, 1, 2.0, 1, &pgd, &err), err);
    CHECK_OK(ibp_train_pgd_run(pgd, net, d.x, d.lo, d.hi, d.labels, BATCH, x_adv, &err), err);
    check_pgd(net, name, &d, x_adv);
    int corner = 0;
    for (size_t i = 0; i < d.n; i++)
        corner += x_adv[i] == d.lo[i] || x_adv[i] == d.hi[i] || x_adv[i] == d.x[i];
    CHECK_MSG(corner == (int)d.n, "%s: %zu coordinates of the one-step point off the corners",
              name, d.n - (size_t)corner);
    ibp_train_pgd_free(pgd);
    CHECK_OK(ibp_train_pgd_create(net, BATCH, 8, 0.25, 1, &pgd, &err), err);
    CHECK_OK(ibp_train_pgd_run(pgd, net, d.x, d.lo, d.hi, d.labels, BATCH, x_adv, &err), err);
    check_pgd(net, name, &d, x_adv);
    ibp_train_pgd_free(pgd);

    CHECK_OK(ibp_sabr_box(x_adv, d.lo, d.hi, d.n, LAMBDA, ls, hs, &err), err);
    for (size_t i = 0; i < d.n; i++) {
        CHECK(ls[i] >= d.lo[i] && hs[i] <= d.hi[i]);
        xad[i] = x_adv[i];
        lsd[i] = ls[i];
        hsd[i] = hs[i];
    }

    struct ibp_workspace *ws;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err),
             err);
    ibp_ws_set_threads(ws, 1);
    struct ibp_spec spec = {.labels = d.labels};
    float logits[BATCH * 16], lb[BATCH * 16], g_logits[BATCH * 16], g_lb[BATCH * 16];
    float *grad = malloc(net->n_params * sizeof(float));
    double *p = malloc(net->n_params * sizeof(double)), *fd = malloc(net->n_params * sizeof(double));
    for (size_t i = 0; i < net->n_params; i++)
        p[i] = net->params[i];
    for (int mtl = 1; mtl >= 0; mtl--) {
        /* the passes of train.c's step: mtl-ibp's clean input is the PGD point with IBP on
         * the whole box, sabr's the image with IBP on the small box */
        struct problem pr = {net, mtl, mtl ? xad : d.xd, mtl ? d.lod : lsd, mtl ? d.hid : hsd,
                             d.labels};
        CHECK_OK(ibp_pass_train(net, ws, mtl ? x_adv : d.x, mtl ? d.lo : ls, mtl ? d.hi : hs,
                                BATCH, &spec, logits, lb, &err),
                 err);
        double L = mtl ? ibp_mtl_ibp_loss(lb, logits, d.labels, BATCH, K, ALPHA, g_lb, g_logits,
                                          NULL, NULL)
                       : ibp_robust_ce(lb, BATCH, K - 1, g_lb);
        double want = loss_ref(&pr, p);
        CHECK_MSG(fabs(L - want) <= 1e-4 * (1 + fabs(want)), "%s %s: loss %.9g, reference %.9g",
                  name, mtl ? "mtl-ibp" : "sabr", L, want);
        CHECK_OK(ibp_pass_backward(net, ws, mtl ? g_logits : NULL, g_lb, grad, &err), err);
        for (size_t i = 0; i < net->n_params; i++) {
            double h = 1e-5 * (1.0 + fabs(p[i])), keep = p[i];
            p[i] = keep + h;
            double up = loss_ref(&pr, p);
            p[i] = keep - h;
            double dn = loss_ref(&pr, p);
            p[i] = keep;
            fd[i] = (up - dn) / (2 * h);
        }
        char what[128];
        snprintf(what, sizeof what, "%s, %s gradient", name, mtl ? "mtl-ibp" : "sabr");
        check_grads(what, grad, fd, net->n_params);
    }
    kappa_case(net, name, ws, &d, p, fd, grad);
    ibp_ws_free(ws);
    free(grad);
    free(p);
    free(fd);
    free(x_adv);
    free(ls);
    free(hs);
    free(xad);
    free(lsd);
    free(hsd);
    fixture_data_free(&d);
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 4, 9);
    for (int i = 0; i < FIXTURE_COUNT; i++) {
        struct ibp_net *net = fixture_net(i, &rng);
        run_case(net, fixture_name(i), &rng);
        ibp_net_free(net);
    }
    CHECK_MSG(kappa_cases >= 1, "no fixture net took the kappa case");
    return check_report();
}
