/* bounds_impl.h — internal: the bounder's state (nets/bounds/bounds.c: creation, the
 * forward interval pass, the run). The part the backward pass reads is its
 * bnd_crown_state (crown_state.h). */
#ifndef IBP_BOUNDS_IMPL_H
#define IBP_BOUNDS_IMPL_H

#include <stddef.h>

#include "nets/bounds/bounds.h"
#include "nets/bounds/crown_state.h"

struct ibp_bounder {
    struct ibp_bounder_config cfg;
    struct bnd_crown_state cs; /* shared with crown.c */
    int L;
    int k_box;               /* value where backward passes concretise (see bounds.c) */
    int threads;
    size_t bytes;
    size_t max_n;            /* largest value size */
    float *cbuf, *rbuf, *abuf, *ybuf; /* forward scratch [max_batch][max n] */
    float *col;              /* im2col chunk */
    size_t col_floats;
    struct ibp_workspace *ws; /* float mode: IBP through passes.h */
    float *ibp_lb, *own_lb;  /* [max_batch][max_rows] */
    int *crown_at;           /* [L+1]: value feeds a RELU and full CROWN tightens it */
    /* backward: chunks of rows run in parallel, one context per thread */
    int n_slots;
    int rmax;                /* most rows of any chunk (row arrays' length) */
    int n_ctx;
    struct bnd_ctx *ctx;     /* [n_ctx] */
    long *pos_start;         /* full CROWN: [most positions + 1] into unstable */
    long *task;              /* full CROWN: [max_batch * max n] chunk starts */
    int *share_at;           /* [L+1] full CROWN, float mode: value where the rows from a
                              * tightened value stop being shared (see bounds.c) */
    int *unstable;           /* full CROWN: [max_batch * max n] (sample, neuron) list */
};

/* Loops and GEMMs smaller than this run on one thread: a parallel region costs more
 * than it saves on them (and much more on a loaded machine). Results do not depend on
 * it (every loop iteration and GEMM block computes the same thing either way). */
/* Fewest input channels for which crown.c runs a conv's transpose by
 * ibp_conv_implicit_input_grad (bnd_layer.wtrans): it computes channels in panels of 16. */
#define CROWN_IMPLICIT_MIN_C 16
#define BND_PAR_MIN ((size_t)1 << 15)

static inline int bnd_gemm_threads(const struct ibp_bounder *b, long m, long n, long k)
{
    return (double)m * n * k >= 16.0 * BND_PAR_MIN ? b->threads : 1;
}

/* Threads for n independent chunks: at most one per context and per chunk. */
static inline int bnd_chunk_threads(const struct ibp_bounder *b, long n)
{
    int t = b->threads < b->n_ctx ? b->threads : b->n_ctx;
    return n < t ? (n > 0 ? (int)n : 1) : t;
}

/* Tests: on = 1 makes every backward pass use whole-value windows (the dense
 * computation the windows must reproduce up to float rounding). */
void ibp_bounder_set_full_windows(struct ibp_bounder *b, int on);

#endif
