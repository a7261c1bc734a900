#include "nets/gemm.h"

#include <blis.h>
#include <stdlib.h>

/* Rows (or columns) per block: fixed, so the blocks, and with them every BLIS call,
 * are the same whatever the thread count. */
#define GEMM_BLOCK 512

static void sgemm_one(int trans_a, int trans_b, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *b, long ldb, float beta, float *c,
                      long ldc)
{
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    /* row-major op(A)[m][k]: element (i,p) at a[i*lda + p], or a[p*lda + i] transposed */
    inc_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    inc_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (float *)a, rsa, csa,
                 (float *)b, rsb, csb, &beta, c, ldc, 1, NULL, &rntm);
}

void ibp_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a,
               long lda, const float *b, long ldb, float beta, float *c, long ldc, int threads)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++)
                c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    /* BLIS's results depend on the kernels it picks, and those on the thread count, so
     * the threads here are ours: the longer of m and n is cut into fixed blocks, each
     * block one single-threaded BLIS call. k is never cut. */
    int split_rows = m >= n;
    long len = split_rows ? m : n, nblocks = (len + GEMM_BLOCK - 1) / GEMM_BLOCK;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(dynamic)
    for (long blk = 0; blk < nblocks; blk++) {
        long s = blk * GEMM_BLOCK, e = s + GEMM_BLOCK < len ? s + GEMM_BLOCK : len;
        if (split_rows)
            sgemm_one(trans_a, trans_b, e - s, n, k, alpha, trans_a ? a + s : a + s * lda, lda, b,
                      ldb, beta, c + s * ldc, ldc);
        else
            sgemm_one(trans_a, trans_b, m, e - s, k, alpha, a, lda, trans_b ? b + s * ldb : b + s,
                      ldb, beta, c + s, ldc);
    }
}

const char *ibp_blas_setup(void)
{
    /* BLIS 0.9 reads BLIS_ARCH_TYPE as a numeric arch_t; 0 is BLIS_ARCH_SKX. */
    if (!getenv("BLIS_ARCH_TYPE") && __builtin_cpu_is("intel") &&
        __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        setenv("BLIS_ARCH_TYPE", "0", 0);
    bli_init();
    return ibp_blas_arch();
}

const char *ibp_blas_arch(void)
{
    bli_init();
    return bli_arch_string(bli_arch_query_id());
}
