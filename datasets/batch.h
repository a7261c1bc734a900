/* batch.h — turning a dataset into float32 batches: deterministic shuffling, resumable
 * iteration, optional drop-last, and training augmentation.
 *
 * Batches are pixel space: x[b][c][h][w] = pixel/255 in [0,1] (float division, as
 * PyTorch's ToTensor), not normalised — networks start with their own Normalize layer,
 * and box.h builds the ε box from these values.
 *
 * Reproducibility: the order of epoch e is a function of (seed, e) alone, and the
 * augmentation of a sample of epoch e a function of (seed, e, sample index in the
 * dataset) alone. So an iteration resumed at batch k of epoch e yields exactly the batches
 * an uninterrupted run would, on any thread count. Epochs are numbered by the caller from
 * any base, 0..IBP_EPOCH_MAX. */
#ifndef IBP_DATASETS_BATCH_H
#define IBP_DATASETS_BATCH_H

#include <stdint.h>

#include "datasets/dataset.h"

#define IBP_EPOCH_MAX INT64_C(0x7fffffff)

/* How a random crop fills the border it pads with. */
enum ibp_pad_mode {
    IBP_PAD_EDGE = 0, /* replicate the nearest edge pixel (SPEC §4 "edge padding";
                         torchvision RandomCrop(padding_mode="edge")); the default */
    IBP_PAD_ZERO = 1, /* fill with 0 (torchvision's default padding_mode="constant") */
};

/* Training augmentation, applied per sample: first a horizontal flip with probability 1/2
 * (when flip), then a crop of the original size from the image padded by crop_pad pixels
 * on every side, at an offset uniform in 0..2·crop_pad in each direction (when
 * crop_pad > 0). SPEC §4 for CIFAR-10: flip = 1, crop_pad = 2, IBP_PAD_EDGE.
 * All zeros = no augmentation. */
struct ibp_augment {
    int flip;
    int crop_pad;
    enum ibp_pad_mode pad_mode;
};

struct ibp_batch_options {
    int64_t batch_size;         /* >= 1 */
    int shuffle;                /* non-zero: a new permutation every epoch */
    uint64_t seed;              /* seeds shuffling and augmentation */
    int drop_last;              /* non-zero: skip the last batch when it is not full */
    struct ibp_augment augment; /* zeros: none */
};

/* Writes the sample order of epoch into order[0..n): a permutation of 0..n-1 drawn from
 * (seed, epoch) by Fisher–Yates with nets/base/rng.h. n <= INT32_MAX, 0 <= epoch <=
 * IBP_EPOCH_MAX (not checked here; ibp_batcher_start checks). */
void ibp_shuffle_order(int64_t n, uint64_t seed, int64_t epoch, int32_t *order);

/* Fills x[count][c][h][w] and labels[count] (labels may be NULL) with the samples
 * idx[0..count) of ds, augmented by aug (NULL or zeros: none) with randomness from
 * (seed, epoch, idx[i]). Indices must be in 0..n-1 (not checked). The result does not
 * depend on the thread count or on where a sample sits in idx. */
void ibp_batch_fill(const struct ibp_dataset *ds, const int32_t *idx, int64_t count,
                    const struct ibp_augment *aug, uint64_t seed, int64_t epoch, float *x,
                    int32_t *labels);

/* An iterator over one dataset; it borrows ds, which must outlive it. One batcher serves
 * one consumer; several batchers may share a dataset. */
struct ibp_batcher;

/* Creates a batcher positioned at the start of epoch 0. *out is set only on success; free
 * with ibp_batcher_free. Errors: IBP_ERR_ARG for batch_size < 1, a negative crop_pad or
 * one not smaller than the image, an unknown pad mode, more than INT32_MAX samples, or
 * drop_last with fewer samples than one batch; IBP_ERR_NOMEM. */
enum ibp_status ibp_batcher_create(const struct ibp_dataset *ds,
                                   const struct ibp_batch_options *opt,
                                   struct ibp_batcher **out, struct ibp_error *err);

/* Frees b; NULL is a no-op. */
void ibp_batcher_free(struct ibp_batcher *b);

/* Batches per epoch: ceil(n / batch_size), or floor with drop_last. */
int64_t ibp_batcher_batches(const struct ibp_batcher *b);

/* Positions b at batch `batch` (0-based) of epoch `epoch` (for resuming: the following
 * batches equal those of an iteration started at batch 0). batch == ibp_batcher_batches()
 * is allowed and ends the epoch at once. Errors: IBP_ERR_ARG for epoch outside
 * 0..IBP_EPOCH_MAX or batch outside 0..batches. */
enum ibp_status ibp_batcher_start(struct ibp_batcher *b, int64_t epoch, int64_t batch,
                                  struct ibp_error *err);

/* Fills the next batch of the current epoch into x[B][c][h][w] and labels[B] (buffers of
 * at least batch_size samples; labels may be NULL) and returns its size B: batch_size,
 * less for the last batch without drop_last, 0 when the epoch is over (then call
 * ibp_batcher_start for the next one). Allocates nothing. */
int64_t ibp_batcher_next(struct ibp_batcher *b, float *x, int32_t *labels);

/* The dataset indices of the batch last returned by ibp_batcher_next ([B], owned by b,
 * valid until the next call of ibp_batcher_next or ibp_batcher_start), e.g. to report which
 * samples a batch held; NULL when that call returned 0 or none was made. */
const int32_t *ibp_batcher_indices(const struct ibp_batcher *b);

#endif
