/* PNG folders and lists (every colour type, 16-bit, palette, interlace, conversion),
 * broken PNGs, and the PNG writer (round trip, float, grid). */
#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/open.h"
#include "datasets/png_folder.h"
#include "datasets/png_read.h"
#include "datasets/png_write.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

enum { H = 2, W = 3 };

/* Writes a PNG with libpng directly: rows are packed as the colour type / depth demand. */
static void write_png(const char *path, int w, int h, int color, int depth, const uint8_t *data,
                      int interlace)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "test PNG writer failed for %s\n", path);
        abort();
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {10, 200, 30}, {1, 2, 3}};
        png_byte trns[4] = {255, 128, 0, 255};
        png_set_PLTE(png, info, pal, 4);
        png_set_tRNS(png, info, trns, 4, NULL);
    }
    png_write_info(png, info);
    int chans = color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_PALETTE ? 1
                : color == PNG_COLOR_TYPE_GRAY_ALPHA                          ? 2
                : color == PNG_COLOR_TYPE_RGB                                 ? 3
                                                                              : 4;
    size_t stride = ((size_t)w * chans * depth + 7) / 8;
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)data + y * stride;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
}

static void expect_fail(enum ibp_status st, struct ibp_dataset *ds, const struct ibp_error *err,
                        enum ibp_status want, const char *n1, const char *n2)
{
    CHECK_MSG(st == want, "status %d, want %d: %s", (int)st, (int)want, err->msg);
    CHECK(ds == NULL);
    CHECK_MSG(tu_has(err->msg, n1) && tu_has(err->msg, n2), "\"%s\" lacks \"%s\" or \"%s\"",
              err->msg, n1, n2);
}

static uint8_t luma(int r, int g, int b)
{
    return (uint8_t)((19595u * r + 38470u * g + 7471u * b + 32768u) >> 16);
}

/* Copies src into dst with a few bytes in the middle of its data flipped. */
static void corrupt_copy(const char *src, const char *dst, int truncate)
{
    FILE *f = fopen(src, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (truncate) {
        n /= 2;
    } else {
        /* inside the IDAT chunk, whose CRC then fails */
        for (size_t i = 0; i + 4 < n; i++)
            if (memcmp(buf + i, "IDAT", 4) == 0) {
                buf[i + 6] ^= 0x5a;
                break;
            }
    }
    tu_write(dst, buf, n, 0);
}

static int only_file_in(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    int count = 0, found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        count++;
        found |= strcmp(e->d_name, name) == 0;
    }
    closedir(d);
    return count == 1 && found;
}

