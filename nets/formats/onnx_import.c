#include "nets/formats/onnx_import.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/gzread.h"
#include "nets/formats/onnx_wire.h"

#define MAX_RANK IBP_ONNX_MAX_RANK
/* Largest data tensor (elements) and file accepted: far above any verification model. */
#define MAX_DATA_ELEMS ((size_t)1 << 26)
#define MAX_FILE_BYTES ((size_t)1 << 31)
/* Largest kernel size, stride, padding or dilation accepted from a file. */
#define MAX_WINDOW 65536

/* An ONNX tensor during import: either a constant folded at load time, or data flowing
 * through the network. A data tensor's elements (row-major over dims) are those of
 * network value `value`, element i being value element map[i] (map NULL: identity). */
struct sym {
    struct ibp_pb_slice name;
    int is_const;
    int rank;
    int64_t dims[MAX_RANK];
    size_t count;
    double *data;    /* constant: [count] */
    int value;       /* data: network value index */
    int32_t *map;    /* data: [count] or NULL */
    int pad[4];      /* data: pending zero Pad, h_begin w_begin h_end w_end; dims include it */
    int fold_layer;  /* LINEAR/CONV layer whose bias may absorb a constant Add/Sub, or -1 */
    int norm_layer;  /* NORMALIZE layer with std = +-1 that may absorb Mul/Div, or -1 */
};

/* A layer being built; parameters in double until the network is created. */
struct layer {
    struct ibp_layer_spec spec;
    double *w, *b; /* LINEAR [out][in] / CONV [out][in/g][kh][kw]; b NULL = no bias */
    double *p[4];  /* BATCHNORM gamma, beta, mean, var; NORMALIZE mean, std */
    size_t n_w, n_p;
};

struct importer {
    const char *path;
    struct ibp_onnx_model m;
    struct ibp_error *err;
    struct sym *syms;
    int n_syms, cap_syms;
    struct layer *layers;
    struct ibp_shape *shapes; /* [n_layers + 1] */
    int n_layers, cap_layers;
    int input_flexible; /* the input shape may still become (n,1,1) */
    const struct ibp_onnx_node *node;
    int node_index;
};

/* ---- messages ---- */

static void node_label(const struct importer *im, char *buf, size_t cap)
{
    char name[64], op[32];
    if (!im->node) {
        buf[0] = '\0';
        return;
    }
    ibp_pb_str(im->node->op_type, op, sizeof op);
    if (im->node->name.n) {
        ibp_pb_str(im->node->name, name, sizeof name);
        snprintf(buf, cap, "node '%s' (op %s): ", name, op);
    } else {
        snprintf(buf, cap, "node %d (op %s): ", im->node_index, op);
    }
}

static enum ibp_status fail(struct importer *im, enum ibp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ibp_status fail(struct importer *im, enum ibp_status st, const char *fmt, ...)
{
    char msg[IBP_ERROR_LEN], label[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    node_label(im, label, sizeof label);
    return ibp_fail(im->err, st, "%s: %s%s", im->path, label, msg);
}

static enum ibp_status nomem(struct importer *im)
{
    return fail(im, IBP_ERR_NOMEM, "out of memory");
}

/* ---- symbols ---- */

static void sym_clear(struct sym *s)
{
    free(s->data);
    free(s->map);
    s->data = NULL;
    s->map = NULL;
}

static const struct sym *lookup(const struct importer *im, struct ibp_pb_slice name)
{
    for (int i = im->n_syms - 1; i >= 0; i--)
        if (im->syms[i].name.n == name.n && memcmp(im->syms[i].name.p, name.p, name.n) == 0)
            return &im->syms[i];
    return NULL;
}

/* Takes ownership of s's arrays (also on failure). */
static enum ibp_status define(struct importer *im, struct ibp_pb_slice name, struct sym *s)
{
    if (im->n_syms == im->cap_syms) {
        int cap = im->cap_syms ? 2 * im->cap_syms : 64;
        struct sym *p = realloc(im->syms, (size_t)cap * sizeof *p);
        if (!p) {
            sym_clear(s);
            return nomem(im);
        }
        im->syms = p;
        im->cap_syms = cap;
    }
    s->name = name;
    im->syms[im->n_syms++] = *s;
    return IBP_OK;
}

/* Uses of a tensor name: node inputs plus graph outputs. */
static int uses(const struct importer *im, struct ibp_pb_slice name)
{
    int n = 0;
    for (int i = 0; i < im->m.n_nodes; i++)
        for (int j = 0; j < im->m.nodes[i].n_in; j++) {
            struct ibp_pb_slice s = im->m.nodes[i].in[j];
            n += s.n == name.n && s.n && memcmp(s.p, name.p, s.n) == 0;
        }
    for (int i = 0; i < im->m.n_outputs; i++) {
        struct ibp_pb_slice s = im->m.outputs[i].name;
        n += s.n == name.n && s.n && memcmp(s.p, name.p, s.n) == 0;
    }
    return n;
}

static int has_input(const struct ibp_onnx_node *n, int i)
{
    return i < n->n_in && n->in[i].n > 0;
}

static enum ibp_status input(struct importer *im, int i, const struct sym **out)
{
    char name[64];
    if (!has_input(im->node, i))
        return fail(im, IBP_ERR_FORMAT, "missing input %d", i);
    *out = lookup(im, im->node->in[i]);
    if (!*out) {
        ibp_pb_str(im->node->in[i], name, sizeof name);
        return fail(im, IBP_ERR_FORMAT, "input '%s' is not defined before use", name);
    }
    return IBP_OK;
}

static enum ibp_status const_input(struct importer *im, int i, const struct sym **out)
{
    enum ibp_status st = input(im, i, out);
    if (st == IBP_OK && !(*out)->is_const)
        return fail(im, IBP_ERR_UNSUPPORTED, "input %d must be a constant (initializer)", i);
    return st;
}

/* The data input 0, without pending padding. */
static enum ibp_status data_input(struct importer *im, const struct sym **out)
{
    enum ibp_status st = input(im, 0, out);
    if (st != IBP_OK)
        return st;
    const int *p = (*out)->pad;
    if (!(*out)->is_const && (p[0] || p[1] || p[2] || p[3]))
        return fail(im, IBP_ERR_UNSUPPORTED, "a Pad output must feed a Conv or AveragePool");
    return IBP_OK;
}

/* Extra outputs (BN statistics, MaxPool indices, Dropout mask) must not be used. */
static enum ibp_status check_extra_outputs_unused(struct importer *im)
{
    for (int j = 1; j < im->node->n_out; j++)
        if (im->node->out[j].n && uses(im, im->node->out[j]))
            return fail(im, IBP_ERR_UNSUPPORTED, "output %d is used (only output 0 is supported)",
                        j);
    return IBP_OK;
}

/* Element count, saturating at SIZE_MAX (every caller then rejects the size). */
static size_t dims_count(int rank, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] != 0 && n > SIZE_MAX / (size_t)dims[i])
            return SIZE_MAX;
        n *= (size_t)dims[i];
    }
    return n;
}

/* A copy of a symbol's arrays (for aliasing ops). */
static enum ibp_status sym_copy(struct importer *im, const struct sym *s, struct sym *out)
{
    *out = *s;
    out->data = NULL;
    out->map = NULL;
    if (s->data) {
        out->data = malloc((s->count ? s->count : 1) * sizeof *out->data);
        if (!out->data)
            return nomem(im);
        memcpy(out->data, s->data, s->count * sizeof *out->data);
    }
    if (s->map) {
        out->map = malloc((s->count ? s->count : 1) * sizeof *out->map);
        if (!out->map)
            return nomem(im);
        memcpy(out->map, s->map, s->count * sizeof *out->map);
    }
    return IBP_OK;
}

static size_t map_at(const struct sym *s, size_t i)
{
    return s->map ? (size_t)s->map[i] : i;
}

/* ---- attributes ---- */

static int64_t attr_int(const struct importer *im, const char *name, int64_t def)
{
    const struct ibp_onnx_attr *a = ibp_onnx_node_attr(im->node, name);
    return a && a->has_i ? a->i : def;
}

static double attr_float(const struct importer *im, const char *name, double def)
{
    const struct ibp_onnx_attr *a = ibp_onnx_node_attr(im->node, name);
    return a && a->has_f ? a->f : def;
}

/* Reads an ints attribute of exactly n values (when present) into out; *present tells. */
static enum ibp_status attr_ints(struct importer *im, const char *name, int n, int64_t *out,
                                 int *present)
{
    const struct ibp_onnx_attr *a = ibp_onnx_node_attr(im->node, name);
    *present = 0;
    if (!a)
        return IBP_OK;
    if (a->n_ints != (size_t)n)
        return fail(im, IBP_ERR_UNSUPPORTED, "attribute %s has %zu values, expected %d", name,
                    a->n_ints, n);
    enum ibp_status st = ibp_onnx_attr_ints(a, out, (size_t)n, im->path, im->err);
    if (st == IBP_OK)
        *present = 1;
    return st;
}

/* ---- layers ---- */

static int is_vector(struct ibp_shape s)
{
    return s.h == 1 && s.w == 1;
}

static long window_out(int in, int pad, int kernel, int stride, int dilation)
{
    long span = (long)dilation * (kernel - 1) + 1;
    long padded = (long)in + 2L * pad;
    if (span > padded)
        return 0;
    return (padded - span) / stride + 1;
}

/* Appends a layer (spec complete, inputs absolute) and returns its output value index in
 * *value. Takes ownership of l's arrays. */
