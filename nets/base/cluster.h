/* cluster.h — the processes of one run and what they exchange: the one place that talks
 * to MPI (cluster_mpi.c; cluster_single.c when ibp is built without MPI). Nothing else
 * in ibp sees an MPI type or calls MPI.
 *
 * A run is N processes (ranks 0..N-1), started by a launcher (`mpirun -np N`, `srun`),
 * or a single process (rank 0 of 1) when started directly: MPI is initialised only when
 * the environment shows a launcher (Open MPI's OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK or
 * PMI's PMI_RANK), so a plain run never touches MPI and behaves as in a build without it.
 *
 * Every exchange below is collective: every rank calls it, in the same order, with the
 * same sizes (gather: its own). A rank that dies makes the others' next exchange fail,
 * and MPI's default error handler (errors are fatal) ends the whole job with a non-zero
 * exit code; files written atomically before stay whole. So the calls return nothing.
 *
 * Ownership: the cluster object is the caller's, released by ibp_cluster_finalize, once,
 * at the end of the program (MPI cannot be initialised again after it). */
#ifndef IBP_CLUSTER_H
#define IBP_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "nets/base/bytes.h"
#include "nets/base/status.h"

struct ibp_cluster;

/* 1 when ibp was built with MPI (-Dmpi), else 0. */
int ibp_cluster_has_mpi(void);

/* Joins the run. argc/argv are handed to MPI_Init (it may remove its own arguments).
 * Errors: IBP_ERR_UNSUPPORTED when a launcher started the program but ibp was built
 * without MPI (then every rank would train alone); IBP_ERR_NOMEM. */
enum ibp_status ibp_cluster_init(int *argc, char ***argv, struct ibp_cluster **out,
                                 struct ibp_error *err);

/* Leaves the run (MPI_Finalize when MPI was initialised) and frees c (NULL: nothing). */
void ibp_cluster_finalize(struct ibp_cluster *c);

int ibp_cluster_rank(const struct ibp_cluster *c);
int ibp_cluster_size(const struct ibp_cluster *c);

/* buf[n] = the element-wise sum of every rank's buf[n]; the same result on every rank.
 * Nothing is done for one rank. */
void ibp_cluster_sum_floats(struct ibp_cluster *c, float *buf, size_t n);
void ibp_cluster_sum_doubles(struct ibp_cluster *c, double *buf, size_t n);

/* ibp_cluster_sum_doubles with the cluster as a void pointer: the reduce hook of the
 * passes and the regularisers (nets/passes/passes.h). */
void ibp_cluster_sum_hook(void *cluster, double *buf, size_t n);

/* Every rank sends data[len] (len may differ, may be 0); rank 0 receives them all
 * concatenated in rank order, appended to *out, and lens[size] (each rank's len; may be
 * NULL). Other ranks leave out and lens untouched (either may be NULL there). Errors on rank 0:
 * IBP_ERR_NOMEM (out of memory for the records); IBP_ERR_ARG when the total exceeds
 * what one gather carries (2 GiB). Every rank returns rank 0's status. */
enum ibp_status ibp_cluster_gather(struct ibp_cluster *c, const void *data, size_t len,
                                   struct ibp_wbuf *out, size_t *lens, struct ibp_error *err);

/* buf[len] on every rank = rank 0's buf[len]. */
void ibp_cluster_broadcast(struct ibp_cluster *c, void *buf, size_t len);

/* Which of n items (samples, batches) rank `rank` of `size` owns: the contiguous share
 * [*lo, *hi) = [floor(n rank / size), floor(n (rank + 1) / size)); the shares of ranks
 * 0..size-1 tile [0, n) in order, and differ in length by at most one. The one rule that
 * decides what a process works on. */
void ibp_cluster_share(int64_t n, int rank, int size, int64_t *lo, int64_t *hi);

/* The outcome of a step every rank ran on its own (reading data, preparing files):
 * every rank returns the status of the first rank in rank order whose st is not IBP_OK
 * (IBP_OK when none), with that rank's message in err (prefixed "rank R: " when R is not
 * 0); st and err are this rank's own on entry. */
enum ibp_status ibp_cluster_agree(struct ibp_cluster *c, enum ibp_status st,
                                  struct ibp_error *err);

/* Checks that every rank holds the same data[len] as rank 0 (a configuration, a
 * command line), by a 64-bit hash. Errors (on every rank alike): IBP_ERR_ARG "the
 * processes disagree on <what>: K of N differ from rank 0". */
enum ibp_status ibp_cluster_check_same(struct ibp_cluster *c, const void *data, size_t len,
                                       const char *what, struct ibp_error *err);

/* Seconds spent inside the exchanges above since init (for benchmarks). */
double ibp_cluster_seconds(const struct ibp_cluster *c);

#endif
