/* gemm.h — single-precision GEMM on BLIS, row-major, with the thread count per call.
 *
 * C[m][n] = alpha * op(A)[m][k] · op(B)[k][n] + beta * C, all row-major with leading
 * dimensions lda, ldb, ldc; op(X) = X or X^T (trans_a / trans_b nonzero).
 *
 * Thread policy: one level of parallelism, ours. The longer of m and n is cut into
 * blocks of a fixed size and OpenMP runs the blocks, each a single-threaded BLIS call
 * (BLIS's thread count is set per call through its runtime object; no global state).
 * The blocks depend only on the shape, so every output element is computed the same
 * way whatever the thread count: results do not depend on it (BLIS multithreading
 * does change them, its small-matrix path choosing kernels by thread count). */
#ifndef IBP_GEMM_H
#define IBP_GEMM_H

#include <stddef.h>

void ibp_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a,
               long lda, const float *b, long ldb, float beta, float *c, long ldc, int threads);

/* Double-precision C[m][n] = alpha * op(A) · op(B) + beta * C, same layout as ibp_sgemm,
 * as one single-threaded BLIS call: for callers that parallelise over their own blocks
 * (the domain-bound engine of branch and bound, nets/bounds/domain_bounds.c). */
void ibp_dgemm_serial(int trans_a, int trans_b, long m, long n, long k, double alpha,
                      const double *a, long lda, const double *b, long ldb, double beta,
                      double *c, long ldc);

/* Selects BLIS's kernels before first use and returns the sub-configuration's name
 * ("zen3", "skx", "haswell", ...). BLIS 0.9 picks its AVX2 kernels on Intel CPUs whose
 * brand string is masked (virtual machines) although the AVX-512 ones are faster on
 * the large GEMMs of training, and its slow portable "generic" kernels on AMD CPUs
 * newer than Zen 3 (Zen 4 EPYC, which has AVX-512); unless the user set
 * BLIS_ARCH_TYPE, this asks for the AVX-512 "skx" kernels on any CPU with
 * AVX-512F/DQ/BW/VL (other CPUs keep BLIS's own choice, e.g. "zen3" on Zen 3). Call once from a program's
 * main before threads start (it may set the BLIS_ARCH_TYPE environment variable). */
const char *ibp_blas_setup(void);

/* The sub-configuration BLIS is using now. */
const char *ibp_blas_arch(void);

/* Address space one thread's GEMMs take from BLIS's packing-block pools once warm: one
 * block of each pool (A blocks, B panels, C panels) at the pool's block size, with its
 * alignment and offset. The pools grow by a block whenever more threads pack at once
 * than blocks are free, and keep what they took, so a run on T threads takes up to T
 * times this (nets/base/memory.h). */
size_t ibp_gemm_pack_bytes(void);

#endif
