/* IDX reader: values of small plain and gzip files, and every kind of broken file. */
#include <stdlib.h>
#include <string.h>

#include "datasets/idx.h"
#include "datasets/open.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

enum { N = 3, ROWS = 2, COLS = 4 };

/* Writes an IDX file: magic, dims[ndims] big-endian, then len bytes of data. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndims,
                      const uint8_t *data, size_t len, int gz)
{
    size_t head = 4 + 4 * (size_t)ndims;
    uint8_t *buf = malloc(head + len + 1);
    uint32_t words[4] = {magic, 0, 0, 0};
    for (int i = 0; i < ndims; i++)
        words[i + 1] = dims[i];
    for (int i = 0; i <= ndims; i++)
        for (int b = 0; b < 4; b++)
            buf[4 * i + b] = (uint8_t)(words[i] >> (24 - 8 * b));
    if (len)
        memcpy(buf + head, data, len);
    tu_write(path, buf, head + len, gz);
    free(buf);
}

static uint8_t pixels[N * ROWS * COLS];
static const uint8_t labels[N] = {1, 0, 9};

static void write_good(const char *img, const char *lab, int gz)
{
    uint32_t di[3] = {N, ROWS, COLS}, dl[1] = {N};
    write_idx(img, 2051, di, 3, pixels, sizeof pixels, gz);
    write_idx(lab, 2049, dl, 1, labels, N, gz);
}

static void check_good(const struct ibp_dataset *ds)
{
    CHECK(ds->n == N && ds->c == 1 && ds->h == ROWS && ds->w == COLS);
    CHECK(ds->n_classes == 10);
    int same = 1;
    for (int i = 0; i < N * ROWS * COLS; i++)
        same &= ds->pixels[i] == pixels[i];
    CHECK(same);
    for (int i = 0; i < N; i++)
        CHECK(ds->labels[i] == labels[i]);
    CHECK(ds->mean[0] == 0.0f && ds->std[0] == 1.0f);
}

/* The read fails with status want, *out stays NULL, and the message holds both needles. */
static void expect_fail(const char *img, const char *lab, enum ibp_status want,
                        const char *needle1, const char *needle2)
{
    struct ibp_dataset *ds = NULL;
    struct ibp_error err;
    ibp_error_clear(&err);
    enum ibp_status st = ibp_idx_read(img, lab, 10, &ds, &err);
    CHECK_MSG(st == want, "status %d, want %d: %s", (int)st, (int)want, err.msg);
    CHECK(ds == NULL);
    CHECK_MSG(tu_has(err.msg, needle1), "\"%s\" lacks \"%s\"", err.msg, needle1);
    CHECK_MSG(tu_has(err.msg, needle2), "\"%s\" lacks \"%s\"", err.msg, needle2);
    ibp_dataset_free(ds);
}

