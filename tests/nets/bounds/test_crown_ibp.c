/* CROWN-IBP for training (nets/bounds/crown_ibp.h): the bounds against the double-precision
 * reference, soundness under sampling, the full gradient (the pass's own part plus what
 * ibp_pass_backward adds through the IBP bounds and BN statistics) against central finite
 * differences of the reference in train and eval BN mode, independence of the thread
 * count, the same gradient whether the coefficients were kept or recomputed, and the
 * refusals (unsupported layer, wrong order of calls). */
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/crown_ibp.h"
#include "tests/common/check.h"
#include "tests/common/ref_net.h"
#include "tests/common/fixture.h"

enum { BATCH = 5, NETS = 3 };

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

static const char *const names[NETS] = {"conv-bn (strided, grouped, dilated)",
                                        "residual (1x1 shortcut)", "mlp-bn"};

static struct ibp_net *make_net(int i, struct ibp_rng *rng)
{
    struct ibp_layer_spec s[20];
    int n = 0;
    struct ibp_shape in;
    if (i == 0) {
        in = (struct ibp_shape){2, 7, 6};
        s[n++] = L(.kind = IBP_LAYER_NORMALIZE);
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                   .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 6, .kh = 2, .kw = 3, .ph = 1, .pw = 1,
                   .dh = 1, .dw = 2, .groups = 2);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_FLATTEN);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 7);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 5);
    } else if (i == 1) {
        in = (struct ibp_shape){3, 5, 5};
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU); /* value 3 */
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 5, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_CONV2D, .out = 5, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM); /* value 8 */
        s[n] = L(.kind = IBP_LAYER_CONV2D, .out = 5, .kh = 1, .kw = 1);
        s[n].in[0] = 3;
        n++;                                     /* value 9: shortcut */
        s[n] = L(.kind = IBP_LAYER_ADD);
        s[n].in[0] = 8;
        s[n].in[1] = 9;
        n++;
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_FLATTEN);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 4);
    } else {
        in = (struct ibp_shape){12, 1, 1};
        s[n++] = L(.kind = IBP_LAYER_NORMALIZE);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 10);
        s[n++] = L(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 9);
        s[n++] = L(.kind = IBP_LAYER_RELU);
        s[n++] = L(.kind = IBP_LAYER_LINEAR, .out = 4);
    }
    return fixture_build(in, s, n, rng);
}

/* the passes that precede CROWN-IBP in a training step (train) or in evaluation */
static void bounds_pass(const struct ibp_net *net, struct ibp_workspace *ws, const struct fixture_data *d,
                        int train, float *ibp_lb)
{
    struct ibp_error err;
    struct ibp_spec spec = {.labels = d->labels};
    if (train) {
        CHECK_OK(ibp_pass_train(net, ws, d->x, d->lo, d->hi, BATCH, &spec, NULL, ibp_lb, &err),
                 err);
    } else {
        CHECK_OK(ibp_pass_clean(net, ws, d->x, BATCH, IBP_BN_EVAL, NULL, &err), err);
        CHECK_OK(ibp_pass_bounds(net, ws, d->lo, d->hi, BATCH, &spec, IBP_BN_EVAL, ibp_lb, NULL,
                                 &err),
                 err);
    }
}

/* lb and the full gradient of sum a_lb * lb with `threads` threads */
static void crown_grad(const struct ibp_net *net, const struct fixture_data *d, int train, int threads,
                       const float *a_lb, float *lb, float *grad)
{
    struct ibp_error err;
    struct ibp_workspace *ws;
    struct ibp_crown_ibp *c;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err), err);
    CHECK_OK(ibp_crown_ibp_create(net, BATCH, &c, &err), err);
    ibp_ws_set_threads(ws, threads);
    bounds_pass(net, ws, d, train, NULL);
    CHECK_OK(ibp_crown_ibp_bounds(c, net, ws, lb, &err), err);
    float *g2 = malloc(net->n_params * sizeof(float));
    CHECK_OK(ibp_crown_ibp_backward(c, net, ws, a_lb, grad, &err), err);
    CHECK_OK(ibp_pass_backward(net, ws, NULL, NULL, g2, &err), err);
    for (size_t i = 0; i < net->n_params; i++)
        grad[i] += g2[i];
    /* the order of calls is enforced */
    CHECK(ibp_crown_ibp_backward(c, net, ws, a_lb, g2, &err) != IBP_OK);
    /* without a bounds call the backward recomputes the coefficients: same gradient */
    float *g3 = malloc(net->n_params * sizeof(float));
    bounds_pass(net, ws, d, train, NULL);
    CHECK_OK(ibp_crown_ibp_backward(c, net, ws, a_lb, g3, &err), err);
    CHECK_OK(ibp_pass_backward(net, ws, NULL, NULL, g2, &err), err);
    int same = 1;
    for (size_t i = 0; i < net->n_params; i++)
        same &= g3[i] + g2[i] == grad[i];
    CHECK_MSG(same, "recomputed coefficients give another gradient");
    free(g3);
    free(g2);
    ibp_crown_ibp_free(c);
    ibp_ws_free(ws);
}

