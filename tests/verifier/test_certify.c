/* The verification driver (verifier/certify.h) on random small networks: no sample is ever
 * both certified and attacked (the attack runs on certified samples too), every certified
 * sample survives random points of its box, results do not depend on the thread count,
 * the boxes are rounded the right way, and the bad inputs are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "nets/passes/passes.h"
#include "nets/base/rng.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"
#include "verifier/certify.h"

static const double EPS[] = {0.0, 1.0 / 255, 4.0 / 255, 16.0 / 255, 0.25};

/* The boxes against long double: outward contains the real box, inward lies inside it. */
static void test_pixel_box(void)
{
    uint8_t p[256];
    for (int i = 0; i < 256; i++)
        p[i] = (uint8_t)i;
    float lo[256], hi[256];
    for (size_t e = 0; e < sizeof EPS / sizeof EPS[0]; e++) {
        long double eps = e == 1 ? 1.0L / 255 : e == 2 ? 4.0L / 255 : e == 3 ? 16.0L / 255
                                                                               : EPS[e];
        int bad_out = 0, bad_in = 0, bad_near = 0;
        ibp_pixel_box(p, 256, EPS[e], IBP_BOX_OUTWARD, lo, hi);
        for (int i = 0; i < 256; i++) {
            long double x = (long double)i / 255, l = x - eps, h = x + eps;
            l = l < 0 ? 0 : l;
            h = h > 1 ? 1 : h;
            bad_out += !((long double)lo[i] <= l && (long double)hi[i] >= h && lo[i] >= 0.0f &&
                         hi[i] <= 1.0f);
        }
        ibp_pixel_box(p, 256, EPS[e], IBP_BOX_INWARD, lo, hi);
        for (int i = 0; i < 256; i++) {
            long double x = (long double)i / 255, l = x - eps, h = x + eps;
            l = l < 0 ? 0 : l;
            h = h > 1 ? 1 : h;
            if (EPS[e] > 0.0)
                bad_in += !((long double)lo[i] >= l && (long double)hi[i] <= h && lo[i] <= hi[i]);
            else
                bad_in += !(lo[i] == hi[i] && lo[i] == (float)i / 255.0f);
        }
        ibp_pixel_box(p, 256, EPS[e], IBP_BOX_NEAREST, lo, hi);
        for (int i = 0; i < 256; i++) {
            double x = (double)((float)i / 255.0f);
            bad_near += lo[i] != (float)fmax(x - EPS[e], 0.0) ||
                        hi[i] != (float)fmin(x + EPS[e], 1.0);
        }
        CHECK_MSG(bad_out == 0, "eps %g: %d outward boxes miss the real box", EPS[e], bad_out);
        CHECK_MSG(bad_in == 0, "eps %g: %d inward boxes leave the real box", EPS[e], bad_in);
        CHECK(bad_near == 0);
    }
}

/* A dataset of n random images of the net's input shape with random labels. */
static struct ibp_dataset *random_data(const struct ibp_net *net, int64_t n, struct ibp_rng *rng)
{
    struct ibp_dataset *ds;
    struct ibp_error err;
    int O = ibp_net_outputs(net);
    if (ibp_dataset_create(n, net->input.c, net->input.h, net->input.w, O, &ds, &err) !=
        IBP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    for (int64_t i = 0; i < n * ibp_dataset_sample_size(ds); i++)
        ds->pixels[i] = (uint8_t)ibp_rng_below(rng, 256);
    for (int64_t i = 0; i < n; i++)
        ds->labels[i] = (int32_t)ibp_rng_below(rng, (uint64_t)O);
    return ds;
}

/* Makes the net's predictions mostly agree with the labels' structure: labels become the
 * network's own clean predictions for half of the samples, so that certification has
 * something to certify. */
static void relabel_half(const struct ibp_net *net, struct ibp_dataset *ds)
{
    int O = ibp_net_outputs(net);
    size_t in = (size_t)ibp_dataset_sample_size(ds);
    float *x = malloc((size_t)ds->n * in * sizeof(float));
    float *z = malloc((size_t)ds->n * (size_t)O * sizeof(float));
    struct ibp_workspace *ws;
    struct ibp_error err;
    CHECK_OK(ibp_ws_create(net, (int)ds->n, IBP_WS_CLEAN, &ws, &err), err);
    ibp_ws_set_threads(ws, 1);
    for (size_t i = 0; i < (size_t)ds->n * in; i++)
        x[i] = (float)ds->pixels[i] / 255.0f;
    CHECK_OK(ibp_pass_clean(net, ws, x, (int)ds->n, IBP_BN_EVAL, z, &err), err);
    for (int64_t i = 0; i < ds->n; i += 2) {
        int best = 0;
        for (int j = 1; j < O; j++)
            if (z[i * O + j] > z[i * O + best])
                best = j;
        ds->labels[i] = best;
    }
    ibp_ws_free(ws);
    free(x);
    free(z);
}

/* Checks a certified sample against random points of its real box. Returns violations. */
static int sample_box(const struct ibp_net *net, const struct ibp_dataset *ds, int64_t i,
                      double eps, int label, struct ibp_rng *rng)
{
    enum { K = 16 };
    size_t in = (size_t)ibp_dataset_sample_size(ds);
    int O = ibp_net_outputs(net), bad = 0;
    float *lo = malloc(in * sizeof(float)), *hi = malloc(in * sizeof(float));
    float *x = malloc(K * in * sizeof(float)), *z = malloc(K * (size_t)O * sizeof(float));
    ibp_pixel_box(ibp_dataset_sample(ds, i), in, eps, IBP_BOX_INWARD, lo, hi);
    for (int k = 0; k < K; k++)
        for (size_t j = 0; j < in; j++) {
            /* corners half of the time: where the worst case of a ReLU net tends to be */
            double u = k % 2 ? (double)ibp_rng_below(rng, 2) : ibp_rng_uniform(rng);
            x[k * in + j] = (float)(lo[j] + u * ((double)hi[j] - lo[j]));
            x[k * in + j] = fminf(fmaxf(x[k * in + j], lo[j]), hi[j]);
        }
    struct ibp_workspace *ws;
    struct ibp_error err;
    CHECK_OK(ibp_ws_create(net, K, IBP_WS_CLEAN, &ws, &err), err);
    ibp_ws_set_threads(ws, 1);
    CHECK_OK(ibp_pass_clean(net, ws, x, K, IBP_BN_EVAL, z, &err), err);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < O; j++)
            if (j != label && !(z[k * O + j] < z[k * O + label]))
                bad++;
    ibp_ws_free(ws);
    free(lo);
    free(hi);
    free(x);
    free(z);
    return bad;
}

