/* ref_bounds.h — naive double-precision references for the bounder's tests.
 *
 * ref_ibp_outward: IBP in interval arithmetic on doubles, every operation rounded
 * outward with nextafter, NCHW loops, the margins z_y - z_j folded into a last LINEAR
 * (as intervals of W_y - W_j). Its lower bounds are at most the real-arithmetic IBP
 * bounds, so a sound float bound must not exceed them (up to double rounding, which is
 * far below float's).
 *
 * ref_affine_exact: for a network without ReLU/MaxPool (an affine map f(x) = A x + c),
 * the exact lower bound of each margin over the box, with A found from the double
 * reference forward pass at the unit vectors. CROWN is exact on such nets. */
#ifndef IBP_TEST_REF_BOUNDS_H
#define IBP_TEST_REF_BOUNDS_H

#include "nets/graph/net.h"

/* lb[batch][outputs-1] for labels (one label per sample) over [lo, hi] (NCHW). */
void ref_ibp_outward(const struct ibp_net *net, const double *lo, const double *hi, int batch,
                     const int *labels, double *lb);

/* lb[batch][outputs-1] exact margins' minimum; the net must be affine. */
void ref_affine_exact(const struct ibp_net *net, const double *lo, const double *hi, int batch,
                      const int *labels, double *lb);

#endif
