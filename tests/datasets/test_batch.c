/* Batching: shuffle determinism, resume, drop-last, pixel values, augmentation geometry
 * and its independence from the thread count. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/batch.h"
#include "nets/base/rng.h"
#include "tests/common/check.h"

enum { N = 10, C = 2, HH = 4, WW = 5, S = C * HH * WW };

static struct ibp_dataset *make(int64_t n, int c, int h, int w, uint64_t seed)
{
    struct ibp_dataset *ds = NULL;
    struct ibp_error err;
    if (ibp_dataset_create(n, c, h, w, 3, &ds, &err) != IBP_OK)
        abort();
    struct ibp_rng rng;
    ibp_rng_seed(&rng, seed, 0);
    /* pixels 1..255, all different within a row: a crop/flip can be recognised */
    for (int64_t i = 0; i < n * c * h * w; i++)
        ds->pixels[i] = (uint8_t)(1 + ibp_rng_below(&rng, 255));
    for (int64_t i = 0; i < n; i++)
        ds->labels[i] = (int32_t)(i % 3);
    return ds;
}

static int is_permutation(const int32_t *p, int64_t n)
{
    char *seen = calloc((size_t)n, 1);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) {
        ok &= p[i] >= 0 && p[i] < n && !seen[p[i]];
        if (p[i] >= 0 && p[i] < n)
            seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

/* Runs a whole epoch into x[n][S'] / y[n], returning the number of samples. */
static int64_t run_epoch(struct ibp_batcher *b, int64_t epoch, int64_t size, float *x, int32_t *y)
{
    struct ibp_error err;
    if (ibp_batcher_start(b, epoch, 0, &err))
        return -1;
    int64_t total = 0, got;
    while ((got = ibp_batcher_next(b, x + total * size, y + total)) > 0)
        total += got;
    return total;
}

/* Reference: flip (optional) then crop at (dy, dx) of the image padded by p (edge or zero). */
static float reference(const uint8_t *img, int c, int h, int w, int flip, int dy, int dx, int p,
                       int zero, int k, int y, int x)
{
    int sy = y + dy - p, sx = x + dx - p;
    if (zero && (sy < 0 || sy >= h || sx < 0 || sx >= w))
        return 0.0f;
    sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
    sx = sx < 0 ? 0 : sx >= w ? w - 1 : sx;
    /* the padded flipped image at (sy, sx) is the flipped image at the clamped position */
    int col = flip ? w - 1 - sx : sx;
    return (float)img[(k * h + sy) * w + col] / 255.0f;
}

/* Finds the (flip, dy, dx) that explains out; returns its code flip*100+dy*10+dx or -1. */
static int explain(const uint8_t *img, const float *out, int c, int h, int w, int p, int zero)
{
    int found = -1, matches = 0;
    for (int flip = 0; flip < 2; flip++)
        for (int dy = 0; dy <= 2 * p; dy++)
            for (int dx = 0; dx <= 2 * p; dx++) {
                int same = 1;
                for (int k = 0; k < c && same; k++)
                    for (int y = 0; y < h && same; y++)
                        for (int x = 0; x < w && same; x++)
                            same = out[(k * h + y) * w + x] ==
                                   reference(img, c, h, w, flip, dy, dx, p, zero, k, y, x);
                if (same) {
                    found = flip * 100 + dy * 10 + dx;
                    matches++;
                }
            }
    return matches == 1 ? found : -1;
}

int main(void)
{
    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_dataset *ds = make(N, C, HH, WW, 1);

    /* --- the epoch order */
    int32_t a[N], b2[N], c2[N], d2[N];
    ibp_shuffle_order(N, 100, 3, a);
    ibp_shuffle_order(N, 100, 3, b2);
    ibp_shuffle_order(N, 100, 4, c2);
    ibp_shuffle_order(N, 101, 3, d2);
    CHECK(is_permutation(a, N) && is_permutation(c2, N));
    CHECK(memcmp(a, b2, sizeof a) == 0);
    CHECK(memcmp(a, c2, sizeof a) != 0);
    CHECK(memcmp(a, d2, sizeof a) != 0);
    {
        /* a large order differs between epochs in most places */
        int32_t *p = malloc(60000 * sizeof *p), *q = malloc(60000 * sizeof *q);
        ibp_shuffle_order(60000, 7, 0, p);
        ibp_shuffle_order(60000, 7, 1, q);
        int same = 0;
        for (int i = 0; i < 60000; i++)
            same += p[i] == q[i];
        CHECK(is_permutation(p, 60000) && same < 10);
        free(p);
        free(q);
    }

    /* --- in order, batch 4: sizes 4, 4, 2; values pixel/255; labels */
    float x[N * S], x2[N * S];
    int32_t y[N], y2[N];
    struct ibp_batch_options opt = {.batch_size = 4};
    struct ibp_batcher *bt = NULL;
    CHECK_OK(ibp_batcher_create(ds, &opt, &bt, &err), err);
    CHECK(ibp_batcher_batches(bt) == 3);
    CHECK(ibp_batcher_indices(bt) == NULL);
    CHECK(ibp_batcher_next(bt, x, y) == 4);
    CHECK(ibp_batcher_indices(bt)[0] == 0 && ibp_batcher_indices(bt)[3] == 3);
    CHECK(ibp_batcher_next(bt, x + 4 * S, y + 4) == 4);
    CHECK(ibp_batcher_next(bt, x + 8 * S, y + 8) == 2);
    CHECK(ibp_batcher_indices(bt)[1] == 9);
    CHECK(ibp_batcher_next(bt, x, y) == 0 && ibp_batcher_indices(bt) == NULL);
    int ok = 1;
    for (int i = 0; i < N * S; i++)
        ok &= x[i] == (float)ds->pixels[i] / 255.0f;
    for (int i = 0; i < N; i++)
        ok &= y[i] == i % 3;
    CHECK(ok);
    CHECK(x[0] >= 0.0f && x[0] <= 1.0f);
    ibp_batcher_free(bt);

    /* --- drop-last: 2 batches of 4 */
    opt.drop_last = 1;
    CHECK_OK(ibp_batcher_create(ds, &opt, &bt, &err), err);
    CHECK(ibp_batcher_batches(bt) == 2);
    CHECK(run_epoch(bt, 0, S, x, y) == 8);
    ibp_batcher_free(bt);

    /* --- shuffled: the epoch holds the samples of ibp_shuffle_order, in that order */
    opt = (struct ibp_batch_options){.batch_size = 3, .shuffle = 1, .seed = 100};
    CHECK_OK(ibp_batcher_create(ds, &opt, &bt, &err), err);
    CHECK(ibp_batcher_batches(bt) == 4);
    CHECK(run_epoch(bt, 3, S, x, y) == N);
    ok = 1;
    for (int i = 0; i < N; i++) {
        ok &= y[i] == a[i] % 3;
        for (int j = 0; j < S; j++)
            ok &= x[i * S + j] == (float)ds->pixels[a[i] * S + j] / 255.0f;
    }
    CHECK(ok);
    /* same epoch again: same; next epoch: another order */
    CHECK(run_epoch(bt, 3, S, x2, y2) == N);
    CHECK(memcmp(x, x2, sizeof x) == 0 && memcmp(y, y2, sizeof y) == 0);
    CHECK(run_epoch(bt, 4, S, x2, y2) == N);
    CHECK(memcmp(x, x2, sizeof x) != 0);
    /* resume at batch 2 of epoch 3 = batches 2.. of the full epoch */
    CHECK_OK(ibp_batcher_start(bt, 3, 2, &err), err);
    CHECK(ibp_batcher_next(bt, x2, y2) == 3);
    CHECK(ibp_batcher_next(bt, x2 + 3 * S, y2 + 3) == 1);
    CHECK(ibp_batcher_next(bt, x2, y2) == 0);
    CHECK_OK(ibp_batcher_start(bt, 3, 2, &err), err);
    CHECK(ibp_batcher_next(bt, x2, y2) == 3);
    CHECK(memcmp(x2, x + 6 * S, 3 * S * sizeof *x) == 0 && memcmp(y2, y + 6, 3 * sizeof *y) == 0);
    CHECK_OK(ibp_batcher_start(bt, 3, 4, &err), err); /* = batches: ends at once */
    CHECK(ibp_batcher_next(bt, x2, y2) == 0);
    CHECK(ibp_batcher_start(bt, 3, 5, &err) == IBP_ERR_ARG && strstr(err.msg, "batch 5 outside 0..4") != NULL);
    CHECK(ibp_batcher_start(bt, -1, 0, &err) == IBP_ERR_ARG);
    CHECK(ibp_batcher_start(bt, IBP_EPOCH_MAX + 1, 0, &err) == IBP_ERR_ARG);
    ibp_batcher_free(bt);

    /* --- bad options */
    opt = (struct ibp_batch_options){.batch_size = 0};
    bt = NULL;
    CHECK(ibp_batcher_create(ds, &opt, &bt, &err) == IBP_ERR_ARG && !bt);
    opt = (struct ibp_batch_options){.batch_size = 11, .drop_last = 1};
    CHECK(ibp_batcher_create(ds, &opt, &bt, &err) == IBP_ERR_ARG && !bt);
    CHECK(strstr(err.msg, "drop-last") != NULL);
    opt = (struct ibp_batch_options){.batch_size = 2, .augment = {.crop_pad = HH}};
    CHECK(ibp_batcher_create(ds, &opt, &bt, &err) == IBP_ERR_ARG && !bt);
    opt = (struct ibp_batch_options){.batch_size = 2, .augment = {.crop_pad = -1}};
    CHECK(ibp_batcher_create(ds, &opt, &bt, &err) == IBP_ERR_ARG && !bt);
    opt = (struct ibp_batch_options){.batch_size = 2, .augment = {.pad_mode = (enum ibp_pad_mode)7}};
    CHECK(ibp_batcher_create(ds, &opt, &bt, &err) == IBP_ERR_ARG && !bt);
    ibp_dataset_free(ds);

    /* --- augmentation: geometry against a reference, coverage, determinism, threads */
    enum { NA = 400, CA = 3, HA = 6, WA = 7, SA = CA * HA * WA, PAD = 2 };
    struct ibp_dataset *big = make(NA, CA, HA, WA, 2);
    float *xa = malloc(NA * SA * sizeof *xa), *xb = malloc(NA * SA * sizeof *xb);
    int32_t *ya = malloc(NA * sizeof *ya), *yb = malloc(NA * sizeof *yb);
    int32_t *order = malloc(NA * sizeof *order);
    for (int zero = 0; zero < 2; zero++) {
        opt = (struct ibp_batch_options){
            .batch_size = 64, .shuffle = 1, .seed = 9,
            .augment = {.flip = 1, .crop_pad = PAD, .pad_mode = zero ? IBP_PAD_ZERO : IBP_PAD_EDGE}};
        CHECK_OK(ibp_batcher_create(big, &opt, &bt, &err), err);
        omp_set_num_threads(1);
        CHECK(run_epoch(bt, 5, SA, xa, ya) == NA);
        omp_set_num_threads(2);
        CHECK(run_epoch(bt, 5, SA, xb, yb) == NA);
        CHECK(memcmp(xa, xb, NA * SA * sizeof *xa) == 0); /* any thread count, same batches */
        ibp_shuffle_order(NA, 9, 5, order);
        int explained = 1, flips = 0, zeros = 0;
        int seen[2][2 * PAD + 1][2 * PAD + 1];
        memset(seen, 0, sizeof seen);
        for (int i = 0; i < NA; i++) {
            int code = explain(big->pixels + (int64_t)order[i] * SA, xa + (int64_t)i * SA, CA, HA,
                               WA, PAD, zero);
            explained &= code >= 0 && ya[i] == order[i] % 3;
            if (code >= 0) {
                seen[code / 100][code / 10 % 10][code % 10]++;
                flips += code >= 100;
            }
            for (int j = 0; j < SA; j++)
                zeros += xa[(int64_t)i * SA + j] == 0.0f;
        }
        CHECK(explained);
        CHECK(flips > NA / 2 - 60 && flips < NA / 2 + 60);
        int all = 1;
        for (int f = 0; f < 2; f++)
            for (int dy = 0; dy <= 2 * PAD; dy++)
                for (int dx = 0; dx <= 2 * PAD; dx++)
                    all &= seen[f][dy][dx] > 0;
        CHECK(all);
        CHECK(zero ? zeros > 0 : zeros == 0); /* dataset pixels are >= 1 */
        /* resume mid-epoch: the same augmented batch */
        CHECK_OK(ibp_batcher_start(bt, 5, 3, &err), err);
        CHECK(ibp_batcher_next(bt, xb, yb) == 64);
        CHECK(memcmp(xb, xa + 3 * 64 * SA, 64 * SA * sizeof *xa) == 0);
        /* another epoch: other augmentations of the same samples */
        CHECK(run_epoch(bt, 6, SA, xb, yb) == NA);
        CHECK(memcmp(xa, xb, NA * SA * sizeof *xa) != 0);
        ibp_batcher_free(bt);
    }
    /* ibp_batch_fill: augmentation of a sample depends on (seed, epoch, index), not on
     * where the sample sits in the batch */
    int32_t pick[3] = {17, 5, 17};
    struct ibp_augment aug = {.flip = 1, .crop_pad = PAD};
    ibp_batch_fill(big, pick, 3, &aug, 1, 2, xa, NULL);
    CHECK(memcmp(xa, xa + 2 * SA, SA * sizeof *xa) == 0);
    ibp_batch_fill(big, pick + 2, 1, &aug, 1, 2, xb, yb);
    CHECK(memcmp(xa, xb, SA * sizeof *xa) == 0 && yb[0] == 17 % 3);
    free(xa);
    free(xb);
    free(ya);
    free(yb);
    free(order);
    ibp_dataset_free(big);
    return check_report();
}
