/* Winograd F(4x4, 3x3) convolutions (nets/kernels/conv_winograd.c):
 *   the module's forward (with bias), input gradient and weight gradient (both added to
 *   what is there) against a double-precision direct convolution on random NHWC data,
 *   padding 0 and 1, sizes not multiples of 4, batches over several chunks, 16/24/64
 *   channels; the error of each element relative to its sum of |products|, and
 *   bit-identical results for 1 and 3 threads;
 *   which layers qualify;
 *   a net with two qualifying layers: clean logits, IBP bounds (train and eval BN), the
 *   parameter gradient, and CROWN-IBP margin bounds and their gradient (the
 *   convolutions on whole sample arrays) the same with Winograd on and off (im2col +
 *   GEMM) up to float rounding, and bit-identical for 1 and 3 threads. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/kernels/conv_winograd.h"
#include "nets/bounds/crown_ibp.h"
#include "nets/passes/passes.h"
#include "nets/passes/workspace.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

/* relative error allowed against the sum of |products| of an element */
#define MODULE_TOL 1e-5

static double worst_forward, worst_input_grad, worst_weight_grad;

struct outputs {
    float *y, *gin, *dwp;
};

/* forward and backward of the module on copies of the starting gin and dwp */
static struct outputs run_module(const struct ibp_net *net, const float *x, const float *wp,
                                 const float *bias, const float *gy, const float *gin0,
                                 const float *dwp0, int ns, int threads)
{
    size_t nu = ibp_conv_winograd_weight_floats(net, 0), nsc = ibp_conv_winograd_scratch_floats(net, 0);
    struct ibp_shape in = net->shapes[0], out = net->shapes[1];
    size_t nin = (size_t)ns * ibp_shape_size(in), nout = (size_t)ns * ibp_shape_size(out);
    size_t nw = (size_t)out.c * 9 * in.c;
    float *u = malloc(ibp_conv_winograd_u_floats(net, 0) * sizeof(float));
    size_t slots = CONV_WINOGRAD_SLOTS;
    struct conv_winograd_scratch s = {malloc(slots * nsc * sizeof(float)),
                                      malloc(slots * nsc * sizeof(float)),
                                      malloc(slots * nu * sizeof(float))};
    struct outputs o = {malloc(nout * sizeof(float)), fixture_copy_floats(gin0, nin),
                        fixture_copy_floats(dwp0, nw)};
    ibp_conv_winograd_weights(net, 0, wp, u, threads);
    ibp_conv_winograd_forward(net, 0, x, o.y, ns, u, bias, &s, threads);
    ibp_conv_winograd_backward(net, 0, x, gy, o.gin, ns, u, o.dwp, &s, threads);
    free(u);
    free(s.v);
    free(s.m);
    free(s.du);
    return o;
}

static void outputs_free(struct outputs *o)
{
    free(o->y);
    free(o->gin);
    free(o->dwp);
}

