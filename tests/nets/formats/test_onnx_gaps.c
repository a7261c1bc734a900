/* ONNX importer coverage beyond plain per-channel graphs, each model written here with
 * tests/common/onnx_builder and its import checked against the ONNX semantics computed
 * by hand in double precision (a naive convolution with the file's own padding, element
 * by element products): per-element affine maps (Mul/Add by a tensor of the activation's
 * shape, by one broadcast over channels or over the image), asymmetric padding where the
 * layers can hold it, and the clear errors where they cannot (an image after a
 * per-element map, a Reshape of a vector back into an image, asymmetric padding that
 * changes the windows, Concat). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/formats/onnx_import.h"
#include "tests/common/check.h"
#include "tests/common/onnx_builder.h"
#include "tests/common/ref_net.h"

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static double uniform(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) * 0x1p-53;
}

static float *rand_floats(size_t n, double lo, double hi)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)uniform(lo, hi);
    return v;
}

static struct ibp_net *import(struct ob *g, enum ibp_status want, const char *needle)
{
    uint8_t *data;
    size_t size;
    ob_model(g, 13, &data, &size);
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_onnx_load_buffer(data, size, "g.onnx", NULL, &net, NULL, &err);
    free(data);
    if (want == IBP_OK)
        CHECK_OK(st, err);
    else
        CHECK_MSG(st == want && !net && strstr(err.msg, needle) && !strchr(err.msg, '\n'),
                  "status %d, message '%s', want %d with '%s'", (int)st, err.msg, (int)want,
                  needle);
    return net;
}

static void check_kinds(const struct ibp_net *net, const char *want, const char *what)
{
    static const char letters[] = "NLCBRFAPM"; /* enum order */
    char got[64];
    int k;
    for (k = 0; k < net->n_layers && k < 63; k++)
        got[k] = letters[net->layers[k].kind];
    got[k] = '\0';
    CHECK_MSG(strcmp(got, want) == 0, "%s: layers %s, expected %s", what, got, want);
}

/* ONNX Conv, no bias: x[C][H][W] zero-padded by pt/pl (top/left) and pb/pr
 * (bottom/right), weights w[M][C][k][k], stride s; y[M][OH][OW]. */
static void conv_ref(const double *x, int C, int H, int W, const float *w, int M, int k,
                     int s, int pt, int pl, int pb, int pr, double *y, int *OH, int *OW)
{
    int oh = (H + pt + pb - k) / s + 1, ow = (W + pl + pr - k) / s + 1;
    for (int m = 0; m < M; m++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double acc = 0;
                for (int c = 0; c < C; c++)
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++) {
                            int r = i * s + a - pt, q = j * s + b - pl;
                            if (r >= 0 && r < H && q >= 0 && q < W)
                                acc += (double)w[((m * C + c) * k + a) * k + b] *
                                       x[(c * H + r) * W + q];
                        }
                y[(m * oh + i) * ow + j] = acc;
            }
    *OH = oh;
    *OW = ow;
}

/* Conv 1x1 -> Mul by a (1,C,H,W) tensor -> Add of a (1,1,H,W) tensor -> Mul by a
 * per-channel (C,1,1) tensor -> Relu -> Flatten -> Gemm; and on a vector (after a Gemm)
 * Mul by a (1,N) tensor. */
