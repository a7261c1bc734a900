/* The same images in every format give the same tensors: a few gray images written here as
 * IDX, a PNG folder, a file list and an ERAN CSV, and a few colour images as CIFAR-10 and
 * CIFAR-100 binaries, a PNG folder, a file list and an ERAN CSV (each pixel's R,G,B
 * together), all opened through ibp_dataset_open; every dataset has the images' shape,
 * their labels in order and float batches (pixel/255) equal to the first's, bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/batch.h"
#include "datasets/open.h"
#include "datasets/png_write.h"
#include "nets/base/rng.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

enum { N = 6, MAX_PIX = 3 * 32 * 32 };

/* labels in order of class, so a PNG folder (class folders, then file names) keeps the
 * sample order; every class 0..4 used, so the folder's classes are 0..4 too */
static const uint8_t LABELS[N] = {0, 1, 2, 2, 3, 4};

struct images {
    int c, h, w;
    uint8_t px[N * MAX_PIX]; /* [N][c][h][w] */
};

static void make_images(struct images *im, int c, int h, int w, uint64_t seed)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, seed, 0);
    im->c = c;
    im->h = h;
    im->w = w;
    for (int i = 0; i < N * c * h * w; i++)
        im->px[i] = (uint8_t)ibp_rng_below(&rng, 256);
    /* the extremes appear */
    im->px[0] = 0;
    im->px[1] = 255;
}

static void put_text(const char *path, const char *text)
{
    tu_write(path, text, strlen(text), 0);
}

/* One PNG per image in dir/<label>/imgNN.png, plus a copy of image 3 in "dir/with space";
 * the list file dir.txt names them (relative, absolute, a path with a space, a comment,
 * a blank line, CRLF). */
static void write_png_and_list(const struct images *im, const char *dir)
{
    struct ibp_error err;
    char rel[256], list[8192] = "# path label\r\n\n";
    tu_mkdir(dir);
    snprintf(rel, sizeof rel, "%s-extra", dir);
    tu_mkdir(rel);
    snprintf(rel, sizeof rel, "%s-extra/with space", dir);
    tu_mkdir(rel);
    size_t size = (size_t)im->c * im->h * im->w;
    for (int k = 0; k <= LABELS[N - 1]; k++) {
        snprintf(rel, sizeof rel, "%s/%d", dir, k);
        tu_mkdir(rel);
    }
    for (int i = 0; i < N; i++) {
        snprintf(rel, sizeof rel, "%s/%d/img%02d.png", dir, LABELS[i], i);
        CHECK_OK(ibp_png_write(tu_path(rel), im->px + i * size, im->c, im->h, im->w, &err), err);
        char line[1024];
        if (i == 3) {
            snprintf(rel, sizeof rel, "%s-extra/with space/three.png", dir);
            CHECK_OK(ibp_png_write(tu_path(rel), im->px + i * size, im->c, im->h, im->w, &err),
                     err);
            snprintf(line, sizeof line, "%s-extra/with space/three.png\t %d\r\n", dir, LABELS[i]);
        } else if (i == 4) {
            snprintf(line, sizeof line, "  %s %d  \n", tu_path(rel), LABELS[i]);
        } else {
            snprintf(line, sizeof line, "%s %d\n", rel, LABELS[i]);
        }
        strncat(list, line, sizeof list - strlen(list) - 1);
    }
    snprintf(rel, sizeof rel, "%s.txt", dir);
    put_text(tu_path(rel), list);
}

/* ERAN CSV: label, then the pixels row-major with each pixel's channels together. */
static void write_csv(const struct images *im, const char *name)
{
    size_t cap = (size_t)N * (4 * MAX_PIX + 8) + 1, len = 0;
    char *text = malloc(cap);
    size_t plane = (size_t)im->h * im->w;
    for (int i = 0; i < N; i++) {
        len += (size_t)snprintf(text + len, cap - len, "%d", LABELS[i]);
        for (size_t p = 0; p < plane; p++)
            for (int k = 0; k < im->c; k++)
                len += (size_t)snprintf(text + len, cap - len, ",%d",
                                        im->px[((size_t)i * im->c + k) * plane + p]);
        len += (size_t)snprintf(text + len, cap - len, "\n");
    }
    tu_write(tu_path(name), text, len, 0);
    free(text);
}