static void run_case(int f, int train, struct ibp_rng *rng)
{
    struct ibp_net *net = make_net(f, rng);
    int K = ibp_net_outputs(net), R = K - 1;
    struct fixture_data d;
    fixture_data_make(net, BATCH, 0.04, 0, rng, &d);
    char what[160];
    snprintf(what, sizeof what, "%s, %s BN", names[f], train ? "train" : "eval");

    float a_lb[BATCH * 8], lb[BATCH * 8], lb2[BATCH * 8], ibp_lb[BATCH * 8];
    for (int i = 0; i < BATCH * R; i++)
        a_lb[i] = (float)fixture_uniform(rng, -1, 1);
    float *grad = malloc(net->n_params * sizeof(float));
    float *grad2 = malloc(net->n_params * sizeof(float));
    crown_grad(net, &d, train, 1, a_lb, lb, grad);
    crown_grad(net, &d, train, 3, a_lb, lb2, grad2);
    CHECK_MSG(memcmp(lb, lb2, sizeof(float) * BATCH * R) == 0 &&
                  memcmp(grad, grad2, net->n_params * sizeof(float)) == 0,
              "%s: results differ between 1 and 3 threads", what);

    /* bounds against the reference */
    double ref[BATCH * 8];
    CHECK(ref_crown_ibp(net, NULL, d.xd, d.lod, d.hid, BATCH, train, d.labels, ref) == 0);
    double worst = 0, scale = 1;
    int unstable_rows = 0;
    for (int i = 0; i < BATCH * R; i++) {
        worst = fmax(worst, fabs(lb[i] - ref[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    CHECK_MSG(worst <= 1e-4 * scale, "%s: bounds differ from the reference by %g (scale %g)",
              what, worst, scale);

    /* CROWN-IBP and IBP differ (the relaxation is doing something) */
    struct ibp_workspace *ws;
    struct ibp_error err;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err), err);
    bounds_pass(net, ws, &d, train, ibp_lb);
    for (int i = 0; i < BATCH * R; i++)
        unstable_rows += fabsf(ibp_lb[i] - lb[i]) > 1e-3f;
    CHECK_MSG(unstable_rows > 0, "%s: CROWN-IBP equals IBP on every margin", what);

    /* soundness (eval mode: BN is a fixed map): no sampled point beats the bound */
    if (!train) {
        enum { PTS = 400 };
        struct ibp_workspace *wc;
        CHECK_OK(ibp_ws_create(net, PTS, IBP_WS_CLEAN, &wc, &err), err);
        size_t per = ibp_shape_size(net->input);
        float *xs = malloc(PTS * per * sizeof(float)), *z = malloc(PTS * (size_t)K * sizeof(float));
        int bad = 0;
        for (int b = 0; b < BATCH; b++) {
            for (int p = 0; p < PTS; p++)
                for (size_t i = 0; i < per; i++) {
                    size_t e = (size_t)b * per + i;
                    double t = p < 2 ? p : ibp_rng_uniform(rng); /* two corners */
                    xs[(size_t)p * per + i] = (float)(d.lo[e] + t * (d.hi[e] - d.lo[e]));
                }
            CHECK_OK(ibp_pass_clean(net, wc, xs, PTS, IBP_BN_EVAL, z, &err), err);
            for (int p = 0; p < PTS; p++)
                for (int m = 0; m < R; m++) {
                    int y = d.labels[b], j = m < y ? m : m + 1;
                    double margin = (double)z[(size_t)p * K + y] - z[(size_t)p * K + j];
                    bad += margin < (double)lb[b * R + m] - 1e-4;
                }
        }
        CHECK_MSG(bad == 0, "%s: %d sampled margins below the CROWN-IBP bound", what, bad);
        free(xs);
        free(z);
        ibp_ws_free(wc);
    }
    ibp_ws_free(ws);

    /* gradient against central differences of the reference */
    double *p = malloc(net->n_params * sizeof(double)), *fd = malloc(net->n_params * sizeof(double));
    double *up = malloc(sizeof(double) * BATCH * R), *dn = malloc(sizeof(double) * BATCH * R);
    for (size_t i = 0; i < net->n_params; i++)
        p[i] = net->params[i];
    for (size_t i = 0; i < net->n_params; i++) {
        double h = 1e-5 * (1.0 + fabs(p[i])), keep = p[i];
        p[i] = keep + h;
        ref_crown_ibp(net, p, d.xd, d.lod, d.hid, BATCH, train, d.labels, up);
        p[i] = keep - h;
        ref_crown_ibp(net, p, d.xd, d.lod, d.hid, BATCH, train, d.labels, dn);
        p[i] = keep;
        double s = 0;
        for (int j = 0; j < BATCH * R; j++)
            s += a_lb[j] * (up[j] - dn[j]);
        fd[i] = s / (2 * h);
    }
    double gscale = 0, gworst = 0;
    size_t at = 0;
    for (size_t i = 0; i < net->n_params; i++)
        gscale = fmax(gscale, fabs(fd[i]));
    for (size_t i = 0; i < net->n_params; i++)
        if (fabs(grad[i] - fd[i]) > gworst) {
            gworst = fabs(grad[i] - fd[i]);
            at = i;
        }
    CHECK_MSG(gscale > 0 && gworst <= 2e-3 * gscale,
              "%s: gradient error %.3g at %zu (%g vs %g), scale %.3g", what, gworst, at,
              (double)grad[at], fd[at], gscale);
    free(p);
    free(fd);
    free(up);
    free(dn);
    free(grad);
    free(grad2);
    fixture_data_free(&d);
    ibp_net_free(net);
}

static void refusals(struct ibp_rng *rng)
{
    struct ibp_net *net = fixture_net(0, rng); /* has a MAXPOOL */
    struct ibp_crown_ibp *c;
    struct ibp_error err;
    CHECK(ibp_crown_ibp_create(net, 4, &c, &err) == IBP_ERR_ARG);
    CHECK_MSG(strstr(err.msg, "maxpool") != NULL, "message: %s", err.msg);
    ibp_net_free(net);
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 11, 0);
    for (int f = 0; f < NETS; f++)
        for (int train = 0; train <= 1; train++)
            run_case(f, train, &rng);
    refusals(&rng);
    return check_report();
}
