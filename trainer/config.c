#include "trainer/config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/file_io.h"
#include "nets/base/options.h"
#include "nets/base/parse.h"
#include "trainer/schedule.h"

enum key_type {
    T_INT,
    T_LONG,
    T_DOUBLE,
    T_EPS,
    T_STR,
    T_BOOL,
    T_METHOD,
    T_OPTIM,
    T_MILESTONES,
    T_SCHEDULE,
    T_PRESET,
};

/* One key. Doubles must lie in [lo, hi] (open ends with lo_open / hi_open), integers in
 * [lo, hi]; strings fit in `size` bytes. */
struct key_def {
    const char *name;
    enum key_type type;
    size_t off, size;
    double lo, hi;
    int lo_open, hi_open;
    int no_save; /* not written by ibp_train_config_format */
    const char *help;
};

#define F(field)                                                                           \
    offsetof(struct ibp_train_config, field), sizeof(((struct ibp_train_config *)0)->field)
#define NONE 0, 0

/* Every preset (ibp_train_config_preset). */
#define PRESET_NAMES                                                                       \
    "mnist, cifar10, tinyimagenet, fmnist, mtl-ibp-mnist, mtl-ibp-cifar10-2, "           \
    "mtl-ibp-cifar10-8, mtl-ibp-fmnist, sabr-mnist, sabr-cifar10-2, sabr-cifar10-8, "    \
    "sabr-fmnist, crown-ibp-fmnist"

