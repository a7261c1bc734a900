#include "nets/formats/onnx_wire.h"

#include <stdlib.h>
#include <string.h>

/* ---- protobuf wire format ---- */

struct ibp_pb_reader ibp_pb_reader_of(struct ibp_pb_slice s)
{
    /* an empty slice may have no data pointer (and NULL + 0 is undefined) */
    return (struct ibp_pb_reader){s.p, s.p ? s.p + s.n : s.p};
}

int ibp_pb_varint(struct ibp_pb_reader *r, uint64_t *v)
{
    if (r->p >= r->end)
        return 0;
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        /* the 10th byte may only carry the top bit of a 64-bit value */
        if (i == 9 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return -1;
}

static uint64_t load_le(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

int ibp_pb_next(struct ibp_pb_reader *r, struct ibp_pb_field *f)
{
    uint64_t key;
    int rc = ibp_pb_varint(r, &key);
    if (rc <= 0)
        return rc;
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->v = 0;
    f->s = (struct ibp_pb_slice){NULL, 0};
    size_t left;
    switch (key & 7) {
    case IBP_PB_VARINT:
        f->wire = IBP_PB_VARINT;
        return ibp_pb_varint(r, &f->v) == 1 ? 1 : -1;
    case IBP_PB_FIXED64:
    case IBP_PB_FIXED32: {
        int n = (key & 7) == IBP_PB_FIXED64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < (size_t)n)
            return -1;
        f->wire = (enum ibp_pb_wire)(key & 7);
        f->v = load_le(r->p, n);
        r->p += n;
        return 1;
    }
    case IBP_PB_BYTES: {
        uint64_t len;
        if (ibp_pb_varint(r, &len) != 1)
            return -1;
        left = (size_t)(r->end - r->p);
        if (len > left)
            return -1;
        f->wire = IBP_PB_BYTES;
        f->s = (struct ibp_pb_slice){r->p, (size_t)len};
        r->p += len;
        return 1;
    }
    default: /* groups (3, 4) and undefined types */
        return -1;
    }
}

int ibp_pb_eq(struct ibp_pb_slice s, const char *z)
{
    size_t n = strlen(z);
    return s.n == n && (n == 0 || memcmp(s.p, z, n) == 0);
}

void ibp_pb_str(struct ibp_pb_slice s, char *dst, size_t cap)
{
    if (cap == 0)
        return;
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s.p[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[n] = '\0';
}

/* ---- ONNX messages ---- */

static enum ibp_status malformed(struct ibp_error *err, const char *what, const char *where)
{
    return ibp_fail(err, IBP_ERR_FORMAT, "%s: malformed protobuf in %s", what, where);
}

static size_t elem_size(int data_type)
{
    switch (data_type) {
    case IBP_ONNX_FLOAT:
    case IBP_ONNX_INT32:
        return 4;
    case IBP_ONNX_INT64:
    case IBP_ONNX_DOUBLE:
        return 8;
    default:
        return 0;
    }
}

/* The typed repeated field that holds values of a data type (TensorProto numbering). */
static uint32_t typed_field(int data_type)
{
    switch (data_type) {
    case IBP_ONNX_FLOAT: return 4;
    case IBP_ONNX_INT32: return 5;
    case IBP_ONNX_INT64: return 7;
    case IBP_ONNX_DOUBLE: return 10;
    default: return 0;
    }
}

/* Counts the values of a repeated numeric field (packed or not) in a message. For
 * packed fixed-width data the length must be a multiple of the width. Returns -1 on
 * malformed data. */
static int count_repeated(struct ibp_pb_slice msg, uint32_t num, size_t width, size_t *count)
{
    struct ibp_pb_reader r = ibp_pb_reader_of(msg);
    struct ibp_pb_field f;
    size_t n = 0;
    int rc;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        if (f.num != num)
            continue;
        if (f.wire == IBP_PB_BYTES) {
            if (width) {
                if (f.s.n % width)
                    return -1;
                n += f.s.n / width;
            } else {
                struct ibp_pb_reader q = ibp_pb_reader_of(f.s);
                uint64_t v;
                int qc;
                while ((qc = ibp_pb_varint(&q, &v)) == 1)
                    n++;
                if (qc < 0)
                    return -1;
            }
        } else if ((width == 0 && f.wire == IBP_PB_VARINT) ||
                   (width == 4 && f.wire == IBP_PB_FIXED32) ||
                   (width == 8 && f.wire == IBP_PB_FIXED64)) {
            n++;
        } else {
            return -1;
        }
    }
    if (rc < 0)
        return -1;
    *count = n;
    return 0;
}

/* Calls back per value of a repeated numeric field, converting to double. `kind`:
 * 'f' float32 bits, 'd' double bits, 'i' signed varint (int64 / int32 sign-extended). */
static int read_repeated(struct ibp_pb_slice msg, uint32_t num, char kind, double *out,
                         int64_t *iout, size_t cap)
{
    size_t width = kind == 'f' ? 4 : kind == 'd' ? 8 : 0;
    struct ibp_pb_reader r = ibp_pb_reader_of(msg);
    struct ibp_pb_field f;
    size_t n = 0;
    int rc;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        if (f.num != num)
            continue;
        struct ibp_pb_reader q = ibp_pb_reader_of(f.s);
        int packed = f.wire == IBP_PB_BYTES;
        for (;;) {
            uint64_t bits;
            if (packed) {
                if (width) {
                    if (q.p >= q.end)
                        break;
                    if ((size_t)(q.end - q.p) < width)
                        return -1;
                    bits = load_le(q.p, (int)width);
                    q.p += width;
                } else {
                    int qc = ibp_pb_varint(&q, &bits);
                    if (qc == 0)
                        break;
                    if (qc < 0)
                        return -1;
                }
            } else {
                bits = f.v;
            }
            if (n >= cap)
                return -1;
            if (kind == 'f') {
                uint32_t b32 = (uint32_t)bits;
                float x;
                memcpy(&x, &b32, sizeof x);
                if (out)
                    out[n] = x;
            } else if (kind == 'd') {
                double x;
                memcpy(&x, &bits, sizeof x);
                if (out)
                    out[n] = x;
            } else {
                int64_t x = (int64_t)bits;
                if (out)
                    out[n] = (double)x;
                if (iout)
                    iout[n] = x;
            }
            n++;
            if (!packed)
                break;
        }
    }
    return rc < 0 ? -1 : (int)(n == cap ? 0 : -1);
}

