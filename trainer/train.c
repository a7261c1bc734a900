#include "trainer/train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/batch.h"
#include "datasets/box.h"
#include "nets/base/clock.h"
#include "nets/bounds/crown_ibp.h"
#include "nets/base/cluster.h"
#include "nets/base/file_io.h"
#include "nets/graph/init.h"
#include "nets/formats/model_file.h"
#include "nets/formats/model_open.h"
#include "nets/formats/onnx_export.h"
#include "nets/passes/passes.h"
#include "nets/base/rng.h"
#include "nets/graph/zoo.h"
#include "trainer/bn_stats.h"
#include "trainer/evaluate.h"
#include "trainer/loss.h"
#include "trainer/metrics.h"
#include "trainer/pgd.h"
#include "trainer/regularizer.h"
#include "trainer/sabr_box.h"
#include "trainer/schedule.h"

/* BatchNorm running-statistics momentum (PyTorch's default, SPEC §2). */
#define BN_MOMENTUM 0.1f
/* Streams of the seed: initialisation, validation split. The data order uses the seed
 * itself through datasets/batch.h. */
#define STREAM_INIT 1u
#define VAL_SPLIT_SALT UINT64_C(0x76616c6964617465)

struct ibp_trainer {
    struct ibp_train_config cfg;
    const struct ibp_dataset *test;
    const struct ibp_dataset *train;  /* what the batcher reads: data or train_own */
    struct ibp_dataset *train_own;    /* the training part after limit / split */
    struct ibp_dataset *val;          /* the validation split, or NULL */
    struct ibp_net *net;
    struct ibp_model_meta meta;       /* name and class names for the model files */
    struct ibp_workspace *ws;
    struct ibp_crown_ibp *crown;      /* method crown-ibp only */
    struct ibp_evaluator *ev;
    struct ibp_optim *opt;
    struct ibp_batcher *batcher;
    struct ibp_batcher *pop_batcher;  /* pop_bn_stats only: the training set in order */
    struct ibp_train_pgd *pgd;        /* methods mtl-ibp and sabr only */
    float *x_adv, *lo_small, *hi_small; /* [batch][input]: PGD points, SABR's small box */
    struct ibp_eps_schedule sched;
    double eps_max;                   /* training eps */
    int64_t batches;                  /* per epoch (L) */
    int classes, rows, n_relu;
    size_t in_size;
    float *x, *lo, *hi, *logits, *g_logits, *lb, *g_lb, *grad;
    float *lb_crown, *lb_mix, *g_crown, *grad_crown; /* method crown-ibp only */
    int32_t *labels;
    struct ibp_relu_bounds *relu;
    float zero[IBP_DATASET_MAX_CHANNELS], one[IBP_DATASET_MAX_CHANNELS];
    struct ibp_train_position pos;
    struct ibp_epoch_sums sums;
    struct ibp_train_best best;
    int resumed;
    char *config_text;                /* the resolved configuration, as saved */
    /* data-parallel runs (ibp_trainer_set_cluster); rank 0 of 1 otherwise */
    struct ibp_cluster *cl;
    int rank, size;
    struct ibp_sum_hook sum;          /* the cluster's sums, for SyncBN and regularisers */
    struct ibp_dataset *test_part, *val_part; /* this rank's share of the evaluation */
};

struct ibp_train_position ibp_trainer_position(const struct ibp_trainer *t)
{
    return t->pos;
}

struct ibp_train_best ibp_trainer_best(const struct ibp_trainer *t)
{
    return t->best;
}

int64_t ibp_trainer_train_size(const struct ibp_trainer *t)
{
    return t->train->n;
}

void ibp_trainer_free(struct ibp_trainer *t)
{
    if (!t)
        return;
    ibp_dataset_free(t->train_own);
    ibp_dataset_free(t->val);
    ibp_dataset_free(t->test_part);
    ibp_dataset_free(t->val_part);
    ibp_net_free(t->net);
    free(t->meta.name);
    ibp_ws_free(t->ws);
    ibp_crown_ibp_free(t->crown);
    free(t->lb_crown);
    free(t->lb_mix);
    free(t->g_crown);
    free(t->grad_crown);
    ibp_evaluator_free(t->ev);
    ibp_optim_free(t->opt);
    ibp_batcher_free(t->batcher);
    ibp_batcher_free(t->pop_batcher);
    ibp_train_pgd_free(t->pgd);
    free(t->x_adv);
    free(t->lo_small);
    free(t->hi_small);
    free(t->x);
    free(t->lo);
    free(t->hi);
    free(t->logits);
    free(t->g_logits);
    free(t->lb);
    free(t->g_lb);
    free(t->grad);
    free(t->labels);
    free(t->relu);
    free(t->config_text);
    free(t);
}

static enum ibp_status check_pair(const struct ibp_dataset *train,
                                  const struct ibp_dataset *test, struct ibp_error *err)
{
    if (train->c != test->c || train->h != test->h || train->w != test->w)
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "test images are %dx%dx%d but training images %dx%dx%d", test->c,
                        test->h, test->w, train->c, train->h, train->w);
    if (train->n_classes < 2)
        return ibp_fail(err, IBP_ERR_SHAPE, "training data has %d classes (need at least 2)",
                        train->n_classes);
    const struct ibp_dataset *sets[2] = {train, test};
    for (int s = 0; s < 2; s++)
        for (int64_t i = 0; i < sets[s]->n; i++)
            if (sets[s]->labels[i] < 0 || sets[s]->labels[i] >= train->n_classes)
                return ibp_fail(err, IBP_ERR_SHAPE,
                                "%s sample %lld has label %d outside the %d classes",
                                s ? "test" : "training", (long long)i,
                                (int)sets[s]->labels[i], train->n_classes);
    return IBP_OK;
}

