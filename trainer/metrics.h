/* metrics.h — the metrics log: JSON lines, one object per line, each line appended with
 * one write (unbuffered), so a killed run leaves only whole lines (and a reader can
 * follow the file while training runs); a line whose write fails (a full disk) is cut
 * off again, so the log keeps the lines before it.
 *
 * Build a line with begin, field calls, end:
 *   ibp_metrics_begin(m);
 *   ibp_metrics_str(m, "kind", "epoch");
 *   ibp_metrics_int(m, "epoch", 3);
 *   ibp_metrics_num(m, "loss", 0.25);
 *   ibp_metrics_end(m, &err);          -> {"kind":"epoch","epoch":3,"loss":0.25}
 * Numbers are printed with %.9g (float32 round-trips); NaN and Inf, which JSON cannot
 * hold, are written as null. Strings are escaped (quote, backslash, control characters
 * as \uXXXX; other bytes, UTF-8 included, pass through). */
#ifndef IBP_METRICS_H
#define IBP_METRICS_H

#include "nets/base/status.h"

struct ibp_metrics;

/* Opens a log at path, truncating it (append = 0) or appending (append = 1, for a
 * resumed run); path NULL keeps lines in memory only (ibp_metrics_line).
 * Errors: IBP_ERR_IO naming the path, IBP_ERR_NOMEM. */
enum ibp_status ibp_metrics_open(const char *path, int append, struct ibp_metrics **out,
                                 struct ibp_error *err);

/* Closes the file (reporting a failed final flush) and frees m; NULL is a no-op. */
enum ibp_status ibp_metrics_close(struct ibp_metrics *m, struct ibp_error *err);

/* Starts a new line (discarding an unfinished one). */
void ibp_metrics_begin(struct ibp_metrics *m);
void ibp_metrics_num(struct ibp_metrics *m, const char *key, double v);
void ibp_metrics_int(struct ibp_metrics *m, const char *key, long long v);
void ibp_metrics_str(struct ibp_metrics *m, const char *key, const char *v); /* NULL: null */
void ibp_metrics_bool(struct ibp_metrics *m, const char *key, int v);
void ibp_metrics_null(struct ibp_metrics *m, const char *key);

/* Ends the line and appends it with its newline. Errors: IBP_ERR_IO naming the path and
 * the errno text (the file is cut back to its previous lines), IBP_ERR_NOMEM (a field
 * could not be added; nothing is written). */
enum ibp_status ibp_metrics_end(struct ibp_metrics *m, struct ibp_error *err);

/* The last line ended (without its newline), e.g. to echo it on stdout; valid until the
 * next begin. "" before the first line. */
const char *ibp_metrics_line(const struct ibp_metrics *m);

#endif
