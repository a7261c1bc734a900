/* The ERAN repository's first 100 MNIST test images (../shared/data/eran-mnist). */
#include <stdio.h>
#include <unistd.h>

#include "datasets/csv.h"
#include "datasets/dataset.h"
#include "tests/common/check.h"
#include "tests/common/test_paths.h"

int main(void)
{
    const char *csv = IBP_TEST_SHARED_DATA "/eran-mnist/mnist_test.csv";
    if (access(csv, R_OK) != 0) {
        printf("SKIP: %s not present\n", csv);
        return 77;
    }
    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_dataset *ds = NULL;
    CHECK_OK(ibp_csv_read(csv, 1, 28, 28, 10, &ds, &err), err);
    if (ds) {
        CHECK(ds->n == 100 && ds->c == 1 && ds->h == 28 && ds->w == 28);
        CHECK(ds->labels[0] == 7 && ds->labels[1] == 2 && ds->labels[2] == 1 && ds->labels[3] == 0);
        struct ibp_dataset_stats st;
        CHECK_OK(ibp_dataset_stats_compute(ds, &st, &err), err);
        int64_t total = 0;
        for (int k = 0; k < 10; k++)
            total += st.histogram[k];
        CHECK(total == 100 && st.unlabelled == 0);
        /* MNIST digits: mostly black background, mean pixel near 0.13 */
        CHECK(st.mean[0] > 0.08 && st.mean[0] < 0.18);
        /* the first image (a 7) has ink: its maximum pixel is 255 */
        int maxv = 0;
        for (int j = 0; j < 784; j++)
            maxv = ds->pixels[j] > maxv ? ds->pixels[j] : maxv;
        CHECK(maxv == 255);
        ibp_dataset_stats_free(&st);
    }
    ibp_dataset_free(ds);
    return check_report();
}
