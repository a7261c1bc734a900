/* ibp_net_prepend: a NORMALIZE in front of a residual conv net gives the outputs of the
 * original net on normalised inputs (the ADD's two inputs both move); a FLATTEN in front
 * of a vector net takes images row-major; new layers whose output is not the net's
 * input are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/graph/init.h"
#include "nets/graph/net_prepend.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"

static void forward(const struct ibp_net *net, const float *x, int n, float *z)
{
    struct ibp_workspace *ws;
    struct ibp_error err;
    CHECK_OK(ibp_ws_create(net, n, IBP_WS_CLEAN, &ws, &err), err);
    ibp_ws_set_threads(ws, 1);
    CHECK_OK(ibp_pass_clean(net, ws, x, n, IBP_BN_EVAL, z, &err), err);
    ibp_ws_free(ws);
}

static struct ibp_net *make(struct ibp_shape in, const struct ibp_layer_spec *s, int n)
{
    struct ibp_net *net;
    struct ibp_error err;
    struct ibp_rng rng;
    CHECK_OK(ibp_net_create(in, s, n, &net, &err), err);
    ibp_rng_seed(&rng, 11, 0);
    CHECK_OK(ibp_net_init(net, IBP_INIT_DEFAULT, &rng, &err), err);
    for (int k = 0; k < net->n_layers; k++)
        if (net->layers[k].kind == IBP_LAYER_BATCHNORM)
            for (int j = 0; j < net->shapes[k + 1].c; j++) {
                ibp_bn_running_mean(net, k)[j] = 0.1f * (float)j;
                ibp_bn_running_var(net, k)[j] = 0.5f + 0.25f * (float)j;
            }
    return net;
}

enum { B = 3 };

static void normalize_in_front(void)
{
    const struct ibp_layer_spec s[] = {
        {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV, 0}, .out = 4, .kh = 3, .kw = 3, .ph = 1,
         .pw = 1},
        {.kind = IBP_LAYER_BATCHNORM, .in = {IBP_PREV, 0}},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV, 0}},
        {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV, 0}, .out = 4, .kh = 3, .kw = 3, .ph = 1,
         .pw = 1},
        {.kind = IBP_LAYER_ADD, .in = {3, 4}},
        {.kind = IBP_LAYER_FLATTEN, .in = {IBP_PREV, 0}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV, 0}, .out = 5},
    };
    struct ibp_shape in = {2, 5, 5};
    struct ibp_net *net = make(in, s, 7), *front;
    struct ibp_error err;
    const struct ibp_layer_spec norm = {.kind = IBP_LAYER_NORMALIZE, .in = {IBP_PREV, 0}};
    CHECK_OK(ibp_net_prepend(net, in, &norm, 1, &front, &err), err);
    if (!front) {
        ibp_net_free(net);
        return;
    }
    const float mean[2] = {0.25f, -0.5f}, sd[2] = {0.5f, 2.0f};
    memcpy(ibp_normalize_mean(front, 0), mean, sizeof mean);
    memcpy(ibp_normalize_std(front, 0), sd, sizeof sd);
    CHECK(front->n_layers == 8 && front->layers[5].kind == IBP_LAYER_ADD &&
          front->layers[5].in[0] == 4 && front->layers[5].in[1] == 5);
    CHECK(front->n_params == net->n_params && front->n_buffers == net->n_buffers + 4);
    CHECK(ibp_net_box_value(front) == 1);
    float x[B * 50], xn[B * 50], za[B * 5], zb[B * 5];
    for (int i = 0; i < B * 50; i++) {
        x[i] = (float)((i * 37) % 101) / 100.0f;
        int c = (i / 25) % 2;
        xn[i] = (x[i] - mean[c]) / sd[c];
    }
    forward(net, xn, B, za);
    forward(front, x, B, zb);
    for (int i = 0; i < B * 5; i++)
        CHECK_NEAR(za[i], zb[i], 1e-5 * (1.0 + fabs(za[i])));
    ibp_net_free(front);
    ibp_net_free(net);
}

static void flatten_in_front(void)
{
    const struct ibp_layer_spec s[] = {
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV, 0}, .out = 6},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV, 0}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV, 0}, .out = 3},
    };
    struct ibp_net *net = make((struct ibp_shape){12, 1, 1}, s, 3), *front = NULL;
    struct ibp_error err;
    const struct ibp_layer_spec flat = {.kind = IBP_LAYER_FLATTEN, .in = {IBP_PREV, 0}};
    CHECK_OK(ibp_net_prepend(net, (struct ibp_shape){3, 2, 2}, &flat, 1, &front, &err), err);
    float x[B * 12], za[B * 3], zb[B * 3];
    for (int i = 0; i < B * 12; i++)
        x[i] = (float)((i * 13) % 17) / 16.0f;
    forward(net, x, B, za);
    if (front) {
        forward(front, x, B, zb);
        CHECK(memcmp(za, zb, sizeof za) == 0);
        ibp_net_free(front);
    }
    /* a FLATTEN of 3x2x3 gives 18 features, not the 12 the net takes */
    enum ibp_status st = ibp_net_prepend(net, (struct ibp_shape){3, 2, 3}, &flat, 1, &front, &err);
    CHECK_MSG(st == IBP_ERR_SHAPE && !front && strstr(err.msg, "18") && strstr(err.msg, "12"),
              "status %d: %s", st, err.msg);
    CHECK(ibp_net_prepend(net, (struct ibp_shape){12, 1, 1}, &flat, 0, &front, &err) ==
          IBP_ERR_ARG);
    ibp_net_free(net);
    /* a net whose first layer takes any shape: the prepend's own check */
    net = make((struct ibp_shape){12, 1, 1}, s + 1, 1);
    st = ibp_net_prepend(net, (struct ibp_shape){3, 2, 3}, &flat, 1, &front, &err);
    CHECK_MSG(st == IBP_ERR_SHAPE && !front && strstr(err.msg, "give 18x1x1") &&
                  strstr(err.msg, "takes 12x1x1"),
              "status %d: %s", st, err.msg);
    ibp_net_free(net);
}

int main(void)
{
    normalize_in_front();
    flatten_in_front();
    return check_report();
}
