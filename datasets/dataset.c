#include "datasets/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ibp_status ibp_dataset_create(int64_t n, int c, int h, int w, int n_classes,
                                   struct ibp_dataset **out, struct ibp_error *err)
{
    if (n < 1 || c < 1 || c > IBP_DATASET_MAX_CHANNELS || h < 1 || w < 1 || n_classes < 0)
        return ibp_fail(err, IBP_ERR_ARG,
                        "dataset of %lld samples, shape %dx%dx%d, %d classes: invalid",
                        (long long)n, c, h, w, n_classes);
    /* n*c*h*w must fit in int64 and size_t: check against the smaller limit */
    int64_t per = (int64_t)c * h * w; /* c <= 4 and h, w < 2^31: fits in 64 bits */
    int64_t limit = (int64_t)(SIZE_MAX / 2 < INT64_MAX ? SIZE_MAX / 2 : INT64_MAX);
    if (per > limit || n > limit / per || n > limit / (int64_t)sizeof(int32_t))
        return ibp_fail(err, IBP_ERR_ARG, "dataset of %lld samples of %dx%dx%d: too large",
                        (long long)n, c, h, w);

    struct ibp_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return ibp_fail(err, IBP_ERR_NOMEM, "dataset: out of memory");
    ds->n = n;
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->pixels = calloc((size_t)(n * per), 1);
    ds->labels = calloc((size_t)n, sizeof *ds->labels);
    ds->class_names = calloc(n_classes > 0 ? (size_t)n_classes : 1, sizeof *ds->class_names);
    if (!ds->pixels || !ds->labels || !ds->class_names) {
        ibp_dataset_free(ds);
        return ibp_fail(err, IBP_ERR_NOMEM, "dataset of %lld samples of %dx%dx%d: out of memory",
                        (long long)n, c, h, w);
    }
    ds->n_classes = n_classes;
    for (int k = 0; k < n_classes; k++) {
        char name[16];
        snprintf(name, sizeof name, "%d", k);
        ds->class_names[k] = strdup(name);
        if (!ds->class_names[k]) {
            ibp_dataset_free(ds);
            return ibp_fail(err, IBP_ERR_NOMEM, "dataset: out of memory");
        }
    }
    for (int i = 0; i < IBP_DATASET_MAX_CHANNELS; i++) {
        ds->mean[i] = 0.0f;
        ds->std[i] = 1.0f;
    }
    ibp_dataset_set_kind(ds, "custom");
    *out = ds;
    return IBP_OK;
}

void ibp_dataset_free(struct ibp_dataset *ds)
{
    if (!ds)
        return;
    if (ds->class_names)
        for (int k = 0; k < ds->n_classes; k++)
            free(ds->class_names[k]);
    free(ds->class_names);
    free(ds->labels);
    free(ds->pixels);
    free(ds);
}

enum ibp_status ibp_dataset_set_class_name(struct ibp_dataset *ds, int k, const char *name,
                                           struct ibp_error *err)
{
    if (k < 0 || k >= ds->n_classes)
        return ibp_fail(err, IBP_ERR_ARG, "class %d outside 0..%d", k, ds->n_classes - 1);
    char *copy = strdup(name);
    if (!copy)
        return ibp_fail(err, IBP_ERR_NOMEM, "class name: out of memory");
    free(ds->class_names[k]);
    ds->class_names[k] = copy;
    return IBP_OK;
}

void ibp_dataset_set_kind(struct ibp_dataset *ds, const char *kind)
{
    snprintf(ds->kind, sizeof ds->kind, "%s", kind);
}

int64_t ibp_dataset_sample_size(const struct ibp_dataset *ds)
{
    return (int64_t)ds->c * ds->h * ds->w;
}

const uint8_t *ibp_dataset_sample(const struct ibp_dataset *ds, int64_t i)
{
    return ds->pixels + i * ibp_dataset_sample_size(ds);
}
