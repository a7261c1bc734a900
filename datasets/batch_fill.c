/* Copying samples into float batches, with the training augmentation. */
#include "datasets/batch.h"

#include "nets/base/rng.h"

/* The augmentation stream of (epoch, sample): epoch < 2^31 keeps the top bit clear, which
 * separates these streams from the shuffling streams (top bit set, batch.c). */
static uint64_t augment_stream(int64_t epoch, int32_t idx)
{
    return (uint64_t)epoch << 32 | (uint32_t)idx;
}

/* dst[c][h][w] from src[c][h][w] flipped (flip) and shifted by (dy, dx) - pad, with the
 * border filled per mode; lut[p] = p/255. A row splits into a left border, a run of
 * source pixels (forward, or backward when flipped) and a right border. */
static void augment_one(const uint8_t *src, int c, int h, int w, int flip, int dy, int dx,
                        int pad, enum ibp_pad_mode mode, const float *lut, float *dst)
{
    int shift = dx - pad;                        /* output x reads padded column x + shift */
    int x0 = shift < 0 ? -shift : 0;             /* first x with a source column >= 0 */
    int x1 = shift > 0 ? w - shift : w;          /* end of the x with a source column < w */
    for (int k = 0; k < c; k++) {
        const uint8_t *plane = src + (int64_t)k * h * w;
        for (int y = 0; y < h; y++) {
            int sy = y + dy - pad;
            float *out = dst + ((int64_t)k * h + y) * w;
            if (mode == IBP_PAD_ZERO && (sy < 0 || sy >= h)) {
                for (int x = 0; x < w; x++)
                    out[x] = 0.0f;
                continue;
            }
            const uint8_t *row = plane + (int64_t)(sy < 0 ? 0 : sy >= h ? h - 1 : sy) * w;
            /* padding the flipped image = flipping the padded one: the left border
             * replicates the flipped image's column 0, i.e. the source's column w-1 */
            float left = mode == IBP_PAD_ZERO ? 0.0f : lut[row[flip ? w - 1 : 0]];
            float right = mode == IBP_PAD_ZERO ? 0.0f : lut[row[flip ? 0 : w - 1]];
            for (int x = 0; x < x0; x++)
                out[x] = left;
            if (flip)
                for (int x = x0; x < x1; x++)
                    out[x] = lut[row[w - 1 - (x + shift)]];
            else
                for (int x = x0; x < x1; x++)
                    out[x] = lut[row[x + shift]];
            for (int x = x1; x < w; x++)
                out[x] = right;
        }
    }
}

void ibp_batch_fill(const struct ibp_dataset *ds, const int32_t *idx, int64_t count,
                    const struct ibp_augment *aug, uint64_t seed, int64_t epoch, float *x,
                    int32_t *labels)
{
    int64_t size = ibp_dataset_sample_size(ds);
    int augmenting = aug && (aug->flip || aug->crop_pad > 0);
    float lut[256];
    for (int p = 0; p < 256; p++)
        lut[p] = (float)p / 255.0f;
    /* Serial on purpose: one thread fills a CIFAR batch of 256 in well under a millisecond
     * (tests/datasets/bench_datasets), far below a training step, and an OpenMP team here
     * competes with the BLIS threads of the step (10x slower on a loaded 2-core machine).
     * Each sample's randomness depends only on (seed, epoch, index), so a parallel split
     * would give the same batch. */
    for (int64_t i = 0; i < count; i++) {
        const uint8_t *src = ibp_dataset_sample(ds, idx[i]);
        float *dst = x + i * size;
        if (!augmenting) {
            for (int64_t j = 0; j < size; j++)
                dst[j] = (float)src[j] / 255.0f;
            continue;
        }
        struct ibp_rng rng;
        ibp_rng_seed(&rng, seed, augment_stream(epoch, idx[i]));
        int flip = aug->flip ? (int)ibp_rng_below(&rng, 2) : 0;
        int dy = 0, dx = 0;
        if (aug->crop_pad > 0) {
            dy = (int)ibp_rng_below(&rng, 2 * (uint64_t)aug->crop_pad + 1);
            dx = (int)ibp_rng_below(&rng, 2 * (uint64_t)aug->crop_pad + 1);
        }
        augment_one(src, ds->c, ds->h, ds->w, flip, dy, dx, aug->crop_pad, aug->pad_mode, lut,
                    dst);
    }
    if (labels)
        for (int64_t i = 0; i < count; i++)
            labels[i] = ds->labels[idx[i]];
}
