/* The bounder (nets/bounds/bounds.h): IBP equals ibp_pass_bounds and the double reference;
 * full CROWN's windowed rows give the dense computation's bounds up to rounding (also
 * where whole-image rows go through the implicit GEMM's transpose);
 * CROWN-IBP and CROWN are never looser than IBP and usually tighter on small boxes;
 * CROWN is exact on affine networks (conv-transpose, avgpool, BN, residual add, flatten
 * checked against the exact minimum); sound IBP lies below an outward-rounded double
 * interval reference; a cancelling net that float IBP wrongly certifies is refused in
 * sound mode; sound mode's radius covers its box and is 0 on a point; results do not
 * depend on the thread count; bad configurations, bad runs and unsupported layers are
 * rejected by name. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/bounds/bounds.h"
#include "nets/bounds/bounds_impl.h"
#include "nets/bounds/sound_fp.h"
#include "tests/common/check.h"
#include "tests/common/ref_net.h"
#include "tests/common/fixture.h"
#include "tests/nets/bounds/ref_bounds.h"

enum { BATCH = 6 };

struct box {
    float *lo, *hi;
    double *lod, *hid;
    int labels[BATCH];
};

static void make_box(const struct ibp_net *net, struct ibp_rng *rng, double eps, struct box *bx)
{
    size_t n = BATCH * ibp_shape_size(net->input);
    bx->lo = malloc(n * sizeof(float));
    bx->hi = malloc(n * sizeof(float));
    bx->lod = malloc(n * sizeof(double));
    bx->hid = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        float x = (float)ibp_rng_uniform(rng);
        bx->lo[i] = x - (float)eps > 0.0f ? x - (float)eps : 0.0f;
        bx->hi[i] = x + (float)eps < 1.0f ? x + (float)eps : 1.0f;
        bx->lod[i] = bx->lo[i];
        bx->hid[i] = bx->hi[i];
    }
    int K = ibp_net_outputs(net);
    for (int b = 0; b < BATCH; b++)
        bx->labels[b] = (int)ibp_rng_below(rng, (uint64_t)K);
}

static void free_box(struct box *bx)
{
    free(bx->lo);
    free(bx->hi);
    free(bx->lod);
    free(bx->hid);
}

/* lb of one method/mode; returns the status; raw (may be NULL) gets the CROWN bound */
static enum ibp_status bound(const struct ibp_net *net, enum ibp_bound_method m, int sound,
                             const struct box *bx, float *lb, float *raw, int threads)
{
    struct ibp_bounder_config cfg = {m, sound, BATCH, ibp_net_outputs(net) - 1};
    struct ibp_bounder *b;
    struct ibp_error err;
    enum ibp_status st = ibp_bounder_create(net, &cfg, &b, &err);
    CHECK_OK(st, err);
    if (st != IBP_OK)
        return st;
    if (threads > 0)
        ibp_bounder_set_threads(b, threads);
    struct ibp_spec spec = {.labels = bx->labels};
    st = ibp_bounder_run(net, b, bx->lo, bx->hi, BATCH, &spec, lb, &err);
    CHECK_OK(st, err);
    if (raw && ibp_bounder_crown_bounds(b))
        memcpy(raw, ibp_bounder_crown_bounds(b),
               sizeof(float) * BATCH * (size_t)cfg.max_rows);
    ibp_bounder_free(b);
    return st;
}

