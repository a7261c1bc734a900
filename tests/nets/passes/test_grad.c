/* Gradients of the three kinds of loss the trainer uses — on the clean logits, on the
 * margin lower bounds, and on the bounds of every ReLU's input — against central finite
 * differences of the double-precision reference, for every fixture network (all layer
 * kinds, a residual block), in train mode (BN batch statistics, not detached) and eval
 * mode; and the input gradient of the clean pass used by attacks. */
#include <stdlib.h>
#include <string.h>

#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/ref_net.h"
#include "tests/common/fixture.h"

enum { BATCH = 4, TERM_CLEAN = 0, TERM_MARGIN = 1, TERM_RELU = 2 };

struct problem {
    const struct ibp_net *net;
    double *x, *lo, *hi;
    int labels[BATCH];
    int train, term;
    double *a_logits, *a_lb;     /* loss weights */
    double **a_c, **a_r;         /* per ReLU, NCHW */
};

static double loss_ref(const struct problem *pr, const double *params, const double *x)
{
    struct ref_out o;
    ref_run(pr->net, params, x ? x : pr->x, pr->lo, pr->hi, BATCH, pr->train, pr->labels, 1, &o);
    int K = ibp_net_outputs(pr->net);
    double L = 0;
    if (pr->term == TERM_CLEAN)
        for (int i = 0; i < BATCH * K; i++)
            L += pr->a_logits[i] * o.logits[i];
    if (pr->term == TERM_MARGIN)
        for (int i = 0; i < BATCH * (K - 1); i++)
            L += pr->a_lb[i] * o.lb[i];
    if (pr->term == TERM_RELU)
        for (int j = 0; j < o.n_relu; j++)
            for (size_t i = 0; i < BATCH * o.relu_size[j]; i++)
                L += pr->a_c[j][i] * o.relu_c[j][i] + pr->a_r[j][i] * o.relu_r[j][i];
    ref_out_free(&o);
    return L;
}

static void check_grads(const char *what, const float *ana, const double *fd, size_t n)
{
    double scale = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        scale = fabs(fd[i]) > scale ? fabs(fd[i]) : scale;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(ana[i] - fd[i]);
        if (e > worst) {
            worst = e;
            at = i;
        }
    }
    CHECK_MSG(scale > 0 && worst <= 2e-3 * scale, "%s: worst error %.3g at %zu (%g vs %g), scale %.3g",
              what, worst, at, (double)ana[at], fd[at], scale);
}

