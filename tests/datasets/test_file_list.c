/* The file-list reader (datasets/file_list.h): paths beside the list or absolute, labels,
 * comments and blank lines, and every kind of bad list or bad image, each naming the file
 * and, for the list's own faults, the line. */
#include <stdio.h>
#include <string.h>

#include "datasets/file_list.h"
#include "datasets/png_write.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

enum { H = 3, W = 2 };

static const char *list_path(void)
{
    return tu_path("sub/list.txt");
}

/* The list text fails with want, and a message naming the list or file and holding needle. */
static void expect_fail(const char *text, int n_classes, enum ibp_status want,
                        const char *names, const char *needle)
{
    tu_write(list_path(), text, strlen(text), 0);
    struct ibp_dataset *ds = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_file_list_read(list_path(), n_classes, NULL, &ds, &err);
    CHECK_MSG(st == want && ds == NULL && strstr(err.msg, names) && strstr(err.msg, needle) &&
                  !strchr(err.msg, '\n'),
              "list \"%s\": status %d, message \"%s\", want %d with \"%s\"", text, (int)st,
              err.msg, (int)want, needle);
    ibp_dataset_free(ds);
}

int main(void)
{
    tu_init();
    tu_mkdir("sub");
    tu_mkdir("sub/img");
    struct ibp_error err;
    uint8_t a[H * W] = {0, 1, 2, 3, 4, 5}, b[H * W] = {250, 251, 252, 253, 254, 255};
    uint8_t big[4 * 4] = {0};
    CHECK_OK(ibp_png_write(tu_path("sub/img/a.png"), a, 1, H, W, &err), err);
    CHECK_OK(ibp_png_write(tu_path("b.png"), b, 1, H, W, &err), err);
    CHECK_OK(ibp_png_write(tu_path("sub/img/big.png"), big, 1, 4, 4, &err), err);
    tu_write(tu_path("sub/img/junk.png"), "not a png", 9, 0);

    /* relative to the list's folder, absolute, ".." */
    char text[2048];
    snprintf(text, sizeof text, "img/a.png 7\n%s 0\n# comment\n   \n../b.png 9", tu_path("b.png"));
    tu_write(list_path(), text, strlen(text), 0);
    struct ibp_dataset *ds = NULL;
    CHECK_OK(ibp_file_list_read(list_path(), 10, NULL, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 3 && ds->c == 1 && ds->h == H && ds->w == W && ds->n_classes == 10);
        CHECK(ds->labels[0] == 7 && ds->labels[1] == 0 && ds->labels[2] == 9);
        CHECK(memcmp(ds->pixels, a, sizeof a) == 0 && memcmp(ds->pixels + H * W, b, sizeof b) == 0 &&
              memcmp(ds->pixels + 2 * H * W, b, sizeof b) == 0);
        CHECK(strcmp(ds->kind, "list") == 0 && strcmp(ds->class_names[7], "7") == 0);
    }
    ibp_dataset_free(ds);

    expect_fail("img/a.png 1\nimg/a.png\n", 10, IBP_ERR_FORMAT, "list.txt",
                "line 2: want PATH LABEL, got \"img/a.png\"");
    expect_fail("img/a.png x1\n", 10, IBP_ERR_FORMAT, "list.txt", "line 1: label: 'x1' is not");
    expect_fail("img/a.png 1.5\n", 10, IBP_ERR_FORMAT, "list.txt", "line 1: label");
    expect_fail("\n\nimg/a.png 10\n", 10, IBP_ERR_FORMAT, "list.txt",
                "line 3: label: 10 is outside [0, 9]");
    expect_fail("img/a.png -1\n", 10, IBP_ERR_FORMAT, "list.txt", "line 1: label");
    expect_fail("# nothing\n\n", 10, IBP_ERR_FORMAT, "list.txt", "no images listed");
    expect_fail("img/a.png 0\nimg/none.png 1\n", 10, IBP_ERR_IO, "img/none.png", "none.png");
    expect_fail("img/a.png 0\nimg/big.png 1\n", 10, IBP_ERR_SHAPE, "img/big.png", "big.png");
    expect_fail("img/junk.png 0\n", 10, IBP_ERR_FORMAT, "img/junk.png", "junk.png");
    expect_fail("img/a.png 0\n", 0, IBP_ERR_ARG, "list.txt", "0 classes");
    tu_write(list_path(), "img/a.png 0\n\0", 13, 0);
    CHECK(ibp_file_list_read(list_path(), 10, NULL, &ds, &err) == IBP_ERR_FORMAT &&
          strstr(err.msg, "line 2: a NUL byte"));
    CHECK(ibp_file_list_read(tu_path("nope.txt"), 10, NULL, &ds, &err) == IBP_ERR_IO &&
          strstr(err.msg, "nope.txt"));

    tu_cleanup();
    return check_report();
}