static enum ibp_status decode_tensor(struct ibp_pb_slice msg, const char *what,
                                     struct ibp_onnx_tensor *t, struct ibp_error *err)
{
    memset(t, 0, sizeof *t);
    t->msg = msg;
    struct ibp_pb_reader r = ibp_pb_reader_of(msg);
    struct ibp_pb_field f;
    int rc, has_raw = 0;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        switch (f.num) {
        case 1: { /* dims */
            struct ibp_pb_reader q = {NULL, NULL};
            uint64_t v = f.v;
            int packed = f.wire == IBP_PB_BYTES;
            if (packed)
                q = ibp_pb_reader_of(f.s);
            else if (f.wire != IBP_PB_VARINT)
                return malformed(err, what, "tensor dims");
            for (;;) {
                if (packed) {
                    int qc = ibp_pb_varint(&q, &v);
                    if (qc == 0)
                        break;
                    if (qc < 0)
                        return malformed(err, what, "tensor dims");
                }
                if (t->rank >= IBP_ONNX_MAX_RANK)
                    return ibp_fail(err, IBP_ERR_UNSUPPORTED,
                                    "%s: tensor of rank above %d", what, IBP_ONNX_MAX_RANK);
                if ((int64_t)v < 0)
                    return ibp_fail(err, IBP_ERR_FORMAT, "%s: tensor with a negative dimension",
                                    what);
                t->dims[t->rank++] = (int64_t)v;
                if (!packed)
                    break;
            }
            break;
        }
        case 2:
            if (f.wire != IBP_PB_VARINT)
                return malformed(err, what, "tensor data_type");
            t->data_type = (int)(f.v & 0xffff);
            break;
        case 3:
            return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: segmented tensors are not supported",
                            what);
        case 8:
            if (f.wire != IBP_PB_BYTES)
                return malformed(err, what, "tensor name");
            t->name = f.s;
            break;
        case 9:
            if (f.wire != IBP_PB_BYTES)
                return malformed(err, what, "tensor raw_data");
            t->raw = f.s;
            has_raw = 1;
            break;
        case 13:
        case 14:
            if (f.num == 13 || f.v == 1)
                return ibp_fail(err, IBP_ERR_UNSUPPORTED,
                                "%s: tensors with external data are not supported", what);
            break;
        default:
            break;
        }
    }
    if (rc < 0)
        return malformed(err, what, "tensor");
    size_t count = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] != 0 && count > SIZE_MAX / 16 / (uint64_t)t->dims[i])
            return ibp_fail(err, IBP_ERR_FORMAT, "%s: tensor size overflows", what);
        count *= (size_t)t->dims[i];
    }
    t->count = count;
    size_t es = elem_size(t->data_type);
    if (!es)
        return IBP_OK; /* read later fails with a message naming the type */
    if (has_raw) {
        if (t->raw.n != count * es)
            return ibp_fail(err, IBP_ERR_FORMAT,
                            "%s: tensor has %zu bytes of raw data for %zu elements", what,
                            t->raw.n, count);
    } else {
        size_t n;
        int width = t->data_type == IBP_ONNX_FLOAT ? 4 : t->data_type == IBP_ONNX_DOUBLE ? 8 : 0;
        if (count_repeated(msg, typed_field(t->data_type), (size_t)width, &n) < 0)
            return malformed(err, what, "tensor data");
        if (n != count)
            return ibp_fail(err, IBP_ERR_FORMAT,
                            "%s: tensor has %zu values for %zu elements", what, n, count);
    }
    t->supported = 1;
    return IBP_OK;
}

