/* conv_taps.h — internal: the direct forward and weight gradient of convolutions with
 * few taps.
 *
 * A CONV2D layer with at most CONV_FEW_TAPS taps per output (kh kw in/groups, one group,
 * not a plain 1x1) — the first layer of a grey-image net: 16 taps in cnn-small, 9 in
 * cnn7 — makes im2col + GEMM run far below BLIS's rate (K and N of 16). Such layers run
 * as a loop over the taps instead, the output channels in vector registers, six output
 * positions sharing each weight load; the weight gradient likewise, a block of taps x 16
 * output channels in registers while the positions stream through. Used by the passes
 * (layer_conv.c) and the bounder (bounds.c). */
#ifndef IBP_CONV_TAPS_H
#define IBP_CONV_TAPS_H

#include "nets/graph/net.h"

#define CONV_FEW_TAPS 32

/* Whether layer k is a CONV2D that runs the direct loop. */
int ibp_conv_few_taps(const struct ibp_net *net, int k);

/* wt[tap][out] from the packed weight wp[out][tap] (tap = (i, j, c) as in im2col rows). */
void ibp_conv_taps_transpose(const struct ibp_net *net, int k, const float *wp, float *wt);

/* Floats of scratch ibp_conv_taps_forward needs per chunk of ns samples (a zero-padded copy
 * of their input). */
size_t ibp_conv_taps_scratch_floats(const struct ibp_net *net, int k, int ns);

/* out = conv(in) for samples [0, ns) (NHWC), each output starting from bias[o] (zero
 * when bias is NULL), or from its value in out when accumulate is set. scratch (owned by
 * the caller) holds scratch_floats >= ibp_conv_taps_scratch_floats(net, k, 1) floats; the
 * samples are processed in chunks that fit in it. Each output is its starting value
 * plus the taps in (i, j, c) order, one multiply and one add each, whatever the CPU
 * (AVX2 is used when present, without FMA contraction), the scratch size or the thread
 * count (each output is computed by one thread). */
void ibp_conv_taps_forward(const struct ibp_net *net, int k, const float *in, float *out, int ns,
                       const float *wt, const float *bias, int accumulate, float *scratch,
                       size_t scratch_floats, int threads);

/* dwp [out][tap] += the weight gradient of samples [0, ns): the sum over their output
 * positions of gout (NHWC) times the input taps. scratch (owned by the caller) holds
 * scratch_floats >= ibp_conv_taps_weight_grad_floats(net, k) (the gradient, transposed while
 * it is summed) + ibp_conv_taps_scratch_floats(net, k, 1) floats. Each element is summed by
 * one thread, dwp's value first, then the positions in order, one multiply and one add
 * each, whatever the CPU, scratch size or thread count. */
size_t ibp_conv_taps_weight_grad_floats(const struct ibp_net *net, int k);
void ibp_conv_taps_weight_grad(const struct ibp_net *net, int k, const float *in, const float *gout,
                           int ns, float *dwp, float *scratch, size_t scratch_floats,
                           int threads);

#endif
