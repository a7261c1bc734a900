/* certify.h — the per-sample verification driver: bounds, then attack, for every sample
 * of a dataset at one ε.
 *
 * For sample i with pixels p (uint8, value p/255) and label y the driver
 *   1. runs a clean forward pass (BN running statistics) at x = float(p/255): the
 *      prediction, and whether y strictly wins (every z_y - z_j > 0);
 *   2. computes the margin lower bounds lb_j of z_y - z_j over the box
 *      l = clip(p/255 - ε, 0, 1), u = clip(p/255 + ε, 0, 1) with every requested bound
 *      method (nets/bounds/bounds.h); the sample is certified iff y strictly wins at x and the
 *      best method's minimum lb_j is > 0 (strictly);
 *   3. runs PGD (nets/passes/attack.h) inside the box on the samples that are not certified. A
 *      misclassified sample is attacked with its clean point as the counterexample;
 *   4. when asked, α-CROWN (nets/bounds/alpha_crown.h) on the rows z_y - z_j over the
 *      bounder's box, one sample at a time, on the samples still unknown;
 *   5. when asked, branch and bound (verifier/bab.h) on the same rows and box on what is
 *      still unknown. Its counterexample is moved into the inward box and must pass the
 *      attack's re-check there (PGD starting at it), as every counterexample does.
 * Status: certified, attacked (a concrete counterexample, re-checked by a forward pass)
 * or unknown, with the stage that decided it and, for unknown, why.
 *
 * A network the domain-bound engine refuses (IBP_ERR_UNSUPPORTED: residual, pooling)
 * skips steps 4 and 5: its samples stay unknown with reason "unsupported" and the
 * summary's note says why; the run itself does not fail.
 *
 * With attack_certified every step runs on every clean-correct sample whatever an
 * earlier one found, and a sample both certified and attacked is a conflict.
 *
 * Boxes. In sound mode the box handed to the bounder contains the real box: every bound
 * is rounded outward to float. The attack's box is always rounded inward, so a
 * counterexample lies inside the real box. Without sound mode the bounder gets the
 * round-to-nearest box, as the trainer uses (datasets/box.h). The network's NORMALIZE
 * layer does the normalisation; a network without one sees pixel values.
 *
 * Unlabelled samples (label -1) are checked against the network's own prediction.
 *
 * Threads: samples are cut into batches of cfg.batch in order; batches run in parallel,
 * each worker with its own bounders and attack; α-CROWN and branch and bound run inside
 * the worker with its share of the threads. Every result depends on the batch size and
 * the seeds, never on the thread count, except that branch and bound's verdict depends
 * on the thread count through its time limit. */
#ifndef IBP_VERIFIER_CERTIFY_H
#define IBP_VERIFIER_CERTIFY_H

#include <stdint.h>

#include "datasets/dataset.h"
#include "nets/bounds/bounds.h"
#include "nets/graph/net.h"
#include "nets/passes/attack.h"
#include "verifier/bab.h"

#define IBP_CERTIFY_MAX_METHODS IBP_BOUND_METHOD_COUNT
#define IBP_CERTIFY_NOTE_LEN 256

enum ibp_verdict {
    IBP_VERDICT_UNKNOWN,
    IBP_VERDICT_CERTIFIED,
    IBP_VERDICT_ATTACKED,
};

/* "unknown", "certified", "attacked" */
const char *ibp_verdict_name(enum ibp_verdict v);

struct ibp_certify_config {
    double eps;                 /* box radius in pixel units, in [0, 1] */
    enum ibp_bound_method methods[IBP_CERTIFY_MAX_METHODS];
    int n_methods;              /* 0..IBP_CERTIFY_MAX_METHODS (0: no bounds, attack only) */
    int sound;                  /* floating-point sound bounds and box (SPEC §6) */
    int batch;                  /* samples per batch, >= 1 */
    int threads;                /* parallel batches; 0 = OpenMP's max */
    int attack;                 /* run PGD on the samples that are not certified */
    int attack_certified;       /* also attack certified samples (a soundness check) */
    struct ibp_attack_config attack_cfg;
    int alpha_crown;            /* step 4 */
    int bab;                    /* step 5 */
    /* branch and bound per sample: timeout_s, max_domains, max_bytes, batch, steps (sound
     * and threads are set by the driver) */
    struct ibp_bab_config bab_cfg;
};

