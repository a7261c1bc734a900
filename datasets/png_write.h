/* png_write.h — writing images and image grids as 8-bit PNG (libpng), for counterexamples
 * (original, adversarial, amplified difference) and dataset previews.
 *
 * Images are planar [c][h][w] with c = 1 (gray PNG) or 3 (RGB PNG). Float images are
 * pixel space: v in [0,1] becomes round(255·v), values outside [0,1] are clamped. Every
 * write goes to a temporary file in the target's folder, is flushed and synced, and is
 * renamed over path: a failure never leaves a partial file at path. */
#ifndef IBP_DATASETS_PNG_WRITE_H
#define IBP_DATASETS_PNG_WRITE_H

#include <stdint.h>

#include "nets/base/status.h"

/* Grey value of the 1-pixel border lines of a grid (and of its unused cells). */
#define IBP_PNG_GRID_BORDER 128

/* Writes pixels[c][h][w] to path. Errors: IBP_ERR_ARG for c not 1 or 3, h or w < 1 or
 * above 2^20; IBP_ERR_IO naming path (cannot create, write, sync or rename); IBP_ERR_NOMEM. */
enum ibp_status ibp_png_write(const char *path, const uint8_t *pixels, int c, int h, int w,
                              struct ibp_error *err);

/* As ibp_png_write for x[c][h][w] in [0,1]. Errors also: IBP_ERR_NUMERIC for a NaN. */
enum ibp_status ibp_png_write_float(const char *path, const float *x, int c, int h, int w,
                                    struct ibp_error *err);

/* Writes the n images pixels[n][c][h][w] as a grid of cols columns (cols <= 0: the
 * smallest cols with cols² >= n) in row-major order, each image scaled up scale times by
 * nearest neighbour (every pixel a scale×scale block) and framed by 1-pixel lines of
 * IBP_PNG_GRID_BORDER: the PNG is (rows·(scale·h+1)+1) × (cols·(scale·w+1)+1). Errors: as
 * ibp_png_write, and IBP_ERR_ARG for n < 1, scale outside [1, 64] or a grid larger than
 * 2^20 pixels a side. */
enum ibp_status ibp_png_write_grid(const char *path, const uint8_t *pixels, int64_t n, int c,
                                   int h, int w, int cols, int scale, struct ibp_error *err);

/* As ibp_png_write_grid for x[n][c][h][w] in [0,1]. Errors also: IBP_ERR_NUMERIC. */
enum ibp_status ibp_png_write_grid_float(const char *path, const float *x, int64_t n, int c,
                                         int h, int w, int cols, int scale,
                                         struct ibp_error *err);

#endif
