/* ONNX import/export: export->import round trips, hand-written graphs for each operator
 * form (checked against networks built directly or formulas), error messages, and
 * truncated / bit-flipped files (fuzz-style). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/common/ref_net.h"
#include "nets/formats/onnx_export.h"
#include "nets/formats/onnx_import.h"
#include "tests/common/onnx_builder.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

static uint64_t rng = 88172645463325252ULL;

static double uniform(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

static void fill_random(struct ibp_net *net)
{
    for (size_t i = 0; i < net->n_params; i++)
        net->params[i] = (float)uniform(-0.5, 0.5);
    for (int k = 0; k < net->n_layers; k++) {
        int c = net->shapes[net->layers[k].in[0]].c;
        float *m = ibp_bn_running_mean(net, k), *v = ibp_bn_running_var(net, k);
        if (!m) {
            m = ibp_normalize_mean(net, k);
            v = ibp_normalize_std(net, k);
        }
        for (int i = 0; m && i < c; i++) {
            m[i] = (float)uniform(-0.3, 0.3);
            v[i] = (float)uniform(0.5, 1.5);
        }
    }
}

static struct ibp_net *make(struct ibp_shape in, const struct ibp_layer_spec *l, int n)
{
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_net_create(in, l, n, &net, &err);
    CHECK_OK(st, err);
    return net;
}

/* Largest |a(x) - b(x)| over a few random inputs (same input size). */
static double max_diff(const struct ibp_net *a, const struct ibp_net *b)
{
    size_t n = ibp_shape_size(a->input);
    int m = ibp_net_outputs(a);
    if (n != ibp_shape_size(b->input) || m != ibp_net_outputs(b))
        return INFINITY;
    double *x = malloc(n * sizeof *x), *ya = malloc((size_t)m * sizeof *ya);
    double *yb = malloc((size_t)m * sizeof *yb), worst = 0.0;
    for (int t = 0; t < 5; t++) {
        for (size_t i = 0; i < n; i++)
            x[i] = uniform(-1, 1);
        if (ref_forward(a, x, ya) || ref_forward(b, x, yb))
            worst = INFINITY;
        for (int j = 0; j < m; j++)
            worst = fmax(worst, fabs(ya[j] - yb[j]));
    }
    free(x);
    free(ya);
    free(yb);
    return worst;
}

static struct ibp_net *import(const uint8_t *data, size_t size, struct ibp_onnx_info *info)
{
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_onnx_load_buffer(data, size, "t.onnx", NULL, &net, info, &err);
    CHECK_OK(st, err);
    return net;
}

static void kinds(const struct ibp_net *net, char *buf)
{
    static const char letters[] = "NLCBRFAPM"; /* enum order */
    int k;
    for (k = 0; k < net->n_layers; k++)
        buf[k] = letters[net->layers[k].kind];
    buf[k] = '\0';
}

static void check_kinds(const struct ibp_net *net, const char *want, const char *what)
{
    char got[64];
    kinds(net, got);
    CHECK_MSG(strcmp(got, want) == 0, "%s: layers %s, expected %s", what, got, want);
}

/* ---- export -> import ---- */

static uint8_t *roundtrip(const struct ibp_net *net, const char *what, size_t *size_out)
{
    uint8_t *data = NULL;
    size_t size = 0;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_onnx_export_buffer(net, &data, &size, &err);
    CHECK_OK(st, err);
    if (st != IBP_OK)
        return NULL;
    struct ibp_onnx_info info;
    struct ibp_net *back = import(data, size, &info);
    if (back) {
        char a[64], b[64];
        kinds(net, a);
        kinds(back, b);
        CHECK_MSG(strcmp(a, b) == 0, "%s: layers %s came back as %s", what, a, b);
        CHECK(back->n_params == net->n_params && back->n_buffers == net->n_buffers);
        if (back->n_params == net->n_params && back->n_buffers == net->n_buffers) {
            CHECK(memcmp(back->params, net->params, net->n_params * sizeof(float)) == 0);
            CHECK(memcmp(back->buffers, net->buffers, net->n_buffers * sizeof(float)) == 0);
        }
        for (int k = 0; k < net->n_layers && k < back->n_layers; k++) {
            const struct ibp_layer_spec *p = &net->layers[k], *q = &back->layers[k];
            CHECK_MSG(p->kind == q->kind && p->in[0] == q->in[0] && p->in[1] == q->in[1] &&
                          p->out == q->out && p->kh == q->kh && p->kw == q->kw &&
                          p->sh == q->sh && p->sw == q->sw && p->ph == q->ph && p->pw == q->pw &&
                          p->dh == q->dh && p->dw == q->dw && p->groups == q->groups &&
                          p->no_bias == q->no_bias && p->eps == q->eps &&
                          (p->kind != IBP_LAYER_AVGPOOL || p->count_pad == q->count_pad),
                      "%s: layer %d differs", what, k);
        }
        double d = max_diff(net, back);
        CHECK_MSG(d <= 1e-6, "%s: outputs differ by %g", what, d);
        CHECK(info.opset == 13 && info.n_outputs == ibp_net_outputs(net));
        ibp_net_free(back);
    }
    if (size_out) {
        *size_out = size;
        return data;
    }
    free(data);
    return NULL;
}

