/* conv_implicit.h — internal: convolutions on NHWC values as an implicit GEMM (no im2col
 * matrix in memory), for small and medium layers where im2col + BLIS spends much of its
 * time building, packing and scattering the column matrix.
 *
 * Geometry: one group, dilation 1, any kernel size, stride and padding with
 * Ho = (H + 2 ph - kh) / sh + 1 >= 1 and Wo likewise. K = kh kw C taps per output, each
 * kernel row i contributing one run of L = kw C taps.
 *
 * How: samples are processed in chunks of a fixed number of samples (ibp_conv_implicit_chunk,
 * a function of the geometry and ns only). A chunk of the input is copied into a
 * zero-padded buffer pad [chunk][Hp][Wp][C], Hp = (Ho - 1) sh + kh, Wp = (Wo - 1) sw + kw,
 * so that every tap of every output lies inside it: the im2col row of output (n, oh, ow)
 * is then the kh runs of L floats at pad + ((n Hp + oh sh + i) Wp + ow sw) C. Two
 * register-blocked micro-kernels work on that, with R = 6 rows of two 8-float
 * accumulators (AVX2) or R = 12 rows of one 16-float accumulator (AVX-512):
 *   tile           R positions x 16 channels, reduced over runs of contiguous floats
 *                  against a packed weight panel [taps][16] (broadcast inputs), then
 *                  stored or added. The forward runs it on the kh runs of L input taps
 *                  per output. The input gradient runs it as a gather: input rows ih
 *                  with (ih + ph) mod sh = rh (a phase; likewise along w) take kernel
 *                  rows rh, rh + sh, ... from consecutive output rows, so each of the
 *                  sh sw phases is a stride-1 correlation of the output gradient (a
 *                  chunk of it copied into a zero-padded buffer) with the phase's
 *                  flipped sub-kernel: R input positions x 16 input channels reduced
 *                  over about kh kw Co / (sh sw) gradients, added into gin once;
 *   weight grad.   16 taps of one kernel row x R output channels, reduced over the
 *                  positions of a block of whole samples (about 64 positions; 16 taps
 *                  loaded from pad, 6 gradients broadcast), then added into dwp.
 * Partial tiles recompute a valid neighbour and store only the valid results; channels
 * not a multiple of 16 (Co forward, C input gradient) use zero columns in the packed
 * weight; runs of L not a multiple of 16 read (weight gradient) a few floats past their
 * end, which the scratch's slack keeps inside it, and drop the results.
 *
 * Threads and determinism: every output element is computed by one thread in an order
 * fixed by the geometry and ns (forward and input gradient: one tile; weight gradient:
 * each tile by one thread, the sums over its sample blocks added into dwp block by
 * block). Results are bit-identical for any thread count. Threads split the tiles of a
 * chunk evenly; one barrier or two per chunk. The input gradient computes channels in
 * panels of 16: with few input channels most lanes are wasted. The AVX-512 and AVX2+FMA
 * kernels (chosen at run time) compute each element as the same chain of fused
 * multiply-adds, so they agree bit for bit; the portable ones (no fusing) agree up to
 * rounding. */
#ifndef IBP_CONV_IMPLICIT_H
#define IBP_CONV_IMPLICIT_H

#include <stddef.h>

#include "nets/kernels/conv.h"

/* Geometry: struct ibp_conv_geom (conv.h), one group and dilation 1; its `isa` limits
 * which micro-kernels run (tests): AVX-512 (16 lanes, 12-row tiles), AVX2+FMA (8 lanes,
 * 6-row tiles; bit-identical to AVX-512), portable (no fused multiply-add: equal up to
 * rounding). Which layers run here: ibp_conv_lowering (conv.h). */

/* Floats of the packed weight (both layouts below, one after the other). */
size_t ibp_conv_implicit_packed_floats(const struct ibp_conv_geom *g);

/* packed = wp [Co][kh][kw][C] (the project's packed layout, row-major) rearranged for the
 * kernels, overwriting packed (ibp_conv_implicit_packed_floats floats, caller-owned):
 *   forward [ceil(Co/16) panels][K][16 outputs], columns past Co zero;
 *   then the input gradient, phase after phase (rh, rw) in row-major order,
 *   [ceil(C/16) panels][ka][kb][Co][16 inputs] with ka = ceil((kh - rh) / sh) kernel
 *   rows rh + (ka - 1 - a) sh (flipped; kb likewise), columns past C zero.
 * Repack whenever wp changes. */
void ibp_conv_implicit_pack(const struct ibp_conv_geom *g, const float *wp, float *packed);

/* Samples per chunk for a call with ns samples (at least 1 when ns >= 1, never more than
 * ns, nondecreasing in ns). The weight gradient's sample blocks start at chunk starts. */
int ibp_conv_implicit_chunk(const struct ibp_conv_geom *g, int ns);

/* Floats of scratch any of the three calls below needs for at most ns samples: one chunk
 * of the padded input (or of the padded output gradient) and 16 floats of slack. It does
 * not depend on the thread count. The contents need not be initialised and are
 * overwritten. */
size_t ibp_conv_implicit_scratch_floats(const struct ibp_conv_geom *g, int ns);

/* out [ns][Ho][Wo][Co] = conv(in [ns][H][W][C]) + bias (bias [Co], or NULL: zero),
 * overwriting out. packed: from ibp_conv_implicit_pack. */
void ibp_conv_implicit_forward(const struct ibp_conv_geom *g, const float *in, float *out,
                           int ns, const float *packed, const float *bias, float *scratch,
                           int threads);

/* gin [ns][H][W][C] += conv^T(gout [ns][Ho][Wo][Co]), the gradient with respect to the
 * input (accumulated into what gin holds: each element gets one addition of its whole
 * sum). packed: from ibp_conv_implicit_pack. Any ns (e.g. the rows of a backward bound
 * pass). */
void ibp_conv_implicit_input_grad(const struct ibp_conv_geom *g, const float *gout,
                              float *gin, int ns, const float *packed, float *scratch,
                              int threads);

/* dwp [Co][kh][kw][C] += sum over samples and output positions of gout (x) the input
 * taps, the gradient with respect to the weight (accumulated: the sum over each block
 * of samples is added in turn). */
void ibp_conv_implicit_weight_grad(const struct ibp_conv_geom *g, const float *in,
                               const float *gout, int ns, float *dwp, float *scratch,
                               int threads);

#endif
