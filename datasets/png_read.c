#include "datasets/png_read.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything a read owns lives here, not in locals, so that after libpng longjmps back
 * to png_run's setjmp the cleanup in png_finish sees every allocation. */
struct png_ctx {
    const char *path;
    FILE *f;
    png_structp png;
    png_infop info;
    uint8_t *image;    /* [h][rowbytes] the decoded, expanded rows */
    png_bytep *rows;   /* [h] pointers into image */
    char msg[256];     /* libpng's error message */
};

static void on_error(png_structp png, png_const_charp msg)
{
    struct png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    /* a library never prints: benign warnings (ancillary-chunk CRC, ...) are dropped */
    (void)png;
    (void)msg;
}

static enum ibp_status png_start(struct png_ctx *ctx, const char *path, struct ibp_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->path = path;
    ctx->f = fopen(path, "rb");
    if (!ctx->f)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char sig[8];
    size_t got = fread(sig, 1, 8, ctx->f);
    if (got != 8 || png_sig_cmp(sig, 0, 8) != 0)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: not a PNG file (bad signature)", path);
    ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    if (ctx->png)
        ctx->info = png_create_info_struct(ctx->png);
    if (!ctx->png || !ctx->info)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    return IBP_OK;
}

static void png_finish(struct png_ctx *ctx)
{
    if (ctx->png)
        png_destroy_read_struct(&ctx->png, ctx->info ? &ctx->info : NULL, NULL);
    if (ctx->f)
        fclose(ctx->f);
    free(ctx->rows);
    free(ctx->image);
}

/* Reads the header (and, when dst is not NULL, the image into dst[c][h][w]).
 * No local variable is changed between setjmp and a possible longjmp that is read after
 * it: all state is in *ctx and the out-parameters. */
static enum ibp_status png_run(struct png_ctx *ctx, int *src_c, int *ph, int *pw, int c,
                               int convert, uint8_t *dst, struct ibp_error *err)
{
    if (setjmp(png_jmpbuf(ctx->png)))
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: corrupt PNG: %s", ctx->path, ctx->msg);
    png_structp png = ctx->png;
    png_infop info = ctx->info;
    png_init_io(png, ctx->f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int color = png_get_color_type(png, info);
    int kind = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1; /* palette has the colour bit */
    if (!dst) {
        *src_c = kind;
        *ph = (int)height;
        *pw = (int)width;
        return IBP_OK;
    }
    if ((int)height != *ph || (int)width != *pw)
        return ibp_fail(err, IBP_ERR_SHAPE, "%s: image is %ux%u (height x width), expected %dx%d",
                        ctx->path, (unsigned)height, (unsigned)width, *ph, *pw);
    if (kind != c && !convert)
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "%s: %s image, %d channel%s wanted (conversion not enabled)", ctx->path,
                        kind == 1 ? "grayscale" : "colour", c, c == 1 ? "" : "s");

    png_set_expand(png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    if (png_get_bit_depth(png, info) == 16)
        png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t stride = png_get_rowbytes(png, info);
    int chans = png_get_channels(png, info); /* 1 G, 2 GA, 3 RGB, 4 RGBA */
    if (png_get_bit_depth(png, info) != 8 || chans < 1 || chans > 4 ||
        stride != (size_t)width * (size_t)chans)
        return ibp_fail(err, IBP_ERR_UNSUPPORTED, "%s: unexpected PNG layout after expansion",
                        ctx->path);
    ctx->image = malloc(stride * height);
    ctx->rows = malloc(height * sizeof *ctx->rows);
    if (!ctx->image || !ctx->rows)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", ctx->path);
    for (png_uint_32 y = 0; y < height; y++)
        ctx->rows[y] = ctx->image + y * stride;
    png_read_image(png, ctx->rows);
    png_read_end(png, NULL);

    size_t plane = (size_t)width * height;
    for (png_uint_32 y = 0; y < height; y++) {
        const uint8_t *r = ctx->rows[y];
        for (png_uint_32 x = 0; x < width; x++) {
            const uint8_t *p = r + (size_t)x * chans;
            size_t o = (size_t)y * width + x;
            if (kind == 1) {
                for (int k = 0; k < c; k++)
                    dst[k * plane + o] = p[0];
            } else if (c == 3) {
                dst[o] = p[0];
                dst[plane + o] = p[1];
                dst[2 * plane + o] = p[2];
            } else {
                dst[o] = (uint8_t)((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16);
            }
        }
    }
    return IBP_OK;
}

enum ibp_status ibp_png_probe(const char *path, int *channels, int *h, int *w,
                              struct ibp_error *err)
{
    struct png_ctx ctx;
    enum ibp_status st = png_start(&ctx, path, err);
    if (!st)
        st = png_run(&ctx, channels, h, w, 0, 0, NULL, err);
    png_finish(&ctx);
    return st;
}

enum ibp_status ibp_png_read(const char *path, int c, int h, int w, int convert, uint8_t *dst,
                             struct ibp_error *err)
{
    if (c != 1 && c != 3)
        return ibp_fail(err, IBP_ERR_ARG, "%s: %d channels requested: want 1 or 3", path, c);
    struct png_ctx ctx;
    int src_c = 0;
    enum ibp_status st = png_start(&ctx, path, err);
    if (!st)
        st = png_run(&ctx, &src_c, &h, &w, c, convert, dst, err);
    png_finish(&ctx);
    return st;
}
