/* sound_fp.h — internal: the floating-point error model of the sound bound methods
 * (SPEC §6), in one audited place. Every rounding-error allowance the bounder adds is
 * one of the functions below; nets/bounds/bounds.c and nets/bounds/crown.c only call them.
 *
 * Assumptions (the preprocessor checks below refuse a fast-math build (__FAST_MATH__)
 * and excess-precision evaluation (FLT_EVAL_METHOD != 0); meson builds in C11 ISO mode,
 * where gcc does not contract C expressions into FMAs):
 *   A1. Every float/double operation (+ - * / sqrt), in C and inside BLIS, is IEEE 754
 *       round-to-nearest in its own precision, or is exact, or is a fused multiply-add
 *       (one rounding of the exact a*b+c). Gradual underflow (no flush-to-zero).
 *   A2. Model of one rounding (Higham, "Accuracy and Stability of Numerical
 *       Algorithms", 2nd ed., §2.2, eq. 2.8 with underflow): fl(a op b) =
 *       (a op b)(1 + d) + e with |d| <= u, |e| <= eta/2, d*e = 0, u = 2^-24 and
 *       eta = 2^-149 for float (e = 0 for + and -, which are exact when the result is
 *       subnormal). For double u_d = 2^-53; the double quantities below are sums of
 *       products of two floats, which are exact in double (48 significant bits, and
 *       exponents far from double's under/overflow), so only the additions round.
 *
 * Proofs are next to each function. Overflow: a rounded result of +-inf is still a
 * valid bound in the outward direction (fp_up/fp_dn keep it); a NaN anywhere makes
 * the bounder return -inf for the affected bound, which is always sound. */
#ifndef IBP_SOUND_FP_H
#define IBP_SOUND_FP_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#if defined(__FAST_MATH__)
#error "sound bounds need IEEE arithmetic: do not build with fast-math or -O fast"
#endif
#if FLT_EVAL_METHOD != 0
#error "sound bounds assume float/double expressions are evaluated in their own precision"
#endif
#include <string.h>

#define FP_U 0x1p-24f      /* unit roundoff of float */
#define FP_ETA 0x1p-149f   /* smallest positive subnormal float */
#define FP_UD 0x1p-53      /* unit roundoff of double */

/* The next float above x (x unchanged when +inf or NaN).
 * Claim R1: if x = fl(z) for a real z (one rounding to nearest), then
 * fp_dn(x) <= z <= fp_up(x). Proof: z rounds to x, so z is no farther from x than from
 * the neighbouring floats fp_dn(x), fp_up(x); hence it lies between them. On overflow
 * x = +inf, z >= FLT_MAX = fp_dn(+inf); symmetric for -inf. */
static inline float fp_up(float x)
{
    if (!(x < INFINITY))
        return x;
    if (x == 0.0f)
        return FP_ETA;
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    b = x > 0.0f ? b + 1 : b - 1; /* magnitude up for x > 0, down for x < 0 */
    memcpy(&x, &b, sizeof b);
    return x;
}

/* The next float below x. */
static inline float fp_dn(float x)
{
    return -fp_up(-x);
}

/* Double versions (R1 holds for double with the same proof). */
static inline double fp_dup(double x)
{
    return nextafter(x, INFINITY);
}

static inline double fp_ddn(double x)
{
    return nextafter(x, -INFINITY);
}

/* A double rounded to a float below / above it (one conversion: R1, plus the exact
 * case where the conversion does not round). */
static inline float fp_to_float_dn(double d)
{
    float f = (float)d;
    return (double)f > d ? fp_dn(f) : f;
}

static inline float fp_to_float_up(double d)
{
    float f = (float)d;
    return (double)f < d ? fp_up(f) : f;
}

/* R2 (a radius around a centre). For floats lo <= hi and a float c, the float
 * r = fp_radius_up(lo, hi, c) satisfies c - r <= lo and hi <= c + r in the reals.
 * Proof: fl(hi - c) is one rounding, so fp_up of it is >= hi - c (R1), likewise for
 * c - lo; fmaxf is exact and the final fp_up only widens. When lo = hi = c, finite, the
 * box is the single point c and r = 0 holds exactly. That case (the bounds of a ReLU
 * that is off on the whole box) would otherwise get r = 2 eta, a subnormal, and
 * subnormal operands make every later product of it slow on some CPUs (Intel's FMA
 * takes a microcode assist for each). */
static inline float fp_radius_up(float lo, float hi, float c)
{
    if (lo == hi && c == lo && isfinite(c))
        return 0.0f;
    return fp_up(fmaxf(fp_up(hi - c), fp_up(c - lo)));
}

