#include "nets/formats/model_file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/file_io.h"

#define MAGIC_LEN 8
#define FIXED_HEAD (MAGIC_LEN + 4 + 8) /* magic, version, file size */
#define LAYER_RECORD (17 * 4)
#define CRC_LEN 4
/* the largest model file a reader accepts: far above any model this project trains */
#define MAX_FILE_BYTES ((size_t)1 << 36)

void ibp_model_meta_free(struct ibp_model_meta *meta)
{
    if (!meta)
        return;
    free(meta->name);
    for (int i = 0; i < meta->n_classes; i++)
        free(meta->class_names ? meta->class_names[i] : NULL);
    free(meta->class_names);
    meta->name = NULL;
    meta->class_names = NULL;
    meta->n_classes = 0;
}

static void put_layer(struct ibp_wbuf *w, const struct ibp_layer_spec *l)
{
    ibp_wbuf_u32(w, (uint32_t)l->kind);
    const int fields[] = {l->in[0], l->in[1], l->out, l->in_size, l->kh, l->kw, l->sh, l->sw,
                          l->ph,    l->pw,    l->dh,  l->dw,      l->groups, l->no_bias,
                          l->count_pad};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        ibp_wbuf_i32(w, fields[i]);
    ibp_wbuf_f32(w, l->eps);
}

static void get_layer(struct ibp_rbuf *r, struct ibp_layer_spec *l, uint32_t *kind)
{
    *kind = ibp_rbuf_u32(r);
    int *fields[] = {&l->in[0], &l->in[1], &l->out, &l->in_size, &l->kh, &l->kw, &l->sh,
                     &l->sw,    &l->ph,    &l->pw,  &l->dh,      &l->dw, &l->groups,
                     &l->no_bias, &l->count_pad};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        *fields[i] = ibp_rbuf_i32(r);
    l->eps = ibp_rbuf_f32(r);
}

enum ibp_status ibp_model_encode(const struct ibp_net *net, const struct ibp_model_meta *meta,
                                 struct ibp_wbuf *w, struct ibp_error *err)
{
    const char *name = meta && meta->name ? meta->name : "";
    int n_classes = meta ? meta->n_classes : 0;
    if (n_classes != 0 && n_classes != ibp_net_outputs(net))
        return ibp_fail(err, IBP_ERR_ARG, "%d class names for a network with %d outputs",
                        n_classes, ibp_net_outputs(net));
    if (strlen(name) > IBP_MODEL_MAX_STRING)
        return ibp_fail(err, IBP_ERR_ARG, "model name longer than %d bytes",
                        IBP_MODEL_MAX_STRING);
    for (int i = 0; i < n_classes; i++) {
        const char *cn = meta->class_names[i] ? meta->class_names[i] : "";
        if (strlen(cn) > IBP_MODEL_MAX_STRING)
            return ibp_fail(err, IBP_ERR_ARG, "class name %d longer than %d bytes", i,
                            IBP_MODEL_MAX_STRING);
    }
    size_t start = w->len;
    ibp_wbuf_reserve(w, 4096 + (size_t)net->n_layers * LAYER_RECORD +
                            4 * (net->n_params + net->n_buffers));
    ibp_wbuf_bytes(w, IBP_MODEL_MAGIC, MAGIC_LEN);
    ibp_wbuf_u32(w, IBP_MODEL_VERSION);
    size_t size_at = w->len;
    ibp_wbuf_u64(w, 0); /* file size, patched below */
    ibp_wbuf_i32(w, net->input.c);
    ibp_wbuf_i32(w, net->input.h);
    ibp_wbuf_i32(w, net->input.w);
    ibp_wbuf_u32(w, (uint32_t)net->n_layers);
    ibp_wbuf_str(w, name);
    ibp_wbuf_u32(w, (uint32_t)n_classes);
    for (int i = 0; i < n_classes; i++)
        ibp_wbuf_str(w, meta->class_names[i]);
    for (int k = 0; k < net->n_layers; k++)
        put_layer(w, &net->layers[k]);
    ibp_wbuf_u64(w, net->n_params);
    ibp_wbuf_u64(w, net->n_buffers);
    ibp_wbuf_f32s(w, net->params, net->n_params);
    ibp_wbuf_f32s(w, net->buffers, net->n_buffers);
    ibp_wbuf_patch_u64(w, size_at, (uint64_t)(w->len - start + CRC_LEN));
    if (!w->failed)
        ibp_wbuf_u32(w, ibp_crc32(w->data + start, w->len - start));
    if (w->failed)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory encoding %zu parameters",
                        net->n_params);
    return IBP_OK;
}

