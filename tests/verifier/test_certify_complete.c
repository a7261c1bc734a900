/* The driver's complete-verification steps (verifier/certify.h: α-CROWN and branch and
 * bound after the bound methods and PGD) on small random ReLU MLPs over 4 pixels.
 *
 * Checked: α-CROWN and branch and bound decide samples CROWN leaves open, and each
 * record names the step that decided it consistently with its bounds; with the attack
 * on certified samples too no sample is both certified and attacked; every certified
 * sample survives random points of its box; branch and bound's counterexamples (attack
 * off) lie in the inward box and violate the label by a forward pass; 1 and 2 threads
 * give the same records; a residual net gets a note and its samples stay unknown with
 * reason "unsupported"; bad branch-and-bound settings are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/dataset.h"
#include "nets/base/rng.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/fixture.h"
#include "verifier/certify.h"

#define L(...) ((struct ibp_layer_spec){__VA_ARGS__, .in = {IBP_PREV, 0}})
enum { N_SAMPLES = 48, OUTS = 3 };

static struct ibp_net *mlp(struct ibp_rng *rng)
{
    struct ibp_layer_spec s[6] = {L(.kind = IBP_LAYER_FLATTEN),
                                  L(.kind = IBP_LAYER_LINEAR, .out = 12), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = 12), L(.kind = IBP_LAYER_RELU),
                                  L(.kind = IBP_LAYER_LINEAR, .out = OUTS)};
    return fixture_build((struct ibp_shape){1, 2, 2}, s, 6, rng);
}

/* A net with a clean-pass workspace for up to FWD_MAX inputs. */
enum { FWD_MAX = 200 };
struct fwd {
    const struct ibp_net *net;
    struct ibp_workspace *ws;
};

static struct fwd fwd_make(const struct ibp_net *net)
{
    struct fwd f = {net, NULL};
    struct ibp_error err;
    CHECK(ibp_ws_create(net, FWD_MAX, IBP_WS_CLEAN, &f.ws, &err) == IBP_OK);
    return f;
}

/* Logits z[n][OUTS] of n <= FWD_MAX pixel-space inputs x[n][4]. */
static void forward_n(const struct fwd *f, const float *x, int n, float *z)
{
    struct ibp_error err;
    CHECK(ibp_pass_clean(f->net, f->ws, x, n, IBP_BN_EVAL, z, &err) == IBP_OK);
}

static int label_wins(const float *z, int y)
{
    for (int j = 0; j < OUTS; j++)
        if (j != y && !(z[y] > z[j]))
            return 0;
    return 1;
}

/* Random images labelled with the net's own clean prediction. */
static struct ibp_dataset *own_labels(const struct fwd *f, struct ibp_rng *rng)
{
    struct ibp_dataset *ds;
    struct ibp_error err;
    if (ibp_dataset_create(N_SAMPLES, 1, 2, 2, OUTS, &ds, &err) != IBP_OK)
        exit(1);
    float x[N_SAMPLES * 4], z[N_SAMPLES * OUTS];
    for (int i = 0; i < N_SAMPLES * 4; i++) {
        ds->pixels[i] = (uint8_t)ibp_rng_below(rng, 256);
        x[i] = (float)ds->pixels[i] / 255.0f;
    }
    forward_n(f, x, N_SAMPLES, z);
    for (int64_t i = 0; i < N_SAMPLES; i++) {
        int best = 0;
        for (int j = 1; j < OUTS; j++)
            best = z[i * OUTS + j] > z[i * OUTS + best] ? j : best;
        ds->labels[i] = best;
    }
    return ds;
}

static void config(struct ibp_certify_config *cfg, double eps, int threads)
{
    ibp_certify_config_default(cfg);
    cfg->eps = eps;
    cfg->methods[0] = IBP_BOUND_CROWN;
    cfg->n_methods = 1;
    cfg->alpha_crown = 1;
    cfg->bab = 1;
    cfg->bab_cfg.timeout_s = 30.0;
    cfg->batch = 8;
    cfg->threads = threads;
    cfg->attack_certified = 1;
}

/* Checks every branch-and-bound counterexample: inside the inward box, violating. */
struct cex_ctx {
    const struct fwd *f;
    const struct ibp_dataset *ds;
    double eps;
    int seen, bad, bad_pred;
};