static void test_elementwise_affine(void)
{
    enum { C = 2, H = 3, W = 3, N = 4, O = 3 };
    struct ob g = {0}, n;
    float *wc = rand_floats(C * C, -1, 1), *A = rand_floats(C * H * W, 0.5, 2),
          *B = rand_floats(H * W, -0.5, 0.5), s[C] = {2.0f, -0.5f},
          *G = rand_floats(N * C * H * W, -1, 1), *V = rand_floats(N, -2, 2),
          *G2 = rand_floats(O * N, -1, 1);
    int64_t xd[4] = {1, C, H, W}, wd[4] = {C, C, 1, 1}, ad[4] = {1, C, H, W},
            bd[4] = {1, 1, H, W}, sd[3] = {C, 1, 1}, gd[2] = {N, C * H * W}, vd[2] = {1, N},
            g2d[2] = {O, N}, od[2] = {1, O};
    ob_init(&g, "Wc", 4, wd, wc, OB_RAW);
    ob_init(&g, "A", 4, ad, A, OB_RAW);
    ob_init(&g, "B", 4, bd, B, OB_RAW);
    ob_init(&g, "S", 3, sd, s, OB_RAW);
    ob_init(&g, "G", 2, gd, G, OB_RAW);
    ob_init(&g, "V", 2, vd, V, OB_RAW);
    ob_init(&g, "G2", 2, g2d, G2, OB_RAW);
    ob_node(&n, "Conv", "conv", NAMES("x", "Wc"), NAMES("c"));
    ob_node_end(&g, &n);
    ob_node(&n, "Mul", "mul_a", NAMES("c", "A"), NAMES("ca"));
    ob_node_end(&g, &n);
    ob_node(&n, "Add", "add_b", NAMES("B", "ca"), NAMES("cb"));
    ob_node_end(&g, &n);
    ob_node(&n, "Mul", "mul_s", NAMES("cb", "S"), NAMES("cs"));
    ob_node_end(&g, &n);
    ob_node(&n, "Relu", "relu", NAMES("cs"), NAMES("r"));
    ob_node_end(&g, &n);
    ob_node(&n, "Flatten", "flat", NAMES("r"), NAMES("f"));
    ob_node_end(&g, &n);
    ob_node(&n, "Gemm", "fc", NAMES("f", "G"), NAMES("h"));
    ob_attr_int(&n, "transB", 1);
    ob_node_end(&g, &n);
    ob_node(&n, "Mul", "mul_v", NAMES("h", "V"), NAMES("hv"));
    ob_node_end(&g, &n);
    ob_node(&n, "Gemm", "fc2", NAMES("hv", "G2"), NAMES("y"));
    ob_attr_int(&n, "transB", 1);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 2, od);
    struct ibp_net *net = import(&g, IBP_OK, NULL);
    if (net) {
        /* conv, flatten, a NORMALIZE for Mul by A and one for Add of B (which takes the
         * per-channel Mul into its std), relu, the Gemms and the Mul between them */
        check_kinds(net, "CFNNRLNL", "per-element affine");
        CHECK(net->input.c == C && net->input.h == H && net->input.w == W);
        for (int t = 0; t < 3; t++) {
            double x[C * H * W], c[C * H * W], h[N], y[O], got[O];
            for (int i = 0; i < C * H * W; i++)
                x[i] = uniform(-1, 1);
            for (int m = 0; m < C; m++)
                for (int p = 0; p < H * W; p++) {
                    double v = 0;
                    for (int ch = 0; ch < C; ch++)
                        v += (double)wc[m * C + ch] * x[ch * H * W + p];
                    v = (v * A[m * H * W + p] + B[p]) * s[m];
                    c[m * H * W + p] = v > 0 ? v : 0;
                }
            for (int o = 0; o < N; o++) {
                h[o] = 0;
                for (int i = 0; i < C * H * W; i++)
                    h[o] += (double)G[o * C * H * W + i] * c[i];
                h[o] *= V[o];
            }
            for (int o = 0; o < O; o++) {
                y[o] = 0;
                for (int i = 0; i < N; i++)
                    y[o] += (double)G2[o * N + i] * h[i];
            }
            CHECK(ref_forward(net, x, got) == 0);
            for (int o = 0; o < O; o++)
                CHECK_NEAR(got[o], y[o], 1e-5 * (1 + fabs(y[o])));
        }
        ibp_net_free(net);
    }
    free(wc);
    free(A);
    free(B);
    free(G);
    free(V);
    free(G2);
}

/* A per-element map on the input itself (x * A + B before a Gemm): the input is taken
 * as a vector, no flatten needed. */
static void test_input_affine(void)
{
    enum { C = 1, H = 2, W = 3, O = 2 };
    struct ob g = {0}, n;
    float *A = rand_floats(C * H * W, 0.5, 2), *B = rand_floats(C * H * W, -1, 1),
          *G = rand_floats(O * C * H * W, -1, 1);
    int64_t xd[4] = {1, C, H, W}, gd[2] = {O, C * H * W}, od[2] = {1, O};
    ob_init(&g, "A", 4, xd, A, OB_RAW);
    ob_init(&g, "B", 4, xd, B, OB_RAW);
    ob_init(&g, "G", 2, gd, G, OB_RAW);
    ob_node(&n, "Mul", "mul", NAMES("x", "A"), NAMES("a"));
    ob_node_end(&g, &n);
    ob_node(&n, "Sub", "sub", NAMES("a", "B"), NAMES("b"));
    ob_node_end(&g, &n);
    ob_node(&n, "Flatten", "flat", NAMES("b"), NAMES("f"));
    ob_node_end(&g, &n);
    ob_node(&n, "Gemm", "fc", NAMES("f", "G"), NAMES("y"));
    ob_attr_int(&n, "transB", 1);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 2, od);
    struct ibp_net *net = import(&g, IBP_OK, NULL);
    if (net) {
        check_kinds(net, "NNL", "input affine");
        double x[C * H * W], got[O];
        for (int i = 0; i < C * H * W; i++)
            x[i] = uniform(-1, 1);
        CHECK(ref_forward(net, x, got) == 0);
        for (int o = 0; o < O; o++) {
            double want = 0;
            for (int i = 0; i < C * H * W; i++)
                want += (double)G[o * C * H * W + i] * (x[i] * A[i] - B[i]);
            CHECK_NEAR(got[o], want, 1e-5 * (1 + fabs(want)));
        }
        ibp_net_free(net);
    }
    free(A);
    free(B);
    free(G);
}