static void run_case(struct ibp_net *net, const char *name, int train, int term,
                     struct ibp_rng *rng)
{
    static const char *const terms[] = {"clean logits", "margin lb", "relu bounds"};
    int K = ibp_net_outputs(net), R = ibp_net_count_kind(net, IBP_LAYER_RELU);
    size_t nin = BATCH * ibp_shape_size(net->input);
    struct problem pr = {.net = net, .train = train, .term = term};
    pr.x = malloc(nin * sizeof(double));
    pr.lo = malloc(nin * sizeof(double));
    pr.hi = malloc(nin * sizeof(double));
    float *xf = malloc(nin * sizeof(float)), *lof = malloc(nin * sizeof(float)),
          *hif = malloc(nin * sizeof(float));
    for (size_t i = 0; i < nin; i++) {
        xf[i] = (float)ibp_rng_uniform(rng);
        lof[i] = xf[i] - 0.03f;
        hif[i] = xf[i] + 0.03f;
        pr.x[i] = xf[i];
        pr.lo[i] = lof[i];
        pr.hi[i] = hif[i];
    }
    for (int b = 0; b < BATCH; b++)
        pr.labels[b] = (int)ibp_rng_below(rng, (uint64_t)K);
    pr.a_logits = malloc(sizeof(double) * BATCH * K);
    pr.a_lb = malloc(sizeof(double) * BATCH * K);
    for (int i = 0; i < BATCH * K; i++) {
        pr.a_logits[i] = fixture_uniform(rng, -1, 1);
        pr.a_lb[i] = fixture_uniform(rng, -1, 1);
    }
    struct ibp_error err;
    struct ibp_workspace *ws;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err), err);
    struct ibp_spec spec = {.labels = pr.labels};
    if (train)
        CHECK_OK(ibp_pass_train(net, ws, xf, lof, hif, BATCH, &spec, NULL, NULL, &err), err);
    else {
        CHECK_OK(ibp_pass_clean(net, ws, xf, BATCH, IBP_BN_EVAL, NULL, &err), err);
        CHECK_OK(ibp_pass_bounds(net, ws, lof, hif, BATCH, &spec, IBP_BN_EVAL, NULL, NULL, &err),
                 err);
    }
    struct ibp_relu_bounds rb[16];
    const float *r0;
    size_t r0n;
    CHECK_OK(ibp_ws_relu_bounds(ws, rb, R, &r0, &r0n, &err), err);
    pr.a_c = calloc((size_t)R, sizeof(double *));
    pr.a_r = calloc((size_t)R, sizeof(double *));
    for (int j = 0; j < R; j++) {
        struct ibp_shape s = net->shapes[net->layers[rb[j].layer].in[0]];
        pr.a_c[j] = malloc(sizeof(double) * BATCH * rb[j].size);
        pr.a_r[j] = malloc(sizeof(double) * BATCH * rb[j].size);
        for (size_t i = 0; i < BATCH * rb[j].size; i++) {
            pr.a_c[j][i] = fixture_uniform(rng, -1, 1);
            pr.a_r[j][i] = fixture_uniform(rng, -1, 1);
            if (term != TERM_RELU)
                continue;
            size_t in = (i / rb[j].size) * rb[j].size + ref_internal_index(s, i % rb[j].size);
            rb[j].gc[in] = (float)pr.a_c[j][i];
            rb[j].gr[in] = (float)pr.a_r[j][i];
        }
    }
    float gl[BATCH * 16], glb[BATCH * 16];
    for (int i = 0; i < BATCH * K; i++) {
        gl[i] = (float)pr.a_logits[i];
        glb[i] = (float)pr.a_lb[i];
    }
    float *grad = malloc(net->n_params * sizeof(float));
    CHECK_OK(ibp_pass_backward(net, ws, term == TERM_CLEAN ? gl : NULL,
                               term == TERM_MARGIN ? glb : NULL, grad, &err),
             err);
    double *p = malloc(net->n_params * sizeof(double)), *fd = malloc(net->n_params * sizeof(double));
    for (size_t i = 0; i < net->n_params; i++)
        p[i] = net->params[i];
    for (size_t i = 0; i < net->n_params; i++) {
        double h = 1e-5 * (1.0 + fabs(p[i])), keep = p[i];
        p[i] = keep + h;
        double up = loss_ref(&pr, p, NULL);
        p[i] = keep - h;
        double dn = loss_ref(&pr, p, NULL);
        p[i] = keep;
        fd[i] = (up - dn) / (2 * h);
    }
    char what[128];
    snprintf(what, sizeof what, "%s, %s BN, %s", name, train ? "train" : "eval", terms[term]);
    check_grads(what, grad, fd, net->n_params);
    if (term == TERM_CLEAN) {
        /* the same gradient after a clean pass alone (no ReLU slots: the backward stores
         * the gradients of BATCHNORM and fused RELU inputs without zeroing them first) */
        CHECK_OK(ibp_pass_clean(net, ws, xf, BATCH, train ? IBP_BN_TRAIN : IBP_BN_EVAL, NULL,
                                &err),
                 err);
        CHECK_OK(ibp_pass_backward(net, ws, gl, NULL, grad, &err), err);
        snprintf(what, sizeof what, "%s, %s BN, clean logits after a clean pass only", name,
                 train ? "train" : "eval");
        check_grads(what, grad, fd, net->n_params);
    }

    if (term == TERM_CLEAN && !train) {
        /* input gradient of the clean pass */
        float *gx = malloc(nin * sizeof(float));
        double *fdx = malloc(nin * sizeof(double)), *xx = malloc(nin * sizeof(double));
        CHECK_OK(ibp_pass_clean(net, ws, xf, BATCH, IBP_BN_EVAL, NULL, &err), err);
        CHECK_OK(ibp_pass_input_grad(net, ws, gl, gx, &err), err);
        memcpy(xx, pr.x, nin * sizeof(double));
        for (size_t i = 0; i < nin; i++) {
            double keep = xx[i], h = 1e-5;
            xx[i] = keep + h;
            double up = loss_ref(&pr, p, xx);
            xx[i] = keep - h;
            double dn = loss_ref(&pr, p, xx);
            xx[i] = keep;
            fdx[i] = (up - dn) / (2 * h);
        }
        snprintf(what, sizeof what, "%s input gradient", name);
        check_grads(what, gx, fdx, nin);
        free(gx);
        free(fdx);
        free(xx);
    }
    for (int j = 0; j < R; j++) {
        free(pr.a_c[j]);
        free(pr.a_r[j]);
    }
    free(pr.a_c);
    free(pr.a_r);
    free(pr.a_logits);
    free(pr.a_lb);
    free(pr.x);
    free(pr.lo);
    free(pr.hi);
    free(xf);
    free(lof);
    free(hif);
    free(grad);
    free(p);
    free(fd);
    ibp_ws_free(ws);
    ibp_net_free(net);
}

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

/* a net whose last layer is a RELU after a BATCHNORM: the one such RELU the backward does
 * not fuse */
static struct ibp_net *relu_tail_net(struct ibp_rng *rng)
{
    struct ibp_layer_spec s[] = {L(.kind = IBP_LAYER_LINEAR, .out = 6),
                                 L(.kind = IBP_LAYER_BATCHNORM), L(.kind = IBP_LAYER_RELU),
                                 L(.kind = IBP_LAYER_LINEAR, .out = 5),
                                 L(.kind = IBP_LAYER_BATCHNORM), L(.kind = IBP_LAYER_RELU)};
    return fixture_build((struct ibp_shape){7, 1, 1}, s, 6, rng);
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 7, 0);
    for (int f = 0; f <= FIXTURE_COUNT; f++)
        for (int train = 0; train <= 1; train++)
            for (int term = TERM_CLEAN; term <= TERM_RELU; term++) {
                struct ibp_net *net = f < FIXTURE_COUNT ? fixture_net(f, &rng)
                                                        : relu_tail_net(&rng);
                run_case(net, f < FIXTURE_COUNT ? fixture_name(f) : "relu-tail", train, term,
                         &rng);
            }
    return check_report();
}
