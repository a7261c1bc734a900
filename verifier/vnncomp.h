/* vnncomp.h — VNN-COMP mode: answer a VNN-LIB property (vnnlib.h) on a network imported
 * from ONNX (onnx_import.h), and the competition's file conventions.
 *
 * Answers (the first line of a VNN-COMP result file):
 *   unsat    proved: no input in any box of the property violates it;
 *   sat      a counterexample: an input x inside a box whose output, computed by our
 *            float32 forward pass, satisfies one of the box's violation disjuncts;
 *   unknown  every method ran (within the limits) without settling the property;
 *   timeout  the time limit stopped the search first.
 *
 * The search (ibp_vnncomp_verify):
 *   1. the box centres, then a short PGD attack on every box (ibp_attack_run on the
 *      property's margins; restarts run 16 at a time, the first batch from the centre,
 *      the two extreme corners and random corners, later ones alternately from uniform
 *      random points and random corners);
 *   2. bounds on every box not yet proved: IBP, then CROWN-IBP, then CROWN (bounds.h),
 *      floating-point sound by default; a box is proved when every one of its disjuncts
 *      has a row whose lower bound (the best over the methods run so far) plus its
 *      offset is positive (ibp_vnnlib_proved); the property is unsat when every box is;
 *   3. for inputs of at most 16 dimensions, input splitting (input_split.h) on every
 *      box still open, within the time left;
 *   4. if some box is still open, more attack rounds (fresh seeds) up to a cap, each on
 *      the whole property and on each of its disjuncts alone (targeted).
 * The clock is read between stages, between boxes and between attack rounds; a stage
 * that would start after the limit is not started.
 *
 * A counterexample is re-checked before it is reported: its x is a float32 value that
 * lies inside the box as parsed (doubles), and the float32 forward pass at x violates the
 * property. */
#ifndef IBP_VNNCOMP_H
#define IBP_VNNCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "nets/base/status.h"
#include "nets/bounds/bounds.h"
#include "nets/graph/net.h"
#include "verifier/vnnlib.h"

enum ibp_vnn_answer {
    IBP_VNN_UNSAT,
    IBP_VNN_SAT,
    IBP_VNN_UNKNOWN,
    IBP_VNN_TIMEOUT,
};
#define IBP_VNN_ANSWER_COUNT 4

/* "unsat", "sat", "unknown", "timeout". */
const char *ibp_vnn_answer_name(enum ibp_vnn_answer a);

struct ibp_vnncomp_config {
    double time_limit;   /* seconds from the start of the call; <= 0: no limit */
    int sound;           /* 1: floating-point sound bounds (SPEC §6); 0: float32 bounds */
    int attack_steps;    /* PGD steps per restart */
    int first_restarts;  /* restarts per box before the bounds (>= 1) */
    int round_restarts;  /* restarts per box in each later round (>= 1), on the whole
                            property and as many on each of its disjuncts alone */
    int rounds;          /* later attack rounds at most (>= 0) */
    int methods;         /* bit k set: run bound method k (enum ibp_bound_method) */
    int input_split;     /* 1: input splitting (stage 3) for inputs of <= 16 dimensions */
    uint64_t seed;
    int threads;         /* threads for bounds and attacks; 0: OpenMP's default */
    int bab;             /* 1: branch and bound (verifier/bab.h) on the boxes still open
                            after the bounds and input splitting, when each of their
                            disjuncts has one row, before the later attack rounds
                            (default 1) */
    double bab_timeout;  /* seconds per box for branch and bound; <= 0: the rest of
                            time_limit (60 s without a limit) */
    int64_t max_domains; /* branch and bound's open-domain cap (> 0) */
};

/* Defaults (documented in vnncomp.c next to the values): sound, every method, a
 * modest attack effort, no time limit. */
void ibp_vnncomp_config_default(struct ibp_vnncomp_config *cfg);

