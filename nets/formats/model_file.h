/* model_file.h — the model file: a network's architecture, weights and buffers, and its
 * metadata, in one versioned, checksummed binary file (DESIGN.md "Files on disk").
 *
 * Layout, all fields little-endian and fixed width:
 *   u8[8]  magic "IBPMODEL"
 *   u32    format version (IBP_MODEL_VERSION)
 *   u64    file size in bytes, checksum included
 *   i32[3] input shape c, h, w
 *   u32    n_layers
 *   str    model name / architecture string (u32 length + bytes, no NUL)
 *   u32    n_classes, then n_classes str: class names
 *   n_layers layer records, 17 x 4 bytes each: u32 kind, i32 in[0], in[1], out, in_size,
 *          kh, kw, sh, sw, ph, pw, dh, dw, groups, no_bias, count_pad, f32 eps
 *   u64    n_params, u64 n_buffers
 *   f32    params[n_params], buffers[n_buffers]  (net.h layouts; the data normalisation
 *          is a NORMALIZE layer's buffers, so it travels with the model)
 *   u32    zlib crc32 of every byte before it. */
#ifndef IBP_MODEL_FILE_H
#define IBP_MODEL_FILE_H

#include <stddef.h>

#include "nets/base/bytes.h"
#include "nets/graph/net.h"

#define IBP_MODEL_MAGIC "IBPMODEL"
#define IBP_MODEL_VERSION 1u
/* Limits a reader enforces (a corrupt count never turns into a huge allocation). */
#define IBP_MODEL_MAX_LAYERS 65536
#define IBP_MODEL_MAX_CLASSES 1000000
#define IBP_MODEL_MAX_STRING 4096

/* What a model file carries besides the network. On save it is only read (name may be
 * NULL); on load every string is a new allocation released by ibp_model_meta_free. */
struct ibp_model_meta {
    char *name;          /* model name / architecture, e.g. "cnn-small" ("" if none) */
    int n_classes;       /* 0 (no names) or the network's number of outputs */
    char **class_names;  /* [n_classes] */
};

/* Frees what meta owns after a load (not meta itself) and zeroes it. */
void ibp_model_meta_free(struct ibp_model_meta *meta);

/* Appends the file image of (net, meta) to w. Errors: IBP_ERR_ARG when n_classes is
 * neither 0 nor the net's outputs, or a string is longer than IBP_MODEL_MAX_STRING;
 * IBP_ERR_NOMEM. */
enum ibp_status ibp_model_encode(const struct ibp_net *net, const struct ibp_model_meta *meta,
                                 struct ibp_wbuf *w, struct ibp_error *err);

/* Decodes a file image. `name` is used in messages ("name: checksum mismatch (file
 * corrupt)"). On success *net (free with ibp_net_free) and *meta (if meta is not NULL;
 * free with ibp_model_meta_free) are set; on failure *net is NULL and meta is zeroed.
 * Errors, each with a one-line message saying which check failed:
 *   IBP_ERR_FORMAT   bad magic, unsupported version, truncated or oversized file,
 *                    checksum mismatch, malformed header, bad layer spec (with net.c's
 *                    reason), parameter count not matching the architecture;
 *   IBP_ERR_NUMERIC  a NaN/Inf parameter or buffer (ibp_net_check_finite's reason);
 *   IBP_ERR_NOMEM. */
enum ibp_status ibp_model_decode(const unsigned char *data, size_t size, const char *name,
                                 struct ibp_net **net, struct ibp_model_meta *meta,
                                 struct ibp_error *err);

/* Writes (net, meta) to path atomically (file_io.h): a crash leaves the old file or the
 * new one. Errors: as ibp_model_encode, and IBP_ERR_IO naming the path and step. */
enum ibp_status ibp_model_save(const char *path, const struct ibp_net *net,
                               const struct ibp_model_meta *meta, struct ibp_error *err);

/* Reads path and decodes it (ibp_model_decode, messages prefixed with path).
 * Errors: those of ibp_model_decode, and IBP_ERR_IO when the file cannot be read. */
enum ibp_status ibp_model_load(const char *path, struct ibp_net **net,
                               struct ibp_model_meta *meta, struct ibp_error *err);

#endif
