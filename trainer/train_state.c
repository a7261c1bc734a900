#include "trainer/train_state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/bytes.h"
#include "nets/base/file_io.h"

#define MAX_STATE_BYTES ((size_t)1 << 36)
#define MAX_CONFIG_TEXT (1u << 20)

static void put_sums(struct ibp_wbuf *w, const struct ibp_epoch_sums *s)
{
    const double d[13] = {s->loss,      s->ce,        s->robust,   s->tight,
                          s->relu,      s->lambda,    s->grad_norm, s->eps,
                          s->eps_first, s->eps_last,  s->lambda_last, s->seconds,
                          s->lr};
    for (int i = 0; i < 13; i++)
        ibp_wbuf_f64(w, d[i]);
    const int64_t c[6] = {s->n, s->batches, s->n_robust, s->n_reg, s->errors, s->ver_errors};
    for (int i = 0; i < 6; i++)
        ibp_wbuf_i64(w, c[i]);
}

static void get_sums(struct ibp_rbuf *r, struct ibp_epoch_sums *s)
{
    double *d[13] = {&s->loss,      &s->ce,       &s->robust,    &s->tight,
                     &s->relu,      &s->lambda,   &s->grad_norm, &s->eps,
                     &s->eps_first, &s->eps_last, &s->lambda_last, &s->seconds,
                     &s->lr};
    for (int i = 0; i < 13; i++)
        *d[i] = ibp_rbuf_f64(r);
    int64_t *c[6] = {&s->n, &s->batches, &s->n_robust, &s->n_reg, &s->errors, &s->ver_errors};
    for (int i = 0; i < 6; i++)
        *c[i] = ibp_rbuf_i64(r);
}

enum ibp_status ibp_train_state_save(const char *path, const char *config_text,
                                     const struct ibp_train_position *pos,
                                     const struct ibp_epoch_sums *sums,
                                     const struct ibp_train_best *best,
                                     const struct ibp_net *net,
                                     const struct ibp_model_meta *meta,
                                     const struct ibp_optim *optim, struct ibp_error *err)
{
    struct ibp_wbuf model = {0}, w = {0};
    enum ibp_status st = ibp_model_encode(net, meta, &model, err);
    if (st != IBP_OK) {
        ibp_wbuf_free(&model);
        return st;
    }
    ibp_wbuf_bytes(&w, IBP_STATE_MAGIC, 8);
    ibp_wbuf_u32(&w, IBP_STATE_VERSION);
    size_t size_at = w.len;
    ibp_wbuf_u64(&w, 0);
    ibp_wbuf_str(&w, config_text);
    ibp_wbuf_i32(&w, pos->epoch);
    ibp_wbuf_i64(&w, pos->batch);
    ibp_wbuf_i64(&w, pos->step);
    put_sums(&w, sums);
    ibp_wbuf_i32(&w, best->epoch);
    ibp_wbuf_f64(&w, best->test_err);
    ibp_wbuf_f64(&w, best->test_ver_err);
    ibp_wbuf_f64(&w, best->val_err);
    ibp_wbuf_f64(&w, best->val_ver_err);
    ibp_wbuf_u64(&w, model.len);
    ibp_wbuf_bytes(&w, model.data, model.len);
    size_t opt_at = w.len;
    ibp_wbuf_u64(&w, 0);
    ibp_optim_state_save(optim, &w);
    if (!w.failed)
        ibp_wbuf_patch_u64(&w, opt_at, w.len - opt_at - 8);
    if (!w.failed)
        ibp_wbuf_patch_u64(&w, size_at, w.len + 4);
    if (!w.failed) {
        ibp_wbuf_u32(&w, ibp_crc32(w.data, w.len));
    }
    if (w.failed)
        st = ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory encoding the training state",
                      path);
    else
        st = ibp_file_write_atomic(path, w.data, w.len, err);
    ibp_wbuf_free(&model);
    ibp_wbuf_free(&w);
    return st;
}

void ibp_train_state_free(struct ibp_train_state *s)
{
    free(s->config_text);
    ibp_net_free(s->net);
    ibp_model_meta_free(&s->meta);
    free(s->optim_blob);
    memset(s, 0, sizeof *s);
}

