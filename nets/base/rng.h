/* rng.h — the one random number generator of the project.
 *
 * xoshiro256** with an explicit state: no hidden global state, so a caller can save and
 * restore it (training resume) and give each consumer its own stream. Seeding goes
 * through splitmix64, so any 64-bit seed (and any stream number) gives a good state. */
#ifndef IBP_RNG_H
#define IBP_RNG_H

#include <stdint.h>

struct ibp_rng {
    uint64_t s[4];
};

/* Seeds rng from (seed, stream): different streams of one seed are independent. */
void ibp_rng_seed(struct ibp_rng *rng, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
uint64_t ibp_rng_next(struct ibp_rng *rng);

/* Uniform in [0, 1) with 53 random bits. */
double ibp_rng_uniform(struct ibp_rng *rng);

/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t ibp_rng_below(struct ibp_rng *rng, uint64_t n);

/* Standard normal N(0,1) (Box-Muller on two uniforms; no cached second value, so the
 * state alone determines the sequence). */
double ibp_rng_normal(struct ibp_rng *rng);

/* Fisher-Yates shuffle of idx[0..n). */
void ibp_rng_shuffle(struct ibp_rng *rng, int32_t *idx, int64_t n);

#endif
