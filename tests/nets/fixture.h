/* fixture.h — small random networks covering every layer kind, for the engine tests. */
#ifndef IBP_TEST_FIXTURE_H
#define IBP_TEST_FIXTURE_H

#include "nets/net.h"
#include "nets/rng.h"

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

/* uniform in [a, b) */
double fixture_uniform(struct ibp_rng *rng, double a, double b);

#endif
