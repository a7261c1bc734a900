#include "nets/graph/net.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[IBP_LAYER_KIND_COUNT] = {
    [IBP_LAYER_NORMALIZE] = "normalize", [IBP_LAYER_LINEAR] = "linear",
    [IBP_LAYER_CONV2D] = "conv2d",       [IBP_LAYER_BATCHNORM] = "batchnorm",
    [IBP_LAYER_RELU] = "relu",           [IBP_LAYER_FLATTEN] = "flatten",
    [IBP_LAYER_ADD] = "add",             [IBP_LAYER_AVGPOOL] = "avgpool",
    [IBP_LAYER_MAXPOOL] = "maxpool",
};

const char *ibp_layer_kind_name(enum ibp_layer_kind kind)
{
    if ((unsigned)kind >= IBP_LAYER_KIND_COUNT)
        return "unknown";
    return kind_names[kind];
}

size_t ibp_shape_size(struct ibp_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

int ibp_net_outputs(const struct ibp_net *net)
{
    return (int)ibp_shape_size(net->shapes[net->n_layers]);
}

static int is_vector(struct ibp_shape s)
{
    return s.h == 1 && s.w == 1;
}

/* Output extent of a window op; 0 or negative when the window does not fit. */
static long window_out(int in, int pad, int kernel, int stride, int dilation)
{
    long span = (long)dilation * (kernel - 1) + 1;
    long padded = (long)in + 2L * pad;
    if (span > padded)
        return 0;
    return (padded - span) / stride + 1;
}

/* Resolves defaults of one spec (in place) and infers its output shape. */
static enum ibp_status infer_layer(int k, struct ibp_layer_spec *l, const struct ibp_shape *shapes,
                                   struct ibp_shape *out, struct ibp_error *err)
{
    const char *name = ibp_layer_kind_name(l->kind);
    int n_in = l->kind == IBP_LAYER_ADD ? 2 : 1;
    for (int i = 0; i < n_in; i++) {
        if (l->in[i] == IBP_PREV)
            l->in[i] = k;
        if (l->in[i] < 0 || l->in[i] > k)
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "layer %d (%s): input value %d is not an earlier value (0..%d)", k,
                            name, l->in[i], k);
    }
    if (n_in == 1)
        l->in[1] = 0;
    struct ibp_shape s = shapes[l->in[0]];
    switch (l->kind) {
    case IBP_LAYER_NORMALIZE:
    case IBP_LAYER_RELU:
    case IBP_LAYER_BATCHNORM:
        if (l->kind == IBP_LAYER_BATCHNORM && l->eps == 0.0f)
            l->eps = 1e-5f;
        if (l->kind == IBP_LAYER_BATCHNORM && !(l->eps > 0.0f))
            return ibp_fail(err, IBP_ERR_SHAPE, "layer %d (%s): eps %g must be positive", k,
                            name, (double)l->eps);
        *out = s;
        return IBP_OK;
    case IBP_LAYER_FLATTEN:
        *out = (struct ibp_shape){(int)ibp_shape_size(s), 1, 1};
        return IBP_OK;
    case IBP_LAYER_ADD: {
        struct ibp_shape t = shapes[l->in[1]];
        if (s.c != t.c || s.h != t.h || s.w != t.w)
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "layer %d (add): shapes %dx%dx%d (value %d) and %dx%dx%d (value %d) differ",
                            k, s.c, s.h, s.w, l->in[0], t.c, t.h, t.w, l->in[1]);
        *out = s;
        return IBP_OK;
    }
    case IBP_LAYER_LINEAR:
        if (!is_vector(s))
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "layer %d (linear): input is an image %dx%dx%d; add a flatten layer",
                            k, s.c, s.h, s.w);
        if (l->in_size && l->in_size != s.c)
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "layer %d (linear): expects %d input features, previous value has %d",
                            k, l->in_size, s.c);
        if (l->out <= 0)
            return ibp_fail(err, IBP_ERR_SHAPE, "layer %d (linear): %d output features", k,
                            l->out);
        l->in_size = s.c;
        *out = (struct ibp_shape){l->out, 1, 1};
        return IBP_OK;
    case IBP_LAYER_CONV2D:
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL: {
        int conv = l->kind == IBP_LAYER_CONV2D;
        if (l->sh == 0)
            l->sh = conv ? 1 : l->kh;
        if (l->sw == 0)
            l->sw = conv ? 1 : l->kw;
        if (l->dh == 0)
            l->dh = 1;
        if (l->dw == 0)
            l->dw = 1;
        if (l->groups == 0)
            l->groups = 1;
        if (!conv && (l->dh != 1 || l->dw != 1 || l->groups != 1))
            return ibp_fail(err, IBP_ERR_SHAPE, "layer %d (%s): dilation/groups not supported",
                            k, name);
        if (l->kh <= 0 || l->kw <= 0 || l->sh <= 0 || l->sw <= 0 || l->ph < 0 || l->pw < 0 ||
            l->dh <= 0 || l->dw <= 0 || l->groups <= 0)
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "layer %d (%s): kernel %dx%d stride %dx%d padding %dx%d dilation "
                            "%dx%d groups %d: sizes must be positive (padding >= 0)",
                            k, name, l->kh, l->kw, l->sh, l->sw, l->ph, l->pw, l->dh, l->dw,
                            l->groups);
        if (conv) {
            if (l->in_size && l->in_size != s.c)
                return ibp_fail(err, IBP_ERR_SHAPE,
                                "layer %d (conv2d): expects %d input channels, value %d has %d",
                                k, l->in_size, l->in[0], s.c);
            if (l->out <= 0)
                return ibp_fail(err, IBP_ERR_SHAPE, "layer %d (conv2d): %d output channels", k,
                                l->out);
            if (s.c % l->groups || l->out % l->groups)
                return ibp_fail(err, IBP_ERR_SHAPE,
                                "layer %d (conv2d): groups %d do not divide %d input and %d "
                                "output channels",
                                k, l->groups, s.c, l->out);
            l->in_size = s.c;
        }
        if (!conv && (2L * l->ph > l->kh || 2L * l->pw > l->kw))
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "layer %d (%s): padding %dx%d exceeds half the window %dx%d", k, name,
                            l->ph, l->pw, l->kh, l->kw);
        long oh = window_out(s.h, l->ph, l->kh, l->sh, l->dh);
        long ow = window_out(s.w, l->pw, l->kw, l->sw, l->dw);
        if (oh <= 0 || ow <= 0)
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "layer %d (%s): kernel %dx%d (dilation %dx%d) larger than padded "
                            "input %ldx%ld",
                            k, name, l->kh, l->kw, l->dh, l->dw, s.h + 2L * l->ph,
                            s.w + 2L * l->pw);
        if (oh > INT32_MAX || ow > INT32_MAX)
            return ibp_fail(err, IBP_ERR_SHAPE, "layer %d (%s): output %ldx%ld is too large", k,
                            name, oh, ow);
        *out = (struct ibp_shape){conv ? l->out : s.c, (int)oh, (int)ow};
        return IBP_OK;
    }
    }
    return ibp_fail(err, IBP_ERR_SHAPE, "layer %d: unknown kind %d", k, (int)l->kind);
}

