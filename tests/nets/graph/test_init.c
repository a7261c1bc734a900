/* Initialisation: PyTorch-default bounds, IBP-init statistics against sigma, the
 * classifier excluded, BatchNorm reset, and the residual halving rule. */
#include <math.h>
#include <string.h>

#include "nets/graph/init.h"
#include "tests/common/check.h"

#define PI 3.14159265358979323846

static struct ibp_layer_spec L(enum ibp_layer_kind kind)
{
    struct ibp_layer_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.in[0] = s.in[1] = IBP_PREV;
    return s;
}

static struct ibp_layer_spec conv(int out, int k, int stride, int pad)
{
    struct ibp_layer_spec s = L(IBP_LAYER_CONV2D);
    s.out = out;
    s.kh = s.kw = k;
    s.sh = s.sw = stride;
    s.ph = s.pw = pad;
    return s;
}

static struct ibp_layer_spec linear(int out)
{
    struct ibp_layer_spec s = L(IBP_LAYER_LINEAR);
    s.out = out;
    return s;
}

static void moments(const float *p, size_t n, double *mean, double *sd, double *maxabs)
{
    double s = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        s += p[i];
        m = fmax(m, fabs(p[i]));
    }
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        s2 += (p[i] - *mean) * (p[i] - *mean);
    *sd = sqrt(s2 / (double)(n - 1));
    *maxabs = m;
}

/* cnn-small with BN on 1x28x28: conv 16 4x4 s2 p1, conv 32 4x4 s2 p1, linear 100,
 * linear 10 */
