/* csv.h — ERAN-style CSV: one image per line, `label,p0,...,pN` with N+1 = c·h·w pixels as
 * integers 0..255, no header line. Lines end in "\n" or "\r\n". Pixels come row-major
 * with each pixel's channels together, [h][w][c], as ERAN writes its CIFAR-10 CSV (R,G,B of
 * the first pixel, then of the second, ...); for gray images that is plain row-major.
 * The dataset holds them planar, [c][h][w], like every other reader. */
#ifndef IBP_DATASETS_CSV_H
#define IBP_DATASETS_CSV_H

#include "datasets/dataset.h"

/* Reads path as images of shape c×h×w with labels 0..n_classes-1 into a new dataset *out
 * (kind "csv", mean 0, std 1, classes "0".."n_classes-1"). Empty lines may only follow the
 * last row. Errors (naming the file and the row, counted from 1 as the line number, and
 * the field, 0 being the label): IBP_ERR_IO; IBP_ERR_FORMAT for a wrong number of fields,
 * a field that is not a plain decimal integer, a pixel outside 0..255, a label outside
 * 0..n_classes-1, an empty line between rows, or no rows at all; IBP_ERR_ARG for a bad
 * shape or n_classes < 1; IBP_ERR_NOMEM. Nothing is returned on failure. */
enum ibp_status ibp_csv_read(const char *path, int c, int h, int w, int n_classes,
                             struct ibp_dataset **out, struct ibp_error *err);

#endif