size_t ibp_layer_param_count(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape in = net->shapes[l->in[0]];
    size_t bias = l->no_bias ? 0 : (size_t)l->out;
    switch (l->kind) {
    case IBP_LAYER_LINEAR:
        return (size_t)l->out * (size_t)in.c + bias;
    case IBP_LAYER_CONV2D:
        return (size_t)l->out * (size_t)(in.c / l->groups) * (size_t)l->kh * (size_t)l->kw + bias;
    case IBP_LAYER_BATCHNORM:
        return 2 * (size_t)in.c;
    default:
        return 0;
    }
}

size_t ibp_layer_buffer_count(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if (l->kind == IBP_LAYER_BATCHNORM || l->kind == IBP_LAYER_NORMALIZE)
        return 2 * (size_t)net->shapes[l->in[0]].c;
    return 0;
}

enum ibp_status ibp_net_create(struct ibp_shape input, const struct ibp_layer_spec *specs,
                               int n_layers, struct ibp_net **out, struct ibp_error *err)
{
    return ibp_net_create_capped(input, specs, n_layers, SIZE_MAX, out, err);
}

enum ibp_status ibp_net_create_capped(struct ibp_shape input, const struct ibp_layer_spec *specs,
                                      int n_layers, size_t max_values, struct ibp_net **out,
                                      struct ibp_error *err)
{
    *out = NULL;
    if (input.c <= 0 || input.h <= 0 || input.w <= 0)
        return ibp_fail(err, IBP_ERR_SHAPE, "input shape %dx%dx%d: sizes must be positive",
                        input.c, input.h, input.w);
    if (n_layers <= 0)
        return ibp_fail(err, IBP_ERR_SHAPE, "a network needs at least one layer");
    struct ibp_net *net = calloc(1, sizeof *net);
    if (!net)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory creating a network");
    net->input = input;
    net->n_layers = n_layers;
    net->layers = malloc((size_t)n_layers * sizeof *net->layers);
    net->shapes = malloc(((size_t)n_layers + 1) * sizeof *net->shapes);
    net->param_off = malloc((size_t)n_layers * sizeof *net->param_off);
    net->buffer_off = malloc((size_t)n_layers * sizeof *net->buffer_off);
    if (!net->layers || !net->shapes || !net->param_off || !net->buffer_off) {
        ibp_net_free(net);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory creating a network");
    }
    memcpy(net->layers, specs, (size_t)n_layers * sizeof *specs);
    net->shapes[0] = input;
    for (int k = 0; k < n_layers; k++) {
        enum ibp_status st = infer_layer(k, &net->layers[k], net->shapes, &net->shapes[k + 1], err);
        if (st != IBP_OK) {
            ibp_net_free(net);
            return st;
        }
        /* every tensor must be indexable with int in kernels and size_t in totals */
        if (ibp_shape_size(net->shapes[k + 1]) > (size_t)INT32_MAX / 4) {
            ibp_fail(err, IBP_ERR_SHAPE, "layer %d (%s): output of %zu elements is too large", k,
                     ibp_layer_kind_name(net->layers[k].kind), ibp_shape_size(net->shapes[k + 1]));
            ibp_net_free(net);
            return IBP_ERR_SHAPE;
        }
    }
    for (int k = 0; k < n_layers; k++) {
        net->param_off[k] = net->n_params;
        net->buffer_off[k] = net->n_buffers;
        net->n_params += ibp_layer_param_count(net, k);
        net->n_buffers += ibp_layer_buffer_count(net, k);
    }
    if (net->n_params > max_values || net->n_buffers > max_values - net->n_params) {
        ibp_fail(err, IBP_ERR_SHAPE,
                 "%zu parameters and %zu buffer values, more than the %zu values there are",
                 net->n_params, net->n_buffers, max_values);
        ibp_net_free(net);
        return IBP_ERR_SHAPE;
    }
    net->params = calloc(net->n_params ? net->n_params : 1, sizeof(float));
    net->buffers = calloc(net->n_buffers ? net->n_buffers : 1, sizeof(float));
    if (!net->params || !net->buffers) {
        ibp_fail(err, IBP_ERR_NOMEM, "out of memory for %zu parameters", net->n_params);
        ibp_net_free(net);
        return IBP_ERR_NOMEM;
    }
    for (int k = 0; k < n_layers; k++) {
        int c = net->shapes[net->layers[k].in[0]].c;
        if (net->layers[k].kind == IBP_LAYER_BATCHNORM) {
            float *g = ibp_bn_gamma(net, k), *rv = ibp_bn_running_var(net, k);
            for (int i = 0; i < c; i++)
                g[i] = rv[i] = 1.0f;
        } else if (net->layers[k].kind == IBP_LAYER_NORMALIZE) {
            float *sd = ibp_normalize_std(net, k);
            for (int i = 0; i < c; i++)
                sd[i] = 1.0f;
        }
    }
    *out = net;
    return IBP_OK;
}

