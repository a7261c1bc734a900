/* bytes.h — little-endian encoding of the project's binary files (model, training state).
 *
 * A writer appends fixed-width little-endian fields to a growing memory buffer; a reader
 * takes them back from a byte range with bounds checks. Neither prints nor fails loudly:
 * the writer remembers an allocation failure and the reader a short read, so a caller can
 * encode or decode a whole record and check once at the end. Floats travel as their IEEE
 * binary32 / binary64 bit patterns, so a round trip is bit-exact (NaN payloads included). */
#ifndef IBP_BYTES_H
#define IBP_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A growing buffer. Zero-initialise it ({0}); free the data with ibp_wbuf_free. */
struct ibp_wbuf {
    unsigned char *data;
    size_t len, cap;
    int failed;        /* set when an allocation failed; later puts do nothing */
};

void ibp_wbuf_free(struct ibp_wbuf *w);
/* Makes room for `extra` more bytes up front (a hint; failure sets `failed`). */
void ibp_wbuf_reserve(struct ibp_wbuf *w, size_t extra);
void ibp_wbuf_bytes(struct ibp_wbuf *w, const void *p, size_t n);
void ibp_wbuf_u32(struct ibp_wbuf *w, uint32_t v);
void ibp_wbuf_i32(struct ibp_wbuf *w, int32_t v);
void ibp_wbuf_u64(struct ibp_wbuf *w, uint64_t v);
void ibp_wbuf_i64(struct ibp_wbuf *w, int64_t v);
void ibp_wbuf_f32(struct ibp_wbuf *w, float v);
void ibp_wbuf_f64(struct ibp_wbuf *w, double v);
/* printf-style text (no terminator counted in len; after a successful call the byte at
 * data[len] is a NUL, so text-only buffers can be handed out as C strings). */
void ibp_wbuf_printf(struct ibp_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n floats, each as binary32 little-endian. */
void ibp_wbuf_f32s(struct ibp_wbuf *w, const float *v, size_t n);
/* A string as u32 length + bytes (no terminator); NULL is the empty string. */
void ibp_wbuf_str(struct ibp_wbuf *w, const char *s);
/* Overwrites 8 bytes at offset `at` (< len) with v: for sizes known only at the end. */
void ibp_wbuf_patch_u64(struct ibp_wbuf *w, size_t at, uint64_t v);

/* A bounds-checked view of bytes it does not own. */
struct ibp_rbuf {
    const unsigned char *data;
    size_t len, pos;
    int failed;        /* set when a get ran past the end or a string was malformed */
};

/* Every get advances pos; past the end it sets failed, returns 0 and stays put. */
uint32_t ibp_rbuf_u32(struct ibp_rbuf *r);
int32_t ibp_rbuf_i32(struct ibp_rbuf *r);
uint64_t ibp_rbuf_u64(struct ibp_rbuf *r);
int64_t ibp_rbuf_i64(struct ibp_rbuf *r);
float ibp_rbuf_f32(struct ibp_rbuf *r);
double ibp_rbuf_f64(struct ibp_rbuf *r);
void ibp_rbuf_f32s(struct ibp_rbuf *r, float *v, size_t n);
/* A string written by ibp_wbuf_str, as a new NUL-terminated allocation (caller frees),
 * at most max_len bytes long. NULL on a short read, a longer string, an embedded NUL
 * (these set failed) or no memory (failed not set). */
char *ibp_rbuf_str(struct ibp_rbuf *r, size_t max_len);
/* Bytes left. */
size_t ibp_rbuf_left(const struct ibp_rbuf *r);

/* zlib's crc32 of data[0..n), any length (zlib takes uInt-sized chunks). */
uint32_t ibp_crc32(const void *data, size_t n);

#endif
