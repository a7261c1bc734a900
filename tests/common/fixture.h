/* fixture.h — small random networks covering every layer kind, for the engine tests. */
#ifndef IBP_TEST_FIXTURE_H
#define IBP_TEST_FIXTURE_H

#include "nets/graph/net.h"
#include "nets/base/rng.h"

enum { FIXTURE_COUNT = 4 };

/* Network i (0..FIXTURE_COUNT-1) with random parameters and buffers from rng:
 * 0: normalize, conv, BN, relu, grouped strided conv, maxpool, flatten, linear+BN;
 * 1: residual block (conv-BN-relu-conv-BN + identity, add, relu), avgpool, 1x1 conv;
 * 2: dilated conv, avgpool with padding (not counted), MLP head;
 * 3: MLP on a vector input with BN. */
struct ibp_net *fixture_net(int i, struct ibp_rng *rng);
const char *fixture_name(int i);

/* A network from specs with the fixtures' random parameters and buffers (aborts on a
 * spec that does not build). */
struct ibp_net *fixture_build(struct ibp_shape in, const struct ibp_layer_spec *s, int n,
                              struct ibp_rng *rng);

/* A batch of random inputs x in [0, 1), the boxes [x - eps, x + eps] (clipped to [0, 1]
 * when clip) in float and the same values in double, and random labels. */
struct fixture_data {
    size_t n; /* batch * input size */
    float *x, *lo, *hi;
    double *xd, *lod, *hid;
    int *labels; /* [batch] */
};
void fixture_data_make(const struct ibp_net *net, int batch, double eps, int clip,
                       struct ibp_rng *rng, struct fixture_data *d);
void fixture_data_free(struct fixture_data *d);

/* uniform in [a, b) */
double fixture_uniform(struct ibp_rng *rng, double a, double b);

/* Kernel tests' plain random floats: uniform in [-0.5, 0.5) from a small LCG whose
 * state *seed advances; fixture_random_floats returns n of them (malloc'd, the caller
 * frees), fixture_copy_floats a malloc'd copy of src[0, n). */
float fixture_frand(unsigned *seed);
float *fixture_random_floats(size_t n, unsigned *seed);
float *fixture_copy_floats(const float *src, size_t n);

/* *worst = max(*worst, |got - want| / scale), the error relative to a scale such as a
 * sum of |products|; a NaN error is kept, so it fails any tolerance. */
void fixture_track_error(double got, double want, double scale, double *worst);

#endif