static const struct key_def keys[] = {
    {"preset", T_PRESET, F(preset), 0, 0, 0, 0, 0,
     "settings of SPEC §4 and §4.9: " PRESET_NAMES},
    {"method", T_METHOD, F(method), 0, 0, 0, 0, 0,
     "fast (IBP init + warmup regularisers), vanilla (plain IBP), natural (clean), crown-ibp (vanilla on f CROWN-IBP + (1-f) IBP bounds, f falling from 1 to 0 over the ramp), mtl-ibp (fast on alpha IBP + (1-alpha) PGD loss), sabr (fast with IBP on a small box around the PGD point)"},
    {"model", T_STR, F(model), 0, 0, 0, 0, 0, "architecture: cnn-small, cnn7, wrn8, ..."},
    {"width", T_INT, F(width), 0, 65536, 0, 0, 0,
     "first-layer channels of the model, 0 = its default"},
    {"hidden", T_INT, F(hidden), 0, 1 << 20, 0, 0, 0,
     "hidden Linear width of the model, 0 = its default"},
    {"bn", T_BOOL, F(bn), 0, 0, 0, 0, 0, "BatchNorm after every hidden Conv/Linear"},
    {"init_from", T_STR, F(init_from), 0, 0, 0, 0, 0,
     "start from this network (model file or ONNX) instead of a new `model`: its layers, "
     "weights, BatchNorm and normalisation are kept, none is added; empty = a new model"},
    {"dataset", T_STR, F(dataset), 0, 0, 0, 0, 0,
     "dataset kind: fashion-mnist, mnist, cifar10, ..."},
    {"data_dir", T_STR, F(data_dir), 0, 0, 0, 0, 0,
     "dataset folder, empty = the dataset's default"},
    {"eps", T_EPS, F(eps_text), 0, 0, 0, 0, 0,
     "test eps in pixel units [0,1], decimal or fraction (8/255)"},
    {"train_eps_mult", T_DOUBLE, F(train_eps_mult), 0, 1e3, 1, 0, 0,
     "training eps_max = this x eps"},
    {"batch", T_INT, F(batch), 1, 1 << 20, 0, 0, 0, "training batch size"},
    {"schedule", T_SCHEDULE, NONE, 0, 0, 0, 0, 1,
     "a+b+c epochs: a at eps 0, b ramp, c at eps_max (sets the next three)"},
    {"epochs", T_INT, F(epochs), 1, 1000000, 0, 0, 0, "training epochs"},
    {"sched_start", T_INT, F(sched_start), 1, 1000000, 0, 0, 0,
     "first epoch of the eps ramp (1-based)"},
    {"sched_length", T_INT, F(sched_length), 1, 1000000, 0, 0, 0, "epochs of the eps ramp"},
    {"lr", T_DOUBLE, F(lr), 0, 10, 1, 0, 0, "learning rate"},
    {"lr_decay", T_DOUBLE, F(lr_decay), 0, 1, 1, 0, 0, "lr factor after each milestone epoch"},
    {"milestones", T_MILESTONES, NONE, 0, 0, 0, 0, 0,
     "epochs after which lr *= lr_decay, e.g. 15,18"},
    {"optimizer", T_OPTIM, F(optimizer), 0, 0, 0, 0, 0, "adam or sgd"},
    {"momentum", T_DOUBLE, F(momentum), 0, 1, 0, 1, 0, "SGD momentum"},
    {"nesterov", T_BOOL, F(nesterov), 0, 0, 0, 0, 0, "SGD Nesterov momentum"},
    {"weight_decay", T_DOUBLE, F(weight_decay), 0, 1, 0, 0, 0,
     "L2 weight decay added to the gradient"},
    {"grad_clip", T_DOUBLE, F(grad_clip), 0, 1e9, 0, 0, 0, "global gradient-norm clip, 0 = off"},
    {"tau", T_DOUBLE, F(tau), 0, 1, 1, 0, 0, "regulariser threshold tau"},
    {"reg_lambda", T_DOUBLE, F(reg_lambda), 0, 1e3, 0, 0, 0, "regulariser weight lambda0"},
    {"min_eps_reg", T_DOUBLE, F(min_eps_reg), 0, 1, 0, 0, 0,
     "eps of the regulariser's bounds while eps_t = 0"},
    {"mtl_alpha", T_DOUBLE, F(mtl_alpha), 0, 1, 0, 0, 0,
     "mtl-ibp: loss alpha CE_IBP + (1 - alpha) CE at the PGD point"},
    {"sabr_lambda", T_DOUBLE, F(sabr_lambda), 0, 1, 1, 0, 0,
     "sabr: IBP on a box of lambda x the box half-width around the PGD point"},
    {"attack_steps", T_INT, F(attack_steps), 1, 1000000, 0, 0, 0,
     "mtl-ibp, sabr: PGD steps (eval-mode BN, from the clean image)"},
    {"attack_step", T_DOUBLE, F(attack_step), 0, 100, 1, 0, 0,
     "mtl-ibp, sabr: PGD step / box half-width (eps unless clipped); 2 saturates to a corner"},
    {"kappa_mix", T_BOOL, F(kappa_mix), 0, 0, 0, 0, 0,
     "crown-ibp: loss kappa CE_clean + (1 - kappa) CE_robust, kappa falling with f from 1 to 0"},
    {"final_verify", T_BOOL, F(final_verify), 0, 0, 0, 0, 0,
     "after the last epoch, certify last.ibpm on the test set with ibp-verify's complete chain (ibp,crown-ibp,crown,alpha-crown,bab, sound) into final_verify.md/.json"},
    {"final_bab_timeout", T_DOUBLE, F(final_bab_timeout), 0, 1e6, 1, 0, 0,
     "final_verify: branch and bound seconds per sample"},
    {"final_count", T_INT, F(final_count), 0, 1 << 30, 0, 0, 0,
     "final_verify: the first N test samples, 0 = all"},
    {"pop_bn_stats", T_BOOL, F(pop_bn_stats), 0, 0, 0, 0, 0,
     "after every epoch, BN running statistics recomputed on the whole training set"},
    {"seed", T_LONG, F(seed), 0, 9007199254740991.0, 0, 0, 0, "random seed"},
    {"threads", T_INT, F(threads), 0, 4096, 0, 0, 0, "threads, 0 = OpenMP's default"},
    {"processes", T_INT, F(processes), 1, 1 << 20, 0, 0, 0,
     "processes of a data-parallel run (mpirun -np N sets it; --resume needs the same N)"},
    {"augment", T_BOOL, F(augment), 0, 0, 0, 0, 0, "random horizontal flip + 2-pixel crop"},
    {"val_split", T_INT, F(val_split), 0, 1 << 30, 0, 0, 0,
     "training samples held out for validation"},
    {"eval_batch", T_INT, F(eval_batch), 1, 1 << 20, 0, 0, 0, "evaluation batch size"},
    {"eval_crown_ibp", T_BOOL, F(eval_crown_ibp), 0, 0, 0, 0, 0,
     "per-epoch verified error by the better of IBP and CROWN-IBP per margin (float)"},
    {"train_limit", T_INT, F(train_limit), 0, 1 << 30, 0, 0, 0,
     "use only the first N training samples, 0 = all"},
    {"log_every", T_INT, F(log_every), 0, 1 << 30, 0, 0, 0,
     "batches between batch lines in the metrics log, 0 = epochs only"},
    {"out", T_STR, F(out), 0, 0, 0, 0, 0, "output folder (model, state, config, metrics)"},
    {"onnx", T_BOOL, F(onnx), 0, 0, 0, 0, 0,
     "also write last.onnx and best.onnx (BatchNorm in eval form) beside the .ibpm files"},
    {"resume", T_BOOL, F(resume), 0, 0, 0, 0, 1, "continue the run saved in out"},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))
_Static_assert(sizeof keys / sizeof keys[0] <= 64, "ibp_train_config.given has 64 bits");

static const char *const method_names[] = {"fast", "vanilla", "natural", "crown-ibp",
                                           "mtl-ibp", "sabr"};