static void check_module(int C, int Co, int H, int W, int pad, int ns)
{
    char name[80];
    snprintf(name, sizeof name, "%dx%dx%d -> %d, pad %d, batch %d", C, H, W, Co, pad, ns);
    struct ibp_layer_spec spec[] = {
        L(.kind = IBP_LAYER_CONV2D, .out = Co, .kh = 3, .kw = 3, .ph = pad, .pw = pad)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){C, H, W}, spec, 1, &net, &err), err);
    if (!net)
        return;
    int Ho = H + 2 * pad - 2, Wo = W + 2 * pad - 2;
    size_t nin = (size_t)ns * H * W * C, nout = (size_t)ns * Ho * Wo * Co, nw = (size_t)Co * 9 * C;
    unsigned seed = (unsigned)(C * 7919 + Co * 131 + H * 17 + W * 3 + pad);
    float *x = fixture_random_floats(nin, &seed), *wp = fixture_random_floats(nw, &seed);
    float *bias = fixture_random_floats((size_t)Co, &seed), *gy = fixture_random_floats(nout, &seed);
    float *gin0 = fixture_random_floats(nin, &seed), *dwp0 = fixture_random_floats(nw, &seed);
    struct outputs o = run_module(net, x, wp, bias, gy, gin0, dwp0, ns, 3);
    struct outputs o1 = run_module(net, x, wp, bias, gy, gin0, dwp0, ns, 1);
    CHECK_MSG(memcmp(o.y, o1.y, nout * sizeof(float)) == 0 &&
                  memcmp(o.gin, o1.gin, nin * sizeof(float)) == 0 &&
                  memcmp(o.dwp, o1.dwp, nw * sizeof(float)) == 0,
              "%s: 1 and 3 threads differ", name);
    /* the direct convolution in double: y, gin and dwp with their scales */
    double *gin = calloc(nin, sizeof(double)), *gin_s = calloc(nin, sizeof(double));
    double *dw = calloc(nw, sizeof(double)), *dw_s = calloc(nw, sizeof(double));
    double wf = 0.0, wi = 0.0, ww = 0.0;
    for (int n = 0; n < ns; n++)
        for (int oh = 0; oh < Ho; oh++)
            for (int ow = 0; ow < Wo; ow++)
                for (int oc = 0; oc < Co; oc++) {
                    size_t yi = (((size_t)n * Ho + oh) * Wo + ow) * Co + oc;
                    double acc = bias[oc], scale = fabs(bias[oc]), g = gy[yi];
                    for (int i = 0; i < 3; i++)
                        for (int j = 0; j < 3; j++) {
                            int ih = oh + i - pad, iw = ow + j - pad;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            size_t xo = (((size_t)n * H + ih) * W + iw) * C;
                            size_t wo = ((size_t)oc * 9 + (size_t)(i * 3 + j)) * C;
                            for (int c = 0; c < C; c++) {
                                double xv = x[xo + c], wv = wp[wo + c];
                                acc += xv * wv;
                                scale += fabs(xv * wv);
                                gin[xo + c] += g * wv;
                                gin_s[xo + c] += fabs(g * wv);
                                dw[wo + c] += g * xv;
                                dw_s[wo + c] += fabs(g * xv);
                            }
                        }
                    fixture_track_error(o.y[yi], acc, scale, &wf);
                }
    for (size_t i = 0; i < nin; i++)
        fixture_track_error(o.gin[i], gin0[i] + gin[i], fabs(gin0[i]) + gin_s[i], &wi);
    for (size_t i = 0; i < nw; i++)
        fixture_track_error(o.dwp[i], dwp0[i] + dw[i], fabs(dwp0[i]) + dw_s[i], &ww);
    printf("%s: max relative error forward %.3g, input grad %.3g, weight grad %.3g\n", name,
           wf, wi, ww);
    CHECK_MSG(wf <= MODULE_TOL, "%s: forward error %.3g", name, wf);
    CHECK_MSG(wi <= MODULE_TOL, "%s: input gradient error %.3g", name, wi);
    CHECK_MSG(ww <= MODULE_TOL, "%s: weight gradient error %.3g", name, ww);
    worst_forward = fmax(worst_forward, wf);
    worst_input_grad = fmax(worst_input_grad, wi);
    worst_weight_grad = fmax(worst_weight_grad, ww);
    outputs_free(&o);
    outputs_free(&o1);
    free(gin);
    free(gin_s);
    free(dw);
    free(dw_s);
    free(x);
    free(wp);
    free(bias);
    free(gy);
    free(gin0);
    free(dwp0);
    ibp_net_free(net);
}

/* which layers qualify */
static void check_applies(const char *name, struct ibp_shape in, struct ibp_layer_spec conv,
                          int want)
{
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create(in, &conv, 1, &net, &err), err);
    if (!net)
        return;
    CHECK_MSG(ibp_conv_winograd_eligible(net, 0) == want, "%s: Winograd %s", name,
              want ? "should apply" : "should not apply");
    ibp_net_free(net);
}

