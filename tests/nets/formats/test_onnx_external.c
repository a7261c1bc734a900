/* External ONNX models (../shared/data): every ERAN MNIST, VNN-COMP 2022 and VNN-COMP
 * 2021 cifar10_resnet network imports with the expected structure; the import computes
 * what the original networks compute (the VNN-COMP counterexamples' outputs, ERAN's
 * known misclassified images).
 * Data: IBP_TEST_SHARED_DATA (tests/common/test_paths.h); exit 77 (skip) when the data is missing. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/ref_net.h"
#include "nets/base/gzread.h"
#include "nets/formats/onnx_import.h"
#include "nets/passes/passes.h"
#include "tests/common/check.h"
#include "tests/common/test_paths.h"

static const char *data_dir;

static void path_of(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", data_dir, rel);
}

/* Layer kinds as one letter each, for compact structure checks. */
static void kinds(const struct ibp_net *net, char *buf)
{
    static const char letters[IBP_LAYER_KIND_COUNT] = {
        [IBP_LAYER_NORMALIZE] = 'N', [IBP_LAYER_LINEAR] = 'L', [IBP_LAYER_CONV2D] = 'C',
        [IBP_LAYER_BATCHNORM] = 'B', [IBP_LAYER_RELU] = 'R',  [IBP_LAYER_FLATTEN] = 'F',
        [IBP_LAYER_ADD] = 'A',       [IBP_LAYER_AVGPOOL] = 'P', [IBP_LAYER_MAXPOOL] = 'M'};
    int k;
    for (k = 0; k < net->n_layers; k++)
        buf[k] = letters[net->layers[k].kind];
    buf[k] = '\0';
}

static const float mnist_mean = 0.1307f, mnist_std = 0.3081f;

static struct ibp_net *load(const char *rel, int normalise, struct ibp_onnx_info *info)
{
    char path[1024];
    path_of(path, sizeof path, rel);
    struct ibp_onnx_options opt = {0};
    if (normalise) {
        opt.n_norm = 1;
        opt.norm_mean = &mnist_mean;
        opt.norm_std = &mnist_std;
    }
    struct ibp_net *net = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_onnx_load(path, &opt, &net, info, &err);
    CHECK_OK(st, err);
    return net;
}

/* The library's float32 forward pass (ibp_pass_clean, BN eval) of a batch:
 * x[batch][inputs] in double, y[batch][outputs]. Returns 0 on success. */
static int engine_forward(const struct ibp_net *net, const double *x, int batch, double *y)
{
    size_t n = ibp_shape_size(net->input), m = (size_t)ibp_net_outputs(net);
    struct ibp_workspace *ws = NULL;
    struct ibp_error err = {0};
    float *xf = malloc((size_t)batch * n * sizeof *xf);
    float *yf = malloc((size_t)batch * m * sizeof *yf);
    enum ibp_status st = xf && yf ? ibp_ws_create(net, batch, IBP_WS_CLEAN, &ws, &err)
                                  : IBP_ERR_NOMEM;
    if (st == IBP_OK) {
        for (size_t i = 0; i < (size_t)batch * n; i++)
            xf[i] = (float)x[i];
        st = ibp_pass_clean(net, ws, xf, batch, IBP_BN_EVAL, yf, &err);
    }
    CHECK_OK(st, err);
    for (size_t i = 0; st == IBP_OK && i < (size_t)batch * m; i++)
        y[i] = yf[i];
    ibp_ws_free(ws);
    free(xf);
    free(yf);
    return st == IBP_OK ? 0 : -1;
}

/* ---- ERAN MNIST ---- */

struct eran_case {
    const char *file;
    int normalise;
    const char *kinds;
    size_t params;
    const char *misclassified; /* known facts (data README), NULL: none stated */
};

static const struct eran_case eran_cases[] = {
    {"convSmallRELU__Point.onnx", 1, "NCRCRFLRL", 16 * 16 + 16 + 32 * 256 + 32 + 80100 + 1010, ""},
    {"convSmallRELU__PGDK.onnx", 1, "NCRCRFLRL", 16 * 16 + 16 + 32 * 256 + 32 + 80100 + 1010, NULL},
    {"convSmallRELU__DiffAI.onnx", 1, "NCRCRFLRL", 16 * 16 + 16 + 32 * 256 + 32 + 80100 + 1010, NULL},
    {"mnist_relu_3_50.onnx", 0, "FLRLRLR", 784 * 50 + 50 + 2550 + 510, "8 33"},
    {"mnist_relu_3_100.onnx", 0, "FLRLRLR", 78500 + 10100 + 1010, NULL},
    {"mnist_relu_6_100.onnx", 0, "FLRLRLRLRLRLR", 78500 + 4 * 10100 + 1010, "65"},
    {"mnist_relu_6_200.onnx", 0, "FLRLRLRLRLRLR", 157000 + 4 * 40200 + 2010, "38"},
    {"mnist_relu_9_100.onnx", 0, "FLRLRLRLRLRLRLRLRLR", 78500 + 7 * 10100 + 1010, NULL},
    /* not stated in the data README, but it is accurate only on normalised inputs
     * (19 of 100 wrong on raw pixels, 1 normalised) */
    {"mnist_conv_maxpool.onnx", 1, "NCRCRMCRCRMFLRLRLR",
     80 + 584 + 1022 + 1778 + 11250 + 2550 + 510, NULL},
};