#define N_METHODS ((int)(sizeof method_names / sizeof method_names[0]))

const char *ibp_train_method_name(enum ibp_train_method m)
{
    return (unsigned)m < (unsigned)N_METHODS ? method_names[m] : "unknown";
}

int ibp_train_method_is_fast(enum ibp_train_method m)
{
    return m == IBP_METHOD_FAST || m == IBP_METHOD_MTL_IBP || m == IBP_METHOD_SABR;
}

/* Keys that only some methods use (bit m: method m); every other key belongs to all. */
#define METHOD_BIT(m) (1u << (m))
static const struct {
    const char *key;
    unsigned methods;
    const char *users; /* for messages */
} method_keys[] = {
    {"mtl_alpha", METHOD_BIT(IBP_METHOD_MTL_IBP), "mtl-ibp"},
    {"sabr_lambda", METHOD_BIT(IBP_METHOD_SABR), "sabr"},
    {"attack_steps", METHOD_BIT(IBP_METHOD_MTL_IBP) | METHOD_BIT(IBP_METHOD_SABR),
     "mtl-ibp and sabr"},
    {"attack_step", METHOD_BIT(IBP_METHOD_MTL_IBP) | METHOD_BIT(IBP_METHOD_SABR),
     "mtl-ibp and sabr"},
    {"kappa_mix", METHOD_BIT(IBP_METHOD_CROWN_IBP), "crown-ibp"},
};
#define N_METHOD_KEYS ((int)(sizeof method_keys / sizeof method_keys[0]))

/* Index into method_keys of key name, or -1 when every method uses it. */
static int method_key(const char *name)
{
    for (int i = 0; i < N_METHOD_KEYS; i++)
        if (strcmp(method_keys[i].key, name) == 0)
            return i;
    return -1;
}

static int key_used_by(int k, enum ibp_train_method m)
{
    int i = method_key(keys[k].name);
    return i < 0 || (method_keys[i].methods & METHOD_BIT(m)) != 0;
}

void ibp_train_config_defaults(struct ibp_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->method = IBP_METHOD_FAST;
    strcpy(c->model, "cnn-small");
    c->bn = 1;
    strcpy(c->dataset, "fashion-mnist");
    c->eps = 0.1;
    strcpy(c->eps_text, "0.1");
    c->train_eps_mult = 1.0;
    c->batch = 256;
    c->epochs = 20;
    c->sched_start = 2;
    c->sched_length = 10;
    c->lr = 5e-4;
    c->lr_decay = 0.2;
    c->milestones[0] = 15;
    c->milestones[1] = 18;
    c->n_milestones = 2;
    c->optimizer = IBP_OPTIM_ADAM;
    c->momentum = 0.9;
    c->grad_clip = 10.0;
    c->tau = 0.5;
    c->reg_lambda = 0.5;
    c->min_eps_reg = 1e-6;
    c->seed = 100;
    c->eval_batch = 1000;
    c->processes = 1;
    strcpy(c->out, "runs/ibp-train");
    c->mtl_alpha = 0.01;
    c->sabr_lambda = 0.4;
    c->attack_steps = 1;
    c->attack_step = 2.0;
    c->final_bab_timeout = 20.0;
}

/* Presets as key = value lists, applied through the same setter as files. */
struct preset {
    const char *name;
    const char *const *kv; /* key, value, ..., NULL */
};

static const char *const preset_mnist[] = {
    "dataset", "mnist", "model", "cnn7", "eps", "0.4", "batch", "256",
    "schedule", "0+20+50", "milestones", "50,60", "augment", "false", NULL};
static const char *const preset_cifar10[] = {
    "dataset", "cifar10", "model", "cnn7", "eps", "8/255", "batch", "128",
    "schedule", "1+80+79", "milestones", "120,140", "augment", "true", NULL};
static const char *const preset_tiny[] = {
    "dataset", "tinyimagenet", "model", "cnn7", "eps", "1/255", "batch", "128",
    "schedule", "1+10+69", "milestones", "61,71", "reg_lambda", "0.1", "augment", "true", NULL};
static const char *const preset_fmnist[] = {
    "dataset", "fashion-mnist", "model", "cnn-small", "eps", "0.1", "batch", "256",
    "schedule", "1+10+9", "milestones", "15,18", "lr", "5e-4", "augment", "false", NULL};
/* SPEC §4.9: alpha and lambda per setting on the schedules above; PGD of one saturating
 * step where alpha is small or eps large (MNIST 0.1, CIFAR 8/255), 8 steps of 0.25 at
 * CIFAR 2/255 and for SABR, whose box centre is the PGD point. The Fashion-MNIST ones
 * (cnn-small) also evaluate with CROWN-IBP every epoch (too much memory for cnn7 at the
 * default evaluation batch). */
