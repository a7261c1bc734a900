/* onnx_export.h — write a network (net.h) as an ONNX model (opset 13).
 *
 * Mapping: NORMALIZE -> Sub(mean) + Div(std); LINEAR -> Gemm (transB = 1); CONV2D -> Conv;
 * BATCHNORM -> BatchNormalization in eval form (running statistics, the layer's epsilon);
 * RELU -> Relu; FLATTEN -> Flatten(axis 1); ADD -> Add; AVGPOOL -> AveragePool
 * (count_include_pad = count_pad); MAXPOOL -> MaxPool. Parameters are float32 raw_data.
 * The ONNX input is "input" of shape [1,C,H,W] ([1,n] for a vector input of a network
 * without convolution or pooling), the output "output". Importing the file with
 * onnx_import.h gives a network with the same outputs (float32 rounding aside); the layer
 * list is the same except that a NORMALIZE after LINEAR/CONV imports with its mean folded
 * into the bias, and a LINEAR on a [1,C,1,1] image gets a FLATTEN first. */
#ifndef IBP_ONNX_EXPORT_H
#define IBP_ONNX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "nets/graph/net.h"

/* Serialises net into a new buffer *data of *size bytes (free with free()). */
enum ibp_status ibp_onnx_export_buffer(const struct ibp_net *net, uint8_t **data, size_t *size,
                                       struct ibp_error *err);

/* Writes net to path with ibp_file_write_atomic (file_io.h): a crash never leaves a
 * half-written model. */
enum ibp_status ibp_onnx_export(const struct ibp_net *net, const char *path,
                                struct ibp_error *err);

#endif
