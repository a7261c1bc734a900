/* VNN-COMP mode on hand-built ONNX networks and VNN-LIB properties: each answer (unsat
 * by IBP and by CROWN-IBP, sat with a checked counterexample, unknown, timeout, empty
 * property, several boxes), the result file's counterexample (floats inside the double
 * box, read back exactly), its checker, the csv tables, and the `ibp-verify vnncomp`
 * command in single and batch mode, including corrupted input files. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nets/formats/onnx_import.h"
#include "tests/common/onnx_builder.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"
#include "verifier/vnncomp.h"
#include "verifier/vnncomp_cli.h"

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

static char tmp_dir[256];

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmp_dir, name);
}

static void write_file(const char *name, const void *data, size_t n)
{
    char path[512];
    tmp_path(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* x[1][n_in] -> Gemm(W1 [hidden][n_in], b1) -> Relu -> Gemm(W2 [n_out][hidden], b2) -> y;
 * hidden = 0: one Gemm (W2 is [n_out][n_in]). Returns the serialised model. */
static uint8_t *mlp_onnx(int n_in, int hidden, int n_out, const float *W1, const float *b1,
                         const float *W2, const float *b2, size_t *size)
{
    struct ob g = {0}, n;
    int64_t xd[2] = {1, n_in}, yd[2] = {1, n_out};
    int mid = hidden ? hidden : n_in;
    int64_t w2d[2] = {n_out, mid}, b2d[1] = {n_out};
    if (hidden) {
        int64_t w1d[2] = {hidden, n_in}, b1d[1] = {hidden};
        ob_init(&g, "W1", 2, w1d, W1, OB_RAW);
        ob_init(&g, "b1", 1, b1d, b1, OB_RAW);
        ob_node(&n, "Gemm", "g1", NAMES("x", "W1", "b1"), NAMES("h"));
        ob_attr_int(&n, "transB", 1);
        ob_node_end(&g, &n);
        ob_node(&n, "Relu", "r1", NAMES("h"), NAMES("hr"));
        ob_node_end(&g, &n);
    }
    ob_init(&g, "W2", 2, w2d, W2, OB_RAW);
    ob_init(&g, "b2", 1, b2d, b2, OB_RAW);
    ob_node(&n, "Gemm", "g2", NAMES(hidden ? "hr" : "x", "W2", "b2"), NAMES("y"));
    ob_attr_int(&n, "transB", 1);
    ob_node_end(&g, &n);
    ob_value(&g, 11, "x", 2, xd);
    ob_value(&g, 12, "y", 2, yd);
    uint8_t *data;
    ob_model(&g, 13, &data, size);
    return data;
}

static struct ibp_net *import(const uint8_t *data, size_t size)
{
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_onnx_load_buffer(data, size, "test.onnx", NULL, &net, NULL, &err);
    CHECK_OK(st, err);
    return net;
}

/* Net A: y0 = relu(x0) + relu(x1), y1 = relu(x0) - relu(x1). */
static uint8_t *net_a(size_t *size)
{
    static const float W1[4] = {1, 0, 0, 1}, b1[2] = {0, 0}, W2[4] = {1, 1, 1, -1},
                       b2[2] = {0, 0};
    return mlp_onnx(2, 2, 2, W1, b1, W2, b2, size);
}

/* Net B: y0 = relu(x0) - relu(x0) = 0 for every x (bounds overestimate it). */
static uint8_t *net_b(size_t *size)
{
    static const float W1[2] = {1, 1}, b1[2] = {0, 0}, W2[2] = {1, -1}, b2[1] = {0};
    return mlp_onnx(1, 2, 1, W1, b1, W2, b2, size);
}

/* Net C: y0 = x0. */
static uint8_t *net_c(size_t *size)
{
    static const float W2[1] = {1}, b2[1] = {0};
    return mlp_onnx(1, 0, 1, NULL, NULL, W2, b2, size);
}

/* Net D: y0 = 100 relu(x0 - 0.99): flat (zero gradient) below 0.99, so PGD from random
 * starts in [-1, 1] rarely finds y0 >= 0.5 (x0 >= 0.995), which splitting finds. */
