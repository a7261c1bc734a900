/* train.h — the training loop of SPEC §4: fast (short warmup), vanilla IBP, crown-ibp,
 * mtl-ibp, sabr and natural training on one code path, with evaluation, model files, the
 * training state and the metrics log.
 *
 * One training step (SPEC §4.7), at global batch s with eps_t = eps(s):
 *   clean forward in train mode (BN batch statistics; running statistics updated);
 *   if eps_t > 0, or the method is fast: IBP forward over the box of radius eps_t
 *   (fast while eps_t = 0: min_eps_reg) with the same statistics, margins folded;
 *   loss = robust CE on the margin lower bounds when eps_t > 0, else clean CE;
 *   fast: + lambda (L_tight + L_relu) while lambda > 0;
 *   backward (through the BN statistics) -> global-norm clip -> optimiser step.
 * vanilla and natural while eps_t = 0 run the clean pass only.
 * mtl-ibp and sabr (SPEC §4.9) step as fast does, except once eps_t > 0: first PGD
 * (trainer/pgd.h) on the model in eval-mode BN finds a point x_adv in the box; then
 *   mtl-ibp: the train-mode pass takes x_adv as its clean input (logits, BN statistics
 *            and running-statistics update from it) with IBP over the whole box;
 *            loss = alpha CE_IBP + (1 - alpha) CE(logits at x_adv), both back-propagated;
 *   sabr:    the train-mode pass on the image with IBP over the small box around x_adv
 *            (trainer/sabr_box.h); loss = CE_IBP on the small box.
 * In their metrics, train_err and clean_ce of mtl-ibp are measured at the PGD points and
 * robust_loss is its CE_IBP part; sabr's train_ver_err is NaN (its bounds hold on the
 * small boxes, not on the eps box).
 * crown-ibp with kappa_mix: loss = kappa CE_clean + (1 - kappa) CE_robust on the f-mixed
 * bound, kappa = f (1 at the ramp's start, 0 from eps_max on).
 * pop_bn_stats: before each epoch's evaluation, BN running statistics are recomputed on
 * the training set (trainer/bn_stats.h); the time counts in eval_s.
 *
 * After every epoch: evaluation on the test set (and the validation split, when one is
 * held out) in eval mode at the test eps (IBP, or with eval_crown_ibp the better of IBP
 * and CROWN-IBP per margin), then, in OUT (the config's `out`):
 *   last.ibpm      the model (model_file.h), every epoch;
 *   best.ibpm      the model of the best epoch so far: lowest verified error among
 *                  epochs whose training eps reached eps_max, chosen on the validation
 *                  split when there is one, else on the test set (optimistic; reports
 *                  label it "best on test");
 *   train.state    the training state (train_state.h), written last;
 *   metrics.jsonl  one JSON line per epoch (and every log_every batches).
   with `onnx`, last.onnx and best.onnx beside them (onnx_export.h).
 * The configuration is saved as OUT/train.cfg and the initial model as OUT/init.ibpm
 * before the first step of a fresh run (to reproduce or cross-check it).
 * init_from: the network is opened from that file (model_open.h: our model file or
 * ONNX, for the training images' shape, its own normalisation or none) instead of being
 * built from the zoo and initialised; its outputs must be the data's classes. Every
 * layer trains as a zoo layer does (BatchNorm with batch statistics in train mode).
 *
 * Determinism: the data order, augmentation and initialisation derive from the seed;
 * the passes do not depend on the thread count; so a run resumed from its state file
 * (at an epoch boundary, or mid-epoch after a requested stop) continues bit-identically. */
#ifndef IBP_TRAIN_H
#define IBP_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "datasets/dataset.h"
#include "nets/graph/net.h"
#include "nets/base/status.h"
#include "trainer/config.h"
#include "trainer/train_state.h"

/* File names inside OUT. */
#define IBP_TRAIN_INIT "init.ibpm"
#define IBP_TRAIN_LAST "last.ibpm"
#define IBP_TRAIN_BEST "best.ibpm"
#define IBP_TRAIN_LAST_ONNX "last.onnx" /* with cfg.onnx */
#define IBP_TRAIN_BEST_ONNX "best.onnx"
#define IBP_TRAIN_STATE "train.state"
#define IBP_TRAIN_CONFIG "train.cfg"
#define IBP_TRAIN_METRICS "metrics.jsonl"

/* After every batch, for progress displays. */
struct ibp_train_progress {
    int epoch, epochs;
    int64_t batch, batches; /* batches done in this epoch, batches per epoch */
    int64_t step;           /* global batch counter after this batch */
    double eps, lambda, lr;
    double loss;            /* mean loss of the epoch so far */
    double images_per_s;    /* training throughput of the epoch so far */
};

/* After every epoch. Values that do not apply (no robust batch, no regulariser, no
 * validation split) are NaN. */
