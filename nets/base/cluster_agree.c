/* ibp_cluster_agree and ibp_cluster_check_same of cluster.h, on the exchanges. */
#include "nets/base/cluster.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct outcome {
    int32_t status;
    char msg[IBP_ERROR_LEN];
};

enum ibp_status ibp_cluster_agree(struct ibp_cluster *c, enum ibp_status st,
                                  struct ibp_error *err)
{
    int size = ibp_cluster_size(c);
    if (size == 1)
        return st;
    struct outcome mine, first;
    memset(&mine, 0, sizeof mine);
    memset(&first, 0, sizeof first);
    mine.status = st;
    if (st != IBP_OK && err)
        snprintf(mine.msg, sizeof mine.msg, "%s", err->msg);
    struct ibp_wbuf all = {0};
    struct ibp_error gerr;
    enum ibp_status gst = ibp_cluster_gather(c, &mine, sizeof mine, &all, NULL, &gerr);
    if (gst != IBP_OK) {
        first.status = gst;
        snprintf(first.msg, sizeof first.msg, "%s", gerr.msg);
    } else if (ibp_cluster_rank(c) == 0) {
        for (int r = 0; r < size; r++) {
            struct outcome o;
            memcpy(&o, all.data + (size_t)r * sizeof o, sizeof o);
            o.msg[sizeof o.msg - 1] = '\0';
            if (o.status == IBP_OK)
                continue;
            first.status = o.status;
            if (r == 0)
                memcpy(first.msg, o.msg, sizeof o.msg);
            else
                snprintf(first.msg, sizeof first.msg, "rank %d: %.*s", r % 100000,
                         IBP_ERROR_LEN - 20, o.msg);
            break;
        }
    }
    ibp_wbuf_free(&all);
    ibp_cluster_broadcast(c, &first, sizeof first);
    if (first.status == IBP_OK)
        return IBP_OK;
    first.msg[sizeof first.msg - 1] = '\0';
    return ibp_fail(err, (enum ibp_status)first.status, "%s", first.msg);
}

enum ibp_status ibp_cluster_check_same(struct ibp_cluster *c, const void *data, size_t len,
                                       const char *what, struct ibp_error *err)
{
    if (ibp_cluster_size(c) == 1)
        return IBP_OK;
    /* FNV-1a */
    uint64_t h = UINT64_C(1469598103934665603), h0;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    h0 = h;
    ibp_cluster_broadcast(c, &h0, sizeof h0);
    double differ = h != h0;
    ibp_cluster_sum_doubles(c, &differ, 1);
    if (differ > 0.0)
        return ibp_fail(err, IBP_ERR_ARG, "the processes disagree on %s: %.0f of %d differ from "
                        "rank 0", what, differ, ibp_cluster_size(c));
    return IBP_OK;
}