static int same_results(const struct ibp_certify_sample *a, const struct ibp_certify_sample *b,
                        int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (a[i].index != b[i].index || a[i].label != b[i].label || a[i].pred != b[i].pred ||
            a[i].verdict != b[i].verdict || a[i].conflict != b[i].conflict)
            return 0;
        for (int k = 0; k < IBP_CERTIFY_MAX_METHODS; k++)
            if (memcmp(&a[i].lb_min[k], &b[i].lb_min[k], sizeof(float)) != 0)
                return 0;
        if (memcmp(&a[i].attack_obj, &b[i].attack_obj, sizeof(double)) != 0)
            return 0;
    }
    return 1;
}

static void test_random_nets(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 2024, 0);
    int64_t total_cert = 0, total_att = 0, total_conf = 0, total_bad = 0;
    for (int f = 0; f < 3; f++) {
        struct ibp_net *net = fixture_net(f, &rng);
        struct ibp_dataset *ds = random_data(net, 24, &rng);
        relabel_half(net, ds);
        ds->labels[5] = -1; /* unlabelled: checked against the prediction */
        struct ibp_certify_config cfg;
        ibp_certify_config_default(&cfg);
        cfg.methods[0] = IBP_BOUND_IBP;
        cfg.methods[1] = IBP_BOUND_CROWN_IBP;
        cfg.methods[2] = IBP_BOUND_CROWN;
        cfg.n_methods = 3;
        cfg.batch = 5;
        cfg.attack_certified = 1;
        cfg.attack_cfg.steps = 20;
        struct ibp_error err;
        /* methods a net's layers do not support are left out for that net */
        if (ibp_certify_check(net, fixture_name(f), ds, "random", &cfg, &err) != IBP_OK) {
            CHECK_MSG(err.status == IBP_ERR_UNSUPPORTED, "%s", err.msg);
            cfg.n_methods = 1;
        }
        CHECK_OK(ibp_certify_check(net, fixture_name(f), ds, "random", &cfg, &err), err);
        struct ibp_certify_sample *r1 = calloc((size_t)ds->n, sizeof *r1);
        struct ibp_certify_sample *r2 = calloc((size_t)ds->n, sizeof *r2);
        for (size_t e = 0; e < sizeof EPS / sizeof EPS[0]; e++) {
            cfg.eps = EPS[e];
            for (int sound = 0; sound <= 1; sound++) {
                struct ibp_certify_summary s1, s2;
                cfg.sound = sound;
                cfg.threads = 1;
                CHECK_OK(ibp_certify_run(net, ds, &cfg, NULL, r1, &s1, &err), err);
                /* two threads at one radius per net (barriers are slow on shared cores) */
                if (e == 2) {
                    cfg.threads = 2;
                    CHECK_OK(ibp_certify_run(net, ds, &cfg, NULL, r2, &s2, &err), err);
                    CHECK_MSG(same_results(r1, r2, ds->n), "%s eps %g: 1 and 2 threads differ",
                              fixture_name(f), EPS[e]);
                    CHECK(s2.certified == s1.certified && s2.attacked == s1.attacked);
                }
                CHECK(s1.certified + s1.attacked + s1.unknown == ds->n);
                CHECK(s1.attacked >= s1.clean_errors);
                CHECK_MSG(s1.conflicts == 0, "%s eps %g: %lld samples certified and attacked",
                          fixture_name(f), EPS[e], (long long)s1.conflicts);
                CHECK(r1[5].label == r1[5].pred);
                for (int64_t i = 0; i < ds->n; i++) {
                    double best = -INFINITY;
                    for (int k = 0; k < cfg.n_methods; k++)
                        best = fmax(best, r1[i].lb_min[k]);
                    /* CROWN methods are never looser than IBP (bounds.h) */
                    for (int k = 1; k < cfg.n_methods; k++)
                        CHECK(!(r1[i].lb_min[k] < r1[i].lb_min[0]));
                    CHECK((r1[i].verdict == IBP_VERDICT_CERTIFIED) ==
                          (best > 0.0 && r1[i].clean_correct));
                    CHECK(r1[i].clean_correct || r1[i].verdict == IBP_VERDICT_ATTACKED);
                    if (r1[i].verdict == IBP_VERDICT_CERTIFIED) {
                        CHECK(r1[i].attack_obj > 0.0);
                        CHECK(r1[i].attack_obj >= best - 1e-4);
                        total_bad += sample_box(net, ds, i, EPS[e], r1[i].label, &rng);
                    }
                    if (r1[i].verdict == IBP_VERDICT_ATTACKED)
                        CHECK(r1[i].attack_obj <= 0.0);
                }
                total_cert += s1.certified;
                total_att += s1.attacked - s1.clean_errors;
                total_conf += s1.conflicts;
            }
        }
        free(r1);
        free(r2);
        ibp_dataset_free(ds);
        ibp_net_free(net);
    }
    CHECK(total_conf == 0);
    CHECK(total_bad == 0);
    /* the sweep exercised both outcomes */
    CHECK_MSG(total_cert > 0 && total_att > 0, "certified %lld, attacked %lld",
              (long long)total_cert, (long long)total_att);
}

