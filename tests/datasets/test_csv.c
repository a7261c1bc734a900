/* ERAN-style CSV reader: values, line endings, and every kind of bad row. */
#include <string.h>

#include "datasets/csv.h"
#include "datasets/open.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

static void put(const char *path, const char *text)
{
    tu_write(path, text, strlen(text), 0);
}

/* Reading text as 1x2x3 images fails with want and a message holding the path and needle. */
static void expect_fail(const char *text, enum ibp_status want, const char *needle)
{
    const char *path = tu_path("bad.csv");
    put(path, text);
    struct ibp_dataset *ds = NULL;
    struct ibp_error err;
    ibp_error_clear(&err);
    enum ibp_status st = ibp_csv_read(path, 1, 2, 3, 10, &ds, &err);
    CHECK_MSG(st == want, "status %d, want %d: %s", (int)st, (int)want, err.msg);
    CHECK(ds == NULL);
    CHECK_MSG(tu_has(err.msg, path) && tu_has(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg,
              needle);
}

int main(void)
{
    tu_init();
    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_dataset *ds = NULL;
    const char *good = tu_path("good.csv");

    /* CRLF on one line, no newline after the last, gray pixels row-major */
    put(good, "7,0,1,2,3,4,255\r\n0,10,20,30,40,50,60\n9,255,254,0,0,1,2");
    CHECK_OK(ibp_csv_read(good, 1, 2, 3, 10, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 3 && ds->c == 1 && ds->h == 2 && ds->w == 3 && ds->n_classes == 10);
        CHECK(ds->labels[0] == 7 && ds->labels[1] == 0 && ds->labels[2] == 9);
        const uint8_t want[18] = {0, 1, 2, 3, 4, 255, 10, 20, 30, 40, 50, 60, 255, 254, 0, 0, 1, 2};
        CHECK(memcmp(ds->pixels, want, 18) == 0);
        CHECK(strcmp(ds->kind, "csv") == 0 && ds->mean[0] == 0.0f && ds->std[0] == 1.0f);
    }
    ibp_dataset_free(ds);
    ds = NULL;
    /* trailing empty lines are fine; shape through the open options */
    put(good, "1,1,2,3,4,5,6\n2,6,5,4,3,2,1\n\n\n");
    struct ibp_open_options opt = {.c = 3, .h = 1, .w = 2, .n_classes = 3};
    char spec[600];
    snprintf(spec, sizeof spec, "csv:%s", good);
    CHECK_OK(ibp_dataset_open(spec, &opt, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 2 && ds->c == 3 && ds->h == 1 && ds->w == 2 && ds->n_classes == 3);
        /* each pixel's channels together in the file, planar in the dataset */
        const uint8_t want[12] = {1, 4, 2, 5, 3, 6, 6, 3, 5, 2, 4, 1};
        CHECK(memcmp(ds->pixels, want, sizeof want) == 0);
        CHECK(ds->labels[1] == 2);
    }
    ibp_dataset_free(ds);
    ds = NULL;

    expect_fail("1,1,2,3,4,5,6\n2,1,2,3,4,5\n", IBP_ERR_FORMAT, "row 2: 6 fields, expected 7");
    expect_fail("1,1,2,3,4,5,6,7\n", IBP_ERR_FORMAT, "row 1: 8 fields, expected 7");
    expect_fail("1,1,2,3,4,5,6\n1,1,2,256,4,5,6\n", IBP_ERR_FORMAT,
                "row 2, field 3: value 256 outside 0..255");
    expect_fail("1,1,2,3,4,5,-1\n", IBP_ERR_FORMAT, "row 1, field 6: value -1 outside 0..255");
    expect_fail("1,1,2,3.5,4,5,6\n", IBP_ERR_FORMAT, "row 1, field 3: \"3.5\" is not an integer");
    expect_fail("1,1,2, 3,4,5,6\n", IBP_ERR_FORMAT, "row 1, field 3: \" 3\" is not an integer");
    expect_fail("1,1,2,+3,4,5,6\n", IBP_ERR_FORMAT, "field 3: \"+3\" is not an integer");
    expect_fail("1,1,2,,4,5,6\n", IBP_ERR_FORMAT, "row 1, field 3: \"\" is not an integer");
    expect_fail("1,1,2,3,4,5,\n", IBP_ERR_FORMAT, "row 1, field 6: \"\" is not an integer");
    expect_fail("1,1,2,x,4,5,6\n", IBP_ERR_FORMAT, "field 3: \"x\" is not an integer");
    expect_fail("1,1,2,99999999999999999999,4,5,6\n", IBP_ERR_FORMAT, "is not an integer");
    expect_fail("10,1,2,3,4,5,6\n", IBP_ERR_FORMAT, "row 1: label 10 outside 0..9");
    expect_fail("a,1,2,3,4,5,6\n", IBP_ERR_FORMAT, "row 1, field 0: \"a\" is not an integer");
    expect_fail("1,1,2,3,4,5,6\n\n1,1,2,3,4,5,6\n", IBP_ERR_FORMAT, "row 2: empty line");
    expect_fail("", IBP_ERR_FORMAT, "no rows");
    expect_fail("\n\n", IBP_ERR_FORMAT, "no rows");

    CHECK(ibp_csv_read(tu_path("missing.csv"), 1, 2, 3, 10, &ds, &err) == IBP_ERR_IO && !ds);
    CHECK(tu_has(err.msg, "missing.csv"));
    CHECK(ibp_csv_read(good, 0, 2, 3, 10, &ds, &err) == IBP_ERR_ARG && !ds);
    CHECK(ibp_csv_read(good, 1, 2, 3, 0, &ds, &err) == IBP_ERR_ARG && !ds);

    tu_cleanup();
    return check_report();
}
