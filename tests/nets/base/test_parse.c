/* The one strict number parser (nets/base/parse): what it accepts (eps fractions too),
 * what it refuses and the messages, which name the source. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "nets/base/parse.h"
#include "tests/common/check.h"

/* text fails to parse as an int in [min, max] with a message containing want */
static void int_fails(const char *text, long min, long max, const char *want)
{
    struct ibp_error err = {0};
    long v = 12345;
    enum ibp_status st = ibp_parse_int(text, "--n", min, max, &v, &err);
    CHECK_MSG(st == IBP_ERR_ARG && strstr(err.msg, want) && strncmp(err.msg, "--n: ", 5) == 0 &&
                  v == 12345,
              "'%s': status %d, message \"%s\", want \"%s\"", text, (int)st, err.msg, want);
}

static void test_int(void)
{
    struct ibp_error err = {0};
    long v = 0;
    CHECK_OK(ibp_parse_int("42", "--n", 0, 100, &v, &err), err);
    CHECK(v == 42);
    CHECK_OK(ibp_parse_int("-7", "--n", -10, 10, &v, &err), err);
    CHECK(v == -7);
    CHECK_OK(ibp_parse_int("007", "--n", 0, 10, &v, &err), err);
    CHECK(v == 7);
    const char *not_int[] = {"", " 5", "+5", "5 ", "x", "5x", "1e3", "0x10", "1.0", "-", "--5"};
    for (size_t i = 0; i < sizeof not_int / sizeof not_int[0]; i++)
        int_fails(not_int[i], -100, 100, "is not an integer");
    int_fails("101", -100, 100, "101 is outside [-100, 100]");
    int_fails("-101", -100, 100, "is outside [-100, 100]");
    int_fails("99999999999999999999", 0, 100, "is outside");
    /* a NULL error is allowed (the format readers' wrappers pass none) */
    CHECK(ibp_parse_int("x", "--n", 0, 1, &v, NULL) == IBP_ERR_ARG);
}

static void test_u64(void)
{
    struct ibp_error err = {0};
    uint64_t v = 0;
    CHECK_OK(ibp_parse_u64("18446744073709551615", "--seed", UINT64_MAX, &v, &err), err);
    CHECK(v == UINT64_MAX);
    CHECK_OK(ibp_parse_u64("0", "--seed", 5, &v, &err), err);
    CHECK(v == 0);
    v = 3;
    const char *bad[] = {"-1", "+1", " 1", "1 ", "", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(ibp_parse_u64(bad[i], "--seed", UINT64_MAX, &v, &err) == IBP_ERR_ARG);
        CHECK_MSG(strstr(err.msg, "is not a non-negative integer") != NULL, "%s", err.msg);
    }
    CHECK(ibp_parse_u64("18446744073709551616", "--seed", UINT64_MAX, &v, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "is above 18446744073709551615") != NULL);
    CHECK(ibp_parse_u64("6", "--seed", 5, &v, &err) == IBP_ERR_ARG);
    CHECK(strcmp(err.msg, "--seed: 6 is above 5") == 0);
    CHECK(v == 3);
}

static void test_double(void)
{
    struct ibp_error err = {0};
    struct {
        const char *text;
        double want;
    } good[] = {{"0.5", 0.5}, {"-1e-3", -1e-3}, {"5.", 5.0}, {".5", 0.5}, {"+2.5E+01", 25.0},
                {"1e308", 1e308}, {"0", 0.0}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = -1;
        CHECK_OK(ibp_parse_double(good[i].text, "--eps", &v, &err), err);
        CHECK_MSG(v == good[i].want, "'%s' read as %g", good[i].text, v);
    }
    /* an underflowing value reads as its rounded result, not as an error */
    double tiny = 0;
    CHECK_OK(ibp_parse_double("1e-320", "--eps", &tiny, &err), err);
    CHECK(tiny > 0 && tiny < DBL_MIN);
    const char *bad[] = {"", "inf", "nan", "-inf", "0x10", "0x1p3", " 1", "1 ", "e5", "1e",
                         ".", "--1", "1,5", "8/255"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 7;
        CHECK_MSG(ibp_parse_double(bad[i], "--eps", &v, &err) == IBP_ERR_ARG && v == 7,
                  "'%s' accepted", bad[i]);
        CHECK_MSG(strstr(err.msg, "--eps: ") == err.msg && strstr(err.msg, "is not a number"),
                  "%s", err.msg);
    }
    double v = 7;
    CHECK(ibp_parse_double("1e400", "--eps", &v, &err) == IBP_ERR_ARG && v == 7);
    CHECK(strcmp(err.msg, "--eps: '1e400' is out of range") == 0);
}

