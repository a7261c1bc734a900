#include "trainer/bn_stats.h"


enum ibp_status ibp_bn_population_stats(struct ibp_net *net, struct ibp_workspace *ws,
                                        struct ibp_batcher *batcher, float *x,
                                        int32_t *labels, float *logits,
                                        struct ibp_error *err)
{
    if (ibp_net_count_kind(net, IBP_LAYER_BATCHNORM) == 0)
        return IBP_OK;
    enum ibp_status st = ibp_batcher_start(batcher, 0, 0, err);
    if (st != IBP_OK)
        return st;
    int64_t seen = 0, B;
    while ((B = ibp_batcher_next(batcher, x, labels)) > 0) {
        st = ibp_pass_clean(net, ws, x, (int)B, IBP_BN_TRAIN, logits, err);
        if (st != IBP_OK)
            return st;
        seen += B;
        ibp_bn_update_running(net, ws, (float)((double)B / (double)seen));
    }
    return IBP_OK;
}
