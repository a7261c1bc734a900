/* CIFAR-10 / CIFAR-100 binary readers: values, folders, and broken files. */
#include <stdlib.h>
#include <string.h>

#include "datasets/cifar.h"
#include "datasets/open.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

#define PIX 3072

static uint8_t pixel_of(int sample, int j)
{
    return (uint8_t)(sample * 37 + j * 13 + (j >> 10) * 5);
}

/* Writes count records of global samples first.. with the given label bytes. */
static void write_records(const char *path, int first, int count, int label_bytes,
                          const uint8_t *labels)
{
    size_t rec = (size_t)label_bytes + PIX;
    uint8_t *buf = malloc(rec * (size_t)count);
    for (int r = 0; r < count; r++) {
        uint8_t *p = buf + rec * (size_t)r;
        memcpy(p, labels + label_bytes * r, (size_t)label_bytes);
        for (int j = 0; j < PIX; j++)
            p[label_bytes + j] = pixel_of(first + r, j);
    }
    tu_write(path, buf, rec * (size_t)count, 0);
    free(buf);
}

static int pixels_ok(const struct ibp_dataset *ds, int first)
{
    for (int64_t i = 0; i < ds->n; i++)
        for (int j = 0; j < PIX; j++)
            if (ds->pixels[i * PIX + j] != pixel_of(first + (int)i, j))
                return 0;
    return 1;
}

static void expect_fail(enum ibp_status st, struct ibp_dataset *ds, const struct ibp_error *err,
                        enum ibp_status want, const char *n1, const char *n2)
{
    CHECK_MSG(st == want, "status %d, want %d: %s", (int)st, (int)want, err->msg);
    CHECK(ds == NULL);
    CHECK_MSG(tu_has(err->msg, n1) && tu_has(err->msg, n2), "\"%s\" lacks \"%s\" or \"%s\"",
              err->msg, n1, n2);
}

