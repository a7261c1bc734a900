/* cluster.h on MPI (Open MPI, MPICH, any MPI-3 library): MPI_COMM_WORLD, the default
 * error handler (errors are fatal: a dead rank ends the job). */
#include "nets/base/cluster.h"

#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>

#include "nets/base/clock.h"

/* Elements per MPI call: counts are int. */
#define CHUNK ((size_t)1 << 28)

struct ibp_cluster {
    int mpi;       /* MPI_Init was called (started by a launcher) */
    int rank, size;
    double seconds; /* inside exchanges */
};

int ibp_cluster_has_mpi(void)
{
    return 1;
}

static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

enum ibp_status ibp_cluster_init(int *argc, char ***argv, struct ibp_cluster **out,
                                 struct ibp_error *err)
{
    struct ibp_cluster *c = calloc(1, sizeof *c);
    *out = c;
    if (!c)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    c->size = 1;
    if (!launched())
        return IBP_OK;
    MPI_Init(argc, argv);
    c->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    return IBP_OK;
}

void ibp_cluster_finalize(struct ibp_cluster *c)
{
    if (c && c->mpi)
        MPI_Finalize();
    free(c);
}

int ibp_cluster_rank(const struct ibp_cluster *c)
{
    return c->rank;
}

int ibp_cluster_size(const struct ibp_cluster *c)
{
    return c->size;
}

static void sum(struct ibp_cluster *c, void *buf, size_t n, size_t elem, MPI_Datatype type)
{
    if (c->size == 1)
        return;
    double t0 = ibp_clock_seconds();
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * elem, (int)k, type, MPI_SUM,
                      MPI_COMM_WORLD);
    }
    c->seconds += ibp_clock_seconds() - t0;
}

void ibp_cluster_sum_floats(struct ibp_cluster *c, float *buf, size_t n)
{
    sum(c, buf, n, sizeof *buf, MPI_FLOAT);
}

void ibp_cluster_sum_doubles(struct ibp_cluster *c, double *buf, size_t n)
{
    sum(c, buf, n, sizeof *buf, MPI_DOUBLE);
}

void ibp_cluster_sum_hook(void *cluster, double *buf, size_t n)
{
    ibp_cluster_sum_doubles(cluster, buf, n);
}

void ibp_cluster_broadcast(struct ibp_cluster *c, void *buf, size_t len)
{
    if (c->size == 1)
        return;
    double t0 = ibp_clock_seconds();
    for (size_t i = 0; i < len; i += CHUNK) {
        size_t k = len - i < CHUNK ? len - i : CHUNK;
        MPI_Bcast((char *)buf + i, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
    c->seconds += ibp_clock_seconds() - t0;
}

enum ibp_status ibp_cluster_gather(struct ibp_cluster *c, const void *data, size_t len,
                                   struct ibp_wbuf *out, size_t *lens, struct ibp_error *err)
{
    if (c->size == 1) {
        if (len > (size_t)INT32_MAX)
            return ibp_fail(err, IBP_ERR_ARG, "gather: %zu bytes exceed 2 GiB", len);
        ibp_wbuf_bytes(out, data, len);
        if (out->failed)
            return ibp_fail(err, IBP_ERR_NOMEM, "gather: out of memory for %zu bytes", len);
        if (lens)
            lens[0] = len;
        return IBP_OK;
    }
    double t0 = ibp_clock_seconds();
    uint64_t mine = len, *all = NULL;
    int *counts = NULL, *displs = NULL;
    int root = c->rank == 0;
    /* rank 0 decides whether the records fit, and tells everyone */
    int32_t verdict = IBP_OK;
    if (root) {
        all = malloc((size_t)c->size * sizeof *all);
        counts = malloc((size_t)c->size * sizeof *counts);
        displs = malloc((size_t)c->size * sizeof *displs);
        if (!all || !counts || !displs)
            verdict = IBP_ERR_NOMEM;
    }
    MPI_Gather(&mine, 1, MPI_UINT64_T, verdict == IBP_OK ? all : NULL, 1, MPI_UINT64_T, 0,
               MPI_COMM_WORLD);
    uint64_t total = 0;
    if (root && verdict == IBP_OK) {
        for (int r = 0; r < c->size; r++) {
            counts[r] = all[r] <= (uint64_t)INT32_MAX ? (int)all[r] : 0;
            displs[r] = (int)total;
            total += all[r];
            if (total > (uint64_t)INT32_MAX)
                verdict = IBP_ERR_ARG;
        }
        if (verdict == IBP_OK) {
            ibp_wbuf_reserve(out, (size_t)total);
            if (out->failed)
                verdict = IBP_ERR_NOMEM;
        }
    }
    MPI_Bcast(&verdict, 1, MPI_INT32_T, 0, MPI_COMM_WORLD);
    if (verdict == IBP_OK) {
        MPI_Gatherv(data, (int)len, MPI_BYTE, root && out->data ? out->data + out->len : NULL, counts,
                    displs, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (root) {
            out->len += (size_t)total;
            for (int r = 0; lens && r < c->size; r++)
                lens[r] = (size_t)all[r];
        }
    }
    free(all);
    free(counts);
    free(displs);
    c->seconds += ibp_clock_seconds() - t0;
    if (verdict == IBP_ERR_NOMEM)
        return ibp_fail(err, IBP_ERR_NOMEM, "gather: out of memory on rank 0");
    if (verdict != IBP_OK)
        return ibp_fail(err, IBP_ERR_ARG, "gather: the records exceed 2 GiB");
    return IBP_OK;
}

double ibp_cluster_seconds(const struct ibp_cluster *c)
{
    return c->seconds;
}
