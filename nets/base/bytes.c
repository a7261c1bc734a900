#include "nets/base/bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void ibp_wbuf_free(struct ibp_wbuf *w)
{
    free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
}

void ibp_wbuf_reserve(struct ibp_wbuf *w, size_t extra)
{
    if (w->failed)
        return;
    if (extra > SIZE_MAX - w->len) {
        w->failed = 1;
        return;
    }
    size_t need = w->len + extra;
    if (need <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *p = realloc(w->data, cap);
    if (!p) {
        w->failed = 1;
        return;
    }
    w->data = p;
    w->cap = cap;
}

void ibp_wbuf_bytes(struct ibp_wbuf *w, const void *p, size_t n)
{
    ibp_wbuf_reserve(w, n);
    if (w->failed || n == 0)
        return;
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

void ibp_wbuf_printf(struct ibp_wbuf *w, const char *fmt, ...)
{
    for (int pass = 0; pass < 2 && !w->failed; pass++) {
        size_t room = w->cap - w->len;
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(room ? (char *)w->data + w->len : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0) {
            w->failed = 1;
            return;
        }
        if ((size_t)k < room) {
            w->len += (size_t)k;
            return;
        }
        /* too short: grow to fit the text and its terminator, then format again */
        ibp_wbuf_reserve(w, (size_t)k + 1);
    }
}

static void put_le(struct ibp_wbuf *w, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    ibp_wbuf_bytes(w, b, (size_t)n);
}

void ibp_wbuf_u32(struct ibp_wbuf *w, uint32_t v) { put_le(w, v, 4); }
void ibp_wbuf_i32(struct ibp_wbuf *w, int32_t v) { put_le(w, (uint32_t)v, 4); }
void ibp_wbuf_u64(struct ibp_wbuf *w, uint64_t v) { put_le(w, v, 8); }
void ibp_wbuf_i64(struct ibp_wbuf *w, int64_t v) { put_le(w, (uint64_t)v, 8); }

void ibp_wbuf_f32(struct ibp_wbuf *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_le(w, u, 4);
}

void ibp_wbuf_f64(struct ibp_wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_le(w, u, 8);
}

void ibp_wbuf_f32s(struct ibp_wbuf *w, const float *v, size_t n)
{
    if (n > SIZE_MAX / 4) {
        w->failed = 1;
        return;
    }
    ibp_wbuf_reserve(w, 4 * n);
    for (size_t i = 0; i < n && !w->failed; i++)
        ibp_wbuf_f32(w, v[i]);
}

void ibp_wbuf_str(struct ibp_wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) {
        w->failed = 1;
        return;
    }
    ibp_wbuf_u32(w, (uint32_t)n);
    ibp_wbuf_bytes(w, s, n);
}

void ibp_wbuf_patch_u64(struct ibp_wbuf *w, size_t at, uint64_t v)
{
    if (w->failed || at > w->len || w->len - at < 8)
        return;
    for (int i = 0; i < 8; i++)
        w->data[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(struct ibp_rbuf *r, int n)
{
    if (r->failed || r->len - r->pos < (size_t)n) {
        r->failed = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->data[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)n;
    return v;
}

uint32_t ibp_rbuf_u32(struct ibp_rbuf *r) { return (uint32_t)get_le(r, 4); }
int32_t ibp_rbuf_i32(struct ibp_rbuf *r) { return (int32_t)(uint32_t)get_le(r, 4); }
uint64_t ibp_rbuf_u64(struct ibp_rbuf *r) { return get_le(r, 8); }
int64_t ibp_rbuf_i64(struct ibp_rbuf *r) { return (int64_t)get_le(r, 8); }

float ibp_rbuf_f32(struct ibp_rbuf *r)
{
    uint32_t u = (uint32_t)get_le(r, 4);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

double ibp_rbuf_f64(struct ibp_rbuf *r)
{
    uint64_t u = get_le(r, 8);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

void ibp_rbuf_f32s(struct ibp_rbuf *r, float *v, size_t n)
{
    if (r->failed || (r->len - r->pos) / 4 < n) {
        r->failed = 1;
        memset(v, 0, n * sizeof *v);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = ibp_rbuf_f32(r);
}

char *ibp_rbuf_str(struct ibp_rbuf *r, size_t max_len)
{
    uint32_t n = ibp_rbuf_u32(r);
    if (r->failed || n > max_len || r->len - r->pos < n) {
        r->failed = 1;
        return NULL;
    }
    if (memchr(r->data + r->pos, '\0', n)) {
        r->failed = 1;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, r->data + r->pos, n);
    s[n] = '\0';
    r->pos += n;
    return s;
}

size_t ibp_rbuf_left(const struct ibp_rbuf *r)
{
    return r->len - r->pos;
}

uint32_t ibp_crc32(const void *data, size_t n)
{
    const unsigned char *p = data;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)crc;
}