static const char *const preset_mtl_mnist[] = {
    "preset", "mnist", "method", "mtl-ibp", "eps", "0.1", "mtl_alpha", "0.01", NULL};
static const char *const preset_mtl_c2[] = {
    "preset", "cifar10", "method", "mtl-ibp", "eps", "2/255", "mtl_alpha", "0.004",
    "attack_steps", "8", "attack_step", "0.25", NULL};
static const char *const preset_mtl_c8[] = {
    "preset", "cifar10", "method", "mtl-ibp", "eps", "8/255", "mtl_alpha", "0.5", NULL};
static const char *const preset_mtl_fmnist[] = {
    "preset", "fmnist", "method", "mtl-ibp", "mtl_alpha", "0.01", "eval_crown_ibp", "true",
    NULL};
static const char *const preset_sabr_mnist[] = {
    "preset", "mnist", "method", "sabr", "eps", "0.1", "sabr_lambda", "0.4",
    "attack_steps", "8", "attack_step", "0.25", NULL};
static const char *const preset_sabr_c2[] = {
    "preset", "cifar10", "method", "sabr", "eps", "2/255", "sabr_lambda", "0.1",
    "attack_steps", "8", "attack_step", "0.25", NULL};
static const char *const preset_sabr_c8[] = {
    "preset", "cifar10", "method", "sabr", "eps", "8/255", "sabr_lambda", "0.7",
    "attack_steps", "8", "attack_step", "0.25", NULL};
static const char *const preset_sabr_fmnist[] = {
    "preset", "fmnist", "method", "sabr", "sabr_lambda", "0.4",
    "attack_steps", "8", "attack_step", "0.25", "eval_crown_ibp", "true", NULL};
/* CROWN-IBP's Fashion-MNIST setting (SPEC §4.9's table note): batch 256, Adam 1e-3, 100
 * epochs with the ramp ending at epoch 61, kappa from 1 to 0. */
static const char *const preset_crown_fmnist[] = {
    "preset", "fmnist", "method", "crown-ibp", "kappa_mix", "true", "schedule", "1+60+39",
    "milestones", "80,90", "lr", "1e-3", NULL};
static const struct preset presets[] = {
    {"mnist", preset_mnist},
    {"cifar10", preset_cifar10},
    {"tinyimagenet", preset_tiny},
    {"fmnist", preset_fmnist},
    {"mtl-ibp-mnist", preset_mtl_mnist},
    {"mtl-ibp-cifar10-2", preset_mtl_c2},
    {"mtl-ibp-cifar10-8", preset_mtl_c8},
    {"mtl-ibp-fmnist", preset_mtl_fmnist},
    {"sabr-mnist", preset_sabr_mnist},
    {"sabr-cifar10-2", preset_sabr_c2},
    {"sabr-cifar10-8", preset_sabr_c8},
    {"sabr-fmnist", preset_sabr_fmnist},
    {"crown-ibp-fmnist", preset_crown_fmnist},
};

static int find_key(const char *name)
{
    char norm[64];
    size_t n = strlen(name);
    if (n >= sizeof norm)
        return -1;
    for (size_t i = 0; i <= n; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    for (int k = 0; k < N_KEYS; k++)
        if (strcmp(keys[k].name, norm) == 0)
            return k;
    return -1;
}

static enum ibp_status set_key(struct ibp_train_config *c, int k, const char *value,
                               const char *what, struct ibp_error *err);

enum ibp_status ibp_train_config_preset(struct ibp_train_config *c, const char *name,
                                        struct ibp_error *err)
{
    for (size_t p = 0; p < sizeof presets / sizeof presets[0]; p++) {
        if (strcmp(presets[p].name, name) != 0)
            continue;
        for (const char *const *kv = presets[p].kv; *kv; kv += 2) {
            enum ibp_status st = set_key(c, find_key(kv[0]), kv[1], "preset", err);
            if (st != IBP_OK)
                return st;
        }
        snprintf(c->preset, sizeof c->preset, "%s", name);
        return IBP_OK;
    }
    return ibp_fail(err, IBP_ERR_ARG,
                    "unknown preset '%s' (presets: " PRESET_NAMES ")", name);
}

static enum ibp_status parse_bool(const char *v, const char *what, int *out, struct ibp_error *err)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = 1;
            return IBP_OK;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = 0;
            return IBP_OK;
        }
    }
    return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is not a boolean (true/false)", what, v);
}

