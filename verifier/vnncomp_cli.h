/* vnncomp_cli.h — the `ibp-verify vnncomp` command (VNN-COMP mode and batch runs).
 *
 *   ibp-verify vnncomp [options] ONNX VNNLIB [RESULT_FILE]
 *   ibp-verify vnncomp --instances DIR/instances.csv [--verdicts CSV] [options]
 *
 * The single mode answers one property (vnncomp.h), writes the result file (or the
 * answer and counterexample to stdout) and exits 0 for any answer; errors give a
 * one-line message on stderr and exit 1 (2 for bad usage). The batch mode runs every
 * row of an instances.csv, checks each answer against the verdicts and each
 * counterexample by re-reading it, prints one line per instance and a summary, and
 * exits 1 when some answer was wrong or failed. `--help` lists every option. */
#ifndef IBP_VNNCOMP_CLI_H
#define IBP_VNNCOMP_CLI_H

/* argv[0] is the command name ("vnncomp"); the options follow. Prints; returns the
 * process exit status. */
int ibp_verify_vnncomp_main(int argc, char **argv);

#endif
