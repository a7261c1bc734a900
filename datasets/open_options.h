/* open_options.h — the command-line options that fill struct ibp_open_options
 * (--split, --root, --channels, --convert, --shape, --classes, --coarse), as entries for
 * a program's option table (nets/base/options.h), so every program that opens datasets
 * spells, checks and documents them the same way. */
#ifndef IBP_OPEN_OPTIONS_H
#define IBP_OPEN_OPTIONS_H

#include "datasets/open.h"
#include "nets/base/options.h"

#define IBP_OPEN_N_OPTS 7

/* Writes IBP_OPEN_N_OPTS entries to out[] that parse into *o (which must outlive the
 * table; its current split is the default --help shows); returns IBP_OPEN_N_OPTS. */
int ibp_open_options_table(struct ibp_open_options *o, struct ibp_opt *out);

#endif
