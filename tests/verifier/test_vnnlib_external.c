/* Every VNN-LIB property of ../shared/data/vnncomp2022 parses with the expected boxes and
 * rows; each mnist_fc counterexample lies in its box and violates its property, both with
 * the recorded outputs and with our forward pass of the imported network.
 * Data: IBP_TEST_SHARED_DATA (tests/common/test_paths.h); exit 77 (skip) when the data is missing. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/ref_net.h"
#include "nets/base/gzread.h"
#include "nets/formats/onnx_import.h"
#include "tests/common/check.h"
#include "tests/common/test_paths.h"
#include "verifier/vnnlib.h"

static const char *data_dir;

static struct ibp_vnnlib *load(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", data_dir, rel);
    struct ibp_vnnlib *p = NULL;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_vnnlib_load(path, &p, &err);
    CHECK_OK(st, err);
    return p;
}

static void test_small_props(void)
{
    struct ibp_vnnlib *p = load("vnncomp2022/test/test_nano.vnnlib");
    if (p) {
        /* X_0 in [-1, 1]; violated iff Y_0 <= -1: row Y_0 + 1 */
        CHECK(p->n_inputs == 1 && p->n_outputs == 1 && p->n_boxes == 1);
        CHECK(p->boxes[0].lo[0] == -1 && p->boxes[0].hi[0] == 1);
        const struct ibp_vnnlib_row *r = &p->boxes[0].disjuncts[0].rows[0];
        CHECK(p->boxes[0].n_disjuncts == 1 && r->n == 1 && r->a[0] == 1 && r->b == 1);
        ibp_vnnlib_free(p);
    }
    static const char *const or_files[] = {"vnncomp2022/test/test_tiny.vnnlib",
                                           "vnncomp2022/test/test_small.vnnlib"};
    for (int i = 0; i < 2; i++) {
        /* (or (and X-box (>= Y_0 100))): row 100 - Y_0 */
        if (!(p = load(or_files[i])))
            continue;
        CHECK(p->n_boxes == 1 && p->boxes[0].n_disjuncts == 1);
        const struct ibp_vnnlib_row *r = &p->boxes[0].disjuncts[0].rows[0];
        CHECK(r->n == 1 && r->a[0] == -1 && r->b == 100);
        ibp_vnnlib_free(p);
    }
    if ((p = load("vnncomp2022/test/test_prop.vnnlib"))) {
        /* ACAS Xu property 3: 5 inputs, violated iff Y_0 <= Y_j for j = 1..4 */
        CHECK(p->n_inputs == 5 && p->n_outputs == 5 && p->n_boxes == 1);
        CHECK(p->boxes[0].n_disjuncts == 1 && p->boxes[0].disjuncts[0].n_rows == 4);
        CHECK(p->boxes[0].lo[0] == -0.30353115613746867 && p->boxes[0].hi[3] == 0.5);
        for (int j = 0; j < 4; j++) {
            const struct ibp_vnnlib_row *r = &p->boxes[0].disjuncts[0].rows[j];
            CHECK(r->n == 2 && r->idx[0] == 0 && r->a[0] == 1 && r->idx[1] == j + 1 &&
                  r->a[1] == -1 && r->b == 0);
        }
        ibp_vnnlib_free(p);
    }
}

/* mnist_fc: an L-inf ball of radius eps in [0,1]; 9 disjuncts Y_j >= Y_label. */
static int check_mnist_prop(const struct ibp_vnnlib *p, double eps)
{
    CHECK(p->n_inputs == 784 && p->n_outputs == 10 && p->n_boxes == 1);
    if (p->n_boxes != 1)
        return -1;
    const struct ibp_vnnlib_box *b = &p->boxes[0];
    int wide = 0, ok = 1;
    for (int i = 0; i < 784; i++) {
        ok &= b->lo[i] >= 0 && b->hi[i] <= 1 && b->hi[i] - b->lo[i] <= 2 * eps + 1e-7;
        wide += b->hi[i] - b->lo[i] > eps * 0.99;
    }
    CHECK(ok && wide > 100);
    CHECK(b->n_disjuncts == 9);
    /* (>= Y_j Y_label): m = Y_label - Y_j, i.e. +1 on the label, -1 on j */
    const struct ibp_vnnlib_row *r0 = &b->disjuncts[0].rows[0];
    int label = r0->a[0] > 0 ? r0->idx[0] : r0->idx[1], seen = 0, rows_ok = 1;
    for (int d = 0; d < b->n_disjuncts; d++) {
        const struct ibp_vnnlib_row *r = &b->disjuncts[d].rows[0];
        int plus = r->a[0] > 0 ? 0 : 1;
        rows_ok &= b->disjuncts[d].n_rows == 1 && r->n == 2 && r->b == 0 &&
                   r->idx[plus] == label && r->a[plus] == 1 && r->a[1 - plus] == -1 &&
                   r->idx[1 - plus] != label;
        seen |= 1 << r->idx[1 - plus];
    }
    CHECK(rows_ok);
    CHECK(seen == (0x3ff & ~(1 << label)));
    return label;
}