static void test_applies(void)
{
    struct ibp_shape c64 = {64, 28, 28};
    check_applies("cnn7 64x28x28 p1", c64,
                  L(.kind = IBP_LAYER_CONV2D, .out = 64, .kh = 3, .kw = 3, .ph = 1, .pw = 1), 1);
    check_applies("16 -> 24, 5x9 p0", (struct ibp_shape){16, 5, 9},
                  L(.kind = IBP_LAYER_CONV2D, .out = 24, .kh = 3, .kw = 3), 1);
    check_applies("stride 2", c64,
                  L(.kind = IBP_LAYER_CONV2D, .out = 64, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                    .ph = 1, .pw = 1), 0);
    check_applies("dilation 2", c64,
                  L(.kind = IBP_LAYER_CONV2D, .out = 64, .kh = 3, .kw = 3, .dh = 2, .dw = 2,
                    .ph = 1, .pw = 1), 0);
    check_applies("padding 2", c64,
                  L(.kind = IBP_LAYER_CONV2D, .out = 64, .kh = 3, .kw = 3, .ph = 2, .pw = 2), 0);
    check_applies("two groups", c64,
                  L(.kind = IBP_LAYER_CONV2D, .out = 64, .kh = 3, .kw = 3, .ph = 1, .pw = 1,
                    .groups = 2), 0);
    check_applies("8 out channels", c64,
                  L(.kind = IBP_LAYER_CONV2D, .out = 8, .kh = 3, .kw = 3, .ph = 1, .pw = 1), 0);
    check_applies("8 in channels", (struct ibp_shape){8, 28, 28},
                  L(.kind = IBP_LAYER_CONV2D, .out = 64, .kh = 3, .kw = 3, .ph = 1, .pw = 1), 0);
    check_applies("2x2 output", (struct ibp_shape){128, 2, 2},
                  L(.kind = IBP_LAYER_CONV2D, .out = 128, .kh = 3, .kw = 3, .ph = 1, .pw = 1), 0);
    check_applies("5x5 output", (struct ibp_shape){128, 5, 5},
                  L(.kind = IBP_LAYER_CONV2D, .out = 128, .kh = 3, .kw = 3, .ph = 1, .pw = 1), 0);
}

static void test_module(void)
{
    check_module(16, 16, 7, 7, 1, 3);
    check_module(16, 24, 7, 7, 0, 2);
    check_module(24, 16, 14, 14, 1, 2);
    check_module(24, 24, 14, 14, 0, 3);
    check_module(16, 24, 5, 9, 1, 4); /* 2x3 tiles for 5x9 outputs */
    check_module(24, 16, 5, 9, 0, 2);
    check_module(16, 16, 3, 3, 0, 2); /* a single output */
    check_module(16, 16, 1, 2, 1, 2); /* a single input row */
    /* 18 samples per chunk here: two chunks, the weight gradient summed over both */
    check_module(64, 64, 20, 20, 1, 19);
    /* 7 samples per chunk: five chunks, the fifth into the first weight-gradient slot */
    check_module(16, 16, 60, 62, 1, 30);
    printf("module: max relative error forward %.3g, input grad %.3g, weight grad %.3g\n",
           worst_forward, worst_input_grad, worst_weight_grad);
}

enum { NB = 4, OUTS = 5 };

struct net_results {
    float logits[NB * OUTS], lb[NB * OUTS], eval_lb[NB * OUTS], crown_lb[NB * OUTS];
    float *grad, *crown_grad;
};

/* a training step (fused pass, backward from fixed logit and bound gradients), then eval
 * margin bounds by IBP and CROWN-IBP and the CROWN-IBP gradient, with Winograd on or off
 * and the given threads */
static void run_net(const struct ibp_net *net, struct ibp_workspace *ws,
                    struct ibp_crown_ibp *crown, int winograd, int threads, const float *x,
                    const float *lo, const float *hi, struct net_results *r)
{
    struct ibp_error err;
    unsigned seed = 4242;
    float gl[NB * OUTS], glb[NB * OUTS];
    for (int i = 0; i < NB * OUTS; i++) {
        gl[i] = fixture_frand(&seed);
        glb[i] = fixture_frand(&seed);
    }
    int labels[NB] = {0, 3, 1, 4};
    struct ibp_spec spec = {.labels = labels};
    ibp_ws_set_winograd(ws, winograd);
    ibp_ws_set_threads(ws, threads);
    memset(r, 0, sizeof *r);
    r->grad = calloc(net->n_params, sizeof(float));
    r->crown_grad = calloc(net->n_params, sizeof(float));
    float *g2 = calloc(net->n_params, sizeof(float));
    CHECK_OK(ibp_pass_train(net, ws, x, lo, hi, NB, NULL, r->logits, r->lb, &err), err);
    CHECK_OK(ibp_pass_backward(net, ws, gl, glb, r->grad, &err), err);
    CHECK_OK(ibp_pass_clean(net, ws, x, NB, IBP_BN_EVAL, NULL, &err), err);
    CHECK_OK(ibp_pass_bounds(net, ws, lo, hi, NB, &spec, IBP_BN_EVAL, r->eval_lb, NULL, &err),
             err);
    CHECK_OK(ibp_crown_ibp_bounds(crown, net, ws, r->crown_lb, &err), err);
    CHECK_OK(ibp_crown_ibp_backward(crown, net, ws, glb, r->crown_grad, &err), err);
    CHECK_OK(ibp_pass_backward(net, ws, NULL, NULL, g2, &err), err);
    for (size_t i = 0; i < net->n_params; i++)
        r->crown_grad[i] += g2[i];
    free(g2);
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double scale = 1e-30, d = 0.0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(b[i]));
        d = fmax(d, fabs((double)a[i] - b[i]));
    }
    return d / scale;
}