static void write_idx(const struct images *im)
{
    size_t size = (size_t)im->h * im->w;
    uint8_t *img = malloc(16 + N * size), lab[8 + N];
    const uint32_t head[4] = {2051, N, (uint32_t)im->h, (uint32_t)im->w};
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 4; b++) {
            img[4 * k + b] = (uint8_t)(head[k] >> (24 - 8 * b));
            if (k < 2)
                lab[4 * k + b] = (uint8_t)((k == 0 ? 2049u : (uint32_t)N) >> (24 - 8 * b));
        }
    memcpy(img + 16, im->px, N * size);
    memcpy(lab + 8, LABELS, N);
    tu_write(tu_path("gray-images-idx3-ubyte"), img, 16 + N * size, 0);
    tu_write(tu_path("gray-labels-idx1-ubyte"), lab, 8 + N, 0);
    free(img);
}

/* CIFAR-10 records (label, pixels) and CIFAR-100 ones (coarse label, fine label = ours,
 * pixels). */
static void write_cifar(const struct images *im)
{
    enum { PIX = 3 * 32 * 32 };
    uint8_t *rec = malloc((size_t)N * (PIX + 2));
    for (int hundred = 0; hundred < 2; hundred++) {
        size_t size = PIX + 1 + (size_t)hundred;
        for (int i = 0; i < N; i++) {
            uint8_t *r = rec + (size_t)i * size;
            if (hundred)
                *r++ = (uint8_t)(19 - LABELS[i]);
            *r++ = LABELS[i];
            memcpy(r, im->px + (size_t)i * PIX, PIX);
        }
        tu_write(tu_path(hundred ? "colour100.bin" : "colour.bin"), rec, (size_t)N * size, 0);
    }
    free(rec);
}

/* The float batch of all of ds (x[N][c][h][w]) and its labels. */
static void tensors(const struct ibp_dataset *ds, float *x, int32_t *labels)
{
    int32_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    ibp_batch_fill(ds, idx, N, NULL, 0, 0, x, labels);
}

/* Opens every spec with opt and checks each against the images. */
static void check_all(const struct images *im, const char *const *specs, int n_specs,
                      const struct ibp_open_options *opt)
{
    size_t count = (size_t)N * im->c * im->h * im->w;
    float *want = malloc(count * sizeof(float)), *got = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++)
        want[i] = (float)im->px[i] / 255.0f;
    for (int s = 0; s < n_specs; s++) {
        struct ibp_dataset *ds = NULL;
        struct ibp_error err;
        char spec[1024];
        snprintf(spec, sizeof spec, "%s", specs[s]);
        char *colon = strchr(spec, ':');
        snprintf(colon + 1, sizeof spec - (size_t)(colon + 1 - spec), "%s",
                 tu_path(strchr(specs[s], ':') + 1));
        CHECK_OK(ibp_dataset_open(spec, opt, &ds, &err), err);
        if (!ds)
            continue;
        CHECK_MSG(ds->n == N && ds->c == im->c && ds->h == im->h && ds->w == im->w,
                  "%s: %lld images of %dx%dx%d", specs[s], (long long)ds->n, ds->c, ds->h, ds->w);
        if (ds->n == N && ds->c == im->c && ds->h == im->h && ds->w == im->w) {
            int32_t labels[N];
            tensors(ds, got, labels);
            CHECK_MSG(memcmp(got, want, count * sizeof(float)) == 0, "%s: other pixels",
                      specs[s]);
            int same = 1;
            for (int i = 0; i < N; i++)
                same &= labels[i] == LABELS[i];
            CHECK_MSG(same, "%s: other labels", specs[s]);
        }
        ibp_dataset_free(ds);
    }
    free(want);
    free(got);
}

int main(void)
{
    tu_init();
    static struct images gray, colour;
    make_images(&gray, 1, 28, 28, 1);
    make_images(&colour, 3, 32, 32, 2);

    write_idx(&gray);
    write_png_and_list(&gray, "gray");
    write_csv(&gray, "gray.csv");
    const char *gray_specs[] = {"idx:gray-images-idx3-ubyte", "png:gray", "list:gray.txt",
                                "csv:gray.csv"};
    check_all(&gray, gray_specs, 4, NULL);

    write_cifar(&colour);
    write_png_and_list(&colour, "colour");
    write_csv(&colour, "colour.csv");
    const char *colour_specs[] = {"cifar10:colour.bin", "cifar100:colour100.bin",
                                  "png:colour", "list:colour.txt", "csv:colour.csv"};
    struct ibp_open_options opt = {.c = 3, .h = 32, .w = 32};
    check_all(&colour, colour_specs, 5, &opt);

    tu_cleanup();
    return check_report();
}
