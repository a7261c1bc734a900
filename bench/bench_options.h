/* bench_options.h — the command line of a benchmark program: parse its option table, or
 * print its usage (on --help to stdout, on a bad option with the error to stderr). */
#ifndef IBP_BENCH_OPTIONS_H
#define IBP_BENCH_OPTIONS_H

#include "nets/base/options.h"

/* Parses argv[1..argc) into opts[0..n). Returns -1 when the program should go on, else
 * its exit status: 0 after --help, 2 after a bad option (one line naming it, then the
 * usage). prog names the program in both. */
int bench_parse_options(const char *prog, const struct ibp_opt *opts, int n, int argc,
                        char **argv);

#endif