enum ibp_status ibp_onnx_tensor_read(const struct ibp_onnx_tensor *t, double *out,
                                     const char *what, struct ibp_error *err)
{
    if (!t->supported)
        return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: tensor data type %d is not supported",
                        what, t->data_type);
    if (t->raw.n || t->count == 0) {
        size_t es = elem_size(t->data_type);
        for (size_t i = 0; i < t->count; i++) {
            uint64_t bits = load_le(t->raw.p + i * es, (int)es);
            switch (t->data_type) {
            case IBP_ONNX_FLOAT: {
                uint32_t b32 = (uint32_t)bits;
                float x;
                memcpy(&x, &b32, sizeof x);
                out[i] = x;
                break;
            }
            case IBP_ONNX_DOUBLE:
                memcpy(&out[i], &bits, sizeof out[i]);
                break;
            case IBP_ONNX_INT32:
                out[i] = (double)(int32_t)(uint32_t)bits;
                break;
            default:
                out[i] = (double)(int64_t)bits;
                break;
            }
        }
        return IBP_OK;
    }
    char kind = t->data_type == IBP_ONNX_FLOAT ? 'f' : t->data_type == IBP_ONNX_DOUBLE ? 'd' : 'i';
    if (read_repeated(t->msg, typed_field(t->data_type), kind, out, NULL, t->count) < 0)
        return malformed(err, what, "tensor data");
    if (t->data_type == IBP_ONNX_INT32)
        for (size_t i = 0; i < t->count; i++)
            out[i] = (double)(int32_t)(int64_t)out[i];
    return IBP_OK;
}

