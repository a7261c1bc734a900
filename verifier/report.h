/* report.h — the verifier's reports: a Markdown summary table, and JSON and CSV files with
 * one record per sample.
 *
 * A report is a list of runs, one per (model, ε), all over the same data with the same
 * methods, mode and attack. Writers append text to a memory buffer (nets/base/bytes.h); the
 * program prints it or writes it atomically (nets/base/file_io.h). Errors are given as
 * percentages of the samples in Markdown and as fractions in JSON:
 *   clean error     the label does not strictly win at the clean point;
 *   attack error    a concrete counterexample was found (clean errors included): a lower
 *                   bound of the robust error;
 *   verified error  not certified (by one method, or by the best of them): an upper
 *                   bound of the robust error.
 * Numbers that were not computed (NaN) are empty in CSV and null in JSON. */
#ifndef IBP_VERIFIER_REPORT_H
#define IBP_VERIFIER_REPORT_H

#include "nets/base/bytes.h"
#include "verifier/certify.h"

struct ibp_report_run {
    const char *model;                          /* model name as given (path) */
    double eps;
    const char *eps_text;                       /* ε as the user wrote it ("8/255") */
    struct ibp_certify_summary summary;
    const struct ibp_certify_sample *samples;   /* [summary.n] */
};

struct ibp_report {
    const char *data;              /* the data as given */
    int64_t first_index;           /* dataset index of sample 0 (--start) */
    const struct ibp_certify_config *cfg; /* methods, mode, attack (its ε is unused) */
    int threads;                   /* threads used (reported, never affects results) */
    int n_runs;
    const struct ibp_report_run *runs;
};

/* A Markdown table, one row per run, preceded by a line naming the data, the mode
 * (floating-point sound or float) and the attack. */
void ibp_report_markdown(const struct ibp_report *r, struct ibp_wbuf *out);

/* A JSON document: the settings, then per run the counts and "records", one per sample:
 * index, label, prediction, lb_min per method, attack_margin, status. */
void ibp_report_json(const struct ibp_report *r, struct ibp_wbuf *out);

/* CSV, one line per (run, sample): model,eps,index,label,prediction,lb_<method>...,
 * attack_margin,status. */
void ibp_report_csv(const struct ibp_report *r, struct ibp_wbuf *out);

#endif