static uint8_t *net_d(size_t *size)
{
    static const float W1[1] = {1}, b1[1] = {-0.99f}, W2[1] = {100}, b2[1] = {0};
    return mlp_onnx(1, 1, 1, W1, b1, W2, b2, size);
}

static struct ibp_vnnlib *parse(const char *text)
{
    struct ibp_vnnlib *p = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnnlib_parse(text, strlen(text), "test.vnnlib", &p, &err);
    CHECK_OK(st, err);
    return p;
}

#define DECL2 "(declare-const X_0 Real)(declare-const X_1 Real)" \
              "(declare-const Y_0 Real)(declare-const Y_1 Real)\n"
#define DECL1 "(declare-const X_0 Real)(declare-const Y_0 Real)\n"
#define UNIT_BOX2 "(assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 1))\n"

static void config(struct ibp_vnncomp_config *cfg)
{
    ibp_vnncomp_config_default(cfg);
    cfg->time_limit = 60;
    cfg->threads = 1;
}

/* Checks the answer; for sat also the result file's round trip and the checker. */
static void expect(const char *what, const uint8_t *onnx, size_t size, const char *vnnlib,
                   const struct ibp_vnncomp_config *cfg, enum ibp_vnn_answer want,
                   const char *by)
{
    struct ibp_net *net = import(onnx, size);
    struct ibp_vnnlib *p = parse(vnnlib);
    if (!net || !p) {
        ibp_net_free(net);
        ibp_vnnlib_free(p);
        return;
    }
    struct ibp_vnncomp_result res = {0};
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnncomp_verify(net, p, cfg, &res, &err);
    CHECK_OK(st, err);
    CHECK_MSG(res.answer == want, "%s: answer %s, expected %s", what,
              ibp_vnn_answer_name(res.answer), ibp_vnn_answer_name(want));
    if (by)
        CHECK_MSG(strcmp(res.decided_by, by) == 0, "%s: decided by '%s', expected '%s'", what,
                  res.decided_by, by);
    char *text = NULL;
    size_t len = 0;
    if (st == IBP_OK)
        st = ibp_vnncomp_result_format(&res, p, &text, &len, &err);
    CHECK_OK(st, err);
    if (text) {
        const char *name = ibp_vnn_answer_name(want);
        size_t n = strlen(name);
        CHECK(strlen(text) == len);
        CHECK_MSG(strncmp(text, name, n) == 0 && text[n] == '\n', "%s: file starts '%.20s'",
                  what, text);
    }
    if (text && res.answer == IBP_VNN_SAT) {
        double x[16], y[16];
        st = ibp_vnncomp_counterexample_parse(text, len, "result", p->n_inputs, p->n_outputs,
                                              x, y, &err);
        CHECK_OK(st, err);
        int exact = 1, valid = 0;
        for (int i = 0; i < p->n_inputs; i++)
            exact &= (float)x[i] == (float)res.x[i] && (double)(float)res.x[i] == res.x[i];
        for (int j = 0; j < p->n_outputs; j++)
            exact &= (float)y[j] == res.y[j];
        CHECK_MSG(exact, "%s: the printed counterexample does not read back", what);
        CHECK(ibp_vnnlib_in_box(p, res.box, x));
        char why[IBP_ERROR_LEN];
        st = ibp_vnncomp_counterexample_check(net, p, x, y, 1e-6, &valid, why, &err);
        CHECK_OK(st, err);
        CHECK_MSG(valid, "%s: counterexample rejected: %s", what, why);
        CHECK(res.margin <= 0);
    }
    free(text);
    ibp_vnncomp_result_clear(&res);
    CHECK(res.x == NULL && res.y == NULL);
    ibp_net_free(net);
    ibp_vnnlib_free(p);
}