/* x (1,C,H,W) -> [Pad pads] -> Conv k stride s [conv pads] -> Flatten: accepted when the
 * padding keeps the windows, compared with conv_ref on the asked padding; else want/needle. */
static void pad_case(int H, int W, int k, int s, const int64_t *pad_node, const int64_t *conv_pads,
                     enum ibp_status want, const char *needle, const char *what)
{
    enum { C = 2, M = 3 };
    struct ob g = {0}, n;
    float *w = rand_floats(M * C * k * k, -1, 1);
    int64_t xd[4] = {1, C, H, W}, wd[4] = {M, C, k, k};
    ob_init(&g, "W", 4, wd, w, OB_RAW);
    const char *conv_in = "x";
    if (pad_node) {
        ob_init_i64(&g, "pads", 8, pad_node);
        ob_node(&n, "Pad", "pad", NAMES("x", "pads"), NAMES("p"));
        ob_node_end(&g, &n);
        conv_in = "p";
    }
    ob_node(&n, "Conv", "conv", NAMES(conv_in, "W"), NAMES("c"));
    ob_attr_ints(&n, "strides", 2, (int64_t[]){s, s});
    if (conv_pads)
        ob_attr_ints(&n, "pads", 4, conv_pads);
    ob_node_end(&g, &n);
    ob_node(&n, "Flatten", "flat", NAMES("c"), NAMES("y"));
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 2, (int64_t[]){1, -1});
    struct ibp_net *net = import(&g, want, needle);
    if (net) {
        int pt = 0, pl = 0, pb = 0, pr = 0;
        if (pad_node) {
            pt += (int)pad_node[2], pl += (int)pad_node[3];
            pb += (int)pad_node[6], pr += (int)pad_node[7];
        }
        if (conv_pads) {
            pt += (int)conv_pads[0], pl += (int)conv_pads[1];
            pb += (int)conv_pads[2], pr += (int)conv_pads[3];
        }
        double x[C * 16 * 16], y[M * 16 * 16], got[M * 16 * 16];
        int oh, ow;
        for (int i = 0; i < C * H * W; i++)
            x[i] = uniform(-1, 1);
        conv_ref(x, C, H, W, w, M, k, s, pt, pl, pb, pr, y, &oh, &ow);
        CHECK_MSG(ibp_net_outputs(net) == M * oh * ow, "%s: %d outputs, want %d", what,
                  ibp_net_outputs(net), M * oh * ow);
        if (ibp_net_outputs(net) == M * oh * ow) {
            CHECK(ref_forward(net, x, got) == 0);
            double worst = 0;
            for (int i = 0; i < M * oh * ow; i++)
                worst = fmax(worst, fabs(got[i] - y[i]));
            CHECK_MSG(worst < 1e-5, "%s: forward differs by %g", what, worst);
        }
        ibp_net_free(net);
    }
    free(w);
}