static void test_ibp(struct ibp_rng *rng)
{
    for (int f = 0; f < FIXTURE_COUNT; f++) {
        struct ibp_net *net = fixture_net(f, rng);
        int R = ibp_net_outputs(net) - 1;
        struct box bx;
        make_box(net, rng, 0.05, &bx);
        float lb[BATCH * 16], lbp[BATCH * 16];
        bound(net, IBP_BOUND_IBP, 0, &bx, lb, NULL, 0);
        struct ibp_workspace *ws;
        struct ibp_error err;
        CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_BOUNDS, &ws, &err), err);
        struct ibp_spec spec = {.labels = bx.labels};
        CHECK_OK(ibp_pass_bounds(net, ws, bx.lo, bx.hi, BATCH, &spec, IBP_BN_EVAL, lbp, NULL,
                                 &err), err);
        CHECK_MSG(memcmp(lb, lbp, sizeof(float) * BATCH * R) == 0,
                  "%s: IBP method differs from ibp_pass_bounds", fixture_name(f));
        double ref[BATCH * 16];
        ref_ibp_outward(net, bx.lod, bx.hid, BATCH, bx.labels, ref);
        for (int i = 0; i < BATCH * R; i++)
            CHECK_NEAR(lb[i], ref[i], 1e-4 * (1.0 + fabs(ref[i])));
        /* sound IBP: below the outward double reference, and not vacuous */
        float lbs[BATCH * 16];
        bound(net, IBP_BOUND_IBP, 1, &bx, lbs, NULL, 0);
        for (int i = 0; i < BATCH * R; i++) {
            CHECK_MSG(lbs[i] <= ref[i], "%s: sound IBP %.9g above the reference %.9g",
                      fixture_name(f), lbs[i], ref[i]);
            CHECK_MSG(lbs[i] >= ref[i] - 1e-3 * (1.0 + fabs(ref[i])),
                      "%s: sound IBP %.9g far below the reference %.9g", fixture_name(f),
                      lbs[i], ref[i]);
        }
        ibp_ws_free(ws);
        free_box(&bx);
        ibp_net_free(net);
    }
}

/* CROWN-IBP and CROWN >= IBP (both modes); the raw CROWN bound beats IBP on most rows
 * of small boxes; sound <= float up to rounding; thread count changes nothing. */
static void test_crown(struct ibp_rng *rng)
{
    for (int f = 1; f < FIXTURE_COUNT; f++) {
        struct ibp_net *net = fixture_net(f, rng);
        int R = ibp_net_outputs(net) - 1, n = BATCH * R;
        for (int e = 0; e < 2; e++) {
            struct box bx;
            make_box(net, rng, e ? 0.1 : 0.01, &bx);
            for (int sound = 0; sound < 2; sound++) {
                float ibp[BATCH * 16], lb[BATCH * 16], raw[BATCH * 16], lb1[BATCH * 16];
                bound(net, IBP_BOUND_IBP, sound, &bx, ibp, NULL, 0);
                for (int m = IBP_BOUND_CROWN_IBP; m <= IBP_BOUND_CROWN; m++) {
                    bound(net, (enum ibp_bound_method)m, sound, &bx, lb, raw, 0);
                    int tighter = 0;
                    for (int i = 0; i < n; i++) {
                        CHECK_MSG(lb[i] >= ibp[i], "%s m%d s%d: %.9g below IBP %.9g",
                                  fixture_name(f), m, sound, lb[i], ibp[i]);
                        tighter += raw[i] > ibp[i];
                    }
                    if (e == 0)
                        CHECK_MSG(2 * tighter >= n, "%s m%d s%d: CROWN tighter on %d of %d",
                                  fixture_name(f), m, sound, tighter, n);
                    bound(net, (enum ibp_bound_method)m, sound, &bx, lb1, NULL, 1);
                    CHECK_MSG(memcmp(lb, lb1, sizeof(float) * n) == 0,
                              "%s m%d s%d: result depends on the thread count", fixture_name(f),
                              m, sound);
                    if (!sound) {
                        float lbs[BATCH * 16];
                        bound(net, (enum ibp_bound_method)m, 1, &bx, lbs, NULL, 0);
                        for (int i = 0; i < n; i++)
                            CHECK_MSG(lbs[i] <= lb[i] + 1e-4 * (1 + fabsf(lb[i])) &&
                                          lbs[i] >= lb[i] - 1e-3 * (1 + fabsf(lb[i])),
                                      "%s m%d: sound %.9g vs float %.9g", fixture_name(f), m,
                                      lbs[i], lb[i]);
                    }
                }
            }
            free_box(&bx);
        }
        ibp_net_free(net);
    }
}

#define LS(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

