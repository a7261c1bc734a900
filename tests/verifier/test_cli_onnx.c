/* ONNX models in ibp-verify's dataset mode and the ibp-model tool, end to end
 * (argv[1] is ibp-verify, argv[2] ibp-model). A model built here is saved as a model file
 * and exported as ONNX (with its normalisation in the graph, and without it, to be given
 * by --mean/--std); on an ERAN-style CSV written here every way gives the same per-sample
 * records. A flat-input ONNX MLP takes the images row-major like the same MLP with a
 * FLATTEN. Bad inputs (normalisation given twice, a shape that does not fit, NaN
 * weights) exit 1 with one line naming the file and no report. ibp-model prints both
 * kinds and converts model file -> ONNX -> model file with identical forward outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "nets/formats/model_file.h"
#include "nets/formats/onnx_export.h"
#include "nets/graph/init.h"
#include "nets/graph/zoo.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

enum { N = 16, PIX = 28 * 28 };

static const char *verify_prog, *model_prog;
/* Short attacks, one thread: the machine's cores are shared with other tests. */
static const char *ATTACK = "--attack-steps 8 --no-progress --threads 1";
static const float MEAN = 0.1307f, STD = 0.3081f;

/* Runs prog with args; stdout and stderr land in *out / *err (caller frees). */
static int run(const char *prog, const char *args, char **out, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s'", prog, args, tu_path("stdout.txt"),
             tu_path("stderr.txt"));
    int st = system(cmd);
    *out = tu_slurp(tu_path("stdout.txt"));
    *err = tu_slurp(tu_path("stderr.txt"));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* cnn-small on 1x28x28 with the ERAN MNIST normalisation and BatchNorm statistics that
 * are not the identity. */
static struct ibp_net *make_cnn(void)
{
    struct ibp_net *net;
    struct ibp_error err;
    struct ibp_rng rng;
    CHECK_OK(ibp_zoo_create("cnn-small", (struct ibp_shape){1, 28, 28}, 10, NULL, &MEAN, &STD,
                            &net, &err),
             err);
    ibp_rng_seed(&rng, 5, 0);
    CHECK_OK(ibp_net_init(net, IBP_INIT_DEFAULT, &rng, &err), err);
    for (int k = 0; k < net->n_layers; k++)
        if (net->layers[k].kind == IBP_LAYER_BATCHNORM)
            for (int j = 0; j < net->shapes[k + 1].c; j++) {
                ibp_bn_running_mean(net, k)[j] = (float)(0.01 * (j % 5));
                ibp_bn_running_var(net, k)[j] = (float)(0.02 + 0.01 * (j % 3));
            }
    return net;
}

/* The same network without its first layer (the NORMALIZE): what a model that expects
 * its caller to normalise looks like. */
static struct ibp_net *without_first_layer(const struct ibp_net *net)
{
    int n = net->n_layers - 1;
    struct ibp_layer_spec specs[64];
    CHECK(n >= 1 && n <= 64);
    for (int k = 0; k < n; k++) {
        specs[k] = net->layers[k + 1];
        specs[k].in[0] -= 1;
        if (specs[k].kind == IBP_LAYER_ADD)
            specs[k].in[1] -= 1;
    }
    struct ibp_net *r;
    struct ibp_error err;
    CHECK_OK(ibp_net_create(net->shapes[1], specs, n, &r, &err), err);
    for (int k = 0; k < n; k++) {
        memcpy(r->params + r->param_off[k], net->params + net->param_off[k + 1],
               ibp_layer_param_count(r, k) * sizeof(float));
        memcpy(r->buffers + r->buffer_off[k], net->buffers + net->buffer_off[k + 1],
               ibp_layer_buffer_count(r, k) * sizeof(float));
    }
    return r;
}

/* An MLP 784-32-10 on a flat input (flat = 1) or on 1x28x28 images with a FLATTEN first;
 * both get the same weights. */