static enum ibp_status check_cex(void *ctx, const struct ibp_certify_sample *s, const float *x,
                                 const float *x_adv, struct ibp_error *err)
{
    (void)x;
    (void)err;
    struct cex_ctx *c = ctx;
    float lo[4], hi[4], z[OUTS];
    ibp_pixel_box(ibp_dataset_sample(c->ds, s->index), 4, c->eps, IBP_BOX_INWARD, lo, hi);
    forward_n(c->f, x_adv, 1, z);
    int in_box = 1;
    for (int k = 0; k < 4; k++)
        in_box &= x_adv[k] >= lo[k] && x_adv[k] <= hi[k];
    int pred = 0;
    for (int j = 1; j < OUTS; j++)
        pred = z[j] > z[pred] ? j : pred;
    c->seen += s->by == IBP_BY_BAB;
    c->bad += !in_box || label_wins(z, s->label);
    /* the sample names the class its counterexample is given */
    c->bad_pred += s->adv_pred != pred;
    return IBP_OK;
}

/* Random points of a certified sample's (real) box keep the label winning. */
static int survives(const struct fwd *f, const struct ibp_dataset *ds,
                    const struct ibp_certify_sample *s, double eps, struct ibp_rng *rng)
{
    enum { POINTS = FWD_MAX };
    float lo[4], hi[4], x[POINTS * 4], z[POINTS * OUTS];
    ibp_pixel_box(ibp_dataset_sample(ds, s->index), 4, eps, IBP_BOX_INWARD, lo, hi);
    for (int t = 0; t < POINTS; t++)
        for (int k = 0; k < 4; k++)
            x[t * 4 + k] = (float)fixture_uniform(rng, lo[k], hi[k]);
    forward_n(f, x, POINTS, z);
    for (int t = 0; t < POINTS; t++)
        if (!label_wins(z + t * OUTS, s->label))
            return 0;
    return 1;
}

static void test_decides(void)
{
    static const double EPS[] = {0.03, 0.06, 0.1};
    int64_t by_alpha = 0, by_bab = 0, bab_cex = 0;
    for (unsigned seed = 1; seed <= 3; seed++) {
        struct ibp_rng rng;
        ibp_rng_seed(&rng, seed, 0);
        struct ibp_net *net = mlp(&rng);
        struct fwd f = fwd_make(net);
        struct ibp_dataset *ds = own_labels(&f, &rng);
        for (size_t e = 0; e < sizeof EPS / sizeof EPS[0]; e++) {
            struct ibp_certify_sample r1[N_SAMPLES], r2[N_SAMPLES];
            struct ibp_certify_summary s1, s2;
            struct ibp_certify_config cfg;
            struct ibp_error err;
            config(&cfg, EPS[e], 1);
            CHECK(ibp_certify_run(net, ds, &cfg, NULL, r1, &s1, &err) == IBP_OK);
            config(&cfg, EPS[e], 2);
            CHECK(ibp_certify_run(net, ds, &cfg, NULL, r2, &s2, &err) == IBP_OK);
            CHECK(s1.conflicts == 0);
            CHECK(s1.note[0] == '\0');
            by_alpha += s1.by_alpha_crown;
            by_bab += s1.by_bab;
            for (int i = 0; i < N_SAMPLES; i++) {
                const struct ibp_certify_sample *a = &r1[i], *b = &r2[i];
                CHECK_MSG(a->verdict == b->verdict && a->by == b->by && a->why == b->why &&
                              a->bab_domains == b->bab_domains,
                          "seed %u eps %g sample %d: 1 and 2 threads differ", seed, EPS[e], i);
                if (a->verdict == IBP_VERDICT_CERTIFIED) {
                    CHECK(survives(&f, ds, a, EPS[e], &rng));
                    CHECK(a->by == IBP_BY_BOUND || a->by == IBP_BY_ALPHA_CROWN ||
                          a->by == IBP_BY_BAB);
                }
                if (a->by == IBP_BY_ALPHA_CROWN)
                    CHECK(!(a->lb_min[0] > 0.0f) && a->lb_alpha > 0.0f);
                if (a->by == IBP_BY_BAB && a->verdict == IBP_VERDICT_CERTIFIED)
                    CHECK(!(a->lb_alpha > 0.0f) && a->bab_domains >= 1);
                if (a->by == IBP_BY_BOUND)
                    CHECK(a->lb_min[0] > 0.0f && isnan(a->lb_alpha) && a->bab_domains == 0);
                CHECK((a->verdict == IBP_VERDICT_UNKNOWN) == (a->why != IBP_WHY_NONE));
                CHECK(a->verdict == IBP_VERDICT_ATTACKED ? a->adv_pred >= 0 && a->adv_pred < OUTS
                                                         : a->adv_pred == -1);
                CHECK(a->clean_correct || a->adv_pred == a->pred);
                CHECK(a->seconds >= 0.0);
            }
            /* attack off: branch and bound finds the counterexamples itself */
            config(&cfg, EPS[e], 2);
            cfg.attack = 0;
            cfg.attack_certified = 0;
            struct cex_ctx cc = {&f, ds, EPS[e], 0, 0, 0};
            struct ibp_certify_hooks hooks = {NULL, NULL, check_cex, &cc};
            CHECK(ibp_certify_run(net, ds, &cfg, &hooks, r2, &s2, &err) == IBP_OK);
            CHECK(cc.bad == 0);
            CHECK_MSG(cc.bad_pred == 0, "%d counterexamples with another adv_pred", cc.bad_pred);
            CHECK(s2.bab_attacked == cc.seen);
            bab_cex += cc.seen;
            for (int i = 0; i < N_SAMPLES; i++)
                CHECK_MSG(r2[i].verdict == r1[i].verdict || r2[i].verdict == IBP_VERDICT_UNKNOWN ||
                              r1[i].verdict == IBP_VERDICT_UNKNOWN,
                          "seed %u eps %g sample %d: %s with the attack, %s without", seed, EPS[e],
                          i, ibp_verdict_name(r1[i].verdict), ibp_verdict_name(r2[i].verdict));
        }
        ibp_dataset_free(ds);
        ibp_ws_free(f.ws);
        ibp_net_free(net);
    }
    CHECK_MSG(by_alpha > 0, "alpha-crown decided nothing CROWN left open");
    CHECK_MSG(by_bab > 0, "branch and bound certified nothing alpha-crown left open");
    CHECK_MSG(bab_cex > 0, "branch and bound found no counterexample");
}

