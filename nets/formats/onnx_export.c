#include "nets/formats/onnx_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/bytes.h"
#include "nets/base/file_io.h"

/* ---- protobuf writer on a growing buffer (an allocation failure sticks in failed) ---- */

static void put_varint(struct ibp_wbuf *w, uint64_t v)
{
    uint8_t b[10];
    int n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    ibp_wbuf_bytes(w, b, (size_t)n);
}

static void put_uint(struct ibp_wbuf *w, uint32_t field, uint64_t v)
{
    put_varint(w, (uint64_t)field << 3 | 0);
    put_varint(w, v);
}

static void put_bytes(struct ibp_wbuf *w, uint32_t field, const void *data, size_t n)
{
    put_varint(w, (uint64_t)field << 3 | 2);
    put_varint(w, n);
    ibp_wbuf_bytes(w, data, n);
}

static void put_str(struct ibp_wbuf *w, uint32_t field, const char *s)
{
    put_bytes(w, field, s, strlen(s));
}

static void put_float(struct ibp_wbuf *w, uint32_t field, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint8_t b[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                    (uint8_t)(bits >> 24)};
    put_varint(w, (uint64_t)field << 3 | 5);
    ibp_wbuf_bytes(w, b, 4);
}

/* Appends sub as a length-delimited field and frees it. */
static void put_msg(struct ibp_wbuf *w, uint32_t field, struct ibp_wbuf *sub)
{
    if (sub->failed)
        w->failed = 1;
    else
        put_bytes(w, field, sub->data, sub->len);
    free(sub->data);
    memset(sub, 0, sizeof *sub);
}

/* ---- ONNX messages ---- */

/* A float32 initializer (TensorProto) with raw little-endian data. */
static void put_tensor(struct ibp_wbuf *graph, const char *name, int rank, const int64_t *dims,
                       const float *x)
{
    struct ibp_wbuf t = {0};
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        put_uint(&t, 1, (uint64_t)dims[i]);
        n *= (size_t)dims[i];
    }
    put_uint(&t, 2, 1); /* FLOAT */
    put_str(&t, 8, name);
    put_varint(&t, 9 << 3 | 2);
    put_varint(&t, n * 4);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        uint8_t b[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16),
                        (uint8_t)(bits >> 24)};
        ibp_wbuf_bytes(&t, b, 4);
    }
    put_msg(graph, 5, &t);
}

/* An int64 initializer (for Reshape shapes). */
static void put_int64_tensor(struct ibp_wbuf *graph, const char *name, int n, const int64_t *v)
{
    struct ibp_wbuf t = {0};
    put_uint(&t, 1, (uint64_t)n);
    put_uint(&t, 2, 7); /* INT64 */
    for (int i = 0; i < n; i++)
        put_uint(&t, 7, (uint64_t)v[i]);
    put_str(&t, 8, name);
    put_msg(graph, 5, &t);
}

static void attr_int(struct ibp_wbuf *node, const char *name, int64_t v)
{
    struct ibp_wbuf a = {0};
    put_str(&a, 1, name);
    put_uint(&a, 3, (uint64_t)v);
    put_uint(&a, 20, 2); /* INT */
    put_msg(node, 5, &a);
}

static void attr_float(struct ibp_wbuf *node, const char *name, float v)
{
    struct ibp_wbuf a = {0};
    put_str(&a, 1, name);
    put_float(&a, 2, v);
    put_uint(&a, 20, 1); /* FLOAT */
    put_msg(node, 5, &a);
}

static void attr_ints(struct ibp_wbuf *node, const char *name, int n, const int64_t *v)
{
    struct ibp_wbuf a = {0};
    put_str(&a, 1, name);
    for (int i = 0; i < n; i++)
        put_uint(&a, 8, (uint64_t)v[i]);
    put_uint(&a, 20, 7); /* INTS */
    put_msg(node, 5, &a);
}

