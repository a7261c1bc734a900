/* Table-driven command lines (nets/base/options): every kind of entry, the errors, each
 * naming the option, the generated --help with its defaults (a long one wrapped, numbers
 * as a person writes them) and its own --help entry, and the shortest round-trip number
 * text behind those defaults. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/options.h"
#include "tests/common/check.h"

struct values {
    int batch, verbose;
    int64_t limit;
    uint64_t seed;
    double eps, lr;
    const char *out;
    int calls;
    char last_call[32];
};

static enum ibp_status take_mode(void *dest, const char *name, const char *value,
                                 struct ibp_error *err)
{
    struct values *v = dest;
    if (strcmp(value, "a") != 0 && strcmp(value, "b") != 0)
        return ibp_fail(err, IBP_ERR_ARG, "%s: unknown mode '%s'", name, value);
    v->calls++;
    snprintf(v->last_call, sizeof v->last_call, "%s", value);
    return IBP_OK;
}

#define N_OPTS 11

static void table(struct values *v, struct ibp_opt t[N_OPTS])
{
    struct ibp_opt opts[N_OPTS] = {
        {.kind = IBP_OPT_SECTION, .help = "Run"},
        {.kind = IBP_OPT_INT, .name = "--batch", .alias = "-b", .arg = "N", .dest = &v->batch,
         .lo = 1, .hi = 1024, .help = "batch size"},
        {.kind = IBP_OPT_INT64, .name = "--limit", .arg = "N", .dest = &v->limit, .lo = 0,
         .hi = 9.3e18, .help = "samples,\n0 = all"},
        {.kind = IBP_OPT_U64, .name = "--seed", .arg = "S", .dest = &v->seed, .help = "seed"},
        {.kind = IBP_OPT_DOUBLE, .name = "--eps", .arg = "E", .dest = &v->eps, .lo = 0, .hi = 1,
         .lo_open = 1, .help = "radius"},
        {.kind = IBP_OPT_DOUBLE, .name = "--lr", .arg = "R", .dest = &v->lr, .lo = 0, .hi = 1e9,
         .help = "step"},
        {.kind = IBP_OPT_SECTION, .help = "Output"},
        {.kind = IBP_OPT_STRING, .name = "--out", .arg = "FILE", .dest = &v->out,
         .help = "report file"},
        {.kind = IBP_OPT_STRING, .name = "--save-adv", .arg = "DIR", .dest = &v->out,
         .help = "a PNG per counterexample, in a folder this long help names"},
        {.kind = IBP_OPT_FLAG, .name = "--verbose", .dest = &v->verbose, .flag = 1,
         .help = "more lines", .def = ""},
        {.kind = IBP_OPT_CALL, .name = "--mode", .arg = "M", .dest = v, .call = take_mode,
         .help = "a or b", .def = "a"},
    };
    memcpy(t, opts, sizeof opts);
}

static void defaults(struct values *v)
{
    memset(v, 0, sizeof *v);
    v->batch = 256;
    v->eps = 0.25;
    v->lr = 5e-4;
    v->seed = 100;
}

/* argv (NULL-terminated) parses with status want and a message containing msg */
static void parse_fails(const char *const *args, const char *msg)
{
    struct values v;
    struct ibp_opt t[N_OPTS];
    defaults(&v);
    table(&v, t);
    char *argv[16];
    int argc = 0;
    argv[argc++] = (char *)"prog";
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    struct ibp_error err = {0};
    const char *pos[1];
    int n_pos = 0, help = 0;
    enum ibp_status st = ibp_opts_parse(t, N_OPTS, argc, argv, 1, pos, 1, &n_pos, &help, &err);
    CHECK_MSG(st == IBP_ERR_ARG && strstr(err.msg, msg) != NULL && !strchr(err.msg, '\n'),
              "%s ...: status %d, message \"%s\", want \"%s\"", args[0], (int)st, err.msg, msg);
}