struct ibp_train_epoch {
    int epoch, epochs;
    double lr, eps_first, eps_last, eps_mean, lambda_last, lambda_mean;
    double loss, clean_ce, robust_loss, l_tight, l_relu, grad_norm_mean;
    double train_err, train_ver_err;     /* %, training batches (train_ver at eps_t) */
    double test_err, test_ver_err;       /* %, test set at the test eps */
    double val_err, val_ver_err;         /* %, validation split */
    double train_s, train_images_per_s, eval_s;
    int is_best;                         /* this epoch became best.ibpm */
};

struct ibp_train_hooks {
    void (*on_batch)(void *user, const struct ibp_train_progress *p); /* may be NULL */
    void (*on_epoch)(void *user, const struct ibp_train_epoch *e);    /* may be NULL */
    void *user;
    /* Checked after every batch: non-zero stops the run after writing the state. */
    const volatile sig_atomic_t *stop;
};

struct ibp_trainer;

/* A trainer for cfg (validated here) on train / test data (borrowed; they must outlive
 * the trainer). Builds the model from the zoo with the dataset's normalisation and class
 * names, initialises it (fast: IBP init; else the default) from the seed, and the
 * optimiser. Touches no file. Errors: IBP_ERR_ARG (configuration, naming the key),
 * IBP_ERR_SHAPE (test images or labels not matching the training data), the zoo's and
 * allocations' errors. */
enum ibp_status ibp_trainer_create(const struct ibp_train_config *cfg,
                                   const struct ibp_dataset *train,
                                   const struct ibp_dataset *test,
                                   struct ibp_trainer **out, struct ibp_error *err);

struct ibp_cluster;

/* Data-parallel training (SPEC §8) over the processes of cl (nets/base/cluster.h;
 * borrowed, it must outlive t), called on every process after ibp_trainer_create and
 * before anything else. Every process builds the same model from the same seed and
 * reads the same global batches; each trains on its contiguous share of every batch
 * (ibp_cluster_share); the loss means, error counts, BN batch statistics and their
 * backward sums (SyncBN, through the workspace's sum hook), the regularisers' pooled
 * sums and, after backward, the gradient are added up over the processes, so every
 * process takes the same optimiser step. The test (and validation) set is shared out
 * by samples and the counts added up. Rank 0 alone writes files (prepare_out, the
 * models, the state, the metrics); a stop requested on any process stops all after the
 * same batch. Results equal a single process's up to float rounding (sums in another
 * order). With one process this does nothing. Errors: IBP_ERR_ARG when the ranks disagree
 * on the resolved configuration or the training / test data (checked by hashes), when the config's
 * `processes` is not the process count (a resumed run keeps its N), when a process
 * would get no sample of some batch (fewer samples than processes in a batch or in the
 * epoch's last batch), for method crown-ibp on several processes; IBP_ERR_NOMEM. */
enum ibp_status ibp_trainer_set_cluster(struct ibp_trainer *t, struct ibp_cluster *cl,
                                        struct ibp_error *err);

/* Replaces the fresh model, optimiser and position with a saved state (its model must
 * have the architecture cfg builds and fit the data). Errors: IBP_ERR_SHAPE naming what
 * does not match, the optimiser state's errors. */
enum ibp_status ibp_trainer_restore(struct ibp_trainer *t, const struct ibp_train_state *s,
                                    struct ibp_error *err);

/* Prepares OUT for a run: creates the folder, refuses (IBP_ERR_ARG) to start a fresh
 * run over an existing train.state unless resumed, checks it is writable and writes
 * train.cfg (and, for a fresh run, init.ibpm). Nothing else is written or overwritten
 * before training. */
enum ibp_status ibp_trainer_prepare_out(struct ibp_trainer *t, int resumed,
                                        struct ibp_error *err);

/* Trains from the current position to the configured number of epochs.
 * Returns IBP_OK when done; IBP_ERR_INTERRUPTED when hooks->stop was raised (state
 * saved after the current batch); IBP_ERR_NUMERIC when the loss, gradient or weights
 * turn NaN/Inf (message names epoch and batch; the files of the last good epoch are
 * kept); IBP_ERR_IO when a file cannot be written. */
enum ibp_status ibp_trainer_run(struct ibp_trainer *t, const struct ibp_train_hooks *hooks,
                                struct ibp_error *err);

/* The position, the best epoch. */
struct ibp_train_position ibp_trainer_position(const struct ibp_trainer *t);
struct ibp_train_best ibp_trainer_best(const struct ibp_trainer *t);
/* Samples trained on per epoch (after train_limit and the validation split). */
int64_t ibp_trainer_train_size(const struct ibp_trainer *t);

/* Bytes the run allocates after ibp_trainer_create, at most at one time: writing a
 * checkpoint holds the model file image and the growing training-state image around a
 * copy of it (nets/base/memory.h adds thread stacks, GEMM packing and a margin). */
size_t ibp_trainer_later_bytes(const struct ibp_trainer *t);

void ibp_trainer_free(struct ibp_trainer *t);

#endif
