/* numparse.h — strict number parsing for options and config files.
 *
 * The whole text must be the number: no leading or trailing space, no junk, no
 * overflow; doubles must be finite (no "nan", "inf"). `what` names the source in
 * messages ("--batch", "run.cfg:4 batch"). */
#ifndef IBP_NUMPARSE_H
#define IBP_NUMPARSE_H

#include "nets/base/status.h"

/* A decimal integer in [min, max]. Errors: IBP_ERR_ARG ("--batch: 'x' is not an
 * integer", "--batch: 0 is outside [1, 1000000]"). */
enum ibp_status ibp_parse_int(const char *text, const char *what, long min, long max,
                              long *out, struct ibp_error *err);

/* A finite decimal number (digits, '.', exponent; no hex, nan or inf).
 * Errors: IBP_ERR_ARG. */
enum ibp_status ibp_parse_double(const char *text, const char *what, double *out,
                                 struct ibp_error *err);

#endif