static void test_cnn_small(void)
{
    struct ibp_layer_spec s[] = {
        conv(16, 4, 2, 1),         L(IBP_LAYER_BATCHNORM), L(IBP_LAYER_RELU),
        conv(32, 4, 2, 1),         L(IBP_LAYER_BATCHNORM), L(IBP_LAYER_RELU),
        L(IBP_LAYER_FLATTEN),      linear(100),            L(IBP_LAYER_BATCHNORM),
        L(IBP_LAYER_RELU),         linear(10),
    };
    struct ibp_net *net;
    struct ibp_error err = {0};
    CHECK_OK(ibp_net_create((struct ibp_shape){1, 28, 28}, s, 11, &net, &err), err);
    if (!net)
        return;
    CHECK(ibp_net_classifier(net) == 10);
    CHECK(ibp_layer_fan_in(net, 0) == 16);
    CHECK(ibp_layer_fan_in(net, 3) == 16 * 16);
    CHECK(ibp_layer_fan_in(net, 7) == 32 * 7 * 7);
    CHECK(ibp_layer_fan_in(net, 10) == 100);
    CHECK(ibp_layer_fan_in(net, 1) == 0);

    /* dirty BN state that init must reset */
    for (size_t i = 0; i < net->n_buffers; i++)
        net->buffers[i] = 3.0f;
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 100, 0);
    CHECK_OK(ibp_net_init(net, IBP_INIT_IBP, &rng, &err), err);
    const int wl[] = {0, 3, 7};
    for (int i = 0; i < 3; i++) {
        int k = wl[i];
        int fan = ibp_layer_fan_in(net, k);
        size_t n = (size_t)net->layers[k].out * (size_t)fan;
        double mean, sd, mx;
        moments(ibp_layer_weight(net, k), n, &mean, &sd, &mx);
        double sigma = sqrt(2 * PI) / fan;
        /* sampling error: mean ~ sigma/sqrt(n), sd ~ sigma/sqrt(2n); 5 standard errors */
        CHECK_MSG(fabs(mean) < 5 * sigma / sqrt((double)n), "layer %d mean %g sigma %g", k, mean,
                  sigma);
        CHECK_MSG(fabs(sd - sigma) < 5 * sigma / sqrt(2.0 * n), "layer %d sd %g sigma %g", k, sd,
                  sigma);
        CHECK(mx < 7 * sigma); /* a normal, not something with heavy tails */
        double mean_b, sd_b, mx_b;
        moments(ibp_layer_bias(net, k), (size_t)net->layers[k].out, &mean_b, &sd_b, &mx_b);
        CHECK(mx_b <= 1.0 / sqrt(fan));
        CHECK(mx_b > 0.5 / sqrt(fan)); /* uniform over the whole range, not sigma-sized */
    }
    /* the classifier keeps the default uniform(+-1/sqrt(100)) */
    double mean, sd, mx;
    moments(ibp_layer_weight(net, 10), 1000, &mean, &sd, &mx);
    CHECK(mx <= 0.1 && mx > 0.09);
    CHECK_NEAR(sd, 0.1 / sqrt(3.0), 5 * 0.1 / sqrt(3.0) / sqrt(2000.0));
    /* BatchNorm reset */
    int bn_ok = 1;
    for (int k = 0; k < net->n_layers; k++) {
        if (net->layers[k].kind != IBP_LAYER_BATCHNORM)
            continue;
        int c = net->shapes[net->layers[k].in[0]].c;
        for (int i = 0; i < c; i++)
            bn_ok &= ibp_bn_gamma(net, k)[i] == 1.0f && ibp_bn_beta(net, k)[i] == 0.0f &&
                     ibp_bn_running_mean(net, k)[i] == 0.0f &&
                     ibp_bn_running_var(net, k)[i] == 1.0f;
    }
    CHECK(bn_ok);
    CHECK_OK(ibp_net_check_finite(net, &err), err);

    /* default init: every weight and bias uniform within +-1/sqrt(fan_in), with
     * variance bound^2/3 */
    ibp_rng_seed(&rng, 100, 0);
    CHECK_OK(ibp_net_init(net, IBP_INIT_DEFAULT, &rng, &err), err);
    for (int i = 0; i < 3; i++) {
        int k = wl[i];
        int fan = ibp_layer_fan_in(net, k);
        size_t n = (size_t)net->layers[k].out * (size_t)fan;
        double b = 1.0 / sqrt(fan);
        moments(ibp_layer_weight(net, k), n, &mean, &sd, &mx);
        CHECK(mx <= b && mx > 0.95 * b);
        CHECK_NEAR(sd, b / sqrt(3.0), 5 * b / sqrt(3.0) / sqrt(2.0 * n) * 1.2);
        CHECK(fabs(mean) < 5 * b / sqrt(3.0 * n));
    }
    /* determinism: same seed, same net; another seed, another net */
    struct ibp_net *twin;
    CHECK_OK(ibp_net_clone(net, &twin, &err), err);
    ibp_rng_seed(&rng, 100, 0);
    CHECK_OK(ibp_net_init(twin, IBP_INIT_DEFAULT, &rng, &err), err);
    CHECK(memcmp(twin->params, net->params, net->n_params * sizeof(float)) == 0);
    ibp_rng_seed(&rng, 101, 0);
    CHECK_OK(ibp_net_init(twin, IBP_INIT_DEFAULT, &rng, &err), err);
    CHECK(memcmp(twin->params, net->params, net->n_params * sizeof(float)) != 0);
    CHECK(ibp_net_init(twin, (enum ibp_init_kind)9, &rng, &err) == IBP_ERR_ARG);
    ibp_net_free(twin);
    ibp_net_free(net);
}

/* A small residual net:
 *   0 conv 8 (stem) 1 relu
 *   block 1: 2 conv 8, 3 relu, 4 conv 8, 5 add(value 5, value 2), 6 relu
 *   block 2: 7 conv 8 (input relu(add): halved), 8 relu, 9 conv 8,
 *            10 conv 8 1x1 shortcut reading value 7 = relu(add): halved,
 *            11 add(value 10, value 11), 12 relu
 *   13 flatten, 14 linear 5 (input is flatten: not halved) */
