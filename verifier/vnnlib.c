#include "verifier/vnnlib.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/gzread.h"
#include "nets/base/parse.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)
#define MAX_VARS (1 << 24)    /* largest X_i / Y_j index + 1 */
#define MAX_DEPTH 32         /* and/or nesting */
#define MAX_ATOMS ((size_t)1 << 22) /* atoms over all DNF disjuncts */

/* ---- tokens ---- */

enum tok { TOK_END, TOK_OPEN, TOK_CLOSE, TOK_WORD };

struct parser {
    const char *name;
    const char *p, *end;
    int line;
    enum tok tok;
    const char *word;
    size_t word_len;
    int tok_line;
    struct ibp_error *err;
    char *x_declared, *y_declared; /* [cap] */
    int x_cap, y_cap, n_x, n_y;    /* n = highest declared index + 1 */
    size_t atoms;                  /* live atoms, for MAX_ATOMS */
};

static enum ibp_status perr(struct parser *ps, enum ibp_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ibp_status perr(struct parser *ps, enum ibp_status st, const char *fmt, ...)
{
    char msg[IBP_ERROR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ibp_fail(ps->err, st, "%s:%d: %s", ps->name, ps->tok_line, msg);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void next(struct parser *ps)
{
    for (;;) {
        while (ps->p < ps->end && is_space(*ps->p)) {
            if (*ps->p == '\n')
                ps->line++;
            ps->p++;
        }
        if (ps->p < ps->end && *ps->p == ';') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
            continue;
        }
        break;
    }
    ps->tok_line = ps->line;
    if (ps->p >= ps->end) {
        ps->tok = TOK_END;
        return;
    }
    char c = *ps->p;
    if (c == '(' || c == ')') {
        ps->tok = c == '(' ? TOK_OPEN : TOK_CLOSE;
        ps->p++;
        return;
    }
    ps->tok = TOK_WORD;
    ps->word = ps->p;
    while (ps->p < ps->end && !is_space(*ps->p) && *ps->p != '(' && *ps->p != ')' &&
           *ps->p != ';')
        ps->p++;
    ps->word_len = (size_t)(ps->p - ps->word);
}

static int word_is(const struct parser *ps, const char *z)
{
    size_t n = strlen(z);
    return ps->tok == TOK_WORD && ps->word_len == n && memcmp(ps->word, z, n) == 0;
}

/* A printable copy of the current token for messages. */
static const char *tok_text(const struct parser *ps, char *buf, size_t cap)
{
    if (ps->tok == TOK_END)
        return "end of file";
    if (ps->tok != TOK_WORD)
        return ps->tok == TOK_OPEN ? "'('" : "')'";
    size_t n = ps->word_len < cap - 3 ? ps->word_len : cap - 3;
    buf[0] = '\'';
    for (size_t i = 0; i < n; i++)
        buf[i + 1] = (ps->word[i] >= 0x20 && ps->word[i] < 0x7f) ? ps->word[i] : '?';
    buf[n + 1] = '\'';
    buf[n + 2] = '\0';
    return buf;
}

static enum ibp_status expect(struct parser *ps, enum tok t, const char *what)
{
    char buf[48];
    if (ps->tok != t)
        return perr(ps, IBP_ERR_FORMAT, "expected %s, found %s", what,
                    tok_text(ps, buf, sizeof buf));
    next(ps);
    return IBP_OK;
}

/* A VNN-LIB number: [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?, finite, at most 1000
 * characters. This is exactly the decimal syntax the project's number parser accepts
 * (an underflowing value reads as its rounded result); the word is not NUL-terminated,
 * so it is copied first. */
static int parse_number(const char *s, size_t n, double *out)
{
    char buf[1001];
    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return ibp_parse_double(buf, "VNN-LIB", out, NULL) == IBP_OK;
}

/* X_i / Y_j with i a decimal without leading zeros: 'X' or 'Y' and *idx, else 0. */
static char parse_var(const char *s, size_t n, long *idx)
{
    char digits[10]; /* MAX_VARS - 1 has 8 */
    if (n < 3 || n - 2 >= sizeof digits || (s[0] != 'X' && s[0] != 'Y') || s[1] != '_' ||
        s[2] < '0' || s[2] > '9' || (s[2] == '0' && n > 3))
        return 0;
    memcpy(digits, s + 2, n - 2);
    digits[n - 2] = '\0';
    if (ibp_parse_int(digits, "VNN-LIB", 0, MAX_VARS - 1, idx, NULL) != IBP_OK)
        return 0;
    return s[0];
}

/* ---- DNF of atoms ---- */

/* sum_k a[k] * var[k] + b <= 0 with var = (is_y, index). */
struct atom {
    int n;
    char var[2]; /* 'X' or 'Y' */
    int idx[2];
    double a[2];
    double b;
    int line;
};

struct term {
    int n, cap;
    struct atom *atoms;
};

struct dnf {
    int n;
    struct term *terms;
};

static void dnf_free(struct parser *ps, struct dnf *d)
{
    for (int i = 0; i < d->n; i++) {
        ps->atoms -= (size_t)d->terms[i].n;
        free(d->terms[i].atoms);
    }
    free(d->terms);
    d->terms = NULL;
    d->n = 0;
}

static enum ibp_status term_append(struct parser *ps, struct term *t, const struct atom *a,
                                   int n)
{
    if (n == 0)
        return IBP_OK;
    if (ps->atoms + (size_t)n > MAX_ATOMS)
        return perr(ps, IBP_ERR_UNSUPPORTED, "formula too large in disjunctive normal form");
    if (t->n + n > t->cap) {
        int cap = t->cap ? t->cap : 8;
        while (cap < t->n + n)
            cap *= 2;
        struct atom *p = realloc(t->atoms, (size_t)cap * sizeof *p);
        if (!p)
            return perr(ps, IBP_ERR_NOMEM, "out of memory");
        t->atoms = p;
        t->cap = cap;
    }
    memcpy(t->atoms + t->n, a, (size_t)n * sizeof *a);
    t->n += n;
    ps->atoms += (size_t)n;
    return IBP_OK;
}

/* *a = a AND b (b is freed). */
static enum ibp_status dnf_and(struct parser *ps, struct dnf *a, struct dnf *b)
{
    enum ibp_status st = IBP_OK;
    if (b->n == 1) { /* the common case: append to every disjunct in place */
        for (int i = 0; i < a->n && st == IBP_OK; i++)
            st = term_append(ps, &a->terms[i], b->terms[0].atoms, b->terms[0].n);
        dnf_free(ps, b);
        return st;
    }
    if (a->n != 0 && b->n > (1 << 20) / a->n) {
        dnf_free(ps, b);
        return perr(ps, IBP_ERR_UNSUPPORTED, "too many disjuncts");
    }
    struct dnf r = {0, NULL};
    r.terms = calloc((size_t)a->n * (size_t)b->n + 1, sizeof *r.terms);
    if (!r.terms) {
        dnf_free(ps, b);
        return perr(ps, IBP_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < a->n && st == IBP_OK; i++)
        for (int j = 0; j < b->n && st == IBP_OK; j++) {
            struct term *t = &r.terms[r.n++];
            st = term_append(ps, t, a->terms[i].atoms, a->terms[i].n);
            if (st == IBP_OK)
                st = term_append(ps, t, b->terms[j].atoms, b->terms[j].n);
        }
    dnf_free(ps, a);
    dnf_free(ps, b);
    if (st != IBP_OK) {
        dnf_free(ps, &r);
        return st;
    }
    *a = r;
    return IBP_OK;
}

/* *a = a OR b (b is freed). */
static enum ibp_status dnf_or(struct parser *ps, struct dnf *a, struct dnf *b)
{
    if (a->n > (1 << 20) - b->n) {
        dnf_free(ps, b);
        return perr(ps, IBP_ERR_UNSUPPORTED, "too many disjuncts");
    }
    struct term *t = realloc(a->terms, ((size_t)a->n + (size_t)b->n + 1) * sizeof *t);
    if (!t) {
        dnf_free(ps, b);
        return perr(ps, IBP_ERR_NOMEM, "out of memory");
    }
    memcpy(t + a->n, b->terms, (size_t)b->n * sizeof *t);
    a->terms = t;
    a->n += b->n;
    free(b->terms);
    b->terms = NULL;
    b->n = 0;
    return IBP_OK;
}

/* One operand of a comparison: a declared variable (coef 1) or a number. */
static enum ibp_status operand(struct parser *ps, struct atom *at, double sign)
{
    char buf[48];
    if (ps->tok != TOK_WORD)
        return perr(ps, IBP_ERR_UNSUPPORTED, "expected a variable or number, found %s",
                    tok_text(ps, buf, sizeof buf));
    double v;
    long idx;
    char var = parse_var(ps->word, ps->word_len, &idx);
    if (var) {
        const char *decl = var == 'X' ? ps->x_declared : ps->y_declared;
        int cap = var == 'X' ? ps->x_cap : ps->y_cap;
        if (idx >= cap || !decl[idx])
            return perr(ps, IBP_ERR_FORMAT, "%s is not declared", tok_text(ps, buf, sizeof buf));
        at->var[at->n] = var;
        at->idx[at->n] = (int)idx;
        at->a[at->n] = sign;
        at->n++;
    } else if (parse_number(ps->word, ps->word_len, &v)) {
        at->b += sign * v;
    } else {
        return perr(ps, IBP_ERR_FORMAT, "%s is neither a declared variable nor a number",
                    tok_text(ps, buf, sizeof buf));
    }
    next(ps);
    return IBP_OK;
}

static enum ibp_status formula(struct parser *ps, int depth, struct dnf *out)
{
    char buf[48];
    enum ibp_status st;
    out->n = 0;
    out->terms = NULL;
    if (depth > MAX_DEPTH)
        return perr(ps, IBP_ERR_UNSUPPORTED, "formula nested deeper than %d", MAX_DEPTH);
    if ((st = expect(ps, TOK_OPEN, "'('")) != IBP_OK)
        return st;
    if (word_is(ps, "and") || word_is(ps, "or")) {
        int is_and = word_is(ps, "and");
        next(ps);
        out->terms = calloc(1, sizeof *out->terms);
        if (!out->terms)
            return perr(ps, IBP_ERR_NOMEM, "out of memory");
        out->n = is_and; /* and(): one empty disjunct (true); or(): none (false) */
        while (ps->tok == TOK_OPEN) {
            struct dnf sub;
            st = formula(ps, depth + 1, &sub);
            if (st == IBP_OK)
                st = is_and ? dnf_and(ps, out, &sub) : dnf_or(ps, out, &sub);
            else
                dnf_free(ps, &sub);
            if (st != IBP_OK) {
                dnf_free(ps, out);
                return st;
            }
        }
        if ((st = expect(ps, TOK_CLOSE, "')' or '('")) != IBP_OK)
            dnf_free(ps, out);
        return st;
    }
    int le = word_is(ps, "<="), ge = word_is(ps, ">=");
    if (!le && !ge)
        return perr(ps, IBP_ERR_UNSUPPORTED, "expected and, or, <= or >=, found %s",
                    tok_text(ps, buf, sizeof buf));
    struct atom at;
    memset(&at, 0, sizeof at);
    at.line = ps->tok_line;
    next(ps);
    /* (<= p q): p - q <= 0; (>= p q): q - p <= 0 */
    if ((st = operand(ps, &at, le ? 1.0 : -1.0)) != IBP_OK ||
        (st = operand(ps, &at, le ? -1.0 : 1.0)) != IBP_OK ||
        (st = expect(ps, TOK_CLOSE, "')' after two operands")) != IBP_OK)
        return st;
    if (at.n == 2 && at.var[0] != at.var[1])
        return ibp_fail(ps->err, IBP_ERR_UNSUPPORTED,
                        "%s:%d: comparison between an input and an output variable", ps->name,
                        at.line);
    if (at.n == 2 && at.var[0] == 'X')
        return ibp_fail(ps->err, IBP_ERR_UNSUPPORTED,
                        "%s:%d: comparison between two input variables (not a box)", ps->name,
                        at.line);
    if (at.n == 2 && at.idx[0] == at.idx[1]) /* Y_i - Y_i */
        at.n = 0;
    out->terms = calloc(1, sizeof *out->terms);
    if (!out->terms)
        return perr(ps, IBP_ERR_NOMEM, "out of memory");
    out->n = 1;
    if ((st = term_append(ps, &out->terms[0], &at, 1)) != IBP_OK)
        dnf_free(ps, out);
    return st;
}

static enum ibp_status declare(struct parser *ps)
{
    char buf[48];
    long idx;
    char var = ps->tok == TOK_WORD ? parse_var(ps->word, ps->word_len, &idx) : 0;
    if (!var)
        return perr(ps, IBP_ERR_UNSUPPORTED, "declared name %s is not X_<i> or Y_<j>",
                    tok_text(ps, buf, sizeof buf));
    char **decl = var == 'X' ? &ps->x_declared : &ps->y_declared;
    int *cap = var == 'X' ? &ps->x_cap : &ps->y_cap, *n = var == 'X' ? &ps->n_x : &ps->n_y;
    if (idx >= *cap) {
        long c = *cap ? *cap : 64;
        while (c <= idx)
            c *= 2;
        char *p = realloc(*decl, (size_t)c);
        if (!p)
            return perr(ps, IBP_ERR_NOMEM, "out of memory");
        memset(p + *cap, 0, (size_t)(c - *cap));
        *decl = p;
        *cap = (int)c;
    }
    if ((*decl)[idx])
        return perr(ps, IBP_ERR_FORMAT, "%s declared twice", tok_text(ps, buf, sizeof buf));
    (*decl)[idx] = 1;
    if (idx + 1 > *n)
        *n = (int)idx + 1;
    next(ps);
    if (!word_is(ps, "Real"))
        return perr(ps, IBP_ERR_UNSUPPORTED, "type %s (only Real)", tok_text(ps, buf, sizeof buf));
    next(ps);
    return expect(ps, TOK_CLOSE, "')'");
}

/* ---- from DNF to boxes ---- */

static void free_box(struct ibp_vnnlib_box *b)
{
    free(b->lo);
    free(b->hi);
    for (int i = 0; i < b->n_disjuncts; i++)
        free(b->disjuncts[i].rows);
    free(b->disjuncts);
}

void ibp_vnnlib_free(struct ibp_vnnlib *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_boxes; i++)
        free_box(&p->boxes[i]);
    free(p->boxes);
    free(p);
}

/* Adds disjunct t to the result: its box (grouping equal boxes) and its output rows. */
static enum ibp_status add_term(struct parser *ps, struct ibp_vnnlib *res, const struct term *t,
                                int index, double *lo, double *hi)
{
    int n = res->n_inputs, n_rows = 0;
    for (int i = 0; i < n; i++) {
        lo[i] = -INFINITY;
        hi[i] = INFINITY;
    }
    for (int k = 0; k < t->n; k++) {
        const struct atom *a = &t->atoms[k];
        if (a->n == 0) {
            if (!(a->b <= 0))
                return IBP_OK; /* a false constant comparison: the disjunct is empty */
        } else if (a->var[0] == 'X') {
            /* a x + b <= 0 with a = +-1 */
            if (a->a[0] > 0)
                hi[a->idx[0]] = fmin(hi[a->idx[0]], -a->b);
            else
                lo[a->idx[0]] = fmax(lo[a->idx[0]], a->b);
        } else {
            n_rows++;
        }
    }
    for (int i = 0; i < n; i++) {
        if (isinf(lo[i]) || isinf(hi[i]))
            return ibp_fail(ps->err, IBP_ERR_FORMAT, "%s: X_%d has no %s bound%s", ps->name, i,
                            isinf(lo[i]) ? "lower" : "upper",
                            index ? " in one of the disjuncts" : "");
        if (lo[i] > hi[i])
            return IBP_OK; /* empty box */
    }
    int b;
    for (b = 0; b < res->n_boxes; b++) {
        const struct ibp_vnnlib_box *bx = &res->boxes[b];
        int same = 1;
        for (int i = 0; i < n && same; i++)
            same = bx->lo[i] == lo[i] && bx->hi[i] == hi[i];
        if (same)
            break;
    }
    if (b == res->n_boxes) {
        struct ibp_vnnlib_box *p = realloc(res->boxes, ((size_t)b + 1) * sizeof *p);
        if (!p)
            return perr(ps, IBP_ERR_NOMEM, "out of memory");
        res->boxes = p;
        memset(&p[b], 0, sizeof p[b]);
        res->n_boxes++;
        p[b].lo = malloc((size_t)(n ? n : 1) * sizeof *lo);
        p[b].hi = malloc((size_t)(n ? n : 1) * sizeof *hi);
        if (!p[b].lo || !p[b].hi)
            return perr(ps, IBP_ERR_NOMEM, "out of memory");
        memcpy(p[b].lo, lo, (size_t)n * sizeof *lo);
        memcpy(p[b].hi, hi, (size_t)n * sizeof *hi);
    }
    struct ibp_vnnlib_box *bx = &res->boxes[b];
    struct ibp_vnnlib_disjunct *d =
        realloc(bx->disjuncts, ((size_t)bx->n_disjuncts + 1) * sizeof *d);
    if (!d)
        return perr(ps, IBP_ERR_NOMEM, "out of memory");
    bx->disjuncts = d;
    d = &d[bx->n_disjuncts++];
    d->n_rows = 0;
    d->rows = malloc((size_t)(n_rows ? n_rows : 1) * sizeof *d->rows);
    if (!d->rows)
        return perr(ps, IBP_ERR_NOMEM, "out of memory");
    for (int k = 0; k < t->n; k++) {
        const struct atom *a = &t->atoms[k];
        if (a->n == 0 || a->var[0] != 'Y')
            continue;
        struct ibp_vnnlib_row *r = &d->rows[d->n_rows++];
        r->n = a->n;
        r->b = a->b;
        for (int j = 0; j < 2; j++) {
            r->idx[j] = j < a->n ? a->idx[j] : 0;
            r->a[j] = j < a->n ? a->a[j] : 0.0;
        }
    }
    return IBP_OK;
}

static enum ibp_status parse(struct parser *ps, struct ibp_vnnlib **out)
{
    enum ibp_status st = IBP_OK;
    struct dnf all = {0, NULL};
    all.terms = calloc(1, sizeof *all.terms);
    if (!all.terms)
        return perr(ps, IBP_ERR_NOMEM, "out of memory");
    all.n = 1; /* true */
    char buf[48];
    next(ps);
    while (st == IBP_OK && ps->tok != TOK_END) {
        if ((st = expect(ps, TOK_OPEN, "'('")) != IBP_OK)
            break;
        if (word_is(ps, "declare-const")) {
            next(ps);
            st = declare(ps);
        } else if (word_is(ps, "assert")) {
            next(ps);
            struct dnf f;
            st = formula(ps, 0, &f);
            if (st == IBP_OK)
                st = dnf_and(ps, &all, &f);
            if (st == IBP_OK)
                st = expect(ps, TOK_CLOSE, "')' closing the assert");
        } else {
            st = perr(ps, IBP_ERR_UNSUPPORTED, "command %s (declare-const and assert only)",
                      tok_text(ps, buf, sizeof buf));
        }
    }
    if (st == IBP_OK && (ps->n_x == 0 || ps->n_y == 0))
        st = ibp_fail(ps->err, IBP_ERR_FORMAT, "%s: no %s variables declared", ps->name,
                      ps->n_x ? "output (Y_j)" : "input (X_i)");
    for (int i = 0; st == IBP_OK && i < ps->n_x; i++)
        if (!ps->x_declared[i])
            st = ibp_fail(ps->err, IBP_ERR_FORMAT, "%s: X_%d is not declared (X_%d is)",
                          ps->name, i, ps->n_x - 1);
    for (int i = 0; st == IBP_OK && i < ps->n_y; i++)
        if (!ps->y_declared[i])
            st = ibp_fail(ps->err, IBP_ERR_FORMAT, "%s: Y_%d is not declared (Y_%d is)",
                          ps->name, i, ps->n_y - 1);
    struct ibp_vnnlib *res = NULL;
    double *lo = NULL, *hi = NULL;
    if (st == IBP_OK) {
        res = calloc(1, sizeof *res);
        lo = malloc((size_t)ps->n_x * sizeof *lo);
        hi = malloc((size_t)ps->n_x * sizeof *hi);
        if (!res || !lo || !hi)
            st = perr(ps, IBP_ERR_NOMEM, "out of memory");
    }
    if (st == IBP_OK) {
        res->n_inputs = ps->n_x;
        res->n_outputs = ps->n_y;
        for (int i = 0; st == IBP_OK && i < all.n; i++)
            st = add_term(ps, res, &all.terms[i], all.n > 1 ? i + 1 : 0, lo, hi);
    }
    free(lo);
    free(hi);
    dnf_free(ps, &all);
    if (st != IBP_OK) {
        ibp_vnnlib_free(res);
        return st;
    }
    *out = res;
    return IBP_OK;
}

enum ibp_status ibp_vnnlib_parse(const char *text, size_t len, const char *name,
                                 struct ibp_vnnlib **out, struct ibp_error *err)
{
    *out = NULL;
    struct parser ps;
    memset(&ps, 0, sizeof ps);
    ps.name = name;
    ps.p = text;
    ps.end = text + len;
    ps.line = 1;
    ps.err = err;
    enum ibp_status st = parse(&ps, out);
    free(ps.x_declared);
    free(ps.y_declared);
    return st;
}

enum ibp_status ibp_vnnlib_load(const char *path, struct ibp_vnnlib **out,
                                struct ibp_error *err)
{
    *out = NULL;
    unsigned char *text;
    size_t size;
    enum ibp_status st = ibp_gz_read_file(path, MAX_FILE_BYTES, &text, &size, err);
    if (st != IBP_OK)
        return st;
    st = ibp_vnnlib_parse((const char *)text, size, path, out, err);
    free(text);
    return st;
}

/* ---- using the result ---- */

int ibp_vnnlib_box_rows(const struct ibp_vnnlib *p, int b)
{
    int n = 0;
    for (int d = 0; d < p->boxes[b].n_disjuncts; d++)
        n += p->boxes[b].disjuncts[d].n_rows;
    return n;
}

void ibp_vnnlib_spec(const struct ibp_vnnlib *p, int b, float *C, double *offset,
                     int *disjunct)
{
    const struct ibp_vnnlib_box *bx = &p->boxes[b];
    size_t row = 0, ny = (size_t)p->n_outputs;
    for (int d = 0; d < bx->n_disjuncts; d++)
        for (int r = 0; r < bx->disjuncts[d].n_rows; r++, row++) {
            const struct ibp_vnnlib_row *rw = &bx->disjuncts[d].rows[r];
            float *c = C + row * ny;
            for (size_t j = 0; j < ny; j++)
                c[j] = 0.0f;
            for (int k = 0; k < rw->n; k++)
                c[rw->idx[k]] += (float)rw->a[k];
            offset[row] = rw->b;
            if (disjunct)
                disjunct[row] = d;
        }
}

int ibp_vnnlib_proved(const struct ibp_vnnlib *p, int b, const double *lb_cy)
{
    const struct ibp_vnnlib_box *bx = &p->boxes[b];
    size_t row = 0;
    for (int d = 0; d < bx->n_disjuncts; d++) {
        int refuted = 0;
        for (int r = 0; r < bx->disjuncts[d].n_rows; r++, row++)
            if (lb_cy[row] + bx->disjuncts[d].rows[r].b > 0)
                refuted = 1;
        if (!refuted)
            return 0;
    }
    return 1;
}

int ibp_vnnlib_violated(const struct ibp_vnnlib *p, int b, const double *y)
{
    const struct ibp_vnnlib_box *bx = &p->boxes[b];
    for (int d = 0; d < bx->n_disjuncts; d++) {
        int holds = 1;
        for (int r = 0; r < bx->disjuncts[d].n_rows && holds; r++) {
            const struct ibp_vnnlib_row *rw = &bx->disjuncts[d].rows[r];
            double m = rw->b;
            for (int k = 0; k < rw->n; k++)
                m += rw->a[k] * y[rw->idx[k]];
            holds = m <= 0;
        }
        if (holds)
            return 1;
    }
    return 0;
}

int ibp_vnnlib_in_box(const struct ibp_vnnlib *p, int b, const double *x)
{
    for (int i = 0; i < p->n_inputs; i++)
        if (!(x[i] >= p->boxes[b].lo[i] && x[i] <= p->boxes[b].hi[i]))
            return 0;
    return 1;
}

void ibp_vnnlib_box_float(const struct ibp_vnnlib *p, int b, float *lo, float *hi)
{
    for (int i = 0; i < p->n_inputs; i++) {
        double l = p->boxes[b].lo[i], h = p->boxes[b].hi[i];
        float fl = (float)l, fh = (float)h;
        if ((double)fl > l)
            fl = nextafterf(fl, -INFINITY);
        if ((double)fh < h)
            fh = nextafterf(fh, INFINITY);
        lo[i] = fl;
        hi[i] = fh;
    }
}
