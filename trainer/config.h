/* config.h — the training configuration: every option of a run, its defaults, the
 * presets of SPEC §4, a key = value config file, and command-line overrides.
 *
 * Resolution order (later wins): built-in defaults -> preset (--preset, else the config
 * file's `preset` key) -> config file (--config) -> other command-line options.
 * Config file syntax: one `key = value` per line, '#' starts a comment (so values cannot
 * contain '#'), blank lines ignored; keys use '_' or '-' interchangeably. Command line:
 * `--key value` or `--key=value`; a boolean key alone (`--augment`) means true and
 * `--no-key` false. Unknown keys, a key given twice in one source, `schedule` together
 * with epochs/sched_start/sched_length in one source, and malformed values are errors
 * with one-line messages naming the file and line ("run.cfg:7: batch: 'x' is not an
 * integer") or the option ("--eps: eps 2 must be in [0, 1]").
 *
 * `schedule = a+b+c` is shorthand for sched_start = a+1, sched_length = b,
 * epochs = a+b+c (SPEC §4.5 notation). */
#ifndef IBP_CONFIG_H
#define IBP_CONFIG_H

#include <stdint.h>

#include "nets/base/bytes.h"
#include "nets/base/status.h"
#include "trainer/optim.h"

enum ibp_train_method {
    IBP_METHOD_FAST,    /* IBP init + warmup regularisers (SPEC §4) */
    IBP_METHOD_VANILLA, /* plain IBP: default init, no regulariser */
    IBP_METHOD_NATURAL, /* clean training only */
    IBP_METHOD_CROWN_IBP, /* vanilla with the margin bound f CROWN-IBP + (1-f) IBP,
                           * f = (eps_max - eps_t) / eps_max (SPEC §4.8) */
    IBP_METHOD_MTL_IBP, /* fast with alpha CE_IBP + (1-alpha) CE at the PGD point (§4.9) */
    IBP_METHOD_SABR,    /* fast with IBP on a small box around the PGD point (§4.9) */
};

#define IBP_CONFIG_MAX_MILESTONES 16

struct ibp_train_config {
    char preset[32];           /* "" or the preset applied */
    enum ibp_train_method method;
    char model[64];            /* model zoo name: cnn-small, cnn7, wrn8, ... */
    int width, hidden;         /* model width options, 0 = the model's default */
    int bn;                    /* BatchNorm after every hidden Conv/Linear */
    char init_from[1024];      /* "" or a network to start from (model file or ONNX);
                                * model, width, hidden and bn then do not apply */
    char dataset[64];          /* dataset kind: fashion-mnist, mnist, cifar10, ... */
    char data_dir[1024];       /* "" = the dataset's default location */
    double eps;                /* test eps (pixel units, [0,1]) */
    char eps_text[64];         /* eps as given ("8/255"), written back to files */
    double train_eps_mult;     /* training eps_max = train_eps_mult * eps */
    int batch;
    int epochs, sched_start, sched_length;
    double lr, lr_decay;
    int milestones[IBP_CONFIG_MAX_MILESTONES];
    int n_milestones;
    enum ibp_optim_kind optimizer;
    double momentum;           /* SGD */
    int nesterov;              /* SGD */
    double weight_decay;
    double grad_clip;          /* 0 = no clipping */
    double tau, reg_lambda, min_eps_reg;
    long seed;
    int threads;               /* 0 = OpenMP's default (per process) */
    int processes;             /* ranks of a data-parallel run (train.h), 1 alone */
    int augment;               /* random flip + crop (CIFAR-style data) */
    int val_split;             /* training samples held out for validation */
    int eval_batch;
    int train_limit;           /* use only the first N training samples (0 = all) */
    int log_every;             /* batches between batch log lines, 0 = epochs only */
    char out[1024];            /* output folder */
    int onnx;                  /* also write last.onnx / best.onnx beside the .ibpm files */
    int resume;                /* continue from the training state in out */
    double mtl_alpha;          /* mtl-ibp: weight of the IBP loss, [0, 1] */
    double sabr_lambda;        /* sabr: small-box radius / box half-width, (0, 1] */
    int attack_steps;          /* mtl-ibp, sabr: PGD steps (>= 1) */
    double attack_step;        /* mtl-ibp, sabr: PGD step / box half-width */
    int pop_bn_stats;          /* BN running stats recomputed on the training set per epoch */
    int kappa_mix;             /* crown-ibp: kappa CE_clean + (1 - kappa) CE_robust, kappa = f */
    int eval_crown_ibp;        /* per-epoch verified error by the better of IBP, CROWN-IBP */
    int final_verify;          /* after the last epoch: the verifier's complete chain */
    double final_bab_timeout;  /* final_verify: branch and bound seconds per sample */
    int final_count;           /* final_verify: the first N test samples, 0 = all */
    uint64_t given;            /* bit k: key k was set by a preset, a file or an option */
};