static void test_answers(void)
{
    size_t na, nb, nc;
    uint8_t *a = net_a(&na), *b = net_b(&nb), *c = net_c(&nc);
    struct ibp_vnncomp_config cfg;
    config(&cfg);
    expect("unsat by ibp", a, na, DECL2 UNIT_BOX2 "(assert (<= Y_0 -0.5))", &cfg, IBP_VNN_UNSAT,
           "ibp");
    expect("sat", a, na, DECL2 UNIT_BOX2 "(assert (>= Y_0 1.9))", &cfg, IBP_VNN_SAT, "attack");
    expect("sat, two rows", a, na,
           DECL2 UNIT_BOX2 "(assert (>= Y_0 1.0))(assert (>= Y_1 0.8))", &cfg, IBP_VNN_SAT,
           "attack");
    /* x in [0.5, 1]: both ReLUs active; IBP sees y in [-0.5, 0.5], CROWN-IBP y = 0 */
    expect("unsat by crown-ibp", b, nb,
           DECL1 "(assert (>= X_0 0.5))(assert (<= X_0 1))(assert (>= Y_0 0.25))", &cfg,
           IBP_VNN_UNSAT, "crown-ibp");
    /* x in [-1, 1]: unstable ReLUs, no relaxation reaches y <= 0.4; no counterexample */
    const char *open_prop = DECL1 "(assert (>= X_0 -1))(assert (<= X_0 1))(assert (>= Y_0 0.4))";
    cfg.rounds = 2;
    cfg.input_split = 0; /* one-shot methods only; input splitting proves it (below) */
    cfg.bab = 0;         /* and so does branch and bound */
    expect("unknown", b, nb, open_prop, &cfg, IBP_VNN_UNKNOWN, "");
    cfg.time_limit = 1e-9;
    expect("timeout", b, nb, open_prop, &cfg, IBP_VNN_TIMEOUT, "");
    config(&cfg);
    expect("unsat by input-split", b, nb, open_prop, &cfg, IBP_VNN_UNSAT, "input-split");
    cfg.input_split = 0;
    expect("unsat by bab", b, nb, open_prop, &cfg, IBP_VNN_UNSAT, "bab");
    /* a counterexample the attack misses: the stage that finds it answers sat */
    size_t nd;
    uint8_t *dn = net_d(&nd);
    const char *needle = DECL1 "(assert (>= X_0 -1))(assert (<= X_0 1))(assert (>= Y_0 0.5))";
    config(&cfg);
    cfg.first_restarts = 1;
    expect("sat by input-split", dn, nd, needle, &cfg, IBP_VNN_SAT, "input-split");
    cfg.input_split = 0;
    expect("sat by bab", dn, nd, needle, &cfg, IBP_VNN_SAT, "bab");
    free(dn);
    config(&cfg);
    cfg.input_split = 0;
    cfg.methods = 1 << 0; /* IBP only: the crown-ibp case stays open */
    cfg.bab = 0;
    expect("unknown with ibp only", b, nb,
           DECL1 "(assert (>= X_0 0.5))(assert (<= X_0 1))(assert (>= Y_0 0.25))", &cfg,
           IBP_VNN_UNKNOWN, "");
    config(&cfg);
    /* two boxes: the first is proved, the second has a counterexample */
    const char *two = DECL2
        "(assert (or (and (>= X_0 0) (<= X_0 0.1) (>= X_1 0) (<= X_1 0.1) (>= Y_0 1.9))"
        "            (and (>= X_0 0.9) (<= X_0 1) (>= X_1 0.9) (<= X_1 1) (>= Y_0 1.9))))";
    expect("two boxes, sat in the second", a, na, two, &cfg, IBP_VNN_SAT, "attack");
    const char *two_unsat = DECL2
        "(assert (or (and (>= X_0 0) (<= X_0 0.1) (>= X_1 0) (<= X_1 0.1) (>= Y_0 1.9))"
        "            (and (>= X_0 0.5) (<= X_0 0.6) (>= X_1 0.5) (<= X_1 0.6) (>= Y_0 1.9))))";
    expect("two boxes, both proved", a, na, two_unsat, &cfg, IBP_VNN_UNSAT, "ibp");
    /* a disjunct that only needs one of two rows refuted... and one that needs nothing:
     * (or (Y_0 >= 5) (X-only)) holds at the centre already */
    expect("disjunct without output rows", a, na,
           DECL2 UNIT_BOX2 "(assert (or (>= Y_0 5) (>= X_0 0)))", &cfg, IBP_VNN_SAT, NULL);
    /* box ends that are not floats: x in [0.1, 0.3], y = x <= 0.2 holds only near 0.1 and
     * the centre (0.2f > 0.2) does not violate; the counterexample must be a float >= 0.1 */
    expect("box ends between floats", c, nc,
           DECL1 "(assert (>= X_0 0.1))(assert (<= X_0 0.3))(assert (<= Y_0 0.2))", &cfg,
           IBP_VNN_SAT, "attack");
    /* no float at all in [0.1, 0.1 + 1e-12]: x = 0.1 exactly, y = 0.1f > 0.1 */
    expect("box without floats", c, nc,
           DECL1 "(assert (>= X_0 0.1))(assert (<= X_0 0.100000000001))(assert (<= Y_0 0.1))",
           &cfg, IBP_VNN_UNKNOWN, NULL);
    free(a);
    free(b);
    free(c);
}