/* Checks that need no parsing: magic, version, size, checksum. */
static enum ibp_status check_envelope(const unsigned char *data, size_t size, const char *name,
                                      struct ibp_error *err)
{
    size_t head = size < MAGIC_LEN ? size : MAGIC_LEN;
    if (memcmp(data, IBP_MODEL_MAGIC, head) != 0)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: not an ibp model file (bad magic)", name);
    if (size < FIXED_HEAD + CRC_LEN)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: truncated (%zu bytes, shorter than a header)",
                        name, size);
    struct ibp_rbuf r = {data, size, MAGIC_LEN, 0};
    uint32_t version = ibp_rbuf_u32(&r);
    if (version != IBP_MODEL_VERSION)
        return ibp_fail(err, IBP_ERR_FORMAT,
                        "%s: format version %u not supported (this build reads version %u)", name,
                        version, IBP_MODEL_VERSION);
    uint64_t declared = ibp_rbuf_u64(&r);
    if (declared > size)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: truncated (%zu of %llu bytes)", name, size,
                        (unsigned long long)declared);
    if (declared < size)
        return ibp_fail(err, IBP_ERR_FORMAT,
                        "%s: size mismatch (%zu bytes, header says %llu: trailing data)", name,
                        size, (unsigned long long)declared);
    struct ibp_rbuf t = {data, size, size - CRC_LEN, 0};
    if (ibp_rbuf_u32(&t) != ibp_crc32(data, size - CRC_LEN))
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: checksum mismatch (file corrupt)", name);
    return IBP_OK;
}

static enum ibp_status malformed(const char *name, const char *what, struct ibp_error *err)
{
    return ibp_fail(err, IBP_ERR_FORMAT, "%s: malformed header (%s)", name, what);
}

/* The strings and layer specs; r is positioned after the fixed head. */
static enum ibp_status read_meta_and_specs(struct ibp_rbuf *r, const char *name,
                                           struct ibp_shape *input, struct ibp_model_meta *m,
                                           struct ibp_layer_spec **specs, int *n_layers,
                                           struct ibp_error *err)
{
    input->c = ibp_rbuf_i32(r);
    input->h = ibp_rbuf_i32(r);
    input->w = ibp_rbuf_i32(r);
    uint32_t nl = ibp_rbuf_u32(r);
    if (r->failed)
        return malformed(name, "short", err);
    if (nl == 0 || nl > IBP_MODEL_MAX_LAYERS)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: bad layer count %u", name, nl);
    m->name = ibp_rbuf_str(r, IBP_MODEL_MAX_STRING);
    if (!m->name)
        return r->failed ? malformed(name, "model name", err)
                         : ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
    uint32_t nc = ibp_rbuf_u32(r);
    /* every class name takes at least 4 bytes: a count beyond that is corrupt */
    if (r->failed || nc > IBP_MODEL_MAX_CLASSES || nc > ibp_rbuf_left(r) / 4)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: bad class count %u", name, nc);
    if (nc > 0) {
        m->class_names = calloc(nc, sizeof *m->class_names);
        if (!m->class_names)
            return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
        m->n_classes = (int)nc;
        for (uint32_t i = 0; i < nc; i++) {
            m->class_names[i] = ibp_rbuf_str(r, IBP_MODEL_MAX_STRING);
            if (!m->class_names[i])
                return r->failed ? ibp_fail(err, IBP_ERR_FORMAT,
                                            "%s: malformed header (class name %u)", name, i)
                                 : ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
        }
    }
    if (ibp_rbuf_left(r) / LAYER_RECORD < nl)
        return malformed(name, "layer records run past the end", err);
    *specs = calloc(nl, sizeof **specs);
    if (!*specs)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
    *n_layers = (int)nl;
    for (uint32_t k = 0; k < nl; k++) {
        uint32_t kind;
        get_layer(r, &(*specs)[k], &kind);
        if (kind >= IBP_LAYER_KIND_COUNT)
            return ibp_fail(err, IBP_ERR_FORMAT,
                            "%s: bad architecture: layer %u has unknown kind %u", name, k, kind);
        (*specs)[k].kind = (enum ibp_layer_kind)kind;
    }
    return IBP_OK;
}

