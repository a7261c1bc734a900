/* train_state.h — the training-state file: everything a run needs to continue exactly
 * where it stopped (DESIGN.md "Files on disk").
 *
 * It is one self-contained file written atomically (file_io.h): the resolved
 * configuration, the position (epoch, batch inside it, global batch counter), the
 * running sums of the epoch in progress, the best epoch so far, the model (the model
 * file image of model_file.h, parameters and BatchNorm running statistics included) and
 * the optimiser state (moments, step). The data order and augmentation are functions of
 * (seed, epoch, sample) (datasets/batch.h), so no RNG stream needs saving. Because the
 * model travels inside the state, a crash between writing `last.ibpm` and the state
 * cannot leave the two out of step.
 *
 * Layout (little-endian, fixed width):
 *   u8[8] "IBPSTATE", u32 version, u64 file size (checksum included),
 *   str config text, i32 epoch, i64 batch, i64 step,
 *   epoch sums: 13 f64, 6 i64 (struct ibp_epoch_sums order),
 *   best: i32 epoch, 4 f64,
 *   u64 model image size, model image, u64 optimiser blob size, optimiser blob,
 *   u32 zlib crc32 of every byte before it. */
#ifndef IBP_TRAIN_STATE_H
#define IBP_TRAIN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "nets/formats/model_file.h"
#include "nets/graph/net.h"
#include "trainer/optim.h"

#define IBP_STATE_MAGIC "IBPSTATE"
#define IBP_STATE_VERSION 1u

/* Running sums over the batches of one epoch (sample-weighted like the reference). */
struct ibp_epoch_sums {
    double loss, ce, robust, tight, relu;  /* sums of value x batch size */
    double lambda, grad_norm, eps;         /* sums over batches */
    double eps_first, eps_last, lambda_last;
    double seconds;                        /* training time of the epoch so far */
    double lr;
    int64_t n, batches, n_robust, n_reg, errors, ver_errors;
};

/* The best epoch so far (epoch 0: none yet). */
struct ibp_train_best {
    int epoch;
    double test_err, test_ver_err, val_err, val_ver_err;
};

/* Where a run stands. `epoch` is the epoch in progress (1-based) and `batch` the number
 * of its batches already trained (0 at an epoch boundary); `step` the global batch
 * counter (SPEC §4.5). */
struct ibp_train_position {
    int epoch;
    int64_t batch;
    int64_t step;
};

/* A decoded state. Owns config_text, net, meta and optim_blob. */
struct ibp_train_state {
    char *config_text;
    struct ibp_train_position pos;
    struct ibp_epoch_sums sums;
    struct ibp_train_best best;
    struct ibp_net *net;
    struct ibp_model_meta meta;
    unsigned char *optim_blob; /* ibp_optim_state_save's bytes */
    size_t optim_size;
};

/* Writes a state file atomically. Errors: IBP_ERR_IO naming the path, IBP_ERR_NOMEM,
 * IBP_ERR_ARG from the model encoding. */
enum ibp_status ibp_train_state_save(const char *path, const char *config_text,
                                     const struct ibp_train_position *pos,
                                     const struct ibp_epoch_sums *sums,
                                     const struct ibp_train_best *best,
                                     const struct ibp_net *net,
                                     const struct ibp_model_meta *meta,
                                     const struct ibp_optim *optim, struct ibp_error *err);

/* Reads and checks a state file into *out (zeroed on failure). Errors, each naming the
 * path: IBP_ERR_IO (unreadable), IBP_ERR_FORMAT (wrong magic, version, size or
 * checksum, truncated, a bad position, the embedded model's own errors),
 * IBP_ERR_NUMERIC (non-finite weights), IBP_ERR_NOMEM. */
enum ibp_status ibp_train_state_load(const char *path, struct ibp_train_state *out,
                                     struct ibp_error *err);

void ibp_train_state_free(struct ibp_train_state *s);

#endif