static void test_parse(void)
{
    struct values v;
    struct ibp_opt t[N_OPTS];
    defaults(&v);
    table(&v, t);
    char *argv[] = {"prog", "--batch", "5", "--eps=0.5", "first", "-b", "7",
                    "--limit", "9000000000", "--seed=18446744073709551615",
                    "--out", "r.md", "--verbose", "--mode", "b", "second"};
    int argc = (int)(sizeof argv / sizeof argv[0]);
    struct ibp_error err = {0};
    const char *pos[2];
    int n_pos = -1, help = -1;
    CHECK_OK(ibp_opts_parse(t, N_OPTS, argc, argv, 1, pos, 2, &n_pos, &help, &err), err);
    CHECK(v.batch == 7 && v.eps == 0.5 && v.limit == 9000000000LL && v.seed == UINT64_MAX);
    CHECK(v.out && strcmp(v.out, "r.md") == 0 && v.verbose == 1);
    CHECK(v.calls == 1 && strcmp(v.last_call, "b") == 0);
    CHECK(help == 0 && n_pos == 2 && strcmp(pos[0], "first") == 0 &&
          strcmp(pos[1], "second") == 0);

    /* --help stops parsing, wherever it stands */
    char *hv[] = {"prog", "--batch", "9", "-h", "--nope"};
    CHECK_OK(ibp_opts_parse(t, N_OPTS, 5, hv, 1, pos, 2, &n_pos, &help, &err), err);
    CHECK(help == 1 && v.batch == 9);
    /* a lone "-" is positional (stdin, by convention) */
    char *dv[] = {"prog", "-"};
    CHECK_OK(ibp_opts_parse(t, N_OPTS, 2, dv, 1, pos, 2, &n_pos, &help, &err), err);
    CHECK(n_pos == 1 && strcmp(pos[0], "-") == 0 && help == 0);
}

static void test_errors(void)
{
    parse_fails((const char *[]){"--nope", "1", NULL}, "unknown option --nope");
    parse_fails((const char *[]){"--nope=1", NULL}, "unknown option --nope");
    parse_fails((const char *[]){"--batch", NULL}, "--batch needs a value");
    parse_fails((const char *[]){"--batch", "x", NULL}, "--batch: 'x' is not an integer");
    parse_fails((const char *[]){"--batch", "0", NULL}, "--batch: 0 is outside [1, 1024]");
    parse_fails((const char *[]){"-b", "2000", NULL}, "--batch: 2000 is outside [1, 1024]");
    parse_fails((const char *[]){"--limit", "-1", NULL}, "--limit: -1 is outside");
    parse_fails((const char *[]){"--seed", "-1", NULL}, "--seed: '-1' is not a non-negative");
    parse_fails((const char *[]){"--eps", "0", NULL}, "--eps: 0 is outside (0, 1]");
    parse_fails((const char *[]){"--eps", "1.5", NULL}, "--eps: 1.5 is outside (0, 1]");
    parse_fails((const char *[]){"--eps", "nan", NULL}, "--eps: 'nan' is not a number");
    parse_fails((const char *[]){"--lr", "2e9", NULL}, "--lr: 2e9 is outside [0, 1e9]");
    parse_fails((const char *[]){"--verbose=1", NULL}, "--verbose takes no value");
    parse_fails((const char *[]){"--mode", "c", NULL}, "--mode: unknown mode 'c'");
    parse_fails((const char *[]){"one", "two", NULL}, "unexpected argument \"two\"");
}