static enum ibp_status set_value(struct ibp_train_config *c, int k, const char *value,
                                 const char *what, struct ibp_error *err)
{
    const struct key_def *d = &keys[k];
    char *field = (char *)c + d->off;
    switch (d->type) {
    case T_INT:
    case T_LONG: {
        long v;
        enum ibp_status st = ibp_parse_int(value, what, (long)d->lo, (long)d->hi, &v, err);
        if (st != IBP_OK)
            return st;
        if (d->type == T_INT)
            *(int *)field = (int)v;
        else
            *(long *)field = v;
        return IBP_OK;
    }
    case T_DOUBLE: {
        double v;
        enum ibp_status st = ibp_parse_double(value, what, &v, err);
        if (st != IBP_OK)
            return st;
        if (v < d->lo || v > d->hi || (d->lo_open && v == d->lo) || (d->hi_open && v == d->hi)) {
            char lo[IBP_OPTS_DOUBLE_LEN], hi[IBP_OPTS_DOUBLE_LEN];
            ibp_opts_format_double(d->lo, lo);
            ibp_opts_format_double(d->hi, hi);
            return ibp_fail(err, IBP_ERR_ARG, "%s: %s is outside %c%s, %s%c", what, value,
                            d->lo_open ? '(' : '[', lo, hi, d->hi_open ? ')' : ']');
        }
        *(double *)field = v;
        return IBP_OK;
    }
    case T_EPS: {
        double v;
        enum ibp_status st = ibp_parse_eps(value, what, &v, err);
        if (st != IBP_OK)
            return st;
        if (strlen(value) >= sizeof c->eps_text)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is too long", what, value);
        c->eps = v;
        strcpy(c->eps_text, value);
        return IBP_OK;
    }
    case T_STR:
        if (strlen(value) >= d->size)
            return ibp_fail(err, IBP_ERR_ARG, "%s: value longer than %zu characters", what,
                            d->size - 1);
        /* what a config file could not read back */
        if (strpbrk(value, "#\n\r") || value[0] == ' ' || value[0] == '\t' ||
            (value[0] && (value[strlen(value) - 1] == ' ' || value[strlen(value) - 1] == '\t')))
            return ibp_fail(err, IBP_ERR_ARG,
                            "%s: '%s' contains '#', a line break or surrounding spaces", what,
                            value);
        strcpy(field, value);
        return IBP_OK;
    case T_BOOL:
        return parse_bool(value, what, (int *)field, err);
    case T_METHOD:
        for (int m = 0; m < N_METHODS; m++)
            if (strcmp(value, method_names[m]) == 0) {
                c->method = (enum ibp_train_method)m;
                return IBP_OK;
            }
        return ibp_fail(err, IBP_ERR_ARG, "%s: unknown method '%s' (fast, vanilla, natural, "
                        "crown-ibp, mtl-ibp, sabr)", what, value);
    case T_OPTIM:
        if (strcmp(value, "adam") == 0)
            c->optimizer = IBP_OPTIM_ADAM;
        else if (strcmp(value, "sgd") == 0)
            c->optimizer = IBP_OPTIM_SGD;
        else
            return ibp_fail(err, IBP_ERR_ARG, "%s: unknown optimizer '%s' (adam, sgd)", what,
                            value);
        return IBP_OK;
    case T_MILESTONES:
        return ibp_milestones_parse(value, what, c->milestones, IBP_CONFIG_MAX_MILESTONES,
                                    &c->n_milestones, err);
    case T_SCHEDULE: {
        struct ibp_epoch_plan plan;
        enum ibp_status st = ibp_epoch_plan_parse(value, what, &plan, err);
        if (st != IBP_OK)
            return st;
        if ((long)plan.warm + plan.ramp + plan.full > 1000000)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' is more than 1000000 epochs", what,
                            value);
        ibp_epoch_plan_to_schedule(plan, &c->sched_start, &c->sched_length, &c->epochs);
        return IBP_OK;
    }
    case T_PRESET:
        return ibp_train_config_preset(c, value, err);
    }
    return ibp_fail(err, IBP_ERR_ARG, "%s: internal: bad key type", what);
}

/* Sets key k and records that it was given (for the method-key check). */
static enum ibp_status set_key(struct ibp_train_config *c, int k, const char *value,
                               const char *what, struct ibp_error *err)
{
    enum ibp_status st = set_value(c, k, value, what, err);
    if (st == IBP_OK)
        c->given |= UINT64_C(1) << k;
    return st;
}

/* One key = value of a source (a file or the command line). */
struct entry {
    int key;
    const char *value;
    char what[96]; /* "run.cfg:3: eps" or "--eps" */
};

/* Rejects a key given twice and schedule with its parts in one source. */
static enum ibp_status check_source(const struct entry *e, int n, struct ibp_error *err)
{
    int schedule = find_key("schedule");
    const int parts[3] = {find_key("epochs"), find_key("sched_start"), find_key("sched_length")};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) {
            if (e[i].key == e[j].key)
                return ibp_fail(err, IBP_ERR_ARG, "%s: given twice (first at %s)", e[i].what,
                                e[j].what);
            for (int p = 0; p < 3; p++)
                if ((e[i].key == schedule && e[j].key == parts[p]) ||
                    (e[j].key == schedule && e[i].key == parts[p]))
                    return ibp_fail(err, IBP_ERR_ARG, "%s: conflicts with %s (schedule sets "
                                    "epochs, sched_start and sched_length)", e[i].what, e[j].what);
        }
    return IBP_OK;
}