/* Defaults: ε 0, methods ibp, crown-ibp; sound; batch 32; threads 0; attack on, not on
 * certified samples; ibp_attack_config_default; no α-CROWN, no branch and bound, which
 * would get ibp_bab_config_default with a 20 s timeout. */
void ibp_certify_config_default(struct ibp_certify_config *cfg);

/* Which step decided a sample. */
enum ibp_decider {
    IBP_BY_NONE,        /* unknown */
    IBP_BY_CLEAN,       /* misclassified at the clean point */
    IBP_BY_BOUND,       /* bound method by_method */
    IBP_BY_ATTACK,      /* PGD */
    IBP_BY_ALPHA_CROWN,
    IBP_BY_BAB,         /* certified, or a re-checked counterexample */
};

/* Why a sample stayed unknown. */
enum ibp_unknown_reason {
    IBP_WHY_NONE,        /* decided */
    IBP_WHY_BOUNDS,      /* every requested method left it open */
    IBP_WHY_TIME,        /* branch and bound's time limit */
    IBP_WHY_DOMAIN_CAP,  /* branch and bound's domain cap */
    IBP_WHY_MEMORY,      /* branch and bound's memory cap */
    IBP_WHY_LEAF,        /* a fully split domain branch and bound could not close */
    IBP_WHY_UNSUPPORTED, /* the net is beyond the domain-bound engine */
    IBP_WHY_UNCONFIRMED, /* branch and bound's counterexample failed the re-check */
};

/* "", "clean", the bound method's name, "attack", "alpha-crown", "bab" (cfg names
 * the bound methods). */
const char *ibp_decider_name(const struct ibp_certify_config *cfg, enum ibp_decider by,
                             int by_method);
/* "", "bounds", "time", "domain cap", "memory", "leaf", "unsupported", "unconfirmed". */
const char *ibp_unknown_reason_name(enum ibp_unknown_reason why);

/* The result for one sample. lb_min[k] is the minimum over j of method k's margin lower
 * bound (NaN when not computed). */
struct ibp_certify_sample {
    int64_t index;              /* position in the dataset */
    int label;                  /* the label used (the prediction when unlabelled) */
    int pred;                   /* clean prediction (argmax, lowest index on ties) */
    int clean_correct;          /* label strictly wins at the clean point */
    float lb_min[IBP_CERTIFY_MAX_METHODS];
    double attack_obj;          /* min margin at the attack's best point (NaN: no attack) */
    enum ibp_verdict verdict;
    int conflict;               /* certified AND a counterexample found: a soundness bug */
    float lb_alpha;             /* α-CROWN's minimum margin bound (NaN: not run) */
    enum ibp_decider by;        /* the first step that decided it */
    int by_method;              /* the bound method's index when by is IBP_BY_BOUND */
    long bab_domains;           /* domains branch and bound bounded (0: not run) */
    double seconds;             /* its share of its batch's time plus its own steps */
    enum ibp_unknown_reason why;
    int adv_pred;               /* prediction at the counterexample (-1: none found) */
};

struct ibp_certify_summary {
    int64_t n;
    int64_t clean_errors;       /* label does not strictly win at the clean point */
    int64_t attacked;           /* concrete counterexamples (clean errors included) */
    int64_t certified;
    int64_t unknown;
    int64_t conflicts;
    int64_t verified_by[IBP_CERTIFY_MAX_METHODS]; /* certified by method k alone */
    double seconds;             /* wall time of the run */
    int64_t by_bound[IBP_CERTIFY_MAX_METHODS]; /* certified first by method k */
    int64_t by_alpha_crown;     /* certified by α-CROWN */
    int64_t by_bab;             /* certified by branch and bound */
    int64_t bab_attacked;       /* counterexamples found by branch and bound */
    char note[IBP_CERTIFY_NOTE_LEN]; /* why steps 4-5 were skipped ("" when they were not) */
};

/* Called as results come in. progress(ctx, done, total) after every batch; bab_progress
 * (may be NULL) while branch and bound runs on sample `index` (at most 4 times a second
 * per sample); counterexample
 * for every attacked sample with its clean point x and counterexample x_adv (both
 * [C][H][W] pixel space); a non-OK return stops the run with that status. Calls are
 * serialised (never two at once) but come from worker threads in any order. */
