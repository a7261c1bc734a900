/* onnx_builder.h — writes small ONNX models by hand for importer tests (protobuf wire
 * format, unpacked repeated fields except where a test asks for packed ones). An
 * allocation failure aborts the test program. */
#ifndef IBP_TEST_ONNX_BUILDER_H
#define IBP_TEST_ONNX_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "nets/base/bytes.h"

/* A growable protobuf message. Zero-initialise; ob_msg() appends and frees a child. */
struct ob {
    struct ibp_wbuf b;
};

void ob_uint(struct ob *m, uint32_t field, uint64_t v);
void ob_bytes(struct ob *m, uint32_t field, const void *data, size_t n);
void ob_str(struct ob *m, uint32_t field, const char *s);
void ob_msg(struct ob *m, uint32_t field, struct ob *child);

/* How a float tensor stores its values. */
enum ob_storage { OB_RAW, OB_FLOAT_DATA, OB_DOUBLE_DATA };

/* Initializer (graph field 5) with float values v[prod dims]. */
void ob_init(struct ob *graph, const char *name, int rank, const int64_t *dims, const float *v,
             enum ob_storage storage);
/* Initializer of int64 values (int64_data). */
void ob_init_i64(struct ob *graph, const char *name, int n, const int64_t *v);

/* A node; ins/outs are NULL-terminated ("" is an omitted optional input). Add attributes
 * with ob_attr_* before ob_node_end appends it to the graph. */
void ob_node(struct ob *node, const char *op, const char *name, const char *const *ins,
             const char *const *outs);
void ob_node_end(struct ob *graph, struct ob *node);
void ob_attr_int(struct ob *node, const char *name, int64_t v);
void ob_attr_float(struct ob *node, const char *name, float v);
void ob_attr_ints(struct ob *node, const char *name, int n, const int64_t *v);
void ob_attr_str(struct ob *node, const char *name, const char *s);
/* A tensor attribute (Constant's value) of int64 or float values. */
void ob_attr_tensor_i64(struct ob *node, const char *name, int n, const int64_t *v);

/* Graph input (field 11) / output (12) of float type; dims < 0 are symbolic. */
void ob_value(struct ob *graph, uint32_t field, const char *name, int rank,
              const int64_t *dims);

/* The model around a graph (freed); *data (malloc) of *size bytes. */
void ob_model(struct ob *graph, int64_t opset, uint8_t **data, size_t *size);

#endif