static void randomize(struct ibp_net *net, struct ibp_rng *rng)
{
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        size_t np = ibp_layer_param_count(net, k);
        float *p = net->params + net->param_off[k];
        int c = net->shapes[l->in[0]].c;
        if (l->kind == IBP_LAYER_LINEAR || l->kind == IBP_LAYER_CONV2D) {
            for (size_t j = 0; j < np; j++)
                p[j] = (float)fixture_uniform(rng, -0.5, 0.5);
        } else if (l->kind == IBP_LAYER_BATCHNORM) {
            for (int j = 0; j < c; j++) {
                p[j] = (float)fixture_uniform(rng, -1.5, 1.5);
                p[c + j] = (float)fixture_uniform(rng, -0.3, 0.3);
                ibp_bn_running_mean(net, k)[j] = (float)fixture_uniform(rng, -0.3, 0.3);
                ibp_bn_running_var(net, k)[j] = (float)fixture_uniform(rng, 0.5, 2.0);
            }
        } else if (l->kind == IBP_LAYER_NORMALIZE) {
            for (int j = 0; j < c; j++) {
                ibp_normalize_mean(net, k)[j] = (float)fixture_uniform(rng, 0.2, 0.6);
                ibp_normalize_std(net, k)[j] = (float)fixture_uniform(rng, -0.5, 0.5) > 0
                                                   ? 0.3f
                                                   : -0.4f;
            }
        }
    }
}

/* a wide affine net: a convolution with 16 input channels, whose transpose the float
 * CROWN methods run by the implicit GEMM's input gradient on whole-image rows (layer 3) */
static struct ibp_net *wide_affine_net(struct ibp_rng *rng)
{
    struct ibp_layer_spec s[] = {
        LS(.kind = IBP_LAYER_NORMALIZE),
        LS(.kind = IBP_LAYER_CONV2D, .out = 16, .kh = 3, .kw = 3, .ph = 1, .pw = 1),
        LS(.kind = IBP_LAYER_BATCHNORM),
        LS(.kind = IBP_LAYER_CONV2D, .out = 8, .kh = 4, .kw = 4, .sh = 2, .sw = 2, .ph = 1,
           .pw = 1),
        LS(.kind = IBP_LAYER_BATCHNORM),
        LS(.kind = IBP_LAYER_FLATTEN),
        LS(.kind = IBP_LAYER_LINEAR, .out = 5)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){2, 10, 9}, s, (int)(sizeof s / sizeof s[0]),
                            &net, &err), err);
    randomize(net, rng);
    return net;
}

/* an affine net: every linear layer kind the backward pass supports, no ReLU */
static struct ibp_net *affine_net(struct ibp_rng *rng)
{
    struct ibp_layer_spec s[12];
    int n = 0;
    s[n++] = LS(.kind = IBP_LAYER_NORMALIZE);
    s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
    s[n++] = LS(.kind = IBP_LAYER_BATCHNORM); /* value 3 */
    s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 2, .pw = 2, .dh = 2,
                .dw = 2, .groups = 2);
    s[n++] = LS(.kind = IBP_LAYER_BATCHNORM);
    s[n] = LS(.kind = IBP_LAYER_ADD);
    s[n++].in[1] = 3;
    s[n++] = LS(.kind = IBP_LAYER_AVGPOOL, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .ph = 1, .pw = 1);
    s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 3, .kh = 2, .kw = 2, .sh = 2, .sw = 1);
    s[n++] = LS(.kind = IBP_LAYER_FLATTEN);
    s[n++] = LS(.kind = IBP_LAYER_LINEAR, .out = 5);
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){2, 6, 6}, s, n, &net, &err), err);
    randomize(net, rng);
    return net;
}