static struct ibp_net *make_mlp(int flat)
{
    struct ibp_layer_spec s[4] = {
        {.kind = IBP_LAYER_FLATTEN, .in = {IBP_PREV, 0}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV, 0}, .out = 32},
        {.kind = IBP_LAYER_RELU, .in = {IBP_PREV, 0}},
        {.kind = IBP_LAYER_LINEAR, .in = {IBP_PREV, 0}, .out = 10},
    };
    struct ibp_shape in = flat ? (struct ibp_shape){PIX, 1, 1} : (struct ibp_shape){1, 28, 28};
    struct ibp_net *net;
    struct ibp_error err;
    struct ibp_rng rng;
    CHECK_OK(ibp_net_create(in, s + flat, 4 - flat, &net, &err), err);
    ibp_rng_seed(&rng, 9, 0);
    CHECK_OK(ibp_net_init(net, IBP_INIT_DEFAULT, &rng, &err), err);
    return net;
}

static void clean_forward(const struct ibp_net *net, const float *x, int n, float *z)
{
    struct ibp_workspace *ws;
    struct ibp_error err;
    CHECK_OK(ibp_ws_create(net, n, IBP_WS_CLEAN, &ws, &err), err);
    ibp_ws_set_threads(ws, 1);
    CHECK_OK(ibp_pass_clean(net, ws, x, n, IBP_BN_EVAL, z, &err), err);
    ibp_ws_free(ws);
}

/* N images as an ERAN-style CSV; labels: the network's prediction on even samples,
 * random on odd ones. */
static void write_csv(const struct ibp_net *net, const char *file)
{
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 77, 0);
    uint8_t *p = malloc((size_t)N * PIX);
    float *x = malloc((size_t)N * PIX * sizeof(float)), z[N * 10];
    for (int i = 0; i < N * PIX; i++) {
        p[i] = (uint8_t)(ibp_rng_below(&rng, 4) == 0 ? 0 : 64 + ibp_rng_below(&rng, 192));
        x[i] = (float)p[i] / 255.0f;
    }
    clean_forward(net, x, N, z);
    FILE *f = fopen(tu_path(file), "w");
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int j = 1; j < 10; j++)
            if (z[i * 10 + j] > z[i * 10 + best])
                best = j;
        fprintf(f, "%d", i % 2 == 0 ? best : (int)ibp_rng_below(&rng, 10));
        for (int k = 0; k < PIX; k++)
            fprintf(f, ",%d", p[(size_t)i * PIX + k]);
        fprintf(f, "\n");
    }
    fclose(f);
    free(p);
    free(x);
}

/* The CSV records of `model`, each without its model and seconds fields, one per line. */
static char *records_of(const char *csv, const char *model)
{
    size_t cap = strlen(csv) + 1, len = 0;
    char *r = malloc(cap);
    r[0] = '\0';
    size_t mlen = strlen(model);
    for (const char *line = csv; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (n > mlen && strncmp(line, model, mlen) == 0 && line[mlen] == ',') {
            const char *last = NULL, *before = NULL;
            for (const char *q = line; q < line + n; q++)
                if (*q == ',') {
                    before = last;
                    last = q;
                }
            /* fields after the model up to the seconds, then the last field */
            size_t a = (size_t)(before - (line + mlen));
            memcpy(r + len, line + mlen, a);
            len += a;
            size_t b = (size_t)(line + n - last);
            memcpy(r + len, last, b);
            len += b;
            r[len++] = '\n';
            r[len] = '\0';
        }
        line = end ? end + 1 : line + n;
    }
    return r;
}

/* One bad input: exit 1, one line on stderr containing every needle, nothing on stdout. */
static void bad(const char *args, const char *needle1, const char *needle2)
{
    char *out, *err;
    int rc = run(verify_prog, args, &out, &err);
    CHECK_MSG(rc == 1, "%s: exit %d", args, rc);
    CHECK_MSG(out && out[0] == '\0', "%s: stdout not empty", args);
    CHECK_MSG(tu_lines(err) == 1 && tu_has(err, needle1) && tu_has(err, needle2),
              "%s: stderr should name '%s' and '%s': %s", args, needle1, needle2,
              err ? err : "");
    free(out);
    free(err);
}

