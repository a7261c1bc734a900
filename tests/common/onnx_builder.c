#include "tests/common/onnx_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tests only: running out of memory here ends the test. */
static void put(struct ob *m, const void *d, size_t n)
{
    ibp_wbuf_bytes(&m->b, d, n);
    if (m->b.failed) {
        fprintf(stderr, "onnx_builder: out of memory\n");
        abort();
    }
}

static void varint(struct ob *m, uint64_t v)
{
    uint8_t b[10];
    int n = 0;
    do {
        b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(m, b, (size_t)n);
}

void ob_uint(struct ob *m, uint32_t field, uint64_t v)
{
    varint(m, (uint64_t)field << 3);
    varint(m, v);
}

void ob_bytes(struct ob *m, uint32_t field, const void *data, size_t n)
{
    varint(m, (uint64_t)field << 3 | 2);
    varint(m, n);
    put(m, data, n);
}

void ob_str(struct ob *m, uint32_t field, const char *s)
{
    ob_bytes(m, field, s, strlen(s));
}

void ob_msg(struct ob *m, uint32_t field, struct ob *child)
{
    ob_bytes(m, field, child->b.data, child->b.len);
    ibp_wbuf_free(&child->b);
    memset(child, 0, sizeof *child);
}

static void le(uint8_t *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

void ob_init(struct ob *graph, const char *name, int rank, const int64_t *dims, const float *v,
             enum ob_storage storage)
{
    struct ob t = {0}, data = {0};
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        ob_uint(&t, 1, (uint64_t)dims[i]);
        n *= (size_t)dims[i];
    }
    ob_uint(&t, 2, storage == OB_DOUBLE_DATA ? 11 : 1);
    ob_str(&t, 8, name);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[8];
        if (storage == OB_DOUBLE_DATA) {
            double d = v[i];
            uint64_t bits;
            memcpy(&bits, &d, 8);
            le(b, bits, 8);
            put(&data, b, 8);
        } else {
            uint32_t bits;
            memcpy(&bits, &v[i], 4);
            le(b, bits, 4);
            put(&data, b, 4);
        }
    }
    uint32_t field = storage == OB_RAW ? 9 : storage == OB_FLOAT_DATA ? 4 : 10;
    ob_msg(&t, field, &data); /* packed repeated field or raw_data: same bytes */
    ob_msg(graph, 5, &t);
}

void ob_init_i64(struct ob *graph, const char *name, int n, const int64_t *v)
{
    struct ob t = {0};
    ob_uint(&t, 1, (uint64_t)n);
    ob_uint(&t, 2, 7);
    for (int i = 0; i < n; i++)
        ob_uint(&t, 7, (uint64_t)v[i]);
    ob_str(&t, 8, name);
    ob_msg(graph, 5, &t);
}

void ob_node(struct ob *node, const char *op, const char *name, const char *const *ins,
             const char *const *outs)
{
    memset(node, 0, sizeof *node);
    for (; *ins; ins++)
        ob_str(node, 1, *ins);
    for (; *outs; outs++)
        ob_str(node, 2, *outs);
    if (name)
        ob_str(node, 3, name);
    ob_str(node, 4, op);
}

void ob_node_end(struct ob *graph, struct ob *node)
{
    ob_msg(graph, 1, node);
}

void ob_attr_int(struct ob *node, const char *name, int64_t v)
{
    struct ob a = {0};
    ob_str(&a, 1, name);
    ob_uint(&a, 3, (uint64_t)v);
    ob_uint(&a, 20, 2);
    ob_msg(node, 5, &a);
}

void ob_attr_float(struct ob *node, const char *name, float v)
{
    struct ob a = {0};
    uint32_t bits;
    uint8_t b[4];
    memcpy(&bits, &v, 4);
    le(b, bits, 4);
    ob_str(&a, 1, name);
    varint(&a, 2 << 3 | 5);
    put(&a, b, 4);
    ob_uint(&a, 20, 1);
    ob_msg(node, 5, &a);
}

void ob_attr_ints(struct ob *node, const char *name, int n, const int64_t *v)
{
    struct ob a = {0}, packed = {0};
    ob_str(&a, 1, name);
    for (int i = 0; i < n; i++)
        varint(&packed, (uint64_t)v[i]);
    ob_msg(&a, 8, &packed); /* packed form */
    ob_uint(&a, 20, 7);
    ob_msg(node, 5, &a);
}

void ob_attr_str(struct ob *node, const char *name, const char *s)
{
    struct ob a = {0};
    ob_str(&a, 1, name);
    ob_str(&a, 4, s);
    ob_uint(&a, 20, 3);
    ob_msg(node, 5, &a);
}

void ob_attr_tensor_i64(struct ob *node, const char *name, int n, const int64_t *v)
{
    struct ob a = {0}, t = {0}, raw = {0};
    ob_uint(&t, 1, (uint64_t)n);
    ob_uint(&t, 2, 7);
    for (int i = 0; i < n; i++) {
        uint8_t b[8];
        le(b, (uint64_t)v[i], 8);
        put(&raw, b, 8);
    }
    ob_msg(&t, 9, &raw);
    ob_str(&a, 1, name);
    ob_msg(&a, 5, &t);
    ob_uint(&a, 20, 4);
    ob_msg(node, 5, &a);
}

void ob_value(struct ob *graph, uint32_t field, const char *name, int rank,
              const int64_t *dims)
{
    struct ob shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        struct ob dim = {0};
        if (dims[i] >= 0)
            ob_uint(&dim, 1, (uint64_t)dims[i]);
        else
            ob_str(&dim, 2, "batch");
        ob_msg(&shape, 1, &dim);
    }
    ob_uint(&tensor, 1, 1);
    ob_msg(&tensor, 2, &shape);
    ob_msg(&type, 1, &tensor);
    ob_str(&vi, 1, name);
    ob_msg(&vi, 2, &type);
    ob_msg(graph, field, &vi);
}

void ob_model(struct ob *graph, int64_t opset, uint8_t **data, size_t *size)
{
    struct ob m = {0}, op = {0};
    ob_uint(&m, 1, 7);
    ob_msg(&m, 7, graph);
    ob_str(&op, 1, "");
    ob_uint(&op, 2, (uint64_t)opset);
    ob_msg(&m, 8, &op);
    *data = m.b.data;
    *size = m.b.len;
}
