/* cluster.h without MPI: one process, rank 0 of 1; every exchange is the identity. */
#include "nets/base/cluster.h"

#include <stdint.h>
#include <stdlib.h>

struct ibp_cluster {
    int unused;
};

int ibp_cluster_has_mpi(void)
{
    return 0;
}

/* A launcher's variables: started as one of several ranks. */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

enum ibp_status ibp_cluster_init(int *argc, char ***argv, struct ibp_cluster **out,
                                 struct ibp_error *err)
{
    *out = NULL;
    if (launched())
        return ibp_fail(err, IBP_ERR_UNSUPPORTED,
                        "started by an MPI launcher, but this ibp was built without MPI "
                        "(rebuild with -Dmpi=enabled, or run one process without mpirun)");
    *out = calloc(1, sizeof **out);
    return *out ? IBP_OK : ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
}

void ibp_cluster_finalize(struct ibp_cluster *c)
{
    free(c);
}

int ibp_cluster_rank(const struct ibp_cluster *c)
{
    return 0;
}

int ibp_cluster_size(const struct ibp_cluster *c)
{
    return 1;
}

void ibp_cluster_sum_floats(struct ibp_cluster *c, float *buf, size_t n)
{
}

void ibp_cluster_sum_doubles(struct ibp_cluster *c, double *buf, size_t n)
{
}

void ibp_cluster_sum_hook(void *cluster, double *buf, size_t n)
{
}

enum ibp_status ibp_cluster_gather(struct ibp_cluster *c, const void *data, size_t len,
                                   struct ibp_wbuf *out, size_t *lens, struct ibp_error *err)
{
    if (len > (size_t)INT32_MAX)
        return ibp_fail(err, IBP_ERR_ARG, "gather: %zu bytes exceed 2 GiB", len);
    ibp_wbuf_bytes(out, data, len);
    if (out->failed)
        return ibp_fail(err, IBP_ERR_NOMEM, "gather: out of memory for %zu bytes", len);
    if (lens)
        lens[0] = len;
    return IBP_OK;
}

void ibp_cluster_broadcast(struct ibp_cluster *c, void *buf, size_t len)
{
}

double ibp_cluster_seconds(const struct ibp_cluster *c)
{
    return 0.0;
}
