/* make_seeds.c — writes the seed corpora of the fuzz harnesses: tiny valid files of
 * every format the harnesses read, in the harnesses' input layouts (fuzz_<reader>.c),
 * through the library's own writers where it has one (model file, training state,
 * configuration, ONNX export, PNG) and libpng/zlib for the PNG kinds and the gzip files
 * it does not write.
 *
 * Usage: fuzz_make_seeds OUT_DIR — creates OUT_DIR/<reader>/ (the folders must not
 * hold other files of the same names) and prints the count. Exit 1 with one line on
 * the first failure. */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "datasets/png_write.h"
#include "nets/base/bytes.h"
#include "nets/base/rng.h"
#include "nets/formats/model_file.h"
#include "nets/formats/onnx_export.h"
#include "nets/graph/init.h"
#include "nets/graph/zoo.h"
#include "trainer/config.h"
#include "trainer/train_state.h"

struct seeds {
    const char *root;
    int count;
    char failed[2048];
};

static int fail(struct seeds *s, const char *what, const char *why)
{
    if (!s->failed[0])
        snprintf(s->failed, sizeof s->failed, "%s: %s", what, why);
    return -1;
}

static int seed_path(struct seeds *s, const char *reader, const char *name, char *path,
                     size_t len)
{
    snprintf(path, len, "%s/%s", s->root, reader);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return fail(s, path, strerror(errno));
    snprintf(path, len, "%s/%s/%s", s->root, reader, name);
    return 0;
}

/* Writes prefix[0..np) then data[0..n) as OUT/reader/name. */
static int put(struct seeds *s, const char *reader, const char *name, const void *prefix,
               size_t np, const void *data, size_t n)
{
    char path[1024];
    if (seed_path(s, reader, name, path, sizeof path) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail(s, path, strerror(errno));
    int ok = (np == 0 || fwrite(prefix, 1, np, f) == np) && (n == 0 || fwrite(data, 1, n, f) == n);
    if (fclose(f) != 0 || !ok)
        return fail(s, path, "cannot write");
    s->count++;
    return 0;
}

static int put_text(struct seeds *s, const char *reader, const char *name, uint8_t mode,
                    const char *text)
{
    return put(s, reader, name, &mode, 1, text, strlen(text));
}

/* The gzip form of data[0..n) into w. */
static int gzip_bytes(const uint8_t *data, size_t n, struct ibp_wbuf *w)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uint8_t out[4096];
    z.next_in = (uint8_t *)data;
    z.avail_in = (uInt)n;
    int r;
    do {
        z.next_out = out;
        z.avail_out = sizeof out;
        r = deflate(&z, Z_FINISH);
        ibp_wbuf_bytes(w, out, sizeof out - z.avail_out);
    } while (r == Z_OK);
    deflateEnd(&z);
    return r == Z_STREAM_END ? 0 : -1;
}

static void be32(struct ibp_wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    ibp_wbuf_bytes(w, b, 4);
}

/* Harness layout: u8 n_classes - 1, u32 LE images length, images, labels. */
static int idx_seed(struct seeds *s, const char *name, int gz)
{
    struct ibp_wbuf img = {0}, lab = {0}, in = {0};
    be32(&img, 2051);
    be32(&img, 2);
    be32(&img, 3);
    be32(&img, 3);
    for (int i = 0; i < 18; i++)
        ibp_wbuf_bytes(&img, &(uint8_t){(uint8_t)(i * 14)}, 1);
    be32(&lab, 2049);
    be32(&lab, 2);
    ibp_wbuf_bytes(&lab, (uint8_t[]){7, 2}, 2);
    int rc = 0;
    struct ibp_wbuf zi = {0}, zl = {0};
    const struct ibp_wbuf *pi = &img, *pl = &lab;
    if (gz) {
        rc = gzip_bytes(img.data, img.len, &zi) | gzip_bytes(lab.data, lab.len, &zl);
        pi = &zi;
        pl = &zl;
    }
    ibp_wbuf_bytes(&in, &(uint8_t){9}, 1);
    ibp_wbuf_u32(&in, (uint32_t)pi->len);
    ibp_wbuf_bytes(&in, pi->data, pi->len);
    ibp_wbuf_bytes(&in, pl->data, pl->len);
    rc = rc ? fail(s, name, "gzip failed") : put(s, "idx", name, NULL, 0, in.data, in.len);
    ibp_wbuf_free(&img);
    ibp_wbuf_free(&lab);
    ibp_wbuf_free(&zi);
    ibp_wbuf_free(&zl);
    ibp_wbuf_free(&in);
    return rc;
}

/* Harness layout: u8 label kind, then records. */
static int cifar_seed(struct seeds *s, const char *name, uint8_t kind, int label_bytes)
{
    size_t rec = (size_t)label_bytes + 3072;
    uint8_t *b = malloc(2 * rec);
    if (!b)
        return fail(s, name, "out of memory");
    for (size_t i = 0; i < 2 * rec; i++)
        b[i] = (uint8_t)(i * 31 + 7);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < label_bytes; k++)
            b[r * rec + (size_t)k] = (uint8_t)(3 + r + k);
    int rc = put(s, "cifar", name, &kind, 1, b, 2 * rec);
    free(b);
    return rc;
}

