#include "trainer/evaluate.h"

#include <math.h>
#include <stdlib.h>

#include "datasets/batch.h"
#include "datasets/box.h"
#include "nets/bounds/crown_ibp.h"
#include "nets/passes/passes.h"
#include "trainer/loss.h"

struct ibp_evaluator {
    int max_batch;
    struct ibp_workspace *ws;
    struct ibp_batcher *batcher; /* made per call: it borrows the dataset */
    float *x, *lo, *hi;          /* [max_batch][input] pixel space */
    int32_t *labels;             /* [max_batch] */
    float *logits;               /* [max_batch][outputs] */
    float *lb;                   /* [max_batch][outputs - 1] */
    struct ibp_crown_ibp *crown; /* NULL: IBP only */
    float *lb_crown;             /* [max_batch][outputs - 1], with crown */
    float zero[IBP_DATASET_MAX_CHANNELS], one[IBP_DATASET_MAX_CHANNELS];
};

double ibp_eval_clean_error(const struct ibp_eval_result *r)
{
    return r->n > 0 ? 100.0 * (double)r->errors / (double)r->n : 0.0;
}

double ibp_eval_verified_error(const struct ibp_eval_result *r)
{
    return r->n > 0 ? 100.0 * (double)(r->n - r->verified) / (double)r->n : 0.0;
}

enum ibp_status ibp_evaluator_create(const struct ibp_net *net, int max_batch, int crown_ibp,
                                     struct ibp_evaluator **out, struct ibp_error *err)
{
    *out = NULL;
    if (max_batch < 1)
        return ibp_fail(err, IBP_ERR_ARG, "evaluation batch %d must be at least 1", max_batch);
    int outputs = ibp_net_outputs(net);
    size_t in = ibp_shape_size(net->input);
    struct ibp_evaluator *ev = calloc(1, sizeof *ev);
    if (!ev)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the evaluator");
    ev->max_batch = max_batch;
    size_t nb = (size_t)max_batch;
    ev->x = malloc(nb * in * sizeof *ev->x);
    ev->lo = malloc(nb * in * sizeof *ev->lo);
    ev->hi = malloc(nb * in * sizeof *ev->hi);
    ev->labels = malloc(nb * sizeof *ev->labels);
    ev->logits = malloc(nb * (size_t)outputs * sizeof *ev->logits);
    ev->lb = malloc(nb * (size_t)(outputs > 1 ? outputs - 1 : 1) * sizeof *ev->lb);
    for (int c = 0; c < IBP_DATASET_MAX_CHANNELS; c++)
        ev->one[c] = 1.0f;
    if (!ev->x || !ev->lo || !ev->hi || !ev->labels || !ev->logits || !ev->lb) {
        ibp_evaluator_free(ev);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the evaluator");
    }
    /* CROWN-IBP runs its backward linear pass on the workspace's gradient buffers */
    enum ibp_status st = ibp_ws_create(net, max_batch,
                                       IBP_WS_CLEAN | IBP_WS_BOUNDS | (crown_ibp ? IBP_WS_GRAD : 0),
                                       &ev->ws, err);
    if (st == IBP_OK && crown_ibp && outputs > 1) {
        st = ibp_crown_ibp_create(net, max_batch, &ev->crown, err);
        ev->lb_crown = malloc(nb * (size_t)(outputs - 1) * sizeof *ev->lb_crown);
        if (st == IBP_OK && !ev->lb_crown)
            st = ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the evaluator");
    }
    if (st != IBP_OK) {
        ibp_evaluator_free(ev);
        return st;
    }
    *out = ev;
    return IBP_OK;
}

void ibp_evaluator_free(struct ibp_evaluator *ev)
{
    if (!ev)
        return;
    ibp_ws_free(ev->ws);
    ibp_crown_ibp_free(ev->crown);
    free(ev->lb_crown);
    free(ev->x);
    free(ev->lo);
    free(ev->hi);
    free(ev->labels);
    free(ev->logits);
    free(ev->lb);
    free(ev);
}

void ibp_evaluator_set_threads(struct ibp_evaluator *ev, int threads)
{
    ibp_ws_set_threads(ev->ws, threads);
}

static enum ibp_status check_data(const struct ibp_net *net, const struct ibp_dataset *ds,
                                  double eps, struct ibp_error *err)
{
    if (!(eps >= 0.0 && eps <= 1.0))
        return ibp_fail(err, IBP_ERR_ARG, "eps %g must be in [0, 1]", eps);
    if (ds->c != net->input.c || ds->h != net->input.h || ds->w != net->input.w)
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "dataset images are %dx%dx%d but the model takes %dx%dx%d", ds->c,
                        ds->h, ds->w, net->input.c, net->input.h, net->input.w);
    int outputs = ibp_net_outputs(net);
    for (int64_t i = 0; i < ds->n; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= outputs)
            return ibp_fail(err, IBP_ERR_SHAPE,
                            "sample %lld has label %d but the model has %d classes",
                            (long long)i, (int)ds->labels[i], outputs);
    return IBP_OK;
}

enum ibp_status ibp_evaluate(const struct ibp_net *net, struct ibp_evaluator *ev,
                             const struct ibp_dataset *ds, double eps,
                             struct ibp_eval_result *out, struct ibp_error *err)
{
    out->n = out->errors = out->verified = 0;
    enum ibp_status st = check_data(net, ds, eps, err);
    if (st != IBP_OK)
        return st;
    struct ibp_batch_options opt = {.batch_size = ev->max_batch};
    struct ibp_batcher *b = NULL;
    st = ibp_batcher_create(ds, &opt, &b, err);
    if (st != IBP_OK)
        return st;
    int outputs = ibp_net_outputs(net);
    int rows = outputs - 1;
    int64_t plane = (int64_t)ds->h * ds->w;
    int64_t n;
    while (st == IBP_OK && (n = ibp_batcher_next(b, ev->x, ev->labels)) > 0) {
        int batch = (int)n;
        st = ibp_box_compute(ev->x, n, ds->c, plane, eps, ev->zero, ev->one, NULL, ev->lo,
                             ev->hi, err);
        if (st == IBP_OK)
            st = ibp_pass_clean(net, ev->ws, ev->x, batch, IBP_BN_EVAL, ev->logits, err);
        struct ibp_spec spec = {.labels = ev->labels};
        if (st == IBP_OK && rows > 0)
            st = ibp_pass_bounds(net, ev->ws, ev->lo, ev->hi, batch, &spec, IBP_BN_EVAL,
                                 ev->lb, NULL, err);
        if (st == IBP_OK && ev->crown && rows > 0) {
            st = ibp_crown_ibp_bounds(ev->crown, net, ev->ws, ev->lb_crown, err);
            for (size_t i = 0; st == IBP_OK && i < (size_t)batch * (size_t)rows; i++)
                ev->lb[i] = fmaxf(ev->lb[i], ev->lb_crown[i]);
        }
        if (st != IBP_OK)
            break;
        for (int i = 0; i < batch; i++) {
            int wrong = ibp_count_errors(ev->logits + (size_t)i * outputs, ev->labels + i, 1,
                                         outputs);
            out->errors += wrong;
            if (!wrong && ibp_count_verified(ev->lb + (size_t)i * rows, 1, rows))
                out->verified++;
        }
        out->n += n;
    }
    ibp_batcher_free(b);
    return st;
}
