/* The training configuration: defaults, presets, files, command line, precedence,
 * strictness, validation and the saved file read back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/common/check.h"
#include "tests/common/testutil.h"
#include "trainer/config.h"

static char dir[200];

static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* Resolves argv (NULL-terminated); returns the status, config in *c. */
static int resolve(struct ibp_train_config *c, struct ibp_error *err, const char *const *argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return ibp_train_config_from_args(c, argc, (char *const *)argv, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_defaults_presets(void)
{
    struct ibp_train_config c;
    struct ibp_error err = {0};
    ibp_train_config_defaults(&c);
    CHECK(c.method == IBP_METHOD_FAST && strcmp(c.model, "cnn-small") == 0 && c.bn == 1);
    CHECK(c.eps == 0.1 && c.batch == 256 && c.epochs == 20 && c.sched_start == 2 &&
          c.sched_length == 10);
    CHECK(c.n_milestones == 2 && c.milestones[0] == 15 && c.milestones[1] == 18);
    CHECK(c.lr == 5e-4 && c.lr_decay == 0.2 && c.grad_clip == 10.0 && c.seed == 100);
    CHECK(c.tau == 0.5 && c.reg_lambda == 0.5 && c.min_eps_reg == 1e-6);
    CHECK(c.optimizer == IBP_OPTIM_ADAM && c.weight_decay == 0.0);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);

    CHECK_OK(ibp_train_config_preset(&c, "mnist", &err), err);
    CHECK(c.eps == 0.4 && c.batch == 256 && c.sched_start == 1 && c.sched_length == 20 &&
          c.epochs == 70 && c.milestones[0] == 50 && c.milestones[1] == 60 && !c.augment);
    CHECK(strcmp(c.model, "cnn7") == 0 && strcmp(c.preset, "mnist") == 0);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    CHECK_OK(ibp_train_config_preset(&c, "cifar10", &err), err);
    CHECK(c.eps == 8.0 / 255 && strcmp(c.eps_text, "8/255") == 0 && c.batch == 128 &&
          c.sched_start == 2 && c.sched_length == 80 && c.epochs == 160 &&
          c.milestones[0] == 120 && c.milestones[1] == 140 && c.augment);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "tinyimagenet", &err), err);
    CHECK(c.eps == 1.0 / 255 && c.batch == 128 && c.sched_start == 2 && c.sched_length == 10 &&
          c.epochs == 80 && c.milestones[0] == 61 && c.milestones[1] == 71 &&
          c.reg_lambda == 0.1);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "fmnist", &err), err);
    CHECK(c.eps == 0.1 && c.batch == 256 && c.epochs == 20 && c.sched_start == 2 &&
          c.sched_length == 10 && c.milestones[0] == 15 && c.milestones[1] == 18 &&
          c.lr == 5e-4 && strcmp(c.model, "cnn-small") == 0);
    /* SPEC §4.9's settings: a base preset, the method, its alpha / lambda and PGD */
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "mtl-ibp-cifar10-2", &err), err);
    CHECK(c.method == IBP_METHOD_MTL_IBP && c.eps == 2.0 / 255 && c.mtl_alpha == 0.004 &&
          c.attack_steps == 8 && c.attack_step == 0.25 && c.epochs == 160 && c.augment &&
          strcmp(c.preset, "mtl-ibp-cifar10-2") == 0);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "mtl-ibp-cifar10-8", &err), err);
    CHECK(c.mtl_alpha == 0.5 && c.eps == 8.0 / 255 && c.attack_steps == 1);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "mtl-ibp-mnist", &err), err);
    CHECK(c.mtl_alpha == 0.01 && c.eps == 0.1 && strcmp(c.dataset, "mnist") == 0 &&
          c.epochs == 70);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "sabr-mnist", &err), err);
    CHECK(c.method == IBP_METHOD_SABR && c.sabr_lambda == 0.4 && c.eps == 0.1);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "sabr-cifar10-2", &err), err);
    CHECK(c.sabr_lambda == 0.1 && c.eps == 2.0 / 255);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "sabr-cifar10-8", &err), err);
    CHECK(c.sabr_lambda == 0.7 && c.eps == 8.0 / 255);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "sabr-fmnist", &err), err);
    CHECK(c.sabr_lambda == 0.4 && c.epochs == 20 && strcmp(c.dataset, "fashion-mnist") == 0 &&
          c.eval_crown_ibp);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_preset(&c, "crown-ibp-fmnist", &err), err);
    CHECK(c.method == IBP_METHOD_CROWN_IBP && c.kappa_mix && c.epochs == 100 &&
          c.sched_start == 2 && c.sched_length == 60 && c.lr == 1e-3 && c.milestones[0] == 80);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    CHECK(ibp_train_config_preset(&c, "imagenet", &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "unknown preset 'imagenet'") != NULL);
}

