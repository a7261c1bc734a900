/* model_open.c — a model of either kind, its normalisation and input shape settled
 * (model_open.h). */
#include "nets/formats/model_open.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nets/graph/net_prepend.h"

const char *ibp_model_kind_name(enum ibp_model_kind kind)
{
    return kind == IBP_MODEL_KIND_ONNX ? "ONNX" : "model file";
}

const char *ibp_norm_source_name(enum ibp_norm_source source)
{
    switch (source) {
    case IBP_NORM_MODEL: return "model";
    case IBP_NORM_CALLER: return "caller";
    default: return "none";
    }
}

void ibp_model_opened_free(struct ibp_model_opened *opened)
{
    ibp_model_meta_free(&opened->meta);
    memset(opened, 0, sizeof *opened);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Whether path starts with the model file's magic (an unreadable file counts as ours,
 * so the model file reader reports why it cannot be read). */
static int has_model_magic(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 1;
    char magic[sizeof IBP_MODEL_MAGIC - 1];
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == sizeof magic && memcmp(magic, IBP_MODEL_MAGIC, sizeof magic) == 0;
}

/* ONNX import; a file that is malformed and not named .onnx may be neither kind. */
static enum ibp_status load_onnx(const char *path, struct ibp_net **net,
                                 struct ibp_onnx_info *info, struct ibp_error *err)
{
    struct ibp_error e;
    ibp_error_clear(&e);
    enum ibp_status st = ibp_onnx_load(path, NULL, net, info, &e);
    if (st == IBP_OK)
        return st;
    size_t n = strlen(path);
    const char *why = strncmp(e.msg, path, n) == 0 && strncmp(e.msg + n, ": ", 2) == 0
                          ? e.msg + n + 2
                          : e.msg;
    if (st == IBP_ERR_FORMAT && !ends_with(path, ".onnx"))
        return ibp_fail(err, st, "%s: neither an ibp model file (no %s magic) nor ONNX (%s)",
                        path, IBP_MODEL_MAGIC, why);
    return ibp_fail(err, st, "%s", e.msg);
}

/* Replaces *net with the network that has `pre` in front (input shape `input`). */
static enum ibp_status prepend(struct ibp_net **net, struct ibp_shape input,
                               const struct ibp_layer_spec *pre, const char *path,
                               struct ibp_error *err)
{
    struct ibp_net *r;
    struct ibp_error e;
    ibp_error_clear(&e);
    enum ibp_status st = ibp_net_prepend(*net, input, pre, 1, &r, &e);
    if (st != IBP_OK)
        return ibp_fail(err, st, "%s: %s", path, e.msg);
    ibp_net_free(*net);
    *net = r;
    return IBP_OK;
}

/* Fits the network's input to options->image (a FLATTEN in front of a vector input). */
static enum ibp_status fit_image(struct ibp_net **net, const char *path,
                                 const struct ibp_model_open_options *o, int *flattened,
                                 struct ibp_error *err)
{
    struct ibp_shape in = (*net)->input, im = o->image;
    if (in.c == im.c && in.h == im.h && in.w == im.w)
        return IBP_OK;
    int vector_in = in.h == 1 && in.w == 1;
    if (vector_in && ibp_shape_size(in) == ibp_shape_size(im) && !(im.h == 1 && im.w == 1)) {
        struct ibp_layer_spec flat = {.kind = IBP_LAYER_FLATTEN, .in = {IBP_PREV, 0}};
        *flattened = 1;
        return prepend(net, im, &flat, path, err);
    }
    return ibp_fail(err, IBP_ERR_SHAPE, "%s: input %dx%dx%d, %d classes; %s: %dx%dx%d images",
                    path, in.c, in.h, in.w, ibp_net_outputs(*net),
                    o->image_name ? o->image_name : "the data", im.c, im.h, im.w);
}

