/* onnx_import.h — build a network (net.h) from an ONNX model.
 *
 * Supported (default domain, opsets 8-17): Gemm, MatMul, Add, Sub, Mul, Div, Conv, Relu,
 * Flatten, Reshape, Transpose, Constant, BatchNormalization, AveragePool,
 * GlobalAveragePool, MaxPool, Pad, Identity, Dropout. Any other operator is an error that
 * names it and its node. The model must have one input (batch 1, or a symbolic batch
 * dimension taken as 1) and one output.
 *
 * How ONNX tensors become layers:
 * - Constants (initializers, Constant nodes and operations on constants only) are folded
 *   at load time in double precision; parameters are rounded to float32 once.
 * - Reshape, Flatten, Transpose, Identity and Dropout on the data path create no layer:
 *   the importer keeps, per ONNX tensor, the permutation from its row-major elements to
 *   the network value that holds them. A Gemm/MatMul after such a prelude absorbs the
 *   permutation into its weight columns (NHWC flatten of the ERAN nets); a Conv, pool or
 *   Pad needs the tensor in its natural NCHW layout.
 * - Gemm/MatMul with a constant weight become LINEAR (a FLATTEN is inserted when the
 *   value is an image); a constant Add/Sub right after LINEAR/CONV whose output has no
 *   other use folds into the bias.
 * - Other Add/Sub/Mul/Div with a constant become a NORMALIZE layer (per channel of the
 *   network value; y = (x - mean) / std); Sub followed by Div (a normalisation prologue)
 *   is one layer. Mul by a uses std = 1/a rounded to float32. Add of two data tensors is
 *   ADD; Sub of two data tensors is ADD of a NORMALIZE with std -1.
 * - A constant that varies within a channel (a per-element affine map, e.g. Mul by a
 *   (1,C,H,W) tensor) turns an image value into a vector first (FLATTEN, c-major): every
 *   element is then a channel of the NORMALIZE. Layers that need an image (Conv, pools,
 *   Pad) cannot follow it: the layer set has no unflatten, so a Reshape of a vector
 *   value back into an image (a Linear's output, PyTorch's Unflatten) is an error too.
 * - BatchNormalization stays a BATCHNORM layer in eval form with the file's epsilon.
 * - Pad (constant zero, spatial axes) merges into the following Conv or AveragePool.
 *   Layers pad both sides alike; asymmetric padding (a Pad, pads or auto_pad) is taken
 *   where padding both sides by the begin amount gives as many windows (then the same
 *   ones), else it is an error naming the axis.
 * - Concat is an error: the layer set has no concatenation.
 *
 * The network input is the ONNX input in row-major order: shape (C,H,W) for an input
 * (1,C,H,W), else (n,1,1) with n its element count; so the i-th element of the
 * row-major flattened ONNX input (X_i in VNN-LIB) is element i of the network input. */
#ifndef IBP_ONNX_IMPORT_H
#define IBP_ONNX_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "nets/graph/net.h"

#define IBP_ONNX_NAME_LEN 128
#define IBP_ONNX_MAX_OPS 32

/* Options; all-zero means none. */
struct ibp_onnx_options {
    /* Prepend a NORMALIZE layer y = (x - mean[c]) / std[c] over the network input's
     * channels (for models that expect the caller to normalise, e.g. ERAN convSmall with
     * mean 0.1307, std 0.3081). n_norm = 0: none; 1: the same for every channel; else the
     * input's channel count. The arrays are read during the call only. */
    int n_norm;
    const float *norm_mean;
    const float *norm_std;
};

/* What the importer found. Fixed-size fields, nothing to free. */
struct ibp_onnx_info {
    char input_name[IBP_ONNX_NAME_LEN];  /* printable copy, truncated if longer */
    char output_name[IBP_ONNX_NAME_LEN];
    int input_rank;
    int64_t input_dims[8];               /* as declared; -1 for a symbolic dimension */
    size_t n_inputs;                     /* elements of the input (X_0..X_{n-1}) */
    int n_outputs;                       /* elements of the output (Y_0..Y_{n-1}) */
    int64_t opset;                       /* default-domain opset version */
    int64_t ir_version;
    int n_ops;                           /* distinct operator types, in order of first use */
    char ops[IBP_ONNX_MAX_OPS][32];
    int op_counts[IBP_ONNX_MAX_OPS];     /* nodes of each type */
};

/* Loads an ONNX model (gzip-compressed or not) from path. On success *net is a new
 * network (free with ibp_net_free) and *info (if not NULL) is filled. On failure *net
 * is NULL and err names the file and, where it applies, the node and operator:
 * "model.onnx: node 'n7' (op Sigmoid): unsupported operator". Statuses: IBP_ERR_IO,
 * IBP_ERR_FORMAT (malformed file), IBP_ERR_UNSUPPORTED (valid ONNX outside the subset),
 * IBP_ERR_SHAPE, IBP_ERR_ARG (bad options), IBP_ERR_NOMEM. `options` may be NULL. */
enum ibp_status ibp_onnx_load(const char *path, const struct ibp_onnx_options *options,
                              struct ibp_net **net, struct ibp_onnx_info *info,
                              struct ibp_error *err);

/* The same from a buffer in memory (gzip or not); `name` is used in messages. The buffer
 * is only read during the call. */
enum ibp_status ibp_onnx_load_buffer(const uint8_t *data, size_t size, const char *name,
                                     const struct ibp_onnx_options *options,
                                     struct ibp_net **net, struct ibp_onnx_info *info,
                                     struct ibp_error *err);

#endif
