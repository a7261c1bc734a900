/* The optimised kernels under the passes against naive references:
 *   ibp_sgemm (blocked along m or n, or cut along k for small outputs) against a
 *   double-precision triple loop, for both transposes, alpha and beta, and bit-identical
 *   results for 1 and 2 threads;
 *   the convolution paths through whole conv nets against the double reference of
 *   tests/common/ref_net.c, clean pass and IBP bounds: im2col + GEMM (one-channel rows
 *   picked float by float, contiguous kernel-row copies, padding wider than the kernel)
 *   and, for layers with few taps, the direct loop (16-output blocks, four positions at
 *   once inside the input, one at a time at the edges, and single outputs when the
 *   channel count is not a multiple of 16); the few-taps weight gradient against the same
 *   sums done plainly in float, bit for bit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/kernels/gemm.h"
#include "nets/passes/passes.h"
#include "nets/kernels/conv_taps.h"
#include "tests/common/check.h"
#include "tests/common/ref_net.h"
#include "tests/common/fixture.h"

static void check_gemm(int ta, int tb, long m, long n, long k, float alpha, float beta)
{
    unsigned s = (unsigned)(m * 131 + n * 17 + k + ta * 7 + tb * 3);
    long lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
    long arows = ta ? k : m, brows = tb ? n : k;
    float *a = malloc((size_t)(arows * lda) * sizeof(float));
    float *b = malloc((size_t)(brows * ldb) * sizeof(float));
    float *c0 = malloc((size_t)(m * ldc) * sizeof(float));
    float *c1 = malloc((size_t)(m * ldc) * sizeof(float));
    float *c2 = malloc((size_t)(m * ldc) * sizeof(float));
    for (long i = 0; i < arows * lda; i++)
        a[i] = fixture_frand(&s);
    for (long i = 0; i < brows * ldb; i++)
        b[i] = fixture_frand(&s);
    for (long i = 0; i < m * ldc; i++)
        c0[i] = fixture_frand(&s);
    memcpy(c1, c0, (size_t)(m * ldc) * sizeof(float));
    memcpy(c2, c0, (size_t)(m * ldc) * sizeof(float));
    ibp_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c1, ldc, 1);
    ibp_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc, 2);
    double worst = 0.0;
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double acc = 0.0, mag = 0.0;
            for (long p = 0; p < k; p++) {
                double x = ta ? a[p * lda + i] : a[i * lda + p];
                double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                acc += x * y;
                mag += fabs(x * y);
            }
            double want = alpha * acc + (beta == 0.0f ? 0.0 : beta * (double)c0[i * ldc + j]);
            double err = fabs(c1[i * ldc + j] - want) / (fabs(alpha) * mag + fabs(beta) + 1e-30);
            worst = err > worst ? err : worst;
        }
    CHECK_MSG(worst < 1e-5, "sgemm %c%c %ldx%ldx%ld: relative error %.3g", ta ? 'T' : 'N',
              tb ? 'T' : 'N', m, n, k, worst);
    CHECK_MSG(memcmp(c1, c2, (size_t)(m * ldc) * sizeof(float)) == 0,
              "sgemm %ldx%ldx%ld: 1 and 2 threads differ", m, n, k);
    /* the padding column past n is never written */
    int pad_kept = 1;
    for (long i = 0; i < m; i++)
        pad_kept &= c1[i * ldc + n] == c0[i * ldc + n];
    CHECK(pad_kept);
    free(a);
    free(b);
    free(c0);
    free(c1);
    free(c2);
}

static void test_gemm(void)
{
    /* m, n, k: plain blocks, odd block counts made even, and the k-split cases (small
     * outputs over a long k, as conv weight gradients are) */
    static const long shapes[][3] = {{7, 5, 3},       {600, 64, 40},  {64, 576, 300},
                                     {1100, 33, 17},  {16, 16, 5000}, {32, 256, 2100},
                                     {9, 70, 4099},   {3, 2, 2048},   {40, 1030, 8}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            check_gemm(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f,
                       t == 1 ? 1.0f : 0.0f);
            if (t == 0)
                check_gemm(0, 0, shapes[s][0], shapes[s][1], shapes[s][2], -0.5f, 0.75f);
        }
}

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})

enum { B = 3 };

