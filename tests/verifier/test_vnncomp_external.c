/* VNN-COMP mode and bound methods against ../shared/data (see its README):
 *   - vnncomp2022/test: all five answers right; the sat counterexample passes the check;
 *   - vnncomp2022/mnist_fc: the 18 published counterexamples pass our checker; all 90
 *     instances with a short time limit give no wrong answer (never unsat where sat is
 *     known, never sat without a valid counterexample), and every known sat is found;
 *   - eran-mnist convSmallRELU__Point at eps = 0.12: the images with known adversarial
 *     examples are never certified, by IBP or CROWN (sound mode), and CROWN certifies at
 *     least as many images as IBP, and PGD breaks none of the CROWN-certified images;
 *   - fuzz-style: truncated and bit-flipped copies of a real ONNX network (plain and
 *     gzip) and VNN-LIB property give an error naming the file, or (flips inside the
 *     weights or numbers) a valid network/property on which a short run answers
 *     without fault and any counterexample passes the check.
 * Usage: test_vnncomp_external [SECONDS_PER_INSTANCE] (data: IBP_TEST_SHARED_DATA); exit 77 (skip) when the
 * data is missing. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets/csv.h"
#include "nets/bounds/bounds.h"
#include "nets/base/gzread.h"
#include "nets/formats/onnx_import.h"
#include "tests/common/check.h"
#include "tests/common/test_paths.h"
#include "nets/passes/attack.h"
#include "verifier/vnncomp.h"

static const char *data_dir;
static double seconds_per_instance = 2.0;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct loaded {
    struct ibp_net *net;
    struct ibp_vnnlib *prop;
};

static int load_pair(const char *onnx, const char *vnnlib, struct loaded *l)
{
    struct ibp_error err = {0};
    l->net = NULL;
    l->prop = NULL;
    enum ibp_status st = ibp_onnx_load(onnx, NULL, &l->net, NULL, &err);
    CHECK_OK(st, err);
    if (st == IBP_OK) {
        st = ibp_vnnlib_load(vnnlib, &l->prop, &err);
        CHECK_OK(st, err);
    }
    return st == IBP_OK ? 0 : -1;
}

static void free_pair(struct loaded *l)
{
    ibp_net_free(l->net);
    ibp_vnnlib_free(l->prop);
}

/* Formats a sat result, reads it back and checks it as an outside checker would. */
static int counterexample_ok(const struct loaded *l, const struct ibp_vnncomp_result *res,
                             const char *what)
{
    char *text = NULL;
    size_t len;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnncomp_result_format(res, l->prop, &text, &len, &err);
    CHECK_OK(st, err);
    double *x = malloc((size_t)l->prop->n_inputs * sizeof *x);
    double *y = malloc((size_t)l->prop->n_outputs * sizeof *y);
    int valid = 0;
    char why[IBP_ERROR_LEN] = "";
    if (st == IBP_OK && x && y) {
        st = ibp_vnncomp_counterexample_parse(text, len, what, l->prop->n_inputs,
                                              l->prop->n_outputs, x, y, &err);
        CHECK_OK(st, err);
        if (st == IBP_OK) {
            st = ibp_vnncomp_counterexample_check(l->net, l->prop, x, y, 1e-4, &valid, why,
                                                  &err);
            CHECK_OK(st, err);
        }
    }
    CHECK_MSG(valid, "%s: counterexample rejected: %s", what, why);
    free(x);
    free(y);
    free(text);
    return valid;
}

/* The five test instances, with the default chain, and with input splitting alone
 * (no one-shot bound method, a one-restart one-step attack). */