int main(void)
{
    tu_init();
    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_dataset *ds = NULL;
    enum ibp_status st;

    /* --- a gray folder: 8-bit gray, gray+alpha, 16-bit gray, 4-bit gray; classes sorted */
    tu_mkdir("gray");
    tu_mkdir("gray/b_cls");
    tu_mkdir("gray/a_cls");
    tu_mkdir("gray/.hidden");
    tu_write(tu_path("gray/a_cls/notes.txt"), "x", 1, 0);
    const uint8_t g8[H * W] = {0, 50, 100, 150, 200, 255};
    write_png(tu_path("gray/a_cls/1.png"), W, H, PNG_COLOR_TYPE_GRAY, 8, g8, 0);
    uint8_t ga[H * W * 2];
    for (int i = 0; i < H * W; i++) {
        ga[2 * i] = (uint8_t)(g8[i] + 1 - (g8[i] == 255));
        ga[2 * i + 1] = (uint8_t)(i * 40);
    }
    write_png(tu_path("gray/a_cls/2.PNG"), W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, 0);
    uint8_t g16[H * W * 2];
    for (int i = 0; i < H * W; i++) {
        unsigned v = 257u * (unsigned)(g8[i] / 2); /* v·255/65535 = g8/2 exactly */
        g16[2 * i] = (uint8_t)(v >> 8);
        g16[2 * i + 1] = (uint8_t)v;
    }
    write_png(tu_path("gray/b_cls/x.png"), W, H, PNG_COLOR_TYPE_GRAY, 16, g16, 0);
    const uint8_t g4[H * 2] = {0x01, 0x20, 0xf7, 0x30}; /* 4-bit: 0 1 2 | f 7 3 */
    write_png(tu_path("gray/b_cls/y.png"), W, H, PNG_COLOR_TYPE_GRAY, 4, g4, 0);

    CHECK_OK(ibp_png_folder_read(tu_path("gray"), NULL, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 4 && ds->c == 1 && ds->h == H && ds->w == W && ds->n_classes == 2);
        CHECK(strcmp(ds->class_names[0], "a_cls") == 0 && strcmp(ds->class_names[1], "b_cls") == 0);
        CHECK(ds->labels[0] == 0 && ds->labels[1] == 0 && ds->labels[2] == 1 && ds->labels[3] == 1);
        CHECK(memcmp(ds->pixels, g8, H * W) == 0);
        int ok = 1;
        for (int i = 0; i < H * W; i++) {
            ok &= ds->pixels[H * W + i] == ga[2 * i];
            ok &= ds->pixels[2 * H * W + i] == g8[i] / 2;
        }
        CHECK(ok);
        const uint8_t want4[H * W] = {0, 17, 34, 255, 119, 51};
        CHECK(memcmp(ds->pixels + 3 * H * W, want4, H * W) == 0);
        CHECK(strcmp(ds->kind, "png") == 0 && ds->mean[0] == 0.0f && ds->std[0] == 1.0f);
    }
    ibp_dataset_free(ds);
    ds = NULL;
    /* gray as RGB only when asked */
    struct ibp_png_options rgb = {3, 0}, rgb_conv = {3, 1}, gray_only = {1, 0}, gray_conv = {1, 1};
    st = ibp_png_folder_read(tu_path("gray"), &rgb, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_SHAPE, "a_cls/1.png", "grayscale image, 3 channels wanted");
    CHECK_OK(ibp_png_folder_read(tu_path("gray"), &rgb_conv, &ds, &err), err);
    if (ds) {
        CHECK(ds->c == 3);
        CHECK(memcmp(ds->pixels, g8, H * W) == 0 && memcmp(ds->pixels + H * W, g8, H * W) == 0 &&
              memcmp(ds->pixels + 2 * H * W, g8, H * W) == 0);
    }
    ibp_dataset_free(ds);
    ds = NULL;

    /* --- a colour folder: RGB, RGBA, palette with tRNS, 16-bit RGB, interlaced RGB */
    tu_mkdir("rgb");
    tu_mkdir("rgb/only");
    uint8_t c8[H * W * 3], c8a[H * W * 4], c16[H * W * 6];
    for (int i = 0; i < H * W; i++)
        for (int k = 0; k < 3; k++) {
            uint8_t v = (uint8_t)(i * 30 + k * 70 + 5);
            c8[3 * i + k] = v;
            c8a[4 * i + k] = v;
            unsigned v16 = 257u * v;
            c16[6 * i + 2 * k] = (uint8_t)(v16 >> 8);
            c16[6 * i + 2 * k + 1] = (uint8_t)v16;
        }
    for (int i = 0; i < H * W; i++)
        c8a[4 * i + 3] = (uint8_t)(255 - i);
    write_png(tu_path("rgb/only/a.png"), W, H, PNG_COLOR_TYPE_RGB, 8, c8, 0);
    write_png(tu_path("rgb/only/b.png"), W, H, PNG_COLOR_TYPE_RGBA, 8, c8a, 0);
    const uint8_t pal[H * W] = {0, 1, 2, 3, 2, 1};
    write_png(tu_path("rgb/only/c.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, pal, 0);
    write_png(tu_path("rgb/only/d.png"), W, H, PNG_COLOR_TYPE_RGB, 16, c16, 0);
    write_png(tu_path("rgb/only/e.png"), W, H, PNG_COLOR_TYPE_RGB, 8, c8, 1);
    CHECK_OK(ibp_png_folder_read(tu_path("rgb"), NULL, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 5 && ds->c == 3 && ds->n_classes == 1);
        const png_color colours[4] = {{0, 0, 0}, {255, 0, 0}, {10, 200, 30}, {1, 2, 3}};
        int ok = 1;
        for (int s = 0; s < 5; s++)
            for (int i = 0; i < H * W; i++)
                for (int k = 0; k < 3; k++) {
                    uint8_t got = ds->pixels[(s * 3 + k) * H * W + i];
                    uint8_t want = c8[3 * i + k];
                    if (s == 2) {
                        const png_color *p = &colours[pal[i]];
                        want = k == 0 ? p->red : k == 1 ? p->green : p->blue;
                    }
                    ok &= got == want;
                }
        CHECK(ok);
    }
    ibp_dataset_free(ds);
    ds = NULL;
    st = ibp_png_folder_read(tu_path("rgb"), &gray_only, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_SHAPE, "only/a.png", "colour image, 1 channel wanted");
    CHECK_OK(ibp_png_folder_read(tu_path("rgb"), &gray_conv, &ds, &err), err);
    if (ds) {
        CHECK(ds->c == 1);
        int ok = 1;
        for (int i = 0; i < H * W; i++)
            ok &= ds->pixels[i] == luma(c8[3 * i], c8[3 * i + 1], c8[3 * i + 2]);
        CHECK(ok);
        CHECK(ds->pixels[2 * H * W + 1] == luma(255, 0, 0));
    }
    ibp_dataset_free(ds);
    ds = NULL;

    /* --- errors, each naming the file or folder */
    tu_mkdir("mixed");
    tu_mkdir("mixed/k");
    write_png(tu_path("mixed/k/1.png"), W, H, PNG_COLOR_TYPE_GRAY, 8, g8, 0);
    write_png(tu_path("mixed/k/2.png"), W, H, PNG_COLOR_TYPE_RGB, 8, c8, 0);
    st = ibp_png_folder_read(tu_path("mixed"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_SHAPE, "mixed/k/2.png", "colour image, 1 channel wanted");

    tu_mkdir("size");
    tu_mkdir("size/k");
    write_png(tu_path("size/k/1.png"), W, H, PNG_COLOR_TYPE_GRAY, 8, g8, 0);
    write_png(tu_path("size/k/2.png"), H, W, PNG_COLOR_TYPE_GRAY, 8, g8, 0);
    st = ibp_png_folder_read(tu_path("size"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_SHAPE, "size/k/2.png", "image is 3x2 (height x width), expected 2x3");

    /* many files, read in parallel: the first bad one in order is reported */
    tu_mkdir("many");
    tu_mkdir("many/k");
    for (int i = 0; i < 60; i++) {
        char name[64];
        snprintf(name, sizeof name, "many/k/%02d.png", i);
        write_png(tu_path(name), W, H, PNG_COLOR_TYPE_GRAY, 8, g8, 0);
    }
    CHECK_OK(ibp_png_folder_read(tu_path("many"), NULL, &ds, &err), err);
    if (ds)
        CHECK(ds->n == 60 && memcmp(ds->pixels + 59 * H * W, g8, H * W) == 0);
    ibp_dataset_free(ds);
    ds = NULL;
    corrupt_copy(tu_path("many/k/00.png"), tu_path("many/k/50.png"), 0);
    corrupt_copy(tu_path("many/k/00.png"), tu_path("many/k/31.png"), 1);
    st = ibp_png_folder_read(tu_path("many"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, "many/k/31.png", "corrupt PNG");
    remove(tu_path("many/k/31.png"));
    st = ibp_png_folder_read(tu_path("many"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, "many/k/50.png", "corrupt PNG");
    tu_write(tu_path("many/k/40.png"), "not a png at all", 16, 0);
    st = ibp_png_folder_read(tu_path("many"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, "many/k/40.png", "not a PNG file");

    tu_mkdir("gray/c_empty");
    st = ibp_png_folder_read(tu_path("gray"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, "gray/c_empty", "empty class folder");
    tu_mkdir("noclass");
    st = ibp_png_folder_read(tu_path("noclass"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, "noclass", "no class folders");
    st = ibp_png_folder_read(tu_path("absent"), NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_IO, "absent", "No such file");

    /* --- a list of files, labelled and not; through ibp_dataset_open too */
    const char *list[3] = {tu_path("rgb/only/a.png"), tu_path("rgb/only/e.png"),
                           tu_path("rgb/only/d.png")};
    const int32_t labels[3] = {2, 0, 1};
    CHECK_OK(ibp_png_files_read(list, 3, labels, 3, NULL, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 3 && ds->c == 3 && ds->labels[0] == 2 && ds->labels[2] == 1);
        CHECK(ds->pixels[3 * H * W * 2] == c8[0]);
    }
    ibp_dataset_free(ds);
    ds = NULL;
    CHECK_OK(ibp_png_files_read(list, 3, NULL, 0, NULL, &ds, &err), err);
    if (ds)
        CHECK(ds->labels[0] == -1 && ds->labels[2] == -1);
    ibp_dataset_free(ds);
    ds = NULL;
    const int32_t bad_labels[3] = {0, 3, 0};
    st = ibp_png_files_read(list, 3, bad_labels, 3, NULL, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_ARG, "rgb/only/e.png", "label 3 outside 0..2");
    char spec[600];
    snprintf(spec, sizeof spec, "png:%s", tu_path("gray/b_cls"));
    st = ibp_dataset_open(spec, NULL, &ds, &err); /* b_cls has no class folders */
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, "b_cls", "no class folders");
    struct ibp_open_options oo = {.channels = 3, .convert = 1};
    CHECK_OK(ibp_dataset_open(tu_path("mixed"), &oo, &ds, &err), err);
    if (ds)
        CHECK(ds->n == 2 && ds->c == 3 && ds->pixels[3 * H * W] == c8[0]);
    ibp_dataset_free(ds);
    ds = NULL;

    /* --- the writer: round trips through the reader */
    tu_mkdir("out");
    const char *p1 = tu_path("out/gray.png");
    CHECK_OK(ibp_png_write(p1, g8, 1, H, W, &err), err);
    uint8_t back[3 * H * W];
    CHECK_OK(ibp_png_read(p1, 1, H, W, 0, back, &err), err);
    CHECK(memcmp(back, g8, H * W) == 0);
    CHECK(only_file_in(tu_path("out"), "gray.png")); /* no temporary left behind */
    uint8_t planar[3 * H * W];
    for (int i = 0; i < H * W; i++)
        for (int k = 0; k < 3; k++)
            planar[k * H * W + i] = c8[3 * i + k];
    const char *p3 = tu_path("out/rgb.png");
    CHECK_OK(ibp_png_write(p3, planar, 3, H, W, &err), err);
    CHECK_OK(ibp_png_read(p3, 3, H, W, 0, back, &err), err);
    CHECK(memcmp(back, planar, 3 * H * W) == 0);
    const float fx[H * W] = {0.0f, 0.5f, 1.0f, 1.7f, -0.2f, 100.0f / 255.0f};
    const uint8_t fwant[H * W] = {0, 128, 255, 255, 0, 100};
    CHECK_OK(ibp_png_write_float(p1, fx, 1, H, W, &err), err);
    CHECK_OK(ibp_png_read(p1, 1, H, W, 0, back, &err), err);
    CHECK(memcmp(back, fwant, H * W) == 0);
    float fnan[H * W] = {0};
    fnan[4] = NAN;
    CHECK(ibp_png_write_float(p1, fnan, 1, H, W, &err) == IBP_ERR_NUMERIC);
    CHECK(tu_has(err.msg, "pixel 4 is NaN"));
    CHECK(ibp_png_write(tu_path("nodir/x.png"), g8, 1, H, W, &err) == IBP_ERR_IO);
    CHECK(tu_has(err.msg, "nodir/x.png"));
    CHECK(ibp_png_write(p1, g8, 2, H, W, &err) == IBP_ERR_ARG);

    /* grid of 5 gray images: 3 columns, 2 rows, 1-pixel borders, empty cell in border grey */
    uint8_t five[5 * H * W];
    for (int i = 0; i < 5 * H * W; i++)
        five[i] = (uint8_t)(i * 3);
    const char *pg = tu_path("out/grid.png");
    CHECK_OK(ibp_png_write_grid(pg, five, 5, 1, H, W, 0, 1, &err), err);
    int gc, gh, gw;
    CHECK_OK(ibp_png_probe(pg, &gc, &gh, &gw, &err), err);
    CHECK(gc == 1 && gh == 2 * (H + 1) + 1 && gw == 3 * (W + 1) + 1);
    if (gh == 7 && gw == 13) {
        uint8_t grid[7 * 13];
        CHECK_OK(ibp_png_read(pg, 1, 7, 13, 0, grid, &err), err);
        int ok = 1;
        for (int s = 0; s < 6; s++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int gy = (s / 3) * (H + 1) + 1 + y, gx = (s % 3) * (W + 1) + 1 + x;
                    uint8_t want = s < 5 ? five[s * H * W + y * W + x] : IBP_PNG_GRID_BORDER;
                    ok &= grid[gy * 13 + gx] == want;
                }
        for (int x = 0; x < 13; x++)
            ok &= grid[x] == IBP_PNG_GRID_BORDER && grid[3 * 13 + x] == IBP_PNG_GRID_BORDER;
        for (int y = 0; y < 7; y++)
            ok &= grid[y * 13] == IBP_PNG_GRID_BORDER && grid[y * 13 + 4] == IBP_PNG_GRID_BORDER;
        CHECK(ok);
    }
    float ffive[5 * 3 * H * W];
    for (int i = 0; i < 5 * 3 * H * W; i++)
        ffive[i] = (float)(i % 256) / 255.0f;
    CHECK_OK(ibp_png_write_grid_float(pg, ffive, 5, 3, H, W, 5, 1, &err), err);
    CHECK_OK(ibp_png_probe(pg, &gc, &gh, &gw, &err), err);
    CHECK(gc == 3 && gh == H + 2 && gw == 5 * (W + 1) + 1);
    CHECK(ibp_png_write_grid(pg, five, 0, 1, H, W, 0, 1, &err) == IBP_ERR_ARG);
    CHECK(ibp_png_write_grid(pg, five, 5, 1, H, W, 0, 0, &err) == IBP_ERR_ARG);
    CHECK(tu_has(err.msg, "scale 0"));

    /* scaled 3 times: every pixel a 3x3 block, borders still 1 pixel; 2 colour images in
     * 2 columns */
    enum { SC = 3, SH = SC * H + 2, SW = 2 * (SC * W + 1) + 1 };
    CHECK_OK(ibp_png_write_grid_float(pg, ffive, 2, 3, H, W, 0, SC, &err), err);
    CHECK_OK(ibp_png_probe(pg, &gc, &gh, &gw, &err), err);
    CHECK_MSG(gc == 3 && gh == SH && gw == SW, "scaled grid %dx%dx%d", gc, gh, gw);
    if (gc == 3 && gh == SH && gw == SW) {
        uint8_t scaled[3 * SH * SW];
        CHECK_OK(ibp_png_read(pg, 3, SH, SW, 0, scaled, &err), err);
        int ok = 1;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 3; k++)
                for (int y = 0; y < SC * H; y++)
                    for (int x = 0; x < SC * W; x++) {
                        int gx = i * (SC * W + 1) + 1 + x;
                        float v = ffive[((i * 3 + k) * H + y / SC) * W + x / SC];
                        ok &= scaled[(k * SH + 1 + y) * SW + gx] == (uint8_t)lrintf(v * 255.0f);
                    }
        for (int k = 0; k < 3; k++)
            for (int y = 0; y < SH; y++)
                ok &= scaled[(k * SH + y) * SW + SC * W + 1] == IBP_PNG_GRID_BORDER &&
                      scaled[(k * SH + y) * SW] == IBP_PNG_GRID_BORDER;
        CHECK(ok);
    }

    tu_cleanup();
    return check_report();
}
