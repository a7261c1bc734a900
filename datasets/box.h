/* box.h — the input box of SPEC §1, computed in this one place for trainer and verifier.
 *
 * For pixels x in [0,1] and a radius ε in pixel units:
 *   centre  x_n = (x − mean_c) / std_c
 *   lower   lo  = (clip(x − ε, 0, 1) − mean_c) / std_c
 *   upper   hi  = (clip(x + ε, 0, 1) − mean_c) / std_c
 * per channel c. With mean 0 and std 1 this is the pixel-space box. Where clipping bites
 * the centre is not the middle of [lo, hi]. */
#ifndef IBP_DATASETS_BOX_H
#define IBP_DATASETS_BOX_H

#include <stdint.h>

#include "nets/base/status.h"

/* x, xn, lo, hi: [n][c][plane] (plane = h·w); mean, std: [c]. Each output is computed in
 * double precision from the float inputs and rounded once to float, so it is within half
 * an ulp (plus the tiny double error) of the exact value. Any of xn, lo, hi may be NULL
 * when not wanted; xn may alias x (computed in place). ε = 0 gives lo = hi = xn.
 * Errors: IBP_ERR_ARG for n, c or plane < 1, ε negative or not finite, or a std that is
 * not positive and finite (naming the channel); IBP_ERR_NUMERIC for a pixel outside [0,1]
 * or NaN (naming its position). Outputs may be partly written when this fails. */
enum ibp_status ibp_box_compute(const float *x, int64_t n, int c, int64_t plane, double eps,
                                const float *mean, const float *std, float *xn, float *lo,
                                float *hi, struct ibp_error *err);

#endif
