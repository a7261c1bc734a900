#include "trainer/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ibp_metrics {
    int fd;          /* -1: memory only */
    char *path;
    char *buf;       /* the line being built, NUL-terminated */
    size_t len, cap;
    int fields;      /* fields in the current line */
    int oom;         /* a field could not be added to the current line */
};

enum ibp_status ibp_metrics_open(const char *path, int append, struct ibp_metrics **out,
                                 struct ibp_error *err)
{
    *out = NULL;
    struct ibp_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the metrics log");
    m->cap = 256;
    m->buf = malloc(m->cap);
    m->path = strdup(path ? path : "(memory)");
    if (!m->buf || !m->path) {
        free(m->buf);
        free(m->path);
        free(m);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the metrics log");
    }
    m->buf[0] = '\0';
    m->fd = -1;
    if (path) {
        m->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
        if (m->fd < 0) {
            int e = errno;
            free(m->buf);
            free(m->path);
            free(m);
            return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(e));
        }
    }
    *out = m;
    return IBP_OK;
}

enum ibp_status ibp_metrics_close(struct ibp_metrics *m, struct ibp_error *err)
{
    if (!m)
        return IBP_OK;
    enum ibp_status st = IBP_OK;
    if (m->fd >= 0 && close(m->fd) != 0)
        st = ibp_fail(err, IBP_ERR_IO, "%s: close: %s", m->path, strerror(errno));
    free(m->buf);
    free(m->path);
    free(m);
    return st;
}

static void append(struct ibp_metrics *m, const char *s, size_t n)
{
    if (m->oom)
        return;
    if (m->len + n + 2 > m->cap) { /* room for the newline and the NUL */
        size_t cap = m->cap;
        while (m->len + n + 2 > cap)
            cap *= 2;
        char *p = realloc(m->buf, cap);
        if (!p) {
            m->oom = 1;
            return;
        }
        m->buf = p;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = '\0';
}

static void appendf(struct ibp_metrics *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void appendf(struct ibp_metrics *m, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    append(m, tmp, (size_t)n);
}

static void append_string(struct ibp_metrics *m, const char *s)
{
    append(m, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            append(m, e, 2);
        } else if (*p == '\n') {
            append(m, "\\n", 2);
        } else if (*p == '\t') {
            append(m, "\\t", 2);
        } else if (*p == '\r') {
            append(m, "\\r", 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            appendf(m, "\\u%04x", *p);
        } else {
            append(m, (const char *)p, 1);
        }
    }
    append(m, "\"", 1);
}

void ibp_metrics_begin(struct ibp_metrics *m)
{
    m->len = 0;
    m->fields = 0;
    m->oom = 0;
    m->buf[0] = '\0';
    append(m, "{", 1);
}

static void key(struct ibp_metrics *m, const char *k)
{
    if (m->fields++)
        append(m, ",", 1);
    append_string(m, k);
    append(m, ":", 1);
}

void ibp_metrics_num(struct ibp_metrics *m, const char *k, double v)
{
    key(m, k);
    if (isfinite(v))
        appendf(m, "%.9g", v);
    else
        append(m, "null", 4);
}

void ibp_metrics_int(struct ibp_metrics *m, const char *k, long long v)
{
    key(m, k);
    appendf(m, "%lld", v);
}

void ibp_metrics_str(struct ibp_metrics *m, const char *k, const char *v)
{
    key(m, k);
    if (v)
        append_string(m, v);
    else
        append(m, "null", 4);
}

void ibp_metrics_bool(struct ibp_metrics *m, const char *k, int v)
{
    key(m, k);
    if (v)
        append(m, "true", 4);
    else
        append(m, "false", 5);
}

void ibp_metrics_null(struct ibp_metrics *m, const char *k)
{
    key(m, k);
    append(m, "null", 4);
}

/* Writes buf[0..len] (the line and its newline) at the end of the file; a line that
 * cannot be written whole is cut off again, so the file keeps only whole lines. Returns 0
 * or the errno of the failure; *partial tells that the cut failed too. */
static int write_line(struct ibp_metrics *m, int *partial)
{
    *partial = 0;
    struct stat sb;
    if (fstat(m->fd, &sb) != 0)
        return errno;
    const char *p = m->buf;
    size_t n = m->len + 1;
    while (n > 0) {
        ssize_t k = write(m->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            *partial = ftruncate(m->fd, sb.st_size) != 0;
            return e;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

enum ibp_status ibp_metrics_end(struct ibp_metrics *m, struct ibp_error *err)
{
    append(m, "}", 1);
    if (m->oom) {
        m->len = 0;
        m->buf[0] = '\0';
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory building a line", m->path);
    }
    if (m->fd >= 0) {
        /* the buffer always has room for the newline (see append) */
        m->buf[m->len] = '\n';
        int partial;
        int rc = write_line(m, &partial);
        m->buf[m->len] = '\0';
        if (rc != 0)
            return ibp_fail(err, IBP_ERR_IO, "%s: write: %s%s", m->path, strerror(rc),
                            partial ? " (a partial last line remains)" : "");
    }
    return IBP_OK;
}

const char *ibp_metrics_line(const struct ibp_metrics *m)
{
    return m->buf;
}