static void test_errors(void)
{
    size_t na;
    uint8_t *a = net_a(&na);
    struct ibp_net *net = import(a, na);
    struct ibp_vnnlib *p = parse(DECL1 "(assert (>= X_0 0))(assert (<= X_0 1))(assert (>= Y_0 1))");
    struct ibp_vnncomp_config cfg;
    config(&cfg);
    struct ibp_vnncomp_result res = {0};
    struct ibp_error err = {0};
    if (net && p) {
        CHECK(ibp_vnncomp_verify(net, p, &cfg, &res, &err) == IBP_ERR_SHAPE);
        CHECK(strstr(err.msg, "1 inputs and 1 outputs, the network 2 and 2") != NULL);
        double x[2] = {0.5, 0.5};
        int valid = 1;
        char why[IBP_ERROR_LEN];
        CHECK(ibp_vnncomp_counterexample_check(net, p, x, NULL, 1e-4, &valid, why, &err) ==
              IBP_ERR_SHAPE);
    }
    ibp_vnnlib_free(p);
    p = parse(DECL2 UNIT_BOX2 "(assert (>= Y_0 1))");
    cfg.attack_steps = 0;
    if (net && p) {
        CHECK(ibp_vnncomp_verify(net, p, &cfg, &res, &err) == IBP_ERR_ARG);
        CHECK(strstr(err.msg, "steps 0") != NULL);
        config(&cfg);
        cfg.methods = 8;
        CHECK(ibp_vnncomp_verify(net, p, &cfg, &res, &err) == IBP_ERR_ARG);
        /* a sat result without a counterexample cannot be formatted */
        struct ibp_vnncomp_result fake = {0};
        fake.answer = IBP_VNN_SAT;
        char *text = NULL;
        size_t len;
        CHECK(ibp_vnncomp_result_format(&fake, p, &text, &len, &err) == IBP_ERR_ARG);
        CHECK(text == NULL);
    }
    ibp_vnnlib_free(p);
    /* no input satisfies the input constraints: rejected, not "trivially unsat" */
    p = parse(DECL2 UNIT_BOX2 "(assert (>= X_0 2))(assert (>= Y_0 0))");
    config(&cfg);
    if (net && p) {
        CHECK(ibp_vnncomp_verify(net, p, &cfg, &res, &err) == IBP_ERR_ARG);
        CHECK(strstr(err.msg, "no input satisfies") != NULL);
    }
    ibp_vnnlib_free(p);
    ibp_net_free(net);
    free(a);
}