int main(void)
{
    tu_init();
    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_dataset *ds = NULL;

    /* CIFAR-10: two files read in order */
    const uint8_t lab_a[3] = {3, 9, 0}, lab_b[2] = {7, 1};
    write_records(tu_path("a.bin"), 0, 3, 1, lab_a);
    write_records(tu_path("b.bin"), 3, 2, 1, lab_b);
    const char *files[2] = {tu_path("a.bin"), tu_path("b.bin")};
    CHECK_OK(ibp_cifar_read_files(files, 2, IBP_CIFAR_LABELS_10, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 5 && ds->c == 3 && ds->h == 32 && ds->w == 32 && ds->n_classes == 10);
        CHECK(pixels_ok(ds, 0));
        const int want[5] = {3, 9, 0, 7, 1};
        for (int i = 0; i < 5; i++)
            CHECK(ds->labels[i] == want[i]);
        CHECK(strcmp(ds->kind, "cifar10") == 0);
        CHECK(strcmp(ds->class_names[0], "airplane") == 0 && strcmp(ds->class_names[9], "truck") == 0);
        CHECK(ds->mean[0] == 0.4914f && ds->mean[1] == 0.4822f && ds->mean[2] == 0.4465f);
        CHECK(ds->std[0] == 0.2023f && ds->std[1] == 0.1994f && ds->std[2] == 0.2010f);
        /* the R plane comes first: pixel (0,0) of G is byte 1024 of the record */
        CHECK(ds->pixels[1024] == pixel_of(0, 1024));
    }
    ibp_dataset_free(ds);
    ds = NULL;

    /* CIFAR-10 folder by split, directly and through ibp_dataset_open */
    tu_mkdir("c10");
    for (int b = 1; b <= 5; b++) {
        char name[64];
        uint8_t l = (uint8_t)b;
        snprintf(name, sizeof name, "c10/data_batch_%d.bin", b);
        write_records(tu_path(name), b - 1, 1, 1, &l);
    }
    write_records(tu_path("c10/test_batch.bin"), 100, 2, 1, lab_b);
    CHECK_OK(ibp_cifar_read_folder(tu_path("c10"), "train", IBP_CIFAR_LABELS_10, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 5 && pixels_ok(ds, 0));
        for (int i = 0; i < 5; i++)
            CHECK(ds->labels[i] == i + 1);
    }
    ibp_dataset_free(ds);
    ds = NULL;
    struct ibp_open_options opt = {.split = "test"};
    CHECK_OK(ibp_dataset_open(tu_path("c10"), &opt, &ds, &err), err);
    if (ds)
        CHECK(ds->n == 2 && pixels_ok(ds, 100) && ds->labels[0] == 7 && ds->labels[1] == 1);
    ibp_dataset_free(ds);
    ds = NULL;
    char spec[600];
    snprintf(spec, sizeof spec, "cifar10:%s,%s", files[1], files[0]);
    CHECK_OK(ibp_dataset_open(spec, NULL, &ds, &err), err);
    if (ds)
        CHECK(ds->n == 5 && ds->labels[0] == 7 && ds->labels[2] == 3);
    ibp_dataset_free(ds);
    ds = NULL;

    /* CIFAR-100: coarse + fine label bytes; fine by default */
    tu_mkdir("c100");
    const uint8_t lab100[6] = {4, 30, 19, 99, 0, 0};
    write_records(tu_path("c100/train.bin"), 0, 3, 2, lab100);
    CHECK_OK(ibp_dataset_open(tu_path("c100"), NULL, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 3 && ds->n_classes == 100 && pixels_ok(ds, 0));
        CHECK(ds->labels[0] == 30 && ds->labels[1] == 99 && ds->labels[2] == 0);
        CHECK(strcmp(ds->kind, "cifar100") == 0);
        CHECK(strcmp(ds->class_names[30], "dolphin") == 0 && strcmp(ds->class_names[99], "worm") == 0);
        CHECK(ds->mean[0] == 0.5071f && ds->std[2] == 0.2762f);
    }
    ibp_dataset_free(ds);
    ds = NULL;
    opt = (struct ibp_open_options){.coarse = 1};
    CHECK_OK(ibp_dataset_open(tu_path("c100"), &opt, &ds, &err), err);
    if (ds) {
        CHECK(ds->n_classes == 20 && ds->labels[0] == 4 && ds->labels[1] == 19 && ds->labels[2] == 0);
        CHECK(strcmp(ds->class_names[19], "vehicles_2") == 0);
    }
    ibp_dataset_free(ds);
    ds = NULL;

    /* broken files */
    enum ibp_status st;
    const char *bad = tu_path("bad.bin");
    write_records(bad, 0, 2, 1, lab_a);
    {
        /* cut the last record short */
        FILE *f = fopen(bad, "rb");
        uint8_t *buf = malloc(2 * 3073);
        size_t len = fread(buf, 1, 2 * 3073, f);
        fclose(f);
        tu_write(bad, buf, len - 100, 0);
        free(buf);
    }
    st = ibp_cifar_read_files(&bad, 1, IBP_CIFAR_LABELS_10, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, bad, "6046 bytes is not a whole number of 3073-byte");
    tu_write(bad, "", 0, 0);
    st = ibp_cifar_read_files(&bad, 1, IBP_CIFAR_LABELS_10, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, bad, "0 bytes");
    const uint8_t lab_bad[3] = {0, 10, 2};
    write_records(bad, 0, 3, 1, lab_bad);
    const char *two[2] = {files[0], bad};
    st = ibp_cifar_read_files(two, 2, IBP_CIFAR_LABELS_10, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, bad, "record 1: label 10 outside 0..9");
    const uint8_t lab100_bad[4] = {1, 2, 3, 100};
    write_records(bad, 0, 2, 2, lab100_bad);
    st = ibp_cifar_read_files(&bad, 1, IBP_CIFAR_LABELS_100_FINE, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, bad, "record 1: fine label 100 outside 0..99");
    const uint8_t lab100_bad2[2] = {20, 2};
    write_records(bad, 0, 1, 2, lab100_bad2);
    st = ibp_cifar_read_files(&bad, 1, IBP_CIFAR_LABELS_100_FINE, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, bad, "record 0: coarse label 20 outside 0..19");
    /* a CIFAR-100 file read as CIFAR-10: 3074-byte records do not divide */
    write_records(bad, 0, 3, 2, lab100);
    st = ibp_cifar_read_files(&bad, 1, IBP_CIFAR_LABELS_10, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_FORMAT, bad, "not a whole number");
    /* a missing batch of a folder */
    remove(tu_path("c10/data_batch_3.bin"));
    st = ibp_cifar_read_folder(tu_path("c10"), "train", IBP_CIFAR_LABELS_10, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_IO, "data_batch_3.bin", "No such file");
    st = ibp_cifar_read_folder(tu_path("c10"), "valid", IBP_CIFAR_LABELS_10, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_ARG, "valid", "train or test");
    st = ibp_cifar_read_files(files, 0, IBP_CIFAR_LABELS_10, &ds, &err);
    expect_fail(st, ds, &err, IBP_ERR_ARG, "", "");

    tu_cleanup();
    return check_report();
}
