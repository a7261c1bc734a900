/* The epoch order and the resumable batch iterator. */
#include "datasets/batch.h"

#include <stdlib.h>

#include "nets/base/rng.h"

/* Shuffling streams have the top bit set; augmentation streams (batch_fill.c) do not. */
#define SHUFFLE_STREAM (UINT64_C(1) << 63)

struct ibp_batcher {
    const struct ibp_dataset *ds;
    struct ibp_batch_options opt;
    int64_t batches;  /* per epoch */
    int64_t epoch;
    int64_t next;     /* index of the next batch within the epoch */
    int32_t *order;   /* [n] the epoch's sample order */
    int64_t last;     /* size of the batch last returned */
};

void ibp_shuffle_order(int64_t n, uint64_t seed, int64_t epoch, int32_t *order)
{
    for (int64_t i = 0; i < n; i++)
        order[i] = (int32_t)i;
    struct ibp_rng rng;
    ibp_rng_seed(&rng, seed, SHUFFLE_STREAM | (uint64_t)epoch);
    ibp_rng_shuffle(&rng, order, n);
}

enum ibp_status ibp_batcher_create(const struct ibp_dataset *ds,
                                   const struct ibp_batch_options *opt,
                                   struct ibp_batcher **out, struct ibp_error *err)
{
    const struct ibp_augment *a = &opt->augment;
    if (opt->batch_size < 1)
        return ibp_fail(err, IBP_ERR_ARG, "batch size %lld: must be >= 1",
                        (long long)opt->batch_size);
    if (a->crop_pad < 0 || a->crop_pad >= ds->h || a->crop_pad >= ds->w)
        return ibp_fail(err, IBP_ERR_ARG, "crop padding %d: must be 0..%d for %dx%d images",
                        a->crop_pad, (ds->h < ds->w ? ds->h : ds->w) - 1, ds->h, ds->w);
    if (a->pad_mode != IBP_PAD_EDGE && a->pad_mode != IBP_PAD_ZERO)
        return ibp_fail(err, IBP_ERR_ARG, "padding mode %d: unknown", (int)a->pad_mode);
    if (ds->n > INT32_MAX)
        return ibp_fail(err, IBP_ERR_ARG, "dataset of %lld samples: at most %d can be batched",
                        (long long)ds->n, INT32_MAX);
    if (opt->drop_last && ds->n < opt->batch_size)
        return ibp_fail(err, IBP_ERR_ARG,
                        "batch size %lld with drop-last leaves no batch of %lld samples",
                        (long long)opt->batch_size, (long long)ds->n);
    struct ibp_batcher *b = calloc(1, sizeof *b);
    if (b)
        b->order = malloc((size_t)ds->n * sizeof *b->order);
    if (!b || !b->order) {
        ibp_batcher_free(b);
        return ibp_fail(err, IBP_ERR_NOMEM, "batcher: out of memory");
    }
    b->ds = ds;
    b->opt = *opt;
    b->batches = opt->drop_last ? ds->n / opt->batch_size
                                : (ds->n + opt->batch_size - 1) / opt->batch_size;
    enum ibp_status st = ibp_batcher_start(b, 0, 0, err);
    if (st) {
        ibp_batcher_free(b);
        return st;
    }
    *out = b;
    return IBP_OK;
}

void ibp_batcher_free(struct ibp_batcher *b)
{
    if (!b)
        return;
    free(b->order);
    free(b);
}

int64_t ibp_batcher_batches(const struct ibp_batcher *b)
{
    return b->batches;
}

enum ibp_status ibp_batcher_start(struct ibp_batcher *b, int64_t epoch, int64_t batch,
                                  struct ibp_error *err)
{
    if (epoch < 0 || epoch > IBP_EPOCH_MAX)
        return ibp_fail(err, IBP_ERR_ARG, "epoch %lld outside 0..%lld", (long long)epoch,
                        (long long)IBP_EPOCH_MAX);
    if (batch < 0 || batch > b->batches)
        return ibp_fail(err, IBP_ERR_ARG, "batch %lld outside 0..%lld", (long long)batch,
                        (long long)b->batches);
    if (b->opt.shuffle)
        ibp_shuffle_order(b->ds->n, b->opt.seed, epoch, b->order);
    else
        for (int64_t i = 0; i < b->ds->n; i++)
            b->order[i] = (int32_t)i;
    b->epoch = epoch;
    b->next = batch;
    b->last = 0;
    return IBP_OK;
}

int64_t ibp_batcher_next(struct ibp_batcher *b, float *x, int32_t *labels)
{
    if (b->next >= b->batches) {
        b->last = 0;
        return 0;
    }
    int64_t first = b->next * b->opt.batch_size;
    int64_t count = b->ds->n - first < b->opt.batch_size ? b->ds->n - first : b->opt.batch_size;
    ibp_batch_fill(b->ds, b->order + first, count, &b->opt.augment, b->opt.seed, b->epoch, x,
                   labels);
    b->next++;
    b->last = count;
    return count;
}

const int32_t *ibp_batcher_indices(const struct ibp_batcher *b)
{
    return b->last ? b->order + (b->next - 1) * b->opt.batch_size : NULL;
}