/* The checker rejects what is wrong, saying why; the parser rejects bad text. */
static void test_counterexample_check(void)
{
    size_t na;
    uint8_t *a = net_a(&na);
    struct ibp_net *net = import(a, na);
    struct ibp_vnnlib *p = parse(DECL2 UNIT_BOX2 "(assert (>= Y_0 1.5))");
    if (net && p) {
        double y[2];
        int valid = 0;
        char why[IBP_ERROR_LEN];
        struct ibp_error err = {0};
        const char *good = "sat\n((X_0 0.9)\n (X_1 0.8)\n (Y_0 1.7)\n (Y_1 0.1))\n";
        double x[2];
        CHECK(ibp_vnncomp_counterexample_parse(good, strlen(good), "f", 2, 2, x, y, &err) ==
              IBP_OK);
        CHECK(x[0] == 0.9 && x[1] == 0.8 && y[0] == 1.7 && y[1] == 0.1);
        CHECK(ibp_vnncomp_counterexample_check(net, p, x, y, 1e-4, &valid, why, &err) == IBP_OK);
        CHECK_MSG(valid, "%s", why);
        y[1] = 0.2; /* a wrong Y */
        CHECK(ibp_vnncomp_counterexample_check(net, p, x, y, 1e-4, &valid, why, &err) == IBP_OK);
        CHECK(!valid && strstr(why, "Y_1") != NULL);
        x[0] = 1.0000001; /* outside the box */
        CHECK(ibp_vnncomp_counterexample_check(net, p, x, NULL, 1e-4, &valid, why, &err) ==
              IBP_OK);
        CHECK(!valid && strstr(why, "no box") != NULL && strstr(why, "X_0") != NULL);
        x[0] = 0.5; /* inside, but y0 = 1.3 does not violate */
        CHECK(ibp_vnncomp_counterexample_check(net, p, x, NULL, 1e-4, &valid, why, &err) ==
              IBP_OK);
        CHECK(!valid && strstr(why, "does not violate") != NULL);

        static const struct {
            const char *text, *msg;
        } bad[] = {
            {"((X_0 0.9) (X_1 0.8) (Y_0 1.7))", "Y_1 missing"},
            {"((X_0 0.9) (X_0 0.8) (Y_0 1.7) (Y_1 0))", "X_0 given twice"},
            {"((X_0 0.9) (X_2 0.8) (Y_0 1.7) (Y_1 0))", "out of range"},
            {"((X_0 0.9) (X_1 nan) (Y_0 1.7) (Y_1 0))", "not a finite number"},
            {"((X_0 0.9) (X_1 1e999) (Y_0 1.7) (Y_1 0))", "not a finite number"},
            {"((X_0 0.9) (X_1 0.8 (Y_0 1.7) (Y_1 0))", "expected ')'"},
            {"((X_0 0.9) (X_1 0.8) (Y_0 1.7) (Y_1 0)", "unbalanced"},
            {"((X_0 0.9) (Z_1 0.8) (Y_0 1.7) (Y_1 0))", "expected (X_i value)"},
            {"unsat\n", "unexpected 'u'"},
            {"saturday ((X_0 1))", "not 'sat'"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ibp_error_clear(&err);
            enum ibp_status st = ibp_vnncomp_counterexample_parse(bad[i].text, strlen(bad[i].text),
                                                                  "ce.txt", 2, 2, x, y, &err);
            CHECK_MSG(st == IBP_ERR_FORMAT && strncmp(err.msg, "ce.txt: ", 8) == 0 &&
                      strstr(err.msg, bad[i].msg), "'%s': status %d, '%s'", bad[i].text, st,
                      err.msg);
        }
        /* every truncation and many corruptions: an error with a message, never a crash */
        size_t n = strlen(good);
        char buf[128];
        int parsed = 0, rejected = 0, silent = 0;
        uint64_t s = 99;
        for (int it = 0; it < 3000; it++) {
            size_t len = n;
            memcpy(buf, good, n + 1);
            if (it <= (int)n) {
                len = (size_t)it;
            } else {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                buf[(s >> 33) % n] ^= (char)(1 << ((s >> 20) % 8));
            }
            ibp_error_clear(&err);
            if (ibp_vnncomp_counterexample_parse(buf, len, "fuzz", 2, 2, x, y, &err) == IBP_OK)
                parsed++;
            else
                rejected++, silent += err.msg[0] == '\0';
        }
        CHECK(silent == 0 && rejected > 100 && parsed > 0);
        printf("counterexample fuzz: %d parsed, %d rejected\n", parsed, rejected);
    }
    ibp_vnnlib_free(p);
    ibp_net_free(net);
    free(a);
}

static void test_tables(void)
{
    struct ibp_error err = {0};
    struct ibp_vnncomp_instances *t = NULL;
    write_file("n.onnx.gz", "x", 1);
    const char *csv = "onnx,vnnlib,timeout\r\n"
                      "n.onnx,p.vnnlib,120\r\n"
                      "\n"
                      " sub/m.onnx , /abs/q.vnnlib , 1.5e1 \n";
    enum ibp_status st = ibp_vnncomp_instances_parse(csv, strlen(csv), "i.csv", tmp_dir, &t, &err);
    CHECK_OK(st, err);
    if (t) {
        char want[512];
        CHECK(t->n == 2);
        CHECK(strcmp(t->rows[0].onnx, "n.onnx") == 0 && t->rows[0].timeout == 120);
        tmp_path(want, sizeof want, "n.onnx.gz"); /* only the compressed file exists */
        CHECK(strcmp(t->rows[0].onnx_path, want) == 0);
        tmp_path(want, sizeof want, "p.vnnlib");
        CHECK(strcmp(t->rows[0].vnnlib_path, want) == 0);
        tmp_path(want, sizeof want, "sub/m.onnx");
        CHECK(strcmp(t->rows[1].onnx_path, want) == 0);
        CHECK(strcmp(t->rows[1].vnnlib_path, "/abs/q.vnnlib") == 0 && t->rows[1].timeout == 15);
        ibp_vnncomp_instances_free(t);
    }
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"a.onnx,b.vnnlib,60\na.onnx,b.vnnlib\n", "i.csv:2: 2 fields, expected 3"},
        {"a.onnx,b.vnnlib,60\na.onnx,b.vnnlib,6x\n", "i.csv:2: timeout '6x' is not a number"},
        {"a.onnx,b.vnnlib,0\n", "i.csv:1: timeout 0 is not positive"},
        {"a.onnx,b.vnnlib,1\na.onnx,b.vnnlib,inf\n", "i.csv:2: timeout 'inf'"},
        {",b.vnnlib,60\n", "i.csv:1: empty onnx"},
        {"onnx,vnnlib,timeout\n\n", "i.csv: no instances"},
        {"a,b,1,2\n", "i.csv:1: 4 fields"},
        {"a,b,1\0\n", "NUL byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i].text) + (i == sizeof bad / sizeof bad[0] - 1 ? 2 : 0);
        ibp_error_clear(&err);
        st = ibp_vnncomp_instances_parse(bad[i].text, len, "i.csv", ".", &t, &err);
        CHECK_MSG(st == IBP_ERR_FORMAT && t == NULL && strstr(err.msg, bad[i].msg),
                  "case %zu: status %d '%s'", i, st, err.msg);
    }
    struct ibp_vnncomp_verdicts *v = NULL;
    const char *vcsv = "onnx,vnnlib,verdict\nonnx/a.onnx,p1.vnnlib,sat\n"
                       "onnx/a.onnx,p2.vnnlib.gz,unsat\nonnx/b.onnx,p1.vnnlib,open\n";
    st = ibp_vnncomp_verdicts_parse(vcsv, strlen(vcsv), "v.csv", &v, &err);
    CHECK_OK(st, err);
    if (v) {
        CHECK(v->n == 3);
        CHECK(ibp_vnncomp_verdict_find(v, "onnx/a.onnx", "p1.vnnlib") == IBP_VNN_VERDICT_SAT);
        CHECK(ibp_vnncomp_verdict_find(v, "onnx/a.onnx.gz", "p2.vnnlib") == IBP_VNN_VERDICT_UNSAT);
        CHECK(ibp_vnncomp_verdict_find(v, "onnx/b.onnx", "p1.vnnlib") == IBP_VNN_VERDICT_OPEN);
        CHECK(ibp_vnncomp_verdict_find(v, "onnx/b.onnx", "p2.vnnlib") == IBP_VNN_VERDICT_NONE);
        CHECK(ibp_vnncomp_verdict_find(v, "onnx/a.onn", "p1.vnnlib") == IBP_VNN_VERDICT_NONE);
        ibp_vnncomp_verdicts_free(v);
    }
    const char *vbad = "onnx,vnnlib,verdict\na,b,maybe\n";
    st = ibp_vnncomp_verdicts_parse(vbad, strlen(vbad), "v.csv", &v, &err);
    CHECK(st == IBP_ERR_FORMAT && v == NULL && strstr(err.msg, "v.csv:2: verdict 'maybe'"));
    CHECK(ibp_vnn_answer_wrong(IBP_VNN_UNSAT, IBP_VNN_VERDICT_SAT));
    CHECK(ibp_vnn_answer_wrong(IBP_VNN_SAT, IBP_VNN_VERDICT_UNSAT));
    CHECK(!ibp_vnn_answer_wrong(IBP_VNN_SAT, IBP_VNN_VERDICT_OPEN));
    CHECK(!ibp_vnn_answer_wrong(IBP_VNN_UNKNOWN, IBP_VNN_VERDICT_SAT));
    CHECK(!ibp_vnn_answer_wrong(IBP_VNN_TIMEOUT, IBP_VNN_VERDICT_UNSAT));
    ibp_error_clear(&err);
    CHECK(ibp_vnncomp_instances_load("/nonexistent/instances.csv", &t, &err) == IBP_ERR_IO);
    CHECK(strstr(err.msg, "/nonexistent/instances.csv") != NULL);
}

