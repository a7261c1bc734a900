#include "nets/base/options.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nets/base/parse.h"

/* The entry whose name or alias is `arg` up to `len` characters. */
static const struct ibp_opt *find(const struct ibp_opt *opts, int n, const char *arg, size_t len)
{
    for (int i = 0; i < n; i++) {
        const struct ibp_opt *o = &opts[i];
        if (o->kind == IBP_OPT_SECTION)
            continue;
        if ((strlen(o->name) == len && strncmp(o->name, arg, len) == 0) ||
            (o->alias && strlen(o->alias) == len && strncmp(o->alias, arg, len) == 0))
            return o;
    }
    return NULL;
}

/* A table bound as a long (the table holds doubles; INT64_MAX rounds up to 2^63). */
static long bound_long(double d)
{
    return d >= 9.2e18 ? LONG_MAX : d <= -9.2e18 ? LONG_MIN : (long)d;
}

static enum ibp_status out_of_range(const struct ibp_opt *o, const char *v, struct ibp_error *err)
{
    char lo[IBP_OPTS_DOUBLE_LEN], hi[IBP_OPTS_DOUBLE_LEN];
    ibp_opts_format_double(o->lo, lo);
    ibp_opts_format_double(o->hi, hi);
    return ibp_fail(err, IBP_ERR_ARG, "%s: %s is outside %c%s, %s]", o->name, v,
                    o->lo_open ? '(' : '[', lo, hi);
}

static enum ibp_status store(const struct ibp_opt *o, const char *v, struct ibp_error *err)
{
    enum ibp_status st = IBP_OK;
    switch (o->kind) {
    case IBP_OPT_SECTION:
    case IBP_OPT_FLAG:
        break;
    case IBP_OPT_INT:
    case IBP_OPT_INT64: {
        long x;
        st = ibp_parse_int(v, o->name, bound_long(o->lo), bound_long(o->hi), &x, err);
        if (st == IBP_OK && o->kind == IBP_OPT_INT)
            *(int *)o->dest = (int)x;
        else if (st == IBP_OK)
            *(int64_t *)o->dest = x;
        break;
    }
    case IBP_OPT_U64:
        st = ibp_parse_u64(v, o->name, o->hi > 0 ? (uint64_t)o->hi : UINT64_MAX,
                           (uint64_t *)o->dest, err);
        break;
    case IBP_OPT_DOUBLE: {
        double x;
        st = ibp_parse_double(v, o->name, &x, err);
        if (st == IBP_OK && !(x >= o->lo && x <= o->hi && !(o->lo_open && x == o->lo)))
            return out_of_range(o, v, err);
        if (st == IBP_OK)
            *(double *)o->dest = x;
        break;
    }
    case IBP_OPT_STRING:
        *(const char **)o->dest = v;
        break;
    case IBP_OPT_CALL:
        st = o->call(o->dest, o->name, v, err);
        break;
    }
    return st;
}

enum ibp_status ibp_opts_parse(const struct ibp_opt *opts, int n, int argc, char *const *argv,
                               int first, const char **positional,
                               int max_positional, int *n_positional, int *help,
                               struct ibp_error *err)
{
    *help = 0;
    if (n_positional)
        *n_positional = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = 1;
            return IBP_OK;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (!n_positional || *n_positional >= max_positional)
                return ibp_fail(err, IBP_ERR_ARG, "unexpected argument \"%s\"", a);
            positional[(*n_positional)++] = a;
            continue;
        }
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const struct ibp_opt *o = find(opts, n, a, len);
        if (!o)
            return ibp_fail(err, IBP_ERR_ARG, "unknown option %.*s", (int)len, a);
        if (o->kind == IBP_OPT_FLAG) {
            if (eq)
                return ibp_fail(err, IBP_ERR_ARG, "%s takes no value", o->name);
            *(int *)o->dest = o->flag;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc)
                return ibp_fail(err, IBP_ERR_ARG, "%s needs a value", o->name);
            v = argv[++i];
        }
        enum ibp_status st = store(o, v, err);
        if (st != IBP_OK)
            return st;
    }
    return IBP_OK;
}

/* Rewrites the exponent of a printf %e/%g text in place as a person writes it: "1e+09" as
 * "1e9", "5e-04" as "5e-4". */
static void tidy_exponent(char *s)
{
    char *e = strchr(s, 'e');
    if (!e)
        return;
    char *q = e + 1;
    const char *p = e + 1;
    if (*p == '+' || *p == '-') {
        if (*p == '-')
            *q++ = '-';
        p++;
    }
    while (*p == '0' && p[1] != '\0')
        p++;
    memmove(q, p, strlen(p) + 1);
}

