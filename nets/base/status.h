/* status.h — how every library function reports failure.
 *
 * Library code never prints and never exits: a function that can fail returns an
 * enum ibp_status (IBP_OK = 0, errors negative) and, when the caller passed a non-NULL
 * struct ibp_error, writes a one-line message there naming the file, layer or argument
 * and the problem. Only the programs turn a status into a message on stderr and an exit
 * code. */
#ifndef IBP_STATUS_H
#define IBP_STATUS_H

enum ibp_status {
    IBP_OK = 0,
    IBP_ERR_NOMEM = -1,       /* an allocation failed */
    IBP_ERR_IO = -2,          /* open/read/write/rename failed */
    IBP_ERR_FORMAT = -3,      /* a file's contents are malformed */
    IBP_ERR_SHAPE = -4,       /* shapes that do not fit together */
    IBP_ERR_ARG = -5,         /* a bad argument or option value */
    IBP_ERR_UNSUPPORTED = -6, /* valid input the library does not handle */
    IBP_ERR_NUMERIC = -7,     /* NaN or Inf where a finite number is required */
    IBP_ERR_INTERRUPTED = -8, /* stopped on request (signal, time limit) */
};

#define IBP_ERROR_LEN 512

/* A message buffer owned by the caller; msg is "" until a function fails. */
struct ibp_error {
    enum ibp_status status;
    char msg[IBP_ERROR_LEN];
};

/* Formats the message into err (if not NULL) and returns status, so that failing code
 * can write `return ibp_fail(err, IBP_ERR_FORMAT, "%s: bad magic", path);`. */
enum ibp_status ibp_fail(struct ibp_error *err, enum ibp_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err (if not NULL). */
void ibp_error_clear(struct ibp_error *err);

#endif
