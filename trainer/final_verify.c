#include "trainer/final_verify.h"

#include <stdio.h>
#include <stdlib.h>

#include "nets/base/file_io.h"
#include "nets/formats/model_file.h"
#include "trainer/train.h"
#include "verifier/report.h"

enum ibp_status ibp_final_verify(const struct ibp_final_verify_options *o,
                                 const struct ibp_dataset *test, struct ibp_wbuf *table,
                                 struct ibp_certify_summary *summary, struct ibp_error *err)
{
    char model_path[1200], md_path[1200], json_path[1200];
    snprintf(model_path, sizeof model_path, "%s/%s", o->out, IBP_TRAIN_LAST);
    snprintf(md_path, sizeof md_path, "%s/%s", o->out, IBP_FINAL_VERIFY_TABLE);
    snprintf(json_path, sizeof json_path, "%s/%s", o->out, IBP_FINAL_VERIFY_JSON);
    if (o->count < 0 || o->count > test->n)
        return ibp_fail(err, IBP_ERR_ARG, "final_count: %lld samples, the test set has %lld",
                        (long long)o->count, (long long)test->n);
    struct ibp_net *net = NULL;
    struct ibp_model_meta meta = {0};
    struct ibp_dataset *part = NULL;
    struct ibp_certify_sample *samples = NULL;
    struct ibp_wbuf md = {0}, js = {0};
    enum ibp_status st = ibp_model_load(model_path, &net, &meta, err);
    const struct ibp_dataset *ds = test;
    if (st == IBP_OK && o->count > 0 && o->count < test->n) {
        st = ibp_dataset_range(test, 0, o->count, &part, err);
        ds = part;
    }
    if (st == IBP_OK) {
        samples = calloc((size_t)ds->n, sizeof *samples);
        if (!samples)
            st = ibp_fail(err, IBP_ERR_NOMEM, "final verification: out of memory");
    }
    struct ibp_certify_config cfg;
    ibp_certify_config_default(&cfg);
    cfg.eps = o->eps;
    cfg.methods[0] = IBP_BOUND_IBP;
    cfg.methods[1] = IBP_BOUND_CROWN_IBP;
    cfg.methods[2] = IBP_BOUND_CROWN;
    cfg.n_methods = 3;
    cfg.threads = o->threads;
    cfg.alpha_crown = 1;
    cfg.bab = 1;
    cfg.bab_cfg.timeout_s = o->bab_timeout_s;
    struct ibp_report_run run = {model_path, o->eps, o->eps_text, {0}, samples};
    if (st == IBP_OK)
        st = ibp_certify_run(net, ds, &cfg, NULL, samples, &run.summary, err);
    if (st == IBP_OK) {
        struct ibp_report rep = {o->data, 0, &cfg, cfg.threads, 1, &run};
        ibp_report_markdown(&rep, &md);
        ibp_report_json(&rep, &js);
        if (run.summary.note[0])
            ibp_wbuf_printf(&md, "\nNote: %s\n", run.summary.note);
        if (md.failed || js.failed)
            st = ibp_fail(err, IBP_ERR_NOMEM, "final verification: out of memory for the "
                          "report");
    }
    if (st == IBP_OK)
        st = ibp_file_write_atomic(md_path, md.data, md.len, err);
    if (st == IBP_OK)
        st = ibp_file_write_atomic(json_path, js.data, js.len, err);
    if (st == IBP_OK) {
        ibp_wbuf_bytes(table, md.data, md.len);
        if (summary)
            *summary = run.summary;
    }
    ibp_wbuf_free(&md);
    ibp_wbuf_free(&js);
    free(samples);
    ibp_dataset_free(part);
    ibp_model_meta_free(&meta);
    ibp_net_free(net);
    return st;
}