void ibp_net_free(struct ibp_net *net)
{
    if (!net)
        return;
    free(net->layers);
    free(net->shapes);
    free(net->param_off);
    free(net->buffer_off);
    free(net->params);
    free(net->buffers);
    free(net);
}

enum ibp_status ibp_net_clone(const struct ibp_net *net, struct ibp_net **out,
                              struct ibp_error *err)
{
    enum ibp_status st = ibp_net_create(net->input, net->layers, net->n_layers, out, err);
    if (st != IBP_OK)
        return st;
    memcpy((*out)->params, net->params, net->n_params * sizeof(float));
    memcpy((*out)->buffers, net->buffers, net->n_buffers * sizeof(float));
    return IBP_OK;
}

static int in_channels(const struct ibp_net *net, int k)
{
    return net->shapes[net->layers[k].in[0]].c;
}

float *ibp_layer_weight(const struct ibp_net *net, int k)
{
    enum ibp_layer_kind kind = net->layers[k].kind;
    if (kind != IBP_LAYER_LINEAR && kind != IBP_LAYER_CONV2D)
        return NULL;
    return net->params + net->param_off[k];
}

float *ibp_layer_bias(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    if ((l->kind != IBP_LAYER_LINEAR && l->kind != IBP_LAYER_CONV2D) || l->no_bias)
        return NULL;
    return net->params + net->param_off[k] + ibp_layer_param_count(net, k) - (size_t)l->out;
}