static void test_small(int split_only)
{
    char csv[1024];
    snprintf(csv, sizeof csv, "%s/vnncomp2022/test/instances.csv", data_dir);
    struct ibp_vnncomp_instances *t = NULL;
    struct ibp_vnncomp_verdicts *v = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnncomp_instances_load(csv, &t, &err);
    CHECK_OK(st, err);
    snprintf(csv, sizeof csv, "%s/vnncomp2022/test/verdicts.csv", data_dir);
    if (st == IBP_OK)
        st = ibp_vnncomp_verdicts_load(csv, &v, &err);
    CHECK_OK(st, err);
    if (st != IBP_OK) {
        ibp_vnncomp_instances_free(t);
        return;
    }
    CHECK(t->n == 5);
    int right = 0;
    for (int i = 0; i < t->n; i++) {
        struct loaded l;
        if (load_pair(t->rows[i].onnx_path, t->rows[i].vnnlib_path, &l) == 0) {
            struct ibp_vnncomp_config cfg;
            ibp_vnncomp_config_default(&cfg);
            cfg.threads = 1; /* tests run side by side: no OpenMP team waiting on a core */
            cfg.time_limit = t->rows[i].timeout;
            if (split_only) {
                cfg.methods = 0;
                cfg.first_restarts = 1;
                cfg.attack_steps = 1;
                cfg.rounds = 0;
            }
            struct ibp_vnncomp_result res = {0};
            st = ibp_vnncomp_verify(l.net, l.prop, &cfg, &res, &err);
            CHECK_OK(st, err);
            enum ibp_vnn_verdict want = ibp_vnncomp_verdict_find(v, t->rows[i].onnx,
                                                                 t->rows[i].vnnlib);
            int ok = st == IBP_OK &&
                     ((want == IBP_VNN_VERDICT_SAT && res.answer == IBP_VNN_SAT) ||
                      (want == IBP_VNN_VERDICT_UNSAT && res.answer == IBP_VNN_UNSAT));
            if (ok && res.answer == IBP_VNN_SAT)
                ok = counterexample_ok(&l, &res, t->rows[i].onnx);
            CHECK_MSG(ok, "%s %s: %s, expected %s", t->rows[i].onnx, t->rows[i].vnnlib,
                      ibp_vnn_answer_name(res.answer), ibp_vnn_verdict_name(want));
            if (split_only && res.answer == IBP_VNN_UNSAT)
                CHECK(strcmp(res.decided_by, "input-split") == 0);
            right += ok;
            printf("test/%-16s %-18s %-6s (%s, %.3f s)\n", t->rows[i].onnx, t->rows[i].vnnlib,
                   ibp_vnn_answer_name(res.answer), res.decided_by, res.seconds_total);
            ibp_vnncomp_result_clear(&res);
        }
        free_pair(&l);
    }
    CHECK(right == 5);
    ibp_vnncomp_instances_free(t);
    ibp_vnncomp_verdicts_free(v);
}

/* The published counterexamples of mnist_fc pass our checker (X in the box, our float32
 * outputs within 1e-4 of the recorded Y and violating the property). */
static void test_reference_counterexamples(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vnncomp2022/mnist_fc/counterexamples", data_dir);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *p_at = strstr(e->d_name, "_prop_"), *dot = strstr(e->d_name, ".counter");
        if (!p_at || !dot || p_at - e->d_name >= 60 || dot - p_at >= 60)
            continue;
        char onnx[2048], vnnlib[2048], path[2048];
        snprintf(onnx, sizeof onnx, "%s/vnncomp2022/mnist_fc/onnx/%.*s.onnx.gz", data_dir,
                 (int)(p_at - e->d_name), e->d_name);
        snprintf(vnnlib, sizeof vnnlib, "%s/vnncomp2022/mnist_fc/vnnlib/%.*s.vnnlib.gz", data_dir,
                 (int)(dot - p_at - 1), p_at + 1);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct loaded l;
        unsigned char *text = NULL;
        size_t size;
        struct ibp_error err = {0};
        if (load_pair(onnx, vnnlib, &l) == 0 &&
            ibp_gz_read_file(path, 1 << 24, &text, &size, &err) == IBP_OK) {
            double x[784], y[10];
            int valid = 0;
            char why[IBP_ERROR_LEN] = "";
            enum ibp_status st = ibp_vnncomp_counterexample_parse((const char *)text, size,
                                                                  e->d_name, 784, 10, x, y, &err);
            CHECK_OK(st, err);
            if (st == IBP_OK)
                st = ibp_vnncomp_counterexample_check(l.net, l.prop, x, y, 1e-4, &valid, why,
                                                      &err);
            CHECK_OK(st, err);
            CHECK_MSG(valid, "%s: %s", e->d_name, why);
            n += valid;
        }
        free(text);
        free_pair(&l);
    }
    closedir(d);
    CHECK_MSG(n == 18, "%d reference counterexamples accepted, expected 18", n);
    printf("mnist_fc: %d published counterexamples accepted by our checker\n", n);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every mnist_fc instance with a short limit: no wrong answer, every known sat found. */
