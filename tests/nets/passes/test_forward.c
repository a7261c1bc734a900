/* Every layer's clean and IBP forward against the double-precision reference, in
 * train and eval BN modes, for the separate and the fused passes; results
 * do not depend on the thread count; margins folded into the last layer are never
 * looser than logit bounds subtracted afterwards; bad shapes are rejected by name, and
 * boxes with lo > hi or a non-finite end by their first bad element. */
#include <stdlib.h>
#include <string.h>

#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/ref_net.h"
#include "tests/common/fixture.h"

enum { BATCH = 5 };

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static void check_close(const char *what, const char *net, const float *got, const double *want,
                        size_t n)
{
    double scale = max_abs(want, n) + 1.0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        worst = e > worst ? e : worst;
    }
    CHECK_MSG(worst <= 2e-5 * scale, "%s %s: max error %.3g (scale %.3g)", net, what, worst, scale);
}

static void test_against_reference(int f, struct ibp_rng *rng)
{
    struct ibp_net *net = fixture_net(f, rng);
    const char *name = fixture_name(f);
    struct fixture_data d;
    fixture_data_make(net, BATCH, 0.05, 1, rng, &d);
    struct ibp_error err;
    struct ibp_workspace *ws;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD, &ws, &err), err);
    int K = ibp_net_outputs(net), rows = K - 1;
    float logits[BATCH * 16], lb[BATCH * 16], ub[BATCH * 16], lb2[BATCH * 16], logits2[BATCH * 16];
    struct ibp_spec spec = {.labels = d.labels};
    for (int train = 0; train <= 1; train++) {
        enum ibp_bn_mode mode = train ? IBP_BN_TRAIN : IBP_BN_EVAL;
        struct ref_out ref;
        ref_run(net, NULL, d.xd, d.lod, d.hid, BATCH, train, d.labels, 1, &ref);
        CHECK_OK(ibp_pass_clean(net, ws, d.x, BATCH, mode, logits, &err), err);
        check_close(train ? "clean logits (train BN)" : "clean logits (eval BN)", name, logits,
                    ref.logits, (size_t)BATCH * K);
        CHECK_OK(ibp_pass_bounds(net, ws, d.lo, d.hi, BATCH, &spec, mode, lb, ub, &err), err);
        CHECK(ibp_ws_spec_rows(ws) == rows);
        check_close(train ? "margin lb (train BN)" : "margin lb (eval BN)", name, lb, ref.lb,
                    (size_t)BATCH * rows);
        check_close("margin ub", name, ub, ref.ub, (size_t)BATCH * rows);
        if (train) {
            /* the fused pass agrees with the two separate passes */
            CHECK_OK(ibp_pass_train(net, ws, d.x, d.lo, d.hi, BATCH, &spec, logits2, lb2, &err),
                     err);
            check_close("fused logits", name, logits2, ref.logits, (size_t)BATCH * K);
            check_close("fused lb", name, lb2, ref.lb, (size_t)BATCH * rows);
        }
        ref_out_free(&ref);
        /* bounds of the outputs themselves (no spec) */
        ref_run(net, NULL, d.xd, d.lod, d.hid, BATCH, train, NULL, 0, &ref);
        if (train)
            CHECK_OK(ibp_pass_clean(net, ws, d.x, BATCH, mode, NULL, &err), err);
        CHECK_OK(ibp_pass_bounds(net, ws, d.lo, d.hi, BATCH, NULL, mode, lb, ub, &err), err);
        check_close("output lb", name, lb, ref.lb, (size_t)BATCH * K);
        check_close("output ub", name, ub, ref.ub, (size_t)BATCH * K);
        ref_out_free(&ref);
        /* folding is never looser than subtracting output bounds */
        CHECK_OK(ibp_pass_bounds(net, ws, d.lo, d.hi, BATCH, &spec, mode, lb2, NULL, &err), err);
        int looser = 0;
        for (int b = 0; b < BATCH; b++)
            for (int m = 0; m < rows; m++) {
                int y = d.labels[b], j = m < y ? m : m + 1;
                float sub = lb[b * K + y] - ub[b * K + j];
                if (lb2[b * rows + m] < sub - 1e-5f * (1.0f + fabsf(sub)))
                    looser++;
            }
        CHECK_MSG(looser == 0, "%s: %d folded margins looser than subtracted bounds", name, looser);
    }
    /* thread count does not change results */
    float lb1[BATCH * 16];
    ibp_ws_set_threads(ws, 1);
    CHECK_OK(ibp_pass_train(net, ws, d.x, d.lo, d.hi, BATCH, &spec, logits, lb1, &err), err);
    ibp_ws_set_threads(ws, 2);
    CHECK_OK(ibp_pass_train(net, ws, d.x, d.lo, d.hi, BATCH, &spec, logits2, lb2, &err), err);
    CHECK_MSG(memcmp(lb1, lb2, sizeof(float) * BATCH * rows) == 0, "%s: threads change lb", name);
    ibp_ws_free(ws);
    fixture_data_free(&d);
    ibp_net_free(net);
}

