/* input_split.h — branch and bound on the input box (SPEC §3.4), for networks with few
 * inputs (meant for <= 16 dimensions: the number of sub-boxes grows with the dimension).
 *
 * The question: does some x in [lo, hi] make a disjunct of the property hold, where
 * disjunct d holds at output y when every row r of d has  C_r·y + offset_r <= 0
 * (the violation convention of vnnlib.h and nets/passes/attack.h)?
 *
 * The search keeps a heap of open sub-boxes, lowest parent bound first (best-first: the
 * sub-boxes nearest a violation are refined first), and repeats, `batch` sub-boxes at a
 * time:
 *   1. a float32 forward pass at each sub-box's centre and at the centres of its 2n
 *      faces; a point where some disjunct holds is a counterexample (sat);
 *   2. bounds of the rows over every sub-box in one batched run of the bounder
 *      (bounds.h, CROWN, floating-point sound unless cfg->sound = 0); a sub-box is
 *      closed when every disjunct has a row with lower bound + offset > 0 (the sum in
 *      double, whose sign is the exact sum's);
 *   3. every open sub-box is bisected at the float midpoint of one dimension (the two
 *      halves share the midpoint, so they cover the box exactly). The dimension is the
 *      one with the largest smear, estimated as |m(c + w_i/2 e_i) - m(c - w_i/2 e_i)|
 *      for the row m that is closest to closing the least refuted disjunct, from the
 *      face points of step 1 (a secant of the margin across the box's width in that
 *      dimension: the forward passes are already run for the counterexample search, so
 *      the estimate costs nothing, and it sees the nonlinearity inside the box where
 *      the gradient at one point does not); ties and a flat margin fall back to the
 *      widest dimension relative to the starting box. Before that, the corner where the
 *      same secants predict the lowest margin is run forward too (a one-step attack:
 *      piecewise-linear minima sit at vertices, which no centre ever reaches).
 * unsat only when every sub-box is closed; sat only with a point our forward pass
 * confirms; otherwise unknown with the reason (time limit, domain cap, or a sub-box
 * that cannot be bisected any further in float32). */
#ifndef IBP_INPUT_SPLIT_H
#define IBP_INPUT_SPLIT_H

#include "nets/base/status.h"
#include "nets/graph/net.h"

/* The property over one input box. */
struct ibp_input_split_problem {
    const float *lo, *hi;  /* [n_inputs], lo <= hi */
    const float *C;        /* [rows][n_outputs] */
    const double *offset;  /* [rows]; NULL means 0 */
    const int *disjunct;   /* [rows] disjunct id of each row, non-decreasing; NULL
                              means each row its own disjunct */
    int rows;              /* >= 1 */
};

struct ibp_input_split_config {
    int sound;        /* 1: floating-point sound bounds (SPEC §6) */
    int batch;        /* sub-boxes per bounder run (>= 1) */
    long max_domains; /* sub-boxes bounded at most (>= 1) */
    double time_limit; /* seconds from the start of the call; <= 0: none */
    int threads;      /* 0: OpenMP's default */
};

/* Defaults: sound, batch 64, max_domains 2,000,000, no time limit, threads 0. */
void ibp_input_split_config_default(struct ibp_input_split_config *cfg);

enum ibp_input_split_answer {
    IBP_INPUT_SPLIT_UNSAT,
    IBP_INPUT_SPLIT_SAT,
    IBP_INPUT_SPLIT_UNKNOWN,
};

struct ibp_input_split_result {
    enum ibp_input_split_answer answer;
    const char *why;  /* static; unknown: "time limit", "domain cap" or "float resolution";
                         otherwise "" */
    long domains;     /* sub-boxes bounded */
    int max_depth;    /* most bisections on the way to a sub-box */
    double seconds;
};

/* Runs the search on net (read-only). x [n_inputs] (caller-owned) receives the
 * counterexample when the answer is sat (inside [lo, hi], float32 values). Errors:
 * IBP_ERR_ARG (config out of range, rows < 1, lo > hi, disjunct ids decreasing), IBP_ERR_UNSUPPORTED / IBP_ERR_NOMEM from the bounder (CROWN
 * on this net), IBP_ERR_NOMEM, IBP_ERR_NUMERIC (NaN in the box). */
enum ibp_status ibp_input_split_run(const struct ibp_net *net,
                                    const struct ibp_input_split_problem *prob,
                                    const struct ibp_input_split_config *cfg, float *x,
                                    struct ibp_input_split_result *res, struct ibp_error *err);

#endif