static struct ibp_net *cnn(void)
{
    struct ibp_layer_spec l[14];
    memset(l, 0, sizeof l);
    for (int k = 0; k < 14; k++)
        l[k].in[0] = IBP_PREV;
    l[0].kind = IBP_LAYER_NORMALIZE;
    l[1] = (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 8,
                                   .kh = 3, .kw = 3, .ph = 1, .pw = 1};
    l[2].kind = IBP_LAYER_BATCHNORM;
    l[3].kind = IBP_LAYER_RELU;
    l[4] = (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 6,
                                   .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 2, .pw = 1,
                                   .dh = 2, .dw = 1, .groups = 2, .no_bias = 1};
    l[5].kind = IBP_LAYER_BATCHNORM;
    l[5].eps = 1e-3f;
    l[6].kind = IBP_LAYER_RELU;
    l[7] = (struct ibp_layer_spec){.kind = IBP_LAYER_AVGPOOL, .in = {IBP_PREV}, .kh = 2,
                                   .kw = 2, .ph = 1, .pw = 1, .count_pad = 1};
    l[8] = (struct ibp_layer_spec){.kind = IBP_LAYER_MAXPOOL, .in = {IBP_PREV}, .kh = 2,
                                   .kw = 2, .sh = 1, .sw = 1};
    l[9].kind = IBP_LAYER_FLATTEN;
    l[10] = (struct ibp_layer_spec){.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 16};
    l[11].kind = IBP_LAYER_BATCHNORM;
    l[12].kind = IBP_LAYER_RELU;
    l[13] = (struct ibp_layer_spec){.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 10};
    struct ibp_net *net = make((struct ibp_shape){3, 8, 8}, l, 14);
    if (net)
        fill_random(net);
    return net;
}

static void test_roundtrip(void)
{
    struct ibp_net *net = cnn();
    if (net) {
        roundtrip(net, "cnn", NULL);
        /* through a file: temporary + rename */
        char dir[256], path[300];
        CHECK(tu_mkdtemp(dir, sizeof dir, "onnx") == 0);
        snprintf(path, sizeof path, "%s/m.onnx", dir);
        struct ibp_error err = {0};
        CHECK_OK(ibp_onnx_export(net, path, &err), err);
        struct ibp_net *back = NULL;
        CHECK_OK(ibp_onnx_load(path, NULL, &back, NULL, &err), err);
        if (back) {
            CHECK(max_diff(net, back) <= 1e-6);
            ibp_net_free(back);
        }
        unlink(path);
        rmdir(dir);
        ibp_net_free(net);
    }
    /* residual block: conv, relu, conv, add, relu, pooled head */
    struct ibp_layer_spec r[8] = {
        {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1},
        {.kind = IBP_LAYER_ADD, .in = {2, 3}},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_AVGPOOL, .in = {IBP_PREV}, .kh = 3, .kw = 3, .sh = 3, .sw = 3},
        {.kind = IBP_LAYER_FLATTEN, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 5, .no_bias = 1},
    };
    if ((net = make((struct ibp_shape){4, 6, 6}, r, 8))) {
        fill_random(net);
        roundtrip(net, "residual", NULL);
        ibp_net_free(net);
    }
    /* vector input */
    struct ibp_layer_spec m[4] = {
        {.kind = IBP_LAYER_NORMALIZE, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 8},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 3},
    };
    if ((net = make((struct ibp_shape){6, 1, 1}, m, 4))) {
        fill_random(net);
        roundtrip(net, "mlp", NULL);
        ibp_net_free(net);
    }
}