enum ibp_status ibp_model_decode(const unsigned char *data, size_t size, const char *name,
                                 struct ibp_net **net, struct ibp_model_meta *meta,
                                 struct ibp_error *err)
{
    *net = NULL;
    if (meta)
        memset(meta, 0, sizeof *meta);
    enum ibp_status st = check_envelope(data, size, name, err);
    if (st != IBP_OK)
        return st;
    struct ibp_rbuf r = {data, size - CRC_LEN, FIXED_HEAD, 0};
    struct ibp_model_meta m = {0};
    struct ibp_layer_spec *specs = NULL;
    struct ibp_shape input;
    int n_layers = 0;
    struct ibp_net *n = NULL;
    struct ibp_error sub = {0};
    st = read_meta_and_specs(&r, name, &input, &m, &specs, &n_layers, err);
    if (st != IBP_OK)
        goto done;
    /* No allocation beyond what the file can back: the values it holds (what is left
     * after n_params and n_buffers) bound the architecture, twice over plus some so
     * that the finer checks below keep their own messages; the exact counts follow. */
    size_t left = ibp_rbuf_left(&r);
    size_t max_values = 2 * (left / sizeof(float)) + 4096;
    st = ibp_net_create_capped(input, specs, n_layers, max_values, &n, &sub);
    if (st != IBP_OK) {
        st = ibp_fail(err, st == IBP_ERR_NOMEM ? IBP_ERR_NOMEM : IBP_ERR_FORMAT,
                      "%s: bad architecture: %s", name, sub.msg);
        goto done;
    }
    if (m.n_classes != 0 && m.n_classes != ibp_net_outputs(n)) {
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: %d class names for a network with %d outputs",
                      name, m.n_classes, ibp_net_outputs(n));
        goto done;
    }
    uint64_t np = ibp_rbuf_u64(&r), nb = ibp_rbuf_u64(&r);
    if (r.failed || np != n->n_params || nb != n->n_buffers) {
        st = ibp_fail(err, IBP_ERR_FORMAT,
                      "%s: %llu parameters and %llu buffer values do not match the "
                      "architecture (%zu and %zu)",
                      name, (unsigned long long)np, (unsigned long long)nb, n->n_params,
                      n->n_buffers);
        goto done;
    }
    ibp_rbuf_f32s(&r, n->params, n->n_params);
    ibp_rbuf_f32s(&r, n->buffers, n->n_buffers);
    if (r.failed || ibp_rbuf_left(&r) != 0) {
        st = malformed(name, r.failed ? "tensors run past the end" : "data after the tensors",
                       err);
        goto done;
    }
    st = ibp_net_check_finite(n, &sub);
    if (st != IBP_OK) {
        st = ibp_fail(err, st, "%s: %s", name, sub.msg);
        goto done;
    }
done:
    free(specs);
    if (st != IBP_OK) {
        ibp_net_free(n);
        ibp_model_meta_free(&m);
        return st;
    }
    *net = n;
    if (meta)
        *meta = m;
    else
        ibp_model_meta_free(&m);
    return IBP_OK;
}

enum ibp_status ibp_model_save(const char *path, const struct ibp_net *net,
                               const struct ibp_model_meta *meta, struct ibp_error *err)
{
    struct ibp_wbuf w = {0};
    struct ibp_error sub = {0};
    enum ibp_status st = ibp_model_encode(net, meta, &w, &sub);
    if (st != IBP_OK) {
        ibp_wbuf_free(&w);
        return ibp_fail(err, st, "%s: %s", path, sub.msg);
    }
    st = ibp_file_write_atomic(path, w.data, w.len, err);
    ibp_wbuf_free(&w);
    return st;
}

enum ibp_status ibp_model_load(const char *path, struct ibp_net **net,
                               struct ibp_model_meta *meta, struct ibp_error *err)
{
    *net = NULL;
    if (meta)
        memset(meta, 0, sizeof *meta);
    unsigned char *data;
    size_t size;
    enum ibp_status st = ibp_file_read_all(path, MAX_FILE_BYTES, &data, &size, err);
    if (st != IBP_OK)
        return st;
    st = ibp_model_decode(data, size, path, net, meta, err);
    free(data);
    return st;
}