/* Starts a node message; inputs NULL-terminated. */
static void node_begin(struct ibp_wbuf *n, const char *op, const char *name, const char *out,
                       const char *const *in)
{
    memset(n, 0, sizeof *n);
    for (; *in; in++)
        put_str(n, 1, *in);
    put_str(n, 2, out);
    put_str(n, 3, name);
    put_str(n, 4, op);
}

static void put_value_info(struct ibp_wbuf *graph, uint32_t field, const char *name, int rank,
                           const int64_t *dims)
{
    struct ibp_wbuf shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        struct ibp_wbuf dim = {0};
        put_uint(&dim, 1, (uint64_t)dims[i]);
        put_msg(&shape, 1, &dim);
    }
    put_uint(&tensor, 1, 1); /* FLOAT */
    put_msg(&tensor, 2, &shape);
    put_msg(&type, 1, &tensor);
    put_str(&vi, 1, name);
    put_msg(&vi, 2, &type);
    put_msg(graph, field, &vi);
}

/* ---- the graph ---- */

#define NAME_LEN 48

struct exporter {
    const struct ibp_net *net;
    struct ibp_wbuf graph;
    int *rank4;                 /* [n_layers + 1]: value v's ONNX tensor is 4-D */
    char (*names)[NAME_LEN];    /* [n_layers + 1]: value v's ONNX tensor name */
};

/* The name of value v as a tensor of the wanted rank (4 or 2), adding a Reshape or
 * Flatten node when the value currently has the other rank. */
static const char *value_as(struct exporter *ex, int v, int want4, char *buf)
{
    if (ex->rank4[v] == want4)
        return ex->names[v];
    struct ibp_shape s = ex->net->shapes[v];
    struct ibp_wbuf n;
    char node_name[NAME_LEN + 8];
    snprintf(buf, NAME_LEN, "%s_r%d", ex->names[v], want4 ? 4 : 2);
    snprintf(node_name, sizeof node_name, "%s_node", buf);
    if (want4) {
        char shape_name[NAME_LEN + 8];
        snprintf(shape_name, sizeof shape_name, "%s_shape", buf);
        int64_t shape[4] = {1, s.c, s.h, s.w};
        put_int64_tensor(&ex->graph, shape_name, 4, shape);
        const char *in[] = {ex->names[v], shape_name, NULL};
        node_begin(&n, "Reshape", node_name, buf, in);
    } else {
        const char *in[] = {ex->names[v], NULL};
        node_begin(&n, "Flatten", node_name, buf, in);
        attr_int(&n, "axis", 1);
    }
    put_msg(&ex->graph, 1, &n);
    return buf;
}

/* A per-channel constant shaped [C,1,1] (4-D data) or [C] (2-D data). */
static void put_channel_const(struct exporter *ex, const char *name, int c, int rank4,
                              const float *x)
{
    int64_t dims[3] = {c, 1, 1};
    put_tensor(&ex->graph, name, rank4 ? 3 : 1, dims, x);
}