/* clean logits and IBP bounds of a one-channel conv net against the reference */
static void check_conv_net(const char *name, struct ibp_shape in, struct ibp_layer_spec conv)
{
    int few = strstr(name, "im2col") == NULL;
    struct ibp_layer_spec s[] = {conv, L(.kind = IBP_LAYER_BATCHNORM), L(.kind = IBP_LAYER_RELU),
                                 L(.kind = IBP_LAYER_FLATTEN), L(.kind = IBP_LAYER_LINEAR, .out = 4)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create(in, s, 5, &net, &err), err);
    if (!net)
        return;
    CHECK_MSG(ibp_conv_few_taps(net, 0) == few, "%s: takes the %s path", name,
              few ? "im2col" : "direct");
    unsigned seed = 99;
    for (size_t i = 0; i < net->n_params; i++)
        net->params[i] = fixture_frand(&seed);
    size_t n = B * ibp_shape_size(in);
    float *x = malloc(n * sizeof(float)), *lo = malloc(n * sizeof(float)),
          *hi = malloc(n * sizeof(float));
    double *xd = malloc(n * sizeof(double)), *lod = malloc(n * sizeof(double)),
           *hid = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        x[i] = fixture_frand(&seed) + 0.5f;
        lo[i] = x[i] - 0.05f;
        hi[i] = x[i] + 0.05f;
        xd[i] = x[i];
        lod[i] = lo[i];
        hid[i] = hi[i];
    }
    struct ibp_workspace *ws;
    CHECK_OK(ibp_ws_create(net, B, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err), err);
    float logits[B * 4], lb[B * 4], ub[B * 4];
    for (int train = 0; train <= 1; train++) {
        struct ref_out ref;
        CHECK(ref_run(net, NULL, xd, lod, hid, B, train, NULL, 0, &ref) == 0);
        enum ibp_bn_mode mode = train ? IBP_BN_TRAIN : IBP_BN_EVAL;
        CHECK_OK(ibp_pass_clean(net, ws, x, B, mode, logits, &err), err);
        CHECK_OK(ibp_pass_bounds(net, ws, lo, hi, B, NULL, mode, lb, ub, &err), err);
        double worst = 0.0, scale = 1.0;
        for (int i = 0; i < B * 4; i++) {
            scale = fmax(scale, fmax(fabs(ref.lb[i]), fabs(ref.ub[i])));
            worst = fmax(worst, fabs(logits[i] - ref.logits[i]));
            worst = fmax(worst, fabs(lb[i] - ref.lb[i]));
            worst = fmax(worst, fabs(ub[i] - ref.ub[i]));
        }
        CHECK_MSG(worst <= 2e-5 * scale, "%s (%s BN): max error %.3g", name,
                  train ? "train" : "eval", worst);
        ref_out_free(&ref);
    }
    ibp_ws_free(ws);
    ibp_net_free(net);
    free(x);
    free(lo);
    free(hi);
    free(xd);
    free(lod);
    free(hid);
}

static void test_conv_paths(void)
{
    struct ibp_shape grey = {1, 9, 8}, two = {2, 6, 7}, big = {1, 14, 13};
    /* im2col + GEMM (more than CONV_FEW_TAPS taps) */
    check_conv_net("grey 6x6 s1 p2 (im2col)", big,
                   L(.kind = IBP_LAYER_CONV2D, .out = 5, .kh = 6, .kw = 6, .ph = 2, .pw = 2));
    check_conv_net("two-channel 5x4 s2 p3 (im2col)", two,
                   L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 5, .kw = 4, .sh = 2, .sw = 2,
                     .ph = 3, .pw = 3));
    /* the direct loop with 16-output blocks */
    check_conv_net("grey 4x4 s2 p1, 16 out (few taps)", big,
                   L(.kind = IBP_LAYER_CONV2D, .out = 16, .kh = 4, .kw = 4, .sh = 2, .sw = 2,
                     .ph = 1, .pw = 1));
    check_conv_net("two-channel 3x3 d2 p1, 32 out (few taps)", (struct ibp_shape){2, 11, 12},
                   L(.kind = IBP_LAYER_CONV2D, .out = 32, .kh = 3, .kw = 3, .ph = 1, .pw = 1,
                     .dh = 2, .dw = 2));
    /* and with single outputs */
    check_conv_net("grey 4x4 s2 p1", grey,
                   L(.kind = IBP_LAYER_CONV2D, .out = 5, .kh = 4, .kw = 4, .sh = 2, .sw = 2,
                     .ph = 1, .pw = 1));
    check_conv_net("grey 3x3 s1 p1", grey,
                   L(.kind = IBP_LAYER_CONV2D, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1));
    check_conv_net("grey 2x2 pad 3", grey,
                   L(.kind = IBP_LAYER_CONV2D, .out = 3, .kh = 2, .kw = 2, .sh = 2, .sw = 3,
                     .ph = 3, .pw = 3));
    check_conv_net("two-channel 3x2 pad 4", two,
                   L(.kind = IBP_LAYER_CONV2D, .out = 3, .kh = 3, .kw = 2, .sh = 1, .sw = 2,
                     .ph = 4, .pw = 4));
    check_conv_net("two-channel 3x3 s1 p1", two,
                   L(.kind = IBP_LAYER_CONV2D, .out = 6, .kh = 3, .kw = 3, .ph = 1, .pw = 1));
}

/* The direct weight gradient of a few-taps layer (ibp_conv_taps_weight_grad) against the
 * same sums done plainly in float: dwp's value, then each position's product in order.
 * They must agree bit for bit, with 1 and 3 threads and a scratch of one sample (many
 * chunks) or of all of them. */