/* ---- hand-written graphs ---- */

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static float *rand_floats(size_t n)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)uniform(-1, 1);
    return v;
}

/* Models kept as seeds for the fuzz test (hand-written graphs use every operator). */
#define MAX_SEEDS 8
static uint8_t *seeds[MAX_SEEDS];
static size_t seed_sizes[MAX_SEEDS];
static int n_seeds;

static struct ibp_net *build_and_import(struct ob *g, int64_t opset, struct ibp_onnx_info *info)
{
    uint8_t *data;
    size_t size;
    ob_model(g, opset, &data, &size);
    struct ibp_net *net = import(data, size, info);
    if (n_seeds < MAX_SEEDS) {
        seeds[n_seeds] = data;
        seed_sizes[n_seeds++] = size;
    } else {
        free(data);
    }
    return net;
}

/* Gemm with alpha, beta, transA (after a Reshape fed by a Constant) and no transB. */
static void test_gemm(void)
{
    struct ob g = {0}, n;
    float *B = rand_floats(12), C[3] = {0.5f, -1.0f, 2.0f};
    int64_t in_dims[2] = {1, 4}, bd[2] = {4, 3}, cd[1] = {3}, shape[2] = {4, 1}, od[2] = {1, 3};
    ob_init(&g, "B", 2, bd, B, OB_FLOAT_DATA);
    ob_init(&g, "C", 1, cd, C, OB_DOUBLE_DATA);
    ob_node(&n, "Constant", "shape", NAMES(""), NAMES("s"));
    ob_attr_tensor_i64(&n, "value", 2, shape);
    ob_node_end(&g, &n);
    ob_node(&n, "Reshape", "r", NAMES("x", "s"), NAMES("xc"));
    ob_node_end(&g, &n);
    ob_node(&n, "Gemm", "g", NAMES("xc", "B", "C"), NAMES("y"));
    ob_attr_int(&n, "transA", 1);
    ob_attr_float(&n, "alpha", 2.0f);
    ob_attr_float(&n, "beta", 0.5f);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "B", 2, bd); /* an initializer listed as input is not an input */
    ob_value(&g, 11, "x", 2, in_dims);
    ob_value(&g, 12, "y", 2, od);
    struct ibp_onnx_info info;
    struct ibp_net *net = build_and_import(&g, 13, &info);
    if (net) {
        check_kinds(net, "L", "gemm");
        CHECK(strcmp(info.input_name, "x") == 0 && info.n_inputs == 4 && info.n_outputs == 3);
        double x[4] = {0.1, -0.2, 0.3, 0.7}, y[3];
        CHECK(ref_forward(net, x, y) == 0);
        for (int o = 0; o < 3; o++) {
            double want = 0.5 * C[o];
            for (int i = 0; i < 4; i++)
                want += 2.0 * B[i * 3 + o] * x[i];
            CHECK_NEAR(y[o], want, 1e-6);
        }
        ibp_net_free(net);
    }
    free(B);
}

/* MatMul with the constant on the left and a rank-1 input; the Add folds into the bias. */
static void test_matmul_left(void)
{
    struct ob g = {0}, n;
    float *A = rand_floats(12), b[3] = {0.25f, -0.5f, 1.0f};
    int64_t ad[2] = {3, 4}, bd[1] = {3}, xd[1] = {4};
    ob_init(&g, "A", 2, ad, A, OB_RAW);
    ob_init(&g, "b", 1, bd, b, OB_RAW);
    ob_node(&n, "MatMul", NULL, NAMES("A", "x"), NAMES("m"));
    ob_node_end(&g, &n);
    ob_node(&n, "Add", NULL, NAMES("b", "m"), NAMES("a"));
    ob_node_end(&g, &n);
    ob_node(&n, "Relu", NULL, NAMES("a"), NAMES("y"));
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 1, xd);
    ob_value(&g, 12, "y", 1, bd);
    struct ibp_net *net = build_and_import(&g, 14, NULL);
    if (net) {
        check_kinds(net, "LR", "matmul");
        double x[4] = {1, -1, 0.5, 2}, y[3];
        CHECK(ref_forward(net, x, y) == 0);
        for (int o = 0; o < 3; o++) {
            double s = b[o];
            for (int i = 0; i < 4; i++)
                s += (double)A[o * 4 + i] * x[i];
            CHECK_NEAR(y[o], s > 0 ? s : 0, 1e-6);
        }
        ibp_net_free(net);
    }
    free(A);
}