/* What ibp_vnncomp_verify found. Zero-initialise before the first use; the arrays are
 * owned by the result (ibp_vnncomp_result_clear frees them). */
struct ibp_vnncomp_result {
    enum ibp_vnn_answer answer;
    const char *decided_by; /* static: "attack", "ibp", "crown-ibp", "crown",
                               "input-split", "bab", or "" when undecided */
    int box;                /* sat: the box the counterexample lies in */
    int n_inputs, n_outputs;
    double *x;              /* sat: [n_inputs], float32 values inside box `box` */
    float *y;               /* sat: [n_outputs], our float32 output at x */
    double margin;          /* sat: min over the box's disjuncts of the max over their
                               rows of m(y) at y (<= 0: violated; vnnlib.h) */
    double proof_margin;    /* min over boxes and disjuncts of the max over the rows of
                               (best lower bound of m(y)): > 0 when proved; -inf when no
                               bound ran */
    int boxes;              /* boxes of the property */
    int proved[IBP_BOUND_METHOD_COUNT];     /* boxes proved after each bound method
                                               (cumulative) */
    int method_ran[IBP_BOUND_METHOD_COUNT]; /* 1 when the method ran on the open boxes */
    int attack_restarts;    /* attack restarts run, all boxes and rounds */
    double seconds[1 + IBP_BOUND_METHOD_COUNT]; /* attack, then each bound method */
    double input_split_seconds;
    double bab_seconds;     /* branch and bound, all boxes */
    long bab_domains;       /* domains branch and bound bounded */
    const char *bab_unknown; /* static: why branch and bound left a box open ("time",
                               "domain cap", ...; bab.h), or "" */
    double seconds_total;
    char note[IBP_ERROR_LEN]; /* why a method was skipped ("crown: ..."), or "" */
};

void ibp_vnncomp_result_clear(struct ibp_vnncomp_result *res);

/* Answers property prop on net (read-only during the call). The property's variable
 * counts must match the net's input and output sizes. res is cleared first. Errors:
 * IBP_ERR_SHAPE (sizes differ; the message gives both), IBP_ERR_ARG (bad config, or no
 * input satisfies the property's input constraints), IBP_ERR_NOMEM, and errors of the
 * passes (IBP_ERR_NUMERIC). A bound method the network
 * does not support, or that does not fit in memory, is skipped (res->note says which). */
enum ibp_status ibp_vnncomp_verify(const struct ibp_net *net, const struct ibp_vnnlib *prop,
                                   const struct ibp_vnncomp_config *cfg,
                                   struct ibp_vnncomp_result *res, struct ibp_error *err);

/* The result file's text: the answer on the first line and, after sat, the
 * counterexample "((X_0 v)\n (X_1 v)\n ... (Y_0 v)\n ...)\n". Each X is printed with %.9g
 * when that text, read back as a double, lies inside the box and rounds to the same
 * float32; otherwise with %.17g (exact). Y with %.9g. *text is NUL-terminated, owned by
 * the caller (free). prop must be the property the result was computed on. */
enum ibp_status ibp_vnncomp_result_format(const struct ibp_vnncomp_result *res,
                                          const struct ibp_vnnlib *prop, char **text,
                                          size_t *len, struct ibp_error *err);

/* Parses the counterexample of a result file (the text after a `sat` line, or a whole
 * file starting with `sat`): entries "(X_i v)" and "(Y_j v)" in any order, each index
 * exactly once, x[n_inputs], y[n_outputs]. Errors: IBP_ERR_FORMAT "name: ..." (bad
 * number, unknown variable, index out of range, duplicate or missing entry). */
enum ibp_status ibp_vnncomp_counterexample_parse(const char *text, size_t len,
                                                 const char *name, int n_inputs,
                                                 int n_outputs, double *x, double *y,
                                                 struct ibp_error *err);