static void test_net(void)
{
    struct ibp_layer_spec s[] = {
        L(.kind = IBP_LAYER_CONV2D, .out = 16, .kh = 3, .kw = 3, .ph = 1, .pw = 1),
        L(.kind = IBP_LAYER_BATCHNORM),
        L(.kind = IBP_LAYER_RELU),
        L(.kind = IBP_LAYER_CONV2D, .out = 24, .kh = 3, .kw = 3),
        L(.kind = IBP_LAYER_BATCHNORM),
        L(.kind = IBP_LAYER_RELU),
        L(.kind = IBP_LAYER_FLATTEN),
        L(.kind = IBP_LAYER_LINEAR, .out = OUTS),
    };
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){16, 9, 10}, s, 8, &net, &err), err);
    if (!net)
        return;
    CHECK(ibp_conv_winograd_eligible(net, 0) && ibp_conv_winograd_eligible(net, 3));
    unsigned seed = 7;
    for (size_t i = 0; i < net->n_params; i++)
        net->params[i] = 0.3f * fixture_frand(&seed);
    size_t n = NB * ibp_shape_size(net->shapes[0]);
    float *x = malloc(n * sizeof(float)), *lo = malloc(n * sizeof(float)),
          *hi = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        x[i] = fixture_frand(&seed) + 0.5f;
        lo[i] = x[i] - 0.02f;
        hi[i] = x[i] + 0.02f;
    }
    struct ibp_workspace *ws;
    CHECK_OK(ibp_ws_create(net, NB, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err), err);
    if (!ws)
        return;
    struct ibp_crown_ibp *crown;
    CHECK_OK(ibp_crown_ibp_create(net, NB, &crown, &err), err);
    if (!crown)
        return;
    struct net_results on, off, on1;
    run_net(net, ws, crown, 0, 2, x, lo, hi, &off);
    run_net(net, ws, crown, 1, 3, x, lo, hi, &on);
    run_net(net, ws, crown, 1, 1, x, lo, hi, &on1);
    double dl = max_rel_diff(on.logits, off.logits, NB * OUTS);
    double db = fmax(max_rel_diff(on.lb, off.lb, NB * OUTS),
                     fmax(max_rel_diff(on.eval_lb, off.eval_lb, NB * (OUTS - 1)),
                          max_rel_diff(on.crown_lb, off.crown_lb, NB * (OUTS - 1))));
    double dg = fmax(max_rel_diff(on.grad, off.grad, net->n_params),
                     max_rel_diff(on.crown_grad, off.crown_grad, net->n_params));
    printf("net: Winograd on vs off, max difference relative to the largest value: logits "
           "%.3g, bounds %.3g, gradients %.3g\n",
           dl, db, dg);
    CHECK_MSG(dl <= 1e-5 && db <= 1e-5 && dg <= 1e-4,
              "net: Winograd on and off differ (logits %.3g, bounds %.3g, gradients %.3g)", dl,
              db, dg);
    CHECK_MSG(memcmp(&on, &on1, offsetof(struct net_results, grad)) == 0 &&
                  memcmp(on.grad, on1.grad, net->n_params * sizeof(float)) == 0 &&
                  memcmp(on.crown_grad, on1.crown_grad, net->n_params * sizeof(float)) == 0,
              "net: 1 and 3 threads differ with Winograd");
    free(on.grad);
    free(off.grad);
    free(on1.grad);
    free(on.crown_grad);
    free(off.crown_grad);
    free(on1.crown_grad);
    ibp_crown_ibp_free(crown);
    ibp_ws_free(ws);
    ibp_net_free(net);
    free(x);
    free(lo);
    free(hi);
}

int main(void)
{
    test_applies();
    test_module();
    test_net();
    return check_report();
}