/* ERAN-style NHWC flatten: Transpose(0,2,3,1) + Reshape(1,-1) before Gemm(transB). */
static void test_nhwc_flatten(void)
{
    struct ob g = {0}, n;
    float *W = rand_floats(5 * 18), *c = rand_floats(5);
    int64_t xd[4] = {-1, 2, 3, 3}, wd[2] = {5, 18}, cd[1] = {5}, shape[2] = {1, -1},
            perm[4] = {0, 2, 3, 1}, od[2] = {1, 5};
    ob_init(&g, "W", 2, wd, W, OB_RAW);
    ob_init(&g, "c", 1, cd, c, OB_RAW);
    ob_init_i64(&g, "shape", 2, shape);
    ob_node(&n, "Transpose", "t", NAMES("x"), NAMES("xt"));
    ob_attr_ints(&n, "perm", 4, perm);
    ob_node_end(&g, &n);
    ob_node(&n, "Reshape", "r", NAMES("xt", "shape"), NAMES("xf"));
    ob_node_end(&g, &n);
    ob_node(&n, "Gemm", "g", NAMES("xf", "W", "c"), NAMES("y"));
    ob_attr_int(&n, "transB", 1);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd); /* symbolic batch */
    ob_value(&g, 12, "y", 2, od);
    struct ibp_net *net = build_and_import(&g, 11, NULL);
    if (net) {
        check_kinds(net, "FL", "nhwc");
        CHECK(net->input.c == 2 && net->input.h == 3 && net->input.w == 3);
        double x[18], y[5];
        for (int i = 0; i < 18; i++)
            x[i] = uniform(-1, 1);
        CHECK(ref_forward(net, x, y) == 0);
        for (int o = 0; o < 5; o++) {
            double s = c[o];
            for (int h = 0; h < 3; h++)
                for (int w = 0; w < 3; w++)
                    for (int ch = 0; ch < 2; ch++)
                        s += (double)W[o * 18 + (h * 3 + w) * 2 + ch] * x[ch * 9 + h * 3 + w];
            CHECK_NEAR(y[o], s, 1e-6);
        }
        ibp_net_free(net);
    }
    free(W);
    free(c);
}

/* Normalisation prologue (Sub, Div), Pad merged into Conv, per-channel Add folded into the
 * conv bias, AveragePool, trailing Flatten; compared with the same network built directly. */
