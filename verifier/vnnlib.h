/* vnnlib.h — VNN-LIB properties (the subset VNN-COMP uses), as boxes and margin rows.
 *
 * Accepted: `(declare-const X_i Real)` / `(declare-const Y_j Real)`; `(assert F)` where F
 * is `(<= a b)`, `(>= a b)` (a, b each a variable or a number; X-X and X-Y comparisons
 * are rejected), `(and F...)`, `(or F...)`, nested; `;` comments; numbers in any decimal
 * or exponent form (`-1`, `.5`, `5.`, `1e-3`, `+2.5E+01`; no hex, inf or nan). The asserts
 * are conjoined. The file may be gzip-compressed. X_i is element i of the row-major
 * flattened ONNX input, Y_j of the output.
 *
 * Semantics. The asserted formula describes a VIOLATION: the property is `sat` (violated)
 * iff some input satisfying the formula exists. The formula is brought into disjunctive
 * normal form; each disjunct's input constraints must bound every X_i on both sides (a
 * box), and its output constraints form a conjunction of rows. Disjuncts with the same
 * box are grouped, so the result is a list of boxes, each with a disjunction of
 * conjunctions over Y (a disjunct whose box is empty is dropped).
 *
 * Margin rows. Every output constraint is stored as a row
 *         m(y) = sum_k a[k] * y[idx[k]] + b,   the constraint HOLDS iff m(y) <= 0,
 * so it FAILS iff m(y) > 0:  `(<= p q)` gives m = p - q, `(>= p q)` gives m = q - p.
 * Hence, over a box:
 *   - a disjunct is refuted when some row has  lower bound of m > 0  over the box;
 *   - the box is proved (unsat) when every disjunct is refuted (ibp_vnnlib_proved);
 *   - a concrete output y violates the property when for some disjunct every row has
 *     m(y) <= 0 (ibp_vnnlib_violated).
 * ibp_vnnlib_spec writes rows as a matrix C [rows][n_outputs] plus offsets b, matching
 * struct ibp_spec (passes.h): the bound engine bounds C y, the caller adds b (in double).
 * A disjunct with no rows holds everywhere in its box (it can never be refuted). */
#ifndef IBP_VNNLIB_H
#define IBP_VNNLIB_H

#include <stddef.h>

#include "nets/base/status.h"

/* m(y) = a[0] y[idx[0]] + a[1] y[idx[1]] + b over the first n terms (n = 0..2). */
struct ibp_vnnlib_row {
    int n;
    int idx[2];
    double a[2];
    double b;
};

/* A conjunction of rows: holds iff every row has m(y) <= 0. */
struct ibp_vnnlib_disjunct {
    int n_rows;
    struct ibp_vnnlib_row *rows;
};

/* An input box lo <= x <= hi (finite, lo <= hi, doubles exactly as written, rounded to
 * nearest) and the disjunction of output conjunctions that violate the property there. */
struct ibp_vnnlib_box {
    double *lo, *hi; /* [n_inputs] */
    int n_disjuncts;
    struct ibp_vnnlib_disjunct *disjuncts;
};

struct ibp_vnnlib {
    int n_inputs;  /* X_0 .. X_{n_inputs-1} */
    int n_outputs; /* Y_0 .. Y_{n_outputs-1} */
    int n_boxes;   /* 0 only when no input satisfies the constraints (trivially unsat) */
    struct ibp_vnnlib_box *boxes;
};

/* Reads and parses a VNN-LIB file (gzip or not). On failure *out is NULL and err says
 * "file:line: what" (IBP_ERR_IO, IBP_ERR_FORMAT for syntax and undeclared or unbounded
 * variables, IBP_ERR_UNSUPPORTED outside the subset, IBP_ERR_NOMEM). Free the result
 * with ibp_vnnlib_free. */
enum ibp_status ibp_vnnlib_load(const char *path, struct ibp_vnnlib **out,
                                struct ibp_error *err);

/* Parses text[0..len) (need not be NUL-terminated); `name` is used in messages. */
enum ibp_status ibp_vnnlib_parse(const char *text, size_t len, const char *name,
                                 struct ibp_vnnlib **out, struct ibp_error *err);

void ibp_vnnlib_free(struct ibp_vnnlib *p);

/* Rows of box b over all its disjuncts. */
int ibp_vnnlib_box_rows(const struct ibp_vnnlib *p, int b);

/* The rows of box b, disjunct after disjunct: C [rows][n_outputs] (coefficients, exact
 * in float), offset [rows] (b of each row) and, if not NULL, disjunct [rows] (the
 * disjunct index of each row). rows = ibp_vnnlib_box_rows(p, b). */
void ibp_vnnlib_spec(const struct ibp_vnnlib *p, int b, float *C, double *offset,
                     int *disjunct);

/* 1 when lower bounds lb_cy[rows] of (C y) (rows as in ibp_vnnlib_spec) prove box b:
 * every disjunct has a row with lb_cy + offset > 0 (evaluated in double, which only
 * rounds towards the sign of the exact sum, so a positive result is never spurious). */
int ibp_vnnlib_proved(const struct ibp_vnnlib *p, int b, const double *lb_cy);

/* 1 when the output y[n_outputs] satisfies some disjunct of box b (a violation). */
int ibp_vnnlib_violated(const struct ibp_vnnlib *p, int b, const double *y);

/* 1 when x[n_inputs] lies in box b (lo <= x <= hi exactly). */
int ibp_vnnlib_in_box(const struct ibp_vnnlib *p, int b, const double *x);

/* Box b in float32, rounded outward (lo down, hi up), so it contains the exact box. */
void ibp_vnnlib_box_float(const struct ibp_vnnlib *p, int b, float *lo, float *hi);

#endif
