/* ibp-verify end to end (argv[1] is the program): on a CIFAR-10 binary file and a PNG folder
 * written here, with a model built, initialised and saved here, its per-sample CSV and its
 * verified error match ibp_certify_run called directly; several models and radii give one
 * row each; --save-adv, --json, the accuracy gate and every bad input behave as --help
 * says (bad input: exit 1, one line on stderr naming the file, nothing on stdout). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datasets/open.h"
#include "datasets/png_read.h"
#include "datasets/png_write.h"
#include "nets/graph/init.h"
#include "nets/formats/model_file.h"
#include "nets/passes/passes.h"
#include "nets/graph/zoo.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"
#include "verifier/certify.h"

enum { N = 12, PIX = 3 * 32 * 32 };

static const char *prog;
/* Short attacks, one thread: this machine's cores are shared with other test programs,
 * and one run below uses two threads (results do not depend on it). */
static const char *ATTACK = "--attack-steps 8 --no-progress --threads 1";

/* Runs ibp-verify with args; stdout and stderr land in *out / *err (caller frees). */
static int run(const char *args, char **out, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", prog, args, tu_path("stdout.txt"),
             tu_path("stderr.txt"));
    int st = system(cmd);
    *out = tu_slurp(tu_path("stdout.txt"));
    *err = tu_slurp(tu_path("stderr.txt"));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static struct ibp_net *make_model(int classes, uint64_t seed, const char *file)
{
    static const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2023f, 0.1994f, 0.2010f};
    struct ibp_net *net;
    struct ibp_error err;
    struct ibp_rng rng;
    if (ibp_zoo_create("cnn-small", (struct ibp_shape){3, 32, 32}, classes, NULL, mean, std,
                       &net, &err) != IBP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    ibp_rng_seed(&rng, seed, 0);
    CHECK_OK(ibp_net_init(net, IBP_INIT_DEFAULT, &rng, &err), err);
    /* running statistics that are not the identity, so BN matters */
    for (int k = 0; k < net->n_layers; k++)
        if (net->layers[k].kind == IBP_LAYER_BATCHNORM) {
            int c = net->shapes[k + 1].c;
            for (int j = 0; j < c; j++) {
                ibp_bn_running_mean(net, k)[j] = (float)(0.01 * (j % 5));
                ibp_bn_running_var(net, k)[j] = (float)(0.02 + 0.01 * (j % 3));
            }
        }
    struct ibp_model_meta meta = {"cnn-small", 0, NULL};
    CHECK_OK(ibp_model_save(tu_path(file), net, &meta, &err), err);
    return net;
}

/* N random images; labels = the model's prediction on even samples, random on odd ones. */
static void make_data(const struct ibp_net *net, uint8_t *pixels, uint8_t *labels)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 77, 0);
    for (int i = 0; i < N * PIX; i++)
        pixels[i] = (uint8_t)(96 + ibp_rng_below(&rng, 64));
    float *x = malloc((size_t)N * PIX * sizeof(float)), z[N * 10];
    for (int i = 0; i < N * PIX; i++)
        x[i] = (float)pixels[i] / 255.0f;
    struct ibp_workspace *ws;
    struct ibp_error err;
    CHECK_OK(ibp_ws_create(net, N, IBP_WS_CLEAN, &ws, &err), err);
    ibp_ws_set_threads(ws, 1);
    CHECK_OK(ibp_pass_clean(net, ws, x, N, IBP_BN_EVAL, z, &err), err);
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int j = 1; j < 10; j++)
            if (z[i * 10 + j] > z[i * 10 + best])
                best = j;
        labels[i] = (uint8_t)(i % 2 == 0 ? (uint64_t)best : ibp_rng_below(&rng, 3));
    }
    labels[1] = 9; /* beyond a 3-class model */
    ibp_ws_free(ws);
    free(x);
}