static void test_prologue_conv(void)
{
    struct ob g = {0}, n;
    float mean[3] = {0.1f, 0.2f, 0.3f}, sd[3] = {0.5f, 0.25f, 2.0f};
    float *W = rand_floats(4 * 3 * 9), *bias = rand_floats(4);
    int64_t xd[4] = {1, 3, 5, 5}, md[4] = {1, 3, 1, 1}, wd[4] = {4, 3, 3, 3},
            bd[4] = {1, 4, 1, 1}, pads[8] = {0, 0, 1, 1, 0, 0, 1, 1}, k2[2] = {2, 2},
            od[2] = {1, 16};
    ob_init(&g, "mean", 4, md, mean, OB_RAW);
    ob_init(&g, "std", 4, md, sd, OB_RAW);
    ob_init(&g, "W", 4, wd, W, OB_RAW);
    ob_init(&g, "bias", 4, bd, bias, OB_RAW);
    ob_init_i64(&g, "pads", 8, pads);
    ob_node(&n, "Sub", "sub", NAMES("x", "mean"), NAMES("a"));
    ob_node_end(&g, &n);
    ob_node(&n, "Div", "div", NAMES("a", "std"), NAMES("b"));
    ob_node_end(&g, &n);
    ob_node(&n, "Pad", "pad", NAMES("b", "pads"), NAMES("p"));
    ob_attr_str(&n, "mode", "constant");
    ob_node_end(&g, &n);
    ob_node(&n, "Conv", "conv", NAMES("p", "W"), NAMES("c"));
    ob_node_end(&g, &n);
    ob_node(&n, "Add", "badd", NAMES("c", "bias"), NAMES("cb"));
    ob_node_end(&g, &n);
    ob_node(&n, "Relu", "relu", NAMES("cb"), NAMES("r"));
    ob_node_end(&g, &n);
    ob_node(&n, "AveragePool", "pool", NAMES("r"), NAMES("q"));
    ob_attr_ints(&n, "kernel_shape", 2, k2);
    ob_attr_ints(&n, "strides", 2, k2);
    ob_node_end(&g, &n);
    ob_node(&n, "Flatten", "flat", NAMES("q"), NAMES("y"));
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 2, od);
    struct ibp_net *net = build_and_import(&g, 13, NULL);
    struct ibp_layer_spec l[4] = {
        {.kind = IBP_LAYER_NORMALIZE, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 3, .kw = 3, .ph = 1, .pw = 1},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_AVGPOOL, .in = {IBP_PREV}, .kh = 2, .kw = 2},
    };
    struct ibp_net *ref = make((struct ibp_shape){3, 5, 5}, l, 4);
    if (net && ref) {
        check_kinds(net, "NCRP", "prologue");
        memcpy(ibp_normalize_mean(ref, 0), mean, sizeof mean);
        memcpy(ibp_normalize_std(ref, 0), sd, sizeof sd);
        memcpy(ibp_layer_weight(ref, 1), W, 4 * 27 * sizeof *W);
        memcpy(ibp_layer_bias(ref, 1), bias, 4 * sizeof *bias);
        CHECK(max_diff(net, ref) <= 1e-9);
    }
    ibp_net_free(net);
    ibp_net_free(ref);
    free(W);
    free(bias);
}

/* Opset 9: Conv with auto_pad SAME_UPPER, BatchNormalization (epsilon), Mul and c - x in
 * the middle, MaxPool, GlobalAveragePool, Dropout, Identity, Gemm. */
