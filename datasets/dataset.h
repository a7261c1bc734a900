/* dataset.h — a labelled image dataset held in memory, and what can be done to one as a
 * whole: create, free, take a subset, summarise.
 *
 * Pixels are uint8 [n][c][h][w] in one allocation; the float pixel value is pixel/255 in
 * [0,1]. Every reader (idx.h, cifar.h, png_folder.h, csv.h, open.h) returns one of these,
 * complete or not at all. A dataset is read-only once built, so any number of threads and
 * batchers may use one at the same time. */
#ifndef IBP_DATASETS_DATASET_H
#define IBP_DATASETS_DATASET_H

#include <stdint.h>

#include "nets/base/status.h"

/* The most channels a dataset may have (gray 1, RGB 3; CSV data up to this). */
#define IBP_DATASET_MAX_CHANNELS 4
/* Length of the kind string, including its terminating NUL. */
#define IBP_DATASET_KIND_LEN 32

struct ibp_dataset {
    int64_t n;              /* number of samples, >= 1 */
    int c, h, w;            /* channels (1..IBP_DATASET_MAX_CHANNELS), height, width */
    uint8_t *pixels;        /* [n][c][h][w], owned */
    int32_t *labels;        /* [n], owned; 0..n_classes-1, or -1 for an unlabelled sample */
    int n_classes;          /* >= 0 */
    char **class_names;     /* [n_classes] owned strings */
    /* The dataset kind's default normalisation (SPEC §1), per channel [c]: a network
     * trained on this data starts with Normalize(mean, std). */
    float mean[IBP_DATASET_MAX_CHANNELS];
    float std[IBP_DATASET_MAX_CHANNELS];
    /* "mnist", "fashion-mnist", "idx", "cifar10", "cifar100", "png", "csv", ... */
    char kind[IBP_DATASET_KIND_LEN];
};

/* Allocates a dataset of n samples of shape c×h×w with n_classes classes: pixels and
 * labels zeroed, class names "0", "1", ..., mean 0 and std 1 for every channel, kind
 * "custom". *out is set only on success; free it with ibp_dataset_free.
 * Errors: IBP_ERR_ARG for n < 1, c outside 1..IBP_DATASET_MAX_CHANNELS, h or w < 1,
 * n_classes < 0, or a pixel count that overflows; IBP_ERR_NOMEM. */
enum ibp_status ibp_dataset_create(int64_t n, int c, int h, int w, int n_classes,
                                   struct ibp_dataset **out, struct ibp_error *err);

/* Frees ds and everything it owns; NULL is a no-op. */
void ibp_dataset_free(struct ibp_dataset *ds);

/* Replaces the name of class k (0 <= k < n_classes) with a copy of name.
 * Errors: IBP_ERR_ARG for k out of range, IBP_ERR_NOMEM. */
enum ibp_status ibp_dataset_set_class_name(struct ibp_dataset *ds, int k, const char *name,
                                           struct ibp_error *err);

/* Sets the kind string (truncated to IBP_DATASET_KIND_LEN - 1 characters). */
void ibp_dataset_set_kind(struct ibp_dataset *ds, const char *kind);

/* Bytes of one sample's pixels: c*h*w. */
int64_t ibp_dataset_sample_size(const struct ibp_dataset *ds);

/* Pixels of sample i: [c][h][w]. */
const uint8_t *ibp_dataset_sample(const struct ibp_dataset *ds, int64_t i);

/* A new dataset holding copies of samples idx[0..count) of ds, in that order (indices
 * may repeat); class names, normalisation and kind are copied. *out is set only on
 * success. Errors: IBP_ERR_ARG when count < 1 or an index is outside 0..n-1 (the
 * message names the position and the index), IBP_ERR_NOMEM. */
enum ibp_status ibp_dataset_pick(const struct ibp_dataset *ds, const int64_t *idx,
                                 int64_t count, struct ibp_dataset **out,
                                 struct ibp_error *err);

/* A new dataset holding copies of samples start..start+count-1 of ds; count = -1 means
 * "to the end". Errors: IBP_ERR_ARG when start < 0, start >= n, count < -1 or 0, or
 * start+count > n (the message gives n), IBP_ERR_NOMEM. */
enum ibp_status ibp_dataset_range(const struct ibp_dataset *ds, int64_t start, int64_t count,
                                  struct ibp_dataset **out, struct ibp_error *err);

/* Parses an index list such as "3,5,10-12" (ranges inclusive, no spaces) into a new
 * array *idx of *count entries (the caller frees it with free()). Every index must be
 * >= 0 and < limit. Errors: IBP_ERR_ARG naming the bad item, IBP_ERR_NOMEM. */
enum ibp_status ibp_indices_parse(const char *text, int64_t limit, int64_t **idx,
                                  int64_t *count, struct ibp_error *err);

/* Summary of a dataset, as the `ibp-data` program prints it. */
struct ibp_dataset_stats {
    int64_t *histogram;   /* [n_classes] samples per class, owned */
    int64_t unlabelled;   /* samples with label -1 */
    /* per channel, of pixel/255 over all samples and positions (population std) */
    double mean[IBP_DATASET_MAX_CHANNELS];
    double std[IBP_DATASET_MAX_CHANNELS];
};

/* Computes the label histogram and exact per-channel pixel mean/std (integer sums, so the
 * result does not depend on the thread count). Free with ibp_dataset_stats_free.
 * Errors: IBP_ERR_NOMEM. */
enum ibp_status ibp_dataset_stats_compute(const struct ibp_dataset *ds,
                                          struct ibp_dataset_stats *stats,
                                          struct ibp_error *err);

/* Frees what stats owns (not stats itself). */
void ibp_dataset_stats_free(struct ibp_dataset_stats *stats);

#endif