static enum ibp_status decode_attr(struct ibp_pb_slice msg, const char *what,
                                   struct ibp_onnx_attr *a, struct ibp_error *err)
{
    memset(a, 0, sizeof *a);
    a->msg = msg;
    struct ibp_pb_reader r = ibp_pb_reader_of(msg);
    struct ibp_pb_field f;
    int rc;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        switch (f.num) {
        case 1:
            if (f.wire != IBP_PB_BYTES)
                return malformed(err, what, "attribute name");
            a->name = f.s;
            break;
        case 2: {
            if (f.wire != IBP_PB_FIXED32)
                return malformed(err, what, "attribute f");
            uint32_t b32 = (uint32_t)f.v;
            float x;
            memcpy(&x, &b32, sizeof x);
            a->f = x;
            a->has_f = 1;
            break;
        }
        case 3:
            if (f.wire != IBP_PB_VARINT)
                return malformed(err, what, "attribute i");
            a->i = (int64_t)f.v;
            a->has_i = 1;
            break;
        case 4:
            if (f.wire != IBP_PB_BYTES)
                return malformed(err, what, "attribute s");
            a->s = f.s;
            a->has_s = 1;
            break;
        case 5: {
            if (f.wire != IBP_PB_BYTES)
                return malformed(err, what, "attribute t");
            enum ibp_status st = decode_tensor(f.s, what, &a->t, err);
            if (st != IBP_OK)
                return st;
            a->has_t = 1;
            break;
        }
        case 20:
            if (f.wire != IBP_PB_VARINT)
                return malformed(err, what, "attribute type");
            a->type = (int)(f.v & 0xff);
            break;
        default:
            break;
        }
    }
    if (rc < 0 || count_repeated(msg, 7, 4, &a->n_floats) < 0 ||
        count_repeated(msg, 8, 0, &a->n_ints) < 0)
        return malformed(err, what, "attribute");
    return IBP_OK;
}

enum ibp_status ibp_onnx_attr_ints(const struct ibp_onnx_attr *a, int64_t *out, size_t cap,
                                   const char *what, struct ibp_error *err)
{
    if (a->n_ints > cap)
        return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: attribute with more than %zu ints",
                        what, cap);
    if (read_repeated(a->msg, 8, 'i', NULL, out, a->n_ints) < 0)
        return malformed(err, what, "attribute ints");
    return IBP_OK;
}

enum ibp_status ibp_onnx_attr_floats(const struct ibp_onnx_attr *a, double *out, size_t cap,
                                     const char *what, struct ibp_error *err)
{
    if (a->n_floats > cap)
        return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: attribute with more than %zu floats",
                        what, cap);
    if (read_repeated(a->msg, 7, 'f', out, NULL, a->n_floats) < 0)
        return malformed(err, what, "attribute floats");
    return IBP_OK;
}

const struct ibp_onnx_attr *ibp_onnx_node_attr(const struct ibp_onnx_node *node,
                                               const char *name)
{
    for (int i = 0; i < node->n_attrs; i++)
        if (ibp_pb_eq(node->attrs[i].name, name))
            return &node->attrs[i];
    return NULL;
}

