/* png_read.h — reading one PNG image into planar uint8 pixels (libpng).
 *
 * Accepted: 8- and 16-bit gray, gray+alpha, RGB, RGBA, and palette images (1..8-bit, with
 * or without transparency), interlaced or not. 16-bit samples are scaled to 8 bits with
 * rounding (v·255/65535); alpha is dropped (as PIL's convert("RGB") does); a palette image
 * counts as colour. A gray image becomes 3 channels by replication, and a colour image
 * becomes 1 channel by ITU-R 601-2 luma L = (19595 R + 38470 G + 7471 B + 32768) >> 16
 * (PIL's convert("L")), but only when the caller allows conversion. libpng's errors
 * (corrupt data, bad CRC, truncation) come back as IBP_ERR_FORMAT messages; nothing is
 * printed and nothing leaks. */
#ifndef IBP_DATASETS_PNG_READ_H
#define IBP_DATASETS_PNG_READ_H

#include <stdint.h>

#include "nets/base/status.h"

/* Reads only the header of path: *channels = 1 for gray (with or without alpha), 3 for
 * colour; *h, *w the size. Errors: IBP_ERR_IO (cannot open), IBP_ERR_FORMAT (not a PNG,
 * corrupt header). */
enum ibp_status ibp_png_probe(const char *path, int *channels, int *h, int *w,
                              struct ibp_error *err);

/* Reads path into dst[c][h][w] (c = 1 or 3). The image must be exactly h×w; its channel
 * kind must be c unless convert is non-zero. dst is written only in part when this fails.
 * Errors: IBP_ERR_IO; IBP_ERR_FORMAT for a corrupt or truncated file; IBP_ERR_SHAPE for
 * another size ("is 30x28, expected 28x28") or channel kind without convert;
 * IBP_ERR_ARG for c not 1 or 3; IBP_ERR_NOMEM. Each message starts with path. */
enum ibp_status ibp_png_read(const char *path, int c, int h, int w, int convert, uint8_t *dst,
                             struct ibp_error *err);

#endif