static int run_cli(const char *const *args)
{
    char *argv[32];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    fflush(stdout);
    return ibp_verify_vnncomp_main(argc, argv);
}

static char *read_text(const char *name)
{
    char path[512];
    tmp_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_cli(void)
{
    size_t na;
    uint8_t *a = net_a(&na);
    write_file("a.onnx", a, na);
    const char *sat = DECL2 UNIT_BOX2 "(assert (>= Y_0 1.9))";
    const char *unsat = DECL2 UNIT_BOX2 "(assert (<= Y_0 -0.5))";
    write_file("sat.vnnlib", sat, strlen(sat));
    write_file("unsat.vnnlib", unsat, strlen(unsat));
    char onnx[512], ps[512], pu[512], res[512], csv[512], ver[512];
    tmp_path(onnx, sizeof onnx, "a.onnx");
    tmp_path(ps, sizeof ps, "sat.vnnlib");
    tmp_path(pu, sizeof pu, "unsat.vnnlib");
    tmp_path(res, sizeof res, "out.result");
    CHECK(run_cli(NAMES("vnncomp", "--timeout", "30", "--threads", "1", onnx, ps, res)) == 0);
    const char *text = read_text("out.result");
    CHECK(text && strncmp(text, "sat\n((X_0 ", 10) == 0 && strstr(text, "(Y_1 "));
    CHECK(run_cli(NAMES("vnncomp", "--result", res, "--no-sound", "--methods", "ibp", onnx, pu)) ==
          0);
    text = read_text("out.result");
    CHECK(text && strcmp(text, "unsat\n") == 0);
    /* usage errors */
    CHECK(run_cli(NAMES("vnncomp", onnx)) == 2);
    CHECK(run_cli(NAMES("vnncomp", "--timeout", "-1", onnx, pu)) == 2);
    CHECK(run_cli(NAMES("vnncomp", "--timeout", "abc", onnx, pu)) == 2);
    CHECK(run_cli(NAMES("vnncomp", "--methods", "ibp,zonotope", onnx, pu)) == 2);
    CHECK(run_cli(NAMES("vnncomp", "--bogus", "1", onnx, pu)) == 2);
    CHECK(run_cli(NAMES("vnncomp", "--norm-mean", "0.5", onnx, pu)) == 2);
    CHECK(run_cli(NAMES("vnncomp", "--help")) == 0);
    /* bad files: a clear error and exit 1 */
    CHECK(run_cli(NAMES("vnncomp", "/nonexistent.onnx", pu)) == 1);
    write_file("trunc.onnx", a, na / 2);
    char trunc[512];
    tmp_path(trunc, sizeof trunc, "trunc.onnx");
    CHECK(run_cli(NAMES("vnncomp", trunc, pu)) == 1);
    char *flipped = malloc(na);
    memcpy(flipped, a, na);
    flipped[2] ^= 0x40;
    write_file("flip.onnx", flipped, na);
    tmp_path(trunc, sizeof trunc, "flip.onnx");
    CHECK(run_cli(NAMES("vnncomp", trunc, pu)) == 1);
    free(flipped);
    write_file("trunc.vnnlib", unsat, strlen(unsat) - 3);
    tmp_path(trunc, sizeof trunc, "trunc.vnnlib");
    CHECK(run_cli(NAMES("vnncomp", onnx, trunc)) == 1);
    const char *one_in = DECL1 "(assert (>= X_0 0))(assert (<= X_0 1))(assert (>= Y_0 1))";
    write_file("one.vnnlib", one_in, strlen(one_in));
    tmp_path(trunc, sizeof trunc, "one.vnnlib");
    CHECK(run_cli(NAMES("vnncomp", onnx, trunc)) == 1); /* sizes differ */

    /* batch mode: right answers exit 0, a wrong verdict is counted and exits 1 */
    const char *inst = "a.onnx,sat.vnnlib,30\na.onnx,unsat.vnnlib,30\n";
    write_file("instances.csv", inst, strlen(inst));
    const char *good = "onnx,vnnlib,verdict\na.onnx,sat.vnnlib,sat\na.onnx,unsat.vnnlib,unsat\n";
    write_file("good.csv", good, strlen(good));
    const char *wrong = "onnx,vnnlib,verdict\na.onnx,sat.vnnlib,unsat\na.onnx,unsat.vnnlib,sat\n";
    write_file("wrong.csv", wrong, strlen(wrong));
    tmp_path(csv, sizeof csv, "instances.csv");
    tmp_path(ver, sizeof ver, "good.csv");
    CHECK(run_cli(NAMES("vnncomp", "--instances", csv, "--verdicts", ver, "--results", tmp_dir,
                        "--timeout-scale", "0.5")) == 0);
    text = read_text("a_sat.result");
    CHECK(text && strncmp(text, "sat\n", 4) == 0);
    tmp_path(ver, sizeof ver, "wrong.csv");
    CHECK(run_cli(NAMES("vnncomp", "--instances", csv, "--verdicts", ver, "--quiet")) == 1);
    CHECK(run_cli(NAMES("vnncomp", "--instances", csv, onnx)) == 2);
    tmp_path(ver, sizeof ver, "no_such_folder");
    CHECK(run_cli(NAMES("vnncomp", "--instances", csv, "--results", ver)) == 2);
    CHECK(run_cli(NAMES("vnncomp", "--verdicts", ver, onnx, pu)) == 2);
    const char *missing = "nothere.onnx,sat.vnnlib,30\n";
    write_file("missing.csv", missing, strlen(missing));
    tmp_path(csv, sizeof csv, "missing.csv");
    CHECK(run_cli(NAMES("vnncomp", "--instances", csv)) == 1); /* an instance fails: exit 1 */
    free(a);
}

static void cleanup(void)
{
    static const char *const names[] = {
        "n.onnx.gz", "a.onnx", "sat.vnnlib", "unsat.vnnlib", "out.result", "trunc.onnx",
        "flip.onnx", "trunc.vnnlib", "one.vnnlib", "instances.csv", "good.csv", "wrong.csv",
        "missing.csv", "a_sat.result", "a_unsat.result"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        tmp_path(path, sizeof path, names[i]);
        unlink(path);
    }
    CHECK(rmdir(tmp_dir) == 0);
}

int main(void)
{
    if (tu_mkdtemp(tmp_dir, sizeof tmp_dir, "vnncomp") != 0) {
        fprintf(stderr, "cannot create a temporary folder\n");
        return 1;
    }
    test_answers();
    test_errors();
    test_counterexample_check();
    test_tables();
    test_cli();
    cleanup();
    return check_report();
}
