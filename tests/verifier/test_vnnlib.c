/* VNN-LIB parser: every syntax form of the subset, the margin-row convention, error
 * messages naming file and line, and truncated / corrupted input (fuzz-style). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/check.h"
#include "verifier/vnnlib.h"

static struct ibp_vnnlib *parse_ok(const char *text)
{
    struct ibp_vnnlib *p = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnnlib_parse(text, strlen(text), "t.vnnlib", &p, &err);
    CHECK_OK(st, err);
    return p;
}

/* Parses text expecting failure with a message containing `needle`. */
static void parse_fails(const char *text, enum ibp_status want, const char *needle)
{
    struct ibp_vnnlib *p = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnnlib_parse(text, strlen(text), "t.vnnlib", &p, &err);
    CHECK_MSG(st == want, "status %d, expected %d (%s) for: %s", (int)st, (int)want, err.msg,
              text);
    CHECK(p == NULL);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message '%s' lacks '%s'", err.msg, needle);
}

static void test_box_and_rows(void)
{
    /* comments, every number form, var-const and var-var rows */
    struct ibp_vnnlib *p = parse_ok(
        "; a comment\n"
        "(declare-const X_0 Real) (declare-const X_1 Real)\n"
        "(declare-const Y_0 Real)(declare-const Y_1 Real) ; trailing comment\n"
        "(assert (>= X_0 -1))(assert (<= X_0 .5))\n"
        "(assert (>= X_1 1e-3)) (assert (<= X_1 +2.5E+01)) (assert (<= X_1 5.))\n"
        "(assert (<= Y_0 Y_1))\n"
        "(assert (>= Y_0 -3))\n");
    if (!p)
        return;
    CHECK(p->n_inputs == 2 && p->n_outputs == 2 && p->n_boxes == 1);
    const struct ibp_vnnlib_box *b = &p->boxes[0];
    CHECK(b->lo[0] == -1.0 && b->hi[0] == 0.5 && b->lo[1] == 1e-3 && b->hi[1] == 5.0);
    CHECK(b->n_disjuncts == 1 && b->disjuncts[0].n_rows == 2);
    CHECK(ibp_vnnlib_box_rows(p, 0) == 2);
    float C[4];
    double off[2];
    int dis[2];
    ibp_vnnlib_spec(p, 0, C, off, dis);
    /* Y_0 <= Y_1 holds iff Y_0 - Y_1 <= 0; Y_0 >= -3 holds iff -3 - Y_0 <= 0 */
    CHECK(C[0] == 1.0f && C[1] == -1.0f && off[0] == 0.0);
    CHECK(C[2] == -1.0f && C[3] == 0.0f && off[1] == -3.0);
    CHECK(dis[0] == 0 && dis[1] == 0);
    double y_bad[2] = {0.0, 1.0}, y_ok[2] = {2.0, 1.0}, y_low[2] = {-4.0, 1.0};
    CHECK(ibp_vnnlib_violated(p, 0, y_bad) == 1);
    CHECK(ibp_vnnlib_violated(p, 0, y_ok) == 0);
    CHECK(ibp_vnnlib_violated(p, 0, y_low) == 0);
    /* lower bounds of C y: row 0 refuted (lb 0.1 > 0) proves the single disjunct */
    double lb_yes[2] = {0.1, -100}, lb_no[2] = {0.0, -100}, lb_row1[2] = {-1, 3.5};
    CHECK(ibp_vnnlib_proved(p, 0, lb_yes) == 1);
    CHECK(ibp_vnnlib_proved(p, 0, lb_no) == 0); /* lb = 0 is not a proof */
    CHECK(ibp_vnnlib_proved(p, 0, lb_row1) == 1); /* -3.5... -> 3.5 - 3 > 0 */
    double x_in[2] = {0.5, 1e-3}, x_out[2] = {0.6, 1.0};
    CHECK(ibp_vnnlib_in_box(p, 0, x_in) && !ibp_vnnlib_in_box(p, 0, x_out));
    ibp_vnnlib_free(p);
}

static void test_or_of_and(void)
{
    /* output disjunction of conjunctions, with top-level input box */
    struct ibp_vnnlib *p = parse_ok(
        "(declare-const X_0 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)"
        "(declare-const Y_2 Real)\n"
        "(assert (<= X_0 1))(assert (>= X_0 0))\n"
        "(assert (or (and (>= Y_1 Y_0) (>= Y_2 Y_0)) (and (<= Y_0 0.25))))\n");
    if (!p)
        return;
    CHECK(p->n_boxes == 1 && p->boxes[0].n_disjuncts == 2);
    CHECK(p->boxes[0].disjuncts[0].n_rows == 2 && p->boxes[0].disjuncts[1].n_rows == 1);
    float C[9];
    double off[3];
    int dis[3];
    CHECK(ibp_vnnlib_box_rows(p, 0) == 3);
    ibp_vnnlib_spec(p, 0, C, off, dis);
    CHECK(C[0] == 1 && C[1] == -1 && C[2] == 0); /* Y_0 - Y_1 */
    CHECK(C[3] == 1 && C[4] == 0 && C[5] == -1); /* Y_0 - Y_2 */
    CHECK(C[6] == 1 && off[2] == -0.25 && dis[2] == 1);
    double y1[3] = {0.0, 1.0, 2.0}, y2[3] = {0.2, -1.0, 0.0}, y3[3] = {1.0, 0.0, 0.0};
    CHECK(ibp_vnnlib_violated(p, 0, y1) == 1);
    CHECK(ibp_vnnlib_violated(p, 0, y2) == 1);
    CHECK(ibp_vnnlib_violated(p, 0, y3) == 0);
    /* disjunct 0 refuted by row 1; disjunct 1 (Y_0 - 0.25) needs lb(Y_0) > 0.25 */
    double lb[3] = {-1, 0.5, 0.25};
    CHECK(ibp_vnnlib_proved(p, 0, lb) == 0);
    lb[2] = 0.2500001;
    CHECK(ibp_vnnlib_proved(p, 0, lb) == 1);
    ibp_vnnlib_free(p);
}