static void check_taps_weight_grad(const char *name, struct ibp_shape in,
                                   struct ibp_layer_spec conv, int ns)
{
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create(in, &conv, 1, &net, &err), err);
    if (!net)
        return;
    CHECK_MSG(ibp_conv_few_taps(net, 0), "%s: takes the direct path", name);
    conv = net->layers[0]; /* with its defaults resolved (stride, dilation 1) */
    struct ibp_shape out = net->shapes[1];
    int T = conv.kh * conv.kw * in.c, Co = out.c;
    size_t nin = (size_t)ns * ibp_shape_size(in), nout = (size_t)ns * ibp_shape_size(out);
    size_t nw = (size_t)Co * T;
    unsigned seed = (unsigned)(T * 31 + Co);
    float *x = malloc(nin * sizeof(float)), *go = malloc(nout * sizeof(float));
    float *dw0 = malloc(nw * sizeof(float)), *want = malloc(nw * sizeof(float));
    for (size_t i = 0; i < nin; i++)
        x[i] = fixture_frand(&seed);
    for (size_t i = 0; i < nout; i++)
        go[i] = fixture_frand(&seed);
    for (size_t i = 0; i < nw; i++)
        dw0[i] = fixture_frand(&seed);
    /* x and go are NHWC; tap t = (i, j, c) */
    for (int o = 0; o < Co; o++)
        for (int i = 0; i < conv.kh; i++)
            for (int j = 0; j < conv.kw; j++)
                for (int c = 0; c < in.c; c++) {
                    int t = (i * conv.kw + j) * in.c + c;
                    float a = dw0[(size_t)o * T + t];
                    for (int n = 0; n < ns; n++)
                        for (int oh = 0; oh < out.h; oh++)
                            for (int ow = 0; ow < out.w; ow++) {
                                int ih = oh * conv.sh - conv.ph + i * conv.dh;
                                int iw = ow * conv.sw - conv.pw + j * conv.dw;
                                int inside = ih >= 0 && ih < in.h && iw >= 0 && iw < in.w;
                                float xv = inside ? x[(((size_t)n * in.h + ih) * in.w + iw) *
                                                          in.c + c]
                                                  : 0.0f;
                                a += xv * go[(((size_t)n * out.h + oh) * out.w + ow) * Co + o];
                            }
                    want[(size_t)o * T + t] = a;
                }
    size_t small = ibp_conv_taps_weight_grad_floats(net, 0) + ibp_conv_taps_scratch_floats(net, 0, 1);
    size_t large = ibp_conv_taps_weight_grad_floats(net, 0) + ibp_conv_taps_scratch_floats(net, 0, ns);
    float *scratch = malloc(large * sizeof(float)), *dw = malloc(nw * sizeof(float));
    for (int run = 0; run < 3; run++) {
        memcpy(dw, dw0, nw * sizeof(float));
        ibp_conv_taps_weight_grad(net, 0, x, go, ns, dw, scratch, run == 1 ? small : large,
                              run == 2 ? 3 : 1);
        CHECK_MSG(memcmp(dw, want, nw * sizeof(float)) == 0,
                  "%s: weight gradient (%s) differs from the plain sums", name,
                  run == 0 ? "1 thread" : run == 1 ? "one-sample chunks" : "3 threads");
    }
    free(scratch);
    free(dw);
    free(x);
    free(go);
    free(dw0);
    free(want);
    ibp_net_free(net);
}

static void test_taps_weight_grad(void)
{
    check_taps_weight_grad("grey 4x4 s2 p1, 16 out", (struct ibp_shape){1, 14, 13},
                           L(.kind = IBP_LAYER_CONV2D, .out = 16, .kh = 4, .kw = 4, .sh = 2,
                             .sw = 2, .ph = 1, .pw = 1), 5);
    check_taps_weight_grad("grey 3x3 p1, 64 out", (struct ibp_shape){1, 9, 10},
                           L(.kind = IBP_LAYER_CONV2D, .out = 64, .kh = 3, .kw = 3, .ph = 1,
                             .pw = 1), 3);
    check_taps_weight_grad("two-channel 4x4 d2 p2, 32 taps, 32 out", (struct ibp_shape){2, 11, 12},
                           L(.kind = IBP_LAYER_CONV2D, .out = 32, .kh = 4, .kw = 4, .ph = 2,
                             .pw = 2, .dh = 2, .dw = 2), 4);
    check_taps_weight_grad("grey 2x2 s2x3 pad 3, 3 out", (struct ibp_shape){1, 9, 8},
                           L(.kind = IBP_LAYER_CONV2D, .out = 3, .kh = 2, .kw = 2, .sh = 2,
                             .sw = 3, .ph = 3, .pw = 3), 4);
}

int main(void)
{
    test_gemm();
    test_conv_paths();
    test_taps_weight_grad();
    return check_report();
}