/* Built-in defaults: the Fashion-MNIST reference run (fast, cnn-small with BN, eps 0.1,
 * batch 256, 1+10+9, milestones 15,18, Adam lr 5e-4, clip 10, seed 100); for mtl-ibp and
 * sabr alpha 0.01, lambda 0.4 (SPEC §4.9's MNIST 0.1 values) and one PGD step of 2
 * half-widths (saturating to a corner). */
void ibp_train_config_defaults(struct ibp_train_config *c);

/* Applies preset `name` on top of c: mnist, cifar10, tinyimagenet, fmnist (SPEC §4), and
 * the SPEC §4.9 settings mtl-ibp-mnist / sabr-mnist (eps 0.1), mtl-ibp-cifar10-2 /
 * sabr-cifar10-2 (2/255), mtl-ibp-cifar10-8 / sabr-cifar10-8 (8/255), mtl-ibp-fmnist /
 * sabr-fmnist (Fashion-MNIST eps 0.1 with the MNIST 0.1 values), crown-ibp-fmnist (the
 * CROWN-IBP baseline's published recipe: kappa mix, 1+60+39 epochs, Adam 1e-3).
 * Errors: IBP_ERR_ARG for an unknown name (the message lists the presets). */
enum ibp_status ibp_train_config_preset(struct ibp_train_config *c, const char *name,
                                        struct ibp_error *err);

/* Applies a config file's text on top of c (its `preset` first, then its other keys;
 * `name` in messages). Errors: IBP_ERR_ARG (syntax, key or value; name:line). */
enum ibp_status ibp_train_config_load_text(struct ibp_train_config *c, const char *text,
                                           const char *name, struct ibp_error *err);

/* As ibp_train_config_from_args but on top of c instead of the defaults. */
enum ibp_status ibp_train_config_apply_args(struct ibp_train_config *c, int argc,
                                            char *const *argv, struct ibp_error *err);

/* Resolves a configuration from options argv[0..argc) (program name excluded):
 * defaults, preset, `--config FILE`, then the other options (see the top of this file).
 * Does not validate (call ibp_train_config_validate). Errors: IBP_ERR_ARG, IBP_ERR_IO. */
enum ibp_status ibp_train_config_from_args(struct ibp_train_config *c, int argc,
                                           char *const *argv, struct ibp_error *err);

/* Cross-field checks: no width, hidden or bn given together with init_from; ramp inside
 * the run (sched_start + sched_length - 1 <= epochs), milestones within the run,
 * training eps <= 1, nesterov only with SGD momentum, no method key (mtl_alpha,
 * sabr_lambda, attack_steps, attack_step, kappa_mix) set for a method that does not
 * use it. Errors: IBP_ERR_ARG with a message naming the keys. */
enum ibp_status ibp_train_config_validate(const struct ibp_train_config *c,
                                          struct ibp_error *err);

/* Appends c as a config file (every key the method uses, the schedule as a comment in
 * a+b+c form) that `--config` reads back to the same configuration (resume excluded). */
void ibp_train_config_format(const struct ibp_train_config *c, struct ibp_wbuf *w);

/* Writes ibp_train_config_format's text to path atomically. Errors: IBP_ERR_IO,
 * IBP_ERR_NOMEM. */
enum ibp_status ibp_train_config_save(const struct ibp_train_config *c, const char *path,
                                      struct ibp_error *err);

/* The first key whose value differs between a and b, ignoring those a resumed run may
 * change (threads, log_every, data_dir, out, resume, preset, final_verify,
 * final_bab_timeout, final_count), or NULL. */
const char *ibp_train_config_changed_key(const struct ibp_train_config *a,
                                         const struct ibp_train_config *b);

/* Appends the option list for --help: every key with its default and meaning. */
void ibp_train_config_help(struct ibp_wbuf *w);

/* 1 when the method trains with the fast recipe (IBP init, warmup regularisers): fast,
 * mtl-ibp, sabr. */
int ibp_train_method_is_fast(enum ibp_train_method m);

/* "fast", "vanilla", "natural", "crown-ibp", "mtl-ibp", "sabr". */
const char *ibp_train_method_name(enum ibp_train_method m);

#endif