/* The library's results for (net, data spec, eps) with the CLI's defaults and ATTACK. */
static struct ibp_certify_sample *library(const struct ibp_net *net, const char *spec,
                                          double eps, int64_t *n, struct ibp_certify_summary *s)
{
    struct ibp_dataset *ds;
    struct ibp_error err;
    struct ibp_open_options opt = {0};
    opt.split = "test";
    CHECK_OK(ibp_dataset_open(spec, &opt, &ds, &err), err);
    struct ibp_certify_config cfg;
    ibp_certify_config_default(&cfg);
    cfg.eps = eps;
    cfg.attack_cfg.steps = 8;
    cfg.threads = 1;
    struct ibp_certify_sample *r = calloc((size_t)ds->n, sizeof *r);
    CHECK_OK(ibp_certify_run(net, ds, &cfg, NULL, r, s, &err), err);
    *n = ds->n;
    ibp_dataset_free(ds);
    return r;
}

/* Splits one CSV line (no quoting in these files) into at most max fields. */
static int fields(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

/* Compares the CSV rows of eps_text with the library's results; returns certified count. */
static int64_t compare_csv(const char *csv, const char *eps_csv, const struct ibp_certify_sample *r,
                           int64_t n)
{
    char *copy = strdup(csv), *save = NULL;
    int64_t rows = 0, certified = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[16];
        if (strncmp(line, "model,", 6) == 0)
            continue;
        int nf = fields(line, f, 16);
        CHECK(nf == 13);
        if (nf != 13 || strcmp(f[1], eps_csv) != 0)
            continue;
        long i = atol(f[2]);
        CHECK(i >= 0 && i < n);
        if (i < 0 || i >= n)
            continue;
        rows++;
        CHECK(atoi(f[3]) == r[i].label && atoi(f[4]) == r[i].pred);
        CHECK_MSG(strtof(f[5], NULL) == r[i].lb_min[0], "sample %ld: lb_ibp %s vs %.9g", i, f[5],
                  (double)r[i].lb_min[0]);
        CHECK(strtof(f[6], NULL) == r[i].lb_min[1]);
        CHECK(strcmp(f[8], ibp_verdict_name(r[i].verdict)) == 0);
        certified += strcmp(f[8], "certified") == 0;
    }
    CHECK(rows == n);
    free(copy);
    return certified;
}

/* Blanks every CSV line's next-to-last field (seconds, the one field that depends on the
 * machine's speed), in place. */
static void blank_seconds(char *csv)
{
    for (char *line = csv; line && *line;) {
        char *end = strchr(line, '\n');
        char *last = NULL, *before = NULL;
        for (char *p = line; p < (end ? end : line + strlen(line)); p++)
            if (*p == ',') {
                before = last;
                last = p;
            }
        if (before)
            memset(before + 1, ' ', (size_t)(last - before - 1));
        line = end ? end + 1 : NULL;
    }
}

/* One bad input: exit 1, one line on stderr containing `names`, nothing on stdout. */
static void bad(const char *args, const char *names)
{
    char *out, *err;
    int rc = run(args, &out, &err);
    CHECK_MSG(rc == 1, "%s: exit %d", args, rc);
    CHECK_MSG(out && out[0] == '\0', "%s: stdout not empty", args);
    CHECK_MSG(err && tu_lines(err) == 1, "%s: stderr: %s", args, err ? err : "");
    CHECK_MSG(err && strstr(err, names), "%s: stderr does not name %s: %s", args, names,
              err ? err : "");
    free(out);
    free(err);
}

/* The --save-adv files in dir: named MODEL_epsE_INDEX_labelL_predP.png with the sample's
 * label L and a class P other than L, for a clean error of m.ibpm its clean prediction (r:
 * the library's records of m.ibpm); three panels scaled up 4 times by nearest neighbour,
 * the first the sample's own image. */