/* The training part (first train_limit samples, minus a random validation split). */
static enum ibp_status split_data(struct ibp_trainer *t, const struct ibp_dataset *data,
                                  struct ibp_error *err)
{
    const struct ibp_train_config *c = &t->cfg;
    int64_t n = data->n;
    if (c->train_limit > 0 && c->train_limit < n)
        n = c->train_limit;
    if (c->val_split > 0 && c->val_split >= n)
        return ibp_fail(err, IBP_ERR_ARG,
                        "val_split: %d validation samples leave none of the %lld for training",
                        c->val_split, (long long)n);
    if (n == data->n && c->val_split == 0) {
        t->train = data;
        return IBP_OK;
    }
    int32_t *order = malloc((size_t)n * sizeof *order);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    enum ibp_status st = IBP_OK;
    if (!order || !idx) {
        st = ibp_fail(err, IBP_ERR_NOMEM, "out of memory splitting the training data");
        goto done;
    }
    int64_t n_val = c->val_split;
    if (n_val > 0) {
        /* Random held-out samples, then both parts in file order. */
        ibp_shuffle_order(n, (uint64_t)c->seed ^ VAL_SPLIT_SALT, 0, order);
        char *is_val = calloc((size_t)n, 1);
        if (!is_val) {
            st = ibp_fail(err, IBP_ERR_NOMEM, "out of memory splitting the training data");
            goto done;
        }
        for (int64_t i = 0; i < n_val; i++)
            is_val[order[i]] = 1;
        int64_t a = 0, b = n_val;
        for (int64_t i = 0; i < n; i++) {
            if (is_val[i])
                idx[a++] = i;
            else
                idx[b++] = i;
        }
        free(is_val);
        st = ibp_dataset_pick(data, idx, n_val, &t->val, err);
        if (st == IBP_OK)
            st = ibp_dataset_pick(data, idx + n_val, n - n_val, &t->train_own, err);
    } else {
        st = ibp_dataset_range(data, 0, n, &t->train_own, err);
    }
    t->train = t->train_own;
done:
    free(order);
    free(idx);
    return st;
}

/* The network of init_from: opened like ibp-verify opens a model, for the training
 * images, with the model's own normalisation or none. Its weights are kept (no
 * initialisation); its name in the model files is the file's base name. */
static enum ibp_status open_init_model(struct ibp_trainer *t, struct ibp_error *err)
{
    const struct ibp_train_config *c = &t->cfg;
    const struct ibp_dataset *d = t->train;
    struct ibp_model_open_options mo = {.image = {d->c, d->h, d->w},
                                        .image_name = "the training images"};
    struct ibp_model_opened opened;
    enum ibp_status st = ibp_model_open(c->init_from, &mo, &t->net, &opened, err);
    if (st != IBP_OK)
        return st;
    ibp_model_opened_free(&opened);
    int outputs = ibp_net_outputs(t->net);
    if (outputs != d->n_classes)
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "%s: the network has %d outputs but the training data %d classes",
                        c->init_from, outputs, d->n_classes);
    const char *base = strrchr(c->init_from, '/');
    t->meta.name = strdup(base ? base + 1 : c->init_from);
    if (!t->meta.name)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    t->meta.n_classes = d->n_classes;
    t->meta.class_names = d->class_names;
    return IBP_OK;
}

static enum ibp_status build_model(struct ibp_trainer *t, struct ibp_error *err)
{
    const struct ibp_train_config *c = &t->cfg;
    const struct ibp_dataset *d = t->train;
    if (c->init_from[0] != '\0')
        return open_init_model(t, err);
    const char *name = c->model;
    if (!c->bn) {
        if (strcmp(name, "cnn-small") != 0)
            return ibp_fail(err, IBP_ERR_ARG,
                            "bn: the model %s always has BatchNorm (only cnn-small has a "
                            "variant without)", name);
        name = "cnn-small-nobn";
    }
    struct ibp_zoo_options zo = {.width = c->width, .hidden = c->hidden};
    struct ibp_shape in = {d->c, d->h, d->w};
    enum ibp_status st = ibp_zoo_create(name, in, d->n_classes, &zo, d->mean, d->std, &t->net,
                                        err);
    if (st != IBP_OK)
        return st;
    struct ibp_rng rng;
    ibp_rng_seed(&rng, (uint64_t)c->seed, STREAM_INIT);
    st = ibp_net_init(t->net, ibp_train_method_is_fast(c->method) ? IBP_INIT_IBP
                                                                   : IBP_INIT_DEFAULT,
                      &rng, err);
    if (st != IBP_OK)
        return st;
    t->meta.name = strdup(name);
    if (!t->meta.name)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    t->meta.n_classes = d->n_classes;
    t->meta.class_names = d->class_names;
    return IBP_OK;
}

static enum ibp_status alloc_buffers(struct ibp_trainer *t, struct ibp_error *err)
{
    size_t nb = (size_t)t->cfg.batch;
    t->in_size = ibp_shape_size(t->net->input);
    t->classes = ibp_net_outputs(t->net);
    t->rows = t->classes - 1;
    t->n_relu = ibp_net_count_kind(t->net, IBP_LAYER_RELU);
    t->x = malloc(nb * t->in_size * sizeof(float));
    t->lo = malloc(nb * t->in_size * sizeof(float));
    t->hi = malloc(nb * t->in_size * sizeof(float));
    t->logits = malloc(nb * (size_t)t->classes * sizeof(float));
    t->g_logits = malloc(nb * (size_t)t->classes * sizeof(float));
    t->lb = malloc(nb * (size_t)t->rows * sizeof(float));
    t->g_lb = malloc(nb * (size_t)t->rows * sizeof(float));
    t->grad = malloc(t->net->n_params * sizeof(float));
    t->labels = malloc(nb * sizeof(int32_t));
    t->relu = calloc((size_t)(t->n_relu > 0 ? t->n_relu : 1), sizeof *t->relu);
    for (int ch = 0; ch < IBP_DATASET_MAX_CHANNELS; ch++)
        t->one[ch] = 1.0f;
    if (!t->x || !t->lo || !t->hi || !t->logits || !t->g_logits || !t->lb || !t->g_lb ||
        !t->grad || !t->labels || !t->relu)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for training buffers");
    return IBP_OK;
}

