/* Subsets of a dataset (copies) and the index-list syntax of the programs' --indices. */
#include "datasets/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "nets/base/parse.h"

enum ibp_status ibp_dataset_pick(const struct ibp_dataset *ds, const int64_t *idx,
                                 int64_t count, struct ibp_dataset **out,
                                 struct ibp_error *err)
{
    if (count < 1)
        return ibp_fail(err, IBP_ERR_ARG, "subset of %lld samples: need at least 1",
                        (long long)count);
    for (int64_t i = 0; i < count; i++)
        if (idx[i] < 0 || idx[i] >= ds->n)
            return ibp_fail(err, IBP_ERR_ARG,
                            "subset entry %lld: index %lld outside 0..%lld (dataset has %lld samples)",
                            (long long)i, (long long)idx[i], (long long)ds->n - 1,
                            (long long)ds->n);
    struct ibp_dataset *sub;
    enum ibp_status st = ibp_dataset_create(count, ds->c, ds->h, ds->w, ds->n_classes, &sub, err);
    if (st)
        return st;
    for (int k = 0; k < ds->n_classes; k++) {
        st = ibp_dataset_set_class_name(sub, k, ds->class_names[k], err);
        if (st) {
            ibp_dataset_free(sub);
            return st;
        }
    }
    int64_t size = ibp_dataset_sample_size(ds);
    for (int64_t i = 0; i < count; i++) {
        memcpy(sub->pixels + i * size, ibp_dataset_sample(ds, idx[i]), (size_t)size);
        sub->labels[i] = ds->labels[idx[i]];
    }
    memcpy(sub->mean, ds->mean, sizeof sub->mean);
    memcpy(sub->std, ds->std, sizeof sub->std);
    memcpy(sub->kind, ds->kind, sizeof sub->kind);
    *out = sub;
    return IBP_OK;
}

enum ibp_status ibp_dataset_range(const struct ibp_dataset *ds, int64_t start, int64_t count,
                                  struct ibp_dataset **out, struct ibp_error *err)
{
    if (start < 0 || start >= ds->n)
        return ibp_fail(err, IBP_ERR_ARG, "start %lld outside 0..%lld (dataset has %lld samples)",
                        (long long)start, (long long)ds->n - 1, (long long)ds->n);
    if (count == -1)
        count = ds->n - start;
    if (count < 1)
        return ibp_fail(err, IBP_ERR_ARG, "count %lld: need at least 1", (long long)count);
    if (count > ds->n - start)
        return ibp_fail(err, IBP_ERR_ARG,
                        "start %lld + count %lld exceeds the %lld samples of the dataset",
                        (long long)start, (long long)count, (long long)ds->n);
    int64_t *idx = malloc((size_t)count * sizeof *idx);
    if (!idx)
        return ibp_fail(err, IBP_ERR_NOMEM, "subset: out of memory");
    for (int64_t i = 0; i < count; i++)
        idx[i] = start + i;
    enum ibp_status st = ibp_dataset_pick(ds, idx, count, out, err);
    free(idx);
    return st;
}

enum ibp_status ibp_indices_parse(const char *text, int64_t limit, int64_t **idx,
                                  int64_t *count, struct ibp_error *err)
{
    /* first pass validates and counts, second fills */
    int64_t n = 0;
    int64_t *out = NULL;
    for (int pass = 0; pass < 2; pass++) {
        const char *s = text;
        int64_t k = 0;
        for (;;) {
            const char *item = s;
            int64_t a, b;
            if (ibp_scan_index(&s, &a))
                goto bad;
            b = a;
            if (*s == '-') {
                s++;
                if (ibp_scan_index(&s, &b) || b < a)
                    goto bad;
            }
            if (*s != ',' && *s != '\0')
                goto bad;
            if (b >= limit) {
                free(out);
                return ibp_fail(err, IBP_ERR_ARG, "index list: %lld outside 0..%lld",
                                (long long)b, (long long)limit - 1);
            }
            if (pass == 0 && b - a + 1 > INT32_MAX - k)
                return ibp_fail(err, IBP_ERR_ARG, "index list: more than %d indices", INT32_MAX);
            for (int64_t v = a; v <= b; v++, k++)
                if (pass == 1)
                    out[k] = v;
            if (*s == '\0')
                break;
            s++;
            continue;
        bad:
            free(out);
            return ibp_fail(err, IBP_ERR_ARG,
                            "index list \"%s\": bad item at \"%.20s\" (want N or N-M, comma-separated)",
                            text, item);
        }
        if (pass == 0) {
            n = k;
            out = malloc((size_t)n * sizeof *out);
            if (!out)
                return ibp_fail(err, IBP_ERR_NOMEM, "index list: out of memory");
        }
    }
    *idx = out;
    *count = n;
    return IBP_OK;
}