static void test_several_boxes(void)
{
    /* input boxes inside disjuncts; equal boxes grouped; an empty box dropped */
    struct ibp_vnnlib *p = parse_ok(
        "(declare-const X_0 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)\n"
        "(assert (or\n"
        "  (and (>= X_0 0) (<= X_0 1) (>= Y_0 Y_1))\n"
        "  (and (>= X_0 2) (<= X_0 3) (<= Y_0 7))\n"
        "  (and (<= X_0 1) (>= X_0 0) (>= Y_1 1e2))\n"
        "  (and (>= X_0 5) (<= X_0 4) (>= Y_1 0))\n"
        "))\n");
    if (!p)
        return;
    CHECK(p->n_boxes == 2);
    if (p->n_boxes == 2) {
        CHECK(p->boxes[0].lo[0] == 0 && p->boxes[0].hi[0] == 1 && p->boxes[0].n_disjuncts == 2);
        CHECK(p->boxes[1].lo[0] == 2 && p->boxes[1].hi[0] == 3 && p->boxes[1].n_disjuncts == 1);
        CHECK(p->boxes[1].disjuncts[0].rows[0].b == -7);
    }
    ibp_vnnlib_free(p);
    /* and of two ors: distributes into 4 disjuncts; nested and */
    p = parse_ok("(declare-const X_0 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)\n"
                 "(assert (and (and (<= X_0 1) (>= X_0 -1))\n"
                 "  (or (<= Y_0 1) (<= Y_1 1)) (or (>= Y_0 2) (>= Y_1 2))))");
    if (p) {
        CHECK(p->n_boxes == 1 && p->boxes[0].n_disjuncts == 4);
        CHECK(ibp_vnnlib_box_rows(p, 0) == 8);
        ibp_vnnlib_free(p);
    }
    /* tightest of repeated bounds; a constant-true comparison is dropped */
    p = parse_ok("(declare-const X_0 Real)(declare-const Y_0 Real)"
                 "(assert (<= X_0 3))(assert (<= X_0 2))(assert (>= X_0 -5))(assert (>= -1 X_0))"
                 "(assert (<= 1 2))(assert (<= Y_0 Y_0))(assert (>= Y_0 0))");
    if (p) {
        CHECK(p->boxes[0].lo[0] == -5 && p->boxes[0].hi[0] == -1);
        CHECK(p->boxes[0].disjuncts[0].n_rows == 1);
        ibp_vnnlib_free(p);
    }
    /* a false constant comparison: no input satisfies the formula */
    p = parse_ok("(declare-const X_0 Real)(declare-const Y_0 Real)"
                 "(assert (<= X_0 1))(assert (>= X_0 0))(assert (>= 1 2))");
    if (p) {
        CHECK(p->n_boxes == 0);
        ibp_vnnlib_free(p);
    }
}

static void test_float_box(void)
{
    struct ibp_vnnlib *p = parse_ok("(declare-const X_0 Real)(declare-const X_1 Real)"
                                    "(declare-const Y_0 Real)"
                                    "(assert (>= X_0 0.1))(assert (<= X_0 0.1))"
                                    "(assert (>= X_1 -0.3))(assert (<= X_1 0.5))"
                                    "(assert (>= Y_0 0))");
    if (!p)
        return;
    float lo[2], hi[2];
    ibp_vnnlib_box_float(p, 0, lo, hi);
    CHECK((double)lo[0] <= 0.1 && (double)hi[0] >= 0.1 && lo[0] < hi[0]);
    CHECK((double)lo[1] <= -0.3 && (double)hi[1] == 0.5);
    ibp_vnnlib_free(p);
}