static enum ibp_status make_config_text(struct ibp_trainer *t, struct ibp_error *err)
{
    struct ibp_wbuf w = {0};
    ibp_train_config_format(&t->cfg, &w);
    ibp_wbuf_bytes(&w, "", 1);
    if (w.failed) {
        ibp_wbuf_free(&w);
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    }
    t->config_text = (char *)w.data;
    return IBP_OK;
}

enum ibp_status ibp_trainer_create(const struct ibp_train_config *cfg,
                                   const struct ibp_dataset *train,
                                   const struct ibp_dataset *test,
                                   struct ibp_trainer **out, struct ibp_error *err)
{
    *out = NULL;
    enum ibp_status st = ibp_train_config_validate(cfg, err);
    if (st != IBP_OK)
        return st;
    st = check_pair(train, test, err);
    if (st != IBP_OK)
        return st;
    struct ibp_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    t->cfg = *cfg;
    t->test = test;
    t->pos.epoch = 1;
    t->size = 1;
    st = split_data(t, train, err);
    if (st == IBP_OK)
        st = build_model(t, err);
    if (st == IBP_OK)
        st = alloc_buffers(t, err);
    if (st == IBP_OK)
        st = ibp_ws_create(t->net, cfg->batch, IBP_WS_CLEAN | IBP_WS_BOUNDS | IBP_WS_GRAD,
                           &t->ws, err);
    if (st == IBP_OK && cfg->method == IBP_METHOD_CROWN_IBP) {
        st = ibp_crown_ibp_create(t->net, cfg->batch, &t->crown, err);
        size_t nb = (size_t)cfg->batch * (size_t)t->rows;
        t->lb_crown = malloc(nb * sizeof(float));
        t->lb_mix = malloc(nb * sizeof(float));
        t->g_crown = malloc(nb * sizeof(float));
        t->grad_crown = malloc(t->net->n_params * sizeof(float));
        if (st == IBP_OK && (!t->lb_crown || !t->lb_mix || !t->g_crown || !t->grad_crown))
            st = ibp_fail(err, IBP_ERR_NOMEM, "out of memory for CROWN-IBP buffers");
    }
    if (st == IBP_OK &&
        (cfg->method == IBP_METHOD_MTL_IBP || cfg->method == IBP_METHOD_SABR)) {
        st = ibp_train_pgd_create(t->net, cfg->batch, cfg->attack_steps, cfg->attack_step,
                                  cfg->threads, &t->pgd, err);
        size_t nx = (size_t)cfg->batch * t->in_size;
        t->x_adv = malloc(nx * sizeof(float));
        t->lo_small = malloc(nx * sizeof(float));
        t->hi_small = malloc(nx * sizeof(float));
        if (st == IBP_OK && (!t->x_adv || !t->lo_small || !t->hi_small))
            st = ibp_fail(err, IBP_ERR_NOMEM, "out of memory for PGD buffers");
    }
    if (st == IBP_OK)
        st = ibp_evaluator_create(t->net, cfg->eval_batch, cfg->eval_crown_ibp, &t->ev, err);
    if (st == IBP_OK) {
        struct ibp_optim_config oc = ibp_optim_adam_defaults();
        oc.kind = cfg->optimizer;
        oc.momentum = cfg->optimizer == IBP_OPTIM_SGD ? cfg->momentum : 0.0;
        oc.nesterov = cfg->nesterov;
        oc.weight_decay = cfg->weight_decay;
        st = ibp_optim_create(&oc, t->net->n_params, &t->opt, err);
    }
    if (st == IBP_OK) {
        struct ibp_batch_options bo = {.batch_size = cfg->batch, .shuffle = 1,
                                       .seed = (uint64_t)cfg->seed};
        if (cfg->augment)
            bo.augment = (struct ibp_augment){.flip = 1, .crop_pad = 2,
                                              .pad_mode = IBP_PAD_EDGE};
        st = ibp_batcher_create(t->train, &bo, &t->batcher, err);
    }
    if (st == IBP_OK && cfg->pop_bn_stats) {
        struct ibp_batch_options bo = {.batch_size = cfg->batch, .shuffle = 0};
        st = ibp_batcher_create(t->train, &bo, &t->pop_batcher, err);
    }
    if (st == IBP_OK) {
        t->batches = ibp_batcher_batches(t->batcher);
        t->eps_max = cfg->method == IBP_METHOD_NATURAL ? 0.0 : cfg->eps * cfg->train_eps_mult;
        st = ibp_eps_schedule_init(&t->sched, t->eps_max, cfg->sched_start, cfg->sched_length,
                                   t->batches, err);
    }
    if (st == IBP_OK)
        st = make_config_text(t, err);
    if (st == IBP_OK && cfg->threads > 0) {
        ibp_ws_set_threads(t->ws, cfg->threads);
        ibp_evaluator_set_threads(t->ev, cfg->threads);
    }
    if (st != IBP_OK) {
        ibp_trainer_free(t);
        return st;
    }
    *out = t;
    return IBP_OK;
}

/* This rank's contiguous share of an evaluation set (may be empty). */
static enum ibp_status eval_part(const struct ibp_trainer *t, const struct ibp_dataset *ds,
                                 struct ibp_dataset **out, struct ibp_error *err)
{
    int64_t lo, hi;
    ibp_cluster_share(ds->n, t->rank, t->size, &lo, &hi);
    if (hi == lo)
        return IBP_OK;
    return ibp_dataset_range(ds, lo, hi - lo, out, err);
}