static void test_midgraph(void)
{
    struct ob g = {0}, n;
    float *W = rand_floats(2 * 2 * 9), *b = rand_floats(2), *G = rand_floats(3 * 2);
    float bn[4][2] = {{1.5f, 0.5f}, {0.1f, -0.2f}, {0.3f, -0.1f}, {0.8f, 1.2f}};
    float half = 0.5f, one = 1.0f;
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {2, 2, 3, 3}, cd[1] = {2}, gd[2] = {3, 2},
            k2[2] = {2, 2}, od[2] = {1, 3};
    ob_init(&g, "W", 4, wd, W, OB_RAW);
    ob_init(&g, "b", 1, cd, b, OB_RAW);
    ob_init(&g, "G", 2, gd, G, OB_RAW);
    const char *bn_names[4] = {"gamma", "beta", "mean", "var"};
    for (int i = 0; i < 4; i++)
        ob_init(&g, bn_names[i], 1, cd, bn[i], OB_RAW);
    ob_init(&g, "half", 0, NULL, &half, OB_RAW);
    ob_init(&g, "one", 0, NULL, &one, OB_RAW);
    ob_node(&n, "Conv", "conv", NAMES("x", "W", "b"), NAMES("c"));
    ob_attr_str(&n, "auto_pad", "SAME_UPPER");
    ob_node_end(&g, &n);
    ob_node(&n, "BatchNormalization", "bn", NAMES("c", "gamma", "beta", "mean", "var"),
            NAMES("d"));
    ob_attr_float(&n, "epsilon", 1e-3f);
    ob_node_end(&g, &n);
    ob_node(&n, "Mul", "mul", NAMES("d", "half"), NAMES("e"));
    ob_node_end(&g, &n);
    ob_node(&n, "Sub", "rsub", NAMES("one", "e"), NAMES("f"));
    ob_node_end(&g, &n);
    ob_node(&n, "Relu", "relu", NAMES("f"), NAMES("r"));
    ob_node_end(&g, &n);
    ob_node(&n, "Dropout", "drop", NAMES("r"), NAMES("rd", "mask"));
    ob_node_end(&g, &n);
    ob_node(&n, "MaxPool", "mp", NAMES("rd"), NAMES("m"));
    ob_attr_ints(&n, "kernel_shape", 2, k2);
    ob_attr_ints(&n, "strides", 2, k2);
    ob_node_end(&g, &n);
    ob_node(&n, "GlobalAveragePool", "gap", NAMES("m"), NAMES("ga"));
    ob_node_end(&g, &n);
    ob_node(&n, "Flatten", "fl", NAMES("ga"), NAMES("gf"));
    ob_node_end(&g, &n);
    ob_node(&n, "Identity", "id", NAMES("gf"), NAMES("gi"));
    ob_node_end(&g, &n);
    ob_node(&n, "Gemm", "fc", NAMES("gi", "G"), NAMES("y"));
    ob_attr_int(&n, "transB", 1);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 2, od);
    struct ibp_net *net = build_and_import(&g, 9, NULL);
    struct ibp_layer_spec l[9] = {
        {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 2, .kh = 3, .kw = 3, .ph = 1, .pw = 1},
        {.kind = IBP_LAYER_BATCHNORM, .in = {IBP_PREV}, .eps = 1e-3f},
        {.kind = IBP_LAYER_NORMALIZE, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_NORMALIZE, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_MAXPOOL, .in = {IBP_PREV}, .kh = 2, .kw = 2},
        {.kind = IBP_LAYER_AVGPOOL, .in = {IBP_PREV}, .kh = 2, .kw = 2},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 3, .no_bias = 1},
    };
    struct ibp_net *ref = make((struct ibp_shape){2, 4, 4}, l, 8);
    if (net && ref) {
        check_kinds(net, "CBNNRMPL", "midgraph");
        CHECK(net->layers[1].eps == 1e-3f);
        memcpy(ibp_layer_weight(ref, 0), W, 36 * sizeof *W);
        memcpy(ibp_layer_bias(ref, 0), b, 2 * sizeof *b);
        memcpy(ibp_bn_gamma(ref, 1), bn[0], sizeof bn[0]);
        memcpy(ibp_bn_beta(ref, 1), bn[1], sizeof bn[1]);
        memcpy(ibp_bn_running_mean(ref, 1), bn[2], sizeof bn[2]);
        memcpy(ibp_bn_running_var(ref, 1), bn[3], sizeof bn[3]);
        float two[2] = {2, 2}, m1[2] = {-1, -1}, ones[2] = {1, 1};
        memcpy(ibp_normalize_std(ref, 2), two, sizeof two);
        memcpy(ibp_normalize_mean(ref, 3), ones, sizeof ones);
        memcpy(ibp_normalize_std(ref, 3), m1, sizeof m1);
        memcpy(ibp_layer_weight(ref, 7), G, 6 * sizeof *G);
        CHECK(max_diff(net, ref) <= 1e-9);
    }
    ibp_net_free(net);
    ibp_net_free(ref);
    free(W);
    free(b);
    free(G);
}

/* Sub of two data tensors (ADD of a negation) and Reshape with a 0 entry. */
static void test_data_sub(void)
{
    struct ob g = {0}, n;
    float *W = rand_floats(9);
    int64_t xd[2] = {1, 3}, wd[2] = {3, 3}, shape[2] = {0, -1};
    ob_init(&g, "W", 2, wd, W, OB_RAW);
    ob_init_i64(&g, "shape", 2, shape);
    ob_node(&n, "MatMul", "mm", NAMES("x", "W"), NAMES("h"));
    ob_node_end(&g, &n);
    ob_node(&n, "Relu", "r", NAMES("h"), NAMES("hr"));
    ob_node_end(&g, &n);
    ob_node(&n, "Sub", "s", NAMES("h", "hr"), NAMES("d"));
    ob_node_end(&g, &n);
    ob_node(&n, "Reshape", "rs", NAMES("d", "shape"), NAMES("y"));
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 2, xd);
    ob_value(&g, 12, "y", 2, xd);
    struct ibp_net *net = build_and_import(&g, 17, NULL);
    if (net) {
        check_kinds(net, "LRNA", "data sub");
        double x[3] = {0.3, -0.9, 0.4}, y[3];
        CHECK(ref_forward(net, x, y) == 0);
        for (int o = 0; o < 3; o++) {
            double h = 0;
            for (int i = 0; i < 3; i++)
                h += (double)W[i * 3 + o] * x[i];
            CHECK_NEAR(y[o], h < 0 ? h : 0, 1e-9);
        }
        ibp_net_free(net);
    }
    free(W);
}