static void test_affine_exact(struct ibp_rng *rng, int wide)
{
    struct ibp_net *net = wide ? wide_affine_net(rng) : affine_net(rng);
    if (wide) { /* the float CROWN methods take the implicit transpose */
        struct ibp_bounder_config cfg = {IBP_BOUND_CROWN, 0, BATCH, 4};
        struct ibp_bounder *b;
        struct ibp_error err;
        CHECK_OK(ibp_bounder_create(net, &cfg, &b, &err), err);
        CHECK_MSG(b->cs.ly[3].wtrans != NULL, "wide affine net: no implicit transpose");
        ibp_bounder_free(b);
    }
    int R = ibp_net_outputs(net) - 1, n = BATCH * R;
    struct box bx;
    make_box(net, rng, 0.1, &bx);
    double exact[BATCH * 16];
    ref_affine_exact(net, bx.lod, bx.hid, BATCH, bx.labels, exact);
    for (int m = IBP_BOUND_CROWN_IBP; m <= IBP_BOUND_CROWN; m++)
        for (int sound = 0; sound < 2; sound++) {
            float lb[BATCH * 16], raw[BATCH * 16];
            bound(net, (enum ibp_bound_method)m, sound, &bx, lb, raw, 0);
            for (int i = 0; i < n; i++) {
                /* sound mode's rounding allowance grows with the dot lengths (here
                 * 16 channels x 16 taps): about 2e-4 below the exact bound */
                double tol = (sound && wide ? 1e-3 : 1e-4) * (1.0 + fabs(exact[i]));
                CHECK_MSG(fabs(raw[i] - exact[i]) <= tol, "%s m%d s%d row %d: %.9g, exact %.9g",
                          wide ? "wide" : "affine", m, sound, i, raw[i], exact[i]);
                if (sound)
                    CHECK_MSG(raw[i] <= exact[i] && lb[i] <= exact[i],
                              "sound m%d: %.9g above the exact %.9g", m, raw[i], exact[i]);
            }
        }
    free_box(&bx);
    ibp_net_free(net);
}

/* h = w x + b cancels: w x = -(1 + 2^-22 + 2^-46) rounds to -(1 + 2^-22), so float
 * gives h = 0 where the real h is -2^-46, and the margin 2^47 h + 1 is 1 in float but
 * -1 in reals. */
static void test_cancellation(void)
{
    struct ibp_layer_spec s[2] = {LS(.kind = IBP_LAYER_LINEAR, .out = 1),
                                  LS(.kind = IBP_LAYER_LINEAR, .out = 2)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){1, 1, 1}, s, 2, &net, &err), err);
    float *w0 = ibp_layer_weight(net, 0), *w1 = ibp_layer_weight(net, 1);
    w0[0] = -(1.0f + 0x1p-23f);
    ibp_layer_bias(net, 0)[0] = 1.0f + 0x1p-22f;
    w1[0] = 0x1p47f;
    w1[1] = 0.0f;
    ibp_layer_bias(net, 1)[0] = 1.0f;
    ibp_layer_bias(net, 1)[1] = 0.0f;
    float x = 1.0f + 0x1p-23f;
    double h = (double)w0[0] * x + (1.0 + 0x1p-22), margin = 0x1p47 * h + 1.0; /* exact */
    CHECK(margin == -1.0);
    int label = 0;
    struct ibp_spec spec = {.labels = &label};
    for (int m = IBP_BOUND_IBP; m <= IBP_BOUND_CROWN; m++)
        for (int sound = 0; sound < 2; sound++) {
            struct ibp_bounder_config cfg = {(enum ibp_bound_method)m, sound, 1, 1};
            struct ibp_bounder *b;
            CHECK_OK(ibp_bounder_create(net, &cfg, &b, &err), err);
            float lb = 0;
            CHECK_OK(ibp_bounder_run(net, b, &x, &x, 1, &spec, &lb, &err), err);
            if (sound)
                CHECK_MSG(lb <= margin, "m%d sound: lb %.9g above the real margin %g", m, lb,
                          margin);
            else if (m == IBP_BOUND_IBP)
                CHECK_MSG(lb > 0.0f, "float IBP no longer shows the cancellation: lb %.9g", lb);
            ibp_bounder_free(b);
        }
    ibp_net_free(net);
}

/* full CROWN on nets whose ReLUs follow two or more convolutions (tightened with
 * windowed rows): stride, padding, dilation, groups, BatchNorm, average pooling and a
 * residual Add, checked against the same bounder with whole-value windows */