/* Checks a counterexample: x lies in some box of prop (doubles, exactly), our float32
 * forward pass at (float)x violates that box's property and, when y is not NULL, agrees
 * with y within y_tol * max(1, |y_j|). *valid = 1 when all hold; otherwise 0 and why
 * (IBP_ERROR_LEN bytes) says what failed. Errors (net/property sizes, memory) go to err. */
enum ibp_status ibp_vnncomp_counterexample_check(const struct ibp_net *net,
                                                 const struct ibp_vnnlib *prop,
                                                 const double *x, const double *y,
                                                 double y_tol, int *valid, char *why,
                                                 struct ibp_error *err);

/* ---- benchmark tables ---- */

/* One row of an instances.csv: `onnx,vnnlib,timeout`. */
struct ibp_vnncomp_instance {
    char *onnx, *vnnlib;           /* as written */
    char *onnx_path, *vnnlib_path; /* resolved against the csv's folder; when only the
                                      gzip-compressed file exists, "<path>.gz" */
    double timeout;                /* seconds, > 0 */
};

struct ibp_vnncomp_instances {
    int n;
    struct ibp_vnncomp_instance *rows;
};

/* Reads an instances.csv (VNN-COMP: no header, one `onnx,vnnlib,timeout` per line; a
 * first line whose third field is not a number is taken as a header; blank lines are
 * skipped). Errors: IBP_ERR_IO, IBP_ERR_FORMAT "file:line: ..." (field count, timeout
 * not a positive number, empty file). Free with ibp_vnncomp_instances_free. */
enum ibp_status ibp_vnncomp_instances_load(const char *path,
                                           struct ibp_vnncomp_instances **out,
                                           struct ibp_error *err);

/* The same from text[0..len); relative paths resolve against base_dir. */
enum ibp_status ibp_vnncomp_instances_parse(const char *text, size_t len, const char *name,
                                            const char *base_dir,
                                            struct ibp_vnncomp_instances **out,
                                            struct ibp_error *err);

void ibp_vnncomp_instances_free(struct ibp_vnncomp_instances *t);

/* A known verdict per instance. */
enum ibp_vnn_verdict {
    IBP_VNN_VERDICT_NONE,  /* instance not listed */
    IBP_VNN_VERDICT_UNSAT,
    IBP_VNN_VERDICT_SAT,
    IBP_VNN_VERDICT_OPEN,  /* listed as open/unknown: no answer is known */
};

struct ibp_vnncomp_verdicts {
    int n;
    char **onnx, **vnnlib;           /* [n], as written */
    enum ibp_vnn_verdict *verdict;   /* [n] */
};

/* Reads a verdicts.csv: a header line `onnx,vnnlib,verdict`, then one row per instance
 * with verdict sat, unsat, open or unknown. Errors as for instances. */
enum ibp_status ibp_vnncomp_verdicts_load(const char *path, struct ibp_vnncomp_verdicts **out,
                                          struct ibp_error *err);
enum ibp_status ibp_vnncomp_verdicts_parse(const char *text, size_t len, const char *name,
                                           struct ibp_vnncomp_verdicts **out,
                                           struct ibp_error *err);
void ibp_vnncomp_verdicts_free(struct ibp_vnncomp_verdicts *v);

/* The verdict for (onnx, vnnlib) as written in an instances.csv; a trailing ".gz" on
 * either side is ignored when comparing. */
enum ibp_vnn_verdict ibp_vnncomp_verdict_find(const struct ibp_vnncomp_verdicts *v,
                                              const char *onnx, const char *vnnlib);

/* "none", "unsat", "sat", "open". */
const char *ibp_vnn_verdict_name(enum ibp_vnn_verdict v);

/* 1 when an answer contradicts a verdict: unsat where sat is known, sat where unsat is
 * known. (A sat answer whose counterexample fails the check is wrong too; that is the
 * caller's check.) */
int ibp_vnn_answer_wrong(enum ibp_vnn_answer a, enum ibp_vnn_verdict v);

#endif