static enum ibp_status decode_node(struct ibp_pb_slice msg, const char *what, int index,
                                   struct ibp_onnx_node *n, struct ibp_error *err)
{
    memset(n, 0, sizeof *n);
    struct ibp_pb_reader r = ibp_pb_reader_of(msg);
    struct ibp_pb_field f;
    int rc;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        if (f.num >= 1 && f.num <= 7 && f.wire != IBP_PB_BYTES)
            return malformed(err, what, "node");
        switch (f.num) {
        case 1:
        case 2: {
            int *cnt = f.num == 1 ? &n->n_in : &n->n_out;
            if (*cnt >= IBP_ONNX_MAX_IO)
                return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: node %d has more than %d %s",
                                what, index, IBP_ONNX_MAX_IO, f.num == 1 ? "inputs" : "outputs");
            (f.num == 1 ? n->in : n->out)[(*cnt)++] = f.s;
            break;
        }
        case 3: n->name = f.s; break;
        case 4: n->op_type = f.s; break;
        case 7: n->domain = f.s; break;
        case 5: {
            if (n->n_attrs >= IBP_ONNX_MAX_ATTRS)
                return ibp_fail(err, IBP_ERR_UNSUPPORTED,
                                "%s: node %d has more than %d attributes", what, index,
                                IBP_ONNX_MAX_ATTRS);
            enum ibp_status st = decode_attr(f.s, what, &n->attrs[n->n_attrs++], err);
            if (st != IBP_OK)
                return st;
            break;
        }
        default:
            break;
        }
    }
    if (rc < 0)
        return malformed(err, what, "node");
    return IBP_OK;
}

/* ValueInfoProto > TypeProto > TypeProto.Tensor > TensorShapeProto > Dimension. */
static enum ibp_status decode_value(struct ibp_pb_slice msg, const char *what,
                                    struct ibp_onnx_value *v, struct ibp_error *err)
{
    memset(v, 0, sizeof *v);
    v->rank = -1;
    struct ibp_pb_reader r = ibp_pb_reader_of(msg);
    struct ibp_pb_field f, g, h, k, d;
    int rc;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        if (f.wire != IBP_PB_BYTES)
            continue;
        if (f.num == 1)
            v->name = f.s;
        if (f.num != 2)
            continue;
        struct ibp_pb_reader rt = ibp_pb_reader_of(f.s);
        while ((rc = ibp_pb_next(&rt, &g)) == 1) {
            if (g.num != 1 || g.wire != IBP_PB_BYTES)
                continue;
            struct ibp_pb_reader rs = ibp_pb_reader_of(g.s);
            while ((rc = ibp_pb_next(&rs, &h)) == 1) {
                if (h.num == 1 && h.wire == IBP_PB_VARINT)
                    v->elem_type = (int)(h.v & 0xffff);
                if (h.num != 2 || h.wire != IBP_PB_BYTES)
                    continue;
                v->rank = 0;
                struct ibp_pb_reader rd = ibp_pb_reader_of(h.s);
                while ((rc = ibp_pb_next(&rd, &k)) == 1) {
                    if (k.num != 1 || k.wire != IBP_PB_BYTES)
                        continue;
                    if (v->rank >= IBP_ONNX_MAX_RANK)
                        return ibp_fail(err, IBP_ERR_UNSUPPORTED,
                                        "%s: graph input or output of rank above %d", what,
                                        IBP_ONNX_MAX_RANK);
                    int64_t dim = -1;
                    struct ibp_pb_reader rv = ibp_pb_reader_of(k.s);
                    while ((rc = ibp_pb_next(&rv, &d)) == 1)
                        if (d.num == 1 && d.wire == IBP_PB_VARINT)
                            dim = (int64_t)d.v < 0 ? -1 : (int64_t)d.v;
                    if (rc < 0)
                        break;
                    v->dims[v->rank++] = dim;
                }
                if (rc < 0)
                    break;
            }
            if (rc < 0)
                break;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0)
        return malformed(err, what, "graph input/output");
    return IBP_OK;
}