static void test_bad_inputs(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 5, 0);
    struct ibp_net *net = fixture_net(2, &rng); /* 1x9x8, 3 classes */
    struct ibp_dataset *ds = random_data(net, 4, &rng), *other;
    struct ibp_certify_config cfg;
    ibp_certify_config_default(&cfg);
    struct ibp_error err;
    CHECK(ibp_dataset_create(2, 3, 9, 8, 3, &other, &err) == IBP_OK);
    CHECK(ibp_certify_check(net, "m.ibpm", other, "d.bin", &cfg, &err) == IBP_ERR_SHAPE);
    CHECK(strstr(err.msg, "d.bin") && strstr(err.msg, "m.ibpm") && strstr(err.msg, "3x9x8"));
    ds->labels[2] = 3;
    CHECK(ibp_certify_check(net, "m.ibpm", ds, "d.bin", &cfg, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "label 3") != NULL);
    ds->labels[2] = 0;
    cfg.eps = 1.5;
    CHECK(ibp_certify_check(net, "m.ibpm", ds, "d.bin", &cfg, &err) == IBP_ERR_ARG);
    cfg.eps = 0.1;
    cfg.batch = 0;
    CHECK(ibp_certify_check(net, "m.ibpm", ds, "d.bin", &cfg, &err) == IBP_ERR_ARG);
    cfg.batch = 4;
    CHECK_OK(ibp_certify_check(net, "m.ibpm", ds, "d.bin", &cfg, &err), err);

    enum ibp_bound_method m[3];
    int n = 0;
    CHECK_OK(ibp_bound_methods_parse("crown,ibp", "--methods", m, &n, &err), err);
    CHECK(n == 2 && m[0] == IBP_BOUND_CROWN && m[1] == IBP_BOUND_IBP);
    CHECK(ibp_bound_methods_parse("ibp,ibp", "--methods", m, &n, &err) == IBP_ERR_ARG);
    CHECK(ibp_bound_methods_parse("ibp,", "--methods", m, &n, &err) == IBP_ERR_ARG);
    CHECK(ibp_bound_methods_parse("crown-ib", "--methods", m, &n, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "crown-ib") != NULL);
    /* the help texts' list is the table's names, in enum order */
    char list[128] = "";
    for (int k = 0; k < IBP_BOUND_METHOD_COUNT; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "",
                 ibp_bound_method_name((enum ibp_bound_method)k));
    CHECK_MSG(strcmp(list, IBP_BOUND_METHOD_LIST) == 0, "\"%s\" vs \"%s\"", list,
              IBP_BOUND_METHOD_LIST);
    CHECK(strcmp(ibp_bound_method_name((enum ibp_bound_method)IBP_BOUND_METHOD_COUNT), "?") == 0);
    ibp_dataset_free(other);
    ibp_dataset_free(ds);
    ibp_net_free(net);
}

int main(void)
{
    test_pixel_box();
    test_bad_inputs();
    test_random_nets();
    return check_report();
}
