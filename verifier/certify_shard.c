/* ibp_certify_run_sharded of certify_shard.h. */
#include "verifier/certify_shard.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What each rank sends ahead of its samples' records. */
struct shard_head {
    int32_t status;
    char msg[IBP_ERROR_LEN];
    char note[IBP_CERTIFY_NOTE_LEN];
};

/* The outcome rank 0 hands to every rank. */
struct shard_outcome {
    int32_t status;
    char msg[IBP_ERROR_LEN];
};

/* On rank 0: checks the records of every rank and puts the samples into out. */
static void collect(const struct ibp_wbuf *all, const size_t *lens, int size, int64_t n,
                    struct ibp_certify_sample *out, char *note, struct shard_outcome *o)
{
    size_t at = 0, samples = 0;
    note[0] = '\0';
    for (int r = 0; r < size; r++) {
        struct shard_head h;
        if (lens[r] < sizeof h) {
            o->status = IBP_ERR_FORMAT;
            snprintf(o->msg, sizeof o->msg, "rank %d sent a short record (%zu bytes)", r,
                     lens[r]);
            return;
        }
        memcpy(&h, all->data + at, sizeof h);
        h.msg[sizeof h.msg - 1] = '\0';
        h.note[sizeof h.note - 1] = '\0';
        if (h.status != IBP_OK) {
            o->status = h.status;
            if (size > 1)
                snprintf(o->msg, sizeof o->msg, "rank %d: %.*s", r % 100000, IBP_ERROR_LEN - 20, h.msg);
            else
                snprintf(o->msg, sizeof o->msg, "%s", h.msg);
            return;
        }
        if (!note[0])
            memcpy(note, h.note, IBP_CERTIFY_NOTE_LEN);
        size_t k = (lens[r] - sizeof h) / sizeof *out;
        if (samples + k > (size_t)n) {
            o->status = IBP_ERR_FORMAT;
            snprintf(o->msg, sizeof o->msg, "rank %d sent more records than samples", r);
            return;
        }
        memcpy(out + samples, all->data + at + sizeof h, k * sizeof *out);
        samples += k;
        at += lens[r];
    }
    if (samples != (size_t)n) {
        o->status = IBP_ERR_FORMAT;
        snprintf(o->msg, sizeof o->msg, "the ranks sent %zu records for %lld samples", samples,
                 (long long)n);
    }
}

enum ibp_status ibp_certify_run_sharded(struct ibp_cluster *cl, const struct ibp_net *net,
                                        const struct ibp_dataset *ds,
                                        const struct ibp_certify_config *cfg,
                                        const struct ibp_certify_hooks *hooks,
                                        struct ibp_certify_sample *out,
                                        struct ibp_certify_summary *summary,
                                        struct ibp_error *err)
{
    double t0 = omp_get_wtime();
    int rank = ibp_cluster_rank(cl), size = ibp_cluster_size(cl);
    if (cfg->batch < 1)
        return ibp_fail(err, IBP_ERR_ARG, "verify: batch %d", cfg->batch);
    int64_t n_batches = (ds->n + cfg->batch - 1) / cfg->batch;
    if ((int64_t)size > n_batches)
        return ibp_fail(err, IBP_ERR_ARG,
                        "%d processes for %lld batches of %d samples: a process would have no "
                        "samples (start at most %lld, or use a smaller --batch)",
                        size, (long long)n_batches, cfg->batch, (long long)n_batches);
    int64_t lo, hi;
    ibp_cluster_share(n_batches, rank, size, &lo, &hi);
    struct shard_head head;
    memset(&head, 0, sizeof head);
    struct ibp_error mine;
    ibp_error_clear(&mine);
    head.status = ibp_certify_run_batches(net, ds, cfg, hooks, lo, hi, out, head.note, &mine);
    memcpy(head.msg, mine.msg, sizeof head.msg);
    int64_t s_lo = lo * cfg->batch, s_hi = hi * cfg->batch < ds->n ? hi * cfg->batch : ds->n;
    struct ibp_wbuf send = {0}, all = {0};
    size_t *lens = calloc((size_t)size, sizeof *lens);
    ibp_wbuf_bytes(&send, &head, sizeof head);
    if (head.status == IBP_OK)
        ibp_wbuf_bytes(&send, out + s_lo, (size_t)(s_hi - s_lo) * sizeof *out);
    if (send.failed || !lens) {
        /* still take part in the gather, with a failure of our own */
        head.status = IBP_ERR_NOMEM;
        snprintf(head.msg, sizeof head.msg, "verify: out of memory for the records");
    }
    struct ibp_error gerr;
    ibp_error_clear(&gerr);
    int short_send = send.failed || !lens;
    enum ibp_status st = ibp_cluster_gather(cl, short_send ? (const void *)&head : send.data,
                                            short_send ? sizeof head : send.len, &all, lens,
                                            &gerr);
    struct shard_outcome o;
    memset(&o, 0, sizeof o);
    char note[IBP_CERTIFY_NOTE_LEN] = "";
    if (st != IBP_OK) {
        o.status = st;
        memcpy(o.msg, gerr.msg, sizeof o.msg);
    } else if (rank == 0 && !lens) {
        o.status = IBP_ERR_NOMEM;
        snprintf(o.msg, sizeof o.msg, "verify: out of memory for the records");
    } else if (rank == 0) {
        collect(&all, lens, size, ds->n, out, note, &o);
    }
    free(lens);
    ibp_wbuf_free(&send);
    ibp_wbuf_free(&all);
    ibp_cluster_broadcast(cl, &o, sizeof o);
    if (o.status != IBP_OK) {
        o.msg[sizeof o.msg - 1] = '\0';
        return ibp_fail(err, (enum ibp_status)o.status, "%s", o.msg);
    }
    if (rank == 0 && summary)
        ibp_certify_summarize(cfg, out, ds->n, note, omp_get_wtime() - t0, summary);
    return IBP_OK;
}