static void export_layer(struct exporter *ex, int k)
{
    const struct ibp_net *net = ex->net;
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]];
    int v = k + 1, r4 = ex->rank4[l->in[0]];
    char node_name[NAME_LEN], pname[NAME_LEN + 16], bname[NAME_LEN + 16], tmp[NAME_LEN];
    char tmp2[NAME_LEN];
    const char *x = ex->names[l->in[0]];
    const char *out = ex->names[v];
    struct ibp_wbuf n = {0};
    snprintf(node_name, sizeof node_name, "layer%d_%s", k, ibp_layer_kind_name(l->kind));
    switch (l->kind) {
    case IBP_LAYER_NORMALIZE: {
        char mid[NAME_LEN + 8];
        snprintf(pname, sizeof pname, "layer%d.mean", k);
        snprintf(bname, sizeof bname, "layer%d.std", k);
        snprintf(mid, sizeof mid, "%s_sub", node_name);
        put_channel_const(ex, pname, in.c, r4, ibp_normalize_mean(net, k));
        put_channel_const(ex, bname, in.c, r4, ibp_normalize_std(net, k));
        const char *in1[] = {x, pname, NULL};
        node_begin(&n, "Sub", mid, mid, in1);
        put_msg(&ex->graph, 1, &n);
        const char *in2[] = {mid, bname, NULL};
        node_begin(&n, "Div", node_name, out, in2);
        ex->rank4[v] = r4;
        break;
    }
    case IBP_LAYER_LINEAR: {
        x = value_as(ex, l->in[0], 0, tmp);
        snprintf(pname, sizeof pname, "layer%d.weight", k);
        snprintf(bname, sizeof bname, "layer%d.bias", k);
        int64_t wd[2] = {l->out, in.c};
        put_tensor(&ex->graph, pname, 2, wd, ibp_layer_weight(net, k));
        if (!l->no_bias)
            put_tensor(&ex->graph, bname, 1, wd, ibp_layer_bias(net, k));
        const char *ins[] = {x, pname, l->no_bias ? NULL : bname, NULL};
        node_begin(&n, "Gemm", node_name, out, ins);
        attr_int(&n, "transB", 1);
        ex->rank4[v] = 0;
        break;
    }
    case IBP_LAYER_CONV2D: {
        x = value_as(ex, l->in[0], 1, tmp);
        snprintf(pname, sizeof pname, "layer%d.weight", k);
        snprintf(bname, sizeof bname, "layer%d.bias", k);
        int64_t wd[4] = {l->out, in.c / l->groups, l->kh, l->kw};
        put_tensor(&ex->graph, pname, 4, wd, ibp_layer_weight(net, k));
        if (!l->no_bias)
            put_tensor(&ex->graph, bname, 1, wd, ibp_layer_bias(net, k));
        const char *ins[] = {x, pname, l->no_bias ? NULL : bname, NULL};
        node_begin(&n, "Conv", node_name, out, ins);
        int64_t ks[2] = {l->kh, l->kw}, st[2] = {l->sh, l->sw}, dl[2] = {l->dh, l->dw};
        int64_t pads[4] = {l->ph, l->pw, l->ph, l->pw};
        attr_ints(&n, "kernel_shape", 2, ks);
        attr_ints(&n, "strides", 2, st);
        attr_ints(&n, "pads", 4, pads);
        attr_ints(&n, "dilations", 2, dl);
        attr_int(&n, "group", l->groups);
        ex->rank4[v] = 1;
        break;
    }
    case IBP_LAYER_BATCHNORM: {
        const char *names[4] = {"scale", "bias", "mean", "var"};
        const float *vals[4] = {ibp_bn_gamma(net, k), ibp_bn_beta(net, k),
                                ibp_bn_running_mean(net, k), ibp_bn_running_var(net, k)};
        char pn[4][NAME_LEN + 16];
        for (int i = 0; i < 4; i++) {
            int64_t c = in.c;
            snprintf(pn[i], sizeof pn[i], "layer%d.%s", k, names[i]);
            put_tensor(&ex->graph, pn[i], 1, &c, vals[i]);
        }
        const char *ins[] = {x, pn[0], pn[1], pn[2], pn[3], NULL};
        node_begin(&n, "BatchNormalization", node_name, out, ins);
        attr_float(&n, "epsilon", l->eps);
        ex->rank4[v] = r4;
        break;
    }
    case IBP_LAYER_RELU: {
        const char *ins[] = {x, NULL};
        node_begin(&n, "Relu", node_name, out, ins);
        ex->rank4[v] = r4;
        break;
    }
    case IBP_LAYER_FLATTEN: {
        const char *ins[] = {x, NULL};
        node_begin(&n, "Flatten", node_name, out, ins);
        attr_int(&n, "axis", 1);
        ex->rank4[v] = 0;
        break;
    }
    case IBP_LAYER_ADD: {
        int want4 = ex->rank4[l->in[0]] || ex->rank4[l->in[1]];
        const char *a = value_as(ex, l->in[0], want4, tmp);
        const char *b = value_as(ex, l->in[1], want4, tmp2);
        const char *ins[] = {a, b, NULL};
        node_begin(&n, "Add", node_name, out, ins);
        ex->rank4[v] = want4;
        break;
    }
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL: {
        x = value_as(ex, l->in[0], 1, tmp);
        const char *ins[] = {x, NULL};
        int avg = l->kind == IBP_LAYER_AVGPOOL;
        node_begin(&n, avg ? "AveragePool" : "MaxPool", node_name, out, ins);
        int64_t ks[2] = {l->kh, l->kw}, st[2] = {l->sh, l->sw};
        int64_t pads[4] = {l->ph, l->pw, l->ph, l->pw};
        attr_ints(&n, "kernel_shape", 2, ks);
        attr_ints(&n, "strides", 2, st);
        attr_ints(&n, "pads", 4, pads);
        if (avg)
            attr_int(&n, "count_include_pad", l->count_pad);
        ex->rank4[v] = 1;
        break;
    }
    }
    put_msg(&ex->graph, 1, &n);
}