static struct ibp_net *window_net(int which, struct ibp_rng *rng)
{
    struct ibp_layer_spec s[16];
    int n = 0;
    struct ibp_shape in = {2, 9, 8};
    if (which == 0) {
        s[n++] = LS(.kind = IBP_LAYER_NORMALIZE);
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 6, .kh = 3, .kw = 2, .sh = 2, .sw = 1,
                    .ph = 1, .pw = 1, .groups = 2);
        s[n++] = LS(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 2, .kw = 3, .ph = 2, .pw = 1,
                    .dh = 2, .dw = 2);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
        s[n++] = LS(.kind = IBP_LAYER_AVGPOOL, .kh = 2, .kw = 2, .sh = 1, .sw = 2, .ph = 1);
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 3, .kh = 2, .kw = 2, .sh = 2, .sw = 2);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
    } else if (which == 2) { /* 16 channels into a stride-2 conv (implicit transpose) */
        in = (struct ibp_shape){2, 10, 10};
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 16, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = LS(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 8, .kh = 4, .kw = 4, .sh = 2, .sw = 2,
                    .ph = 1, .pw = 1);
        s[n++] = LS(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
    } else {
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = LS(.kind = IBP_LAYER_BATCHNORM);
        s[n++] = LS(.kind = IBP_LAYER_RELU); /* value 3 */
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1);
        s[n] = LS(.kind = IBP_LAYER_ADD);
        s[n++].in[1] = 3;
        s[n++] = LS(.kind = IBP_LAYER_RELU);
        s[n++] = LS(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 2, .kw = 2, .sh = 2, .sw = 2);
        s[n++] = LS(.kind = IBP_LAYER_RELU);
    }
    s[n++] = LS(.kind = IBP_LAYER_FLATTEN);
    s[n++] = LS(.kind = IBP_LAYER_LINEAR, .out = 12);
    s[n++] = LS(.kind = IBP_LAYER_RELU);
    s[n++] = LS(.kind = IBP_LAYER_LINEAR, .out = 5);
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create(in, s, n, &net, &err), err);
    randomize(net, rng);
    return net;
}

static void test_windows(struct ibp_rng *rng)
{
    for (int which = 0; which < 3; which++) {
        struct ibp_net *net = window_net(which, rng);
        int R = ibp_net_outputs(net) - 1, n = BATCH * R;
        struct box bx;
        make_box(net, rng, 0.02, &bx);
        struct ibp_spec spec = {.labels = bx.labels};
        for (int sound = 0; sound < 2; sound++) {
            float lb[2][BATCH * 16], raw[2][BATCH * 16];
            for (int full = 0; full < 2; full++) {
                struct ibp_bounder_config cfg = {IBP_BOUND_CROWN, sound, BATCH, R};
                struct ibp_bounder *b;
                struct ibp_error err;
                CHECK_OK(ibp_bounder_create(net, &cfg, &b, &err), err);
                ibp_bounder_set_full_windows(b, full);
                CHECK_OK(ibp_bounder_run(net, b, bx.lo, bx.hi, BATCH, &spec, lb[full], &err),
                         err);
                memcpy(raw[full], ibp_bounder_crown_bounds(b), sizeof(float) * (size_t)n);
                ibp_bounder_free(b);
            }
            int tighter = 0;
            for (int i = 0; i < n; i++) {
                double tol = 1e-4 * (1.0 + fabs(raw[1][i]));
                CHECK_MSG(fabs(raw[0][i] - raw[1][i]) <= tol && fabs(lb[0][i] - lb[1][i]) <= tol,
                          "net %d s%d row %d: windowed %.9g, dense %.9g", which, sound, i,
                          raw[0][i], raw[1][i]);
                tighter += raw[0][i] > lb[0][i] - tol && isfinite(raw[0][i]);
            }
            CHECK_MSG(tighter > 0, "net %d s%d: CROWN never at the bound", which, sound);
        }
        free_box(&bx);
        ibp_net_free(net);
    }
}

