/* sabr_box.h — SABR's small box (SPEC §4.9): IBP is trained on a box of lambda times the
 * input box's half-width, centred at the PGD point pulled far enough inside the box that
 * the small box fits.
 *
 * Per element, with the (clipped, normalised) box [lo, hi] and the PGD point x*:
 *   r = lambda (hi - lo) / 2,  c = clamp(x*, lo + r, hi - r),  small box [c - r, c + r].
 * SPEC writes the radius as lambda eps: that is r wherever the box is not clipped; where
 * clipping to [0, 1] narrows the box, the radius shrinks with it, so the small box always
 * exists and lies inside [lo, hi] (after rounding too: its ends are clamped to lo, hi). */
#ifndef IBP_SABR_BOX_H
#define IBP_SABR_BOX_H

#include <stddef.h>

#include "nets/base/status.h"

/* Writes lo_small, hi_small [n] from x_adv, lo, hi [n] (lo <= hi). Errors: IBP_ERR_ARG
 * (lambda outside (0, 1], lo > hi or NaN at some element, named). */
enum ibp_status ibp_sabr_box(const float *x_adv, const float *lo, const float *hi, size_t n,
                             double lambda, float *lo_small, float *hi_small,
                             struct ibp_error *err);

#endif