/* The model in `path` (model file) gives bit-identical logits to net on random inputs. */
static void same_forward(const struct ibp_net *net, const char *path)
{
    struct ibp_net *b;
    struct ibp_error err;
    CHECK_OK(ibp_model_load(path, &b, NULL, &err), err);
    if (!b)
        return;
    CHECK(b->n_layers == net->n_layers && b->n_params == net->n_params &&
          b->n_buffers == net->n_buffers);
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 3, 0);
    size_t in = ibp_shape_size(net->input);
    float *x = malloc(4 * in * sizeof(float)), za[40], zb[40];
    for (size_t i = 0; i < 4 * in; i++)
        x[i] = (float)ibp_rng_below(&rng, 256) / 255.0f;
    clean_forward(net, x, 4, za);
    clean_forward(b, x, 4, zb);
    CHECK_MSG(memcmp(za, zb, sizeof za) == 0, "%s: logits differ (%.9g vs %.9g)", path,
              (double)za[0], (double)zb[0]);
    free(x);
    ibp_net_free(b);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_cli_onnx PATH/ibp-verify PATH/ibp-model\n");
        return 1;
    }
    verify_prog = argv[1];
    model_prog = argv[2];
    tu_init();
    struct ibp_error err;
    struct ibp_model_meta meta = {"cnn-small", 0, NULL};
    struct ibp_net *cnn = make_cnn(), *bare = without_first_layer(cnn);
    struct ibp_net *mlp_flat = make_mlp(1), *mlp = make_mlp(0);
    CHECK_OK(ibp_model_save(tu_path("m.ibpm"), cnn, &meta, &err), err);
    CHECK_OK(ibp_onnx_export(cnn, tu_path("m.onnx"), &err), err);
    CHECK_OK(ibp_onnx_export(bare, tu_path("bare.onnx"), &err), err);
    CHECK_OK(ibp_onnx_export(mlp_flat, tu_path("flat.onnx"), &err), err);
    CHECK_OK(ibp_model_save(tu_path("mlp.ibpm"), mlp, NULL, &err), err);
    /* the model file's content, not its name, says what it is */
    CHECK_OK(ibp_onnx_export(cnn, tu_path("m_onnx.bin"), &err), err);
    write_csv(cnn, "data.csv");

    char args[8192], *out, *errs, data[1024];
    snprintf(data, sizeof data, "csv:%s", tu_path("data.csv"));

    /* the model file, its ONNX export (normalisation in the graph), the same file under
     * another name, and the export without normalisation given --mean/--std */
    snprintf(args, sizeof args,
             "-m %s -m %s -m %s --data %s --eps 0,0.02 --methods ibp,crown-ibp,crown %s --csv %s",
             tu_path("m.ibpm"), tu_path("m.onnx"), tu_path("m_onnx.bin"), data, ATTACK,
             tu_path("a.csv"));
    int rc = run(verify_prog, args, &out, &errs);
    CHECK_MSG(rc == 0, "exit %d: %s", rc, errs);
    CHECK(tu_has(out, "| 0.02 | ibp+crown-ibp+crown | 16 |"));
    free(out);
    free(errs);
    snprintf(args, sizeof args,
             "-m %s --data %s --eps 0,0.02 --methods ibp,crown-ibp,crown --mean 0.1307 "
             "--std 0.3081 %s --csv %s",
             tu_path("bare.onnx"), data, ATTACK, tu_path("b.csv"));
    rc = run(verify_prog, args, &out, &errs);
    CHECK_MSG(rc == 0, "--mean/--std: exit %d: %s", rc, errs);
    free(out);
    free(errs);
    char *csv_a = tu_slurp(tu_path("a.csv")), *csv_b = tu_slurp(tu_path("b.csv"));
    CHECK(csv_a && csv_b);
    if (csv_a && csv_b) {
        char *ra = records_of(csv_a, tu_path("m.ibpm")), *ro = records_of(csv_a, tu_path("m.onnx"));
        char *rn = records_of(csv_a, tu_path("m_onnx.bin"));
        char *rb = records_of(csv_b, tu_path("bare.onnx"));
        CHECK_MSG(tu_lines(ra) == 2 * N, "%d records of m.ibpm", tu_lines(ra));
        CHECK_MSG(strcmp(ra, ro) == 0, "model file and ONNX records differ:\n%s\n%s", ra, ro);
        CHECK(strcmp(ra, rn) == 0);
        CHECK_MSG(strcmp(ra, rb) == 0, "prologue and --mean/--std records differ:\n%s\n%s", ra,
                  rb);
        /* something was certified at 0.02 and something was not */
        CHECK(tu_has(ra, ",certified,") && (tu_has(ra, ",attacked,") || tu_has(ra, ",unknown,")));
        free(ra);
        free(ro);
        free(rn);
        free(rb);
    }
    free(csv_a);
    free(csv_b);

    /* a flat-input ONNX model takes the images row-major, like a FLATTEN */
    snprintf(args, sizeof args, "-m %s -m %s --data %s --eps 0.01 %s --csv %s",
             tu_path("mlp.ibpm"), tu_path("flat.onnx"), data, ATTACK, tu_path("f.csv"));
    rc = run(verify_prog, args, &out, &errs);
    CHECK_MSG(rc == 0, "flat: exit %d: %s", rc, errs);
    free(out);
    free(errs);
    csv_a = tu_slurp(tu_path("f.csv"));
    if (csv_a) {
        char *ra = records_of(csv_a, tu_path("mlp.ibpm"));
        char *rf = records_of(csv_a, tu_path("flat.onnx"));
        CHECK(tu_lines(ra) == N && strcmp(ra, rf) == 0);
        free(ra);
        free(rf);
    }
    free(csv_a);

    /* counterexample PNGs and the deployment gate with an ONNX model */
    snprintf(args, sizeof args, "-m %s --data %s --eps 0.05 %s --save-adv %s "
             "--min-verified-accuracy 100%%",
             tu_path("m.onnx"), data, ATTACK, tu_path("adv"));
    rc = run(verify_prog, args, &out, &errs);
    CHECK_MSG(rc == 3, "gate: exit %d: %s", rc, errs);
    CHECK(tu_has(out, "| 0.05 |") && tu_has(errs, "below the required 100.00%"));
    CHECK(tu_count_png(tu_path("adv")) > 0);
    free(out);
    free(errs);

    /* bad inputs: one line naming the file, exit 1, no report */
    snprintf(args, sizeof args, "-m %s --data %s --eps 0.01 --mean 0.1307 --std 0.3081 %s",
             tu_path("m.onnx"), data, ATTACK);
    bad(args, "m.onnx", "twice");
    snprintf(args, sizeof args, "-m %s --data %s --eps 0.01 --mean 0.5 --std 0.5 %s",
             tu_path("m.ibpm"), data, ATTACK);
    bad(args, "m.ibpm", "twice");
    uint8_t rec[2 * (3 * 32 * 32 + 1)];
    memset(rec, 100, sizeof rec);
    rec[0] = rec[3 * 32 * 32 + 1] = 1;
    tu_write(tu_path("cifar.bin"), rec, sizeof rec, 0);
    snprintf(args, sizeof args, "-m %s --data cifar10:%s --eps 0.01 %s", tu_path("m.onnx"),
             tu_path("cifar.bin"), ATTACK);
    bad(args, "m.onnx: input 1x28x28, 10 classes", "3x32x32");
    snprintf(args, sizeof args, "-m %s --data cifar10:%s --eps 0.01 %s", tu_path("flat.onnx"),
             tu_path("cifar.bin"), ATTACK);
    bad(args, "flat.onnx: input 784x1x1", "3x32x32");
    ibp_layer_weight(cnn, 1)[3] = NAN;
    CHECK_OK(ibp_onnx_export(cnn, tu_path("nan.onnx"), &err), err);
    CHECK_OK(ibp_model_save(tu_path("nan.ibpm"), cnn, &meta, &err), err);
    snprintf(args, sizeof args, "-m %s --data %s --eps 0.01 %s", tu_path("nan.onnx"), data,
             ATTACK);
    bad(args, "nan.onnx", "conv2d");
    snprintf(args, sizeof args, "-m %s -m %s --data %s --eps 0.01 %s", tu_path("m.onnx"),
             tu_path("nan.ibpm"), data, ATTACK);
    bad(args, "nan.ibpm", "conv2d");
    tu_write(tu_path("junk.bin"), "not a model", 11, 0);
    snprintf(args, sizeof args, "-m %s --data %s --eps 0.01 %s", tu_path("junk.bin"), data,
             ATTACK);
    bad(args, "junk.bin", "neither");
    snprintf(args, sizeof args, "-m %s --data %s --eps 0.01 --mean 0.1 %s", tu_path("bare.onnx"),
             data, ATTACK);
    rc = run(verify_prog, args, &out, &errs);
    CHECK_MSG(rc == 2 && tu_lines(errs) == 1 && tu_has(errs, "--std"), "--mean alone: exit %d: %s",
              rc, errs);
    free(out);
    free(errs);

    /* ibp-model info on each kind */
    snprintf(args, sizeof args, "info %s", tu_path("m.ibpm"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 0 && tu_has(out, "model file") && tu_has(out, "cnn-small") &&
                  tu_has(out, "input          1x28x28") && tu_has(out, "classes        10") &&
                  tu_has(out, "mean 0.1307\n") && tu_has(out, "std  0.3081\n") &&
                  tu_has(out, "conv2d    -> 16x14x14"),
              "info m.ibpm: exit %d\n%s%s", rc, out, errs);
    free(out);
    free(errs);
    snprintf(args, sizeof args, "info %s", tu_path("bare.onnx"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 0 && tu_has(out, "ONNX (ir version") && tu_has(out, "opset 13") &&
                  tu_has(out, "normalisation  none") && tu_has(out, "BatchNormalization x3"),
              "info bare.onnx: exit %d\n%s%s", rc, out, errs);
    free(out);
    free(errs);

    /* ibp-model convert: model file -> ONNX -> model file, identical logits */
    snprintf(args, sizeof args, "convert %s %s", tu_path("m.ibpm"), tu_path("c.onnx"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 0, "convert to onnx: exit %d: %s", rc, errs);
    free(out);
    free(errs);
    snprintf(args, sizeof args, "convert %s %s", tu_path("c.onnx"), tu_path("c.ibpm"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 0, "convert to ibpm: exit %d: %s", rc, errs);
    free(out);
    free(errs);
    ibp_layer_weight(cnn, 1)[3] = 0.0f;
    struct ibp_net *orig;
    CHECK_OK(ibp_model_load(tu_path("m.ibpm"), &orig, NULL, &err), err);
    if (orig) {
        same_forward(orig, tu_path("c.ibpm"));
        ibp_net_free(orig);
    }
    snprintf(args, sizeof args, "convert %s %s", tu_path("flat.onnx"), tu_path("flat.ibpm"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 0, "convert flat: exit %d: %s", rc, errs);
    free(out);
    free(errs);
    same_forward(mlp_flat, tu_path("flat.ibpm"));
    /* convert with --mean/--std: the model file carries the normalisation */
    snprintf(args, sizeof args, "convert %s %s --mean 0.1307 --std 0.3081", tu_path("bare.onnx"),
             tu_path("bare.ibpm"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 0, "convert --mean/--std: exit %d: %s", rc, errs);
    free(out);
    free(errs);
    CHECK_OK(ibp_model_load(tu_path("m.ibpm"), &orig, NULL, &err), err);
    if (orig) {
        same_forward(orig, tu_path("bare.ibpm"));
        ibp_net_free(orig);
    }
    /* bad uses: an unknown output kind (2), --mean without --std (2), a normalisation
     * given twice (1), a file of neither kind (1) */
    snprintf(args, sizeof args, "convert %s %s --mean 0.5", tu_path("bare.onnx"),
             tu_path("x.ibpm"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 2 && tu_lines(errs) == 1 && tu_has(errs, "--std"), "--mean alone: exit %d", rc);
    free(out);
    free(errs);
    snprintf(args, sizeof args, "info %s --mean 0.5 --std 2", tu_path("m.onnx"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 1 && out[0] == '\0' && tu_lines(errs) == 1 && tu_has(errs, "twice"),
              "info twice: exit %d", rc);
    free(out);
    free(errs);
    snprintf(args, sizeof args, "convert %s %s", tu_path("m.ibpm"), tu_path("m.txt"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 2 && tu_lines(errs) == 1 && tu_has(errs, "m.txt"), "convert .txt: exit %d", rc);
    free(out);
    free(errs);
    snprintf(args, sizeof args, "info %s", tu_path("junk.bin"));
    rc = run(model_prog, args, &out, &errs);
    CHECK_MSG(rc == 1 && out[0] == '\0' && tu_lines(errs) == 1 && tu_has(errs, "junk.bin"),
              "info junk: exit %d", rc);
    free(out);
    free(errs);

    ibp_net_free(cnn);
    ibp_net_free(bare);
    ibp_net_free(mlp_flat);
    ibp_net_free(mlp);
    tu_cleanup();
    return check_report();
}
