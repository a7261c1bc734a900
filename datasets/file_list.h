/* file_list.h — a dataset given as a text file of `PATH LABEL` lines, one PNG image per
 * line (a common way to hand over a test set picked from a larger one).
 *
 * PATH is everything before the line's last run of spaces or tabs (so it may hold
 * spaces), LABEL the decimal integer after it. A relative PATH is taken from the list
 * file's folder. Empty lines and lines whose first non-blank character is '#' are
 * skipped; lines end in "\n" or "\r\n". The images are read as png_folder.h reads a list
 * of files (every image the size of the first; channels and conversion from opt). */
#ifndef IBP_DATASETS_FILE_LIST_H
#define IBP_DATASETS_FILE_LIST_H

#include "datasets/png_folder.h"

/* Reads the list at path into a new dataset *out (kind "list", classes
 * "0".."n_classes-1", mean 0, std 1). opt may be NULL. Errors, each naming the list and
 * the line (from 1): IBP_ERR_IO (cannot read the list); IBP_ERR_FORMAT for a line without
 * a path and a label, a label that is not a decimal integer or lies outside
 * 0..n_classes-1, or a list without images; IBP_ERR_ARG for n_classes < 1; those of
 * ibp_png_files_read for the images (naming the image file); IBP_ERR_NOMEM. Nothing is
 * returned on failure. */
enum ibp_status ibp_file_list_read(const char *path, int n_classes,
                                   const struct ibp_png_options *opt, struct ibp_dataset **out,
                                   struct ibp_error *err);

#endif
