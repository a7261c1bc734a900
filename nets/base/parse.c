#include "nets/base/parse.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum ibp_status ibp_parse_int(const char *text, const char *what, long min, long max,
                              long *out, struct ibp_error *err)
{
    /* strtol skips leading space and accepts "+": the text must start with a digit or '-' */
    if (!(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not an integer", what, text);
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0')
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not an integer", what, text);
    if (errno == ERANGE || v < min || v > max)
        return ibp_fail(err, IBP_ERR_ARG, "%s: %s is outside [%ld, %ld]", what, text, min, max);
    *out = v;
    return IBP_OK;
}

enum ibp_status ibp_parse_u64(const char *text, const char *what, uint64_t max,
                              uint64_t *out, struct ibp_error *err)
{
    /* strtoull accepts "-1" (as a huge value), spaces and '+': digits only here */
    if (!(text[0] >= '0' && text[0] <= '9'))
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a non-negative integer", what, text);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0')
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a non-negative integer", what, text);
    if (errno == ERANGE || v > max)
        return ibp_fail(err, IBP_ERR_ARG, "%s: %s is above %llu", what, text,
                        (unsigned long long)max);
    *out = (uint64_t)v;
    return IBP_OK;
}

enum ibp_status ibp_parse_double(const char *text, const char *what, double *out,
                                 struct ibp_error *err)
{
    /* only plain decimals: this keeps out hex floats, "nan", "inf" and leading spaces */
    size_t n = strlen(text);
    if (n == 0 || strspn(text, "0123456789.eE+-") != n || strpbrk(text, "0123456789") == NULL)
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a number", what, text);
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0')
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a number", what, text);
    if ((errno == ERANGE && fabs(v) > 1.0) || !isfinite(v))
        return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is out of range", what, text);
    *out = v;
    return IBP_OK;
}

enum ibp_status ibp_parse_eps(const char *text, const char *what, double *eps,
                              struct ibp_error *err)
{
    const char *slash = strchr(text, '/');
    double v;
    if (text[0] == '-')
        return ibp_fail(err, IBP_ERR_ARG, "%s: eps %s must be in [0, 1]", what, text);
    if (!slash) {
        if (ibp_parse_double(text, what, &v, NULL) != IBP_OK)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a number or fraction", what,
                            text);
    } else {
        size_t n = (size_t)(slash - text);
        char num[64];
        double a, b;
        if (n == 0 || n >= sizeof num || slash[1] == '-' ||
            ibp_parse_double(slash + 1, what, &b, NULL) != IBP_OK)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a number or fraction", what,
                            text);
        memcpy(num, text, n);
        num[n] = '\0';
        if (ibp_parse_double(num, what, &a, NULL) != IBP_OK)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a number or fraction", what,
                            text);
        if (b == 0.0)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' divides by zero", what, text);
        v = a / b;
    }
    if (!(v >= 0.0 && v <= 1.0))
        return ibp_fail(err, IBP_ERR_ARG, "%s: eps %s must be in [0, 1]", what, text);
    *eps = v;
    return IBP_OK;
}

enum ibp_status ibp_parse_float_list(const char *text, const char *what, float *out, int max,
                                     int *n, struct ibp_error *err)
{
    *n = 0;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (*n >= max || len == 0 || len >= sizeof item)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s': expected 1 to %d numbers, comma "
                            "separated", what, text, max);
        memcpy(item, p, len);
        item[len] = '\0';
        double v;
        enum ibp_status st = ibp_parse_double(item, what, &v, err);
        if (st != IBP_OK)
            return st;
        if (fabs(v) > FLT_MAX)
            return ibp_fail(err, IBP_ERR_ARG, "%s: %s is outside the float range", what, item);
        out[(*n)++] = (float)v;
        if (!comma)
            return IBP_OK;
        p = comma + 1;
    }
}

int ibp_scan_index(const char **s, int64_t *out)
{
    if (!(**s >= '0' && **s <= '9'))
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(*s, &end, 10);
    if (errno == ERANGE)
        return -1;
    *s = end;
    *out = x;
    return 0;
}