static enum ibp_status decode_graph(struct ibp_pb_slice msg, const char *what,
                                    struct ibp_onnx_model *m, struct ibp_error *err)
{
    struct ibp_pb_reader r = ibp_pb_reader_of(msg);
    struct ibp_pb_field f;
    size_t counts[4] = {0, 0, 0, 0}; /* nodes, initializers, inputs, outputs */
    int rc;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        int slot = f.num == 1 ? 0 : f.num == 5 ? 1 : f.num == 11 ? 2 : f.num == 12 ? 3 : -1;
        if (slot < 0)
            continue;
        if (f.wire != IBP_PB_BYTES)
            return malformed(err, what, "graph");
        counts[slot]++;
    }
    if (rc < 0)
        return malformed(err, what, "graph");
    for (int i = 0; i < 4; i++)
        if (counts[i] > 1000000)
            return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: graph with over a million entries",
                            what);
    m->nodes = calloc(counts[0] ? counts[0] : 1, sizeof *m->nodes);
    m->inits = calloc(counts[1] ? counts[1] : 1, sizeof *m->inits);
    m->inputs = calloc(counts[2] ? counts[2] : 1, sizeof *m->inputs);
    m->outputs = calloc(counts[3] ? counts[3] : 1, sizeof *m->outputs);
    if (!m->nodes || !m->inits || !m->inputs || !m->outputs)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory decoding the graph", what);
    r = ibp_pb_reader_of(msg);
    while (ibp_pb_next(&r, &f) == 1) {
        enum ibp_status st = IBP_OK;
        if (f.num == 1) {
            st = decode_node(f.s, what, m->n_nodes, &m->nodes[m->n_nodes], err);
            m->n_nodes++;
        } else if (f.num == 5) {
            st = decode_tensor(f.s, what, &m->inits[m->n_inits++], err);
        } else if (f.num == 11) {
            st = decode_value(f.s, what, &m->inputs[m->n_inputs++], err);
        } else if (f.num == 12) {
            st = decode_value(f.s, what, &m->outputs[m->n_outputs++], err);
        }
        if (st != IBP_OK)
            return st;
    }
    return IBP_OK;
}

enum ibp_status ibp_onnx_decode(const uint8_t *buf, size_t size, const char *what,
                                struct ibp_onnx_model *model, struct ibp_error *err)
{
    memset(model, 0, sizeof *model);
    model->opset = -1;
    struct ibp_pb_reader r = {buf, buf + size};
    struct ibp_pb_field f;
    struct ibp_pb_slice graph = {NULL, 0};
    int rc, n_graphs = 0;
    while ((rc = ibp_pb_next(&r, &f)) == 1) {
        if (f.num == 1 && f.wire == IBP_PB_VARINT) {
            model->ir_version = (int64_t)f.v;
        } else if (f.num == 7) {
            if (f.wire != IBP_PB_BYTES)
                return malformed(err, what, "model");
            graph = f.s;
            n_graphs++;
        } else if (f.num == 8) {
            if (f.wire != IBP_PB_BYTES)
                return malformed(err, what, "opset_import");
            struct ibp_pb_reader q = ibp_pb_reader_of(f.s);
            struct ibp_pb_field g;
            struct ibp_pb_slice domain = {NULL, 0};
            int64_t version = -1;
            int qc;
            while ((qc = ibp_pb_next(&q, &g)) == 1) {
                if (g.num == 1 && g.wire == IBP_PB_BYTES)
                    domain = g.s;
                else if (g.num == 2 && g.wire == IBP_PB_VARINT)
                    version = (int64_t)g.v;
            }
            if (qc < 0)
                return malformed(err, what, "opset_import");
            if (domain.n == 0 || ibp_pb_eq(domain, "ai.onnx"))
                model->opset = version;
        }
    }
    if (rc < 0)
        return malformed(err, what, "model");
    if (n_graphs != 1)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: %s", what,
                        n_graphs ? "more than one graph" : "no graph (not an ONNX model?)");
    enum ibp_status st = decode_graph(graph, what, model, err);
    if (st != IBP_OK) {
        ibp_onnx_model_free(model);
        model->opset = -1;
    }
    return st;
}

void ibp_onnx_model_free(struct ibp_onnx_model *model)
{
    free(model->nodes);
    free(model->inits);
    free(model->inputs);
    free(model->outputs);
    model->nodes = NULL;
    model->inits = NULL;
    model->inputs = NULL;
    model->outputs = NULL;
    model->n_nodes = model->n_inits = model->n_inputs = model->n_outputs = 0;
}