static void test_errors(void)
{
    const char *decl = "(declare-const X_0 Real)(declare-const Y_0 Real)\n";
    char buf[512];
    snprintf(buf, sizeof buf, "%s(assert (<= X_0 1))\n(assert (>= X_0 0)\n", decl);
    parse_fails(buf, IBP_ERR_FORMAT,
                "t.vnnlib:4: expected ')' closing the assert, found end of file");
    snprintf(buf, sizeof buf, "%s(assert (<= X_0 1))\n\n(assert (>= X_0 1x))\n", decl);
    parse_fails(buf, IBP_ERR_FORMAT, "t.vnnlib:4: '1x' is neither");
    snprintf(buf, sizeof buf, "%s(assert (<= X_1 1))\n", decl);
    parse_fails(buf, IBP_ERR_FORMAT, "t.vnnlib:2: 'X_1' is not declared");
    snprintf(buf, sizeof buf, "%s(assert (<= X_0 1))(assert (>= Y_0 1))\n", decl);
    parse_fails(buf, IBP_ERR_FORMAT, "X_0 has no lower bound");
    snprintf(buf, sizeof buf, "%s(assert (<= X_0 Y_0))\n", decl);
    parse_fails(buf, IBP_ERR_UNSUPPORTED, "t.vnnlib:2: comparison between an input and an output");
    snprintf(buf, sizeof buf, "%s(assert (< X_0 1))\n", decl);
    parse_fails(buf, IBP_ERR_UNSUPPORTED, "expected and, or, <= or >=");
    parse_fails("(declare-const X_0 Int)", IBP_ERR_UNSUPPORTED, "only Real");
    parse_fails("(declare-const Z Real)", IBP_ERR_UNSUPPORTED, "not X_<i> or Y_<j>");
    parse_fails("(declare-const X_0 Real)(declare-const X_0 Real)", IBP_ERR_FORMAT,
                "declared twice");
    parse_fails("(declare-const X_1 Real)(declare-const Y_0 Real)", IBP_ERR_FORMAT,
                "X_0 is not declared");
    parse_fails("(check-sat)", IBP_ERR_UNSUPPORTED, "command 'check-sat'");
    parse_fails("", IBP_ERR_FORMAT, "no input");
    for (const char *bad = "inf\0nan\0" "0x10\0" "1e\0" ".\0" "--1\0" "1e400\0"; *bad;
         bad += strlen(bad) + 1) {
        snprintf(buf, sizeof buf, "%s(assert (<= X_0 %s))", decl, bad);
        parse_fails(buf, IBP_ERR_FORMAT, "is neither");
    }
    /* deep nesting is refused, not recursed into */
    char deep[2048] = "(declare-const X_0 Real)(declare-const Y_0 Real)(assert ";
    for (int i = 0; i < 100; i++)
        strcat(deep, "(and ");
    parse_fails(deep, IBP_ERR_UNSUPPORTED, "nested deeper");
}

/* Truncations at every length and a few thousand corruptions never crash; failures
 * carry a message; successes are well formed. */
static void test_fuzz(void)
{
    const char *base =
        "; prop\n(declare-const X_0 Real)(declare-const X_1 Real)\n"
        "(declare-const Y_0 Real)(declare-const Y_1 Real)(declare-const Y_2 Real)\n"
        "(assert (<= X_0 0.5))(assert (>= X_0 -0.5e0))\n"
        "(assert (or (and (>= X_1 0) (<= X_1 1) (>= Y_0 Y_1))\n"
        "            (and (>= X_1 2) (<= X_1 3) (<= Y_2 -1.25) (>= Y_1 Y_2))))\n";
    size_t n = strlen(base);
    char *buf = malloc(n + 1);
    int ok = 0, failed = 0, bad = 0;
    for (size_t len = 0; len <= n; len++) {
        memcpy(buf, base, len);
        struct ibp_vnnlib *p = NULL;
        struct ibp_error err = {0};
        enum ibp_status st = ibp_vnnlib_parse(buf, len, "fuzz", &p, &err);
        if (st == IBP_OK) {
            ok++;
            ibp_vnnlib_free(p);
        } else {
            failed++;
            bad += err.msg[0] == '\0' || p != NULL;
        }
    }
    CHECK(ok >= 1 && failed > 100);
    static const char alphabet[] = "()XY_0123456789.eE+-; \n<=>andor";
    uint64_t s = 12345;
    for (int it = 0; it < 4000; it++) {
        memcpy(buf, base, n + 1);
        for (int k = 0; k < 1 + it % 3; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(s >> 33) % n;
            buf[pos] = (it & 1) ? alphabet[(s >> 20) % (sizeof alphabet - 1)]
                                : (char)(buf[pos] ^ (1 << ((s >> 12) % 8)));
        }
        struct ibp_vnnlib *p = NULL;
        struct ibp_error err = {0};
        enum ibp_status st = ibp_vnnlib_parse(buf, n, "fuzz", &p, &err);
        if (st == IBP_OK) {
            ok++;
            for (int b = 0; b < p->n_boxes; b++)
                for (int i = 0; i < p->n_inputs; i++)
                    bad += !(p->boxes[b].lo[i] <= p->boxes[b].hi[i]);
            ibp_vnnlib_free(p);
        } else {
            failed++;
            bad += err.msg[0] == '\0' || p != NULL;
        }
    }
    CHECK(bad == 0);
    printf("vnnlib fuzz: %d parsed, %d rejected\n", ok, failed);
    free(buf);
}

int main(void)
{
    test_box_and_rows();
    test_or_of_and();
    test_several_boxes();
    test_float_box();
    test_errors();
    test_fuzz();
    return check_report();
}