static void check_adv_pngs(const char *dir, const uint8_t *pixels, const uint8_t *labels,
                           const struct ibp_certify_sample *r)
{
    enum { S = 4, GH = S * 32 + 2, GW = 3 * (S * 32 + 1) + 1 };
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int files = 0, clean_errors = 0;
    uint8_t *grid = malloc((size_t)3 * GH * GW);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strstr(e->d_name, ".png"))
            continue;
        files++;
        const char *at = strstr(e->d_name, "_label");
        int idx = -1, label = -1, pred = -1, tail = 0;
        int of_m = strncmp(e->d_name, "m.ibpm_eps", 10) == 0;
        CHECK_MSG(at && at - e->d_name > 7 && sscanf(at - 6, "%6d", &idx) == 1 &&
                      sscanf(at, "_label%d_pred%d.png%n", &label, &pred, &tail) == 2 &&
                      at[tail] == '\0' && (of_m || strncmp(e->d_name, "m2.ibpm_eps", 11) == 0),
                  "--save-adv file name %s", e->d_name);
        if (idx < 0 || idx >= N)
            continue;
        /* a counterexample's class is never its label (a clean error's neither) */
        CHECK_MSG(label == labels[idx] && pred >= 0 && pred < 10 && pred != label,
                  "%s: sample %d has label %d", e->d_name, idx, labels[idx]);
        if (of_m && !r[idx].clean_correct) {
            CHECK_MSG(pred == r[idx].pred, "%s: clean prediction %d", e->d_name, r[idx].pred);
            clean_errors++;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int c, h, w;
        struct ibp_error err;
        CHECK_OK(ibp_png_probe(path, &c, &h, &w, &err), err);
        CHECK_MSG(c == 3 && h == GH && w == GW, "%s is %dx%dx%d", e->d_name, c, h, w);
        if (c != 3 || h != GH || w != GW)
            continue;
        CHECK_OK(ibp_png_read(path, 3, GH, GW, 0, grid, &err), err);
        int same = 1;
        for (int k = 0; k < 3; k++)
            for (int y = 0; y < S * 32; y++)
                for (int x = 0; x < S * 32; x++)
                    same &= grid[((size_t)k * GH + 1 + y) * GW + 1 + x] ==
                            pixels[(size_t)idx * PIX + ((size_t)k * 32 + y / S) * 32 + x / S];
        CHECK_MSG(same, "%s: the first panel is not sample %d scaled %d times", e->d_name, idx,
                  S);
    }
    if (d)
        closedir(d);
    free(grid);
    CHECK(files > 0 && clean_errors > 0);
}

