#include "nets/graph/zoo.h"

#include <string.h>

enum { MAX_LAYERS = 64 };

struct builder {
    struct ibp_layer_spec s[MAX_LAYERS];
    int n;
};

static int add(struct builder *b, struct ibp_layer_spec l)
{
    if (l.in[0] == 0 && l.kind != IBP_LAYER_ADD)
        l.in[0] = IBP_PREV;
    b->s[b->n++] = l;
    return b->n; /* value index of this layer's output */
}

static void conv_bn_relu(struct builder *b, int out, int k, int stride, int pad)
{
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .out = out, .kh = k, .kw = k,
                                   .sh = stride, .sw = stride, .ph = pad, .pw = pad});
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_RELU});
}

static void linear(struct builder *b, int out, int bn_relu)
{
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_LINEAR, .out = out});
    if (bn_relu) {
        add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
        add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_RELU});
    }
}

/* BasicBlock: conv-BN-ReLU-conv-BN + shortcut (identity or 1x1 conv + BN), add, ReLU */
static void basic_block(struct builder *b, int in_v, int in_c, int out_c, int stride)
{
    b->s[b->n] = (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .in = {in_v}, .out = out_c,
                                         .kh = 3, .kw = 3, .sh = stride, .sw = stride, .ph = 1,
                                         .pw = 1};
    b->n++;
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_RELU});
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .out = out_c, .kh = 3, .kw = 3,
                                   .ph = 1, .pw = 1});
    int main_v = add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
    int short_v = in_v;
    if (stride != 1 || in_c != out_c) {
        b->s[b->n] = (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .in = {in_v}, .out = out_c,
                                             .kh = 1, .kw = 1, .sh = stride, .sw = stride};
        b->n++;
        short_v = add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
    }
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_ADD, .in = {main_v, short_v}});
    add(b, (struct ibp_layer_spec){.kind = IBP_LAYER_RELU});
}

const char *ibp_zoo_names(void)
{
    return "cnn7, wrn8, cnn-small, cnn-small-nobn, mlp";
}

enum ibp_status ibp_zoo_create(const char *name, struct ibp_shape input, int classes,
                               const struct ibp_zoo_options *opt, const float *mean,
                               const float *std, struct ibp_net **out, struct ibp_error *err)
{
    *out = NULL;
    if (classes < 2)
        return ibp_fail(err, IBP_ERR_ARG, "model %s: %d classes (need at least 2)", name, classes);
    struct ibp_zoo_options o = opt ? *opt : (struct ibp_zoo_options){0};
    struct builder b = {.n = 0};
    add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_NORMALIZE});
    if (strcmp(name, "cnn7") == 0) {
        int w = o.width ? o.width : 64, h = o.hidden ? o.hidden : 512;
        conv_bn_relu(&b, w, 3, 1, 1);
        conv_bn_relu(&b, w, 3, 1, 1);
        conv_bn_relu(&b, 2 * w, 3, 2, 1);
        conv_bn_relu(&b, 2 * w, 3, 1, 1);
        conv_bn_relu(&b, 2 * w, 3, 1, 1);
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_FLATTEN});
        linear(&b, h, 1);
        linear(&b, classes, 0);
    } else if (strcmp(name, "wrn8") == 0) {
        int h = o.hidden ? o.hidden : 512;
        conv_bn_relu(&b, 16, 3, 1, 1);
        basic_block(&b, b.n, 16, 128, 1);
        basic_block(&b, b.n, 128, 256, 2);
        basic_block(&b, b.n, 256, 512, 2);
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_FLATTEN});
        linear(&b, h, 1);
        linear(&b, classes, 0);
    } else if (strcmp(name, "cnn-small") == 0 || strcmp(name, "cnn-small-nobn") == 0) {
        int bn = strcmp(name, "cnn-small") == 0;
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .out = 16, .kh = 4, .kw = 4,
                                        .sh = 2, .sw = 2, .ph = 1, .pw = 1});
        if (bn)
            add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_RELU});
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_CONV2D, .out = 32, .kh = 4, .kw = 4,
                                        .sh = 2, .sw = 2, .ph = 1, .pw = 1});
        if (bn)
            add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_RELU});
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_FLATTEN});
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_LINEAR, .out = 100});
        if (bn)
            add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_BATCHNORM});
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_RELU});
        linear(&b, classes, 0);
    } else if (strcmp(name, "mlp") == 0) {
        int h = o.hidden ? o.hidden : 256, d = o.depth ? o.depth : 2;
        if (d > 16)
            return ibp_fail(err, IBP_ERR_ARG, "model mlp: depth %d (at most 16)", d);
        add(&b, (struct ibp_layer_spec){.kind = IBP_LAYER_FLATTEN});
        for (int i = 0; i < d; i++)
            linear(&b, h, 1);
        linear(&b, classes, 0);
    } else {
        return ibp_fail(err, IBP_ERR_ARG, "unknown model '%s'; known: %s", name, ibp_zoo_names());
    }
    enum ibp_status st = ibp_net_create(input, b.s, b.n, out, err);
    if (st != IBP_OK)
        return st;
    for (int c = 0; c < input.c; c++) {
        ibp_normalize_mean(*out, 0)[c] = mean ? mean[c] : 0.0f;
        ibp_normalize_std(*out, 0)[c] = std ? std[c] : 1.0f;
    }
    return IBP_OK;
}
