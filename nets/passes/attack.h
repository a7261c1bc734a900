/* attack.h — PGD attacks that look for counterexamples inside an input box.
 *
 * The objective of a sample is the specification's violation measure on the network's
 * output z (evaluation mode, BN running statistics):
 *   obj(x) = min over disjuncts d of  max over rows m in d of  (C_m z(x) + offset_m)
 * and x is a counterexample when obj(x) <= 0. With labels (the robustness spec) every
 * row m = (y, j) is its own disjunct with C_m z = z_y - z_j and offset 0, so a
 * counterexample is an x whose label does not strictly win. VNN-LIB properties give
 * C, offsets and disjuncts from ibp_vnnlib_spec (verifier/vnnlib.h).
 *
 * PGD: signed-gradient steps on the objective, projected onto [lo, hi] after every
 * step, from a random start in the box (the first restart may start at a given point),
 * with a step size decaying over the steps (or constant); the best point over all
 * restarts is kept. A point is reported found only after a plain float32 forward pass at
 * exactly that point gives obj <= 0 and the point lies in [lo, hi]. Results depend only
 * on the seed, not on the thread count.
 *
 * Users: the verifier (counterexamples) and the trainer (the PGD points of MTL-IBP and
 * SABR, trainer/pgd.h), which is why it lives in nets/ below both. */
#ifndef IBP_ATTACK_H
#define IBP_ATTACK_H

#include <stdint.h>

#include "nets/graph/net.h"
#include "nets/base/status.h"

struct ibp_attack_config {
    int steps;        /* PGD steps per restart */
    int restarts;     /* random restarts (>= 1) */
    double step_size; /* first step, as a fraction of the box half-width */
    uint64_t seed;
    const uint64_t *streams; /* [batch] RNG stream of each sample of a run; NULL: stream b
                                for sample b. A caller that picks samples out of a larger
                                set passes their indices, so a sample's attack does not
                                depend on which others share its batch. */
    int constant_step; /* 0: cosine decay (below); 1: every step is step_size */
    int keep_going;    /* 0: a sample stops at its first counterexample; 1: it keeps
                          descending for all steps (training wants the worst point) */
};

/* Defaults: steps 50, restarts 2, step size 0.5, seed 0, streams NULL, cosine decay,
 * stop at the first counterexample. Step t (0-based) of a restart moves each input
 * element by
 *   step_size * (0.1 + 0.9 * (1 + cos(pi t / steps)) / 2)
 * of its box half-width: a cosine decay from step_size to step_size / 10 (with
 * constant_step, step_size every step; 2 saturates a one-step attack to a corner from
 * anywhere in the box). Sample b of a run draws its random starts from the RNG stream
 * (seed, streams ? streams[b] : b). */
void ibp_attack_config_default(struct ibp_attack_config *cfg);

/* What the objective is made of; either labels or C (see the header comment). */
struct ibp_attack_spec {
    const int *labels;     /* [batch] */
    const float *C;        /* [batch][rows][outputs] */
    const double *offset;  /* [batch][rows], NULL means 0 */
    const int *disjunct;   /* [rows] disjunct id of each row (same for every sample),
                              non-decreasing; NULL means each row its own disjunct */
    int rows;
};

struct ibp_attack;

/* An attack workspace for net, batches up to max_batch and specs of up to max_rows rows
 * (labels use outputs - 1 rows; spec.rows is then ignored). A run allocates nothing.
 * Errors: IBP_ERR_ARG (max_batch or max_rows < 1), IBP_ERR_NOMEM. */
enum ibp_status ibp_attack_create(const struct ibp_net *net, int max_batch, int max_rows,
                                  struct ibp_attack **out, struct ibp_error *err);
void ibp_attack_free(struct ibp_attack *a);

/* Threads used by the passes of a run (default: OpenMP's max); results do not depend
 * on it. A caller that runs several attacks in parallel sets 1. */
void ibp_attack_set_threads(struct ibp_attack *a, int threads);

/* Attacks batch samples. x_start [batch][input] may be NULL (random starts only);
 * lo, hi [batch][input]. Writes x_adv [batch][input] (the best point found, inside the
 * box), obj [batch] (its objective, float forward pass; may be NULL) and found [batch]
 * (1 when obj <= 0 at x_adv, re-checked). Samples stop moving once a counterexample
 * is found, unless keep_going. Errors: IBP_ERR_ARG (batch or rows beyond the creation sizes, a config value
 * out of range, lo > hi, a label outside the outputs, disjunct ids decreasing),
 * IBP_ERR_NUMERIC (NaN in lo/hi). A NaN output is never a counterexample. */
enum ibp_status ibp_attack_run(const struct ibp_net *net, struct ibp_attack *a,
                               const struct ibp_attack_config *cfg, const float *x_start,
                               const float *lo, const float *hi, int batch,
                               const struct ibp_attack_spec *spec, float *x_adv,
                               double *obj, int *found, struct ibp_error *err);

#endif