static enum ibp_status add_layer(struct importer *im, struct layer *l, int *value)
{
    if (im->n_layers + 1 >= im->cap_layers) {
        int cap = im->cap_layers ? 2 * im->cap_layers : 32;
        struct layer *p = realloc(im->layers, (size_t)cap * sizeof *p);
        if (p)
            im->layers = p;
        struct ibp_shape *q = p ? realloc(im->shapes, ((size_t)cap + 1) * sizeof *q) : NULL;
        if (!p || !q) {
            free(l->w);
            free(l->b);
            for (int i = 0; i < 4; i++)
                free(l->p[i]);
            return nomem(im);
        }
        im->shapes = q;
        im->cap_layers = cap;
    }
    struct ibp_layer_spec *s = &l->spec;
    struct ibp_shape in = im->shapes[s->in[0]], out = in;
    switch (s->kind) {
    case IBP_LAYER_LINEAR:
        out = (struct ibp_shape){s->out, 1, 1};
        break;
    case IBP_LAYER_FLATTEN:
        out = (struct ibp_shape){(int)ibp_shape_size(in), 1, 1};
        break;
    case IBP_LAYER_CONV2D:
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL: {
        long oh = window_out(in.h, s->ph, s->kh, s->sh, s->dh ? s->dh : 1);
        long ow = window_out(in.w, s->pw, s->kw, s->sw, s->dw ? s->dw : 1);
        if (oh <= 0 || ow <= 0) {
            free(l->w);
            free(l->b);
            return fail(im, IBP_ERR_SHAPE, "window %dx%d does not fit the input %dx%d", s->kh,
                        s->kw, in.h + 2 * s->ph, in.w + 2 * s->pw);
        }
        out = (struct ibp_shape){s->kind == IBP_LAYER_CONV2D ? s->out : in.c, (int)oh, (int)ow};
        break;
    }
    default:
        break;
    }
    if (ibp_shape_size(out) > MAX_DATA_ELEMS) {
        free(l->w);
        free(l->b);
        for (int i = 0; i < 4; i++)
            free(l->p[i]);
        return fail(im, IBP_ERR_UNSUPPORTED, "layer output of %zu elements is too large",
                    ibp_shape_size(out));
    }
    im->layers[im->n_layers] = *l;
    im->n_layers++;
    im->shapes[im->n_layers] = out;
    *value = im->n_layers;
    return IBP_OK;
}

static double *alloc_doubles(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

/* Per-channel values of a data tensor's network value from per-element values
 * vals[s->count]: 0 when some channel would need two different values. */
static int to_channels(const struct importer *im, const struct sym *s, const double *vals,
                       double *per_ch)
{
    struct ibp_shape sh = im->shapes[s->value];
    size_t hw = (size_t)sh.h * (size_t)sh.w;
    char *seen = calloc((size_t)sh.c, 1);
    if (!seen)
        return -1;
    int ok = 1;
    for (size_t i = 0; i < s->count && ok; i++) {
        size_t c = map_at(s, i) / hw;
        if (!seen[c]) {
            seen[c] = 1;
            per_ch[c] = vals[i];
        } else if (!(per_ch[c] == vals[i]) && !(isnan(per_ch[c]) && isnan(vals[i]))) {
            ok = 0;
        }
    }
    free(seen);
    return ok;
}

/* A new data symbol for a layer output: row-major over dims, identity map. */
static struct sym data_sym(int value, int rank, const int64_t *dims)
{
    struct sym s;
    memset(&s, 0, sizeof s);
    s.value = value;
    s.rank = rank;
    memcpy(s.dims, dims, (size_t)rank * sizeof *dims);
    s.count = dims_count(rank, dims);
    s.fold_layer = s.norm_layer = -1;
    return s;
}

/* ---- broadcasting and permutation of index spaces ---- */

/* Numpy broadcast of two shapes; 0 if incompatible. */
static int broadcast_dims(int ra, const int64_t *a, int rb, const int64_t *b, int *rank,
                          int64_t *dims)
{
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int64_t x = i < r - ra ? 1 : a[i - (r - ra)];
        int64_t y = i < r - rb ? 1 : b[i - (r - rb)];
        if (x != y && x != 1 && y != 1)
            return 0;
        dims[i] = x == 1 ? y : x;
    }
    *rank = r;
    return 1;
}

/* out[count(dims)] = constant c broadcast to dims (c broadcastable to dims). */
static void broadcast_to(const struct sym *c, int rank, const int64_t *dims, double *out)
{
    int64_t stride[MAX_RANK], idx[MAX_RANK];
    int64_t st = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ci = i - (rank - c->rank);
        int64_t d = ci >= 0 ? c->dims[ci] : 1;
        stride[i] = d == 1 ? 0 : st;
        st *= d;
        idx[i] = 0;
    }
    size_t n = dims_count(rank, dims);
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        out[k] = c->data[off];
        for (int i = rank - 1; i >= 0; i--) {
            idx[i]++;
            off += (size_t)stride[i];
            if (idx[i] < dims[i])
                break;
            off -= (size_t)(stride[i] * dims[i]);
            idx[i] = 0;
        }
    }
}

/* src[j] = row-major index in the input (dims) of element j of the transposed tensor. */
static void transpose_index(int rank, const int64_t *dims, const int64_t *perm, size_t *src)
{
    int64_t in_stride[MAX_RANK], out_dims[MAX_RANK], stride[MAX_RANK], idx[MAX_RANK];
    int64_t st = 1;
    for (int i = rank - 1; i >= 0; i--) {
        in_stride[i] = st;
        st *= dims[i];
    }
    for (int k = 0; k < rank; k++) {
        out_dims[k] = dims[perm[k]];
        stride[k] = in_stride[perm[k]];
        idx[k] = 0;
    }
    size_t n = dims_count(rank, dims);
    size_t off = 0;
    for (size_t j = 0; j < n; j++) {
        src[j] = off;
        for (int k = rank - 1; k >= 0; k--) {
            idx[k]++;
            off += (size_t)stride[k];
            if (idx[k] < out_dims[k])
                break;
            off -= (size_t)(stride[k] * out_dims[k]);
            idx[k] = 0;
        }
    }
}

/* ---- operators ---- */

static enum ibp_status op_constant(struct importer *im)
{
    const struct ibp_onnx_attr *a;
    struct sym s;
    memset(&s, 0, sizeof s);
    s.is_const = 1;
    s.fold_layer = s.norm_layer = -1;
    if ((a = ibp_onnx_node_attr(im->node, "value")) && a->has_t) {
        s.rank = a->t.rank;
        memcpy(s.dims, a->t.dims, sizeof s.dims);
        s.count = a->t.count;
        if (!(s.data = alloc_doubles(s.count)))
            return nomem(im);
        enum ibp_status st = ibp_onnx_tensor_read(&a->t, s.data, im->path, im->err);
        if (st != IBP_OK) {
            free(s.data);
            return st;
        }
    } else if ((a = ibp_onnx_node_attr(im->node, "value_float")) ||
               (a = ibp_onnx_node_attr(im->node, "value_int"))) {
        s.count = 1;
        if (!(s.data = alloc_doubles(1)))
            return nomem(im);
        s.data[0] = a->has_f ? a->f : (double)a->i;
    } else if ((a = ibp_onnx_node_attr(im->node, "value_floats")) ||
               (a = ibp_onnx_node_attr(im->node, "value_ints"))) {
        int ints = ibp_pb_eq(a->name, "value_ints");
        s.rank = 1;
        s.count = ints ? a->n_ints : a->n_floats;
        s.dims[0] = (int64_t)s.count;
        int64_t *tmp = calloc(s.count ? s.count : 1, sizeof *tmp);
        if (!tmp || !(s.data = alloc_doubles(s.count))) {
            free(tmp);
            return nomem(im);
        }
        enum ibp_status st =
            ints ? ibp_onnx_attr_ints(a, tmp, s.count, im->path, im->err)
                 : ibp_onnx_attr_floats(a, s.data, s.count, im->path, im->err);
        for (size_t i = 0; ints && i < s.count; i++)
            s.data[i] = (double)tmp[i];
        free(tmp);
        if (st != IBP_OK) {
            free(s.data);
            return st;
        }
    } else {
        return fail(im, IBP_ERR_UNSUPPORTED, "Constant without a numeric value attribute");
    }
    return define(im, im->node->out[0], &s);
}

/* Identity, Dropout: the output is the input. */
static enum ibp_status op_identity(struct importer *im)
{
    const struct sym *x, *mode;
    enum ibp_status st = input(im, 0, &x);
    if (st != IBP_OK)
        return st;
    if (has_input(im->node, 2)) { /* Dropout training_mode (opset 12+) */
        if ((st = const_input(im, 2, &mode)) != IBP_OK)
            return st;
        if (mode->count != 1 || mode->data[0] != 0.0)
            return fail(im, IBP_ERR_UNSUPPORTED, "Dropout in training mode");
    }
    if ((st = check_extra_outputs_unused(im)) != IBP_OK)
        return st;
    struct sym s;
    if ((st = sym_copy(im, x, &s)) != IBP_OK) {
        sym_clear(&s);
        return st;
    }
    if (uses(im, im->node->in[0]) != 1)
        s.fold_layer = s.norm_layer = -1;
    return define(im, im->node->out[0], &s);
}

/* The output of a shape-only op: x's elements in the same row-major order, new dims. */
static enum ibp_status reshaped(struct importer *im, const struct sym *x, int rank,
                                const int64_t *dims)
{
    struct sym s;
    enum ibp_status st = sym_copy(im, x, &s);
    if (st != IBP_OK) {
        sym_clear(&s);
        return st;
    }
    s.rank = rank;
    memcpy(s.dims, dims, (size_t)rank * sizeof *dims);
    if (uses(im, im->node->in[0]) != 1)
        s.fold_layer = s.norm_layer = -1;
    return define(im, im->node->out[0], &s);
}

