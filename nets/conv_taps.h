/* conv_taps.h — internal: the direct forward of convolutions with few taps.
 *
 * A CONV2D layer with at most CONV_FEW_TAPS taps per output (kh kw in/groups, one group,
 * not a plain 1x1) — the first layer of a grey-image net: 16 taps in cnn-small, 9 in
 * cnn7 — makes im2col + GEMM run far below BLIS's rate (K and N of 16). Such layers run
 * as a loop over the taps instead, the output channels in vector registers, four output
 * positions sharing each weight load. Used by the passes (layer_conv.c) and the bounder
 * (bounds.c). */
#ifndef IBP_CONV_TAPS_H
#define IBP_CONV_TAPS_H

#include "nets/net.h"

#define CONV_FEW_TAPS 32

/* Whether layer k is a CONV2D that runs the direct loop. */
int conv_few_taps(const struct ibp_net *net, int k);

/* wt[tap][out] from the packed weight wp[out][tap] (tap = (i, j, c) as in im2col rows). */
void conv_taps_transpose(const struct ibp_net *net, int k, const float *wp, float *wt);

/* out += conv(in) for samples [0, ns) (NHWC; no bias: the caller pre-fills out). Each
 * output is its starting value plus the taps in (i, j, c) order, one multiply and one
 * add each, whatever the CPU (AVX2 is used when present, without FMA contraction) or
 * the thread count (one task per output row). */
void conv_taps_forward(const struct ibp_net *net, int k, const float *in, float *out, int ns,
                       const float *wt, int threads);

#endif