static void test_mnist_fc(void)
{
    char csv[1024];
    struct ibp_vnncomp_instances *t = NULL;
    struct ibp_vnncomp_verdicts *v = NULL;
    struct ibp_error err = {0};
    snprintf(csv, sizeof csv, "%s/vnncomp2022/mnist_fc/instances.csv", data_dir);
    enum ibp_status st = ibp_vnncomp_instances_load(csv, &t, &err);
    CHECK_OK(st, err);
    snprintf(csv, sizeof csv, "%s/vnncomp2022/mnist_fc/verdicts.csv", data_dir);
    if (st == IBP_OK)
        st = ibp_vnncomp_verdicts_load(csv, &v, &err);
    CHECK_OK(st, err);
    if (st != IBP_OK) {
        ibp_vnncomp_instances_free(t);
        return;
    }
    CHECK(t->n == 90);
    int counts[4][IBP_VNN_ANSWER_COUNT] = {{0}}, wrong = 0;
    double *times = calloc((size_t)t->n, sizeof *times);
    for (int i = 0; i < t->n && times; i++) {
        double t0 = now_seconds();
        struct loaded l;
        enum ibp_vnn_verdict want = ibp_vnncomp_verdict_find(v, t->rows[i].onnx,
                                                             t->rows[i].vnnlib);
        CHECK_MSG(want != IBP_VNN_VERDICT_NONE, "%s %s: no verdict", t->rows[i].onnx,
                  t->rows[i].vnnlib);
        if (load_pair(t->rows[i].onnx_path, t->rows[i].vnnlib_path, &l) == 0) {
            struct ibp_vnncomp_config cfg;
            ibp_vnncomp_config_default(&cfg);
            cfg.threads = 1; /* tests run side by side: no OpenMP team waiting on a core */
            cfg.time_limit = seconds_per_instance - (now_seconds() - t0);
            struct ibp_vnncomp_result res = {0};
            st = ibp_vnncomp_verify(l.net, l.prop, &cfg, &res, &err);
            CHECK_OK(st, err);
            if (st == IBP_OK) {
                int bad = ibp_vnn_answer_wrong(res.answer, want);
                if (res.answer == IBP_VNN_SAT)
                    bad |= !counterexample_ok(&l, &res, t->rows[i].vnnlib);
                CHECK_MSG(!bad, "%s %s: wrong answer %s (verdict %s)", t->rows[i].onnx,
                          t->rows[i].vnnlib, ibp_vnn_answer_name(res.answer),
                          ibp_vnn_verdict_name(want));
                wrong += bad;
                counts[want][res.answer]++;
            }
            ibp_vnncomp_result_clear(&res);
        }
        free_pair(&l);
        times[i] = now_seconds() - t0;
    }
    double median = 0;
    if (times) {
        qsort(times, (size_t)t->n, sizeof *times, cmp_double);
        median = 0.5 * (times[(t->n - 1) / 2] + times[t->n / 2]);
    }
    printf("mnist_fc, %.1f s per instance: verdict -> unsat sat unknown timeout\n",
           seconds_per_instance);
    for (int w = 1; w < 4; w++)
        printf("  %-6s %4d %4d %4d %4d\n", ibp_vnn_verdict_name((enum ibp_vnn_verdict)w),
               counts[w][IBP_VNN_UNSAT], counts[w][IBP_VNN_SAT], counts[w][IBP_VNN_UNKNOWN],
               counts[w][IBP_VNN_TIMEOUT]);
    printf("  wrong answers %d, median time %.3f s\n", wrong, median);
    CHECK(wrong == 0);
    CHECK_MSG(counts[IBP_VNN_VERDICT_SAT][IBP_VNN_SAT] == 18, "%d of 18 sat instances found",
              counts[IBP_VNN_VERDICT_SAT][IBP_VNN_SAT]);
    CHECK(counts[IBP_VNN_VERDICT_UNSAT][IBP_VNN_SAT] == 0 &&
          counts[IBP_VNN_VERDICT_SAT][IBP_VNN_UNSAT] == 0);
    free(times);
    ibp_vnncomp_instances_free(t);
    ibp_vnncomp_verdicts_free(v);
}