/* Applies entries; the preset key is skipped (resolved before). */
static enum ibp_status apply(struct ibp_train_config *c, const struct entry *e, int n,
                             struct ibp_error *err)
{
    int preset = find_key("preset");
    for (int i = 0; i < n; i++) {
        if (e[i].key == preset)
            continue;
        enum ibp_status st = set_key(c, e[i].key, e[i].value, e[i].what, err);
        if (st != IBP_OK)
            return st;
    }
    return IBP_OK;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Parses a file's text (modified in place) into entries[*n] (allocated). */
static enum ibp_status parse_file(char *text, size_t size, const char *path,
                                  struct entry **out, int *n, struct ibp_error *err)
{
    *out = NULL;
    *n = 0;
    if (memchr(text, '\0', size))
        return ibp_fail(err, IBP_ERR_ARG, "%s: contains a NUL byte (not a text file)", path);
    int lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    struct entry *e = calloc((size_t)lines, sizeof *e);
    if (!e)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    char *line = text;
    for (int ln = 1; line; ln++) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        line = next;
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            free(e);
            return ibp_fail(err, IBP_ERR_ARG, "%s:%d: expected 'key = value', got '%s'", path,
                            ln, s);
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        int k = find_key(key);
        if (k < 0) {
            free(e);
            return ibp_fail(err, IBP_ERR_ARG, "%s:%d: unknown key '%s'", path, ln, key);
        }
        e[*n].key = k;
        e[*n].value = value;
        snprintf(e[*n].what, sizeof e[*n].what, "%s:%d: %s", path, ln, keys[k].name);
        (*n)++;
    }
    enum ibp_status st = check_source(e, *n, err);
    if (st != IBP_OK) {
        free(e);
        return st;
    }
    *out = e;
    return IBP_OK;
}

/* Reads and parses path; *text keeps the values alive (caller frees both). */
static enum ibp_status read_file(const char *path, unsigned char **text, struct entry **e,
                                 int *n, struct ibp_error *err)
{
    size_t size;
    enum ibp_status st = ibp_file_read_all(path, 1 << 20, text, &size, err);
    if (st != IBP_OK)
        return st;
    st = parse_file((char *)*text, size, path, e, n, err);
    if (st != IBP_OK) {
        free(*text);
        *text = NULL;
    }
    return st;
}

static const struct entry *find_entry(const struct entry *e, int n, int key)
{
    for (int i = 0; i < n; i++)
        if (e[i].key == key)
            return &e[i];
    return NULL;
}

/* Applies parsed file entries: the file's preset first, then its other keys. */
static enum ibp_status apply_file(struct ibp_train_config *c, const struct entry *e, int n,
                                  struct ibp_error *err)
{
    enum ibp_status st = IBP_OK;
    const struct entry *p = find_entry(e, n, find_key("preset"));
    if (p)
        st = set_key(c, p->key, p->value, p->what, err);
    if (st == IBP_OK)
        st = apply(c, e, n, err);
    return st;
}

enum ibp_status ibp_train_config_load_text(struct ibp_train_config *c, const char *text,
                                           const char *name, struct ibp_error *err)
{
    char *copy = strdup(text);
    if (!copy)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
    struct entry *e;
    int n;
    enum ibp_status st = parse_file(copy, strlen(copy), name, &e, &n, err);
    if (st == IBP_OK) {
        st = apply_file(c, e, n, err);
        free(e);
    }
    free(copy);
    return st;
}

/* Splits the command line into entries; --config is returned separately. */
static enum ibp_status parse_args(int argc, char *const *argv, struct entry *e, int *n,
                                  const char **config, struct ibp_error *err)
{
    *n = 0;
    *config = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return ibp_fail(err, IBP_ERR_ARG, "unexpected argument '%s' (options are --key value)",
                            a);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len >= sizeof name)
            return ibp_fail(err, IBP_ERR_ARG, "unknown option %s", a);
        memcpy(name, a + 2, len);
        name[len] = '\0';
        const char *value = eq ? eq + 1 : NULL;
        if (strcmp(name, "config") == 0) {
            if (!value && i + 1 >= argc)
                return ibp_fail(err, IBP_ERR_ARG, "--config needs a file name");
            if (*config)
                return ibp_fail(err, IBP_ERR_ARG, "--config: given twice");
            *config = value ? value : argv[++i];
            continue;
        }
        int k = find_key(name);
        if (k < 0 && strncmp(name, "no-", 3) == 0 && !value) {
            k = find_key(name + 3);
            if (k >= 0 && keys[k].type == T_BOOL)
                value = "false";
            else
                k = -1;
        }
        if (k < 0)
            return ibp_fail(err, IBP_ERR_ARG, "unknown option --%s", name);
        if (!value && keys[k].type == T_BOOL)
            value = "true";
        if (!value) {
            if (i + 1 >= argc)
                return ibp_fail(err, IBP_ERR_ARG, "--%s needs a value", name);
            value = argv[++i];
        }
        e[*n].key = k;
        e[*n].value = value;
        snprintf(e[*n].what, sizeof e[*n].what, "--%s", name);
        (*n)++;
    }
    return check_source(e, *n, err);
}

