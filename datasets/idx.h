/* idx.h — MNIST-style IDX files (LeCun's format, big-endian header), plain or gzip.
 *
 * An images file (magic 2051: type ubyte, 3 dimensions n, rows, cols) and a labels file
 * (magic 2049: type ubyte, 1 dimension n) make a dataset of n gray images. A file whose
 * name does not end in .gz is read as it is; zlib reads both kinds through one path. */
#ifndef IBP_DATASETS_IDX_H
#define IBP_DATASETS_IDX_H

#include "datasets/dataset.h"

/* Reads images_path and labels_path (each plain or .gz) into a new dataset *out of kind
 * "idx" with classes "0".."n_classes-1", mean 0 and std 1. n_classes is 1..256.
 * Errors (the message names the file, and the record for a bad label):
 * IBP_ERR_IO when a file cannot be opened or read; IBP_ERR_FORMAT for a wrong magic, a
 * header cut short, sizes that overflow or disagree with the file's length (data cut
 * short or continuing past the end the header promises), zero images, a label outside
 * 0..n_classes-1, or different counts in the two files; IBP_ERR_ARG for n_classes out of
 * range; IBP_ERR_NOMEM. Nothing is returned on failure. */
enum ibp_status ibp_idx_read(const char *images_path, const char *labels_path, int n_classes,
                             struct ibp_dataset **out, struct ibp_error *err);

#endif
