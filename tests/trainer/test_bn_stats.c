/* Population BN statistics (trainer/bn_stats.h) on Linear(3 -> 2) -> BN -> ReLU ->
 * Linear(2 -> 2) over 10 samples in batches of 4, 4, 2: the running mean becomes the
 * mean of the BN input over all samples, the running variance the sample-weighted mean
 * of the three batches' unbiased variances, whatever the statistics were before. */
#include <stdlib.h>
#include <string.h>

#include "datasets/batch.h"
#include "datasets/dataset.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "trainer/bn_stats.h"

enum { N = 10, BATCH = 4 };

static struct ibp_layer_spec L(enum ibp_layer_kind kind, int out)
{
    struct ibp_layer_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.in[0] = s.in[1] = IBP_PREV;
    s.out = out;
    return s;
}

int main(void)
{
    struct ibp_error err;
    struct ibp_layer_spec s[4] = {L(IBP_LAYER_LINEAR, 2), L(IBP_LAYER_BATCHNORM, 0),
                                  L(IBP_LAYER_RELU, 0), L(IBP_LAYER_LINEAR, 2)};
    struct ibp_net *net;
    CHECK_OK(ibp_net_create((struct ibp_shape){3, 1, 1}, s, 4, &net, &err), err);
    const float W[6] = {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f}, bias[2] = {0.1f, -0.2f};
    memcpy(ibp_layer_weight(net, 0), W, sizeof W);
    memcpy(ibp_layer_bias(net, 0), bias, sizeof bias);
    float *rm = ibp_bn_running_mean(net, 1), *rv = ibp_bn_running_var(net, 1);
    rm[0] = 7.0f; rm[1] = -3.0f; rv[0] = 9.0f; rv[1] = 0.01f; /* to be forgotten */

    struct ibp_dataset *ds;
    CHECK_OK(ibp_dataset_create(N, 3, 1, 1, 2, &ds, &err), err);
    for (int i = 0; i < N * 3; i++)
        ds->pixels[i] = (uint8_t)((i * 37 + 11) % 256);
    struct ibp_batch_options bo = {.batch_size = BATCH, .shuffle = 0};
    struct ibp_batcher *batcher;
    CHECK_OK(ibp_batcher_create(ds, &bo, &batcher, &err), err);
    struct ibp_workspace *ws;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN, &ws, &err), err);
    ibp_ws_set_threads(ws, 1);
    float x[BATCH * 3], logits[BATCH * 2];
    int32_t labels[BATCH];
    CHECK_OK(ibp_bn_population_stats(net, ws, batcher, x, labels, logits, &err), err);

    /* by hand: h = W x + b per sample, in double */
    double h[N][2];
    for (int n = 0; n < N; n++)
        for (int o = 0; o < 2; o++) {
            h[n][o] = bias[o];
            for (int i = 0; i < 3; i++)
                h[n][o] += (double)W[o * 3 + i] * (ds->pixels[n * 3 + i] / 255.0f);
        }
    const int start[3] = {0, 4, 8}, size[3] = {4, 4, 2};
    for (int o = 0; o < 2; o++) {
        double mean = 0, var = 0;
        for (int n = 0; n < N; n++)
            mean += h[n][o] / N;
        for (int k = 0; k < 3; k++) {
            double m = 0, v = 0;
            for (int n = start[k]; n < start[k] + size[k]; n++)
                m += h[n][o] / size[k];
            for (int n = start[k]; n < start[k] + size[k]; n++)
                v += (h[n][o] - m) * (h[n][o] - m) / (size[k] - 1);
            var += v * size[k] / N;
        }
        CHECK_NEAR(rm[o], mean, 2e-6);
        CHECK_NEAR(rv[o], var, 2e-6 * (1 + var));
    }

    /* a net without BN is left alone */
    struct ibp_layer_spec s2[1] = {L(IBP_LAYER_LINEAR, 2)};
    struct ibp_net *plain;
    CHECK_OK(ibp_net_create((struct ibp_shape){3, 1, 1}, s2, 1, &plain, &err), err);
    struct ibp_workspace *ws2;
    CHECK_OK(ibp_ws_create(plain, BATCH, IBP_WS_CLEAN, &ws2, &err), err);
    CHECK_OK(ibp_bn_population_stats(plain, ws2, batcher, x, labels, logits, &err), err);
    ibp_ws_free(ws2);
    ibp_net_free(plain);

    ibp_ws_free(ws);
    ibp_batcher_free(batcher);
    ibp_dataset_free(ds);
    ibp_net_free(net);
    return check_report();
}