/* gamma_n = n u / (1 - n u) for float, as a double rounded up, and its forward
 * variant g_n = gamma_n / (1 - gamma_n) = n u / (1 - 2 n u). Needs 2 n u < 1
 * (n < 2^23), checked at creation (fp_gamma_ok). The formulas are evaluated in double
 * (relative error below 2^-50) and the results moved up by 2^-40 relative, far more
 * than that error. */
static inline int fp_gamma_ok(long n)
{
    return n > 0 && n < (1L << 22);
}

static inline double fp_gamma(long n)
{
    double nu = (double)n * 0x1p-24;
    return nu / (1.0 - nu) * (1.0 + 0x1p-40);
}

static inline double fp_gamma_fwd(long n)
{
    double nu = (double)n * 0x1p-24;
    return nu / (1.0 - 2.0 * nu) * (1.0 + 0x1p-40);
}

/* E1 (forward dot products). Let s = sum_{i<n} a_i b_i be computed in float by any
 * summation order (a GEMM, possibly with FMAs, possibly accumulating into a
 * pre-filled bias counted as one of the n terms), and let S be the float value of
 * sum_i |a_i||b_i| computed the same way. Then
 *     |fl(s) - s| <= g_n S + 2 n eta,   g_n = fp_gamma_fwd(n).
 * Proof: by A2 each term undergoes at most n roundings (its product and at most n-1
 * additions), so fl(s) = sum a_i b_i (1 + t_i) + sum e_i (1 + t'_i) with |t_i| <=
 * gamma_n and |e_i| <= eta/2 (Higham Lemma 3.1 / §3.1): |fl(s) - s| <= gamma_n T +
 * n eta, T = sum |a_i b_i| (gamma_n <= 1). The same for the non-negative sum gives
 * S >= (1 - gamma_n) T - n eta, i.e. T <= (S + n eta) / (1 - gamma_n). Together:
 * |fl(s) - s| <= g_n S + n eta (g_n + 1) <= g_n S + 2 n eta for g_n <= 1.
 * g is fp_gamma_fwd(n) rounded up to float, tiny = 2 n eta (exact in float for
 * n < 2^23). The evaluation rounds each step up (R1). */
static inline float fp_dot_err(float S, float g, float tiny)
{
    return fp_up(fp_up(g * S) + tiny);
}

/* E1 again: a real non-negative sum T whose float evaluation gave S satisfies
 * T <= S + fp_dot_err(S, g, tiny) (from T <= (S + n eta)/(1 - gamma_n) <= S + g_n S +
 * 2 n eta). */
static inline float fp_sum_up(float S, float g, float tiny)
{
    return fp_up(S + fp_dot_err(S, g, tiny));
}

/* E2 (double sums of n exact terms). If d is the double sum (any order) of n >= 1
 * non-negative doubles each exact, their real sum T satisfies
 *     T <= d (1 + (4n + 4) u_d)  (rounded up).
 * Proof: d >= T (1 - gamma_n^d) (Higham 3.1, terms exact), so T <= d / (1 - gamma_n^d)
 * <= d (1 + 2 gamma_n^d) <= d (1 + 4 n u_d) for n u_d <= 1/4; the +4 and fp_dup cover
 * the rounding of the product, and (4n+4) u_d is exact, as is 1 + (4n+4) u_d for
 * n < 2^48. */
static inline double fp_dsum_up(double d, long n)
{
    return fp_dup(d * (1.0 + (double)(4 * n + 4) * FP_UD));
}

/* E3 (signed double sums). If s is the double sum of n exact terms and a the double
 * sum of their absolute values (same order or not), the real sum is at least
 *     s - 2 n u_d * fp_dsum_up(a, n)   (rounded down).
 * Proof: |fl(s) - s_real| <= gamma_n^d sum|t_i| <= 2 n u_d T_abs (n u_d <= 1/2), and
 * T_abs <= fp_dsum_up(a, n) by E2. The product and difference round outward (R1). */
static inline double fp_dsum_lower(double s, double a, long n)
{
    double e = fp_dup((double)(2 * n) * FP_UD * fp_dsum_up(a, n));
    return fp_ddn(s - e);
}

/* E4 (outward sums of two doubles that are bounds themselves). */
static inline double fp_dadd_dn(double a, double b)
{
    return fp_ddn(a + b);
}

