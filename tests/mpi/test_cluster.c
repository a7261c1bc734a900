/* nets/base/cluster.h on however many processes it is started as (one, or under
 * mpirun -np N): the share rule tiles [0, n) in rank order; sums, the gather, the
 * broadcast, agree and check_same give what each promises, on every rank. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/cluster.h"
#include "tests/common/check.h"

static void test_share(void)
{
    for (int64_t n = 0; n <= 40; n++)
        for (int size = 1; size <= 7; size++) {
            int64_t next = 0;
            for (int r = 0; r < size; r++) {
                int64_t lo, hi;
                ibp_cluster_share(n, r, size, &lo, &hi);
                CHECK_MSG(lo == next && hi >= lo && hi - lo <= n / size + 1 &&
                              hi - lo >= n / size,
                          "n %lld, rank %d of %d: [%lld, %lld)", (long long)n, r, size,
                          (long long)lo, (long long)hi);
                next = hi;
            }
            CHECK(next == n);
        }
}

static void test_exchanges(struct ibp_cluster *cl)
{
    int rank = ibp_cluster_rank(cl), size = ibp_cluster_size(cl);
    CHECK(size >= 1 && rank >= 0 && rank < size);
    double d[3] = {rank, 1.0, 0.5 * rank};
    ibp_cluster_sum_doubles(cl, d, 3);
    CHECK_NEAR(d[0], size * (size - 1) / 2.0, 0.0);
    CHECK_NEAR(d[1], size, 0.0);
    CHECK_NEAR(d[2], size * (size - 1) / 4.0, 0.0);
    float f[2] = {1.0f, (float)rank};
    ibp_cluster_sum_floats(cl, f, 2);
    CHECK_NEAR(f[0], size, 0.0);
    CHECK_NEAR(f[1], size * (size - 1) / 2.0, 0.0);

    /* rank r sends r + 1 bytes of value r */
    unsigned char mine[64];
    memset(mine, rank, sizeof mine);
    struct ibp_wbuf all = {0};
    size_t lens[64] = {0};
    struct ibp_error err;
    CHECK_OK(ibp_cluster_gather(cl, mine, (size_t)rank + 1, &all, lens, &err), err);
    if (rank == 0) {
        size_t at = 0;
        for (int r = 0; r < size; r++) {
            CHECK(lens[r] == (size_t)r + 1);
            for (size_t i = 0; i < lens[r]; i++)
                CHECK(all.data[at + i] == (unsigned char)r);
            at += lens[r];
        }
        CHECK(all.len == at);
    } else {
        CHECK(all.len == 0);
    }
    ibp_wbuf_free(&all);

    int value = rank == 0 ? 4242 : -1;
    ibp_cluster_broadcast(cl, &value, sizeof value);
    CHECK(value == 4242);

    /* the last rank fails: every rank gets its status and message */
    ibp_error_clear(&err);
    enum ibp_status st = IBP_OK;
    if (rank == size - 1)
        st = ibp_fail(&err, IBP_ERR_IO, "disk %d full", rank);
    st = ibp_cluster_agree(cl, st, &err);
    CHECK(st == IBP_ERR_IO);
    char want[64];
    snprintf(want, sizeof want, size > 1 ? "rank %d: disk %d full" : "disk %d full", size - 1,
             size - 1);
    if (size == 1)
        snprintf(want, sizeof want, "disk 0 full");
    CHECK_MSG(strcmp(err.msg, want) == 0, "'%s', expected '%s'", err.msg, want);
    CHECK_OK(ibp_cluster_agree(cl, IBP_OK, &err), err);

    const char same[] = "batch = 64";
    CHECK_OK(ibp_cluster_check_same(cl, same, sizeof same, "the configuration", &err), err);
    char other[32];
    snprintf(other, sizeof other, "batch = %d", rank == size - 1 ? 65 : 64);
    st = ibp_cluster_check_same(cl, other, strlen(other), "the configuration", &err);
    CHECK(size == 1 ? st == IBP_OK : st == IBP_ERR_ARG);
    if (size > 1)
        CHECK(strstr(err.msg, "disagree on the configuration: 1 of") != NULL);
}

int main(int argc, char **argv)
{
    struct ibp_cluster *cl;
    struct ibp_error err;
    if (ibp_cluster_init(&argc, &argv, &cl, &err) != IBP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (ibp_cluster_size(cl) > 64) {
        fprintf(stderr, "at most 64 processes\n");
        return 1;
    }
    test_share();
    test_exchanges(cl);
    int rc = check_report();
    if (rc != 0)
        return rc; /* without finalize: the launcher ends the others */
    ibp_cluster_finalize(cl);
    return 0;
}
