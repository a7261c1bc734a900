#include "nets/graph/init.h"

#include <math.h>

int ibp_layer_fan_in(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    int c_in = net->shapes[l->in[0]].c;
    if (l->kind == IBP_LAYER_LINEAR)
        return c_in;
    if (l->kind == IBP_LAYER_CONV2D)
        return c_in / l->groups * l->kh * l->kw;
    return 0;
}

int ibp_net_classifier(const struct ibp_net *net)
{
    for (int k = net->n_layers - 1; k >= 0; k--)
        if (net->layers[k].kind == IBP_LAYER_LINEAR || net->layers[k].kind == IBP_LAYER_CONV2D)
            return k;
    return -1;
}

/* Value v > 0 is the output of layer v - 1; value 0 is the network input. */
static int produced_by(const struct ibp_net *net, int v, enum ibp_layer_kind kind)
{
    return v > 0 && net->layers[v - 1].kind == kind;
}

int ibp_layer_after_residual(const struct ibp_net *net, int k)
{
    int v = net->layers[k].in[0];
    return produced_by(net, v, IBP_LAYER_RELU) &&
           produced_by(net, net->layers[v - 1].in[0], IBP_LAYER_ADD);
}

static void fill_uniform(float *p, size_t n, double bound, struct ibp_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(bound * (2.0 * ibp_rng_uniform(rng) - 1.0));
}

static void fill_normal(float *p, size_t n, double sigma, struct ibp_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(sigma * ibp_rng_normal(rng));
}

enum ibp_status ibp_net_init(struct ibp_net *net, enum ibp_init_kind kind, struct ibp_rng *rng,
                             struct ibp_error *err)
{
    if (kind != IBP_INIT_DEFAULT && kind != IBP_INIT_IBP)
        return ibp_fail(err, IBP_ERR_ARG, "unknown initialisation kind %d", (int)kind);
    int classifier = ibp_net_classifier(net);
    for (int k = 0; k < net->n_layers; k++) {
        const struct ibp_layer_spec *l = &net->layers[k];
        if (l->kind == IBP_LAYER_BATCHNORM) {
            int c = net->shapes[l->in[0]].c;
            float *g = ibp_bn_gamma(net, k), *b = ibp_bn_beta(net, k);
            float *rm = ibp_bn_running_mean(net, k), *rv = ibp_bn_running_var(net, k);
            for (int i = 0; i < c; i++) {
                g[i] = 1.0f;
                b[i] = 0.0f;
                rm[i] = 0.0f;
                rv[i] = 1.0f;
            }
            continue;
        }
        if (l->kind != IBP_LAYER_LINEAR && l->kind != IBP_LAYER_CONV2D)
            continue;
        int fan_in = ibp_layer_fan_in(net, k);
        double bound = 1.0 / sqrt((double)fan_in);
        float *w = ibp_layer_weight(net, k);
        size_t nw = ibp_layer_param_count(net, k) - (l->no_bias ? 0 : (size_t)l->out);
        if (kind == IBP_INIT_IBP && k != classifier)
            fill_normal(w, nw, sqrt(2.0 * 3.14159265358979323846) / fan_in, rng);
        else
            fill_uniform(w, nw, bound, rng);
        if (!l->no_bias)
            fill_uniform(ibp_layer_bias(net, k), (size_t)l->out, bound, rng);
        if (kind == IBP_INIT_IBP && ibp_layer_after_residual(net, k))
            for (size_t i = 0; i < nw; i++)
                w[i] *= 0.5f;
    }
    return IBP_OK;
}
