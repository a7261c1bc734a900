/* net.h — a network: a graph of layers with shapes inferred from the input shape.
 *
 * A network is built from an array of layer specs (struct ibp_layer_spec) and an input
 * shape. Values are numbered: value 0 is the network input, value k (k >= 1) is the
 * output of layer k-1. Each layer reads one value (two for ADD) with a smaller index,
 * so the array is already in topological order and the last layer's output is the
 * network's output.
 *
 * Parameters (trainable: weights, biases, BatchNorm gamma/beta) live in one allocation
 * `params`; non-trainable state (BatchNorm running mean/var, Normalize mean/std) in one
 * allocation `buffers`. Their layouts are PyTorch's, so files and other frameworks map
 * one to one:
 *   LINEAR     W[out][in], b[out]
 *   CONV2D     W[out][in/groups][kh][kw], b[out]
 *   BATCHNORM  params gamma[c], beta[c]; buffers running_mean[c], running_var[c]
 *   NORMALIZE  buffers mean[c], std[c]          (y = (x - mean) / std per channel)
 *
 * A network is read-only while passes run; all scratch lives in a workspace
 * (passes.h), so one network can serve several threads. */
#ifndef IBP_NET_H
#define IBP_NET_H

#include <stddef.h>

#include "nets/base/status.h"

/* Per-sample shape. A vector of n features is (n, 1, 1). */
struct ibp_shape {
    int c, h, w;
};

enum ibp_layer_kind {
    IBP_LAYER_NORMALIZE, /* per-channel (x - mean) / std */
    IBP_LAYER_LINEAR,    /* input must be a vector (after FLATTEN) */
    IBP_LAYER_CONV2D,    /* stride, padding (zeros), dilation, groups */
    IBP_LAYER_BATCHNORM, /* per channel; 1d on vectors, 2d on images */
    IBP_LAYER_RELU,
    IBP_LAYER_FLATTEN,   /* (c,h,w) -> (c*h*w,1,1) in c-major (PyTorch) order */
    IBP_LAYER_ADD,       /* residual add of two values of the same shape */
    IBP_LAYER_AVGPOOL,   /* window kh x kw, stride, zero padding */
    IBP_LAYER_MAXPOOL,   /* window kh x kw, stride, padding ignored in the max */
};
#define IBP_LAYER_KIND_COUNT 9

/* Marks "the previous layer's output" in ibp_layer_spec.in[]. */
#define IBP_PREV (-1)

/* One layer. Zero-initialise and set what the kind uses; zero stride/dilation/groups
 * mean 1, zero eps means 1e-5. */
struct ibp_layer_spec {
    enum ibp_layer_kind kind;
    int in[2];       /* input value indices (IBP_PREV: previous layer); in[1] for ADD */
    int out;         /* LINEAR: out_features; CONV2D: out_channels */
    int in_size;     /* optional check, 0 = infer: LINEAR in_features, CONV2D in_channels */
    int kh, kw;      /* CONV2D kernel, pooling window */
    int sh, sw;      /* CONV2D / pooling stride (pooling: 0 means the window size) */
    int ph, pw;      /* zero padding, both sides */
    int dh, dw;      /* CONV2D dilation */
    int groups;      /* CONV2D groups */
    int no_bias;     /* LINEAR / CONV2D: 1 for no bias */
    int count_pad;   /* AVGPOOL: 1 = padded zeros count in the average (PyTorch default) */
    float eps;       /* BATCHNORM: variance epsilon (0 means 1e-5) */
};

struct ibp_net {
    struct ibp_shape input;        /* per-sample input shape (C, H, W) */
    int n_layers;
    struct ibp_layer_spec *layers; /* [n_layers], defaults resolved, in[] absolute */
    struct ibp_shape *shapes;      /* [n_layers + 1]: shapes[v] is value v's shape */
    size_t n_params;
    float *params;                 /* [n_params], trainable, one allocation */
    size_t n_buffers;
    float *buffers;                /* [n_buffers], BN running stats, Normalize mean/std */
    size_t *param_off;             /* [n_layers]: offset of layer k's params */
    size_t *buffer_off;            /* [n_layers]: offset of layer k's buffers */
};

/* Builds a network: resolves defaults, infers and checks every shape, allocates
 * params and buffers. Parameters start at zero except BN gamma = 1, running_var = 1,
 * Normalize std = 1 (initialise with init.h). On failure *out is NULL and err names
 * the layer ("layer 3 (conv2d): kernel 5x5 larger than padded input 4x4").
 * The net owns copies of specs; free it with ibp_net_free. */
enum ibp_status ibp_net_create(struct ibp_shape input, const struct ibp_layer_spec *specs,
                               int n_layers, struct ibp_net **out, struct ibp_error *err);

/* As ibp_net_create, for readers of untrusted files: fails with IBP_ERR_SHAPE ("N
 * parameters and M buffer values, more than the X values there are"), before allocating
 * them, when the architecture has more than max_values parameters and buffer values
 * together (a reader passes how many its file can still hold). */
enum ibp_status ibp_net_create_capped(struct ibp_shape input, const struct ibp_layer_spec *specs,
                                      int n_layers, size_t max_values, struct ibp_net **out,
                                      struct ibp_error *err);

void ibp_net_free(struct ibp_net *net);

/* A deep copy (same specs, params and buffers). */
enum ibp_status ibp_net_clone(const struct ibp_net *net, struct ibp_net **out,
                              struct ibp_error *err);

/* Elements per sample of a shape, and of the network's output. */
size_t ibp_shape_size(struct ibp_shape s);
int ibp_net_outputs(const struct ibp_net *net);

/* The value whose box the bound methods start from: 1 when the net begins with a
 * NORMALIZE of its input (an element-wise affine map whose bounds are exactly the
 * normalised box), else 0 (the input). */
int ibp_net_box_value(const struct ibp_net *net);

/* Lower-case kind name ("conv2d"), for messages and files. */
const char *ibp_layer_kind_name(enum ibp_layer_kind kind);

/* Parameter and buffer counts of layer k (by kind and shapes). */
size_t ibp_layer_param_count(const struct ibp_net *net, int k);
size_t ibp_layer_buffer_count(const struct ibp_net *net, int k);

/* Accessors into params/buffers for layer k (NULL when the layer has no such tensor).
 * Weight sizes: LINEAR out*in, CONV2D out*(in/groups)*kh*kw. */
float *ibp_layer_weight(const struct ibp_net *net, int k);
float *ibp_layer_bias(const struct ibp_net *net, int k);
float *ibp_bn_gamma(const struct ibp_net *net, int k);
float *ibp_bn_beta(const struct ibp_net *net, int k);
float *ibp_bn_running_mean(const struct ibp_net *net, int k);
float *ibp_bn_running_var(const struct ibp_net *net, int k);
float *ibp_normalize_mean(const struct ibp_net *net, int k);
float *ibp_normalize_std(const struct ibp_net *net, int k);

/* Number of ReLU layers, and whether any layer of the kind exists. */
int ibp_net_count_kind(const struct ibp_net *net, enum ibp_layer_kind kind);

/* Checks every parameter and buffer is finite and every BN running_var and Normalize
 * std usable (> 0 / != 0); err names the layer and tensor of the first bad value. */
enum ibp_status ibp_net_check_finite(const struct ibp_net *net, struct ibp_error *err);

#endif