enum ibp_status ibp_train_config_apply_args(struct ibp_train_config *c, int argc,
                                           char *const *argv, struct ibp_error *err)
{
    struct entry *cli = calloc((size_t)(argc > 0 ? argc : 1), sizeof *cli);
    if (!cli)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory parsing options");
    int n_cli = 0, n_file = 0;
    const char *config = NULL;
    unsigned char *text = NULL;
    struct entry *file = NULL;
    enum ibp_status st = parse_args(argc, argv, cli, &n_cli, &config, err);
    if (st == IBP_OK && config)
        st = read_file(config, &text, &file, &n_file, err);
    if (st == IBP_OK) {
        int pk = find_key("preset");
        const struct entry *p = find_entry(cli, n_cli, pk);
        if (!p)
            p = find_entry(file, n_file, pk);
        if (p)
            st = set_key(c, pk, p->value, p->what, err);
    }
    if (st == IBP_OK)
        st = apply(c, file, n_file, err);
    if (st == IBP_OK)
        st = apply(c, cli, n_cli, err);
    free(cli);
    free(file);
    free(text);
    return st;
}

enum ibp_status ibp_train_config_from_args(struct ibp_train_config *c, int argc,
                                           char *const *argv, struct ibp_error *err)
{
    ibp_train_config_defaults(c);
    return ibp_train_config_apply_args(c, argc, argv, err);
}

enum ibp_status ibp_train_config_validate(const struct ibp_train_config *c,
                                          struct ibp_error *err)
{
    if (c->model[0] == '\0')
        return ibp_fail(err, IBP_ERR_ARG, "model: no model given");
    if (c->dataset[0] == '\0')
        return ibp_fail(err, IBP_ERR_ARG, "dataset: no dataset given");
    if (c->out[0] == '\0')
        return ibp_fail(err, IBP_ERR_ARG, "out: no output folder given");
    if (c->init_from[0] != '\0') {
        static const char *const shape_keys[] = {"width", "hidden", "bn"};
        for (size_t i = 0; i < sizeof shape_keys / sizeof shape_keys[0]; i++) {
            int k = find_key(shape_keys[i]);
            if (c->given >> k & 1)
                return ibp_fail(err, IBP_ERR_ARG,
                                "%s: the network comes from init_from (%s); %s does not apply",
                                shape_keys[i], c->init_from, shape_keys[i]);
        }
    }
    if ((long)c->sched_start + c->sched_length - 1 > c->epochs)
        return ibp_fail(err, IBP_ERR_ARG,
                        "schedule: the eps ramp ends in epoch %ld (sched_start %d + "
                        "sched_length %d - 1), after the run's %d epochs",
                        (long)c->sched_start + c->sched_length - 1, c->sched_start,
                        c->sched_length, c->epochs);
    for (int i = 0; i < c->n_milestones; i++)
        if (c->milestones[i] > c->epochs)
            return ibp_fail(err, IBP_ERR_ARG, "milestones: epoch %d is after the run's %d epochs",
                            c->milestones[i], c->epochs);
    if (c->method != IBP_METHOD_NATURAL && c->eps * c->train_eps_mult > 1.0)
        return ibp_fail(err, IBP_ERR_ARG,
                        "train_eps_mult: training eps %g x %g = %g is above 1", c->eps,
                        c->train_eps_mult, c->eps * c->train_eps_mult);
    if (c->nesterov && (c->optimizer != IBP_OPTIM_SGD || c->momentum == 0.0))
        return ibp_fail(err, IBP_ERR_ARG, "nesterov: needs optimizer sgd with momentum > 0");
    for (int k = 0; k < N_KEYS; k++)
        if ((c->given >> k & 1) && !key_used_by(k, c->method)) {
            char opt[64];
            snprintf(opt, sizeof opt, "%s", keys[k].name);
            for (char *p = opt; *p; p++)
                if (*p == '_')
                    *p = '-';
            return ibp_fail(err, IBP_ERR_ARG, "%s (--%s): only for method %s, but the method "
                            "is %s", keys[k].name, opt, method_keys[method_key(keys[k].name)].users,
                            ibp_train_method_name(c->method));
        }
    return IBP_OK;
}

