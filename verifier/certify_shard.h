/* certify_shard.h — ibp_certify_run over the processes of a run (nets/base/cluster.h):
 * each rank certifies a contiguous share of the batches, rank 0 collects the per-sample
 * records in sample order. The records, and so the reports made from them, are those of
 * a single process with the same batch size (only the times differ). */
#ifndef IBP_VERIFIER_CERTIFY_SHARD_H
#define IBP_VERIFIER_CERTIFY_SHARD_H

#include "nets/base/cluster.h"
#include "verifier/certify.h"

/* Collective: every rank calls it with the same net, ds and cfg. Rank r certifies the
 * batches ibp_cluster_share(n_batches, r, size) of ds (batches of cfg->batch, in order);
 * on rank 0 out[ds->n] receives every sample's record and summary (may be NULL) the
 * counts, the first non-empty note in rank order and the wall time until the records
 * arrived. On other ranks out holds their own share and summary is untouched. hooks run
 * on each rank for its own samples. Every rank returns the same status: the first
 * failing rank's (its message prefixed "rank R: " when there are several ranks).
 * Errors: IBP_ERR_ARG when there are more ranks than batches (a rank would have no
 * samples), decided alike on every rank before any work; those of
 * ibp_certify_run_batches and ibp_cluster_gather. */
enum ibp_status ibp_certify_run_sharded(struct ibp_cluster *cl, const struct ibp_net *net,
                                        const struct ibp_dataset *ds,
                                        const struct ibp_certify_config *cfg,
                                        const struct ibp_certify_hooks *hooks,
                                        struct ibp_certify_sample *out,
                                        struct ibp_certify_summary *summary,
                                        struct ibp_error *err);

#endif