enum ibp_status ibp_trainer_set_cluster(struct ibp_trainer *t, struct ibp_cluster *cl,
                                        struct ibp_error *err)
{
    int size = ibp_cluster_size(cl);
    const struct ibp_train_config *c = &t->cfg;
    if (c->processes != size)
        return ibp_fail(err, IBP_ERR_ARG,
                        "processes: the run is configured for %d process%s but %d %s started "
                        "(a resumed run needs the N it was started with: mpirun -np %d)",
                        c->processes, c->processes == 1 ? "" : "es", size,
                        size == 1 ? "was" : "were", c->processes);
    int64_t last = t->train->n % c->batch;
    if (size > 1 && (c->method == IBP_METHOD_CROWN_IBP || c->method == IBP_METHOD_MTL_IBP ||
                     c->method == IBP_METHOD_SABR))
        return ibp_fail(err, IBP_ERR_ARG,
                        "method %s: not supported on several processes yet (only fast, vanilla "
                        "and natural are data-parallel); train it as one process",
                        ibp_train_method_name(c->method));
    if (size > 1 && c->pop_bn_stats)
        return ibp_fail(err, IBP_ERR_ARG,
                        "pop_bn_stats: not supported on several processes yet; train it as "
                        "one process");
    if (size > c->batch || (last > 0 && size > last))
        return ibp_fail(err, IBP_ERR_ARG,
                        "%d processes for batches of %lld samples (batch %d, the epoch's last "
                        "%lld): every process needs at least one sample of every batch", size,
                        (long long)(size > c->batch || last == 0 ? c->batch : last), c->batch,
                        (long long)(last > 0 ? last : c->batch));
    t->cl = cl;
    t->rank = ibp_cluster_rank(cl);
    t->size = size;
    if (size == 1)
        return IBP_OK;
    /* every rank must train the same run on the same data */
    const struct ibp_dataset *tr = t->train, *te = t->test;
    size_t px = (size_t)tr->c * tr->h * tr->w;
    enum ibp_status st =
        ibp_cluster_check_same(cl, t->config_text, strlen(t->config_text), "the configuration",
                               err);
    if (st == IBP_OK)
        st = ibp_cluster_check_same(cl, tr->pixels, (size_t)tr->n * px, "the training images",
                                    err);
    if (st == IBP_OK)
        st = ibp_cluster_check_same(cl, tr->labels, (size_t)tr->n * sizeof *tr->labels,
                                    "the training labels", err);
    if (st == IBP_OK)
        st = ibp_cluster_check_same(cl, te->pixels, (size_t)te->n * px, "the test images", err);
    if (st == IBP_OK)
        st = ibp_cluster_check_same(cl, te->labels, (size_t)te->n * sizeof *te->labels,
                                    "the test labels", err);
    if (st != IBP_OK)
        return st;
    t->sum = (struct ibp_sum_hook){ibp_cluster_sum_hook, cl};
    ibp_ws_set_sum_hook(t->ws, &t->sum);
    st = eval_part(t, t->test, &t->test_part, err);
    if (st == IBP_OK && t->val)
        st = eval_part(t, t->val, &t->val_part, err);
    return st;
}

enum ibp_status ibp_trainer_restore(struct ibp_trainer *t, const struct ibp_train_state *s,
                                    struct ibp_error *err)
{
    const struct ibp_net *a = t->net, *b = s->net;
    int same = a->n_layers == b->n_layers && a->input.c == b->input.c &&
               a->input.h == b->input.h && a->input.w == b->input.w &&
               a->n_params == b->n_params && a->n_buffers == b->n_buffers;
    for (int k = 0; same && k < a->n_layers; k++)
        same = memcmp(&a->layers[k], &b->layers[k], sizeof a->layers[k]) == 0;
    if (!same)
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "the saved model (%dx%dx%d input, %d layers, %zu parameters) does not "
                        "match the data and configuration (%dx%dx%d input, %d layers, %zu "
                        "parameters)", b->input.c, b->input.h, b->input.w, b->n_layers,
                        b->n_params, a->input.c, a->input.h, a->input.w, a->n_layers,
                        a->n_params);
    if (s->pos.epoch > t->cfg.epochs + 1 || s->pos.batch > t->batches)
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "the saved position (epoch %d, batch %lld) lies beyond this run "
                        "(%d epochs of %lld batches)", s->pos.epoch, (long long)s->pos.batch,
                        t->cfg.epochs, (long long)t->batches);
    struct ibp_rbuf r = {s->optim_blob, s->optim_size, 0, 0};
    enum ibp_status st = ibp_optim_state_load(t->opt, &r, err);
    if (st != IBP_OK)
        return st;
    memcpy(t->net->params, b->params, a->n_params * sizeof(float));
    memcpy(t->net->buffers, b->buffers, a->n_buffers * sizeof(float));
    t->pos = s->pos;
    t->sums = s->sums;
    t->best = s->best;
    return IBP_OK;
}

static void out_path(const struct ibp_trainer *t, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", t->cfg.out, name);
}

/* Writes the model to out/name, and with cfg.onnx also as ONNX to out/onnx_name. */
static enum ibp_status save_model(const struct ibp_trainer *t, const char *name,
                                  const char *onnx_name, struct ibp_error *err)
{
    char path[1200];
    out_path(t, name, path, sizeof path);
    enum ibp_status st = ibp_model_save(path, t->net, &t->meta, err);
    if (st == IBP_OK && t->cfg.onnx) {
        out_path(t, onnx_name, path, sizeof path);
        st = ibp_onnx_export(t->net, path, err);
    }
    return st;
}

