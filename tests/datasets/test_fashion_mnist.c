/* The real Fashion-MNIST of Debian's dataset-fashion-mnist: counts, histograms, the known
 * training-set pixel mean. Skipped (exit 77) when the package is not installed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "datasets/open.h"
#include "tests/common/check.h"

int main(void)
{
    const char *dir = IBP_DATASETS_ROOT "/fashion-mnist";
    if (access(dir, R_OK) != 0) {
        printf("SKIP: %s absent (apt install dataset-fashion-mnist)\n", dir);
        return 77;
    }
    struct ibp_error err;
    ibp_error_clear(&err);
    const char *splits[2] = {"train", "test"};
    const int64_t counts[2] = {60000, 10000};
    int64_t total = 0;
    for (int s = 0; s < 2; s++) {
        struct ibp_open_options opt = {.split = splits[s]};
        struct ibp_dataset *ds = NULL;
        CHECK_OK(ibp_dataset_open("fashion-mnist", &opt, &ds, &err), err);
        if (!ds)
            continue;
        total += ds->n;
        CHECK(ds->n == counts[s] && ds->c == 1 && ds->h == 28 && ds->w == 28);
        CHECK(ds->n_classes == 10 && strcmp(ds->kind, "fashion-mnist") == 0);
        CHECK(strcmp(ds->class_names[0], "T-shirt/top") == 0);
        CHECK(ds->mean[0] == 0.0f && ds->std[0] == 1.0f);
        CHECK(ds->labels[0] == 9); /* both splits start with an ankle boot */
        struct ibp_dataset_stats st;
        CHECK_OK(ibp_dataset_stats_compute(ds, &st, &err), err);
        int balanced = 1;
        for (int k = 0; k < 10; k++)
            balanced &= st.histogram[k] == counts[s] / 10;
        CHECK(balanced && st.unlabelled == 0);
        if (s == 0) {
            CHECK_NEAR(st.mean[0], 0.2860, 0.0005);
            CHECK_NEAR(st.std[0], 0.3530, 0.0005);
        }
        printf("%s: %lld images, pixel mean %.4f std %.4f\n", splits[s], (long long)ds->n,
               st.mean[0], st.std[0]);
        ibp_dataset_stats_free(&st);
        ibp_dataset_free(ds);
    }
    CHECK(total == 70000);
    return check_report();
}
