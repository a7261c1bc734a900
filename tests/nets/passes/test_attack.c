/* PGD (nets/passes/attack.h) on hand-built networks whose counterexamples are known: it finds
 * one where one exists, none where the net is provably robust, keeps every point in the
 * box, honours C/offset/disjunct specifications and does not depend on the thread count;
 * the trainer's constant steps and keep_going. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/graph/net.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "nets/passes/attack.h"

static struct ibp_layer_spec L(enum ibp_layer_kind kind, int out)
{
    struct ibp_layer_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.in[0] = s.in[1] = IBP_PREV;
    s.out = out;
    return s;
}

/* x in R^2 -> h = relu(x0 + x1 - 0.5) -> z = (1.2, h, 0.1 h - 5):
 * z0 - z1 = 1.7 - x0 - x1 wherever h > 0, so around (0.7, 0.7) the label 0 loses exactly
 * when x0 + x1 > 1.7; z2 never wins. */
static struct ibp_net *corner_net(void)
{
    struct ibp_layer_spec s[3] = {L(IBP_LAYER_LINEAR, 1), L(IBP_LAYER_RELU, 0),
                                  L(IBP_LAYER_LINEAR, 3)};
    struct ibp_net *net;
    struct ibp_error err;
    if (ibp_net_create((struct ibp_shape){2, 1, 1}, s, 3, &net, &err) != IBP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    float *w1 = ibp_layer_weight(net, 0), *b1 = ibp_layer_bias(net, 0);
    w1[0] = 1.0f;
    w1[1] = 1.0f;
    b1[0] = -0.5f;
    float *w2 = ibp_layer_weight(net, 2), *b2 = ibp_layer_bias(net, 2);
    w2[0] = 0.0f;
    w2[1] = 1.0f;
    w2[2] = 0.1f;
    b2[0] = 1.2f;
    b2[1] = 0.0f;
    b2[2] = -5.0f;
    return net;
}

static void forward(const struct ibp_net *net, const float *x, int batch, float *z)
{
    struct ibp_workspace *ws;
    struct ibp_error err;
    if (ibp_ws_create(net, batch, IBP_WS_CLEAN, &ws, &err) != IBP_OK)
        exit(1);
    ibp_ws_set_threads(ws, 1);
    CHECK_OK(ibp_pass_clean(net, ws, x, batch, IBP_BN_EVAL, z, &err), err);
    ibp_ws_free(ws);
}

static void test_known_counterexample(void)
{
    struct ibp_net *net = corner_net();
    struct ibp_attack *a;
    struct ibp_error err;
    CHECK_OK(ibp_attack_create(net, 4, 2, &a, &err), err);
    ibp_attack_set_threads(a, 1);
    struct ibp_attack_config cfg;
    ibp_attack_config_default(&cfg);
    /* samples: eps 0.25 (corner 1.9 > 1.7: attackable), eps 0.1 (max 1.6: robust),
     * eps 0.25 without a start point, and a point misclassified already */
    float x[8] = {0.7f, 0.7f, 0.7f, 0.7f, 0.7f, 0.7f, 0.9f, 0.9f};
    float eps[4] = {0.25f, 0.1f, 0.25f, 0.05f};
    float lo[8], hi[8], adv[8];
    for (int i = 0; i < 8; i++) {
        lo[i] = x[i] - eps[i / 2];
        hi[i] = x[i] + eps[i / 2];
    }
    int labels[4] = {0, 0, 0, 0}, found[4];
    double obj[4];
    struct ibp_attack_spec spec = {labels, NULL, NULL, NULL, 2};
    CHECK_OK(ibp_attack_run(net, a, &cfg, x, lo, hi, 4, &spec, adv, obj, found, &err), err);
    CHECK(found[0] == 1);
    CHECK(found[1] == 0);
    CHECK(found[3] == 1);
    CHECK_MSG(obj[1] >= 0.1 - 1e-6, "robust sample obj %g", obj[1]);
    for (int i = 0; i < 8; i++)
        CHECK(adv[i] >= lo[i] && adv[i] <= hi[i]);
    /* the counterexample really loses: forward pass here */
    float z[12];
    forward(net, adv, 4, z);
    CHECK(z[0] - z[1] <= 0.0f);
    CHECK_NEAR(obj[0], (double)z[0] - z[1], 1e-9);
    CHECK(adv[0] + adv[1] > 1.7f);

    /* without a start point the random starts find it too */
    CHECK_OK(ibp_attack_run(net, a, &cfg, NULL, lo, hi, 4, &spec, adv, obj, found, &err), err);
    CHECK(found[0] == 1 && found[2] == 1 && found[1] == 0);

    /* zero steps: only the start point is checked */
    struct ibp_attack_config one = cfg;
    one.steps = 0;
    one.restarts = 1;
    CHECK_OK(ibp_attack_run(net, a, &one, x, lo, hi, 4, &spec, adv, obj, found, &err), err);
    CHECK(found[0] == 0 && found[1] == 0 && found[3] == 1);
    CHECK(adv[0] == x[0] && adv[1] == x[1]);
    ibp_attack_free(a);
    ibp_net_free(net);
}

/* An explicit specification: rows C z + offset, disjuncts of rows. */
static void test_spec_rows(void)
{
    struct ibp_net *net = corner_net();
    struct ibp_attack *a;
    struct ibp_error err;
    CHECK_OK(ibp_attack_create(net, 1, 3, &a, &err), err);
    ibp_attack_set_threads(a, 1);
    struct ibp_attack_config cfg;
    ibp_attack_config_default(&cfg);
    float x[2] = {0.7f, 0.7f}, lo[2] = {0.45f, 0.45f}, hi[2] = {0.95f, 0.95f}, adv[2];
    int found;
    double obj;
    /* one disjunct {z0 - z1 - 0.5, z2 - z1}: both must be <= 0; the first needs
     * x0 + x1 >= 1.2, reachable */
    float C[9] = {1, -1, 0, 0, -1, 1, 0, 0, 0};
    double off[3] = {-0.5, 0.0, 0.0};
    int dis[3] = {0, 0, 1};
    struct ibp_attack_spec spec = {NULL, C, off, dis, 2};
    CHECK_OK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, &obj, &found, &err), err);
    CHECK(found == 1);
    CHECK(adv[0] + adv[1] >= 1.2f - 1e-6f);
    /* the same rows needing z0 - z1 <= -1 (x0 + x1 >= 2.7): unreachable */
    off[0] = 1.0;
    CHECK_OK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, &obj, &found, &err), err);
    CHECK(found == 0);
    CHECK_MSG(obj >= 1.0 - 1.9 + 1.7 - 1e-5, "obj %g", obj);
    /* a second disjunct that always holds (row 2: 0 + offset -1 <= 0) makes it found */
    off[2] = -1.0;
    spec.rows = 3;
    CHECK_OK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, &obj, &found, &err), err);
    CHECK(found == 1);
    CHECK_NEAR(obj, -1.0, 1e-9);
    /* bad arguments */
    spec.rows = 4;
    CHECK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, &obj, &found, &err) ==
          IBP_ERR_ARG);
    spec.rows = 3;
    dis[2] = -1;
    CHECK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, &obj, &found, &err) ==
          IBP_ERR_ARG);
    dis[2] = 1;
    float badlo[2] = {0.5f, 0.96f};
    CHECK(ibp_attack_run(net, a, &cfg, x, badlo, hi, 1, &spec, adv, &obj, &found, &err) ==
          IBP_ERR_ARG);
    int label = 3;
    struct ibp_attack_spec lab = {&label, NULL, NULL, NULL, 0};
    CHECK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &lab, adv, &obj, &found, &err) ==
          IBP_ERR_ARG);
    CHECK(ibp_attack_run(net, a, &cfg, x, lo, hi, 2, &spec, adv, &obj, &found, &err) ==
          IBP_ERR_ARG);
    ibp_attack_free(a);
    ibp_net_free(net);
}