/* A 4x3 PNG of one libpng colour type and depth, written straight through libpng. */
static int png_kind(struct seeds *s, const char *name, int color, int depth, int interlace)
{
    char path[1024];
    if (seed_path(s, "png", name, path, sizeof path) != 0)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail(s, path, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return fail(s, path, "libpng failed");
    }
    const int h = 3, w = 4;
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {20, 40, 250}};
        png_byte alpha[2] = {0, 128};
        png_set_PLTE(png, info, pal, 4);
        png_set_tRNS(png, info, alpha, 2, NULL);
    }
    png_write_info(png, info);
    int number_of_passes = interlace ? png_set_interlace_handling(png) : 1;
    png_byte row[4 * 4 * 2];
    for (int pass = 0; pass < number_of_passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < sizeof row; i++)
                row[i] = (png_byte)(color == PNG_COLOR_TYPE_PALETTE ? (i + y) % 4 * 0x55
                                                                    : 40 * y + 9 * i);
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0)
        return fail(s, path, "cannot write");
    s->count++;
    return 0;
}

static int png_seeds(struct seeds *s)
{
    uint8_t px[3 * 5 * 6];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 11);
    char path[1024];
    struct ibp_error err;
    for (int c = 1; c <= 3; c += 2) {
        if (seed_path(s, "png", c == 1 ? "gray8-ours.png" : "rgb8-ours.png", path,
                      sizeof path) != 0)
            return -1;
        if (ibp_png_write(path, px, c, 5, 6, &err) != IBP_OK)
            return fail(s, path, err.msg);
        s->count++;
    }
    return png_kind(s, "gray-alpha8.png", PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE) |
           png_kind(s, "rgba8.png", PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE) |
           png_kind(s, "palette2.png", PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE) |
           png_kind(s, "gray16.png", PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE) |
           png_kind(s, "gray1.png", PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE) |
           png_kind(s, "rgb8-interlaced.png", PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7);
}

static int csv_seeds(struct seeds *s)
{
    return put_text(s, "csv", "gray2x2.csv", 1, "3,0,255,7,8\n1,1,2,3,4\r\n\n") |
           put_text(s, "csv", "rgb2x2.csv", 2, "9,1,2,3,4,5,6,7,8,9,10,11,12\n") |
           put_text(s, "csv", "one.csv", 3, "0,17\n5,200\n");
}

struct tiny_net {
    const char *name;
    struct ibp_shape in;
    struct ibp_zoo_options opt;
};

static const struct tiny_net tiny_nets[] = {
    {"mlp", {1, 2, 2}, {0, 4, 1}},
    {"cnn-small", {1, 8, 8}, {0, 0, 0}},
    {"cnn7", {3, 8, 8}, {2, 8, 0}},
    {"cnn-small-nobn", {3, 8, 8}, {0, 0, 0}},
};

static int net_build(struct seeds *s, const struct tiny_net *t, struct ibp_net **net)
{
    struct ibp_error err;
    if (ibp_zoo_create(t->name, t->in, 3, &t->opt, NULL, NULL, net, &err) != IBP_OK)
        return fail(s, t->name, err.msg);
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 7, 0);
    if (ibp_net_init(*net, IBP_INIT_IBP, &rng, &err) != IBP_OK) {
        ibp_net_free(*net);
        return fail(s, t->name, err.msg);
    }
    return 0;
}

static int model_seeds(struct seeds *s)
{
    static char *classes[3] = {"cat", "dog", "emu"};
    for (size_t i = 0; i < sizeof tiny_nets / sizeof tiny_nets[0]; i++) {
        const struct tiny_net *t = &tiny_nets[i];
        struct ibp_net *net;
        if (net_build(s, t, &net) != 0)
            return -1;
        struct ibp_model_meta meta = {(char *)t->name, i % 2 ? 3 : 0, classes};
        struct ibp_wbuf w = {0};
        struct ibp_error err;
        uint8_t *onnx = NULL;
        size_t onnx_size = 0;
        char name[64];
        int rc = ibp_model_encode(net, &meta, &w, &err) == IBP_OK ? 0 : fail(s, t->name, err.msg);
        snprintf(name, sizeof name, "%s.ibpm", t->name);
        rc = rc ? rc : put(s, "model", name, NULL, 0, w.data, w.len);
        if (rc == 0 && ibp_onnx_export_buffer(net, &onnx, &onnx_size, &err) != IBP_OK)
            rc = fail(s, t->name, err.msg);
        snprintf(name, sizeof name, "%s.onnx", t->name);
        rc = rc ? rc : put(s, "onnx", name, NULL, 0, onnx, onnx_size);
        free(onnx);
        ibp_wbuf_free(&w);
        ibp_net_free(net);
        if (rc)
            return rc;
    }
    return 0;
}