static void test_residual(void)
{
    struct ibp_layer_spec s[15];
    s[0] = conv(8, 3, 1, 1);
    s[1] = L(IBP_LAYER_RELU);
    s[2] = conv(8, 3, 1, 1);
    s[3] = L(IBP_LAYER_RELU);
    s[4] = conv(8, 3, 1, 1);
    s[5] = L(IBP_LAYER_ADD);
    s[5].in[0] = 5;
    s[5].in[1] = 2;
    s[6] = L(IBP_LAYER_RELU);
    s[7] = conv(8, 3, 1, 1);
    s[8] = L(IBP_LAYER_RELU);
    s[9] = conv(8, 3, 1, 1);
    s[10] = conv(8, 1, 1, 0);
    s[10].in[0] = 7;
    s[11] = L(IBP_LAYER_ADD);
    s[11].in[0] = 10;
    s[11].in[1] = 11;
    s[12] = L(IBP_LAYER_RELU);
    s[13] = L(IBP_LAYER_FLATTEN);
    s[14] = linear(5);
    struct ibp_net *a, *b;
    struct ibp_error err = {0};
    CHECK_OK(ibp_net_create((struct ibp_shape){3, 6, 6}, s, 15, &a, &err), err);
    if (!a)
        return;
    CHECK_OK(ibp_net_clone(a, &b, &err), err);
    for (int k = 0; k < 15; k++) {
        int want = k == 7 || k == 10 || k == 13; /* 13 is the flatten */
        CHECK_MSG(ibp_layer_after_residual(a, k) == want, "layer %d", k);
    }
    CHECK(ibp_net_classifier(a) == 14);
    /* the halving is exact: layer 7's weights are half of the draws a second RNG with
     * the same seed produces at that point */
    struct ibp_rng r1, r2;
    ibp_rng_seed(&r1, 5, 0);
    ibp_rng_seed(&r2, 5, 0);
    CHECK_OK(ibp_net_init(a, IBP_INIT_IBP, &r1, &err), err);
    /* reproduce the draws by hand for layer 7's weights: layers 0, 2, 4 each draw
     * 8*fan weights (normal) + 8 biases (uniform) before it */
    for (int k = 0; k < 7; k++) {
        if (a->layers[k].kind != IBP_LAYER_CONV2D)
            continue;
        int fan = ibp_layer_fan_in(a, k);
        for (int i = 0; i < 8 * fan; i++)
            ibp_rng_normal(&r2);
        for (int i = 0; i < 8; i++)
            ibp_rng_uniform(&r2);
    }
    int fan7 = ibp_layer_fan_in(a, 7);
    double sigma7 = sqrt(2 * PI) / fan7;
    int halved = 1;
    const float *w7 = ibp_layer_weight(a, 7);
    for (int i = 0; i < 8 * fan7; i++)
        halved &= w7[i] == (float)(sigma7 * ibp_rng_normal(&r2)) * 0.5f;
    CHECK(halved);
    /* statistics: halved layers have sd sigma/2; the others sigma */
    double mean, sd, mx;
    moments(w7, (size_t)(8 * fan7), &mean, &sd, &mx);
    CHECK_NEAR(sd, sigma7 / 2, 5 * sigma7 / 2 / sqrt(2.0 * 8 * fan7));
    moments(ibp_layer_weight(a, 10), 64, &mean, &sd, &mx);
    CHECK_NEAR(sd, sqrt(2 * PI) / 8 / 2, 5 * sqrt(2 * PI) / 8 / 2 / sqrt(128.0));
    int fan9 = ibp_layer_fan_in(a, 9);
    moments(ibp_layer_weight(a, 9), (size_t)(8 * fan9), &mean, &sd, &mx);
    CHECK_NEAR(sd, sqrt(2 * PI) / fan9, 5 * sqrt(2 * PI) / fan9 / sqrt(2.0 * 8 * fan9));
    /* default init never halves */
    ibp_rng_seed(&r1, 5, 0);
    CHECK_OK(ibp_net_init(b, IBP_INIT_DEFAULT, &r1, &err), err);
    moments(ibp_layer_weight(b, 7), (size_t)(8 * fan7), &mean, &sd, &mx);
    CHECK(mx > 0.9 / sqrt(fan7));
    ibp_net_free(a);
    ibp_net_free(b);
}

int main(void)
{
    test_cnn_small();
    test_residual();
    return check_report();
}
