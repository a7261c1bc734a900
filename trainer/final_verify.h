/* final_verify.h — ibp-train's --final-verify: after the last epoch, the final model
 * (OUT/last.ibpm, the file ibp-verify would read) is certified on the test set by the
 * verifier's complete chain, as `ibp-verify --methods ibp,crown-ibp,crown,alpha-crown,bab`
 * does in its default sound mode: IBP, CROWN-IBP and CROWN bounds, PGD, then α-CROWN and
 * branch and bound on what is still open (skipped, with a note, for a net the domain
 * engine refuses). The Markdown table (clean / attack / verified error) goes to
 * OUT/final_verify.md and the per-sample records to OUT/final_verify.json.
 *
 * Only the ibp-train program links this (it needs verifier/); the training libraries
 * stay independent of the verifier. */
#ifndef IBP_FINAL_VERIFY_H
#define IBP_FINAL_VERIFY_H

#include <stdint.h>

#include "datasets/dataset.h"
#include "nets/base/bytes.h"
#include "nets/base/status.h"
#include "verifier/certify.h"

#define IBP_FINAL_VERIFY_TABLE "final_verify.md"
#define IBP_FINAL_VERIFY_JSON "final_verify.json"

struct ibp_final_verify_options {
    const char *out;        /* the run's folder: model read from it, reports written to it */
    const char *data;       /* the test data's name, for the table */
    double eps;             /* the test eps */
    const char *eps_text;   /* as the user wrote it */
    double bab_timeout_s;   /* branch and bound's time per sample (> 0) */
    int64_t count;          /* the first count test samples, 0 = all */
    int threads;            /* 0 = OpenMP's default */
};

/* Certifies as above. table (appended) receives the Markdown text written to the table
 * file; summary (may be NULL) the counts. Errors: the model file's, the certify
 * driver's, IBP_ERR_ARG (count beyond the test set), IBP_ERR_IO (a report file),
 * IBP_ERR_NOMEM. */
enum ibp_status ibp_final_verify(const struct ibp_final_verify_options *o,
                                 const struct ibp_dataset *test, struct ibp_wbuf *table,
                                 struct ibp_certify_summary *summary, struct ibp_error *err);

#endif
