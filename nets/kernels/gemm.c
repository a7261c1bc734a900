#include "nets/base/cpu.h"
#include "nets/kernels/gemm.h"

#include <blis.h>
#include <stdio.h>
#include <stdlib.h>

/* Target rows (or columns) per block. The blocks are fixed by the shape alone, so they,
 * and with them every BLIS call, are the same whatever the thread count. */
#define GEMM_BLOCK 512
/* Blocks are multiples of this (BLIS's micro-tiles are 6x16 / 16x6 here). */
#define GEMM_ALIGN 16

/* Number of blocks and rows per block for a dimension of length len: about GEMM_BLOCK
 * each, equal sizes, and an even count whenever the blocks stay at least GEMM_ALIGN
 * long, so that two threads (the common case) get the same work: a 576-column GEMM
 * cut 512 + 64 would leave one thread idle most of the time. */
static void gemm_blocks(long len, long *nblocks, long *bsize)
{
    long nb = (len + GEMM_BLOCK - 1) / GEMM_BLOCK;
    if (nb % 2 == 1 && len >= 2 * GEMM_ALIGN)
        nb++;
    long bs = (len + nb - 1) / nb;
    bs = (bs + GEMM_ALIGN - 1) / GEMM_ALIGN * GEMM_ALIGN;
    *bsize = bs;
    *nblocks = (len + bs - 1) / bs;
}

/* BLIS sends a product with any dimension below its thresholds (a few hundred) to its
 * "small/unpacked" path, whose kernels read the operands in place. That path is the
 * faster one for small products but runs 1.3-1.9x slower than the packed path once
 * every dimension is at least this long (measured with BLIS 0.9 on zen3, e.g. the
 * backward GEMMs of a 512-wide Linear at batch 128), so such products skip it. The
 * choice depends on the block's shape alone. */
#define PACKED_MIN_DIM 128

static void sgemm_one(int trans_a, int trans_b, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *b, long ldb, float beta, float *c,
                      long ldc)
{
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    if (m >= PACKED_MIN_DIM && n >= PACKED_MIN_DIM && k >= PACKED_MIN_DIM)
        bli_rntm_disable_l3_sup(&rntm);
    /* row-major op(A)[m][k]: element (i,p) at a[i*lda + p], or a[p*lda + i] transposed */
    inc_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    inc_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (float *)a, rsa, csa,
                 (float *)b, rsb, csb, &beta, c, ldc, 1, NULL, &rntm);
}

void ibp_dgemm_serial(int trans_a, int trans_b, long m, long n, long k, double alpha,
                      const double *a, long lda, const double *b, long ldb, double beta,
                      double *c, long ldc)
{
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    inc_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    inc_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;
    bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &alpha, (double *)a, rsa, csa,
                 (double *)b, rsb, csb, &beta, c, ldc, 1, NULL, &rntm);
}

/* A small output over a long k (the weight gradient of a conv: out x taps, summed over
 * every position of the batch) leaves too little to cut along m or n. Such a product is
 * cut along k into KSPLIT_PARTS fixed parts whose products go to scratch and are then
 * added in part order: the same sums whatever the thread count. */
#define KSPLIT_MAX_OUT 8192
#define KSPLIT_MIN_K 2048
#define KSPLIT_PARTS 4

static int use_ksplit(long m, long n, long k)
{
    return m * n <= KSPLIT_MAX_OUT && k >= KSPLIT_MIN_K && k >= 4 * (m + n) &&
           (m < 4 * GEMM_ALIGN || n < 4 * GEMM_ALIGN);
}

static void sgemm_ksplit(int trans_a, int trans_b, long m, long n, long k, float alpha,
                         const float *a, long lda, const float *b, long ldb, float beta, float *c,
                         long ldc, int threads)
{
    float part[KSPLIT_PARTS * KSPLIT_MAX_OUT]; /* [part][m][n] */
    long kp = (k + KSPLIT_PARTS - 1) / KSPLIT_PARTS;
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (int q = 0; q < KSPLIT_PARTS; q++) {
        long s = q * kp, e = s + kp < k ? s + kp : k;
        float *dst = part + (size_t)q * m * n;
        if (e <= s) {
            for (long i = 0; i < m * n; i++)
                dst[i] = 0.0f;
            continue;
        }
        /* op(A)[:, s:e] and op(B)[s:e, :] */
        const float *as = trans_a ? a + s * lda : a + s;
        const float *bs = trans_b ? b + s : b + s * ldb;
        sgemm_one(trans_a, trans_b, m, n, e - s, 1.0f, as, lda, bs, ldb, 0.0f, dst, n);
    }
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            float sum = part[i * n + j];
            for (int q = 1; q < KSPLIT_PARTS; q++)
                sum += part[((size_t)q * m + i) * n + j];
            float *cij = c + i * ldc + j;
            *cij = beta == 0.0f ? alpha * sum : alpha * sum + beta * *cij;
        }
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
    if (use_ksplit(m, n, k)) {
        sgemm_ksplit(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
        return;
    }
    int split_rows = m >= n;
    long len = split_rows ? m : n, nblocks, bs;
    gemm_blocks(len, &nblocks, &bs);
#pragma omp parallel for num_threads(threads > 0 ? threads : 1) schedule(static)
    for (long blk = 0; blk < nblocks; blk++) {
        long s = blk * bs, e = s + bs < len ? s + bs : len;
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
    /* BLIS 0.9 reads BLIS_ARCH_TYPE as a numeric arch_t (a name reads as 0) */
    if (!getenv("BLIS_ARCH_TYPE") && ibp_cpu_avx512_skx()) {
        char num[16];
        snprintf(num, sizeof num, "%d", (int)BLIS_ARCH_SKX);
        setenv("BLIS_ARCH_TYPE", num, 0);
    }
    bli_init();
    return ibp_blas_arch();
}

const char *ibp_blas_arch(void)
{
    bli_init();
    return bli_arch_string(bli_arch_query_id());
}

size_t ibp_gemm_pack_bytes(void)
{
    bli_init();
    pba_t *pba = bli_pba_query();
    size_t bytes = 0;
    for (int i = 0; i < 3; i++) {
        pool_t *pool = &pba->pools[i];
        bytes += (size_t)bli_pool_block_size(pool) + (size_t)bli_pool_align_size(pool) +
                 (size_t)bli_pool_offset_size(pool);
    }
    return bytes;
}