struct ibp_certify_hooks {
    void (*progress)(void *ctx, int64_t done, int64_t total);
    void (*bab_progress)(void *ctx, int64_t index, const struct ibp_bab_progress *p);
    enum ibp_status (*counterexample)(void *ctx, const struct ibp_certify_sample *s,
                                      const float *x, const float *x_adv,
                                      struct ibp_error *err);
    void *ctx;
};

/* Checks that net and ds fit together and that the config is usable, allocating one
 * worker's bounders and attack to prove it: image shape, label range, ε, methods.
 * `net_name` and `data_name` name the two in messages ("m.ibpm expects 1x28x28 images,
 * data.bin has 3x32x32"). Errors: IBP_ERR_SHAPE (shape), IBP_ERR_ARG (labels, config),
 * those of ibp_bounder_create (IBP_ERR_UNSUPPORTED, IBP_ERR_NOMEM). */
enum ibp_status ibp_certify_check(const struct ibp_net *net, const char *net_name,
                                  const struct ibp_dataset *ds, const char *data_name,
                                  const struct ibp_certify_config *cfg, struct ibp_error *err);

/* Bytes ibp_certify_run takes for net, ds and cfg besides its outputs, for a program's
 * start-up memory check (nets/base/memory.h): its workers' bounders, attack, workspace
 * and buffers (one worker is allocated as the run would, the heap's growth counted and
 * the worker freed) times the workers it runs, plus branch and bound's memory cap per
 * worker when cfg->bab. Errors: those of ibp_certify_check. */
enum ibp_status ibp_certify_run_bytes(const struct ibp_net *net, const struct ibp_dataset *ds,
                                      const struct ibp_certify_config *cfg, size_t *bytes,
                                      struct ibp_error *err);

/* Certifies every sample of ds; out[ds->n] receives the per-sample results in dataset
 * order, summary (may be NULL) the counts. hooks may be NULL. Errors: those of
 * ibp_certify_check, of the bounder and the attack, or of a hook. */
enum ibp_status ibp_certify_run(const struct ibp_net *net, const struct ibp_dataset *ds,
                                const struct ibp_certify_config *cfg,
                                const struct ibp_certify_hooks *hooks,
                                struct ibp_certify_sample *out,
                                struct ibp_certify_summary *summary, struct ibp_error *err);

/* The part of ibp_certify_run that a process of a sharded run does: only the batches
 * [batch_lo, batch_hi) of ds's cutting into batches of cfg->batch, writing out[i] for
 * their samples i (dataset indexes, as ibp_certify_run would: the same results). note
 * receives why steps 4-5 were skipped ("" when they were not). progress counts the
 * samples of these batches. Errors: those of ibp_certify_run; IBP_ERR_ARG for an empty
 * or out-of-range batch range. */
enum ibp_status ibp_certify_run_batches(const struct ibp_net *net, const struct ibp_dataset *ds,
                                        const struct ibp_certify_config *cfg,
                                        const struct ibp_certify_hooks *hooks, int64_t batch_lo,
                                        int64_t batch_hi, struct ibp_certify_sample *out,
                                        char note[IBP_CERTIFY_NOTE_LEN], struct ibp_error *err);

/* The counts of summary over out[0..n), with note and the run's wall time. */
void ibp_certify_summarize(const struct ibp_certify_config *cfg,
                           const struct ibp_certify_sample *out, int64_t n, const char *note,
                           double seconds, struct ibp_certify_summary *summary);

/* How a box bound is rounded to float. */
enum ibp_box_rounding {
    IBP_BOX_NEAREST, /* round to nearest (the trainer's box) */
    IBP_BOX_OUTWARD, /* contains the real box: for sound bounds */
    IBP_BOX_INWARD,  /* inside the real box: for counterexamples */
};

/* The pixel-space box of n pixels p[n] (value p/255) at radius eps in [0, 1]:
 * lo = clip(p/255 - eps, 0, 1), hi = clip(p/255 + eps, 0, 1), rounded as asked. When
 * inward rounding leaves no float in the real box (eps = 0 and p/255 not a float), both
 * are the float nearest to p/255. */
void ibp_pixel_box(const uint8_t *p, size_t n, double eps, enum ibp_box_rounding rounding,
                   float *lo, float *hi);

#endif