/* convSmallRELU__Point at eps = 0.12 over the 100 images, sound bounds. */
static void test_eran_eps(void)
{
    static const int attacked[] = {6, 8, 9, 15, 18, 20, 33, 61, 73, 92};
    const double eps = 0.12;
    const float mean = 0.1307f, std = 0.3081f;
    char path[1024];
    struct ibp_error err = {0};
    struct ibp_dataset *ds = NULL;
    snprintf(path, sizeof path, "%s/eran-mnist/mnist_test.csv", data_dir);
    enum ibp_status st = ibp_csv_read(path, 1, 28, 28, 10, &ds, &err);
    CHECK_OK(st, err);
    struct ibp_onnx_options opt = {.n_norm = 1, .norm_mean = &mean, .norm_std = &std};
    struct ibp_net *net = NULL;
    snprintf(path, sizeof path, "%s/eran-mnist/convSmallRELU__Point.onnx", data_dir);
    if (st == IBP_OK)
        st = ibp_onnx_load(path, &opt, &net, NULL, &err);
    CHECK_OK(st, err);
    if (st != IBP_OK) {
        ibp_dataset_free(ds);
        return;
    }
    enum { BATCH = 10 };
    int n = (int)ds->n, certified[2] = {0, 0}, wrongly[2] = {0, 0};
    static const enum ibp_bound_method methods[2] = {IBP_BOUND_IBP, IBP_BOUND_CROWN};
    static float lo[100 * 784], hi[100 * 784];
    static int labels[100];
    CHECK(n == 100);
    for (int i = 0; i < n && i < 100; i++) {
        const uint8_t *px = ibp_dataset_sample(ds, i);
        labels[i] = ds->labels[i];
        for (int k = 0; k < 784; k++) {
            /* the pixel box, rounded outward to floats */
            double x = px[k] / 255.0, l = fmax(0.0, x - eps), h = fmin(1.0, x + eps);
            float fl = (float)l, fh = (float)h;
            lo[i * 784 + k] = (double)fl > l ? nextafterf(fl, -INFINITY) : fl;
            hi[i * 784 + k] = (double)fh < h ? nextafterf(fh, INFINITY) : fh;
        }
    }
    int cert[2][100] = {{0}};
    double secs[2];
    for (int m = 0; m < 2; m++) {
        double t0 = now_seconds();
        struct ibp_bounder_config bc = {
            .method = methods[m], .sound = 1, .max_batch = BATCH, .max_rows = 9};
        struct ibp_bounder *bd = NULL;
        st = ibp_bounder_create(net, &bc, &bd, &err);
        CHECK_OK(st, err);
        if (st == IBP_OK)
            ibp_bounder_set_threads(bd, 1);
        for (int b0 = 0; st == IBP_OK && b0 < n; b0 += BATCH) {
            int nb = n - b0 < BATCH ? n - b0 : BATCH;
            float lb[BATCH * 9];
            struct ibp_spec spec = {.labels = &labels[b0]};
            st = ibp_bounder_run(net, bd, &lo[b0 * 784], &hi[b0 * 784], nb, &spec, lb, &err);
            CHECK_OK(st, err);
            for (int i = 0; st == IBP_OK && i < nb; i++) {
                int ok = 1;
                for (int r = 0; r < 9; r++)
                    ok &= lb[i * 9 + r] > 0;
                cert[m][b0 + i] = ok;
                certified[m] += ok;
            }
        }
        ibp_bounder_free(bd);
        secs[m] = now_seconds() - t0;
        for (size_t a = 0; a < sizeof attacked / sizeof attacked[0]; a++) {
            CHECK_MSG(!cert[m][attacked[a]], "image %d certified by %s at eps 0.12", attacked[a],
                      m ? "crown" : "ibp");
            wrongly[m] += cert[m][attacked[a]];
        }
    }
    /* a strong attack never breaks a certified image */
    struct ibp_attack *atk = NULL;
    st = ibp_attack_create(net, BATCH, 9, &atk, &err);
    CHECK_OK(st, err);
    int broken = 0, attacked_images = 0;
    if (st == IBP_OK) {
        ibp_attack_set_threads(atk, 1);
        struct ibp_attack_config ac;
        ibp_attack_config_default(&ac);
        ac.steps = 100;
        ac.restarts = 5;
        static float blo[BATCH * 784], bhi[BATCH * 784], x_adv[BATCH * 784];
        int idx[BATCH], blab[BATCH], found[BATCH], nb = 0;
        for (int i = 0; i <= n && st == IBP_OK; i++) {
            if (i < n && cert[1][i]) {
                memcpy(&blo[nb * 784], &lo[i * 784], 784 * sizeof(float));
                memcpy(&bhi[nb * 784], &hi[i * 784], 784 * sizeof(float));
                blab[nb] = labels[i];
                idx[nb++] = i;
            }
            if (nb == BATCH || (i == n && nb > 0)) {
                struct ibp_attack_spec as = {.labels = blab};
                st = ibp_attack_run(net, atk, &ac, NULL, blo, bhi, nb, &as, x_adv, NULL, found,
                                    &err);
                CHECK_OK(st, err);
                for (int k = 0; st == IBP_OK && k < nb; k++) {
                    CHECK_MSG(!found[k], "image %d: certified by CROWN, attacked", idx[k]);
                    broken += found[k];
                }
                attacked_images += nb;
                nb = 0;
            }
        }
    }
    ibp_attack_free(atk);
    int monotone = 1;
    for (int i = 0; i < n; i++)
        monotone &= !cert[0][i] || cert[1][i];
    CHECK_MSG(monotone && certified[1] >= certified[0], "ibp %d, crown %d", certified[0],
              certified[1]);
    printf("convSmallRELU__Point, eps 0.12, sound: certified by IBP %d/100 (%.2f s), by CROWN "
           "%d/100 (%.2f s); of the 10 images with known adversarial examples %d and %d\n",
           certified[0], secs[0], certified[1], secs[1], wrongly[0], wrongly[1]);
    printf("PGD (5 restarts x 100 steps) on the %d CROWN-certified images: %d broken\n",
           attacked_images, broken);
    ibp_net_free(net);
    ibp_dataset_free(ds);
}