void ibp_opts_format_double(double x, char buf[IBP_OPTS_DOUBLE_LEN])
{
    if (!isfinite(x)) {
        snprintf(buf, IBP_OPTS_DOUBLE_LEN, "%s", isnan(x) ? "nan" : x > 0 ? "inf" : "-inf");
        return;
    }
    /* 17 significant digits always read back as the same double; fewer often do. */
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, IBP_OPTS_DOUBLE_LEN, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    snprintf(buf, IBP_OPTS_DOUBLE_LEN, "%.*e", digits - 1, x);
    int exp10 = atoi(strchr(buf, 'e') + 1);
    /* Plain notation from 1e-3 up, and for big numbers while it needs at most two zeros
     * after the significant digits (1234567, 25000000 as 2.5e7). */
    int e_form = x != 0.0 && (exp10 < -3 || exp10 >= 16 || (exp10 >= 6 && digits <= exp10 - 2));
    if (e_form) {
        tidy_exponent(buf);
        return;
    }
    /* %g stays plain while the exponent is below the precision; below 1e16 the integer
     * that a short text names is exact, so the extra precision adds only zeros. */
    snprintf(buf, IBP_OPTS_DOUBLE_LEN, "%.*g", digits > exp10 + 1 ? digits : exp10 + 1, x);
}

/* The default of o as text into buf ("" when none is shown). */
static void default_text(const struct ibp_opt *o, char *buf, size_t size)
{
    buf[0] = '\0';
    if (o->def) {
        snprintf(buf, size, "%s", o->def);
        return;
    }
    switch (o->kind) {
    case IBP_OPT_INT: snprintf(buf, size, "%d", *(const int *)o->dest); break;
    case IBP_OPT_INT64: snprintf(buf, size, "%lld", (long long)*(const int64_t *)o->dest); break;
    case IBP_OPT_U64:
        snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)o->dest);
        break;
    case IBP_OPT_DOUBLE: {
        char d[IBP_OPTS_DOUBLE_LEN];
        ibp_opts_format_double(*(const double *)o->dest, d);
        snprintf(buf, size, "%s", d);
        break;
    }
    case IBP_OPT_STRING: {
        const char *s = *(const char *const *)o->dest;
        snprintf(buf, size, "%s", s ? s : "none");
        break;
    }
    case IBP_OPT_SECTION:
    case IBP_OPT_FLAG:
    case IBP_OPT_CALL:
        break;
    }
}

#define HELP_COLUMN 26
#define HELP_WIDTH 80 /* a default note that would run past this starts a line of its own */

void ibp_opts_help(const struct ibp_opt *opts, int n, struct ibp_wbuf *w)
{
    for (int i = 0; i < n; i++) {
        const struct ibp_opt *o = &opts[i];
        if (o->kind == IBP_OPT_SECTION) {
            ibp_wbuf_printf(w, "%s%s:\n", i ? "\n" : "", o->help);
            continue;
        }
        char label[96];
        int k = snprintf(label, sizeof label, "  %s%s%s", o->name, o->arg ? " " : "",
                         o->arg ? o->arg : "");
        if (o->alias && k > 0 && (size_t)k < sizeof label)
            snprintf(label + k, sizeof label - (size_t)k, ", %s%s%s", o->alias,
                     o->arg ? " " : "", o->arg ? o->arg : "");
        char def[128];
        default_text(o, def, sizeof def);
        if (strlen(label) + 1 >= HELP_COLUMN)
            ibp_wbuf_printf(w, "%s\n%*s", label, HELP_COLUMN, "");
        else
            ibp_wbuf_printf(w, "%-*s", HELP_COLUMN, label);
        /* the help text, continuation lines aligned under its first */
        size_t last_len = 0;
        for (const char *p = o->help;;) {
            const char *nl = strchr(p, '\n');
            last_len = nl ? (size_t)(nl - p) : strlen(p);
            ibp_wbuf_printf(w, "%.*s", (int)last_len, p);
            if (!nl)
                break;
            ibp_wbuf_printf(w, "\n%*s", HELP_COLUMN, "");
            p = nl + 1;
        }
        if (def[0] && HELP_COLUMN + last_len + strlen(def) + 11 > HELP_WIDTH)
            ibp_wbuf_printf(w, "\n%*s(default %s)", HELP_COLUMN, "", def);
        else if (def[0])
            ibp_wbuf_printf(w, " (default %s)", def);
        ibp_wbuf_printf(w, "\n");
    }
    ibp_wbuf_printf(w, "%-*sthis text\n", HELP_COLUMN, "  --help, -h");
}
