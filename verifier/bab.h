/* bab.h — complete verification by branch and bound on ReLU splits (β-CROWN, SPEC §3.2).
 *
 * The property: every row r of (C z(x) + d)_r is > 0 for every x in the box [lo, hi]
 * (z the network's output, evaluation mode). unsat (the property holds) is answered
 * only when every domain is closed by a bound > 0 that is sound in sound mode (each
 * closing bound re-evaluated with outward rounding); sat only with a point x in the box
 * at which a plain float32 forward pass gives some row <= 0 (written to cex); else
 * unknown with the reason.
 *
 * Loop: PGD on the box, α-CROWN on the intermediate bounds and on the root; when rows are
 * still open, the intermediate bounds narrowed by branch and bound (cfg.refine); the rows it
 * leaves open are then taken one at a time, the furthest from proved first (a domain
 * carries and bounds one row, and a row closed early costs nothing later). Per row, while domains remain: pick a batch of
 * domains (best-first on the lowest bound; depth-first when the next step's children
 * would not fit the memory cap), bound both children of every picked domain in one
 * batched call with α and β warm-started from the parent and optimised jointly, drop
 * children whose bound is > 0, choose each remaining child's split by filtered smart
 * branching (BaBSR's top candidates, each one's two children bounded once, batched),
 * and try PGD from each remaining child's best point. A domain whose unstable neurons
 * are all split and whose β bound stays <= 0 cannot be split further: its LPs decide
 * it (verifier/bab_leaf.h: closed by re-checked dual bounds, or sat by a confirmed LP
 * optimum); one they leave open leaves the answer unknown (reason "leaf"), though the
 * other rows are still searched for a counterexample. The verdict depends on the
 * thread count only through the time limit. */
#ifndef IBP_BAB_H
#define IBP_BAB_H

#include <stddef.h>

#include "nets/base/status.h"
#include "nets/graph/net.h"

/* What a progress hook sees: domains bounded so far (every row), open domains of the
 * row searched now, the lowest bound among them (+inf when none), seconds since the
 * run started. */
struct ibp_bab_progress {
    long domains;
    long queue;
    float worst_lb;
    double seconds;
};

struct ibp_bab_config {
    double timeout_s;  /* wall-clock limit (> 0) */
    long max_domains;  /* most open domains (> 0) */
    size_t max_bytes;  /* memory cap for the open domains (> 0) */
    int batch;         /* domains split per step (> 0) */
    int steps;         /* joint α/β steps per batch of children (SPEC: 20-50) */
    int sound;         /* 1: floating-point sound closing bounds */
    int threads;       /* >= 1 */
    int intermediate;  /* 1: α-CROWN on the intermediate bounds before the root */
    int refine;        /* 1: when the root leaves rows open, intermediate bounds narrowed by
                        * branch and bound on earlier ReLUs (intermediate_bab.h) in passes
                        * of growing budget, within part of the time limit, before the
                        * splitting of the rows */
    /* Called from the calling thread between steps, at most 4 times a second; NULL for
     * none. It must not change the run (it only observes it). */
    void (*progress)(void *ctx, const struct ibp_bab_progress *p);
    void *progress_ctx;
};

/* timeout 60 s, 200000 domains, 2 GiB, batch 16, 20 steps, sound, 1 thread,
 * intermediate α-CROWN on, refinement on, no progress hook. */
struct ibp_bab_config ibp_bab_config_default(void);

enum ibp_bab_verdict { IBP_BAB_UNSAT, IBP_BAB_SAT, IBP_BAB_UNKNOWN };
enum ibp_bab_reason {
    IBP_BAB_DECIDED,    /* unsat or sat */
    IBP_BAB_TIME,       /* the time limit */
    IBP_BAB_DOMAIN_CAP, /* max_domains open domains */
    IBP_BAB_MEMORY,     /* max_bytes even depth-first */
    IBP_BAB_LEAF,       /* a fully split domain its LPs did not decide */
};

struct ibp_bab_result {
    enum ibp_bab_verdict verdict;
    enum ibp_bab_reason reason;
    long domains;      /* domains bounded (root and children) */
    int max_depth;     /* deepest split */
    double seconds;    /* wall time */
    float worst_lb;    /* lowest bound of the open domains at the end (+inf if none) */
};

/* "time", "domain cap", "memory", "fully split domain (LP undecided)", "" for DECIDED. */
const char *ibp_bab_reason_name(enum ibp_bab_reason r);

/* Decides the property for net over [lo, hi] ([C][H][W], input space) with rows
 * C[rows][outputs] and offsets d[rows] (NULL: 0). cex [inputs] receives the
 * counterexample when sat (may be NULL). Errors: IBP_ERR_ARG (config), IBP_ERR_UNSUPPORTED
 * (a layer the bound engine cannot handle, named: callers fall back), IBP_ERR_NOMEM. */
enum ibp_status ibp_bab_run(const struct ibp_net *net, const float *lo, const float *hi,
                            const float *C, const float *d, int rows,
                            const struct ibp_bab_config *cfg, float *cex,
                            struct ibp_bab_result *res, struct ibp_error *err);

#endif