/* E5 (a per-channel affine map y = s x + t whose real s, t are given by rounded
 * formulas). Interval [s_lo, s_hi] x [t_lo, t_hi] holding the real coefficients, and
 * s_mid, the float s used in products with it. */
struct fp_affine {
    float s_mid, s_lo, s_hi, t_lo, t_hi;
};

/* BatchNorm: s = gamma / sqrt(var + eps), t = beta - mean s, real arithmetic on the
 * stored floats. Each step is one rounding, bracketed by R1; monotonicity of sqrt and
 * of x -> gamma/x (x > 0) and of the product in each argument gives the enclosures.
 * Returns 0 when var + eps is not positive (no real s). */
static inline int fp_bn_affine(float gamma, float beta, float mean, float var, float eps,
                               struct fp_affine *a)
{
    float q = var + eps, q_lo = fp_dn(q), q_hi = fp_up(q);
    if (!(q_lo > 0.0f))
        return 0;
    float r_lo = fp_dn(sqrtf(q_lo)), r_hi = fp_up(sqrtf(q_hi));
    if (!(r_lo > 0.0f))
        r_lo = FP_ETA;
    a->s_mid = gamma / sqrtf(q);
    if (gamma >= 0.0f) {
        a->s_lo = fp_dn(gamma / r_hi);
        a->s_hi = fp_up(gamma / r_lo);
    } else {
        a->s_lo = fp_dn(gamma / r_lo);
        a->s_hi = fp_up(gamma / r_hi);
    }
    /* mean * s over s in [s_lo, s_hi]: extremes at the ends */
    float p1 = mean * a->s_lo, p2 = mean * a->s_hi;
    float p_lo = fp_dn(p1 < p2 ? p1 : p2), p_hi = fp_up(p1 < p2 ? p2 : p1);
    a->t_lo = fp_dn(beta - p_hi);
    a->t_hi = fp_up(beta - p_lo);
    return 1;
}

/* Normalize: y = (x - mean) / sd as s = 1/sd, t = -mean/sd (one rounding each, R1).
 * Returns 0 for sd == 0. */
static inline int fp_normalize_affine(float mean, float sd, struct fp_affine *a)
{
    if (sd == 0.0f)
        return 0;
    float s = 1.0f / sd, t = -mean / sd;
    a->s_mid = s;
    a->s_lo = fp_dn(s);
    a->s_hi = fp_up(s);
    a->t_lo = fp_dn(t);
    a->t_hi = fp_up(t);
    return 1;
}

/* Bounds of y = s x + t for real s, t, x in their intervals: the product is bilinear,
 * so its extremes are among the four corner products (each bracketed by R1), then the
 * sum with t's end rounds outward. */
static inline void fp_affine_apply(const struct fp_affine *a, float l, float u, float *yl,
                                   float *yu)
{
    float c1 = a->s_lo * l, c2 = a->s_lo * u, c3 = a->s_hi * l, c4 = a->s_hi * u;
    float mn = fminf(fminf(c1, c2), fminf(c3, c4)), mx = fmaxf(fmaxf(c1, c2), fmaxf(c3, c4));
    *yl = fp_dn(fp_dn(mn) + a->t_lo);
    *yu = fp_up(fp_up(mx) + a->t_hi);
}

/* Backward through the affine map with a float multiplier lam: the bounder forms
 * lam' = fl(lam s_mid) and must cover |lam s - lam'| for every real s in
 * [s_lo, s_hi]: |lam| |s - s_mid| + |lam s_mid - fl(lam s_mid)| <= |lam| dev + eta/2
 * with dev = max(s_hi - s_mid, s_mid - s_lo) + u |s_mid| (A2), rounded up. */
static inline float fp_affine_dev(const struct fp_affine *a)
{
    float d1 = fp_up(a->s_hi - a->s_mid), d2 = fp_up(a->s_mid - a->s_lo);
    return fp_up(fmaxf(d1, d2) + fp_up(FP_U * fabsf(a->s_mid)));
}

/* E6 (upper ReLU relaxation with a rounded slope). For an unstable neuron (l < 0 < u)
 * any float slope k in [0, 1] gives a valid upper line k x + b on [l, u] as soon as
 * the line lies above ReLU at both ends (ReLU is convex): b >= u - k u and b >= -k l.
 * The returned b rounds each term up (R1); k = fl(u / (u - l)) makes b the standard
 * intercept -k l up to rounding. */
static inline float fp_relu_upper_icpt(float k, float l, float u)
{
    float b1 = fp_up(u - fp_dn(k * u)), b2 = fp_up(-fp_dn(k * l));
    return fmaxf(b1, b2);
}

#endif