static int sums_finite(const struct ibp_epoch_sums *s)
{
    const double d[13] = {s->loss,      s->ce,       s->robust,    s->tight,
                          s->relu,      s->lambda,   s->grad_norm, s->eps,
                          s->eps_first, s->eps_last, s->lambda_last, s->seconds,
                          s->lr};
    for (int i = 0; i < 13; i++)
        if (!isfinite(d[i]))
            return 0;
    return s->n >= 0 && s->batches >= 0 && s->n_robust >= 0 && s->n_reg >= 0 &&
           s->errors >= 0 && s->ver_errors >= 0;
}

static enum ibp_status decode(const unsigned char *data, size_t size, const char *path,
                              struct ibp_train_state *out, struct ibp_error *err)
{
    if (size < 8 + 4 + 8 + 4 || memcmp(data, IBP_STATE_MAGIC, 8) != 0)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: not a training-state file (bad magic)", path);
    struct ibp_rbuf r = {data, size, 8, 0};
    uint32_t version = ibp_rbuf_u32(&r);
    if (version != IBP_STATE_VERSION)
        return ibp_fail(err, IBP_ERR_FORMAT,
                        "%s: training-state format version %u, this build reads %u", path,
                        version, IBP_STATE_VERSION);
    uint64_t stated = ibp_rbuf_u64(&r);
    if (stated != size)
        return ibp_fail(err, IBP_ERR_FORMAT,
                        "%s: %s (header says %llu bytes, file has %zu)", path,
                        stated > size ? "truncated" : "has trailing bytes",
                        (unsigned long long)stated, size);
    size_t body = size - 4;
    struct ibp_rbuf tail = {data, size, body, 0};
    if (ibp_crc32(data, body) != ibp_rbuf_u32(&tail))
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: checksum mismatch (file corrupt)", path);
    r.len = body;
    out->config_text = ibp_rbuf_str(&r, MAX_CONFIG_TEXT);
    out->pos.epoch = ibp_rbuf_i32(&r);
    out->pos.batch = ibp_rbuf_i64(&r);
    out->pos.step = ibp_rbuf_i64(&r);
    get_sums(&r, &out->sums);
    out->best.epoch = ibp_rbuf_i32(&r);
    out->best.test_err = ibp_rbuf_f64(&r);
    out->best.test_ver_err = ibp_rbuf_f64(&r);
    out->best.val_err = ibp_rbuf_f64(&r);
    out->best.val_ver_err = ibp_rbuf_f64(&r);
    uint64_t model_size = ibp_rbuf_u64(&r);
    if (r.failed || !out->config_text || model_size > ibp_rbuf_left(&r))
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: malformed header (truncated)", path);
    if (out->pos.epoch < 1 || out->pos.batch < 0 || out->pos.step < 0 ||
        out->best.epoch < 0 || !sums_finite(&out->sums))
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: bad position or sums (file corrupt)", path);
    enum ibp_status st = ibp_model_decode(data + r.pos, (size_t)model_size, path, &out->net,
                                          &out->meta, err);
    if (st != IBP_OK)
        return st;
    r.pos += (size_t)model_size;
    uint64_t opt_size = ibp_rbuf_u64(&r);
    if (r.failed || opt_size != ibp_rbuf_left(&r))
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: malformed optimiser section", path);
    out->optim_blob = malloc(opt_size ? (size_t)opt_size : 1);
    if (!out->optim_blob)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    memcpy(out->optim_blob, data + r.pos, (size_t)opt_size);
    out->optim_size = (size_t)opt_size;
    return IBP_OK;
}

enum ibp_status ibp_train_state_load(const char *path, struct ibp_train_state *out,
                                     struct ibp_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char *data;
    size_t size;
    enum ibp_status st = ibp_file_read_all(path, MAX_STATE_BYTES, &data, &size, err);
    if (st != IBP_OK)
        return st;
    st = decode(data, size, path, out, err);
    free(data);
    if (st != IBP_OK)
        ibp_train_state_free(out);
    return st;
}
