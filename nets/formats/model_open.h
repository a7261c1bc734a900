/* model_open.h — open a model of either kind (our model file or ONNX) for certification
 * or inspection, with its input normalisation settled in one place.
 *
 * The kind is decided by content: a file that starts with the model file's magic is ours;
 * any other file is ONNX (gzip-compressed or not), except that a name ending in ".ibpm"
 * is read as a model file, so a damaged one reports what is wrong with it.
 *
 * Normalisation (SPEC §1). Boxes are built in pixel space and a NORMALIZE layer at the
 * front of the network maps them to what the network expects, so the normalisation is
 * part of the network either way:
 *   - the model's own: our model files carry one (the trainer writes it); an ONNX model
 *     has one when its graph starts with Sub/Div/Mul/Add by constants on the input, which
 *     onnx_import.h folds into a front NORMALIZE layer;
 *   - else the caller's (per channel, like torchvision's Normalize), added as a front
 *     NORMALIZE layer; giving it for a model that has its own is an error;
 *   - else none: the network sees pixel values in [0,1]. */
#ifndef IBP_MODEL_OPEN_H
#define IBP_MODEL_OPEN_H

#include "nets/formats/model_file.h"
#include "nets/formats/onnx_import.h"
#include "nets/graph/net.h"

enum ibp_model_kind {
    IBP_MODEL_KIND_IBPM, /* model_file.h */
    IBP_MODEL_KIND_ONNX, /* onnx_import.h */
};

/* "model file" / "ONNX" */
const char *ibp_model_kind_name(enum ibp_model_kind kind);

/* Where the network's front NORMALIZE came from. */
enum ibp_norm_source {
    IBP_NORM_NONE,    /* none: pixel values */
    IBP_NORM_MODEL,   /* the model's own */
    IBP_NORM_CALLER,  /* ibp_model_open_options.mean/std */
};

/* "none", "model", "caller" */
const char *ibp_norm_source_name(enum ibp_norm_source source);

/* All-zero means: no normalisation given, any input shape. */
struct ibp_model_open_options {
    /* Caller's normalisation y = (x - mean[c]) / std[c]: n_norm = 0 none, 1 the same for
     * every channel, else the image's channel count. Read during the call only. Every
     * value finite, std > 0. */
    int n_norm;
    const float *mean;
    const float *std;
    /* When image.c > 0: the images the model will see. A network whose input is a
     * vector of the image's element count (an ONNX model exported with a flat input)
     * gets a FLATTEN in front (row-major C,H,W order, as ONNX flattens); any other
     * input shape that is not the image's is IBP_ERR_SHAPE, with a message naming the
     * model's input and classes and `image_name`'s shape. The caller's normalisation is
     * then per channel of the image. */
    struct ibp_shape image;
    const char *image_name;
};

/* What was opened besides the network. */
struct ibp_model_opened {
    enum ibp_model_kind kind;
    struct ibp_model_meta meta;   /* model file: as stored; ONNX: all empty */
    struct ibp_onnx_info onnx;    /* ONNX only (zeroed otherwise) */
    enum ibp_norm_source norm;    /* where the front NORMALIZE came from */
    int flattened;                /* a FLATTEN was put in front for options.image */
};

/* Frees what `opened` owns (its meta) and zeroes it. */
void ibp_model_opened_free(struct ibp_model_opened *opened);

/* Opens path. On success *net (free with ibp_net_free) and *opened (free with
 * ibp_model_opened_free; may be NULL) are set; on failure *net is NULL and *opened is
 * zeroed. Every message starts with path. Errors: those of ibp_model_load and
 * ibp_onnx_load (IBP_ERR_NUMERIC for a NaN/Inf weight included); IBP_ERR_ARG for a
 * normalisation given both by the model and by the caller, or bad values;
 * IBP_ERR_SHAPE for an input that does not fit options.image; IBP_ERR_NOMEM. */
enum ibp_status ibp_model_open(const char *path, const struct ibp_model_open_options *options,
                               struct ibp_net **net, struct ibp_model_opened *opened,
                               struct ibp_error *err);

#endif