static void write_corrupt(const char *from, const char *to, long at, int delta, long keep)
{
    char *data = NULL;
    FILE *f = fopen(tu_path(from), "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t)n);
    CHECK(fread(data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    if (at >= 0)
        data[at] = (char)(data[at] + delta);
    tu_write(tu_path(to), data, (size_t)(keep > 0 ? keep : n), 0);
    free(data);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_verify_cli PATH/ibp-verify\n");
        return 1;
    }
    prog = argv[1];
    tu_init();
    struct ibp_net *net = make_model(10, 1, "m.ibpm");
    struct ibp_net *net2 = make_model(10, 2, "m2.ibpm");
    struct ibp_net *net3 = make_model(3, 3, "m3.ibpm");
    uint8_t *pixels = malloc((size_t)N * PIX), labels[N];
    make_data(net, pixels, labels);

    /* CIFAR-10 binary (SPEC §7): label byte + 3072 pixel bytes per record */
    uint8_t *rec = malloc((size_t)N * (PIX + 1));
    for (int i = 0; i < N; i++) {
        rec[i * (PIX + 1)] = labels[i];
        memcpy(rec + i * (PIX + 1) + 1, pixels + (size_t)i * PIX, PIX);
    }
    tu_write(tu_path("data.bin"), rec, (size_t)N * (PIX + 1), 0);
    /* a PNG folder: class folders sorted by name, files by name */
    tu_mkdir("png");
    char rel[256];
    for (int c = 0; c < 10; c++) {
        snprintf(rel, sizeof rel, "png/c%d", c);
        tu_mkdir(rel);
    }
    struct ibp_error err;
    char images[4096] = "", label_list[256] = "";
    for (int i = 0; i < N; i++) {
        snprintf(rel, sizeof rel, "png/c%d/img%02d.png", labels[i], i);
        CHECK_OK(ibp_png_write(tu_path(rel), pixels + (size_t)i * PIX, 3, 32, 32, &err), err);
        snprintf(images + strlen(images), sizeof images - strlen(images), "%s%s", i ? "," : "",
                 tu_path(rel));
        snprintf(label_list + strlen(label_list), sizeof label_list - strlen(label_list), "%s%d",
                 i ? "," : "", labels[i]);
    }
    /* classes without images are not classes of a PNG folder: drop the empty folders */
    for (int c = 0; c < 10; c++) {
        snprintf(rel, sizeof rel, "png/c%d", c);
        rmdir(tu_path(rel));
    }

    char args[8192], *out, *errs;
    int rc;

    /* CIFAR-10 file, two radii */
    snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 0,1/255 %s --csv %s --json %s",
             tu_path("m.ibpm"), tu_path("data.bin"), ATTACK, tu_path("out.csv"),
             tu_path("out.json"));
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, errs);
    CHECK(tu_has(out, "floating-point sound"));
    CHECK(tu_lines(out) >= 2 && tu_has(out, "| 0 | ibp+crown-ibp | 12 |") &&
          tu_has(out, "| 1/255 | ibp+crown-ibp | 12 |"));
    char *csv = tu_slurp(tu_path("out.csv")), *json = tu_slurp(tu_path("out.json"));
    CHECK(csv && json && tu_has(json, "\"sound\": true") && tu_has(json, "\"records\""));
    char spec[600];
    snprintf(spec, sizeof spec, "cifar10:%s", tu_path("data.bin"));
    int64_t n;
    struct ibp_certify_summary s0, s1;
    struct ibp_certify_sample *r0 = library(net, spec, 0.0, &n, &s0);
    CHECK(n == N);
    CHECK(compare_csv(csv, "0", r0, n) == s0.certified);
    struct ibp_certify_sample *r1 = library(net, spec, 1.0 / 255, &n, &s1);
    CHECK(compare_csv(csv, "0.0039215686274509803", r1, n) == s1.certified);
    /* the model as saved and as built certify the same: at eps 0 every correct sample */
    CHECK(s0.certified == N - s0.clean_errors && s0.certified >= N / 2);
    char row[128];
    snprintf(row, sizeof row, "| %.2f | %lld |", 100.0 * (double)(N - s1.certified) / N,
             (long long)s1.unknown);
    CHECK_MSG(tu_has(out, row), "no '%s' in\n%s", row, out);
    free(csv);
    free(json);
    free(out);
    free(errs);

    /* the PNG folder (same images, labels from folder names) gives the same records */
    snprintf(args, sizeof args, "--model %s --data png:%s --eps 1/255 %s --csv %s",
             tu_path("m.ibpm"), tu_path("png"), ATTACK, tu_path("png.csv"));
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, errs);
    csv = tu_slurp(tu_path("png.csv"));
    snprintf(spec, sizeof spec, "png:%s", tu_path("png"));
    struct ibp_certify_summary sp;
    struct ibp_certify_sample *rp = library(net, spec, 1.0 / 255, &n, &sp);
    CHECK(n == N);
    CHECK(csv && compare_csv(csv, "0.0039215686274509803", rp, n) == sp.certified);
    free(csv);
    free(out);
    free(errs);

    /* a list of PNG files with labels: same verified count as the CIFAR file */
    snprintf(args, sizeof args, "--model %s --images %s --labels %s --eps 1/255 %s",
             tu_path("m.ibpm"), images, label_list, ATTACK);
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, errs);
    snprintf(row, sizeof row, "| %.2f | %lld |", 100.0 * (double)(N - s1.certified) / N,
             (long long)s1.unknown);
    CHECK_MSG(tu_has(out, row), "no '%s' in\n%s", row, out);
    free(out);
    free(errs);

    /* without labels each image is checked against the model's prediction */
    snprintf(args, sizeof args, "--model %s --images %s --eps 0 %s", tu_path("m.ibpm"), images,
             ATTACK);
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, errs);
    CHECK(tu_has(out, "| 0 | ibp+crown-ibp | 12 | 0.00 | 0.00 |"));
    free(out);
    free(errs);

    /* several models, a subset, counterexample PNGs, float mode */
    snprintf(args, sizeof args,
             "-m %s -m %s --data cifar10:%s --start 2 --count 8 --eps 0,1/255,8/255 --no-sound "
             "--save-adv %s %s",
             tu_path("m.ibpm"), tu_path("m2.ibpm"), tu_path("data.bin"), tu_path("adv"), ATTACK);
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, errs);
    CHECK(tu_has(out, "not floating-point sound"));
    CHECK(tu_has(out, "from index 2"));
    int table_rows = 0;
    for (const char *p = strstr(out, "| 8 |"); p; p = strstr(p + 1, "| 8 |"))
        table_rows++;
    CHECK_MSG(table_rows == 6, "%d rows of 8 samples in\n%s", table_rows, out);
    CHECK(tu_count_png(tu_path("adv")) > 0);
    check_adv_pngs(tu_path("adv"), pixels, labels, r0);
    free(out);
    free(errs);

    /* two threads give the same records as one */
    char *csv1 = NULL;
    for (int t = 1; t <= 2; t++) {
        snprintf(args, sizeof args,
                 "-m %s --data cifar10:%s --eps 1/255 --batch 4 --attack-steps 3 --no-progress "
                 "--threads %d --csv %s",
                 tu_path("m.ibpm"), tu_path("data.bin"), t, tu_path(t == 1 ? "t1.csv" : "t2.csv"));
        rc = run(args, &out, &errs);
        CHECK_MSG(rc == 0, "threads %d: exit %d", t, rc);
        free(out);
        free(errs);
    }
    csv1 = tu_slurp(tu_path("t1.csv"));
    csv = tu_slurp(tu_path("t2.csv"));
    if (csv1 && csv) {
        blank_seconds(csv1);
        blank_seconds(csv);
    }
    CHECK(csv1 && csv && strcmp(csv1, csv) == 0);
    free(csv1);
    free(csv);

    /* complete verification end to end: the stages run, the records say who decided */
    snprintf(args, sizeof args,
             "-m %s --data cifar10:%s --eps 1/255 --count 4 %s --methods crown,alpha-crown,bab "
             "--bab-timeout 5 --max-domains 1000 --bab-memory 64 --json %s",
             tu_path("m.ibpm"), tu_path("data.bin"), ATTACK, tu_path("bab.json"));
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 0, "bab: exit %d, stderr %s", rc, errs);
    CHECK(tu_has(out, "| crown+alpha-crown+bab |") && tu_has(out, "verified by bab"));
    csv = tu_slurp(tu_path("bab.json"));
    CHECK(csv && tu_has(csv, "\"decided_by\": ") && tu_has(csv, "\"unknown_reason\": ") &&
          tu_has(csv, "\"methods\": [\"crown\", \"alpha-crown\", \"bab\"]"));
    free(csv);
    free(out);
    free(errs);

    /* the gate */
    snprintf(args, sizeof args,
             "--model %s --data cifar10:%s --eps 1/255 %s --min-verified-accuracy 100%%",
             tu_path("m.ibpm"), tu_path("data.bin"), ATTACK);
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 3, "gate: exit %d", rc);
    CHECK(tu_has(out, "| 1/255 |") && tu_has(errs, "below the required 100.00%"));
    free(out);
    free(errs);
    snprintf(args, sizeof args,
             "--model %s --data cifar10:%s --eps 1/255 %s --min-verified-accuracy 0",
             tu_path("m.ibpm"), tu_path("data.bin"), ATTACK);
    rc = run(args, &out, &errs);
    CHECK_MSG(rc == 0, "gate 0: exit %d", rc);
    free(out);
    free(errs);

    /* --help documents every option and the exit codes */
    rc = run("--help", &out, &errs);
    CHECK(rc == 0);
    const char *opts[] = {"--model", "--data", "--images", "--labels", "--split", "--root",
                          "--channels", "--convert", "--shape", "--classes", "--coarse",
                          "--start", "--count", "--eps", "--methods", "--no-sound", "--batch",
                          "--threads", "--no-attack", "--attack-steps", "--attack-restarts",
                          "--attack-step ", "--seed", "--attack-certified", "--json", "--csv",
                          "--save-adv", "--min-verified-accuracy", "--no-progress", "exit codes"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        CHECK_MSG(tu_has(out, opts[i]), "--help lacks %s", opts[i]);
    free(out);
    free(errs);

    /* bad inputs: one line naming the file, exit 1, no report */
    write_corrupt("m.ibpm", "magic.ibpm", 0, 1, 0);
    write_corrupt("m.ibpm", "version.ibpm", 8, 1, 0);
    write_corrupt("m.ibpm", "crc.ibpm", 4000, 1, 0);
    write_corrupt("m.ibpm", "short.ibpm", -1, 0, 3000);
    const char *models[] = {"magic.ibpm", "version.ibpm", "crc.ibpm", "short.ibpm"};
    for (int i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 1/255",
                 tu_path(models[i]), tu_path("data.bin"));
        bad(args, tu_path(models[i]));
    }
    /* gray 28x28 images against a 3x32x32 model */
    tu_mkdir("gray");
    tu_mkdir("gray/a");
    uint8_t g[28 * 28] = {0};
    CHECK_OK(ibp_png_write(tu_path("gray/a/x.png"), g, 1, 28, 28, &err), err);
    snprintf(args, sizeof args, "--model %s --data png:%s --eps 1/255", tu_path("m.ibpm"),
             tu_path("gray"));
    bad(args, "1x28x28");
    /* labels up to 9 against a 3-class model */
    snprintf(args, sizeof args, "--model %s --model %s --data cifar10:%s --eps 1/255",
             tu_path("m.ibpm"), tu_path("m3.ibpm"), tu_path("data.bin"));
    bad(args, tu_path("m3.ibpm"));
    const char *eps_bad[] = {"abc", "2", "-1/255", "1/0", "1/255,", "0.1x"};
    for (int i = 0; i < 6; i++) {
        snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps %s", tu_path("m.ibpm"),
                 tu_path("data.bin"), eps_bad[i]);
        bad(args, "--eps");
    }
    snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 1/255 --start 4 --count 9",
             tu_path("m.ibpm"), tu_path("data.bin"));
    bad(args, tu_path("data.bin"));
    snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 1/255",
             tu_path("missing.ibpm"), tu_path("data.bin"));
    bad(args, tu_path("missing.ibpm"));
    snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 1/255", tu_path("m.ibpm"),
             tu_path("missing.bin"));
    bad(args, tu_path("missing.bin"));
    /* usage errors: exit 2 */
    snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 1/255 --frobnicate",
             tu_path("m.ibpm"), tu_path("data.bin"));
    rc = run(args, &out, &errs);
    CHECK(rc == 2 && out[0] == '\0' && tu_lines(errs) == 1);
    free(out);
    free(errs);
    snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 1/255 --methods ibp,bogus",
             tu_path("m.ibpm"), tu_path("data.bin"));
    rc = run(args, &out, &errs);
    CHECK(rc == 2 && tu_has(errs, "bogus"));
    free(out);
    free(errs);
    /* branch and bound's options: no zero, negative or malformed caps, stages in order */
    const char *bab_bad[][2] = {
        {"--methods crown,bab --bab-timeout 0", "--bab-timeout"},
        {"--methods crown,bab --bab-timeout -1", "--bab-timeout"},
        {"--methods crown,bab --bab-timeout 2s", "--bab-timeout"},
        {"--methods crown,bab --max-domains 0", "--max-domains"},
        {"--methods crown,bab --max-domains -5", "--max-domains"},
        {"--methods crown,bab --max-domains 1e3x", "--max-domains"},
        {"--methods crown,bab --bab-memory 0", "--bab-memory"},
        {"--methods bab,crown", "crown"},
        {"--methods alpha-crown,alpha-crown", "twice"},
        {"--methods ibp,bab,alpha-crown", "after bab"},
    };
    for (size_t i = 0; i < sizeof bab_bad / sizeof bab_bad[0]; i++) {
        snprintf(args, sizeof args, "--model %s --data cifar10:%s --eps 1/255 %s",
                 tu_path("m.ibpm"), tu_path("data.bin"), bab_bad[i][0]);
        rc = run(args, &out, &errs);
        CHECK_MSG(rc == 2 && out[0] == '\0' && tu_lines(errs) == 1 && tu_has(errs, bab_bad[i][1]),
                  "%s: exit %d, stderr %s", bab_bad[i][0], rc, errs);
        free(out);
        free(errs);
    }

    free(r0);
    free(r1);
    free(rp);
    free(rec);
    free(pixels);
    ibp_net_free(net);
    ibp_net_free(net2);
    ibp_net_free(net3);
    tu_cleanup();
    return check_report();
}