/* A wider random net: results are bit-identical for 1 and 2 threads, and with per-sample
 * streams a sample's attack does not depend on its neighbours in the batch. */
static void test_threads_and_streams(void)
{
    struct ibp_layer_spec s[5] = {L(IBP_LAYER_LINEAR, 32), L(IBP_LAYER_RELU, 0),
                                  L(IBP_LAYER_LINEAR, 32), L(IBP_LAYER_RELU, 0),
                                  L(IBP_LAYER_LINEAR, 5)};
    struct ibp_net *net;
    struct ibp_error err;
    CHECK_OK(ibp_net_create((struct ibp_shape){16, 1, 1}, s, 5, &net, &err), err);
    unsigned r = 7;
    for (size_t i = 0; i < net->n_params; i++) {
        r = r * 1103515245u + 12345u;
        net->params[i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * 0.8f;
    }
    enum { B = 6, N = 16 };
    float x[B * N], lo[B * N], hi[B * N], adv1[B * N], adv2[B * N], adv3[N];
    for (int i = 0; i < B * N; i++) {
        r = r * 1103515245u + 12345u;
        x[i] = (float)(r >> 8) / 16777216.0f;
        lo[i] = fmaxf(x[i] - 0.1f, 0.0f);
        hi[i] = fminf(x[i] + 0.1f, 1.0f);
    }
    int labels[B] = {0, 1, 2, 3, 4, 0}, f1[B], f2[B], f3;
    double o1[B], o2[B], o3;
    uint64_t streams[B] = {10, 11, 12, 13, 14, 15};
    struct ibp_attack_spec spec = {labels, NULL, NULL, NULL, 4};
    struct ibp_attack_config cfg;
    ibp_attack_config_default(&cfg);
    cfg.streams = streams;
    cfg.steps = 12;
    struct ibp_attack *a;
    CHECK_OK(ibp_attack_create(net, B, 4, &a, &err), err);
    ibp_attack_set_threads(a, 1);
    CHECK_OK(ibp_attack_run(net, a, &cfg, NULL, lo, hi, B, &spec, adv1, o1, f1, &err), err);
    ibp_attack_set_threads(a, 2);
    CHECK_OK(ibp_attack_run(net, a, &cfg, NULL, lo, hi, B, &spec, adv2, o2, f2, &err), err);
    CHECK(memcmp(adv1, adv2, sizeof adv1) == 0);
    CHECK(memcmp(o1, o2, sizeof o1) == 0);
    CHECK(memcmp(f1, f2, sizeof f1) == 0);
    /* sample 3 alone, with its own stream */
    struct ibp_attack_config one = cfg;
    one.streams = &streams[3];
    struct ibp_attack_spec spec3 = {&labels[3], NULL, NULL, NULL, 4};
    CHECK_OK(ibp_attack_run(net, a, &one, NULL, lo + 3 * N, hi + 3 * N, 1, &spec3, adv3, &o3,
                            &f3, &err),
             err);
    CHECK(f3 == f1[3]);
    CHECK_MSG(fabs(o3 - o1[3]) <= 1e-5 * (1.0 + fabs(o1[3])), "%.9g vs %.9g", o3, o1[3]);
    int any_found = 0;
    for (int b = 0; b < B; b++)
        any_found |= f1[b];
    CHECK(any_found);
    ibp_attack_free(a);
    ibp_net_free(net);
}

/* The trainer's settings: constant steps, and keep_going (descend past the first
 * counterexample). On corner_net every step moves both inputs up (the objective is
 * 1.7 - x0 - x1 there), by step_size x the half-width 0.25. */
static void test_training_modes(void)
{
    struct ibp_net *net = corner_net();
    struct ibp_attack *a;
    struct ibp_error err;
    CHECK_OK(ibp_attack_create(net, 1, 2, &a, &err), err);
    ibp_attack_set_threads(a, 1);
    float x[2] = {0.7f, 0.7f}, lo[2] = {0.45f, 0.45f}, hi[2] = {0.95f, 0.95f}, adv[2];
    int labels[1] = {0}, found[1];
    double obj[1];
    struct ibp_attack_spec spec = {labels, NULL, NULL, NULL, 2};
    struct ibp_attack_config cfg;
    ibp_attack_config_default(&cfg);
    cfg.restarts = 1;
    cfg.steps = 4;
    cfg.step_size = 0.25;
    cfg.constant_step = 1;
    /* 0.0625 per step: the sum 1.4 passes 1.7 after three steps, where it stops */
    CHECK_OK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, obj, found, &err), err);
    CHECK(found[0] == 1);
    CHECK_NEAR(adv[0] + adv[1], 1.775, 1e-5);
    /* keep_going: all four steps, to the corner */
    cfg.keep_going = 1;
    CHECK_OK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, obj, found, &err), err);
    CHECK(found[0] == 1);
    CHECK_NEAR(adv[0], 0.95, 1e-6);
    CHECK_NEAR(adv[1], 0.95, 1e-6);
    CHECK_NEAR(obj[0], 1.7 - 1.9, 1e-5);
    /* the cosine decay covers 0.25 (1 + 0.854 + 0.5 + 0.146) / 4 of the way: short of it */
    cfg.constant_step = 0;
    CHECK_OK(ibp_attack_run(net, a, &cfg, x, lo, hi, 1, &spec, adv, obj, found, &err), err);
    CHECK_MSG(adv[0] < 0.9f, "cosine decay reached %g", (double)adv[0]);
    /* one step of 2 half-widths saturates to the corner from anywhere in the box */
    cfg.constant_step = 1;
    cfg.steps = 1;
    cfg.step_size = 2.0;
    float start[2] = {0.5f, 0.93f};
    CHECK_OK(ibp_attack_run(net, a, &cfg, start, lo, hi, 1, &spec, adv, obj, found, &err), err);
    CHECK(adv[0] == hi[0] && adv[1] == hi[1]);
    ibp_attack_free(a);
    ibp_net_free(net);
}

int main(void)
{
    test_known_counterexample();
    test_spec_rows();
    test_threads_and_streams();
    test_training_modes();
    return check_report();
}