static void test_errors(struct ibp_rng *rng)
{
    struct ibp_net *net = fixture_net(0, rng); /* has a maxpool */
    struct ibp_bounder *b;
    struct ibp_error err;
    struct ibp_bounder_config cfg = {IBP_BOUND_CROWN, 0, 2, 4};
    CHECK(ibp_bounder_create(net, &cfg, &b, &err) == IBP_ERR_UNSUPPORTED);
    CHECK(b == NULL && strstr(err.msg, "maxpool") != NULL);
    cfg.method = (enum ibp_bound_method)7;
    CHECK(ibp_bounder_create(net, &cfg, &b, &err) == IBP_ERR_ARG);
    cfg = (struct ibp_bounder_config){IBP_BOUND_IBP, 0, 0, 4};
    CHECK(ibp_bounder_create(net, &cfg, &b, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "max_batch") != NULL);
    cfg = (struct ibp_bounder_config){IBP_BOUND_IBP, 2, 2, 4};
    CHECK(ibp_bounder_create(net, &cfg, &b, &err) == IBP_ERR_ARG);
    cfg = (struct ibp_bounder_config){IBP_BOUND_IBP, 1, 2, 0};
    CHECK(ibp_bounder_create(net, &cfg, &b, &err) == IBP_ERR_ARG);
    ibp_net_free(net);

    net = fixture_net(3, rng);
    cfg = (struct ibp_bounder_config){IBP_BOUND_CROWN_IBP, 1, 2, 3};
    CHECK_OK(ibp_bounder_create(net, &cfg, &b, &err), err);
    size_t n = ibp_shape_size(net->input);
    float lo[2 * 12], hi[2 * 12], lb[2 * 4];
    for (size_t i = 0; i < 2 * n; i++) {
        lo[i] = 0.1f;
        hi[i] = 0.2f;
    }
    int labels[2] = {0, 3};
    struct ibp_spec spec = {.labels = labels};
    CHECK(ibp_bounder_run(net, b, lo, hi, 3, &spec, lb, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "batch") != NULL);
    labels[1] = 4;
    CHECK(ibp_bounder_run(net, b, lo, hi, 2, &spec, lb, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "label") != NULL);
    labels[1] = 1;
    hi[5] = 0.0f;
    CHECK(ibp_bounder_run(net, b, lo, hi, 2, &spec, lb, &err) == IBP_ERR_ARG);
    hi[5] = NAN;
    CHECK(ibp_bounder_run(net, b, lo, hi, 2, &spec, lb, &err) == IBP_ERR_NUMERIC);
    hi[5] = 0.2f;
    struct ibp_spec big = {.C = lo, .rows = 5};
    CHECK(ibp_bounder_run(net, b, lo, hi, 1, &big, lb, &err) == IBP_ERR_ARG);
    CHECK_OK(ibp_bounder_run(net, b, lo, hi, 2, &spec, lb, &err), err);
    CHECK(ibp_bounder_bytes(b) > 0);
    ibp_bounder_free(b);
    ibp_net_free(net);
}

/* fp_radius_up (sound mode's radius around the centre the bounder computes): it covers
 * [lo, hi] in the reals, for random, nearly equal, subnormal and large boxes; a finite
 * point gets exactly 0 (no subnormal radius), an infinite one does not */
static int radius_covers(float lo, float hi)
{
    float c = 0.5f * lo + 0.5f * hi, r = fp_radius_up(lo, hi, c);
    return (double)c - (double)r <= (double)lo && (double)hi <= (double)c + (double)r;
}

static void test_radius(void)
{
    struct ibp_rng own, *rng = &own;
    ibp_rng_seed(rng, 5, 0);
    int ok = 1;
    for (int i = 0; i < 100000; i++) {
        float scale = (float)ldexp(1.0, (int)ibp_rng_below(rng, 60) - 30);
        float a = scale * (float)(2.0 * ibp_rng_uniform(rng) - 1.0);
        float b = i % 3 == 0 ? nextafterf(a, INFINITY) : scale * (float)ibp_rng_uniform(rng);
        if (i % 7 == 0) {
            a *= 0x1p-120f; /* subnormal and tiny boxes */
            b *= 0x1p-120f;
        }
        ok &= radius_covers(a < b ? a : b, a < b ? b : a);
    }
    CHECK_MSG(ok, "fp_radius_up: a box not covered");
    const float points[] = {0.0f, -0.0f, 1.5f, -3.25e-3f, 0x1p-140f, FLT_MAX};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        CHECK_MSG(fp_radius_up(points[i], points[i], points[i]) == 0.0f &&
                      radius_covers(points[i], points[i]),
                  "fp_radius_up: point %g", (double)points[i]);
    CHECK(fp_radius_up(-0.0f, 0.0f, 0.0f) == 0.0f);
    CHECK(fp_radius_up(INFINITY, INFINITY, INFINITY) != 0.0f);
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 77, 0);
    test_radius();
    test_ibp(&rng);
    test_crown(&rng);
    test_affine_exact(&rng, 0);
    test_affine_exact(&rng, 1);
    test_windows(&rng);
    test_cancellation();
    test_errors(&rng);
    return check_report();
}