static enum ibp_status op_flatten(struct importer *im)
{
    const struct sym *x;
    enum ibp_status st = data_input(im, &x);
    if (st != IBP_OK)
        return st;
    int64_t axis = attr_int(im, "axis", 1);
    if (axis < 0)
        axis += x->rank;
    if (axis < 0 || axis > x->rank)
        return fail(im, IBP_ERR_FORMAT, "axis %lld out of range for rank %d",
                    (long long)attr_int(im, "axis", 1), x->rank);
    int64_t dims[2] = {(int64_t)dims_count((int)axis, x->dims),
                       (int64_t)dims_count(x->rank - (int)axis, x->dims + axis)};
    return reshaped(im, x, 2, dims);
}

static enum ibp_status op_reshape(struct importer *im)
{
    const struct sym *x, *shape;
    enum ibp_status st = data_input(im, &x);
    if (st == IBP_OK)
        st = const_input(im, 1, &shape);
    if (st != IBP_OK)
        return st;
    if (shape->rank != 1 || shape->count > MAX_RANK)
        return fail(im, IBP_ERR_UNSUPPORTED, "shape must be a 1-D tensor of at most %d values",
                    MAX_RANK);
    int allow_zero = attr_int(im, "allowzero", 0) != 0;
    int64_t dims[MAX_RANK];
    int rank = (int)shape->count, infer = -1;
    size_t known = 1;
    for (int i = 0; i < rank; i++) {
        double v = shape->data[i];
        if (v != floor(v) || v < -1 || v > (double)MAX_DATA_ELEMS)
            return fail(im, IBP_ERR_FORMAT, "bad shape entry %g", v);
        dims[i] = (int64_t)v;
        if (dims[i] == 0 && !allow_zero) {
            if (i >= x->rank)
                return fail(im, IBP_ERR_FORMAT, "shape entry 0 at %d beyond input rank %d", i,
                            x->rank);
            dims[i] = x->dims[i];
        }
        if (dims[i] == -1) {
            if (infer >= 0)
                return fail(im, IBP_ERR_FORMAT, "more than one -1 in the shape");
            infer = i;
            continue;
        }
        known *= (size_t)dims[i];
        if (known > MAX_DATA_ELEMS * 16)
            return fail(im, IBP_ERR_FORMAT, "shape too large");
    }
    if (infer >= 0) {
        if (known == 0 || x->count % known)
            return fail(im, IBP_ERR_SHAPE, "cannot infer the -1 entry for %zu elements",
                        x->count);
        dims[infer] = (int64_t)(x->count / known);
    } else if (known != x->count) {
        return fail(im, IBP_ERR_SHAPE, "shape has %zu elements, the input %zu", known, x->count);
    }
    return reshaped(im, x, rank, dims);
}

static enum ibp_status op_transpose(struct importer *im)
{
    const struct sym *x;
    enum ibp_status st = data_input(im, &x);
    if (st != IBP_OK)
        return st;
    int64_t perm[MAX_RANK];
    int present, used[MAX_RANK] = {0};
    const struct ibp_onnx_attr *a = ibp_onnx_node_attr(im->node, "perm");
    if (a && (st = attr_ints(im, "perm", x->rank, perm, &present)) != IBP_OK)
        return st;
    for (int i = 0; i < x->rank; i++) {
        if (!a)
            perm[i] = x->rank - 1 - i;
        if (perm[i] < 0 || perm[i] >= x->rank || used[perm[i]]++)
            return fail(im, IBP_ERR_FORMAT, "perm is not a permutation of 0..%d", x->rank - 1);
    }
    size_t *src = malloc((x->count ? x->count : 1) * sizeof *src);
    struct sym s;
    if (!src || (st = sym_copy(im, x, &s)) != IBP_OK) {
        free(src);
        if (src)
            sym_clear(&s);
        return src ? st : nomem(im);
    }
    transpose_index(x->rank, x->dims, perm, src);
    for (int k = 0; k < x->rank; k++)
        s.dims[k] = x->dims[perm[k]];
    if (s.is_const) {
        for (size_t j = 0; j < s.count; j++)
            s.data[j] = x->data[src[j]];
    } else {
        int identity = 1;
        if (!s.map && !(s.map = malloc((s.count ? s.count : 1) * sizeof *s.map))) {
            free(src);
            sym_clear(&s);
            return nomem(im);
        }
        for (size_t j = 0; j < s.count; j++) {
            s.map[j] = (int32_t)map_at(x, src[j]);
            identity &= (size_t)s.map[j] == j;
        }
        if (identity) {
            free(s.map);
            s.map = NULL;
        }
    }
    free(src);
    if (uses(im, im->node->in[0]) != 1)
        s.fold_layer = s.norm_layer = -1;
    return define(im, im->node->out[0], &s);
}

static enum ibp_status op_relu(struct importer *im)
{
    const struct sym *x;
    enum ibp_status st = data_input(im, &x);
    if (st != IBP_OK)
        return st;
    struct sym s;
    if ((st = sym_copy(im, x, &s)) != IBP_OK) {
        sym_clear(&s);
        return st;
    }
    s.fold_layer = s.norm_layer = -1;
    if (s.is_const) {
        for (size_t i = 0; i < s.count; i++)
            s.data[i] = s.data[i] > 0 ? s.data[i] : 0.0;
    } else {
        struct layer l;
        memset(&l, 0, sizeof l);
        l.spec.kind = IBP_LAYER_RELU;
        l.spec.in[0] = x->value;
        if ((st = add_layer(im, &l, &s.value)) != IBP_OK) {
            sym_clear(&s);
            return st;
        }
    }
    return define(im, im->node->out[0], &s);
}

/* A LINEAR layer y = W x + b on data tensor x (K = x->count elements, W [n][K] indexed
 * by x's row-major elements); output dims given. Inserts a FLATTEN when x is held as an
 * image. Takes ownership of w and b (b may be NULL). */
static enum ibp_status emit_linear(struct importer *im, const struct sym *x, int n, double *w,
                                   double *b, int rank, const int64_t *dims)
{
    enum ibp_status st;
    int value = x->value;
    size_t k = x->count;
    if (!is_vector(im->shapes[value])) {
        struct layer f;
        memset(&f, 0, sizeof f);
        f.spec.kind = IBP_LAYER_FLATTEN;
        f.spec.in[0] = value;
        if ((st = add_layer(im, &f, &value)) != IBP_OK) {
            free(w);
            free(b);
            return st;
        }
    }
    struct layer l;
    memset(&l, 0, sizeof l);
    l.spec.kind = IBP_LAYER_LINEAR;
    l.spec.in[0] = value;
    l.spec.out = n;
    l.n_w = (size_t)n * k;
    l.w = alloc_doubles(l.n_w);
    if (!l.w) {
        free(w);
        free(b);
        return nomem(im);
    }
    for (int o = 0; o < n; o++)
        for (size_t i = 0; i < k; i++)
            l.w[(size_t)o * k + map_at(x, i)] = w[(size_t)o * k + i];
    free(w);
    l.b = b;
    l.spec.no_bias = b == NULL;
    struct sym s = data_sym(0, rank, dims);
    if ((st = add_layer(im, &l, &s.value)) != IBP_OK)
        return st;
    s.fold_layer = im->n_layers - 1;
    return define(im, im->node->out[0], &s);
}

static enum ibp_status check_linear_size(struct importer *im, size_t n, size_t k)
{
    if (n == 0 || k == 0 || n > MAX_DATA_ELEMS || n * k > MAX_DATA_ELEMS * 4)
        return fail(im, IBP_ERR_UNSUPPORTED, "matrix %zux%zu out of range", n, k);
    return IBP_OK;
}

static enum ibp_status op_gemm(struct importer *im)
{
    const struct sym *a, *bm, *c = NULL;
    enum ibp_status st = data_input(im, &a);
    if (st == IBP_OK)
        st = const_input(im, 1, &bm);
    if (st == IBP_OK && has_input(im->node, 2))
        st = const_input(im, 2, &c);
    if (st != IBP_OK)
        return st;
    if (a->is_const)
        return fail(im, IBP_ERR_UNSUPPORTED, "Gemm on constants only");
    int ta = attr_int(im, "transA", 0) != 0, tb = attr_int(im, "transB", 0) != 0;
    double alpha = attr_float(im, "alpha", 1.0), beta = attr_float(im, "beta", 1.0);
    if (a->rank != 2 || bm->rank != 2)
        return fail(im, IBP_ERR_SHAPE, "Gemm needs 2-D A and B (got ranks %d and %d)", a->rank,
                    bm->rank);
    int64_t m = a->dims[ta ? 1 : 0], k = a->dims[ta ? 0 : 1];
    int64_t kb = bm->dims[tb ? 1 : 0], n = bm->dims[tb ? 0 : 1];
    if (m != 1)
        return fail(im, IBP_ERR_UNSUPPORTED, "Gemm with %lld rows in A (batch must be 1)",
                    (long long)m);
    if (k != kb)
        return fail(im, IBP_ERR_SHAPE, "Gemm inner sizes %lld and %lld differ", (long long)k,
                    (long long)kb);
    if ((st = check_linear_size(im, (size_t)n, (size_t)k)) != IBP_OK)
        return st;
    int64_t out_dims[2] = {1, n};
    double *w = alloc_doubles((size_t)(n * k)), *b = NULL;
    if (!w)
        return nomem(im);
    for (int64_t o = 0; o < n; o++)
        for (int64_t i = 0; i < k; i++)
            w[o * k + i] = alpha * bm->data[tb ? o * k + i : i * n + o];
    if (c) {
        int rank;
        int64_t dims[MAX_RANK];
        if (!broadcast_dims(c->rank, c->dims, 2, out_dims, &rank, dims) || rank != 2 ||
            dims[0] != 1 || dims[1] != n) {
            free(w);
            return fail(im, IBP_ERR_SHAPE, "Gemm C does not broadcast to 1x%lld", (long long)n);
        }
        if (!(b = alloc_doubles((size_t)n))) {
            free(w);
            return nomem(im);
        }
        broadcast_to(c, 2, out_dims, b);
        for (int64_t o = 0; o < n; o++)
            b[o] *= beta;
    }
    return emit_linear(im, a, (int)n, w, b, 2, out_dims);
}

