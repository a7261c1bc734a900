/* exact_mlp.h — small random 2-input ReLU MLPs and their exact row ranges over the box
 * [-1, 1]^2 by enumerating activation patterns (tests of branch and bound and its LP
 * leaves, tests/verifier).
 *
 * The box is a convex polygon; going through the neurons in order, each neuron's
 * pre-activation is an affine function of x on the current polygon (the earlier
 * neurons' states fix the network there), its range on the polygon is the range over
 * the polygon's vertices (an affine function on a convex polygon), and when it changes
 * sign the polygon is clipped into its two halves. The leaves cover the box and the
 * network is affine on each, so the minimum of a row is the least value at a leaf's
 * vertices. This is exact up to double rounding (relative 1e-12 or so: a clipped
 * vertex may lie that far outside its half-plane, where the neighbouring affine piece
 * differs by as little), so properties placed a few percent of a row's range away
 * from the threshold have answers rounding cannot change. */
#ifndef IBP_TEST_EXACT_MLP_H
#define IBP_TEST_EXACT_MLP_H

#include "nets/base/rng.h"
#include "nets/graph/net.h"

enum { EXACT_MAXH = 24, EXACT_OUTS = 3, EXACT_ROWS = 2 };

/* The rows are z_0 - z_1 and z_0 - z_2 (C = exact_mlp_C). */
extern const float exact_mlp_C[EXACT_ROWS * EXACT_OUTS];

struct exact_mlp {
    int h1, h2;
    double W1[EXACT_MAXH][2], b1[EXACT_MAXH], W2[EXACT_MAXH][EXACT_MAXH], b2[EXACT_MAXH];
    double W3[EXACT_OUTS][EXACT_MAXH], b3[EXACT_OUTS];
};

/* A random net Linear(2, h1) ReLU Linear(h1, h2) ReLU Linear(h2, 3) (h1, h2 <=
 * EXACT_MAXH); m holds exactly its float parameters. NULL on failure. */
struct ibp_net *exact_mlp_make(struct ibp_rng *rng, int h1, int h2, struct exact_mlp *m);

/* The exact range [mn[r], mx[r]] of each row over the part of the box where the
 * activation pattern is pattern [h1 + h2] (+1 active, -1 inactive; NULL: the whole
 * box). Returns 0 when that part is empty (mn = +inf, mx = -inf). */
int exact_mlp_range(const struct exact_mlp *m, const signed char *pattern, double *mn,
                    double *mx);

/* The pattern of the double-precision network at x [2] into pattern [h1 + h2]. */
void exact_mlp_pattern(const struct exact_mlp *m, const double *x, signed char *pattern);

/* 1 when the float32 forward pass at x [2] gives some row (C z)_r + d_r <= 0. */
/* Offsets d[EXACT_ROWS] that put each row's exact minimum mn[r] a fraction frac of its
 * range (mx - mn) above 0, except row sat_row (-1: none), put that far below 0; returns
 * 1 when the property "every row > 0" then holds (the exact answer unsat). */
int exact_mlp_offsets(const double *mn, const double *mx, double frac, int sat_row, float *d);

int exact_mlp_violated(const struct ibp_net *net, const float *d, const float *x);

#endif