static uint64_t fuzz_state = 0x9e3779b97f4a7c15ull;

static uint64_t fuzz_next(void)
{
    fuzz_state = fuzz_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return fuzz_state >> 17;
}

/* A short run on a corrupted but loadable pair: no fault; a sat answer checks out. */
static void quick_run(const struct ibp_net *net, const struct ibp_vnnlib *prop, int *runs)
{
    struct loaded l = {.net = (struct ibp_net *)net, .prop = (struct ibp_vnnlib *)prop};
    struct ibp_vnncomp_config cfg;
    ibp_vnncomp_config_default(&cfg);
    cfg.threads = 1;
    cfg.time_limit = 0.05;
    cfg.first_restarts = 4;
    cfg.rounds = 0;
    cfg.attack_steps = 10;
    struct ibp_vnncomp_result res = {0};
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnncomp_verify(net, prop, &cfg, &res, &err);
    /* a clean refusal: sizes that differ, or a corrupted box no input satisfies */
    CHECK_MSG(st == IBP_OK || ((st == IBP_ERR_SHAPE || st == IBP_ERR_ARG) && err.msg[0]),
              "status %d: %s", st, err.msg);
    if (st == IBP_OK && res.answer == IBP_VNN_SAT)
        counterexample_ok(&l, &res, "fuzzed");
    ibp_vnncomp_result_clear(&res);
    (*runs)++;
}