/* Import failure whose message contains `needle`. */
static void import_fails(struct ob *g, int64_t opset, enum ibp_status want, const char *needle)
{
    uint8_t *data;
    size_t size;
    ob_model(g, opset, &data, &size);
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_onnx_load_buffer(data, size, "t.onnx", NULL, &net, NULL, &err);
    free(data);
    CHECK_MSG(st == want && net == NULL, "status %d (%s), expected %d", (int)st, err.msg,
              (int)want);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
    ibp_net_free(net);
}

/* A one-node graph x -> op -> y on a (1,2,4,4) input. */
static void one_node(struct ob *g, const char *op, const char *name)
{
    struct ob n;
    int64_t xd[4] = {1, 2, 4, 4};
    memset(g, 0, sizeof *g);
    ob_node(&n, op, name, NAMES("x"), NAMES("y"));
    ob_node_end(g, &n);
    ob_value(g, 11, "x", 4, xd);
    ob_value(g, 12, "y", 4, xd);
}

static void test_errors(void)
{
    struct ob g, n;
    one_node(&g, "Sigmoid", "n7");
    import_fails(&g, 13, IBP_ERR_UNSUPPORTED, "t.onnx: node 'n7' (op Sigmoid): unsupported operator");
    one_node(&g, "Relu", "r");
    import_fails(&g, 7, IBP_ERR_UNSUPPORTED, "opset 7");
    one_node(&g, "Relu", "r");
    import_fails(&g, 18, IBP_ERR_UNSUPPORTED, "opset 18");
    one_node(&g, "Identity", "i");
    import_fails(&g, 13, IBP_ERR_UNSUPPORTED, "does not depend on the input through any layer");

    one_node(&g, "Relu", "r");
    ob_node(&n, "Mul", "m", NAMES("y", "y"), NAMES("z"));
    ob_node_end(&g, &n);
    import_fails(&g, 13, IBP_ERR_UNSUPPORTED, "node 'm' (op Mul): product or quotient");

    one_node(&g, "Relu", "r");
    ob_node(&n, "Relu", "q", NAMES("nope"), NAMES("z"));
    ob_node_end(&g, &n);
    import_fails(&g, 13, IBP_ERR_FORMAT, "input 'nope' is not defined");

    float w[2 * 2 * 4];
    int64_t wd[4] = {2, 2, 2, 2}, pads[4] = {0, 0, 1, 1};
    for (int i = 0; i < 16; i++)
        w[i] = 0.1f * (float)i;
    memset(&g, 0, sizeof g);
    ob_init(&g, "W", 4, wd, w, OB_RAW);
    ob_node(&n, "Conv", "c", NAMES("x", "W"), NAMES("y"));
    ob_attr_ints(&n, "pads", 4, pads);
    ob_node_end(&g, &n);
    int64_t xd[4] = {1, 2, 4, 4};
    ob_value(&g, 11, "x", 4, xd);
    ob_value(&g, 12, "y", 4, xd);
    import_fails(&g, 13, IBP_ERR_UNSUPPORTED, "node 'c' (op Conv): asymmetric padding");

    /* a branch that does not reach the output */
    one_node(&g, "Relu", "r");
    ob_node(&n, "Relu", "dead", NAMES("x"), NAMES("z"));
    ob_node_end(&g, &n);
    import_fails(&g, 13, IBP_ERR_UNSUPPORTED, "not the last layer");

    /* not protobuf at all / empty */
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    const uint8_t junk[] = "hello, world";
    CHECK(ibp_onnx_load_buffer(junk, sizeof junk - 1, "j.onnx", NULL, &net, NULL, &err) ==
          IBP_ERR_FORMAT);
    CHECK(strstr(err.msg, "j.onnx: malformed protobuf") != NULL);
    CHECK(ibp_onnx_load_buffer(junk, 0, "e.onnx", NULL, &net, NULL, &err) == IBP_ERR_FORMAT);
    CHECK(strstr(err.msg, "no graph") != NULL);
    CHECK(ibp_onnx_load("/nonexistent/m.onnx", NULL, &net, NULL, &err) == IBP_ERR_IO);
}

