/* bn_stats.h — BatchNorm running statistics recomputed on a whole dataset (ibp-train's
 * --pop-bn-stats, recommended by CTBench): after training, the running mean and variance
 * of every BN layer are what the model saw in training mode over the data, not an
 * exponential average dominated by the last batches of the epoch.
 *
 * Each batch of the batcher's epoch 0 runs the clean pass in train mode (BN batch
 * statistics, as in training); after batch k of B_k samples, N_k seen so far, the
 * running statistics move with momentum B_k / N_k (1 for the first batch, so nothing
 * of the old statistics is left). The result is the sample-weighted mean of the
 * batches' means and unbiased variances. Batching, order and augmentation are the
 * batcher's (the trainer passes one over the training set in file order, without
 * augmentation). */
#ifndef IBP_BN_STATS_H
#define IBP_BN_STATS_H

#include <stdint.h>

#include "datasets/batch.h"
#include "nets/base/status.h"
#include "nets/graph/net.h"
#include "nets/passes/passes.h"

/* Replaces net's BN running statistics as above. ws: a workspace for net with
 * IBP_WS_CLEAN and batches as large as the batcher's; x [batch][input], labels [batch]
 * and logits [batch][outputs]: scratch. A net without BN is left as it is. Errors: the
 * batcher's and the clean pass's. */
enum ibp_status ibp_bn_population_stats(struct ibp_net *net, struct ibp_workspace *ws,
                                        struct ibp_batcher *batcher, float *x,
                                        int32_t *labels, float *logits,
                                        struct ibp_error *err);

#endif
