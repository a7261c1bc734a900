/* ibp_cluster_agree of cluster.h, on the gather and the broadcast. */
#include "nets/base/cluster.h"

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