static void test_fuzz_files(void)
{
    char onnx_path[1024], prop_path[1024];
    snprintf(onnx_path, sizeof onnx_path, "%s/vnncomp2022/mnist_fc/onnx/mnist-net_256x2.onnx.gz",
             data_dir);
    snprintf(prop_path, sizeof prop_path, "%s/vnncomp2022/mnist_fc/vnnlib/prop_1_0.03.vnnlib.gz",
             data_dir);
    unsigned char *gz = NULL, *raw = NULL, *text = NULL, *buf = NULL;
    size_t gz_size = 0, raw_size = 0, text_size = 0;
    struct ibp_error err = {0};
    struct ibp_net *net = NULL;
    struct ibp_vnnlib *prop = NULL;
    enum ibp_status st = ibp_gz_read_file(prop_path, 1 << 26, &text, &text_size, &err);
    if (st == IBP_OK)
        st = ibp_gz_read_file(onnx_path, 1 << 26, &raw, &raw_size, &err);
    CHECK_OK(st, err);
    FILE *f = fopen(onnx_path, "rb");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        gz_size = (size_t)ftell(f);
        rewind(f);
        gz = malloc(gz_size);
        CHECK(gz && fread(gz, 1, gz_size, f) == gz_size);
        fclose(f);
    }
    if (st == IBP_OK)
        st = ibp_vnnlib_parse((const char *)text, text_size, "prop.vnnlib", &prop, &err);
    CHECK_OK(st, err);
    size_t cap = raw_size > text_size ? raw_size : text_size;
    buf = malloc(cap ? cap : 1);
    if (st != IBP_OK || !gz || !buf) {
        free(gz), free(raw), free(text), free(buf);
        ibp_vnnlib_free(prop);
        return;
    }
    int rejected = 0, loaded = 0, silent = 0, runs = 0;
    /* ONNX: truncations of the plain and the compressed file, then bit flips */
    for (int it = 0; it < 240; it++) {
        int zipped = it % 2;
        const unsigned char *src = zipped ? gz : raw;
        size_t n = zipped ? gz_size : raw_size, len = n;
        memcpy(buf, src, n);
        if (it < 120) {
            len = (size_t)(fuzz_next() % n);
        } else {
            size_t pos = (size_t)(fuzz_next() % n);
            /* half the flips in the first 4 KiB: the graph structure, not the weights */
            if (it % 4 < 2)
                pos %= 4096;
            buf[pos] ^= (unsigned char)(1u << (fuzz_next() % 8));
        }
        ibp_error_clear(&err);
        st = ibp_onnx_load_buffer(buf, len, "fuzz.onnx", NULL, &net, NULL, &err);
        if (st == IBP_OK) {
            loaded++;
            quick_run(net, prop, &runs);
            ibp_net_free(net);
            net = NULL;
        } else {
            rejected++;
            silent += strncmp(err.msg, "fuzz.onnx", 9) != 0 || net != NULL;
        }
    }
    int onnx_loaded = loaded, onnx_rejected = rejected;
    st = ibp_onnx_load_buffer(raw, raw_size, "net.onnx", NULL, &net, NULL, &err);
    CHECK_OK(st, err);
    /* VNN-LIB: truncations and byte flips of the property */
    loaded = rejected = 0;
    static const char alphabet[] = "()XY_0123456789.eE+-; \n<=>andor";
    for (int it = 0; it < 300 && net; it++) {
        size_t len = text_size;
        memcpy(buf, text, text_size);
        if (it < 150) {
            len = (size_t)(fuzz_next() % text_size);
        } else {
            size_t pos = (size_t)(fuzz_next() % text_size);
            buf[pos] = it % 2 ? (unsigned char)alphabet[fuzz_next() % (sizeof alphabet - 1)]
                              : (unsigned char)(buf[pos] ^ (1u << (fuzz_next() % 8)));
        }
        struct ibp_vnnlib *p = NULL;
        ibp_error_clear(&err);
        st = ibp_vnnlib_parse((const char *)buf, len, "fuzz.vnnlib", &p, &err);
        if (st == IBP_OK) {
            loaded++;
            quick_run(net, p, &runs);
            ibp_vnnlib_free(p);
        } else {
            rejected++;
            silent += strncmp(err.msg, "fuzz.vnnlib", 11) != 0 || p != NULL;
        }
    }
    CHECK(silent == 0);
    CHECK(onnx_rejected >= 120 && rejected >= 100);
    printf("fuzz on real files: onnx %d rejected, %d loaded; vnnlib %d rejected, %d parsed; "
           "%d short runs on the loadable ones\n", onnx_rejected, onnx_loaded, rejected, loaded,
           runs);
    ibp_net_free(net);
    ibp_vnnlib_free(prop);
    free(gz);
    free(raw);
    free(text);
    free(buf);
}

int main(int argc, char **argv)
{
    data_dir = IBP_TEST_SHARED_DATA;
    if (argc > 1) {
        char *end;
        errno = 0;
        seconds_per_instance = strtod(argv[1], &end);
        if (end == argv[1] || *end || errno || !(seconds_per_instance > 0)) {
            fprintf(stderr, "%s: bad SECONDS_PER_INSTANCE '%s'\n", argv[0], argv[1]);
            return 2;
        }
    }
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/vnncomp2022/mnist_fc/instances.csv", data_dir);
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("%s not found: skipped\n", probe);
        return 77;
    }
    fclose(f);
    test_small(0);
    test_small(1);
    test_reference_counterexamples();
    test_eran_eps();
    test_fuzz_files();
    test_mnist_fc();
    return check_report();
}
