/* onnx_wire.h — internal: a protobuf wire-format reader and the few ONNX messages the
 * importer needs.
 *
 * The input is untrusted. Every length is checked against the buffer, sizes are computed
 * without overflow, and messages are decoded by fixed code paths (Model > Graph > Node >
 * Attribute > Tensor, nothing deeper), so a crafted file cannot recurse. Fields that are
 * not needed are skipped; sub-graphs in attributes are never entered.
 *
 * Decoded structures do not copy the file: strings and tensor data are slices pointing
 * into the caller's buffer, which must outlive the decoded model. Strings are not
 * NUL-terminated. */
#ifndef IBP_ONNX_WIRE_H
#define IBP_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "nets/base/status.h"

/* ---- protobuf wire format ---- */

/* A byte range inside the caller's buffer. */
struct ibp_pb_slice {
    const uint8_t *p;
    size_t n;
};

enum ibp_pb_wire {
    IBP_PB_VARINT = 0,
    IBP_PB_FIXED64 = 1,
    IBP_PB_BYTES = 2, /* length-delimited */
    IBP_PB_FIXED32 = 5,
};

/* One field: its number, wire type and value (v for VARINT/FIXED64/FIXED32 as raw bits,
 * s for BYTES). */
struct ibp_pb_field {
    uint32_t num;
    enum ibp_pb_wire wire;
    uint64_t v;
    struct ibp_pb_slice s;
};

/* A cursor over one message's bytes. */
struct ibp_pb_reader {
    const uint8_t *p, *end;
};

struct ibp_pb_reader ibp_pb_reader_of(struct ibp_pb_slice s);

/* Reads the next field: 1 = a field was read into *f, 0 = end of message, -1 = malformed
 * (bad varint, length past the end, groups or unknown wire types, field number 0). */
int ibp_pb_next(struct ibp_pb_reader *r, struct ibp_pb_field *f);

/* Reads one varint from a packed repeated field: 1 = read, 0 = end, -1 = malformed. */
int ibp_pb_varint(struct ibp_pb_reader *r, uint64_t *v);

/* 1 when slice s holds exactly the characters of the NUL-terminated string z. */
int ibp_pb_eq(struct ibp_pb_slice s, const char *z);

/* Copies s into dst (capacity cap, always NUL-terminated, truncated if needed),
 * replacing non-printable bytes by '?', so it is safe to put into messages. */
void ibp_pb_str(struct ibp_pb_slice s, char *dst, size_t cap);

/* ---- ONNX ---- */

#define IBP_ONNX_MAX_RANK 8   /* larger ranks are rejected */
#define IBP_ONNX_MAX_IO 8     /* inputs/outputs per node */
#define IBP_ONNX_MAX_ATTRS 16 /* attributes per node */

/* TensorProto.DataType values the importer reads. */
enum ibp_onnx_dtype {
    IBP_ONNX_FLOAT = 1,
    IBP_ONNX_INT32 = 6,
    IBP_ONNX_INT64 = 7,
    IBP_ONNX_DOUBLE = 11,
};

/* AttributeProto.AttributeType values. */
enum ibp_onnx_attr_type {
    IBP_ONNX_ATTR_FLOAT = 1,
    IBP_ONNX_ATTR_INT = 2,
    IBP_ONNX_ATTR_STRING = 3,
    IBP_ONNX_ATTR_TENSOR = 4,
    IBP_ONNX_ATTR_FLOATS = 6,
    IBP_ONNX_ATTR_INTS = 7,
};

/* A TensorProto. `count` is the element count from dims (1 for a scalar); for a
 * supported data type (FLOAT, DOUBLE, INT64, INT32) decoding has checked that exactly
 * `count` values are present, so `count` is bounded by the buffer size. */
struct ibp_onnx_tensor {
    struct ibp_pb_slice name;
    int data_type;
    int rank;
    int64_t dims[IBP_ONNX_MAX_RANK];
    size_t count;
    int supported;            /* data type is one ibp_onnx_tensor_read converts */
    struct ibp_pb_slice raw;  /* raw_data (little-endian), n == 0 when absent */
    struct ibp_pb_slice msg;  /* the whole message, for the typed repeated fields */
};

/* An AttributeProto. Lists (ints, floats) are read with the functions below. */
struct ibp_onnx_attr {
    struct ibp_pb_slice name;
    int type;                /* declared type, 0 when the file omits it */
    int has_f, has_i, has_s, has_t;
    double f;
    int64_t i;
    struct ibp_pb_slice s;
    struct ibp_onnx_tensor t;
    size_t n_ints, n_floats; /* elements of the repeated fields */
    struct ibp_pb_slice msg;
};

struct ibp_onnx_node {
    struct ibp_pb_slice name, op_type, domain;
    int n_in, n_out;
    struct ibp_pb_slice in[IBP_ONNX_MAX_IO], out[IBP_ONNX_MAX_IO]; /* "" = omitted optional */
    int n_attrs;
    struct ibp_onnx_attr attrs[IBP_ONNX_MAX_ATTRS];
};

/* A graph input or output (ValueInfoProto): name, element type and shape. A symbolic or
 * missing dimension is -1; rank is -1 when no shape is given. */
struct ibp_onnx_value {
    struct ibp_pb_slice name;
    int elem_type;
    int rank;
    int64_t dims[IBP_ONNX_MAX_RANK];
};

struct ibp_onnx_model {
    int64_t ir_version;
    int64_t opset;      /* version of the default domain ("" or "ai.onnx"), -1 if absent */
    int n_nodes, n_inits, n_inputs, n_outputs;
    struct ibp_onnx_node *nodes;
    struct ibp_onnx_tensor *inits;
    struct ibp_onnx_value *inputs, *outputs;
};

/* Decodes a ModelProto from buf[0..size) (which must outlive *model). `what` names the
 * data in messages ("model.onnx: node 3: ..."). Fails with IBP_ERR_FORMAT on malformed
 * data, IBP_ERR_UNSUPPORTED on limits (rank > 8, more than 8 node inputs, external
 * data) and IBP_ERR_NOMEM. On failure *model is left empty (nothing to free). */
enum ibp_status ibp_onnx_decode(const uint8_t *buf, size_t size, const char *what,
                                struct ibp_onnx_model *model, struct ibp_error *err);

/* Frees the arrays of a decoded model (not the buffer). Safe on an empty model. */
void ibp_onnx_model_free(struct ibp_onnx_model *model);

/* Converts a tensor's t->count values to double (float32, int32, int64 exact; int64
 * beyond 2^53 rounded) into out[t->count]. IBP_ERR_UNSUPPORTED for other data types. */
enum ibp_status ibp_onnx_tensor_read(const struct ibp_onnx_tensor *t, double *out,
                                     const char *what, struct ibp_error *err);

/* Copies an attribute's ints (packed or not) into out[0..a->n_ints), at most cap.
 * IBP_ERR_UNSUPPORTED if there are more than cap. */
enum ibp_status ibp_onnx_attr_ints(const struct ibp_onnx_attr *a, int64_t *out, size_t cap,
                                   const char *what, struct ibp_error *err);

/* The same for floats. */
enum ibp_status ibp_onnx_attr_floats(const struct ibp_onnx_attr *a, double *out, size_t cap,
                                     const char *what, struct ibp_error *err);

/* The attribute named `name` of a node, or NULL. */
const struct ibp_onnx_attr *ibp_onnx_node_attr(const struct ibp_onnx_node *node,
                                               const char *name);

#endif