/* mkdir -p */
static enum ibp_status make_folder(const char *path, struct ibp_error *err)
{
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return ibp_fail(err, IBP_ERR_ARG, "out: path too long");
    for (char *p = tmp + 1;; p++) {
        int end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return ibp_fail(err, IBP_ERR_IO, "%s: cannot create folder: %s", tmp,
                                strerror(errno));
            if (end)
                break;
            *p = '/';
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return ibp_fail(err, IBP_ERR_IO, "%s: not a folder", path);
    if (access(path, W_OK) != 0)
        return ibp_fail(err, IBP_ERR_IO, "%s: folder is not writable: %s", path,
                        strerror(errno));
    return IBP_OK;
}

/* What ibp_trainer_prepare_out does on the one writer of files. */
static enum ibp_status prepare_out(struct ibp_trainer *t, int resumed, struct ibp_error *err)
{
    enum ibp_status st = make_folder(t->cfg.out, err);
    if (st != IBP_OK)
        return st;
    char path[1200];
    out_path(t, IBP_TRAIN_STATE, path, sizeof path);
    if (!resumed && access(path, F_OK) == 0)
        return ibp_fail(err, IBP_ERR_ARG,
                        "%s already holds a run (%s): continue it with --resume, or choose "
                        "another --out", t->cfg.out, IBP_TRAIN_STATE);
    out_path(t, IBP_TRAIN_CONFIG, path, sizeof path);
    st = ibp_file_write_atomic(path, t->config_text, strlen(t->config_text), err);
    if (st == IBP_OK && !resumed) {
        out_path(t, IBP_TRAIN_INIT, path, sizeof path);
        st = ibp_model_save(path, t->net, &t->meta, err);
    }
    return st;
}

enum ibp_status ibp_trainer_prepare_out(struct ibp_trainer *t, int resumed,
                                        struct ibp_error *err)
{
    t->resumed = resumed;
    enum ibp_status st = t->rank == 0 ? prepare_out(t, resumed, err) : IBP_OK;
    return t->size > 1 ? ibp_cluster_agree(t->cl, st, err) : st;
}

/* g[n] *= share: a process's loss gradient is its samples' part of the batch mean */
static void scale_floats(float *g, size_t n, double share)
{
    float f = (float)share;
    for (size_t i = 0; i < n; i++)
        g[i] *= f;
}

/* One training step on the B rows of t->x / t->labels, which are this process's share
 * of a global batch of B_all samples (B == B_all on one process); adds the batch's
 * figures to t->sums. */
static enum ibp_status train_step(struct ibp_trainer *t, int B, int B_all, double lr,
                                  double *loss_out, struct ibp_error *err)
{
    const struct ibp_train_config *c = &t->cfg;
    struct ibp_net *net = t->net;
    double eps_t = ibp_eps_at(&t->sched, t->pos.step);
    double lam = ibp_train_method_is_fast(c->method)
                     ? ibp_reg_lambda(c->reg_lambda, eps_t, t->eps_max)
                     : 0.0;
    int robust = eps_t > 0.0;
    int use_reg = lam > 0.0;
    int parallel = t->size > 1;
    double share = (double)B / (double)B_all;
    /* mtl-ibp, sabr: a PGD point per sample once eps_t > 0 (while eps_t = 0 they train
     * as fast does) */
    int mtl = robust && c->method == IBP_METHOD_MTL_IBP;
    int sabr = robust && c->method == IBP_METHOD_SABR;
    /* crown-ibp: weight of the CROWN-IBP bound, 1 at the ramp's start, 0 from eps_max on */
    double f = c->method == IBP_METHOD_CROWN_IBP && robust ? (t->eps_max - eps_t) / t->eps_max
                                                           : 0.0;
    /* the robust CE mixed with a CE on the clean pass's logits: mtl-ibp's (at the PGD
     * points), or crown-ibp's kappa mix (the image's), kappa = f falling from 1 to 0 */
    int mix = mtl || (c->kappa_mix && f > 0.0);
    struct ibp_spec spec = {.labels = t->labels};
    enum ibp_status st;
    if (robust || use_reg) {
        double e = robust ? eps_t : fmax(eps_t, c->min_eps_reg);
        st = ibp_box_compute(t->x, B, net->input.c, (int64_t)net->input.h * net->input.w, e,
                             t->zero, t->one, NULL, t->lo, t->hi, err);
        /* PGD first, on the model in eval-mode BN; then the train-mode pass: mtl-ibp's
         * clean input is the PGD point (its logits and BN statistics come from it, the IBP
         * bounds cover the whole box), sabr's the image, with IBP on the small box */
        const float *x_in = t->x, *lo = t->lo, *hi = t->hi;
        if (st == IBP_OK && (mtl || sabr))
            st = ibp_train_pgd_run(t->pgd, net, t->x, t->lo, t->hi, t->labels, B, t->x_adv,
                                   err);
        if (st == IBP_OK && mtl)
            x_in = t->x_adv;
        if (st == IBP_OK && sabr) {
            st = ibp_sabr_box(t->x_adv, t->lo, t->hi, (size_t)B * t->in_size, c->sabr_lambda,
                              t->lo_small, t->hi_small, err);
            lo = t->lo_small;
            hi = t->hi_small;
        }
        if (st == IBP_OK)
            st = ibp_pass_train(net, t->ws, x_in, lo, hi, B, &spec, t->logits, t->lb, err);
    } else {
        st = ibp_pass_clean(net, t->ws, t->x, B, IBP_BN_TRAIN, t->logits, err);
    }
    if (st != IBP_OK)
        return st;
    double ce = ibp_cross_entropy(t->logits, t->labels, B, t->classes,
                                  robust ? NULL : t->g_logits);
    if (parallel && !robust)
        scale_floats(t->g_logits, (size_t)B * (size_t)t->classes, share);
    double robust_loss = 0.0, robust_part = 0.0;
    int64_t ver_errors = 0, errors = ibp_count_errors(t->logits, t->labels, B, t->classes);
    if (robust) {
        const float *lb = t->lb;
        size_t n = (size_t)B * (size_t)t->rows;
        if (f > 0.0) {
            st = ibp_crown_ibp_bounds(t->crown, net, t->ws, t->lb_crown, err);
            if (st != IBP_OK)
                return st;
            for (size_t i = 0; i < n; i++) {
                t->lb_mix[i] = (float)(f * t->lb_crown[i] + (1.0 - f) * t->lb[i]);
                /* what counts as verified: the better of the two sound bounds */
                t->lb_crown[i] = fmaxf(t->lb_crown[i], t->lb[i]);
            }
            lb = t->lb_mix;
        }
        if (mix) {
            robust_loss = ibp_mtl_ibp_loss(lb, t->logits, t->labels, B, t->classes,
                                           mtl ? c->mtl_alpha : 1.0 - f, t->g_lb, t->g_logits,
                                           &robust_part, NULL);
            if (parallel)
                scale_floats(t->g_logits, (size_t)B * (size_t)t->classes, share);
        } else {
            robust_loss = ibp_robust_ce(lb, B, t->rows, t->g_lb);
            robust_part = robust_loss;
        }
        if (parallel)
            scale_floats(t->g_lb, n, share);
        /* sabr's bounds hold on the small boxes only: no verified count */
        if (!sabr)
            ver_errors = B - ibp_count_verified(f > 0.0 ? t->lb_crown : t->lb, B, t->rows);
        if (f > 0.0) {
            for (size_t i = 0; i < n; i++) {
                t->g_crown[i] = (float)(f * t->g_lb[i]);
                t->g_lb[i] = (float)((1.0 - f) * t->g_lb[i]);
            }
        }
    }
    if (parallel) {
        /* the batch's means and counts: every process's parts added up */
        double v[5] = {ce * B, robust_loss * B, robust_part * B, (double)errors,
                       (double)ver_errors};
        ibp_cluster_sum_doubles(t->cl, v, 5);
        ce = v[0] / B_all;
        robust_loss = v[1] / B_all;
        robust_part = v[2] / B_all;
        errors = (int64_t)v[3];
        ver_errors = (int64_t)v[4];
    }
    double loss = robust ? robust_loss : ce;
    if (robust) {
        t->sums.robust += robust_part * B_all;
        t->sums.n_robust += B_all;
        t->sums.ver_errors += ver_errors;
    }
    if (use_reg) {
        const float *input_r;
        size_t input_size;
        struct ibp_reg_terms terms;
        st = ibp_ws_relu_bounds(t->ws, t->relu, t->n_relu, &input_r, &input_size, err);
        if (st == IBP_OK)
            st = ibp_reg_warmup(t->relu, t->n_relu, B, input_r, input_size, c->tau, lam,
                                parallel ? &t->sum : NULL, &terms, err);
        if (st != IBP_OK)
            return st;
        loss += lam * (terms.tight + terms.relu);
        t->sums.tight += terms.tight * B_all;
        t->sums.relu += terms.relu * B_all;
        t->sums.n_reg += B_all;
    }
    if (!isfinite(loss))
        return ibp_fail(err, IBP_ERR_NUMERIC, "epoch %d batch %lld: the loss is %s",
                        t->pos.epoch, (long long)t->pos.batch + 1, isnan(loss) ? "NaN" : "Inf");
    if (f > 0.0) {
        st = ibp_crown_ibp_backward(t->crown, net, t->ws, t->g_crown, t->grad_crown, err);
        if (st != IBP_OK)
            return st;
    }
    st = ibp_pass_backward(net, t->ws, robust && !mix ? NULL : t->g_logits,
                           robust ? t->g_lb : NULL, t->grad, err);
    if (st != IBP_OK)
        return st;
    for (size_t i = 0; f > 0.0 && i < net->n_params; i++)
        t->grad[i] += t->grad_crown[i];
    /* the one all-reduce of the gradient: every process then takes the same step */
    if (parallel)
        ibp_cluster_sum_floats(t->cl, t->grad, net->n_params);
    double gn = ibp_grad_clip(t->grad, net->n_params, c->grad_clip, ibp_ws_threads(t->ws));
    if (!isfinite(gn))
        return ibp_fail(err, IBP_ERR_NUMERIC, "epoch %d batch %lld: the gradient norm is %s",
                        t->pos.epoch, (long long)t->pos.batch + 1, isnan(gn) ? "NaN" : "Inf");
    ibp_optim_step(t->opt, net->params, t->grad, lr, ibp_ws_threads(t->ws));
    ibp_bn_update_running(net, t->ws, BN_MOMENTUM);

    struct ibp_epoch_sums *s = &t->sums;
    if (s->batches == 0)
        s->eps_first = eps_t;
    s->eps_last = eps_t;
    s->lambda_last = lam;
    s->n += B_all;
    s->batches++;
    s->loss += loss * B_all;
    s->ce += ce * B_all;
    s->errors += errors;
    s->lambda += lam;
    s->grad_norm += gn;
    s->eps += eps_t;
    *loss_out = loss;
    return IBP_OK;
}

static double ratio_or_nan(double sum, int64_t n)
{
    return n > 0 ? sum / (double)n : NAN;
}

/* Rank 0 alone writes files. */
static enum ibp_status save_state(struct ibp_trainer *t, struct ibp_error *err)
{
    if (t->rank != 0)
        return IBP_OK;
    char path[1200];
    out_path(t, IBP_TRAIN_STATE, path, sizeof path);
    return ibp_train_state_save(path, t->config_text, &t->pos, &t->sums, &t->best, t->net,
                                &t->meta, t->opt, err);
}

static enum ibp_status log_epoch(struct ibp_metrics *m, const struct ibp_train_epoch *e,
                                 struct ibp_error *err)
{
    if (!m)
        return IBP_OK; /* not the writer of files */
    ibp_metrics_begin(m);
    ibp_metrics_str(m, "kind", "epoch");
    ibp_metrics_int(m, "epoch", e->epoch);
    ibp_metrics_num(m, "lr", e->lr);
    ibp_metrics_num(m, "eps_first", e->eps_first);
    ibp_metrics_num(m, "eps_last", e->eps_last);
    ibp_metrics_num(m, "eps_mean", e->eps_mean);
    ibp_metrics_num(m, "lambda_mean", e->lambda_mean);
    ibp_metrics_num(m, "lambda_last", e->lambda_last);
    ibp_metrics_num(m, "loss", e->loss);
    ibp_metrics_num(m, "clean_ce", e->clean_ce);
    ibp_metrics_num(m, "robust_loss", e->robust_loss);
    ibp_metrics_num(m, "L_tight", e->l_tight);
    ibp_metrics_num(m, "L_relu", e->l_relu);
    ibp_metrics_num(m, "grad_norm_mean", e->grad_norm_mean);
    ibp_metrics_num(m, "train_err", e->train_err);
    ibp_metrics_num(m, "train_ver_err", e->train_ver_err);
    ibp_metrics_num(m, "test_err", e->test_err);
    ibp_metrics_num(m, "test_ver_err", e->test_ver_err);
    ibp_metrics_num(m, "val_err", e->val_err);
    ibp_metrics_num(m, "val_ver_err", e->val_ver_err);
    ibp_metrics_num(m, "train_s", e->train_s);
    ibp_metrics_num(m, "train_img_s", e->train_images_per_s);
    ibp_metrics_num(m, "eval_s", e->eval_s);
    ibp_metrics_bool(m, "best", e->is_best);
    return ibp_metrics_end(m, err);
}

static enum ibp_status log_batch(struct ibp_metrics *m, const struct ibp_trainer *t,
                                 double eps, double lam, double lr, double loss,
                                 struct ibp_error *err)
{
    if (!m)
        return IBP_OK;
    ibp_metrics_begin(m);
    ibp_metrics_str(m, "kind", "batch");
    ibp_metrics_int(m, "epoch", t->pos.epoch);
    ibp_metrics_int(m, "batch", t->pos.batch);
    ibp_metrics_int(m, "step", t->pos.step);
    ibp_metrics_num(m, "eps", eps);
    ibp_metrics_num(m, "lambda", lam);
    ibp_metrics_num(m, "lr", lr);
    ibp_metrics_num(m, "loss", loss);
    return ibp_metrics_end(m, err);
}

/* ibp_evaluate on this process's share `part` of ds (NULL: none), the counts added up
 * over the processes. */
static enum ibp_status evaluate(struct ibp_trainer *t, const struct ibp_dataset *ds,
                                const struct ibp_dataset *part, struct ibp_eval_result *out,
                                struct ibp_error *err)
{
    if (t->size == 1)
        return ibp_evaluate(t->net, t->ev, ds, t->cfg.eps, out, err);
    struct ibp_eval_result r = {0};
    enum ibp_status st = part ? ibp_evaluate(t->net, t->ev, part, t->cfg.eps, &r, err) : IBP_OK;
    st = ibp_cluster_agree(t->cl, st, err);
    if (st != IBP_OK)
        return st;
    double v[3] = {(double)r.n, (double)r.errors, (double)r.verified};
    ibp_cluster_sum_doubles(t->cl, v, 3);
    *out = (struct ibp_eval_result){(int64_t)v[0], (int64_t)v[1], (int64_t)v[2]};
    return IBP_OK;
}

/* Evaluation, files and the log line at the end of an epoch. */
static enum ibp_status finish_epoch(struct ibp_trainer *t, struct ibp_metrics *m,
                                    const struct ibp_train_hooks *hooks, struct ibp_error *err)
{
    const struct ibp_train_config *c = &t->cfg;
    struct ibp_error why;
    enum ibp_status st = ibp_net_check_finite(t->net, &why);
    if (st != IBP_OK)
        return ibp_fail(err, IBP_ERR_NUMERIC, "epoch %d: %s (files of the last good epoch "
                        "kept)", t->pos.epoch, why.msg);
    double t0 = ibp_clock_seconds();
    if (c->pop_bn_stats) {
        st = ibp_bn_population_stats(t->net, t->ws, t->pop_batcher, t->x, t->labels,
                                     t->logits, err);
        if (st != IBP_OK)
            return st;
    }
    struct ibp_eval_result test, val = {0};
    st = evaluate(t, t->test, t->test_part, &test, err);
    if (st == IBP_OK && t->val)
        st = evaluate(t, t->val, t->val_part, &val, err);
    if (st != IBP_OK)
        return st;
    const struct ibp_epoch_sums *s = &t->sums;
    struct ibp_train_epoch e = {
        .epoch = t->pos.epoch, .epochs = c->epochs, .lr = s->lr,
        .eps_first = s->eps_first, .eps_last = s->eps_last,
        .eps_mean = ratio_or_nan(s->eps, s->batches),
        .lambda_last = s->lambda_last, .lambda_mean = ratio_or_nan(s->lambda, s->batches),
        .loss = ratio_or_nan(s->loss, s->n), .clean_ce = ratio_or_nan(s->ce, s->n),
        .robust_loss = ratio_or_nan(s->robust, s->n_robust),
        .l_tight = ratio_or_nan(s->tight, s->n_reg), .l_relu = ratio_or_nan(s->relu, s->n_reg),
        .grad_norm_mean = ratio_or_nan(s->grad_norm, s->batches),
        .train_err = 100.0 * ratio_or_nan((double)s->errors, s->n),
        .train_ver_err = c->method == IBP_METHOD_SABR
                             ? NAN
                             : 100.0 * ratio_or_nan((double)s->ver_errors, s->n_robust),
        .test_err = ibp_eval_clean_error(&test), .test_ver_err = ibp_eval_verified_error(&test),
        .val_err = t->val ? ibp_eval_clean_error(&val) : NAN,
        .val_ver_err = t->val ? ibp_eval_verified_error(&val) : NAN,
        .train_s = s->seconds, .train_images_per_s = s->seconds > 0 ? (double)s->n / s->seconds : 0,
    };
    e.eval_s = ibp_clock_seconds() - t0;
    /* Best: only epochs trained at the full eps count (the ramp's figures are not
     * comparable); natural training has no ramp. */
    int full = c->method == IBP_METHOD_NATURAL || s->eps_last >= t->eps_max;
    double score = t->val ? e.val_ver_err : e.test_ver_err;
    double best_score = t->val ? t->best.val_ver_err : t->best.test_ver_err;
    if (c->method == IBP_METHOD_NATURAL) {
        score = t->val ? e.val_err : e.test_err;
        best_score = t->val ? t->best.val_err : t->best.test_err;
    }
    e.is_best = full && (t->best.epoch == 0 || score < best_score);
    st = t->rank == 0 ? save_model(t, IBP_TRAIN_LAST, IBP_TRAIN_LAST_ONNX, err) : IBP_OK;
    if (st == IBP_OK && e.is_best) {
        t->best = (struct ibp_train_best){t->pos.epoch, e.test_err, e.test_ver_err, e.val_err,
                                          e.val_ver_err};
        st = t->rank == 0 ? save_model(t, IBP_TRAIN_BEST, IBP_TRAIN_BEST_ONNX, err) : IBP_OK;
    }
    if (st == IBP_OK)
        st = log_epoch(m, &e, err);
    if (st != IBP_OK)
        return st;
    t->pos.epoch++;
    t->pos.batch = 0;
    memset(&t->sums, 0, sizeof t->sums);
    st = save_state(t, err);
    if (st == IBP_OK && hooks && hooks->on_epoch)
        hooks->on_epoch(hooks->user, &e);
    return st;
}

/* A stop requested on any process stops them all at the same batch. */
static int stop_agreed(const struct ibp_trainer *t, const struct ibp_train_hooks *hooks)
{
    double stop = hooks && hooks->stop && *hooks->stop;
    if (t->size > 1)
        ibp_cluster_sum_doubles(t->cl, &stop, 1);
    return stop > 0.0;
}

static enum ibp_status run_epochs(struct ibp_trainer *t, struct ibp_metrics *m,
                                  const struct ibp_train_hooks *hooks, struct ibp_error *err)
{
    const struct ibp_train_config *c = &t->cfg;
    while (t->pos.epoch <= c->epochs) {
        double lr = ibp_lr_at_epoch(c->lr, c->lr_decay, c->milestones, c->n_milestones,
                                    t->pos.epoch);
        t->sums.lr = lr;
        enum ibp_status st = ibp_batcher_start(t->batcher, t->pos.epoch - 1, t->pos.batch, err);
        if (st != IBP_OK)
            return st;
        for (;;) {
            double t0 = ibp_clock_seconds();
            int64_t B = ibp_batcher_next(t->batcher, t->x, t->labels);
            if (B == 0)
                break;
            /* this process's rows of the global batch, moved to the front */
            int64_t lo = 0, hi = B;
            if (t->size > 1) {
                ibp_cluster_share(B, t->rank, t->size, &lo, &hi);
                memmove(t->x, t->x + (size_t)lo * t->in_size,
                        (size_t)(hi - lo) * t->in_size * sizeof(float));
                memmove(t->labels, t->labels + lo, (size_t)(hi - lo) * sizeof *t->labels);
            }
            double loss = 0.0;
            double eps = ibp_eps_at(&t->sched, t->pos.step);
            st = train_step(t, (int)(hi - lo), (int)B, lr, &loss, err);
            if (st != IBP_OK)
                return st;
            t->sums.seconds += ibp_clock_seconds() - t0;
            t->pos.batch++;
            t->pos.step++;
            if (c->log_every > 0 && t->pos.batch % c->log_every == 0) {
                st = log_batch(m, t, eps, t->sums.lambda_last, lr, loss, err);
                if (st != IBP_OK)
                    return st;
            }
            if (hooks && hooks->on_batch) {
                struct ibp_train_progress p = {
                    t->pos.epoch, c->epochs, t->pos.batch, t->batches, t->pos.step, eps,
                    t->sums.lambda_last, lr, t->sums.loss / (double)t->sums.n,
                    t->sums.seconds > 0 ? (double)t->sums.n / t->sums.seconds : 0};
                hooks->on_batch(hooks->user, &p);
            }
            if (stop_agreed(t, hooks) && t->pos.batch < t->batches) {
                st = save_state(t, err);
                if (st != IBP_OK)
                    return st;
                return ibp_fail(err, IBP_ERR_INTERRUPTED,
                                "stopped in epoch %d after batch %lld; state saved in %s/%s",
                                t->pos.epoch, (long long)t->pos.batch, c->out, IBP_TRAIN_STATE);
            }
        }
        st = finish_epoch(t, m, hooks, err);
        if (st != IBP_OK)
            return st;
        if (stop_agreed(t, hooks) && t->pos.epoch <= c->epochs)
            return ibp_fail(err, IBP_ERR_INTERRUPTED,
                            "stopped after epoch %d; state saved in %s/%s", t->pos.epoch - 1,
                            c->out, IBP_TRAIN_STATE);
    }
    return IBP_OK;
}

enum ibp_status ibp_trainer_run(struct ibp_trainer *t, const struct ibp_train_hooks *hooks,
                                struct ibp_error *err)
{
    char path[1200];
    out_path(t, IBP_TRAIN_METRICS, path, sizeof path);
    struct ibp_metrics *m = NULL;
    enum ibp_status st = t->rank == 0 ? ibp_metrics_open(path, t->resumed, &m, err) : IBP_OK;
    if (t->size > 1)
        st = ibp_cluster_agree(t->cl, st, err);
    if (st != IBP_OK)
        return st;
    st = run_epochs(t, m, hooks, err);
    struct ibp_error close_err;
    enum ibp_status cst = m ? ibp_metrics_close(m, &close_err) : IBP_OK;
    if (st == IBP_OK && cst != IBP_OK) {
        if (err)
            *err = close_err;
        st = cst;
    }
    return st;
}

size_t ibp_trainer_later_bytes(const struct ibp_trainer *t)
{
    /* model image: 68-byte layer records, the values, the names (64 KiB covers them) */
    size_t model = sizeof(float) * (t->net->n_params + t->net->n_buffers) +
                   68 * (size_t)t->net->n_layers + ((size_t)64 << 10);
    size_t state = model + 2 * sizeof(float) * t->net->n_params + strlen(t->config_text) + 4096;
    /* the state buffer doubles as it grows: up to twice its size, and the old block
     * beside the new one while realloc copies */
    return model + 3 * state;
}
