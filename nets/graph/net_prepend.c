/* net_prepend.c — new layers in front of a network (net_prepend.h). */
#include "nets/graph/net_prepend.h"

#include <stdlib.h>
#include <string.h>

enum ibp_status ibp_net_prepend(const struct ibp_net *net, struct ibp_shape input,
                                const struct ibp_layer_spec *pre, int n_pre,
                                struct ibp_net **out, struct ibp_error *err)
{
    *out = NULL;
    if (n_pre < 1)
        return ibp_fail(err, IBP_ERR_ARG, "prepend: %d new layers", n_pre);
    int n = n_pre + net->n_layers;
    struct ibp_layer_spec *specs = malloc((size_t)n * sizeof *specs);
    if (!specs)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for %d layers", n);
    memcpy(specs, pre, (size_t)n_pre * sizeof *specs);
    /* net's layers hold absolute value indices: value v becomes v + n_pre (its input,
     * value 0, becomes the output of the last new layer) */
    for (int k = 0; k < net->n_layers; k++) {
        struct ibp_layer_spec l = net->layers[k];
        l.in[0] += n_pre;
        if (l.kind == IBP_LAYER_ADD)
            l.in[1] += n_pre;
        specs[n_pre + k] = l;
    }
    struct ibp_net *r;
    enum ibp_status st = ibp_net_create(input, specs, n, &r, err);
    free(specs);
    if (st != IBP_OK)
        return st;
    struct ibp_shape got = r->shapes[n_pre];
    if (got.c != net->input.c || got.h != net->input.h || got.w != net->input.w) {
        ibp_net_free(r);
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "prepend: the new layers give %dx%dx%d, the network takes %dx%dx%d",
                        got.c, got.h, got.w, net->input.c, net->input.h, net->input.w);
    }
    for (int k = 0; k < net->n_layers; k++) {
        memcpy(r->params + r->param_off[n_pre + k], net->params + net->param_off[k],
               ibp_layer_param_count(net, k) * sizeof(float));
        memcpy(r->buffers + r->buffer_off[n_pre + k], net->buffers + net->buffer_off[k],
               ibp_layer_buffer_count(net, k) * sizeof(float));
    }
    *out = r;
    return IBP_OK;
}