enum ibp_status ibp_onnx_export_buffer(const struct ibp_net *net, uint8_t **data, size_t *size,
                                       struct ibp_error *err)
{
    *data = NULL;
    *size = 0;
    struct exporter ex;
    memset(&ex, 0, sizeof ex);
    ex.net = net;
    ex.rank4 = calloc((size_t)net->n_layers + 1, sizeof *ex.rank4);
    ex.names = calloc((size_t)net->n_layers + 1, sizeof *ex.names);
    if (!ex.rank4 || !ex.names) {
        free(ex.rank4);
        free(ex.names);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory exporting ONNX");
    }
    int spatial = net->input.h != 1 || net->input.w != 1 ||
                  ibp_net_count_kind(net, IBP_LAYER_CONV2D) ||
                  ibp_net_count_kind(net, IBP_LAYER_AVGPOOL) ||
                  ibp_net_count_kind(net, IBP_LAYER_MAXPOOL);
    ex.rank4[0] = spatial;
    snprintf(ex.names[0], NAME_LEN, "input");
    for (int v = 1; v <= net->n_layers; v++)
        snprintf(ex.names[v], NAME_LEN, v == net->n_layers ? "output" : "v%d", v);
    put_str(&ex.graph, 2, "ibp");
    for (int k = 0; k < net->n_layers; k++)
        export_layer(&ex, k);
    struct ibp_shape s = net->input, o = net->shapes[net->n_layers];
    int64_t in_dims[4] = {1, s.c, s.h, s.w}, vec_dims[2] = {1, s.c};
    if (spatial)
        put_value_info(&ex.graph, 11, "input", 4, in_dims);
    else
        put_value_info(&ex.graph, 11, "input", 2, vec_dims);
    int64_t out4[4] = {1, o.c, o.h, o.w}, out2[2] = {1, o.c};
    if (ex.rank4[net->n_layers])
        put_value_info(&ex.graph, 12, "output", 4, out4);
    else
        put_value_info(&ex.graph, 12, "output", 2, out2);
    free(ex.rank4);
    free(ex.names);

    struct ibp_wbuf model = {0}, opset = {0};
    put_uint(&model, 1, 7); /* IR version of opset 13 */
    put_str(&model, 2, "ibp");
    put_msg(&model, 7, &ex.graph);
    put_str(&opset, 1, "");
    put_uint(&opset, 2, 13);
    put_msg(&model, 8, &opset);
    if (model.failed) {
        free(model.data);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory exporting ONNX");
    }
    *data = model.data;
    *size = model.len;
    return IBP_OK;
}

enum ibp_status ibp_onnx_export(const struct ibp_net *net, const char *path,
                                struct ibp_error *err)
{
    uint8_t *data;
    size_t size;
    enum ibp_status st = ibp_onnx_export_buffer(net, &data, &size, err);
    if (st == IBP_OK)
        st = ibp_file_write_atomic(path, data, size, err);
    free(data);
    return st;
}
