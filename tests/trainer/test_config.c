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
        {ARGS("--method", "fastest"), "--method: unknown method 'fastest' (fast, vanilla, natural, crown-ibp)"},
        {ARGS("--lr", "0"), "--lr: 0 is outside (0, 10]"},
        {ARGS("--momentum", "1"), "--momentum: 1 is outside [0, 1)"},
        {ARGS("--grad-clip", "2e9"), "--grad-clip: 2e9 is outside [0, 1e9]"},
        {ARGS("--augment=maybe"), "--augment: 'maybe' is not a boolean (true/false)"},
        {ARGS("--milestones", "18,15"), "--milestones: '18,15' is not strictly increasing"},
        {ARGS("--preset", "x"), "unknown preset 'x' (presets: mnist, cifar10, tinyimagenet, fmnist)"},
        {ARGS("--out", "a#b"), "--out: 'a#b' contains '#', a line break or surrounding spaces"},
        {ARGS("--config"), "--config needs a file name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = resolve(&c, &err, bad[i].argv);
        CHECK_MSG(rc == IBP_ERR_ARG, "case %zu: status %d", i, rc);
        CHECK_MSG(strcmp(err.msg, bad[i].msg) == 0, "case %zu: '%s'", i, err.msg);
    }
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
    CHECK(memcmp(&c, &d, sizeof c) == 0);
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
