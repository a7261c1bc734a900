/* parse.h — the project's one strict number parser, for options, config files and the
 * number fields of text formats.
 *
 * The whole text must be the number: no leading or trailing space, no junk, no overflow;
 * integers take no '+'; doubles may carry a sign (in the mantissa and the exponent) and
 * must be finite (no "nan", "inf", no hex). `what` names the source in messages
 * ("--batch", "run.cfg:4 batch"); err may be NULL when the caller words its own. */
#ifndef IBP_PARSE_H
#define IBP_PARSE_H

#include <stdint.h>

#include "nets/base/status.h"

/* A decimal integer in [min, max]. Errors: IBP_ERR_ARG ("--batch: 'x' is not an
 * integer", "--batch: 0 is outside [1, 1000000]"). */
enum ibp_status ibp_parse_int(const char *text, const char *what, long min, long max,
                              long *out, struct ibp_error *err);

/* A non-negative decimal integer up to max (digits only). Errors: IBP_ERR_ARG. */
enum ibp_status ibp_parse_u64(const char *text, const char *what, uint64_t max,
                              uint64_t *out, struct ibp_error *err);

/* A finite decimal number (digits, '.', exponent; no hex, nan or inf).
 * Errors: IBP_ERR_ARG. */
enum ibp_status ibp_parse_double(const char *text, const char *what, double *out,
                                 struct ibp_error *err);

/* A perturbation radius as ibp-train and ibp-verify take it: a decimal ("0.1", "1e-2")
 * or a fraction of two decimals ("8/255"), no spaces, in [0, 1]. Errors: IBP_ERR_ARG
 * ("--eps: '0.1x' is not a number or fraction", "--eps: eps 2 must be in [0, 1]",
 * "--eps: '8/0' divides by zero"). */
enum ibp_status ibp_parse_eps(const char *text, const char *what, double *eps,
                              struct ibp_error *err);

/* A comma-separated list of 1 to max finite decimals, each within float range, into
 * out[0..*n) (rounded to float), e.g. a per-channel "0.4914,0.4822,0.4465". Errors:
 * IBP_ERR_ARG ("--mean: '0.1,,2': expected 1 to 4 numbers, comma separated", or the
 * bad item's message). */
enum ibp_status ibp_parse_float_list(const char *text, const char *what, float *out, int max,
                                     int *n, struct ibp_error *err);

/* The run of decimal digits at *s (at least one, value <= INT64_MAX), for list syntaxes
 * such as "0-99,200": stores it in *out, advances *s past it and returns 0; returns -1
 * (nothing advanced) when *s does not start with a digit or the value overflows. */
int ibp_scan_index(const char **s, int64_t *out);

#endif
