/* ibp_cluster_share of cluster.h: the same with or without MPI. */
#include "nets/base/cluster.h"

void ibp_cluster_share(int64_t n, int rank, int size, int64_t *lo, int64_t *hi)
{
    /* n * rank fits: n is a count of samples or batches, far below 2^63 / size */
    *lo = n * rank / size;
    *hi = n * (rank + 1) / size;
}
