/* Dataset creation, subsets, index lists and statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "tests/common/check.h"

int main(void)
{
    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_dataset *ds = NULL;
    CHECK_OK(ibp_dataset_create(6, 2, 1, 3, 4, &ds, &err), err);
    if (!ds)
        return check_report();
    CHECK(ds->n == 6 && ds->c == 2 && ds->h == 1 && ds->w == 3 && ds->n_classes == 4);
    CHECK(strcmp(ds->class_names[3], "3") == 0 && strcmp(ds->kind, "custom") == 0);
    CHECK(ds->mean[1] == 0.0f && ds->std[1] == 1.0f);
    for (int i = 0; i < 36; i++)
        ds->pixels[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 6; i++)
        ds->labels[i] = i % 4;
    CHECK_OK(ibp_dataset_set_class_name(ds, 2, "bird", &err), err);
    CHECK(ibp_dataset_set_class_name(ds, 4, "x", &err) == IBP_ERR_ARG);
    ds->mean[0] = 0.5f;
    ibp_dataset_set_kind(ds, "test");
    CHECK(ibp_dataset_sample_size(ds) == 6 && ibp_dataset_sample(ds, 2) == ds->pixels + 12);

    /* ranges */
    struct ibp_dataset *sub = NULL;
    CHECK_OK(ibp_dataset_range(ds, 2, 3, &sub, &err), err);
    if (sub) {
        CHECK(sub->n == 3 && memcmp(sub->pixels, ds->pixels + 12, 18) == 0);
        CHECK(sub->labels[0] == 2 && sub->labels[2] == 0);
        CHECK(strcmp(sub->class_names[2], "bird") == 0 && sub->mean[0] == 0.5f);
        CHECK(strcmp(sub->kind, "test") == 0);
    }
    ibp_dataset_free(sub);
    sub = NULL;
    CHECK_OK(ibp_dataset_range(ds, 4, -1, &sub, &err), err);
    CHECK(sub && sub->n == 2);
    ibp_dataset_free(sub);
    sub = NULL;
    CHECK(ibp_dataset_range(ds, 2, 5, &sub, &err) == IBP_ERR_ARG && !sub);
    CHECK(strstr(err.msg, "start 2 + count 5 exceeds the 6 samples") != NULL);
    CHECK(ibp_dataset_range(ds, 0, 7, &sub, &err) == IBP_ERR_ARG && !sub);
    CHECK(ibp_dataset_range(ds, 6, 1, &sub, &err) == IBP_ERR_ARG && !sub);
    CHECK(ibp_dataset_range(ds, -1, 1, &sub, &err) == IBP_ERR_ARG && !sub);
    CHECK(ibp_dataset_range(ds, 0, 0, &sub, &err) == IBP_ERR_ARG && !sub);

    /* index lists */
    int64_t *idx = NULL, n = 0;
    CHECK_OK(ibp_indices_parse("5,0,2-4,2", 6, &idx, &n, &err), err);
    const int64_t want[6] = {5, 0, 2, 3, 4, 2};
    CHECK(n == 6 && idx && memcmp(idx, want, sizeof want) == 0);
    CHECK_OK(ibp_dataset_pick(ds, idx, n, &sub, &err), err);
    if (sub) {
        CHECK(sub->n == 6 && sub->labels[0] == 1 && sub->labels[1] == 0);
        CHECK(memcmp(sub->pixels, ds->pixels + 30, 6) == 0 &&
              memcmp(sub->pixels + 30, ds->pixels + 12, 6) == 0);
    }
    ibp_dataset_free(sub);
    sub = NULL;
    free(idx);
    const char *bad[] = {"", "1,", ",1", "1-", "3-1", "a", "1;2", "-1", "1 ,2", "6", "0-6"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        idx = NULL;
        CHECK_MSG(ibp_indices_parse(bad[i], 6, &idx, &n, &err) == IBP_ERR_ARG && !idx, "%s",
                  bad[i]);
    }
    CHECK(ibp_indices_parse("0-6", 6, &idx, &n, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "6 outside 0..5") != NULL);
    const int64_t out_of_range[2] = {1, 6};
    CHECK(ibp_dataset_pick(ds, out_of_range, 2, &sub, &err) == IBP_ERR_ARG && !sub);
    CHECK(strstr(err.msg, "entry 1: index 6") != NULL);

    /* statistics: histogram and per-channel mean/std against doubles */
    ds->labels[5] = -1;
    struct ibp_dataset_stats st;
    CHECK_OK(ibp_dataset_stats_compute(ds, &st, &err), err);
    /* labels 0 1 2 3 0 -1 */
    CHECK(st.histogram[0] == 2 && st.histogram[1] == 1 && st.histogram[2] == 1 &&
          st.histogram[3] == 1 && st.unlabelled == 1);
    for (int ch = 0; ch < 2; ch++) {
        double s = 0, q = 0;
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 3; j++) {
                double v = ds->pixels[(i * 2 + ch) * 3 + j] / 255.0;
                s += v;
                q += v * v;
            }
        double m = s / 18, sd = sqrt(q / 18 - m * m);
        CHECK_NEAR(st.mean[ch], m, 1e-12);
        CHECK_NEAR(st.std[ch], sd, 1e-9);
    }
    ibp_dataset_stats_free(&st);
    ibp_dataset_free(ds);

    /* creation errors */
    ds = NULL;
    CHECK(ibp_dataset_create(0, 1, 1, 1, 1, &ds, &err) == IBP_ERR_ARG && !ds);
    CHECK(ibp_dataset_create(1, 5, 1, 1, 1, &ds, &err) == IBP_ERR_ARG && !ds);
    CHECK(ibp_dataset_create(1, 1, 0, 1, 1, &ds, &err) == IBP_ERR_ARG && !ds);
    CHECK(ibp_dataset_create(1, 1, 1, 1, -1, &ds, &err) == IBP_ERR_ARG && !ds);
    CHECK(ibp_dataset_create(INT64_MAX / 2, 4, 1 << 20, 1 << 20, 1, &ds, &err) == IBP_ERR_ARG && !ds);
    ibp_dataset_free(NULL);
    return check_report();
}
