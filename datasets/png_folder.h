/* png_folder.h — datasets made of PNG files: a folder ROOT/<class>/NAME.png, or a list of
 * files (the verifier's inputs). Images are read in parallel (OpenMP); which error is
 * reported does not depend on the thread count (the first failing file in order). */
#ifndef IBP_DATASETS_PNG_FOLDER_H
#define IBP_DATASETS_PNG_FOLDER_H

#include "datasets/dataset.h"

struct ibp_png_options {
    int channels; /* 1 or 3; 0 = the channel kind of the first image (gray 1, colour 3) */
    int convert;  /* non-zero: convert gray<->RGB where an image differs (see png_read.h) */
};

/* Reads ROOT/<class>/NAME.png. Classes are the sub-folder names of root (names starting with
 * '.' skipped) sorted bytewise; files ending in ".png" (any case) are taken in bytewise
 * order of name, other files are ignored. All images must have the size of the first.
 * Result: kind "png", mean 0, std 1. opt may be NULL (channels 0, no conversion).
 * Errors: IBP_ERR_IO (root or a folder cannot be listed, a file cannot be opened);
 * IBP_ERR_FORMAT for no class folders, an empty class folder (naming it), or a corrupt
 * PNG (naming it); IBP_ERR_SHAPE for a PNG of another size or channel kind (naming it);
 * IBP_ERR_NOMEM. Nothing is returned on failure. */
enum ibp_status ibp_png_folder_read(const char *root, const struct ibp_png_options *opt,
                                    struct ibp_dataset **out, struct ibp_error *err);

/* Reads the n PNG files paths[0..n) as a dataset of n samples. labels[0..n) gives their
 * classes in 0..n_classes-1; labels may be NULL for unlabelled data (every label -1).
 * Class names are "0".."n_classes-1". Errors: as ibp_png_folder_read, and IBP_ERR_ARG for
 * n < 1, n_classes < 0, or a label out of range (naming the file). */
enum ibp_status ibp_png_files_read(const char *const *paths, int64_t n, const int32_t *labels,
                                   int n_classes, const struct ibp_png_options *opt,
                                   struct ibp_dataset **out, struct ibp_error *err);

#endif
