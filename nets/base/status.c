#include "nets/base/status.h"

#include <stdarg.h>
#include <stdio.h>

enum ibp_status ibp_fail(struct ibp_error *err, enum ibp_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void ibp_error_clear(struct ibp_error *err)
{
    if (err) {
        err->status = IBP_OK;
        err->msg[0] = '\0';
    }
}