static void test_asymmetric_pad(void)
{
    /* TF-style "pad the end" before a stride-2 conv whose last window does not reach it */
    pad_case(4, 4, 2, 2, (int64_t[]){0, 0, 0, 0, 0, 0, 1, 1}, NULL, IBP_OK, NULL, "end pad");
    /* begin 1, end 0 on both axes (conv pads): same windows as 1 on both sides */
    pad_case(4, 6, 3, 2, NULL, (int64_t[]){1, 1, 0, 0}, IBP_OK, NULL, "begin pad");
    /* a Pad node and the conv's own pads add up (begin 2, end 1) */
    pad_case(4, 6, 3, 2, (int64_t[]){0, 0, 1, 1, 0, 0, 0, 0}, (int64_t[]){1, 1, 1, 1}, IBP_OK,
             NULL, "pad plus pads");
    /* an end pad that makes one more window */
    pad_case(4, 4, 3, 1, NULL, (int64_t[]){0, 0, 1, 1}, IBP_ERR_UNSUPPORTED,
             "node 'conv' (op Conv): asymmetric padding 0/1 on axis 2 changes the windows",
             "extra window");
    pad_case(5, 5, 3, 2, (int64_t[]){0, 0, 0, 2, 0, 0, 0, 0}, NULL, IBP_ERR_UNSUPPORTED,
             "asymmetric padding 2/0 on axis 3", "begin pad, one window more");

    /* a pool in ceil_mode may put its last window past the padding: refused */
    struct ob g = {0}, n;
    int64_t xd[4] = {1, 1, 4, 4};
    ob_node(&n, "AveragePool", "pool", NAMES("x"), NAMES("y"));
    ob_attr_ints(&n, "kernel_shape", 2, (int64_t[]){2, 2});
    ob_attr_ints(&n, "strides", 2, (int64_t[]){2, 2});
    ob_attr_ints(&n, "pads", 4, (int64_t[]){0, 0, 1, 1});
    ob_attr_int(&n, "ceil_mode", 1);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 4, (int64_t[]){1, 1, 2, 2});
    import(&g, IBP_ERR_UNSUPPORTED,
           "node 'pool' (op AveragePool): asymmetric padding 0/1 with ceil_mode");
}

/* The layer set has no unflatten and no concatenation: these are one clear error each. */
static void test_no_layer_for_it(void)
{
    struct ob g = {0}, n;
    float A[2 * 2 * 2], w[2 * 2 * 1 * 1], G[8 * 4];
    for (int i = 0; i < 8; i++)
        A[i] = 1.0f + 0.125f * (float)i;
    for (int i = 0; i < 4; i++)
        w[i] = 0.5f;
    for (int i = 0; i < 32; i++)
        G[i] = 0.01f * (float)i;
    int64_t xd[4] = {1, 2, 2, 2}, wd[4] = {2, 2, 1, 1};

    /* a per-element map, then a Conv */
    ob_init(&g, "A", 4, xd, A, OB_RAW);
    ob_init(&g, "W", 4, wd, w, OB_RAW);
    ob_node(&n, "Conv", "c1", NAMES("x", "W"), NAMES("c"));
    ob_node_end(&g, &n);
    ob_node(&n, "Mul", "m", NAMES("c", "A"), NAMES("cm"));
    ob_node_end(&g, &n);
    ob_node(&n, "Conv", "c2", NAMES("cm", "W"), NAMES("y"));
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 4, xd);
    import(&g, IBP_ERR_UNSUPPORTED, "node 'c2' (op Conv): input 2x2x2 is held as 8x1x1");

    /* Gemm -> Reshape to an image -> Conv (PyTorch's Unflatten) */
    memset(&g, 0, sizeof g);
    ob_init(&g, "G", 2, (int64_t[]){8, 4}, G, OB_RAW);
    ob_init(&g, "W", 4, wd, w, OB_RAW);
    ob_init_i64(&g, "shape", 4, (int64_t[]){1, 2, 2, 2});
    ob_node(&n, "Gemm", "fc", NAMES("x", "G"), NAMES("h"));
    ob_attr_int(&n, "transB", 1);
    ob_node_end(&g, &n);
    ob_node(&n, "Reshape", "unflatten", NAMES("h", "shape"), NAMES("hi"));
    ob_node_end(&g, &n);
    ob_node(&n, "Conv", "c", NAMES("hi", "W"), NAMES("y"));
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 2, (int64_t[]){1, 4});
    ob_value(&g, 12, "y", 4, xd);
    import(&g, IBP_ERR_UNSUPPORTED, "node 'c' (op Conv): input 2x2x2 is held as 8x1x1 (a "
                                    "reshape into an image would need an unflatten layer)");

    /* Concat along channels */
    memset(&g, 0, sizeof g);
    ob_node(&n, "Relu", "r", NAMES("x"), NAMES("r"));
    ob_node_end(&g, &n);
    ob_node(&n, "Concat", "cat", NAMES("x", "r"), NAMES("y"));
    ob_attr_int(&n, "axis", 1);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 4, (int64_t[]){1, 4, 2, 2});
    import(&g, IBP_ERR_UNSUPPORTED,
           "node 'cat' (op Concat): unsupported operator (the network layers have no "
           "concatenation)");
}

int main(void)
{
    test_elementwise_affine();
    test_input_affine();
    test_asymmetric_pad();
    test_no_layer_for_it();
    return check_report();
}