static void test_args(void)
{
    struct ibp_train_config c;
    struct ibp_error err = {0};
    CHECK_OK(resolve(&c, &err, ARGS("--eps", "8/255", "--batch=64", "--method", "vanilla",
                                    "--augment", "--no-bn", "--lr", "1e-3", "--sched-start",
                                    "3", "--optimizer=sgd", "--milestones=", "--seed", "7")),
             err);
    CHECK(c.eps == 8.0 / 255 && c.batch == 64 && c.method == IBP_METHOD_VANILLA && c.augment &&
          !c.bn && c.lr == 1e-3 && c.sched_start == 3 && c.optimizer == IBP_OPTIM_SGD &&
          c.n_milestones == 0 && c.seed == 7);
    CHECK_OK(resolve(&c, &err, ARGS("--schedule", "2+5+3", "--augment=false")), err);
    CHECK(c.sched_start == 3 && c.sched_length == 5 && c.epochs == 10 && !c.augment);
    /* preset applies first wherever it is on the line */
    CHECK_OK(resolve(&c, &err, ARGS("--batch", "32", "--preset", "cifar10")), err);
    CHECK(c.batch == 32 && c.epochs == 160);

    struct {
        const char *const *argv;
        const char *msg;
    } bad[] = {
        {ARGS("--eps", "1.5"), "--eps: eps 1.5 must be in [0, 1]"},
        {ARGS("--eps", "nan"), "--eps: 'nan' is not a number or fraction"},
        {ARGS("--batch", "0"), "--batch: 0 is outside [1, 1048576]"},
        {ARGS("--batch", "12x"), "--batch: '12x' is not an integer"},
        {ARGS("--batch", " 12"), "--batch: ' 12' is not an integer"},
        {ARGS("--bogus", "1"), "unknown option --bogus"},
        {ARGS("--no-eps"), "unknown option --no-eps"},
        {ARGS("--batch"), "--batch needs a value"},
        {ARGS("eps", "0.1"), "unexpected argument 'eps' (options are --key value)"},
        {ARGS("--batch", "3", "--batch=4"), "--batch: given twice (first at --batch)"},
        {ARGS("--schedule", "1+2+3", "--epochs", "9"),
         "--epochs: conflicts with --schedule (schedule sets epochs, sched_start and "
         "sched_length)"},
        {ARGS("--method", "fastest"), "--method: unknown method 'fastest' (fast, vanilla, natural, crown-ibp, mtl-ibp, sabr)"},
        {ARGS("--lr", "0"), "--lr: 0 is outside (0, 10]"},
        {ARGS("--momentum", "1"), "--momentum: 1 is outside [0, 1)"},
        {ARGS("--grad-clip", "2e9"), "--grad-clip: 2e9 is outside [0, 1e9]"},
        {ARGS("--augment=maybe"), "--augment: 'maybe' is not a boolean (true/false)"},
        {ARGS("--milestones", "18,15"), "--milestones: '18,15' is not strictly increasing"},
        {ARGS("--preset", "x"), "unknown preset 'x' (presets: mnist, cifar10, tinyimagenet, fmnist, mtl-ibp-mnist, "
         "mtl-ibp-cifar10-2, mtl-ibp-cifar10-8, mtl-ibp-fmnist, sabr-mnist, sabr-cifar10-2, "
         "sabr-cifar10-8, sabr-fmnist, crown-ibp-fmnist)"},
        {ARGS("--out", "a#b"), "--out: 'a#b' contains '#', a line break or surrounding spaces"},
        {ARGS("--config"), "--config needs a file name"},
        {ARGS("--method", "mtl-ibp", "--mtl-alpha", "1.5"), "--mtl-alpha: 1.5 is outside [0, 1]"},
        {ARGS("--method", "mtl-ibp", "--mtl-alpha", "-0.1"),
         "--mtl-alpha: -0.1 is outside [0, 1]"},
        {ARGS("--method", "sabr", "--sabr-lambda", "0"), "--sabr-lambda: 0 is outside (0, 1]"},
        {ARGS("--method", "sabr", "--sabr-lambda", "1.01"),
         "--sabr-lambda: 1.01 is outside (0, 1]"},
        {ARGS("--method", "sabr", "--attack-steps", "0"),
         "--attack-steps: 0 is outside [1, 1000000]"},
        {ARGS("--method", "sabr", "--attack-step", "0"), "--attack-step: 0 is outside (0, 100]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = resolve(&c, &err, bad[i].argv);
        CHECK_MSG(rc == IBP_ERR_ARG, "case %zu: status %d", i, rc);
        CHECK_MSG(strcmp(err.msg, bad[i].msg) == 0, "case %zu: '%s'", i, err.msg);
    }
}

/* Keys of one method refused for another, after resolution (validate). */
static void test_method_keys(void)
{
    struct ibp_train_config c;
    struct ibp_error err = {0};
    struct {
        const char *const *argv;
        const char *msg;
    } bad[] = {
        {ARGS("--mtl-alpha", "0.5"),
         "mtl_alpha (--mtl-alpha): only for method mtl-ibp, but the method is fast"},
        {ARGS("--method", "sabr", "--mtl-alpha", "0.5"),
         "mtl_alpha (--mtl-alpha): only for method mtl-ibp, but the method is sabr"},
        {ARGS("--method", "mtl-ibp", "--sabr-lambda", "0.5"),
         "sabr_lambda (--sabr-lambda): only for method sabr, but the method is mtl-ibp"},
        {ARGS("--method", "vanilla", "--attack-steps", "3"),
         "attack_steps (--attack-steps): only for method mtl-ibp and sabr, but the method is "
         "vanilla"},
        {ARGS("--method", "crown-ibp", "--attack-step", "0.5"),
         "attack_step (--attack-step): only for method mtl-ibp and sabr, but the method is "
         "crown-ibp"},
        {ARGS("--kappa-mix"),
         "kappa_mix (--kappa-mix): only for method crown-ibp, but the method is fast"},
        {ARGS("--preset", "crown-ibp-fmnist", "--method", "vanilla"),
         "kappa_mix (--kappa-mix): only for method crown-ibp, but the method is vanilla"},
        {ARGS("--preset", "sabr-fmnist", "--method", "natural"),
         "sabr_lambda (--sabr-lambda): only for method sabr, but the method is natural"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(resolve(&c, &err, bad[i].argv), err);
        int rc = ibp_train_config_validate(&c, &err);
        CHECK_MSG(rc == IBP_ERR_ARG, "method key case %zu: status %d", i, rc);
        CHECK_MSG(strcmp(err.msg, bad[i].msg) == 0, "method key case %zu: '%s'", i, err.msg);
    }
    CHECK_OK(resolve(&c, &err, ARGS("--method", "mtl-ibp", "--mtl-alpha", "0", "--attack-steps",
                                    "8", "--attack-step", "0.25", "--pop-bn-stats")),
             err);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    CHECK(c.mtl_alpha == 0.0 && c.attack_steps == 8 && c.pop_bn_stats);
    CHECK_OK(resolve(&c, &err, ARGS("--method", "sabr", "--sabr-lambda", "1")), err);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    /* pop_bn_stats belongs to every method */
    CHECK_OK(resolve(&c, &err, ARGS("--method", "natural", "--pop-bn-stats")), err);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    /* defaults: SPEC §4.9's MNIST 0.1 values, one saturating step */
    ibp_train_config_defaults(&c);
    CHECK(c.mtl_alpha == 0.01 && c.sabr_lambda == 0.4 && c.attack_steps == 1 &&
          c.attack_step == 2.0 && !c.pop_bn_stats);
    CHECK(ibp_train_method_is_fast(IBP_METHOD_FAST) && ibp_train_method_is_fast(IBP_METHOD_SABR) &&
          ibp_train_method_is_fast(IBP_METHOD_MTL_IBP) &&
          !ibp_train_method_is_fast(IBP_METHOD_VANILLA) &&
          !ibp_train_method_is_fast(IBP_METHOD_CROWN_IBP));
    CHECK(strcmp(ibp_train_method_name(IBP_METHOD_MTL_IBP), "mtl-ibp") == 0 &&
          strcmp(ibp_train_method_name(IBP_METHOD_SABR), "sabr") == 0);
}

static void test_file(void)
{
    struct ibp_train_config c;
    struct ibp_error err = {0};
    const char *cfg = write_file("run.cfg",
                                 "# a run\n"
                                 "preset = cifar10\n"
                                 "\n"
                                 "  batch = 64   # smaller\n"
                                 "sched-length=40\r\n"
                                 "data_dir = /data/cifar\n"
                                 "eps = 2/255\n");
    CHECK_OK(resolve(&c, &err, ARGS("--config", cfg)), err);
    CHECK(c.batch == 64 && c.sched_length == 40 && c.epochs == 160 && c.eps == 2.0 / 255 &&
          strcmp(c.data_dir, "/data/cifar") == 0 && strcmp(c.preset, "cifar10") == 0);
    /* the command line overrides the file; its preset replaces the file's */
    CHECK_OK(resolve(&c, &err, ARGS("--batch", "16", "--config", cfg)), err);
    CHECK(c.batch == 16 && c.sched_length == 40);
    CHECK_OK(resolve(&c, &err, ARGS("--config", cfg, "--preset", "mnist")), err);
    CHECK(c.eps == 2.0 / 255 && c.epochs == 70 && c.sched_length == 40 && c.batch == 64);

    struct {
        const char *text, *msg;
    } bad[] = {
        {"batch = 1\nbogus = 2\n", "%s:2: unknown key 'bogus'"},
        {"batch 1\n", "%s:1: expected 'key = value', got 'batch 1'"},
        {"batch = 1\nbatch = 2\n", "%s:2: batch: given twice (first at %s:1: batch)"},
        {"eps = 8/0\n", "%s:1: eps: '8/0' divides by zero"},
        {"schedule = 1+2+3\nsched_start = 2\n", "%s:2: sched_start: conflicts with %s:1: schedule (schedule sets epochs, sched_start and sched_length)"},
        {"batch =\n", "%s:1: batch: '' is not an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = write_file("bad.cfg", bad[i].text);
        char want[512];
        snprintf(want, sizeof want, bad[i].msg, p, p);
        int rc = resolve(&c, &err, ARGS("--config", p));
        CHECK_MSG(rc == IBP_ERR_ARG, "case %zu: status %d", i, rc);
        CHECK_MSG(strcmp(err.msg, want) == 0, "case %zu: '%s'", i, err.msg);
    }
    char missing[300];
    snprintf(missing, sizeof missing, "%s/none.cfg", dir);
    CHECK(resolve(&c, &err, ARGS("--config", missing)) == IBP_ERR_IO);
    CHECK(strstr(err.msg, "none.cfg") != NULL);
}

static void test_validate(void)
{
    struct ibp_train_config c;
    struct ibp_error err = {0};
    CHECK_OK(resolve(&c, &err, ARGS("--epochs", "10")), err);
    CHECK(ibp_train_config_validate(&c, &err) == IBP_ERR_ARG);
    CHECK(strcmp(err.msg, "schedule: the eps ramp ends in epoch 11 (sched_start 2 + "
                          "sched_length 10 - 1), after the run's 10 epochs") == 0);
    CHECK_OK(resolve(&c, &err, ARGS("--epochs", "11", "--milestones", "5")), err);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    CHECK_OK(resolve(&c, &err, ARGS("--epochs", "11")), err);
    CHECK(ibp_train_config_validate(&c, &err) == IBP_ERR_ARG);
    CHECK(strcmp(err.msg, "milestones: epoch 15 is after the run's 11 epochs") == 0);
    CHECK_OK(resolve(&c, &err, ARGS("--eps", "0.5", "--train-eps-mult", "3")), err);
    CHECK(ibp_train_config_validate(&c, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "train_eps_mult") == err.msg);
    CHECK_OK(resolve(&c, &err, ARGS("--nesterov")), err);
    CHECK(ibp_train_config_validate(&c, &err) == IBP_ERR_ARG);
    CHECK_OK(resolve(&c, &err, ARGS("--nesterov", "--optimizer", "sgd")), err);
    CHECK_OK(ibp_train_config_validate(&c, &err), err);
    CHECK_OK(resolve(&c, &err, ARGS("--model", "")), err);
    CHECK(ibp_train_config_validate(&c, &err) == IBP_ERR_ARG);
}

static void test_save_roundtrip(void)
{
    struct ibp_train_config c, d;
    struct ibp_error err = {0};
    CHECK_OK(resolve(&c, &err, ARGS("--preset", "cifar10", "--eps", "8/255", "--lr", "0.1",
                                    "--weight-decay", "1e-4", "--optimizer", "sgd",
                                    "--momentum", "0.85", "--nesterov", "--tau", "0.3",
                                    "--seed", "123456789012", "--data-dir", "/x/y z",
                                    "--method", "natural", "--train-eps-mult", "1.5",
                                    "--resume")),
             err);
    char path[300];
    snprintf(path, sizeof path, "%s/saved.cfg", dir);
    CHECK_OK(ibp_train_config_save(&c, path, &err), err);
    CHECK_OK(resolve(&d, &err, ARGS("--config", path)), err);
    CHECK(c.resume == 1 && d.resume == 0); /* resume is never saved */
    d.resume = 1;
    d.given = c.given; /* where keys came from, not their values */
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    /* the file names the schedule in a+b+c form */
    FILE *f = fopen(path, "r");
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    CHECK(strstr(text, "# schedule = 1+80+79\n") != NULL);
    CHECK(strstr(text, "eps = 8/255\n") != NULL);
    CHECK(strstr(text, "preset = cifar10\n") != NULL);
    /* numbers as a person writes them, not as 17 digits */
    CHECK(strstr(text, "\nlr = 0.1\n") != NULL && strstr(text, "\nweight_decay = 1e-4\n"));
    CHECK(strstr(text, "\nmomentum = 0.85\n") != NULL);
    /* no preset: written as a comment, and still read back the same */
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_save(&c, path, &err), err);
    CHECK_OK(resolve(&d, &err, ARGS("--config", path)), err);
    d.given = c.given;
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    /* a method's own keys are written and read back; another method's are not written,
     * so its file validates */
    CHECK_OK(resolve(&c, &err, ARGS("--method", "sabr", "--sabr-lambda", "0.5",
                                    "--attack-steps", "8", "--attack-step", "0.25",
                                    "--pop-bn-stats")),
             err);
    CHECK_OK(ibp_train_config_save(&c, path, &err), err);
    CHECK_OK(resolve(&d, &err, ARGS("--config", path)), err);
    CHECK_OK(ibp_train_config_validate(&d, &err), err);
    CHECK(d.sabr_lambda == 0.5 && d.attack_steps == 8 && d.attack_step == 0.25 &&
          d.pop_bn_stats && d.method == IBP_METHOD_SABR);
    f = fopen(path, "r");
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    CHECK(strstr(text, "sabr_lambda = 0.5\n") && !strstr(text, "mtl_alpha"));
    ibp_train_config_defaults(&c);
    CHECK_OK(ibp_train_config_save(&c, path, &err), err);
    f = fopen(path, "r");
    n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    CHECK(!strstr(text, "mtl_alpha") && !strstr(text, "sabr_lambda") &&
          !strstr(text, "attack_step") && strstr(text, "pop_bn_stats = false\n"));
    unlink(path);

    struct ibp_wbuf w = {0};
    ibp_train_config_help(&w);
    ibp_wbuf_bytes(&w, "", 1);
    CHECK(!w.failed);
    CHECK(strstr((char *)w.data, "--eps") != NULL && strstr((char *)w.data, "default: 0.1)"));
    CHECK(strstr((char *)w.data, "--sched-start") != NULL);
    CHECK_MSG(strstr((char *)w.data, "learning rate (default: 5e-4)\n") != NULL,
              "help shows lr's default otherwise:\n%s", (char *)w.data);
    ibp_wbuf_free(&w);
}

int main(void)
{
    if (tu_mkdtemp(dir, sizeof dir, "config") != 0) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults_presets();
    test_args();
    test_method_keys();
    test_file();
    test_validate();
    test_save_roundtrip();
    char p[300];
    snprintf(p, sizeof p, "%s/run.cfg", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/bad.cfg", dir);
    unlink(p);
    rmdir(dir);
    return check_report();
}
