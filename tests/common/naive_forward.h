/* naive_forward.h — a plain double-precision forward pass over a network, the tests'
 * reference for ONNX import and export (BN in eval form, running statistics). */
#ifndef IBP_TEST_NAIVE_FORWARD_H
#define IBP_TEST_NAIVE_FORWARD_H

#include "nets/graph/net.h"

/* y[ibp_net_outputs(net)] from one sample x[C*H*W] (network input layout). Returns 0,
 * or -1 when out of memory. */
int naive_forward(const struct ibp_net *net, const double *x, double *y);

#endif