static void expect_shape_error(struct ibp_shape in, const struct ibp_layer_spec *s, int n,
                               const char *needle)
{
    struct ibp_net *net = NULL;
    struct ibp_error err;
    ibp_error_clear(&err);
    enum ibp_status st = ibp_net_create(in, s, n, &net, &err);
    CHECK(st == IBP_ERR_SHAPE);
    CHECK(net == NULL);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

static void test_bad_shapes(void)
{
    struct ibp_shape img = {3, 8, 8};
    struct ibp_layer_spec s[3] = {
        {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 3, .kw = 3},
        {.kind = IBP_LAYER_FLATTEN, .in = {IBP_PREV}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 10, .in_size = 100},
    };
    expect_shape_error(img, s, 3, "layer 2 (linear): expects 100 input features");
    struct ibp_layer_spec big = {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 11,
                                 .kw = 3, .ph = 1};
    expect_shape_error(img, &big, 1, "layer 0 (conv2d): kernel 11x3");
    struct ibp_layer_spec grp = {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 1,
                                 .kw = 1, .groups = 2};
    expect_shape_error(img, &grp, 1, "groups 2 do not divide 3");
    struct ibp_layer_spec neg = {.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 1,
                                 .kw = 1, .sh = -1};
    expect_shape_error(img, &neg, 1, "layer 0 (conv2d)");
    struct ibp_layer_spec lin = {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 4};
    expect_shape_error(img, &lin, 1, "add a flatten layer");
    struct ibp_layer_spec zero = {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV}, .out = 0};
    expect_shape_error((struct ibp_shape){5, 1, 1}, &zero, 1, "0 output features");
    struct ibp_layer_spec add[2] = {{.kind = IBP_LAYER_CONV2D, .in = {IBP_PREV}, .out = 4, .kh = 3,
                                     .kw = 3},
                                    {.kind = IBP_LAYER_ADD, .in = {1, 0}}};
    expect_shape_error(img, add, 2, "layer 1 (add): shapes");
    struct ibp_net *net = NULL;
    struct ibp_error err;
    CHECK(ibp_net_create((struct ibp_shape){0, 4, 4}, &lin, 1, &net, &err) == IBP_ERR_SHAPE);
}

/* a box with lo > hi or a non-finite end is refused, naming the first such element */
static void test_bad_box(struct ibp_rng *rng)
{
    struct ibp_net *net = fixture_net(0, rng);
    struct fixture_data d;
    fixture_data_make(net, BATCH, 0.05, 1, rng, &d);
    struct ibp_error err;
    struct ibp_workspace *ws;
    CHECK_OK(ibp_ws_create(net, BATCH, IBP_WS_CLEAN | IBP_WS_BOUNDS, &ws, &err), err);
    float lb[BATCH * 16];
    size_t n = ibp_shape_size(net->input);
    d.lo[2 * n + 3] = d.hi[2 * n + 3] + 1.0f; /* sample 2, element 3 */
    d.hi[3 * n + 1] = NAN;                    /* sample 3: later, not named */
    CHECK(ibp_pass_bounds(net, ws, d.lo, d.hi, BATCH, NULL, IBP_BN_EVAL, lb, NULL, &err) ==
          IBP_ERR_ARG);
    CHECK_MSG(strstr(err.msg, "box element 3 of sample 2") != NULL, "message '%s'", err.msg);
    ibp_ws_free(ws);
    fixture_data_free(&d);
    ibp_net_free(net);
}

int main(void)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 42, 0);
    for (int f = 0; f < FIXTURE_COUNT; f++)
        test_against_reference(f, &rng);
    test_bad_shapes();
    test_bad_box(&rng);
    return check_report();
}
