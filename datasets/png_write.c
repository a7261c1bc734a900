#include "datasets/png_write.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/bytes.h"
#include "nets/base/file_io.h"

#define MAX_SIDE (1 << 20)

/* State of one encoding; kept out of locals because libpng longjmps on error. */
struct png_out {
    const char *path;
    struct ibp_wbuf bytes; /* the encoded file */
    png_structp png;
    png_infop info;
    uint8_t *row;          /* [w][c] interleaved */
    char msg[256];
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_out *o = png_get_error_ptr(png);
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void on_write(png_structp png, png_bytep data, png_size_t n)
{
    struct png_out *o = png_get_io_ptr(png);
    ibp_wbuf_bytes(&o->bytes, data, n);
    if (o->bytes.failed)
        png_error(png, "out of memory");
}

static void on_flush(png_structp png)
{
    (void)png;
}

static enum ibp_status encode(struct png_out *o, const uint8_t *pixels, int c, int h, int w,
                              struct ibp_error *err)
{
    if (setjmp(png_jmpbuf(o->png)))
        return ibp_fail(err, o->bytes.failed ? IBP_ERR_NOMEM : IBP_ERR_IO,
                        "%s: PNG encoding failed: %s", o->path, o->msg);
    png_set_write_fn(o->png, o, on_write, on_flush);
    png_set_IHDR(o->png, o->info, (png_uint_32)w, (png_uint_32)h, 8,
                 c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(o->png, o->info);
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                o->row[(size_t)x * c + k] = pixels[k * plane + (size_t)y * w + x];
        png_write_row(o->png, o->row);
    }
    png_write_end(o->png, NULL);
    return IBP_OK;
}

/* The image is encoded in memory, then written like every other file (file_io.h), so a
 * failing write, sync or rename is reported alike and never leaves a partial file. */
enum ibp_status ibp_png_write(const char *path, const uint8_t *pixels, int c, int h, int w,
                              struct ibp_error *err)
{
    if ((c != 1 && c != 3) || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return ibp_fail(err, IBP_ERR_ARG, "%s: cannot write a %dx%dx%d image as PNG", path, c, h,
                        w);
    struct png_out o;
    memset(&o, 0, sizeof o);
    o.path = path;
    o.row = malloc((size_t)w * c);
    enum ibp_status st = IBP_OK;
    if (o.row)
        o.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &o, on_error, on_warning);
    if (o.png)
        o.info = png_create_info_struct(o.png);
    if (!o.row || !o.png || !o.info)
        st = ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    if (!st)
        st = encode(&o, pixels, c, h, w, err);
    if (o.png)
        png_destroy_write_struct(&o.png, o.info ? &o.info : NULL);
    if (!st)
        st = ibp_file_write_atomic(path, o.bytes.data, o.bytes.len, err);
    ibp_wbuf_free(&o.bytes);
    free(o.row);
    return st;
}

/* round(255·clamp(v, 0, 1)) into dst[0..n); fails on NaN. */
static enum ibp_status to_u8(const char *path, const float *x, int64_t n, uint8_t *dst,
                             struct ibp_error *err)
{
    for (int64_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            return ibp_fail(err, IBP_ERR_NUMERIC, "%s: pixel %lld is NaN", path, (long long)i);
        float v = x[i] < 0.0f ? 0.0f : x[i] > 1.0f ? 1.0f : x[i];
        dst[i] = (uint8_t)lrintf(v * 255.0f);
    }
    return IBP_OK;
}

enum ibp_status ibp_png_write_float(const char *path, const float *x, int c, int h, int w,
                                    struct ibp_error *err)
{
    if ((c != 1 && c != 3) || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return ibp_fail(err, IBP_ERR_ARG, "%s: cannot write a %dx%dx%d image as PNG", path, c, h,
                        w);
    int64_t n = (int64_t)c * h * w;
    uint8_t *px = malloc((size_t)n);
    if (!px)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    enum ibp_status st = to_u8(path, x, n, px, err);
    if (!st)
        st = ibp_png_write(path, px, c, h, w, err);
    free(px);
    return st;
}

#define MAX_SCALE 64

enum ibp_status ibp_png_write_grid(const char *path, const uint8_t *pixels, int64_t n, int c,
                                   int h, int w, int cols, int scale, struct ibp_error *err)
{
    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return ibp_fail(err, IBP_ERR_ARG, "%s: cannot write a grid of %lld %dx%dx%d images", path,
                        (long long)n, c, h, w);
    if (scale < 1 || scale > MAX_SCALE)
        return ibp_fail(err, IBP_ERR_ARG, "%s: scale %d is outside [1, %d]", path, scale,
                        MAX_SCALE);
    if (cols <= 0) {
        cols = 1;
        while ((int64_t)cols * cols < n)
            cols++;
    }
    if (cols > n)
        cols = (int)n;
    int64_t rows = (n + cols - 1) / cols;
    int64_t sh = (int64_t)scale * h, sw = (int64_t)scale * w; /* one scaled image */
    int64_t gh = rows * (sh + 1) + 1, gw = (int64_t)cols * (sw + 1) + 1;
    if (gh > MAX_SIDE || gw > MAX_SIDE)
        return ibp_fail(err, IBP_ERR_ARG, "%s: grid of %lldx%lld pixels: too large", path,
                        (long long)gh, (long long)gw);
    uint8_t *canvas = malloc((size_t)(c * gh * gw)); /* [c][gh][gw] */
    if (!canvas)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    memset(canvas, IBP_PNG_GRID_BORDER, (size_t)(c * gh * gw));
    for (int64_t i = 0; i < n; i++) {
        int64_t oy = (i / cols) * (sh + 1) + 1, ox = (i % cols) * (sw + 1) + 1;
        for (int k = 0; k < c; k++)
            for (int64_t y = 0; y < sh; y++) {
                const uint8_t *src = pixels + ((i * c + k) * h + y / scale) * (int64_t)w;
                uint8_t *dst = canvas + (k * gh + oy + y) * gw + ox;
                for (int64_t x = 0; x < sw; x++)
                    dst[x] = src[x / scale];
            }
    }
    enum ibp_status st = ibp_png_write(path, canvas, c, (int)gh, (int)gw, err);
    free(canvas);
    return st;
}

enum ibp_status ibp_png_write_grid_float(const char *path, const float *x, int64_t n, int c,
                                         int h, int w, int cols, int scale,
                                         struct ibp_error *err)
{
    if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return ibp_fail(err, IBP_ERR_ARG, "%s: cannot write a grid of %lld %dx%dx%d images", path,
                        (long long)n, c, h, w);
    int64_t total = n * c * h * w;
    uint8_t *px = malloc((size_t)total);
    if (!px)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    enum ibp_status st = to_u8(path, x, total, px, err);
    if (!st)
        st = ibp_png_write_grid(path, px, n, c, h, w, cols, scale, err);
    free(px);
    return st;
}
