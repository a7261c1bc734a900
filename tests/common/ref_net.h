/* ref_net.h — naive double-precision reference of a network's passes, for tests.
 *
 * Straight loops in NCHW, no blocking, no GEMM: the thing the optimised engine is
 * checked against. Parameters come as doubles so that finite differences can perturb
 * them in double precision. */
#ifndef IBP_TEST_REF_NET_H
#define IBP_TEST_REF_NET_H

#include "nets/graph/net.h"

struct ref_out {
    double *logits;   /* [batch][outputs] clean pass (when x given) */
    double *lb, *ub;  /* [batch][rows] bounds (when lo/hi given) */
    int rows;
    int n_relu;
    double **relu_c;  /* [n_relu][batch][size] centres of each ReLU's input (NCHW) */
    double **relu_r;
    size_t *relu_size;
};

/* Runs the clean pass on x (may be NULL) and the IBP pass on [lo, hi] (may be NULL)
 * with params (n_params doubles; NULL: the net's own). bn_train: BN uses the batch
 * statistics of the clean pass (needs x). labels: margin spec (NULL: bounds of the
 * outputs). fold: fold the margins into a last LINEAR (else subtract output bounds:
 * lb = lb_y - ub_j). Returns 0 on success; free with ref_out_free. */
int ref_run(const struct ibp_net *net, const double *params, const double *x, const double *lo,
            const double *hi, int batch, int bn_train, const int *labels, int fold,
            struct ref_out *out);
void ref_out_free(struct ref_out *out);

/* The clean pass alone on one sample x[C*H*W] (network input layout, NCHW), BN in eval
 * form (running statistics): y[ibp_net_outputs(net)]. The reference for ONNX import and
 * export and for the external networks. Returns 0. */
int ref_forward(const struct ibp_net *net, const double *x, double *y);

/* CROWN-IBP lower bounds of the margins, lb[batch][outputs-1], with the IBP bounds of
 * the same run as intermediate bounds (nets/bounds/crown_ibp.h's method: upper line
 * u(x-l)/(u-l), lower line x when u > -l else 0, BN as the pass's affine map). The
 * net's layers must be those crown_ibp.h supports. */
int ref_crown_ibp(const struct ibp_net *net, const double *params, const double *x,
                  const double *lo, const double *hi, int batch, int bn_train, const int *labels,
                  double *lb);

/* NHWC index of NCHW element e of one sample of shape s (the engine's layout). */
size_t ref_internal_index(struct ibp_shape s, size_t e);

#endif
