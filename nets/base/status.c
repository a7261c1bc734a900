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

const char *ibp_status_name(enum ibp_status status)
{
    switch (status) {
    case IBP_OK: return "ok";
    case IBP_ERR_NOMEM: return "out of memory";
    case IBP_ERR_IO: return "i/o error";
    case IBP_ERR_FORMAT: return "format error";
    case IBP_ERR_SHAPE: return "shape error";
    case IBP_ERR_ARG: return "bad argument";
    case IBP_ERR_UNSUPPORTED: return "unsupported";
    case IBP_ERR_NUMERIC: return "numeric error";
    case IBP_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}