static void put_text(struct ibp_wbuf *w, const char *s)
{
    ibp_wbuf_bytes(w, s, strlen(s));
}

/* The value of key k as config-file text. */
static void format_value(const struct ibp_train_config *c, int k, struct ibp_wbuf *w)
{
    const struct key_def *d = &keys[k];
    const char *field = (const char *)c + d->off;
    switch (d->type) {
    case T_INT:
        ibp_wbuf_printf(w, "%d", *(const int *)field);
        return;
    case T_LONG:
        ibp_wbuf_printf(w, "%ld", *(const long *)field);
        return;
    case T_DOUBLE: {
        char text[IBP_OPTS_DOUBLE_LEN];
        ibp_opts_format_double(*(const double *)field, text);
        put_text(w, text);
        return;
    }
    case T_EPS:
    case T_STR:
    case T_PRESET:
        put_text(w, field);
        return;
    case T_BOOL:
        put_text(w, *(const int *)field ? "true" : "false");
        return;
    case T_METHOD:
        put_text(w, ibp_train_method_name(c->method));
        return;
    case T_OPTIM:
        put_text(w, c->optimizer == IBP_OPTIM_ADAM ? "adam" : "sgd");
        return;
    case T_MILESTONES:
        for (int i = 0; i < c->n_milestones; i++)
            ibp_wbuf_printf(w, i ? ",%d" : "%d", c->milestones[i]);
        return;
    case T_SCHEDULE: {
        struct ibp_epoch_plan p = ibp_epoch_plan_of(c->sched_start, c->sched_length, c->epochs);
        ibp_wbuf_printf(w, "%d+%d+%d", p.warm, p.ramp, p.full);
        return;
    }
    }
}

void ibp_train_config_format(const struct ibp_train_config *c, struct ibp_wbuf *w)
{
    put_text(w, "# ibp-train configuration, resolved (defaults, preset, file, options)\n");
    for (int k = 0; k < N_KEYS; k++) {
        if (!key_used_by(k, c->method))
            continue;
        if (keys[k].no_save) {
            if (keys[k].type == T_SCHEDULE) {
                put_text(w, "# schedule = ");
                format_value(c, k, w);
                put_text(w, "\n");
            }
            continue;
        }
        if (keys[k].type == T_PRESET && c->preset[0] == '\0') {
            put_text(w, "# preset = (none)\n");
            continue;
        }
        ibp_wbuf_printf(w, "%s = ", keys[k].name);
        format_value(c, k, w);
        put_text(w, "\n");
    }
}

enum ibp_status ibp_train_config_save(const struct ibp_train_config *c, const char *path,
                                      struct ibp_error *err)
{
    struct ibp_wbuf w = {0};
    ibp_train_config_format(c, &w);
    enum ibp_status st = w.failed ? ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path)
                                  : ibp_file_write_atomic(path, w.data, w.len, err);
    ibp_wbuf_free(&w);
    return st;
}

const char *ibp_train_config_changed_key(const struct ibp_train_config *a,
                                         const struct ibp_train_config *b)
{
    static const char *const may_change[] = {"threads", "log_every", "data_dir", "out",
                                             "resume", "preset", "final_verify",
                                             "final_bab_timeout", "final_count"};
    for (int k = 0; k < N_KEYS; k++) {
        int skip = keys[k].type == T_SCHEDULE ||
                   (!key_used_by(k, a->method) && !key_used_by(k, b->method));
        for (size_t i = 0; i < sizeof may_change / sizeof may_change[0]; i++)
            skip |= strcmp(keys[k].name, may_change[i]) == 0;
        if (skip)
            continue;
        struct ibp_wbuf wa = {0}, wb = {0};
        format_value(a, k, &wa);
        format_value(b, k, &wb);
        int differ = wa.failed || wb.failed || wa.len != wb.len ||
                     (wa.len && memcmp(wa.data, wb.data, wa.len) != 0);
        ibp_wbuf_free(&wa);
        ibp_wbuf_free(&wb);
        if (differ)
            return keys[k].name;
    }
    return NULL;
}

void ibp_train_config_help(struct ibp_wbuf *w)
{
    struct ibp_train_config d;
    ibp_train_config_defaults(&d);
    put_text(w, "  --config FILE          key = value file (options below override it)\n");
    for (int k = 0; k < N_KEYS; k++) {
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", keys[k].name);
        for (char *p = opt; *p; p++)
            if (*p == '_')
                *p = '-';
        ibp_wbuf_printf(w, "  %-22s %s (default: ", opt, keys[k].help);
        const char *field = (const char *)&d + keys[k].off;
        if (keys[k].type == T_PRESET || (keys[k].type == T_STR && field[0] == '\0'))
            put_text(w, "none");
        else
            format_value(&d, k, w);
        put_text(w, ")\n");
    }
}