static void test_mnist_props(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/vnncomp2022/mnist_fc/vnnlib", data_dir);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".vnnlib"))
            continue;
        char rel[512];
        snprintf(rel, sizeof rel, "vnncomp2022/mnist_fc/vnnlib/%s", e->d_name);
        struct ibp_vnnlib *p = load(rel);
        if (!p)
            continue;
        check_mnist_prop(p, strstr(e->d_name, "0.03") ? 0.03 : 0.05);
        ibp_vnnlib_free(p);
        n++;
    }
    closedir(d);
    CHECK_MSG(n == 30, "%d mnist_fc properties, expected 30", n);
    printf("mnist_fc: %d properties parsed\n", n);
}

static void test_counterexamples(void)
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
        /* mnist-net_256x2_prop_0_0.05.counterexample.gz */
        char net_name[64], prop[64];
        const char *p_at = strstr(e->d_name, "_prop_"), *dot = strstr(e->d_name, ".counter");
        if (!p_at || !dot || p_at - e->d_name >= 60 || dot - p_at >= 60)
            continue;
        snprintf(net_name, sizeof net_name, "%.*s", (int)(p_at - e->d_name), e->d_name);
        snprintf(prop, sizeof prop, "%.*s", (int)(dot - p_at - 1), p_at + 1);
        char rel[512], path[2048];
        snprintf(rel, sizeof rel, "vnncomp2022/mnist_fc/vnnlib/%s.vnnlib.gz", prop);
        struct ibp_vnnlib *p = load(rel);
        snprintf(path, sizeof path, "%s/vnncomp2022/mnist_fc/onnx/%s.onnx.gz", data_dir,
                 net_name);
        struct ibp_net *net = NULL;
        struct ibp_error err = {0};
        enum ibp_status st = ibp_onnx_load(path, NULL, &net, NULL, &err);
        CHECK_OK(st, err);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unsigned char *text = NULL;
        size_t size;
        CHECK(ibp_gz_read_file(path, 1 << 24, &text, &size, NULL) == IBP_OK);
        if (p && net && text) {
            double x[784], y[10], z[10];
            int got = 0;
            for (const char *s = (const char *)text; (s = strchr(s, '(')) != NULL;) {
                while (*s == '(')
                    s++;
                char *end;
                if ((*s == 'X' || *s == 'Y') && s[1] == '_') {
                    long i = strtol(s + 2, &end, 10);
                    double v = strtod(end, &end);
                    if (*s == 'X' && i >= 0 && i < 784)
                        x[i] = v, got++;
                    else if (*s == 'Y' && i >= 0 && i < 10)
                        y[i] = v, got++;
                }
            }
            CHECK(got == 794);
            CHECK_MSG(ibp_vnnlib_in_box(p, 0, x), "%s: X outside the box", e->d_name);
            CHECK_MSG(ibp_vnnlib_violated(p, 0, y), "%s: recorded Y does not violate", e->d_name);
            CHECK(ref_forward(net, x, z) == 0);
            CHECK_MSG(ibp_vnnlib_violated(p, 0, z), "%s: our Y does not violate", e->d_name);
            n++;
        }
        free(text);
        ibp_net_free(net);
        ibp_vnnlib_free(p);
    }
    closedir(d);
    CHECK_MSG(n == 18, "%d counterexamples checked, expected 18", n);
    printf("counterexamples: %d inside their box and violating their property\n", n);
}

int main(int argc, char **argv)
{
    data_dir = IBP_TEST_SHARED_DATA;
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/vnncomp2022/test/test_prop.vnnlib", data_dir);
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("%s not found: skipped\n", probe);
        return 77;
    }
    fclose(f);
    test_small_props();
    test_mnist_props();
    test_counterexamples();
    return check_report();
}