static enum ibp_status op_matmul(struct importer *im)
{
    const struct sym *a, *b;
    enum ibp_status st = input(im, 0, &a);
    if (st == IBP_OK)
        st = input(im, 1, &b);
    if (st != IBP_OK)
        return st;
    if (a->is_const == b->is_const)
        return fail(im, IBP_ERR_UNSUPPORTED, "MatMul needs one constant and one data input");
    const struct sym *x = a->is_const ? b : a, *c = a->is_const ? a : b;
    if (x->pad[0] || x->pad[1] || x->pad[2] || x->pad[3])
        return fail(im, IBP_ERR_UNSUPPORTED, "a Pad output must feed a Conv or AveragePool");
    if (c->rank != 2)
        return fail(im, IBP_ERR_UNSUPPORTED, "MatMul with a constant of rank %d (2 supported)",
                    c->rank);
    int64_t dims[MAX_RANK];
    int rank = x->rank;
    memcpy(dims, x->dims, sizeof dims);
    size_t n, k;
    double *w;
    if (!a->is_const) { /* x[..., K] @ c[K, N] */
        k = (size_t)c->dims[0];
        n = (size_t)c->dims[1];
        if (rank < 1 || (size_t)x->dims[rank - 1] != k || x->count != k)
            return fail(im, IBP_ERR_UNSUPPORTED,
                        "MatMul of a %zu-element tensor by a %zux%zu matrix (one row of %zu "
                        "needed)", x->count, k, n, k);
        if ((st = check_linear_size(im, n, k)) != IBP_OK)
            return st;
        dims[rank - 1] = (int64_t)n;
        if (!(w = alloc_doubles(n * k)))
            return nomem(im);
        for (size_t o = 0; o < n; o++)
            for (size_t i = 0; i < k; i++)
                w[o * k + i] = c->data[i * n + o];
    } else { /* c[N, K] @ x[K] or x[..., K, 1] */
        n = (size_t)c->dims[0];
        k = (size_t)c->dims[1];
        int column = rank >= 2 && x->dims[rank - 1] == 1 && (size_t)x->dims[rank - 2] == k;
        if (x->count != k || !(rank == 1 || column))
            return fail(im, IBP_ERR_UNSUPPORTED,
                        "MatMul of a %zux%zu matrix by a %zu-element tensor (a column of %zu "
                        "needed)", n, k, x->count, k);
        if ((st = check_linear_size(im, n, k)) != IBP_OK)
            return st;
        dims[rank == 1 ? 0 : rank - 2] = (int64_t)n;
        if (!(w = alloc_doubles(n * k)))
            return nomem(im);
        memcpy(w, c->data, n * k * sizeof *w);
    }
    return emit_linear(im, x, (int)n, w, NULL, rank, dims);
}

/* Adds NORMALIZE (x - mean) / std over x's channels; output keeps x's dims and map. */
static enum ibp_status emit_normalize(struct importer *im, const struct sym *x, double *mean,
                                      double *std, int rank, const int64_t *dims,
                                      struct ibp_pb_slice out_name)
{
    struct layer l;
    memset(&l, 0, sizeof l);
    l.spec.kind = IBP_LAYER_NORMALIZE;
    l.spec.in[0] = x->value;
    l.p[0] = mean;
    l.p[1] = std;
    l.n_p = (size_t)im->shapes[x->value].c;
    struct sym s;
    enum ibp_status st = sym_copy(im, x, &s);
    if (st == IBP_OK)
        st = add_layer(im, &l, &s.value);
    else {
        free(mean);
        free(std);
    }
    if (st != IBP_OK) {
        sym_clear(&s);
        return st;
    }
    s.rank = rank;
    memcpy(s.dims, dims, (size_t)rank * sizeof *dims);
    s.fold_layer = -1;
    s.norm_layer = im->n_layers - 1;
    for (int c = 0; c < im->shapes[x->value].c; c++)
        if (std[c] != 1.0 && std[c] != -1.0)
            s.norm_layer = -1;
    return define(im, out_name, &s);
}

enum arith { ARITH_ADD, ARITH_SUB, ARITH_MUL, ARITH_DIV };

static double arith(enum arith op, double a, double b)
{
    switch (op) {
    case ARITH_ADD: return a + b;
    case ARITH_SUB: return a - b;
    case ARITH_MUL: return a * b;
    default: return a / b;
    }
}

static enum ibp_status fold_arith(struct importer *im, enum arith op, const struct sym *a,
                                  const struct sym *b)
{
    struct sym s;
    memset(&s, 0, sizeof s);
    s.is_const = 1;
    s.fold_layer = s.norm_layer = -1;
    if (!broadcast_dims(a->rank, a->dims, b->rank, b->dims, &s.rank, s.dims))
        return fail(im, IBP_ERR_SHAPE, "operand shapes do not broadcast");
    s.count = dims_count(s.rank, s.dims);
    if (s.count > MAX_DATA_ELEMS)
        return fail(im, IBP_ERR_UNSUPPORTED, "constant of %zu elements too large", s.count);
    double *x = alloc_doubles(s.count), *y = alloc_doubles(s.count);
    if (!x || !y) {
        free(x);
        free(y);
        return nomem(im);
    }
    broadcast_to(a, s.rank, s.dims, x);
    broadcast_to(b, s.rank, s.dims, y);
    for (size_t i = 0; i < s.count; i++)
        x[i] = arith(op, x[i], y[i]);
    free(y);
    s.data = x;
    return define(im, im->node->out[0], &s);
}

/* Add/Sub of two data tensors: ADD (Sub through a NORMALIZE with std -1). */
static enum ibp_status data_add(struct importer *im, enum arith op, const struct sym *a,
                                const struct sym *b)
{
    if (op == ARITH_MUL || op == ARITH_DIV)
        return fail(im, IBP_ERR_UNSUPPORTED, "product or quotient of two data tensors");
    if (a->rank != b->rank || memcmp(a->dims, b->dims, (size_t)a->rank * sizeof *a->dims) ||
        (a->map == NULL) != (b->map == NULL) ||
        (a->map && memcmp(a->map, b->map, a->count * sizeof *a->map)))
        return fail(im, IBP_ERR_UNSUPPORTED, "adding tensors of different shapes or layouts");
    struct ibp_shape sa = im->shapes[a->value], sb = im->shapes[b->value];
    if (sa.c != sb.c || sa.h != sb.h || sa.w != sb.w)
        return fail(im, IBP_ERR_UNSUPPORTED, "adding values held in different network shapes");
    enum ibp_status st;
    int vb = b->value;
    if (op == ARITH_SUB) {
        struct layer l;
        memset(&l, 0, sizeof l);
        l.spec.kind = IBP_LAYER_NORMALIZE;
        l.spec.in[0] = b->value;
        l.n_p = (size_t)sb.c;
        l.p[0] = alloc_doubles(l.n_p);
        l.p[1] = alloc_doubles(l.n_p);
        if (!l.p[0] || !l.p[1]) {
            free(l.p[0]);
            free(l.p[1]);
            return nomem(im);
        }
        for (size_t c = 0; c < l.n_p; c++)
            l.p[1][c] = -1.0;
        if ((st = add_layer(im, &l, &vb)) != IBP_OK)
            return st;
    }
    struct layer l;
    memset(&l, 0, sizeof l);
    l.spec.kind = IBP_LAYER_ADD;
    l.spec.in[0] = a->value;
    l.spec.in[1] = vb;
    struct sym s;
    if ((st = sym_copy(im, a, &s)) == IBP_OK)
        st = add_layer(im, &l, &s.value);
    if (st != IBP_OK) {
        sym_clear(&s);
        return st;
    }
    s.fold_layer = s.norm_layer = -1;
    return define(im, im->node->out[0], &s);
}

/* *flat = x held by a new FLATTEN layer of x's (image) value: the vector is c-major, the
 * order of x's map, so the map carries over. */
static enum ibp_status flatten_value(struct importer *im, const struct sym *x, struct sym *flat)
{
    struct layer f;
    memset(&f, 0, sizeof f);
    f.spec.kind = IBP_LAYER_FLATTEN;
    f.spec.in[0] = x->value;
    enum ibp_status st = sym_copy(im, x, flat);
    if (st == IBP_OK)
        st = add_layer(im, &f, &flat->value);
    if (st != IBP_OK) {
        sym_clear(flat);
        return st;
    }
    flat->fold_layer = flat->norm_layer = -1;
    return IBP_OK;
}

