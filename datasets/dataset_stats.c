#include "datasets/dataset.h"

#include <math.h>
#include <stdlib.h>

enum ibp_status ibp_dataset_stats_compute(const struct ibp_dataset *ds,
                                          struct ibp_dataset_stats *stats,
                                          struct ibp_error *err)
{
    int64_t *hist = calloc(ds->n_classes > 0 ? (size_t)ds->n_classes : 1, sizeof *hist);
    if (!hist)
        return ibp_fail(err, IBP_ERR_NOMEM, "dataset statistics: out of memory");
    int64_t unlabelled = 0;
    for (int64_t i = 0; i < ds->n; i++) {
        if (ds->labels[i] >= 0 && ds->labels[i] < ds->n_classes)
            hist[ds->labels[i]]++;
        else
            unlabelled++;
    }
    int64_t plane = (int64_t)ds->h * ds->w;
    for (int ch = 0; ch < ds->c; ch++) {
        /* exact integer sums: 255^2 * 2^40 pixels still fits in 64 bits */
        uint64_t sum = 0, sumsq = 0;
        int64_t n = ds->n;
        const uint8_t *px = ds->pixels;
        int64_t c = ds->c;
#pragma omp parallel for reduction(+ : sum, sumsq) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *p = px + (i * c + ch) * plane;
            uint64_t s = 0, q = 0;
            for (int64_t j = 0; j < plane; j++) {
                s += p[j];
                q += (uint64_t)p[j] * p[j];
            }
            sum += s;
            sumsq += q;
        }
        double count = (double)ds->n * (double)plane;
        double mean = (double)sum / count;
        double var = (double)sumsq / count - mean * mean;
        stats->mean[ch] = mean / 255.0;
        stats->std[ch] = sqrt(var > 0.0 ? var : 0.0) / 255.0;
    }
    for (int ch = ds->c; ch < IBP_DATASET_MAX_CHANNELS; ch++)
        stats->mean[ch] = stats->std[ch] = 0.0;
    stats->histogram = hist;
    stats->unlabelled = unlabelled;
    return IBP_OK;
}

void ibp_dataset_stats_free(struct ibp_dataset_stats *stats)
{
    free(stats->histogram);
    stats->histogram = NULL;
}