float *ibp_bn_gamma(const struct ibp_net *net, int k)
{
    if (net->layers[k].kind != IBP_LAYER_BATCHNORM)
        return NULL;
    return net->params + net->param_off[k];
}

float *ibp_bn_beta(const struct ibp_net *net, int k)
{
    if (net->layers[k].kind != IBP_LAYER_BATCHNORM)
        return NULL;
    return net->params + net->param_off[k] + in_channels(net, k);
}

float *ibp_bn_running_mean(const struct ibp_net *net, int k)
{
    if (net->layers[k].kind != IBP_LAYER_BATCHNORM)
        return NULL;
    return net->buffers + net->buffer_off[k];
}

float *ibp_bn_running_var(const struct ibp_net *net, int k)
{
    if (net->layers[k].kind != IBP_LAYER_BATCHNORM)
        return NULL;
    return net->buffers + net->buffer_off[k] + in_channels(net, k);
}

float *ibp_normalize_mean(const struct ibp_net *net, int k)
{
    if (net->layers[k].kind != IBP_LAYER_NORMALIZE)
        return NULL;
    return net->buffers + net->buffer_off[k];
}

float *ibp_normalize_std(const struct ibp_net *net, int k)
{
    if (net->layers[k].kind != IBP_LAYER_NORMALIZE)
        return NULL;
    return net->buffers + net->buffer_off[k] + in_channels(net, k);
}

int ibp_net_count_kind(const struct ibp_net *net, enum ibp_layer_kind kind)
{
    int n = 0;
    for (int k = 0; k < net->n_layers; k++)
        n += net->layers[k].kind == kind;
    return n;
}

enum ibp_status ibp_net_check_finite(const struct ibp_net *net, struct ibp_error *err)
{
    for (int k = 0; k < net->n_layers; k++) {
        const char *name = ibp_layer_kind_name(net->layers[k].kind);
        const float *p = net->params + net->param_off[k];
        size_t np = ibp_layer_param_count(net, k);
        for (size_t i = 0; i < np; i++)
            if (!isfinite(p[i]))
                return ibp_fail(err, IBP_ERR_NUMERIC, "layer %d (%s): parameter %zu is %g", k,
                                name, i, (double)p[i]);
        const float *b = net->buffers + net->buffer_off[k];
        size_t nb = ibp_layer_buffer_count(net, k);
        for (size_t i = 0; i < nb; i++)
            if (!isfinite(b[i]))
                return ibp_fail(err, IBP_ERR_NUMERIC, "layer %d (%s): buffer %zu is %g", k, name,
                                i, (double)b[i]);
        int c = in_channels(net, k);
        if (net->layers[k].kind == IBP_LAYER_BATCHNORM) {
            const float *rv = ibp_bn_running_var(net, k);
            for (int i = 0; i < c; i++)
                if (!(rv[i] >= 0.0f))
                    return ibp_fail(err, IBP_ERR_NUMERIC,
                                    "layer %d (batchnorm): running_var[%d] = %g is negative", k, i,
                                    (double)rv[i]);
        } else if (net->layers[k].kind == IBP_LAYER_NORMALIZE) {
            const float *sd = ibp_normalize_std(net, k);
            for (int i = 0; i < c; i++)
                if (sd[i] == 0.0f)
                    return ibp_fail(err, IBP_ERR_NUMERIC, "layer %d (normalize): std[%d] is 0", k,
                                    i);
        }
    }
    return IBP_OK;
}

int ibp_net_box_value(const struct ibp_net *net)
{
    return net->n_layers > 0 && net->layers[0].kind == IBP_LAYER_NORMALIZE &&
                   net->layers[0].in[0] == 0
               ? 1
               : 0;
}