static enum ibp_status op_arith(struct importer *im, enum arith op)
{
    const struct sym *a, *b;
    enum ibp_status st = input(im, 0, &a);
    if (st == IBP_OK)
        st = input(im, 1, &b);
    if (st != IBP_OK)
        return st;
    if (a->is_const && b->is_const)
        return fold_arith(im, op, a, b);
    for (int i = 0; i < 2; i++) {
        const struct sym *s = i ? b : a;
        if (!s->is_const && (s->pad[0] || s->pad[1] || s->pad[2] || s->pad[3]))
            return fail(im, IBP_ERR_UNSUPPORTED, "a Pad output must feed a Conv or AveragePool");
    }
    if (!a->is_const && !b->is_const)
        return data_add(im, op, a, b);
    int x_first = !a->is_const;
    const struct sym *x = x_first ? a : b, *c = x_first ? b : a;
    struct ibp_pb_slice x_name = im->node->in[x_first ? 0 : 1];
    if (!x_first && op == ARITH_DIV)
        return fail(im, IBP_ERR_UNSUPPORTED, "division by a data tensor");
    int rank;
    int64_t dims[MAX_RANK];
    if (!broadcast_dims(x->rank, x->dims, c->rank, c->dims, &rank, dims) ||
        dims_count(rank, dims) != x->count)
        return fail(im, IBP_ERR_UNSUPPORTED, "the constant would enlarge the data tensor");
    double *vals = alloc_doubles(x->count);
    if (!vals)
        return nomem(im);
    broadcast_to(c, rank, dims, vals);
    int single_use = uses(im, x_name) == 1;

    /* a constant Add/Sub right after LINEAR/CONV folds into its bias */
    if (x->fold_layer >= 0 && single_use && (op == ARITH_ADD || (op == ARITH_SUB && x_first))) {
        struct layer *l = &im->layers[x->fold_layer];
        int nc = im->shapes[x->value].c;
        double *per = alloc_doubles((size_t)nc);
        if (!per) {
            free(vals);
            return nomem(im);
        }
        int ok = to_channels(im, x, vals, per);
        if (ok > 0 && !l->b && !(l->b = alloc_doubles((size_t)nc)))
            ok = -1;
        if (ok > 0) {
            l->spec.no_bias = 0;
            for (int ch = 0; ch < nc; ch++)
                l->b[ch] += op == ARITH_ADD ? per[ch] : -per[ch];
            free(per);
            free(vals);
            struct sym s;
            if ((st = sym_copy(im, x, &s)) != IBP_OK) {
                sym_clear(&s);
                return st;
            }
            s.rank = rank;
            memcpy(s.dims, dims, sizeof dims);
            return define(im, im->node->out[0], &s);
        }
        free(per);
        if (ok < 0) {
            free(vals);
            return nomem(im);
        }
    }

    /* per-channel NORMALIZE; where the constant varies within a channel (a per-element
     * affine map), an untouched input becomes a vector, any other image value is
     * flattened (c-major, so x's map still indexes it): each element is then a channel */
    struct sym flat;
    memset(&flat, 0, sizeof flat);
    for (int attempt = 0; attempt < 2; attempt++) {
        int nc = im->shapes[x->value].c;
        double *per = alloc_doubles((size_t)nc);
        if (!per) {
            free(vals);
            sym_clear(&flat);
            return nomem(im);
        }
        int ok = to_channels(im, x, vals, per);
        if (ok < 0) {
            free(per);
            free(vals);
            sym_clear(&flat);
            return nomem(im);
        }
        if (!ok) {
            free(per);
            if (attempt == 0 && x->value == 0 && im->input_flexible) {
                im->shapes[0] = (struct ibp_shape){(int)ibp_shape_size(im->shapes[0]), 1, 1};
                im->input_flexible = 0;
                continue;
            }
            if (attempt == 0) {
                if ((st = flatten_value(im, x, &flat)) != IBP_OK) {
                    free(vals);
                    return st;
                }
                x = &flat;
                continue;
            }
            free(vals);
            sym_clear(&flat);
            return fail(im, IBP_ERR_UNSUPPORTED,
                        "constant varies within a channel of the network value");
        }
        free(vals);
        for (int ch = 0; ch < nc; ch++) {
            if (op == ARITH_DIV && per[ch] == 0.0) {
                free(per);
                sym_clear(&flat);
                return fail(im, IBP_ERR_UNSUPPORTED, "division by zero");
            }
            if (op == ARITH_MUL && per[ch] == 0.0) {
                free(per);
                sym_clear(&flat);
                return fail(im, IBP_ERR_UNSUPPORTED, "multiplication by zero");
            }
        }
        /* Mul/Div after a NORMALIZE with std +-1 scales its std (exact for Div) */
        if ((op == ARITH_MUL || op == ARITH_DIV) && x->norm_layer >= 0 && single_use &&
            x->value == x->norm_layer + 1) {
            double *sd = im->layers[x->norm_layer].p[1];
            for (int ch = 0; ch < nc; ch++)
                sd[ch] = op == ARITH_DIV ? sd[ch] * per[ch] : sd[ch] / per[ch];
            free(per);
            struct sym s;
            if ((st = sym_copy(im, x, &s)) != IBP_OK) {
                sym_clear(&s);
                return st;
            }
            s.rank = rank;
            memcpy(s.dims, dims, sizeof dims);
            s.norm_layer = -1;
            return define(im, im->node->out[0], &s);
        }
        double *mean = alloc_doubles((size_t)nc), *sd = alloc_doubles((size_t)nc);
        if (!mean || !sd) {
            free(mean);
            free(sd);
            free(per);
            sym_clear(&flat);
            return nomem(im);
        }
        for (int ch = 0; ch < nc; ch++) {
            switch (op) {
            case ARITH_ADD: mean[ch] = -per[ch]; sd[ch] = 1.0; break;
            case ARITH_SUB:
                mean[ch] = per[ch];
                sd[ch] = x_first ? 1.0 : -1.0; /* c - x = (x - c) / -1 */
                break;
            case ARITH_MUL: mean[ch] = 0.0; sd[ch] = 1.0 / per[ch]; break;
            case ARITH_DIV: mean[ch] = 0.0; sd[ch] = per[ch]; break;
            }
        }
        free(per);
        st = emit_normalize(im, x, mean, sd, rank, dims, im->node->out[0]);
        sym_clear(&flat);
        return st;
    }
    return IBP_OK; /* not reached: the second attempt returns */
}

/* The image a Conv/pool reads: checks that data tensor x is (1,C,H,W) in NCHW layout
 * and held by the network as that image (before pending padding). */
static enum ibp_status image_input(struct importer *im, const struct sym *x)
{
    if (x->is_const)
        return fail(im, IBP_ERR_UNSUPPORTED, "operator on constants only");
    if (x->rank != 4 || x->dims[0] != 1)
        return fail(im, IBP_ERR_UNSUPPORTED, "only 2-D images with batch 1 (rank-4 input)");
    if (x->map)
        return fail(im, IBP_ERR_UNSUPPORTED,
                    "input is a transposed view of a network value (not NCHW)");
    struct ibp_shape s = im->shapes[x->value];
    int64_t h = x->dims[2] - x->pad[0] - x->pad[2], w = x->dims[3] - x->pad[1] - x->pad[3];
    if (s.c != x->dims[1] || s.h != h || s.w != w) {
        if (x->value == 0 && im->n_layers == 0 && s.c * s.h * s.w == x->dims[1] * h * w) {
            im->shapes[0] = (struct ibp_shape){(int)x->dims[1], (int)h, (int)w};
            im->input_flexible = 0;
            return IBP_OK;
        }
        return fail(im, IBP_ERR_UNSUPPORTED,
                    "input %lldx%lldx%lld is held as %dx%dx%d (a reshape into an image would "
                    "need an unflatten layer)",
                    (long long)x->dims[1], (long long)h, (long long)w, s.c, s.h, s.w);
    }
    return IBP_OK;
}

/* Window attributes common to Conv and the pools. in_h/in_w are the ONNX input sizes
 * (including pending padding); pads come out as begin/end totals including it. */
struct window {
    int64_t k[2], s[2], d[2], pb[2], pe[2];
};