#define N_IMAGES 100

/* Reads mnist_test.csv: label,p0..p783 (0..255) -> pixels in [0,1]. */
static int read_mnist_csv(const char *path, int *labels, double *pixels)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0;
    char line[8192];
    while (n < N_IMAGES && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 9)
            break;
        labels[n] = (int)v;
        int i;
        for (i = 0; i < 784; i++) {
            if (*end != ',')
                break;
            p = end + 1;
            v = strtol(p, &end, 10);
            if (end == p || v < 0 || v > 255)
                break;
            pixels[(size_t)n * 784 + (size_t)i] = (double)v / 255.0;
        }
        if (i != 784)
            break;
        n++;
    }
    fclose(f);
    return n;
}

static int argmax(const double *y, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (y[i] > y[best])
            best = i;
    return best;
}

static void test_eran(void)
{
    char path[1024];
    static double pixels[N_IMAGES * 784];
    int labels[N_IMAGES];
    path_of(path, sizeof path, "eran-mnist/mnist_test.csv");
    int n_img = read_mnist_csv(path, labels, pixels);
    CHECK(n_img == N_IMAGES);
    for (size_t c = 0; c < sizeof eran_cases / sizeof eran_cases[0]; c++) {
        const struct eran_case *ec = &eran_cases[c];
        char rel[256], got[64];
        snprintf(rel, sizeof rel, "eran-mnist/%s", ec->file);
        struct ibp_onnx_info info;
        struct ibp_net *net = load(rel, ec->normalise, &info);
        if (!net)
            continue;
        kinds(net, got);
        CHECK_MSG(strcmp(got, ec->kinds) == 0, "%s: layers %s, expected %s", ec->file, got,
                  ec->kinds);
        CHECK_MSG(net->n_params == ec->params, "%s: %zu parameters, expected %zu", ec->file,
                  net->n_params, ec->params);
        CHECK(ibp_net_outputs(net) == 10 && info.n_outputs == 10 && info.n_inputs == 784);
        CHECK(ibp_shape_size(net->input) == 784);
        char wrong[256] = "";
        int n_wrong = 0, agree = 1;
        static double y32[N_IMAGES * 10];
        CHECK(engine_forward(net, pixels, n_img, y32) == 0);
        for (int i = 0; i < n_img; i++) {
            double y[10];
            CHECK(ref_forward(net, &pixels[(size_t)i * 784], y) == 0);
            for (int j = 0; j < 10; j++)
                agree &= fabs(y[j] - y32[i * 10 + j]) <= 1e-4;
            agree &= argmax(y, 10) == argmax(&y32[i * 10], 10);
            if (argmax(y, 10) != labels[i]) {
                size_t len = strlen(wrong);
                snprintf(wrong + len, sizeof wrong - len, "%s%d", len ? " " : "", i);
                n_wrong++;
            }
        }
        CHECK_MSG(agree, "%s: float32 pass and double reference disagree", ec->file);
        printf("%-28s layers %-20s params %7zu  opset %lld  misclassified %d: %s\n", ec->file,
               got, net->n_params, (long long)info.opset, n_wrong, wrong);
        if (ec->misclassified)
            CHECK_MSG(strcmp(wrong, ec->misclassified) == 0, "%s: misclassified '%s', expected '%s'",
                      ec->file, wrong, ec->misclassified);
        ibp_net_free(net);
    }
}

/* ---- VNN-COMP 2022 ---- */