/* "mean 0.1307, std 0.3081" of the front NORMALIZE (first channels only). */
static void describe_norm(const struct ibp_net *net, char *out, size_t size)
{
    const float *m = ibp_normalize_mean(net, 0), *s = ibp_normalize_std(net, 0);
    int c = net->input.c < 3 ? net->input.c : 3;
    size_t k = (size_t)snprintf(out, size, "mean");
    for (int i = 0; i < c && k < size; i++)
        k += (size_t)snprintf(out + k, size - k, "%s%g", i ? "," : " ", (double)m[i]);
    for (int i = 0; i < c && k < size; i++)
        k += (size_t)snprintf(out + k, size - k, "%s%g", i ? "," : ", std ", (double)s[i]);
    if (net->input.c > 3 && k < size)
        snprintf(out + k, size - k, ", ...");
}

/* Puts the caller's normalisation in front. */
static enum ibp_status add_norm(struct ibp_net **net, const char *path,
                                const struct ibp_model_open_options *o, struct ibp_error *err)
{
    int c = (*net)->input.c;
    if (o->n_norm != 1 && o->n_norm != c)
        return ibp_fail(err, IBP_ERR_ARG, "%s: %d normalisation values for an input of %d "
                        "channel%s (give one value, or one per channel)", path, o->n_norm, c,
                        c == 1 ? "" : "s");
    for (int i = 0; i < o->n_norm; i++)
        if (!isfinite(o->mean[i]) || !isfinite(o->std[i]) || !(o->std[i] > 0.0f))
            return ibp_fail(err, IBP_ERR_ARG, "%s: normalisation mean %g, std %g: need finite "
                            "values and std > 0", path, (double)o->mean[i], (double)o->std[i]);
    struct ibp_layer_spec norm = {.kind = IBP_LAYER_NORMALIZE, .in = {IBP_PREV, 0}};
    enum ibp_status st = prepend(net, (*net)->input, &norm, path, err);
    if (st != IBP_OK)
        return st;
    float *m = ibp_normalize_mean(*net, 0), *s = ibp_normalize_std(*net, 0);
    for (int i = 0; i < c; i++) {
        m[i] = o->mean[o->n_norm == 1 ? 0 : i];
        s[i] = o->std[o->n_norm == 1 ? 0 : i];
    }
    return IBP_OK;
}

enum ibp_status ibp_model_open(const char *path, const struct ibp_model_open_options *options,
                               struct ibp_net **net, struct ibp_model_opened *opened,
                               struct ibp_error *err)
{
    static const struct ibp_model_open_options none;
    const struct ibp_model_open_options *o = options ? options : &none;
    struct ibp_model_opened local;
    if (!opened)
        opened = &local;
    memset(opened, 0, sizeof *opened);
    *net = NULL;
    if (o->n_norm < 0 || (o->n_norm > 0 && (!o->mean || !o->std)))
        return ibp_fail(err, IBP_ERR_ARG, "%s: bad normalisation option", path);
    enum ibp_status st;
    if (has_model_magic(path) || ends_with(path, ".ibpm")) {
        opened->kind = IBP_MODEL_KIND_IBPM;
        st = ibp_model_load(path, net, &opened->meta, err);
    } else {
        opened->kind = IBP_MODEL_KIND_ONNX;
        st = load_onnx(path, net, &opened->onnx, err);
    }
    if (st == IBP_OK && ibp_net_box_value(*net) == 1)
        opened->norm = IBP_NORM_MODEL;
    if (st == IBP_OK && o->n_norm && opened->norm == IBP_NORM_MODEL) {
        char have[160];
        describe_norm(*net, have, sizeof have);
        st = ibp_fail(err, IBP_ERR_ARG, "%s: normalisation given twice: the model has its own "
                      "(%s) and mean/std were given as well", path, have);
    }
    if (st == IBP_OK && o->image.c > 0)
        st = fit_image(net, path, o, &opened->flattened, err);
    if (st == IBP_OK && o->n_norm) {
        st = add_norm(net, path, o, err);
        opened->norm = IBP_NORM_CALLER;
    }
    if (st != IBP_OK) {
        ibp_net_free(*net);
        *net = NULL;
        ibp_model_opened_free(opened);
    } else if (opened == &local) {
        ibp_model_opened_free(opened);
    }
    return st;
}