static void test_help(void)
{
    struct values v;
    struct ibp_opt t[N_OPTS];
    defaults(&v);
    table(&v, t);
    struct ibp_wbuf w = {0};
    ibp_opts_help(t, N_OPTS, &w);
    CHECK(!w.failed && w.data);
    const char *h = (const char *)w.data;
    const char *want[] = {
        "Run:\n",
        "  --batch N, -b N         batch size (default 256)\n",
        "  --limit N               samples,\n                          0 = all (default 0)\n",
        "  --seed S                seed (default 100)\n",
        "  --eps E                 radius (default 0.25)\n",
        "  --lr R                  step (default 5e-4)\n",
        "\nOutput:\n",
        "  --out FILE              report file (default none)\n",
        "  --save-adv DIR          a PNG per counterexample, in a folder this long help names\n"
        "                          (default none)\n",
        "  --verbose               more lines\n",
        "  --mode M                a or b (default a)\n",
        "  --help, -h              this text\n",
    };
    const char *at = h;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *f = strstr(at, want[i]);
        CHECK_MSG(f != NULL, "help lacks (in order) \"%s\" in:\n%s", want[i], h);
        if (f)
            at = f + strlen(want[i]);
    }
    CHECK(*at == '\0');
    ibp_wbuf_free(&w);
}

/* x prints as want */
static void format_is(double x, const char *want)
{
    char buf[IBP_OPTS_DOUBLE_LEN];
    ibp_opts_format_double(x, buf);
    CHECK_MSG(strcmp(buf, want) == 0, "%.17g prints as \"%s\", want \"%s\"", x, buf, want);
}

/* The significant digits of a number text: its mantissa's digits from the first nonzero
 * one, less the zeros that end it (an integer's padding; %g drops a fraction's). */
static int significant_digits(const char *s)
{
    int n = 0, zeros = 0, started = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        started |= *s != '0';
        n += started;
        zeros = *s == '0' ? zeros + 1 : 0;
    }
    return started ? n - zeros : 1;
}

static void test_format_double(void)
{
    format_is(5e-4, "5e-4");
    format_is(0.25, "0.25");
    format_is(0.1, "0.1");
    format_is(0.001, "0.001");
    format_is(1e-6, "1e-6");
    format_is(1.5e-5, "1.5e-5");
    format_is(-2.5e-7, "-2.5e-7");
    format_is(256.0, "256");
    format_is(1e9, "1e9");
    format_is(20.0, "20");
    format_is(200000.0, "200000");
    format_is(1234567.0, "1234567");
    format_is(1234500.0, "1234500");
    format_is(12345000.0, "1.2345e7");
    format_is(2.5e7, "2.5e7");
    format_is(1e16, "1e16");
    format_is(123.456, "123.456");
    format_is(0.0, "0");
    format_is(-3.75, "-3.75");
    format_is(8.0 / 255.0, "0.03137254901960784");
    format_is(0.1 + 0.2, "0.30000000000000004");
    format_is(DBL_MAX, "1.7976931348623157e308");
    format_is(DBL_MIN, "2.2250738585072014e-308");
    format_is(4.9406564584124654e-324, "5e-324");
    format_is(HUGE_VAL, "inf");
    format_is(-HUGE_VAL, "-inf");
    format_is(NAN, "nan");
    /* any double: reads back exactly, and one digit fewer would not */
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    int bad = 0;
    for (int i = 0; i < 20000 && bad < 5; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double x;
        uint64_t bits = s;
        memcpy(&x, &bits, sizeof x);
        if (i % 2)
            x = (double)(s >> 11) * 0x1p-53 * pow(10.0, (double)(i % 40) - 20.0);
        if (!isfinite(x))
            continue;
        char buf[IBP_OPTS_DOUBLE_LEN], fewer[400];
        ibp_opts_format_double(x, buf);
        int d = significant_digits(buf);
        snprintf(fewer, sizeof fewer, "%.*g", d - 1, x);
        int ok = strtod(buf, NULL) == x && d >= 1 && d <= 17 &&
                 (d == 1 || strtod(fewer, NULL) != x) && strlen(buf) < IBP_OPTS_DOUBLE_LEN;
        if (!ok)
            bad++;
        CHECK_MSG(ok, "%.17g prints as \"%s\" (%d digits)", x, buf, d);
    }
}

int main(void)
{
    test_format_double();
    test_parse();
    test_errors();
    test_help();
    return check_report();
}