static void test_vnncomp_structure(void)
{
    static const struct {
        const char *file, *kinds;
        int inputs, outputs;
    } cases[] = {
        {"vnncomp2022/test/test_nano.onnx", "LR", 1, 1},
        {"vnncomp2022/test/test_tiny.onnx", "LRL", 1, 1},
        {"vnncomp2022/test/test_small.onnx", "LRLRL", 1, 1},
        {"vnncomp2022/test/test_sat.onnx", "NFLRLRLRLRLRLRL", 5, 5},
        {"vnncomp2022/test/test_unsat.onnx", "NFLRLRLRLRLRLRL", 5, 5},
        {"vnncomp2022/mnist_fc/onnx/mnist-net_256x2.onnx.gz", "LRLRL", 784, 10},
        {"vnncomp2022/mnist_fc/onnx/mnist-net_256x4.onnx.gz", "LRLRLRLRL", 784, 10},
        {"vnncomp2022/mnist_fc/onnx/mnist-net_256x6.onnx.gz", "LRLRLRLRLRLRL", 784, 10},
        /* residual, from PyTorch: the 1x1 stride-2 shortcut convs read the block's input */
        {"vnncomp2021/cifar10_resnet/onnx/resnet_2b.onnx.gz", "CRCRCCARCRCARFLRL", 3072, 10},
        {"vnncomp2021/cifar10_resnet/onnx/resnet_4b.onnx.gz", "CRCRCCARCRCARCRCCARCRCARFLRL",
         3072, 10},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct ibp_onnx_info info;
        struct ibp_net *net = load(cases[c].file, 0, &info);
        if (!net)
            continue;
        char got[64];
        kinds(net, got);
        CHECK_MSG(strcmp(got, cases[c].kinds) == 0, "%s: layers %s, expected %s",
                  cases[c].file, got, cases[c].kinds);
        CHECK((int)info.n_inputs == cases[c].inputs && info.n_outputs == cases[c].outputs);
        CHECK((int)ibp_shape_size(net->input) == cases[c].inputs);
        printf("%-50s layers %-14s params %7zu  opset %lld  ops", cases[c].file, got,
               net->n_params, (long long)info.opset);
        for (int i = 0; i < info.n_ops; i++)
            printf(" %s x%d", info.ops[i], info.op_counts[i]);
        printf("\n");
        ibp_net_free(net);
    }
}

/* Parses a VNN-COMP counterexample: "(X_i v)" and "(Y_j v)" entries, any order. */
static int parse_counterexample(const char *text, double *x, int nx, double *y, int ny)
{
    int seen_x = 0, seen_y = 0;
    for (const char *p = text; (p = strchr(p, '(')) != NULL;) {
        p++;
        while (*p == '(')
            p++;
        char var = *p;
        if ((var != 'X' && var != 'Y') || p[1] != '_')
            continue;
        char *end;
        long idx = strtol(p + 2, &end, 10);
        double v = strtod(end, &end);
        if (*end != ')')
            return -1;
        if (var == 'X' && idx >= 0 && idx < nx) {
            x[idx] = v;
            seen_x++;
        } else if (var == 'Y' && idx >= 0 && idx < ny) {
            y[idx] = v;
            seen_y++;
        } else {
            return -1;
        }
        p = end;
    }
    return seen_x == nx && seen_y == ny ? 0 : -1;
}

static void test_counterexamples(void)
{
    char dir_path[1024];
    path_of(dir_path, sizeof dir_path, "vnncomp2022/mnist_fc/counterexamples");
    DIR *d = opendir(dir_path);
    CHECK(d != NULL);
    if (!d)
        return;
    struct ibp_net *nets[3] = {NULL, NULL, NULL};
    const char *names[3] = {"256x2", "256x4", "256x6"};
    for (int i = 0; i < 3; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "vnncomp2022/mnist_fc/onnx/mnist-net_%s.onnx.gz", names[i]);
        nets[i] = load(rel, 0, NULL);
    }
    int files = 0;
    double worst = 0.0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".counterexample"))
            continue;
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (strstr(e->d_name, names[i]))
                which = i;
        CHECK_MSG(which >= 0 && nets[which], "%s: no network", e->d_name);
        if (which < 0 || !nets[which])
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        unsigned char *text;
        size_t size;
        struct ibp_error err = {0};
        enum ibp_status st = ibp_gz_read_file(path, 1 << 24, &text, &size, &err);
        CHECK_OK(st, err);
        if (st != IBP_OK)
            continue;
        double x[784], y[10], z[10];
        int rc = parse_counterexample((const char *)text, x, 784, y, 10);
        free(text);
        CHECK_MSG(rc == 0, "%s: cannot parse", e->d_name);
        if (rc)
            continue;
        double z32[10];
        CHECK(ref_forward(nets[which], x, z) == 0);
        CHECK(engine_forward(nets[which], x, 1, z32) == 0);
        for (int j = 0; j < 10; j++) {
            CHECK_NEAR(z[j], y[j], 1e-4);
            CHECK_NEAR(z32[j], y[j], 1e-4);
            worst = fmax(worst, fmax(fabs(z[j] - y[j]), fabs(z32[j] - y[j])));
        }
        files++;
    }
    closedir(d);
    CHECK_MSG(files == 18, "%d counterexample files, expected 18", files);
    printf("counterexamples: %d files, largest |Y - forward| (double and float32 passes) = %.3g\n",
           files, worst);
    for (int i = 0; i < 3; i++)
        ibp_net_free(nets[i]);
}

int main(int argc, char **argv)
{
    data_dir = IBP_TEST_SHARED_DATA;
    char probe[1024];
    path_of(probe, sizeof probe, "vnncomp2022/mnist_fc/instances.csv");
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("%s not found: skipped\n", probe);
        return 77;
    }
    fclose(f);
    test_vnncomp_structure();
    test_counterexamples();
    test_eran();
    return check_report();
}