static void test_eps(void)
{
    struct ibp_error err = {0};
    double v = -1;
    CHECK_OK(ibp_parse_eps("0.1", "--eps", &v, &err), err);
    CHECK(v == 0.1);
    CHECK_OK(ibp_parse_eps("8/255", "--eps", &v, &err), err);
    CHECK(v == 8.0 / 255.0);
    CHECK_OK(ibp_parse_eps("1/255", "--eps", &v, &err), err);
    CHECK(v == 1.0 / 255.0);
    CHECK_OK(ibp_parse_eps("0", "--eps", &v, &err), err);
    CHECK(v == 0.0);
    CHECK_OK(ibp_parse_eps("1", "--eps", &v, &err), err);
    CHECK(v == 1.0);
    CHECK_OK(ibp_parse_eps("1e-2", "--eps", &v, &err), err);
    CHECK(v == 0.01);
    CHECK_OK(ibp_parse_eps("2.5/10", "--eps", &v, &err), err);
    CHECK(v == 0.25);
    const char *bad[] = {"", "nan", "NaN", "inf", "-0.1", "-0", "1.5", "2/1", "0.1x", " 0.1",
                         "0.1 ", "8/", "/255", "8/0", "8/-255", "8//255", "8/255/2", "0x1p-3",
                         "+", ".", "e5", "1e999", "8 / 255", "1/2x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ibp_parse_eps(bad[i], "--eps", &v, &err);
        CHECK_MSG(rc == IBP_ERR_ARG, "'%s' accepted", bad[i]);
        CHECK(strncmp(err.msg, "--eps: ", 7) == 0);
    }
    ibp_parse_eps("2", "--eps", &v, &err);
    CHECK(strcmp(err.msg, "--eps: eps 2 must be in [0, 1]") == 0);
}

static void test_scan_index(void)
{
    const char *s = "12-34";
    int64_t v = 0;
    CHECK(ibp_scan_index(&s, &v) == 0 && v == 12 && strcmp(s, "-34") == 0);
    const char *t = "-34";
    CHECK(ibp_scan_index(&t, &v) == -1 && strcmp(t, "-34") == 0);
    const char *u = "9223372036854775807,";
    CHECK(ibp_scan_index(&u, &v) == 0 && v == INT64_MAX && strcmp(u, ",") == 0);
    const char *w = "9223372036854775808";
    CHECK(ibp_scan_index(&w, &v) == -1 && w[0] == '9');
    const char *e = "";
    CHECK(ibp_scan_index(&e, &v) == -1);
}

static void test_float_list(void)
{
    struct ibp_error err = {0};
    float v[4] = {0};
    int n = -1;
    CHECK_OK(ibp_parse_float_list("0.4914,0.4822,-0.4465", "--mean", v, 4, &n, &err), err);
    CHECK(n == 3 && v[0] == 0.4914f && v[1] == 0.4822f && v[2] == -0.4465f);
    CHECK_OK(ibp_parse_float_list("2", "--mean", v, 4, &n, &err), err);
    CHECK(n == 1 && v[0] == 2.0f);
    const char *bad[][2] = {
        {"", "expected 1 to 4 numbers"},     {"1,", "expected 1 to 4 numbers"},
        {",1", "expected 1 to 4 numbers"},   {"1,,2", "expected 1 to 4 numbers"},
        {"1,2,3,4,5", "expected 1 to 4"},    {"1, 2", "is not a number"},
        {"nan", "is not a number"},          {"1e39", "outside the float range"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum ibp_status st = ibp_parse_float_list(bad[i][0], "--mean", v, 4, &n, &err);
        CHECK_MSG(st == IBP_ERR_ARG && strstr(err.msg, bad[i][1]) &&
                      strncmp(err.msg, "--mean: ", 8) == 0,
                  "'%s': status %d, message \"%s\"", bad[i][0], (int)st, err.msg);
    }
}

int main(void)
{
    test_int();
    test_u64();
    test_double();
    test_eps();
    test_scan_index();
    test_float_list();
    return check_report();
}
