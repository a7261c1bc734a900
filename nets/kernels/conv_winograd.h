/* conv_winograd.h — internal: 3x3 stride-1 convolutions as Winograd F(4x4, 3x3) on GEMMs.
 *
 * When it applies (ibp_conv_winograd_eligible): a CONV2D with kh = kw = 3, stride 1,
 * dilation 1, one group, padding 0 or 1 on each axis, at least
 * CONV_WINOGRAD_MIN_CHANNELS input and output channels, and at least half of the
 * outputs of its 4x4 tiles inside the output (Ho Wo >= 8 x tiles). Measured against
 * im2col + GEMM (2 threads, batch 64-128, forward and backward of both streams):
 * 64 to 256 channels on 28x28 .. 3x3 outputs: 1.7-3.9x faster forward, 1.3-2.7x
 * backward; 16 or 32 channels: 1-2x (even at 16 on 14x14); 5x5 outputs (39% of the
 * tile outputs used) even; 2x2 and 1x1 outputs 1.4-6x slower.
 *
 * How (Lavin & Gray 2016): the output is cut into 4x4 tiles, each read from a 6x6
 * input tile (rows/columns outside the input are zeros, output rows/columns past the
 * edge are dropped). Per tile and channel V = B^T d B, per weight U = G g G^T; then for
 * each of the 36 points xi of the 6x6 transform domain one GEMM
 * M[xi][tile][Co] = V[xi][tile][C] U[xi][C][Co], and the output tile is A^T M A.
 * Backward: dM = A dY A^T per tile; the weight gradient dU[xi] += V[xi]^T dM[xi] (V
 * recomputed from the input), dW = G^T dU G; the input gradient dV[xi] = dM[xi] U[xi]^T,
 * then B dV B^T added into the overlapping input tiles.
 *
 * Layouts: values NHWC per sample; U [36][C][Co] and its transpose; per scratch slot V [36][tiles][C]
 * and M [36][tiles][Co] for one chunk of whole samples (a fixed count per layer), dU
 * [36][C][Co]. With several chunks, whole chunks run on the threads (up to
 * CONV_WINOGRAD_SLOTS at once, one slot each: few barriers, V and M stay with one
 * core); a single chunk splits its tiles and 36 single-threaded GEMMs over the threads.
 * Every chunk is the same computation either way, and the weight gradient is summed in
 * a fixed order (chunk c into dU slot c % CONV_WINOGRAD_SLOTS, the chunks of a slot in
 * order, then the slots in order); the input gradient of overlapping tiles too (only
 * within a chunk: chunks hold whole samples). Results do not depend on the thread
 * count. */
#ifndef IBP_CONV_WINOGRAD_H
#define IBP_CONV_WINOGRAD_H

#include <stddef.h>

#include "nets/graph/net.h"

#define CONV_WINOGRAD_MIN_CHANNELS 16
/* Scratch slots: chunks in flight at once, and partial weight gradients. */
#define CONV_WINOGRAD_SLOTS 4

/* Whether CONV2D layer k runs as Winograd F(4x4, 3x3) (see above). */
int ibp_conv_winograd_eligible(const struct ibp_net *net, int k);

/* Floats of the transformed weight U of layer k (36 C Co), also the size of dU. */
size_t ibp_conv_winograd_weight_floats(const struct ibp_net *net, int k);

/* Floats of the buffer ibp_conv_winograd_weights fills: U and its transpose (72 C Co). */
size_t ibp_conv_winograd_u_floats(const struct ibp_net *net, int k);

/* Floats of one slot of each of the two chunk scratch buffers (V and M) for layer k. */
size_t ibp_conv_winograd_scratch_floats(const struct ibp_net *net, int k);

/* u [36][C][Co] = G g G^T from the packed weight wp [out][kh][kw][in], then the same
 * transposed, [36][Co][C] (the input gradient's GEMMs read it without a transpose);
 * ibp_conv_winograd_u_floats floats. The forward and backward take this u. */
void ibp_conv_winograd_weights(const struct ibp_net *net, int k, const float *wp, float *u,
                           int threads);

/* Scratch for one call, owned by the caller (the workspace): CONV_WINOGRAD_SLOTS slots
 * of ibp_conv_winograd_scratch_floats in v and in m, and of ibp_conv_winograd_weight_floats in
 * du (backward with a weight gradient only). */
struct conv_winograd_scratch {
    float *v, *m, *du;
};

/* out = conv(in) (+ bias when not NULL) for samples [0, ns), NHWC. */
void ibp_conv_winograd_forward(const struct ibp_net *net, int k, const float *in, float *out,
                           int ns, const float *u, const float *bias,
                           const struct conv_winograd_scratch *s, int threads);

/* For samples [0, ns): dwp (packed [out][kh][kw][in]) += the weight gradient when dwp is
 * not NULL, gin (NHWC) += conv^T(gout) when gin is not NULL. */
void ibp_conv_winograd_backward(const struct ibp_net *net, int k, const float *in,
                            const float *gout, float *gin, int ns, const float *u, float *dwp,
                            const struct conv_winograd_scratch *s, int threads);

#endif