static int state_seed(struct seeds *s, struct ibp_train_config *cfg)
{
    struct ibp_net *net;
    if (net_build(s, &tiny_nets[0], &net) != 0)
        return -1;
    struct ibp_optim_config oc = ibp_optim_adam_defaults();
    struct ibp_optim *opt = NULL;
    struct ibp_error err;
    int rc = ibp_optim_create(&oc, net->n_params, &opt, &err) == IBP_OK ? 0
                                                                       : fail(s, "optim", err.msg);
    struct ibp_wbuf text = {0};
    ibp_train_config_format(cfg, &text);
    ibp_wbuf_bytes(&text, "", 1);
    struct ibp_train_position pos = {2, 3, 10};
    struct ibp_epoch_sums sums = {.loss = 1.5, .n = 30, .batches = 3, .errors = 4};
    struct ibp_train_best best = {1, 0.25, 0.5, 0, 0};
    struct ibp_model_meta meta = {"mlp", 0, NULL};
    char path[1024];
    if (rc == 0 && seed_path(s, "state", "mlp.state", path, sizeof path) != 0)
        rc = -1;
    if (rc == 0 && ibp_train_state_save(path, (const char *)text.data, &pos, &sums, &best, net,
                                        &meta, opt, &err) != IBP_OK)
        rc = fail(s, path, err.msg);
    if (rc == 0)
        s->count++;
    ibp_wbuf_free(&text);
    ibp_optim_free(opt);
    ibp_net_free(net);
    return rc;
}

static int config_seeds(struct seeds *s)
{
    struct ibp_train_config cfg;
    ibp_train_config_defaults(&cfg);
    snprintf(cfg.out, sizeof cfg.out, "runs/seed");
    struct ibp_wbuf text = {0};
    ibp_train_config_format(&cfg, &text);
    int rc = put(s, "config", "defaults.cfg", &(uint8_t){0}, 1, text.data, text.len);
    ibp_wbuf_free(&text);
    static const char args[] = "--preset\0cifar10\0--eps=8/255\0--no-augment\0--milestones\0"
                               "60,90\0--schedule\0001+50+49\0--out\0runs/x";
    rc |= put(s, "config", "args", &(uint8_t){1}, 1, args, sizeof args - 1);
    rc |= put_text(s, "config", "small.cfg", 0,
                   "# tiny\npreset = mnist\nmethod = crown-ibp\nschedule = 1+2+3\n"
                   "optimizer = sgd\nmomentum = 0.9\nnesterov = true\nout = o\n");
    return rc ? rc : state_seed(s, &cfg);
}

static int vnnlib_seeds(struct seeds *s)
{
    static const char *prop =
        "; two inputs, three outputs\n(declare-const X_0 Real)\n(declare-const X_1 Real)\n"
        "(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(declare-const Y_2 Real)\n"
        "(assert (<= X_0 0.5))\n(assert (>= X_0 -.5))\n(assert (<= X_1 1e-1))\n"
        "(assert (>= X_1 -1E-1))\n"
        "(assert (or (and (>= Y_1 Y_0) (<= Y_2 3)) (and (>= Y_2 Y_0))))\n";
    static const char *boxes =
        "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n"
        "(assert (or (and (<= X_0 1) (>= X_0 0) (<= Y_0 Y_1))\n"
        "            (and (<= X_0 2) (>= X_0 1.5) (>= Y_0 +2.5E+01))))\n";
    struct ibp_wbuf z = {0};
    int rc = put(s, "vnnlib", "prop.vnnlib", NULL, 0, prop, strlen(prop)) |
             put(s, "vnnlib", "boxes.vnnlib", NULL, 0, boxes, strlen(boxes));
    if (gzip_bytes((const uint8_t *)prop, strlen(prop), &z) != 0)
        rc = fail(s, "vnnlib", "gzip failed");
    rc = rc ? rc : put(s, "vnnlib", "prop.vnnlib.gz", NULL, 0, z.data, z.len);
    ibp_wbuf_free(&z);
    return rc;
}

static int parse_seeds(struct seeds *s)
{
    static const char *texts[7] = {"256", "18446744073709551", "-1.5e-3", "8/255",
                                   "0.4914,0.4822,0.4465", "0-99,200", "3,5,10-12"};
    int rc = 0;
    for (uint8_t k = 0; k < 7; k++) {
        char name[16];
        snprintf(name, sizeof name, "parser%u", k);
        rc |= put_text(s, "parse", name, k, texts[k]);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 1;
    }
    struct seeds s = {argv[1], 0, ""};
    if (mkdir(s.root, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s\n", s.root, strerror(errno));
        return 1;
    }
    int rc = idx_seed(&s, "plain", 0) | idx_seed(&s, "gzip", 1) |
             cifar_seed(&s, "cifar10", 0, 1) | cifar_seed(&s, "cifar100", 1, 2) |
             png_seeds(&s) | csv_seeds(&s) | model_seeds(&s) | config_seeds(&s) |
             vnnlib_seeds(&s) | parse_seeds(&s);
    if (rc != 0) {
        fprintf(stderr, "fuzz_make_seeds: %s\n", s.failed[0] ? s.failed : "failed");
        return 1;
    }
    printf("%d seeds in %s\n", s.count, s.root);
    return 0;
}