/* A residual net: the steps it cannot take are noted and skipped, never an error. */
static void test_unsupported(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 7, 0);
    struct ibp_net *net = fixture_net(1, &rng);
    struct ibp_dataset *ds;
    struct ibp_error err;
    int O = ibp_net_outputs(net);
    CHECK(ibp_dataset_create(4, net->input.c, net->input.h, net->input.w, O, &ds, &err) == IBP_OK);
    for (int64_t i = 0; i < 4 * ibp_dataset_sample_size(ds); i++)
        ds->pixels[i] = (uint8_t)ibp_rng_below(&rng, 256);
    for (int64_t i = 0; i < 4; i++)
        ds->labels[i] = -1;
    struct ibp_certify_config cfg;
    config(&cfg, 0.2, 1);
    cfg.attack = 0;
    cfg.attack_certified = 0;
    struct ibp_certify_sample r[4];
    struct ibp_certify_summary s;
    CHECK(ibp_certify_run(net, ds, &cfg, NULL, r, &s, &err) == IBP_OK);
    CHECK_MSG(strstr(s.note, "skipped") != NULL, "note: '%s'", s.note);
    for (int i = 0; i < 4; i++)
        if (r[i].verdict == IBP_VERDICT_UNKNOWN)
            CHECK(r[i].why == IBP_WHY_UNSUPPORTED && isnan(r[i].lb_alpha));
    ibp_dataset_free(ds);
    ibp_net_free(net);
}

static void test_bad_config(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 1, 0);
    struct ibp_net *net = mlp(&rng);
    struct fwd f = fwd_make(net);
    struct ibp_dataset *ds = own_labels(&f, &rng);
    ibp_ws_free(f.ws);
    struct ibp_certify_config cfg;
    struct ibp_error err;
    config(&cfg, 0.05, 1);
    CHECK(ibp_certify_check(net, "m", ds, "d", &cfg, &err) == IBP_OK);
    cfg.bab_cfg.timeout_s = 0.0;
    CHECK(ibp_certify_check(net, "m", ds, "d", &cfg, &err) == IBP_ERR_ARG);
    config(&cfg, 0.05, 1);
    cfg.bab_cfg.max_domains = 0;
    CHECK(ibp_certify_check(net, "m", ds, "d", &cfg, &err) == IBP_ERR_ARG);
    config(&cfg, 0.05, 1);
    cfg.bab_cfg.max_bytes = 0;
    CHECK(ibp_certify_check(net, "m", ds, "d", &cfg, &err) == IBP_ERR_ARG);
    ibp_dataset_free(ds);
    ibp_net_free(net);
}

int main(void)
{
    test_bad_config();
    test_unsupported();
    test_decides();
    return check_report();
}