static void test_norm_option(void)
{
    struct ob g;
    one_node(&g, "Relu", "r");
    uint8_t *data;
    size_t size;
    ob_model(&g, 13, &data, &size);
    float mean[2] = {0.5f, 0.25f}, sd[2] = {2.0f, 4.0f};
    struct ibp_onnx_options opt = {2, mean, sd};
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    CHECK_OK(ibp_onnx_load_buffer(data, size, "n.onnx", &opt, &net, NULL, &err), err);
    if (net) {
        check_kinds(net, "NR", "norm option");
        CHECK(ibp_normalize_mean(net, 0)[1] == 0.25f && ibp_normalize_std(net, 0)[0] == 2.0f);
        ibp_net_free(net);
    }
    opt.n_norm = 3;
    CHECK(ibp_onnx_load_buffer(data, size, "n.onnx", &opt, &net, NULL, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "3 normalisation values for an input of 2 channels") != NULL);
    free(data);
}

/* ---- fuzz-style ---- */

static void gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&zs, (uLong)n) + 32;
    *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = *out;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    *out_n = cap - zs.avail_out;
    deflateEnd(&zs);
}

/* Loads a corrupted buffer: success gives a consistent network, failure a message. */
static int try_load(const uint8_t *data, size_t size, int *ok)
{
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_onnx_load_buffer(data, size, "fuzz.onnx", NULL, &net, NULL, &err);
    if (st == IBP_OK) {
        (*ok)++;
        int good = net != NULL && ibp_net_outputs(net) > 0;
        ibp_net_free(net);
        return good;
    }
    return net == NULL && err.msg[0] != '\0' && strncmp(err.msg, "fuzz.onnx", 9) == 0;
}

/* Every truncation (coarse steps) and a few thousand bit flips of a model. */
static int fuzz_model(const uint8_t *data, size_t size, int flips, int *ok, int *runs)
{
    int good = 1;
    uint8_t *buf = malloc(size);
    size_t step = size / 1500 + 1;
    for (size_t len = 0; len < size; len += step, (*runs)++) {
        memcpy(buf, data, len);
        good &= try_load(buf, len, ok);
    }
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ size;
    for (int it = 0; it < flips; it++, (*runs)++) {
        memcpy(buf, data, size);
        for (int k = 0; k < 1 + it % 2; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(s >> 33) % size;
            buf[pos] ^= (uint8_t)(1u << ((s >> 20) % 8));
        }
        good &= try_load(buf, size, ok);
    }
    free(buf);
    return good;
}

static void test_fuzz(void)
{
    struct ibp_net *net = cnn();
    if (!net)
        return;
    size_t size;
    uint8_t *data = roundtrip(net, "fuzz seed", &size);
    ibp_net_free(net);
    if (!data)
        return;
    int good = 1, ok = 0, runs = 0;
    good &= fuzz_model(data, size, 4000, &ok, &runs);
    CHECK(ok > 0); /* flips inside weights still give a valid model */
    for (int i = 0; i < n_seeds; i++) {
        int prefix_ok = 0, prefix_runs = 0;
        for (size_t len = 0; len < seed_sizes[i]; len++, prefix_runs++)
            good &= try_load(seeds[i], len, &prefix_ok);
        CHECK_MSG(prefix_ok == 0, "seed %d: a proper prefix imported", i);
        runs += prefix_runs;
        good &= fuzz_model(seeds[i], seed_sizes[i], 1500, &ok, &runs);
    }
    uint8_t *gz;
    size_t gz_n;
    gzip(data, size, &gz, &gz_n);
    for (size_t len = 0; len < gz_n; len += gz_n / 200 + 1, runs++)
        good &= try_load(gz, len, &ok);
    int whole = 0;
    CHECK(try_load(gz, gz_n, &whole) && whole == 1);
    CHECK(good);
    printf("onnx fuzz: %d corrupted or truncated loads, %d imported\n", runs, ok);
    free(gz);
    free(data);
    for (int i = 0; i < n_seeds; i++)
        free(seeds[i]);
}

int main(void)
{
    test_roundtrip();
    test_gemm();
    test_matmul_left();
    test_nhwc_flatten();
    test_prologue_conv();
    test_midgraph();
    test_data_sub();
    test_errors();
    test_norm_option();
    test_fuzz();
    return check_report();
}
