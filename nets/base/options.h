/* options.h — table-driven command lines for the programs (ibp-verify, its vnncomp mode,
 * ibp-data): each option is one table entry with its value's type, range, destination
 * and help text, so parsing, range checks, error messages and --help come from one place.
 * (ibp-train's keys also live in config files, so trainer/config.c keeps a table of its
 * own in the same style, on the same number parser.)
 *
 * Syntax: `--name VALUE`, `--name=VALUE`, an alias (`-m VALUE`), flags without a value;
 * `--help` / `-h` anywhere; every other argument that does not start with '-' is
 * positional. Numbers go through nets/base/parse.h. Nothing is printed: errors come back
 * as IBP_ERR_ARG with a one-line message naming the option. */
#ifndef IBP_OPTIONS_H
#define IBP_OPTIONS_H

#include "nets/base/bytes.h"
#include "nets/base/status.h"

enum ibp_opt_kind {
    IBP_OPT_SECTION, /* a heading in --help (only `help` is used) */
    IBP_OPT_FLAG,    /* no value: stores `flag` into the int at dest */
    IBP_OPT_INT,     /* int in [lo, hi] */
    IBP_OPT_INT64,   /* int64_t in [lo, hi] */
    IBP_OPT_U64,     /* uint64_t up to hi (hi = 0: UINT64_MAX) */
    IBP_OPT_DOUBLE,  /* finite double in [lo, hi], or (lo, hi] with lo_open */
    IBP_OPT_STRING,  /* const char * pointing into argv */
    IBP_OPT_CALL,    /* call(dest, name, value): lists, enums, anything else */
};

struct ibp_opt {
    enum ibp_opt_kind kind;
    const char *name;  /* "--batch" */
    const char *alias; /* "-m", or NULL */
    const char *arg;   /* the value's name in --help ("N", "FILE"); NULL for flags */
    void *dest;
    double lo, hi;
    int lo_open;       /* IBP_OPT_DOUBLE: lo itself is out of range */
    int flag;          /* IBP_OPT_FLAG: the value stored */
    enum ibp_status (*call)(void *dest, const char *name, const char *value,
                            struct ibp_error *err);
    const char *help;  /* may contain '\n' for more lines */
    /* The default shown in --help: NULL shows the destination's value at the time
     * ibp_opts_help runs (numbers, strings; "none" for a NULL string), "" shows none
     * (flags, or a help text that says it). */
    const char *def;
};

/* Room for one program's table: programs build theirs into an array of this many
 * entries, with a _Static_assert that the entries fit, so adding an option is one
 * table entry and nothing else. */
#define IBP_OPTS_MAX 64

/* Parses argv[first..argc) against opts[0..n). Positional arguments go to
 * positional[0..max_positional) (count in *n_positional; NULL with max 0 when none are
 * allowed). *help is set to 1 when --help or -h was given (parsing stops there).
 * Errors (IBP_ERR_ARG): unknown option, missing or malformed value, value out of range,
 * too many positional arguments, a value for a flag; or what a call returned. */
enum ibp_status ibp_opts_parse(const struct ibp_opt *opts, int n, int argc, char *const *argv,
                               int first, const char **positional,
                               int max_positional, int *n_positional, int *help,
                               struct ibp_error *err);

/* Appends the options' help to w: one aligned entry per option with its default (on a
 * line of its own when it would run past 80 columns), sections as headings, and last
 * the --help entry itself. */
void ibp_opts_help(const struct ibp_opt *opts, int n, struct ibp_wbuf *w);

/* Room ibp_opts_format_double needs, with its terminating NUL. */
#define IBP_OPTS_DOUBLE_LEN 32

/* Writes x into buf[0..IBP_OPTS_DOUBLE_LEN) as a person writes it: the fewest significant
 * digits that read back (strtod) as exactly x; plain notation from 1e-3 up ("0.001",
 * "0.25", "20", "200000", "1234567"), else an exponent without '+' or leading zeros
 * ("5e-4", "1e-6", and "2.5e7", "1e9" for big numbers that would end in three or more
 * zeros). Non-finite values print as "inf", "-inf", "nan". Used for the defaults --help
 * shows, range messages and configuration files. */
void ibp_opts_format_double(double x, char buf[IBP_OPTS_DOUBLE_LEN]);

#endif