static enum ibp_status window_attrs(struct importer *im, const struct sym *x, struct window *wd)
{
    int present;
    int64_t v[4];
    enum ibp_status st;
    if ((st = attr_ints(im, "strides", 2, v, &present)) != IBP_OK)
        return st;
    wd->s[0] = present ? v[0] : 1;
    wd->s[1] = present ? v[1] : 1;
    if ((st = attr_ints(im, "dilations", 2, v, &present)) != IBP_OK)
        return st;
    wd->d[0] = present ? v[0] : 1;
    wd->d[1] = present ? v[1] : 1;
    if ((st = attr_ints(im, "pads", 4, v, &present)) != IBP_OK)
        return st;
    for (int i = 0; i < 2; i++) {
        wd->pb[i] = present ? v[i] : 0;
        wd->pe[i] = present ? v[i + 2] : 0;
    }
    for (int i = 0; i < 2; i++)
        if (wd->k[i] < 1 || wd->k[i] > MAX_WINDOW || wd->s[i] < 1 || wd->s[i] > MAX_WINDOW ||
            wd->d[i] < 1 || wd->d[i] > MAX_WINDOW || wd->pb[i] < 0 || wd->pb[i] > MAX_WINDOW ||
            wd->pe[i] < 0 || wd->pe[i] > MAX_WINDOW)
            return fail(im, IBP_ERR_FORMAT, "kernel, stride, dilation or padding out of range");
    const struct ibp_onnx_attr *a = ibp_onnx_node_attr(im->node, "auto_pad");
    if (a && a->has_s && !ibp_pb_eq(a->s, "NOTSET")) {
        int upper = ibp_pb_eq(a->s, "SAME_UPPER"), lower = ibp_pb_eq(a->s, "SAME_LOWER");
        if (!upper && !lower && !ibp_pb_eq(a->s, "VALID"))
            return fail(im, IBP_ERR_FORMAT, "unknown auto_pad value");
        for (int i = 0; i < 2; i++) {
            wd->pb[i] = wd->pe[i] = 0;
            if (upper || lower) {
                int64_t in = x->dims[2 + i], out = (in + wd->s[i] - 1) / wd->s[i];
                int64_t total = (out - 1) * wd->s[i] + (wd->k[i] - 1) * wd->d[i] + 1 - in;
                if (total < 0)
                    total = 0;
                wd->pb[i] = upper ? total / 2 : total - total / 2;
                wd->pe[i] = total - wd->pb[i];
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        wd->pb[i] += x->pad[i];
        wd->pe[i] += x->pad[i + 2];
        if (wd->pb[i] == wd->pe[i])
            continue;
        /* Our layers pad both sides alike. Padding pb on both sides gives the same
         * windows when it gives as many of them: they start at -pb, step alike, and the
         * last one ends inside the asked padding, so the zeros read are the same. */
        int64_t in = x->dims[2 + i] - x->pad[i] - x->pad[i + 2];
        int64_t span = wd->d[i] * (wd->k[i] - 1) + 1;
        int64_t asked = in + wd->pb[i] + wd->pe[i] - span, even = in + 2 * wd->pb[i] - span;
        if (attr_int(im, "ceil_mode", 0)) /* pools: the last window may pass the padding */
            return fail(im, IBP_ERR_UNSUPPORTED, "asymmetric padding %lld/%lld with ceil_mode",
                        (long long)wd->pb[i], (long long)wd->pe[i]);
        if (asked < 0 || even < 0 || asked / wd->s[i] != even / wd->s[i])
            return fail(im, IBP_ERR_UNSUPPORTED,
                        "asymmetric padding %lld/%lld on axis %d changes the windows (the "
                        "layers pad both sides alike)",
                        (long long)wd->pb[i], (long long)wd->pe[i], 2 + i);
        wd->pe[i] = wd->pb[i];
    }
    return IBP_OK;
}

static enum ibp_status op_conv(struct importer *im)
{
    const struct sym *x, *w, *b = NULL;
    enum ibp_status st = input(im, 0, &x);
    if (st == IBP_OK)
        st = const_input(im, 1, &w);
    if (st == IBP_OK && has_input(im->node, 2))
        st = const_input(im, 2, &b);
    if (st != IBP_OK || (st = image_input(im, x)) != IBP_OK)
        return st;
    if (w->rank != 4)
        return fail(im, IBP_ERR_UNSUPPORTED, "only 2-D convolutions (weight rank %d)", w->rank);
    struct window wd;
    wd.k[0] = w->dims[2];
    wd.k[1] = w->dims[3];
    int present;
    int64_t ks[2];
    if ((st = attr_ints(im, "kernel_shape", 2, ks, &present)) != IBP_OK)
        return st;
    if (present && (ks[0] != wd.k[0] || ks[1] != wd.k[1]))
        return fail(im, IBP_ERR_SHAPE, "kernel_shape differs from the weight's");
    if ((st = window_attrs(im, x, &wd)) != IBP_OK)
        return st;
    int64_t groups = attr_int(im, "group", 1), m = w->dims[0], cin = x->dims[1];
    if (groups < 1 || groups > cin || cin % groups || m % groups || w->dims[1] * groups != cin)
        return fail(im, IBP_ERR_SHAPE, "weight %lldx%lld with group %lld does not fit %lld input "
                    "channels", (long long)m, (long long)w->dims[1], (long long)groups,
                    (long long)cin);
    if (m < 1 || m > (int64_t)MAX_DATA_ELEMS)
        return fail(im, IBP_ERR_SHAPE, "%lld output channels", (long long)m);
    if (b && (b->count != (size_t)m))
        return fail(im, IBP_ERR_SHAPE, "bias of %zu values for %lld channels", b->count,
                    (long long)m);
    struct layer l;
    memset(&l, 0, sizeof l);
    struct ibp_layer_spec *sp = &l.spec;
    sp->kind = IBP_LAYER_CONV2D;
    sp->in[0] = x->value;
    sp->out = (int)m;
    sp->in_size = (int)cin;
    sp->kh = (int)wd.k[0];
    sp->kw = (int)wd.k[1];
    sp->sh = (int)wd.s[0];
    sp->sw = (int)wd.s[1];
    sp->ph = (int)wd.pb[0];
    sp->pw = (int)wd.pb[1];
    sp->dh = (int)wd.d[0];
    sp->dw = (int)wd.d[1];
    sp->groups = (int)groups;
    l.n_w = w->count;
    if (!(l.w = alloc_doubles(w->count)) || (b && !(l.b = alloc_doubles((size_t)m)))) {
        free(l.w);
        return nomem(im);
    }
    memcpy(l.w, w->data, w->count * sizeof *l.w);
    if (b)
        memcpy(l.b, b->data, (size_t)m * sizeof *l.b);
    sp->no_bias = b == NULL;
    int value;
    if ((st = add_layer(im, &l, &value)) != IBP_OK)
        return st;
    struct ibp_shape o = im->shapes[value];
    int64_t dims[4] = {1, o.c, o.h, o.w};
    struct sym s = data_sym(value, 4, dims);
    s.fold_layer = im->n_layers - 1;
    return define(im, im->node->out[0], &s);
}

static enum ibp_status op_pool(struct importer *im, enum ibp_layer_kind kind, int global)
{
    const struct sym *x;
    enum ibp_status st = input(im, 0, &x);
    if (st != IBP_OK || (st = image_input(im, x)) != IBP_OK)
        return st;
    if ((st = check_extra_outputs_unused(im)) != IBP_OK)
        return st;
    int pending = x->pad[0] || x->pad[1] || x->pad[2] || x->pad[3];
    struct window wd;
    memset(&wd, 0, sizeof wd);
    int count_pad = 0;
    if (global) {
        if (pending)
            return fail(im, IBP_ERR_UNSUPPORTED, "a Pad output must feed a Conv or AveragePool");
        wd.k[0] = wd.s[0] = x->dims[2];
        wd.k[1] = wd.s[1] = x->dims[3];
    } else {
        int present;
        if ((st = attr_ints(im, "kernel_shape", 2, wd.k, &present)) != IBP_OK)
            return st;
        if (!present)
            return fail(im, IBP_ERR_FORMAT, "kernel_shape missing");
        if ((st = window_attrs(im, x, &wd)) != IBP_OK)
            return st;
        if (wd.d[0] != 1 || wd.d[1] != 1)
            return fail(im, IBP_ERR_UNSUPPORTED, "pooling with dilation");
        if (kind == IBP_LAYER_MAXPOOL && pending)
            return fail(im, IBP_ERR_UNSUPPORTED,
                        "Pad before MaxPool (zeros would take part in the max)");
        count_pad = attr_int(im, "count_include_pad", 0) != 0;
        if (pending) {
            int own = wd.pb[0] != x->pad[0] || wd.pb[1] != x->pad[1];
            if (own && !count_pad)
                return fail(im, IBP_ERR_UNSUPPORTED,
                            "Pad before AveragePool with its own uncounted padding");
            count_pad = 1;
        }
        if (attr_int(im, "ceil_mode", 0)) {
            for (int i = 0; i < 2; i++) {
                int64_t span = x->dims[2 + i] - x->pad[i] - x->pad[i + 2] + 2 * wd.pb[i] - wd.k[i];
                if (span >= 0 && span % wd.s[i])
                    return fail(im, IBP_ERR_UNSUPPORTED, "ceil_mode changes the output size");
            }
        }
    }
    if (wd.k[0] > MAX_WINDOW || wd.k[1] > MAX_WINDOW)
        return fail(im, IBP_ERR_UNSUPPORTED, "window too large");
    struct layer l;
    memset(&l, 0, sizeof l);
    struct ibp_layer_spec *sp = &l.spec;
    sp->kind = kind;
    sp->in[0] = x->value;
    sp->kh = (int)wd.k[0];
    sp->kw = (int)wd.k[1];
    sp->sh = (int)wd.s[0];
    sp->sw = (int)wd.s[1];
    sp->ph = (int)wd.pb[0];
    sp->pw = (int)wd.pb[1];
    sp->count_pad = count_pad;
    int value;
    if ((st = add_layer(im, &l, &value)) != IBP_OK)
        return st;
    struct ibp_shape o = im->shapes[value];
    int64_t dims[4] = {1, o.c, o.h, o.w};
    struct sym s = data_sym(value, 4, dims);
    return define(im, im->node->out[0], &s);
}

static enum ibp_status op_batchnorm(struct importer *im)
{
    const struct sym *x, *p[4];
    enum ibp_status st = data_input(im, &x);
    for (int i = 0; i < 4 && st == IBP_OK; i++)
        st = const_input(im, 1 + i, &p[i]);
    if (st == IBP_OK)
        st = check_extra_outputs_unused(im);
    if (st != IBP_OK)
        return st;
    if (x->is_const)
        return fail(im, IBP_ERR_UNSUPPORTED, "BatchNormalization on constants only");
    if (attr_int(im, "training_mode", 0) || !attr_int(im, "spatial", 1))
        return fail(im, IBP_ERR_UNSUPPORTED, "training mode or non-spatial BatchNormalization");
    if (x->rank < 2)
        return fail(im, IBP_ERR_SHAPE, "input of rank %d", x->rank);
    size_t c = (size_t)x->dims[1], inner = dims_count(x->rank - 2, x->dims + 2);
    for (int i = 0; i < 4; i++)
        if (p[i]->count != c)
            return fail(im, IBP_ERR_SHAPE, "parameter %d has %zu values for %zu channels",
                        i + 1, p[i]->count, c);
    double eps = attr_float(im, "epsilon", 1e-5);
    if (!((float)eps > 0.0f))
        return fail(im, IBP_ERR_UNSUPPORTED, "epsilon %g must be positive", eps);
    struct layer l;
    memset(&l, 0, sizeof l);
    l.spec.kind = IBP_LAYER_BATCHNORM;
    l.spec.in[0] = x->value;
    l.spec.eps = (float)eps;
    int nc = im->shapes[x->value].c;
    l.n_p = (size_t)nc;
    double *vals = alloc_doubles(x->count);
    int ok = vals != NULL;
    for (int i = 0; i < 4 && ok > 0; i++) {
        l.p[i] = alloc_doubles((size_t)nc);
        if (!l.p[i]) {
            ok = -1;
            break;
        }
        for (size_t e = 0; e < x->count; e++)
            vals[e] = p[i]->data[(e / (inner ? inner : 1)) % c];
        ok = to_channels(im, x, vals, l.p[i]);
    }
    free(vals);
    if (ok <= 0) {
        for (int i = 0; i < 4; i++)
            free(l.p[i]);
        return ok < 0 ? nomem(im)
                      : fail(im, IBP_ERR_UNSUPPORTED,
                             "channels do not match the network value's channels");
    }
    struct sym s;
    if ((st = sym_copy(im, x, &s)) == IBP_OK)
        st = add_layer(im, &l, &s.value);
    else
        for (int i = 0; i < 4; i++)
            free(l.p[i]);
    if (st != IBP_OK) {
        sym_clear(&s);
        return st;
    }
    s.fold_layer = s.norm_layer = -1;
    return define(im, im->node->out[0], &s);
}

static enum ibp_status op_pad(struct importer *im, int64_t opset)
{
    const struct sym *x, *pads_sym = NULL, *value = NULL;
    enum ibp_status st = input(im, 0, &x);
    if (st != IBP_OK)
        return st;
    if (x->is_const || x->rank != 4 || x->map)
        return fail(im, IBP_ERR_UNSUPPORTED, "Pad only on NCHW data tensors");
    const struct ibp_onnx_attr *mode = ibp_onnx_node_attr(im->node, "mode");
    if (mode && mode->has_s && !ibp_pb_eq(mode->s, "constant"))
        return fail(im, IBP_ERR_UNSUPPORTED, "only constant (zero) padding");
    int64_t pads[8];
    double fill = 0.0;
    if (opset < 11) {
        int present;
        if ((st = attr_ints(im, "pads", 8, pads, &present)) != IBP_OK)
            return st;
        if (!present)
            return fail(im, IBP_ERR_FORMAT, "pads missing");
        fill = attr_float(im, "value", 0.0);
    } else {
        if ((st = const_input(im, 1, &pads_sym)) != IBP_OK)
            return st;
        if (pads_sym->count != 8)
            return fail(im, IBP_ERR_UNSUPPORTED, "pads with %zu values (8 expected)",
                        pads_sym->count);
        for (int i = 0; i < 8; i++) {
            double v = pads_sym->data[i];
            if (v != floor(v) || fabs(v) > MAX_WINDOW)
                return fail(im, IBP_ERR_FORMAT, "bad pad %g", v);
            pads[i] = (int64_t)v;
        }
        if (has_input(im->node, 2)) {
            if ((st = const_input(im, 2, &value)) != IBP_OK)
                return st;
            if (value->count != 1)
                return fail(im, IBP_ERR_FORMAT, "constant_value is not a scalar");
            fill = value->data[0];
        }
    }
    if (fill != 0.0)
        return fail(im, IBP_ERR_UNSUPPORTED, "padding value %g (only 0)", fill);
    if (pads[0] || pads[1] || pads[4] || pads[5])
        return fail(im, IBP_ERR_UNSUPPORTED, "padding of the batch or channel axis");
    for (int i = 2; i < 8; i++)
        if (i != 4 && i != 5 && (pads[i] < 0 || pads[i] > MAX_WINDOW))
            return fail(im, IBP_ERR_UNSUPPORTED, "negative or huge padding");
    struct sym s;
    if ((st = sym_copy(im, x, &s)) != IBP_OK) {
        sym_clear(&s);
        return st;
    }
    s.pad[0] += (int)pads[2];
    s.pad[1] += (int)pads[3];
    s.pad[2] += (int)pads[6];
    s.pad[3] += (int)pads[7];
    s.dims[2] += pads[2] + pads[6];
    s.dims[3] += pads[3] + pads[7];
    s.count = dims_count(4, s.dims);
    s.fold_layer = s.norm_layer = -1;
    if (s.pad[0] > MAX_WINDOW || s.pad[1] > MAX_WINDOW || s.pad[2] > MAX_WINDOW ||
        s.pad[3] > MAX_WINDOW) {
        sym_clear(&s);
        return fail(im, IBP_ERR_UNSUPPORTED, "padding too large");
    }
    return define(im, im->node->out[0], &s);
}

/* ---- driver ---- */

static void note_op(struct ibp_onnx_info *info, const struct ibp_onnx_node *n)
{
    char op[32];
    ibp_pb_str(n->op_type, op, sizeof op);
    for (int i = 0; i < info->n_ops; i++)
        if (strcmp(info->ops[i], op) == 0) {
            info->op_counts[i]++;
            return;
        }
    if (info->n_ops < IBP_ONNX_MAX_OPS) {
        memcpy(info->ops[info->n_ops], op, sizeof op);
        info->op_counts[info->n_ops++] = 1;
    }
}

static enum ibp_status run_node(struct importer *im, int64_t opset)
{
    const struct ibp_onnx_node *n = im->node;
    if (n->domain.n && !ibp_pb_eq(n->domain, "ai.onnx"))
        return fail(im, IBP_ERR_UNSUPPORTED, "unsupported operator (non-default domain)");
    if (n->n_out < 1 || n->out[0].n == 0)
        return fail(im, IBP_ERR_FORMAT, "node without an output");
    struct ibp_pb_slice op = n->op_type;
    if (ibp_pb_eq(op, "Constant")) return op_constant(im);
    if (ibp_pb_eq(op, "Identity") || ibp_pb_eq(op, "Dropout")) return op_identity(im);
    if (ibp_pb_eq(op, "Flatten")) return op_flatten(im);
    if (ibp_pb_eq(op, "Reshape")) return op_reshape(im);
    if (ibp_pb_eq(op, "Transpose")) return op_transpose(im);
    if (ibp_pb_eq(op, "Relu")) return op_relu(im);
    if (ibp_pb_eq(op, "Gemm")) return op_gemm(im);
    if (ibp_pb_eq(op, "MatMul")) return op_matmul(im);
    if (ibp_pb_eq(op, "Add")) return op_arith(im, ARITH_ADD);
    if (ibp_pb_eq(op, "Sub")) return op_arith(im, ARITH_SUB);
    if (ibp_pb_eq(op, "Mul")) return op_arith(im, ARITH_MUL);
    if (ibp_pb_eq(op, "Div")) return op_arith(im, ARITH_DIV);
    if (ibp_pb_eq(op, "Conv")) return op_conv(im);
    if (ibp_pb_eq(op, "BatchNormalization")) return op_batchnorm(im);
    if (ibp_pb_eq(op, "AveragePool")) return op_pool(im, IBP_LAYER_AVGPOOL, 0);
    if (ibp_pb_eq(op, "GlobalAveragePool")) return op_pool(im, IBP_LAYER_AVGPOOL, 1);
    if (ibp_pb_eq(op, "MaxPool")) return op_pool(im, IBP_LAYER_MAXPOOL, 0);
    if (ibp_pb_eq(op, "Pad")) return op_pad(im, opset);
    if (ibp_pb_eq(op, "Concat"))
        return fail(im, IBP_ERR_UNSUPPORTED,
                    "unsupported operator (the network layers have no concatenation)");
    return fail(im, IBP_ERR_UNSUPPORTED, "unsupported operator");
}

static int is_initializer(const struct ibp_onnx_model *m, struct ibp_pb_slice name)
{
    for (int i = 0; i < m->n_inits; i++)
        if (m->inits[i].name.n == name.n && memcmp(m->inits[i].name.p, name.p, name.n) == 0)
            return 1;
    return 0;
}

/* Defines initializers and the data input; sets up the input shape (and option
 * normalisation). */
static enum ibp_status setup_inputs(struct importer *im, const struct ibp_onnx_options *opt,
                                    struct ibp_onnx_info *info)
{
    enum ibp_status st;
    const struct ibp_onnx_model *m = &im->m;
    for (int i = 0; i < m->n_inits; i++) {
        const struct ibp_onnx_tensor *t = &m->inits[i];
        struct sym s;
        memset(&s, 0, sizeof s);
        s.is_const = 1;
        s.fold_layer = s.norm_layer = -1;
        s.rank = t->rank;
        memcpy(s.dims, t->dims, sizeof s.dims);
        s.count = t->count;
        if (!t->supported) {
            char name[64];
            ibp_pb_str(t->name, name, sizeof name);
            return fail(im, IBP_ERR_UNSUPPORTED, "initializer '%s': data type %d not supported",
                        name, t->data_type);
        }
        if (!(s.data = alloc_doubles(s.count)))
            return nomem(im);
        if ((st = ibp_onnx_tensor_read(t, s.data, im->path, im->err)) != IBP_OK) {
            free(s.data);
            return st;
        }
        if ((st = define(im, t->name, &s)) != IBP_OK)
            return st;
    }
    const struct ibp_onnx_value *in = NULL;
    for (int i = 0; i < m->n_inputs; i++) {
        if (is_initializer(m, m->inputs[i].name))
            continue;
        if (in)
            return fail(im, IBP_ERR_UNSUPPORTED, "more than one graph input");
        in = &m->inputs[i];
    }
    if (!in)
        return fail(im, IBP_ERR_FORMAT, "no graph input");
    ibp_pb_str(in->name, info->input_name, sizeof info->input_name);
    if (in->elem_type != IBP_ONNX_FLOAT && in->elem_type != IBP_ONNX_DOUBLE)
        return fail(im, IBP_ERR_UNSUPPORTED, "input '%s' of element type %d (float expected)",
                    info->input_name, in->elem_type);
    if (in->rank < 0)
        return fail(im, IBP_ERR_UNSUPPORTED, "input '%s' has no shape", info->input_name);
    info->input_rank = in->rank;
    memcpy(info->input_dims, in->dims, sizeof in->dims);
    struct sym s;
    memset(&s, 0, sizeof s);
    s.fold_layer = s.norm_layer = -1;
    s.rank = in->rank;
    size_t n = 1;
    for (int i = 0; i < in->rank; i++) {
        int64_t d = in->dims[i];
        if (d < 0 && i == 0 && in->rank >= 2)
            d = 1; /* symbolic batch */
        if (i == 0 && in->rank >= 2 && d != 1)
            return fail(im, IBP_ERR_UNSUPPORTED, "input batch dimension %lld (1 supported)",
                        (long long)d);
        if (d < 1 || d > (int64_t)MAX_DATA_ELEMS || n * (size_t)d > MAX_DATA_ELEMS)
            return fail(im, IBP_ERR_UNSUPPORTED, "input dimension %d is %lld", i,
                        (long long)in->dims[i]);
        s.dims[i] = d;
        n *= (size_t)d;
    }
    s.count = n;
    info->n_inputs = n;
    if (in->rank == 4)
        im->shapes[0] = (struct ibp_shape){(int)s.dims[1], (int)s.dims[2], (int)s.dims[3]};
    else
        im->shapes[0] = (struct ibp_shape){(int)n, 1, 1};
    im->input_flexible = !is_vector(im->shapes[0]);
    if (opt && opt->n_norm) {
        int c = im->shapes[0].c;
        if (opt->n_norm != 1 && opt->n_norm != c)
            return fail(im, IBP_ERR_ARG, "%d normalisation values for an input of %d channels",
                        opt->n_norm, c);
        double *mean = alloc_doubles((size_t)c), *sd = alloc_doubles((size_t)c);
        if (!mean || !sd) {
            free(mean);
            free(sd);
            return nomem(im);
        }
        for (int i = 0; i < c; i++) {
            int j = opt->n_norm == 1 ? 0 : i;
            mean[i] = opt->norm_mean[j];
            sd[i] = opt->norm_std[j];
            if (!isfinite(mean[i]) || !isfinite(sd[i]) || sd[i] == 0.0) {
                free(mean);
                free(sd);
                return fail(im, IBP_ERR_ARG, "normalisation mean/std must be finite, std != 0");
            }
        }
        struct layer l;
        memset(&l, 0, sizeof l);
        l.spec.kind = IBP_LAYER_NORMALIZE;
        l.p[0] = mean;
        l.p[1] = sd;
        l.n_p = (size_t)c;
        if ((st = add_layer(im, &l, &s.value)) != IBP_OK)
            return st;
        im->input_flexible = 0;
    }
    return define(im, in->name, &s);
}

static void copy_params(const struct importer *im, struct ibp_net *net)
{
    for (int k = 0; k < net->n_layers; k++) {
        const struct layer *l = &im->layers[k];
        float *w = ibp_layer_weight(net, k), *b = ibp_layer_bias(net, k);
        if (w)
            for (size_t i = 0; i < l->n_w; i++)
                w[i] = (float)l->w[i];
        if (b)
            for (int i = 0; i < l->spec.out; i++)
                b[i] = (float)l->b[i];
        float *dst[4] = {ibp_bn_gamma(net, k), ibp_bn_beta(net, k), ibp_bn_running_mean(net, k),
                         ibp_bn_running_var(net, k)};
        if (l->spec.kind == IBP_LAYER_NORMALIZE) {
            dst[0] = ibp_normalize_mean(net, k);
            dst[1] = ibp_normalize_std(net, k);
        }
        for (int j = 0; j < 4; j++)
            if (dst[j] && l->p[j])
                for (size_t i = 0; i < l->n_p; i++)
                    dst[j][i] = (float)l->p[j][i];
    }
}

static enum ibp_status finish(struct importer *im, struct ibp_net **net,
                              struct ibp_onnx_info *info)
{
    im->node = NULL;
    if (im->m.n_outputs != 1)
        return fail(im, IBP_ERR_UNSUPPORTED, "%d graph outputs (1 supported)", im->m.n_outputs);
    struct ibp_pb_slice name = im->m.outputs[0].name;
    ibp_pb_str(name, info->output_name, sizeof info->output_name);
    const struct sym *y = lookup(im, name);
    if (!y)
        return fail(im, IBP_ERR_FORMAT, "output '%s' is not produced by any node",
                    info->output_name);
    if (y->is_const || im->n_layers == 0)
        return fail(im, IBP_ERR_UNSUPPORTED, "output '%s' does not depend on the input through "
                    "any layer", info->output_name);
    if (y->map || y->pad[0] || y->pad[1] || y->pad[2] || y->pad[3])
        return fail(im, IBP_ERR_UNSUPPORTED, "output '%s' is a transposed or padded view",
                    info->output_name);
    if (y->value != im->n_layers)
        return fail(im, IBP_ERR_UNSUPPORTED,
                    "output '%s' is not the last layer (the graph has unused branches)",
                    info->output_name);
    struct ibp_layer_spec *specs = malloc((size_t)im->n_layers * sizeof *specs);
    if (!specs)
        return nomem(im);
    for (int k = 0; k < im->n_layers; k++)
        specs[k] = im->layers[k].spec;
    char msg[IBP_ERROR_LEN];
    struct ibp_error e2;
    ibp_error_clear(&e2);
    enum ibp_status st = ibp_net_create(im->shapes[0], specs, im->n_layers, net, &e2);
    free(specs);
    if (st != IBP_OK) {
        snprintf(msg, sizeof msg, "%s", e2.msg);
        return fail(im, st, "%s", msg);
    }
    copy_params(im, *net);
    if ((st = ibp_net_check_finite(*net, &e2)) != IBP_OK) {
        ibp_net_free(*net);
        *net = NULL;
        snprintf(msg, sizeof msg, "%s", e2.msg);
        return fail(im, st, "%s", msg);
    }
    info->n_outputs = ibp_net_outputs(*net);
    return IBP_OK;
}

static void importer_free(struct importer *im)
{
    for (int i = 0; i < im->n_syms; i++)
        sym_clear(&im->syms[i]);
    free(im->syms);
    for (int k = 0; k < im->n_layers; k++) {
        free(im->layers[k].w);
        free(im->layers[k].b);
        for (int j = 0; j < 4; j++)
            free(im->layers[k].p[j]);
    }
    free(im->layers);
    free(im->shapes);
    ibp_onnx_model_free(&im->m);
}

static enum ibp_status import(struct importer *im, const uint8_t *buf, size_t size,
                              const struct ibp_onnx_options *opt, struct ibp_net **net,
                              struct ibp_onnx_info *info)
{
    enum ibp_status st = ibp_onnx_decode(buf, size, im->path, &im->m, im->err);
    if (st != IBP_OK)
        return st;
    info->opset = im->m.opset;
    info->ir_version = im->m.ir_version;
    if (im->m.opset < 8 || im->m.opset > 17)
        return fail(im, IBP_ERR_UNSUPPORTED, "opset %lld (8 to 17 supported)",
                    (long long)im->m.opset);
    im->cap_layers = 32;
    im->layers = malloc((size_t)im->cap_layers * sizeof *im->layers);
    im->shapes = malloc(((size_t)im->cap_layers + 1) * sizeof *im->shapes);
    if (!im->layers || !im->shapes)
        return nomem(im);
    if ((st = setup_inputs(im, opt, info)) != IBP_OK)
        return st;
    for (int i = 0; i < im->m.n_nodes; i++) {
        im->node = &im->m.nodes[i];
        im->node_index = i;
        note_op(info, im->node);
        if ((st = run_node(im, im->m.opset)) != IBP_OK)
            return st;
    }
    return finish(im, net, info);
}

/* Imports decoded-from-disk bytes (already inflated). */
static enum ibp_status load_plain(const uint8_t *buf, size_t size, const char *name,
                                  const struct ibp_onnx_options *options, struct ibp_net **net,
                                  struct ibp_onnx_info *info, struct ibp_error *err)
{
    struct ibp_onnx_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof *info);
    if (options && options->n_norm && (options->n_norm < 0 || !options->norm_mean ||
                                       !options->norm_std))
        return ibp_fail(err, IBP_ERR_ARG, "%s: bad normalisation option", name);
    struct importer im;
    memset(&im, 0, sizeof im);
    im.path = name;
    im.err = err;
    enum ibp_status st = import(&im, buf, size, options, net, info);
    importer_free(&im);
    return st;
}

enum ibp_status ibp_onnx_load_buffer(const uint8_t *data, size_t size, const char *name,
                                     const struct ibp_onnx_options *options,
                                     struct ibp_net **net, struct ibp_onnx_info *info,
                                     struct ibp_error *err)
{
    *net = NULL;
    unsigned char *buf;
    size_t n;
    enum ibp_status st = ibp_gz_inflate(data, size, name, MAX_FILE_BYTES, &buf, &n, err);
    if (st != IBP_OK)
        return st;
    st = load_plain(buf, n, name, options, net, info, err);
    free(buf);
    return st;
}

enum ibp_status ibp_onnx_load(const char *path, const struct ibp_onnx_options *options,
                              struct ibp_net **net, struct ibp_onnx_info *info,
                              struct ibp_error *err)
{
    *net = NULL;
    unsigned char *buf;
    size_t n;
    enum ibp_status st = ibp_gz_read_file(path, MAX_FILE_BYTES, &buf, &n, err);
    if (st != IBP_OK)
        return st;
    st = load_plain(buf, n, path, options, net, info, err);
    free(buf);
    return st;
}