int main(void)
{
    tu_init();
    for (int i = 0; i < N * ROWS * COLS; i++)
        pixels[i] = (uint8_t)(i * 11 + 3);
    struct ibp_error err;
    ibp_error_clear(&err);
    uint32_t di[3] = {N, ROWS, COLS}, dl[1] = {N};

    /* good files, plain and gzip */
    for (int gz = 0; gz < 2; gz++) {
        const char *img = tu_path(gz ? "good-images-idx3-ubyte.gz" : "good-images-idx3-ubyte");
        const char *lab = tu_path(gz ? "good-labels-idx1-ubyte.gz" : "good-labels-idx1-ubyte");
        write_good(img, lab, gz);
        struct ibp_dataset *ds = NULL;
        CHECK_OK(ibp_idx_read(img, lab, 10, &ds, &err), err);
        if (ds) {
            check_good(ds);
            CHECK(strcmp(ds->kind, "idx") == 0 && strcmp(ds->class_names[9], "9") == 0);
        }
        ibp_dataset_free(ds);
        /* through the specification string: labels name derived from the images name */
        char spec[600];
        snprintf(spec, sizeof spec, "idx:%s", img);
        ds = NULL;
        CHECK_OK(ibp_dataset_open(spec, NULL, &ds, &err), err);
        if (ds)
            check_good(ds);
        ibp_dataset_free(ds);
    }

    /* an IDX folder found by split, and a named dataset under another root */
    tu_mkdir("fashion-mnist");
    write_good(tu_path("fashion-mnist/t10k-images-idx3-ubyte.gz"),
               tu_path("fashion-mnist/t10k-labels-idx1-ubyte.gz"), 1);
    struct ibp_open_options opt = {.split = "test", .root = tu_path("")};
    struct ibp_dataset *ds = NULL;
    CHECK_OK(ibp_dataset_open("fashion-mnist", &opt, &ds, &err), err);
    if (ds) {
        check_good(ds);
        CHECK(strcmp(ds->kind, "fashion-mnist") == 0);
        CHECK(strcmp(ds->class_names[9], "Ankle boot") == 0);
    }
    ibp_dataset_free(ds);
    ds = NULL;
    CHECK_OK(ibp_dataset_open(tu_path("fashion-mnist"), &opt, &ds, &err), err);
    if (ds)
        check_good(ds);
    ibp_dataset_free(ds);
    ds = NULL;
    opt.split = "train"; /* no train files there */
    CHECK(ibp_dataset_open("fashion-mnist", &opt, &ds, &err) == IBP_ERR_IO && !ds);
    CHECK(tu_has(err.msg, "train-images-idx3-ubyte"));
    opt.split = "validation";
    CHECK(ibp_dataset_open("fashion-mnist", &opt, &ds, &err) == IBP_ERR_ARG && !ds);
    opt.split = NULL;
    opt.root = tu_path("nowhere");
    CHECK(ibp_dataset_open("mnist", &opt, &ds, &err) == IBP_ERR_IO && !ds);
    CHECK(tu_has(err.msg, "nowhere/mnist"));

    const char *img = tu_path("img"), *lab = tu_path("lab");
    write_good(img, lab, 0);
    const char *bad = tu_path("bad");
    const char *badgz = tu_path("bad.gz");

    /* missing file */
    expect_fail(tu_path("missing"), lab, IBP_ERR_IO, "missing", "No such file");
    /* wrong magic: a labels file given as images, and vice versa */
    expect_fail(lab, lab, IBP_ERR_FORMAT, "/lab", "magic number 2049, expected 2051");
    expect_fail(img, img, IBP_ERR_FORMAT, "/img", "magic number 2051, expected 2049");
    /* header cut short */
    write_idx(bad, 2051, di, 1, NULL, 0, 0);
    expect_fail(bad, lab, IBP_ERR_FORMAT, bad, "header cut short (8 of 16 bytes)");
    tu_write(bad, "", 0, 0);
    expect_fail(bad, lab, IBP_ERR_FORMAT, bad, "header cut short (0 of 16 bytes)");
    /* data shorter / longer than the header says, plain */
    write_idx(bad, 2051, di, 3, pixels, sizeof pixels - 1, 0);
    expect_fail(bad, lab, IBP_ERR_FORMAT, bad, "header promises 24 bytes of data, file has 23");
    {
        uint8_t more[N * ROWS * COLS + 5] = {0};
        write_idx(bad, 2051, di, 3, more, sizeof more, 0);
        expect_fail(bad, lab, IBP_ERR_FORMAT, bad, "header promises 24 bytes of data, file has 29");
        write_idx(badgz, 2051, di, 3, more, sizeof more, 1);
        expect_fail(badgz, lab, IBP_ERR_FORMAT, badgz, "continues after the 24 bytes");
    }
    /* gzip: data cut short inside an intact stream, and a cut gzip stream */
    write_idx(badgz, 2051, di, 3, pixels, sizeof pixels - 4, 1);
    expect_fail(badgz, lab, IBP_ERR_FORMAT, badgz, "truncated");
    {
        uint8_t big[4000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (uint8_t)(i * 7919u >> 3);
        uint32_t dbig[3] = {5, 20, 40};
        write_idx(badgz, 2051, dbig, 3, big, sizeof big, 1);
        FILE *f = fopen(badgz, "rb");
        uint8_t whole[8000];
        size_t len = fread(whole, 1, sizeof whole, f);
        fclose(f);
        tu_write(badgz, whole, len / 2, 0);
        expect_fail(badgz, lab, IBP_ERR_FORMAT, badgz, "");
    }
    /* sizes that overflow, are zero, or promise more than the file can hold */
    uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    write_idx(bad, 2051, huge, 3, pixels, sizeof pixels, 0);
    expect_fail(bad, lab, IBP_ERR_FORMAT, bad, "overflows");
    uint32_t zero[3] = {N, 0, COLS};
    write_idx(bad, 2051, zero, 3, pixels, sizeof pixels, 0);
    expect_fail(bad, lab, IBP_ERR_FORMAT, bad, "dimension 1 is zero");
    uint32_t many[3] = {1u << 30, 28, 28};
    write_idx(bad, 2051, many, 3, pixels, sizeof pixels, 0);
    expect_fail(bad, lab, IBP_ERR_FORMAT, bad, "header promises 841813590016 bytes of data");
    write_idx(badgz, 2051, many, 3, pixels, sizeof pixels, 1);
    expect_fail(badgz, lab, IBP_ERR_FORMAT, badgz, "more than a");
    /* label out of range: names the record */
    uint8_t badlab[N] = {1, 0, 10};
    write_idx(bad, 2049, dl, 1, badlab, N, 0);
    expect_fail(img, bad, IBP_ERR_FORMAT, bad, "record 2: label 10 outside 0..9");
    /* images vs labels count */
    uint32_t dl4[1] = {N + 1};
    uint8_t lab4[N + 1] = {0, 1, 2, 3};
    write_idx(bad, 2049, dl4, 1, lab4, N + 1, 0);
    expect_fail(img, bad, IBP_ERR_FORMAT, img, "3 images, but");
    /* class count out of range */
    ds = NULL;
    CHECK(ibp_idx_read(img, lab, 0, &ds, &err) == IBP_ERR_ARG && !ds);
    CHECK(ibp_idx_read(img, lab, 257, &ds, &err) == IBP_ERR_ARG && !ds);
    /* with fewer classes, label 9 is out of range */
    CHECK(ibp_idx_read(img, lab, 5, &ds, &err) == IBP_ERR_FORMAT && !ds);
    CHECK(tu_has(err.msg, "record 2: label 9 outside 0..4"));

    tu_cleanup();
    return check_report();
}
