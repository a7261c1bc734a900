/* Benchmark: reading all of Fashion-MNIST (gzip) and the batch iterator alone at batch
 * 256, plain and with flip + crop augmentation, on Fashion-MNIST and a CIFAR-sized set. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "datasets/batch.h"
#include "datasets/open.h"
#include "nets/base/rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Batches per second over whole epochs (at least 1 s of work). */
static double batches_per_second(const struct ibp_dataset *ds, int augment)
{
    struct ibp_batch_options opt = {.batch_size = 256, .shuffle = 1, .seed = 100};
    if (augment)
        opt.augment = (struct ibp_augment){.flip = 1, .crop_pad = 2, .pad_mode = IBP_PAD_EDGE};
    struct ibp_batcher *b;
    struct ibp_error err;
    if (ibp_batcher_create(ds, &opt, &b, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        exit(1);
    }
    float *x = malloc((size_t)256 * ibp_dataset_sample_size(ds) * sizeof *x);
    int32_t *y = malloc(256 * sizeof *y);
    double t0 = now(), t;
    int64_t batches = 0;
    for (int64_t epoch = 0; (t = now()) - t0 < 1.0; epoch++) {
        ibp_batcher_start(b, epoch, 0, &err);
        while (ibp_batcher_next(b, x, y) > 0)
            batches++;
    }
    free(x);
    free(y);
    ibp_batcher_free(b);
    return (double)batches / (t - t0);
}

int main(void)
{
    struct ibp_error err;
    printf("%-52s %12s\n", "datasets benchmark", "figure");
    if (access(IBP_DATASETS_ROOT "/fashion-mnist", R_OK) == 0) {
        struct ibp_dataset *train = NULL, *test = NULL;
        struct ibp_open_options tr = {.split = "train"}, te = {.split = "test"};
        double t0 = now();
        if (ibp_dataset_open("fashion-mnist", &tr, &train, &err) ||
            ibp_dataset_open("fashion-mnist", &te, &test, &err)) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return 1;
        }
        double t = now() - t0;
        printf("%-52s %10.3f s\n", "read Fashion-MNIST, 70000 images (gz)", t);
        printf("%-52s %10.0f /s\n", "iterator, Fashion-MNIST, batch 256", batches_per_second(train, 0));
        printf("%-52s %10.0f /s\n", "iterator, Fashion-MNIST, batch 256, flip+crop 2",
               batches_per_second(train, 1));
        ibp_dataset_free(train);
        ibp_dataset_free(test);
    } else {
        printf("Fashion-MNIST absent: reading figure skipped\n");
    }
    struct ibp_dataset *cifar = NULL;
    if (ibp_dataset_create(50000, 3, 32, 32, 10, &cifar, &err)) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 1, 0);
    for (int64_t i = 0; i < 50000 * 3072; i++)
        cifar->pixels[i] = (uint8_t)ibp_rng_next(&rng);
    printf("%-52s %10.0f /s\n", "iterator, CIFAR-sized 3x32x32, batch 256", batches_per_second(cifar, 0));
    printf("%-52s %10.0f /s\n", "iterator, CIFAR-sized 3x32x32, batch 256, flip+crop 2",
           batches_per_second(cifar, 1));
    ibp_dataset_free(cifar);
    return 0;
}
