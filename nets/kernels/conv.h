/* conv.h — the one entry point to convolutions: their geometry, which lowering runs each
 * layer, the weight packing, im2col and the chunk size shared by the lowerings.
 *
 * Layout: values are NHWC per sample; a weight is packed from PyTorch's OIHW to
 * [out][kh][kw][in/groups], the order of an im2col row, so W x is a GEMM of im2col rows
 * against packed rows.
 *
 * The lowering rule (ibp_conv_lowering), in order, for CONV2D layer k:
 *   1. few taps (kh kw C <= CONV_FEW_TAPS, one group, not a plain 1x1): a direct loop
 *      over the taps (conv_taps.h), in the passes and in the bounder;
 *   2. Winograd-eligible (ibp_conv_winograd_eligible: 3x3, stride 1, dilation 1, one group,
 *      padding 0 or 1, 16+ channels in and out, tiles mostly inside the output):
 *      the passes run Winograd F(4x4, 3x3) (conv_winograd.h) unless the workspace turns
 *      it off; the bounder runs im2col + GEMM (every output a plain dot product, whose
 *      rounding error sound mode bounds; Winograd's transforms have no such bound);
 *   3. one group, dilation 1, not a plain 1x1: implicit GEMM (conv_implicit.h), in the
 *      passes and in the bounder;
 *   4. a plain 1x1 (stride 1, no padding, one group): the passes run one GEMM on the input
 *      as it is; the bounder builds its (trivial) im2col;
 *   5. anything else (groups > 1, dilation): im2col + one GEMM per group.
 * The rule is the same in float and in sound mode: the bounder's float IBP runs through
 * the passes, its CROWN methods and all of sound mode through the bounder. */
#ifndef IBP_CONV_H
#define IBP_CONV_H

#include <stddef.h>

#include "nets/base/cpu.h"
#include "nets/graph/net.h"

/* Geometry of one convolution (per sample). */
struct ibp_conv_geom {
    int H, W, C;       /* input */
    int Ho, Wo, Co;    /* output */
    int kh, kw, sh, sw, ph, pw, dh, dw, groups;
    int cg, og;        /* channels per group in / out */
    long K;            /* kh * kw * cg: the length of an im2col row */
    enum ibp_isa isa;  /* the most the kernels may use (tests); IBP_ISA_BEST: the CPU's */
};

/* The geometry of CONV2D layer k. */
struct ibp_conv_geom ibp_conv_geom_of(const struct ibp_net *net, int k);

/* 1x1, stride 1, no padding, one group: the input rows are already the im2col rows. */
int ibp_conv_plain_1x1(const struct ibp_conv_geom *g);

enum ibp_conv_lowering {
    IBP_CONV_FEW_TAPS,
    IBP_CONV_WINOGRAD,
    IBP_CONV_IMPLICIT,
    IBP_CONV_DIRECT_GEMM, /* a plain 1x1: one GEMM on the input */
    IBP_CONV_IM2COL,
};

/* Who runs the layer: the lowerings differ only for rules 2 and 4 above. */
enum ibp_conv_user {
    IBP_CONV_FOR_PASSES,
    IBP_CONV_FOR_BOUNDER,
};

/* The lowering of CONV2D layer k for `user` (the rule above). */
enum ibp_conv_lowering ibp_conv_lowering(const struct ibp_net *net, int k,
                                         enum ibp_conv_user user);

/* packed [out][kh][kw][in/g] = w [out][in/g][kh][kw] (and wabs = |packed| when not NULL),
 * split over `threads`. */
void ibp_conv_pack_weight(const struct ibp_net *net, int k, const float *w, float *packed,
                          float *wabs, int threads);

/* Floats of one im2col chunk: about 16 MiB of whole samples. */
#define IBP_CONV_COL_TARGET_FLOATS ((size_t)4 << 20)

/* Samples per im2col chunk: IBP_CONV_COL_TARGET_FLOATS worth of whole samples, at least
 * 1, at most max_batch. Fixed by the shape, so sums over chunks do not depend on the
 * batch split or the thread count. */
int ibp_conv_chunk_samples(const struct ibp_conv_geom *g, int max_batch);

/* col [(n, oh, ow)][(i, j, c)] (ns Ho Wo rows of K floats) for samples [0, ns) of `in`
 * (NHWC), group `grp`; zero where a tap falls in the padding. Split over `threads` by
 * output rows; the result does not depend on them. */
void ibp_conv_im2col(const struct ibp_conv_geom *g, const float *in, int ns, int grp,
                     float *col, int threads);

#endif
