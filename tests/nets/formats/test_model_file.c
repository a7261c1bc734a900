/* The model file: bit-exact round trip, every corruption a reader must name, truncation
 * at every length, atomic replacement. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nets/graph/init.h"
#include "nets/formats/model_file.h"
#include "tests/common/check.h"
#include "tests/common/testutil.h"

static char dir[256];

static struct ibp_layer_spec L(enum ibp_layer_kind kind)
{
    struct ibp_layer_spec s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.in[0] = s.in[1] = IBP_PREV;
    return s;
}

/* normalize, conv 4 3x3 s2 p1, bn, relu, flatten, linear 3 on 2x5x5 */
static struct ibp_net *small_net(void)
{
    struct ibp_layer_spec s[6] = {L(IBP_LAYER_NORMALIZE), L(IBP_LAYER_CONV2D),
                                  L(IBP_LAYER_BATCHNORM), L(IBP_LAYER_RELU),
                                  L(IBP_LAYER_FLATTEN),   L(IBP_LAYER_LINEAR)};
    s[1].out = 4;
    s[1].kh = s[1].kw = 3;
    s[1].sh = s[1].sw = 2;
    s[1].ph = s[1].pw = 1;
    s[5].out = 3;
    struct ibp_net *net;
    struct ibp_error err = {0};
    if (ibp_net_create((struct ibp_shape){2, 5, 5}, s, 6, &net, &err) != IBP_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 42, 0);
    ibp_net_init(net, IBP_INIT_IBP, &rng, &err);
    for (size_t i = 0; i < net->n_buffers; i++)
        net->buffers[i] = 0.25f + (float)i / 7.0f; /* normalisation and running stats */
    net->params[0] = -0.0f;
    net->params[1] = 1e-40f; /* subnormal */
    return net;
}

static char *const class_names[3] = {"T-shirt/top", "trous\"ers", "é"};

static void path_of(char *p, const char *name)
{
    snprintf(p, 300, "%s/%s", dir, name);
}

static void write_bytes(const char *path, const unsigned char *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static void fix_crc(unsigned char *d, size_t n)
{
    uint32_t c = (uint32_t)crc32(0L, d, (uInt)(n - 4));
    for (int i = 0; i < 4; i++)
        d[n - 4 + (size_t)i] = (unsigned char)(c >> (8 * i));
}

static int same_net(const struct ibp_net *a, const struct ibp_net *b)
{
    return a->n_layers == b->n_layers && a->input.c == b->input.c && a->input.h == b->input.h &&
           a->input.w == b->input.w &&
           memcmp(a->layers, b->layers, (size_t)a->n_layers * sizeof *a->layers) == 0 &&
           a->n_params == b->n_params && a->n_buffers == b->n_buffers &&
           memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0 &&
           memcmp(a->buffers, b->buffers, a->n_buffers * sizeof(float)) == 0;
}

static void test_roundtrip(const struct ibp_net *net)
{
    char p[300];
    path_of(p, "m.ibp");
    struct ibp_model_meta meta = {"cnn-test", 3, (char **)class_names};
    struct ibp_error err = {0};
    CHECK_OK(ibp_model_save(p, net, &meta, &err), err);
    struct ibp_net *back;
    struct ibp_model_meta mb;
    CHECK_OK(ibp_model_load(p, &back, &mb, &err), err);
    if (!back)
        return;
    CHECK(same_net(net, back));
    CHECK(strcmp(mb.name, "cnn-test") == 0 && mb.n_classes == 3);
    for (int i = 0; i < 3 && i < mb.n_classes; i++)
        CHECK(strcmp(mb.class_names[i], class_names[i]) == 0);
    ibp_model_meta_free(&mb);
    CHECK(mb.name == NULL && mb.n_classes == 0);
    ibp_net_free(back);
    /* no metadata; load without asking for it */
    CHECK_OK(ibp_model_save(p, net, NULL, &err), err);
    CHECK_OK(ibp_model_load(p, &back, &mb, &err), err);
    CHECK(back && strcmp(mb.name, "") == 0 && mb.n_classes == 0 && mb.class_names == NULL);
    ibp_model_meta_free(&mb);
    ibp_net_free(back);
    CHECK_OK(ibp_model_load(p, &back, NULL, &err), err);
    CHECK(back && same_net(net, back));
    ibp_net_free(back);
    /* file image and file agree byte for byte */
    struct ibp_wbuf w = {0};
    CHECK_OK(ibp_model_encode(net, NULL, &w, &err), err);
    struct stat st;
    CHECK(stat(p, &st) == 0 && (size_t)st.st_size == w.len);
    CHECK((st.st_mode & 0777) == 0644);
    ibp_wbuf_free(&w);
    /* replacing leaves no temporary files behind */
    CHECK_OK(ibp_model_save(p, net, &meta, &err), err);
    DIR *d = opendir(dir);
    int others = 0;
    for (struct dirent *e; (e = readdir(d));)
        others += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "m.ibp");
    closedir(d);
    CHECK(others == 0);
    unlink(p);
}

/* decode img (n bytes); expects status and a message containing `want` */
static void expect(const unsigned char *img, size_t n, enum ibp_status status, const char *want)
{
    struct ibp_net *net = (struct ibp_net *)1;
    struct ibp_model_meta meta;
    struct ibp_error err = {0};
    enum ibp_status st = ibp_model_decode(img, n, "model.ibp", &net, &meta, &err);
    CHECK_MSG(st == status, "want status %d, got %d (%s)", (int)status, (int)st, err.msg);
    CHECK_MSG(strstr(err.msg, want) != NULL, "message '%s' lacks '%s'", err.msg, want);
    CHECK(strncmp(err.msg, "model.ibp: ", 11) == 0);
    CHECK(net == NULL && meta.name == NULL && meta.n_classes == 0);
    CHECK(strchr(err.msg, '\n') == NULL);
}

static void test_corruption(const struct ibp_net *net)
{
    struct ibp_model_meta meta = {"cnn-test", 3, (char **)class_names};
    struct ibp_wbuf w = {0};
    struct ibp_error err = {0};
    CHECK_OK(ibp_model_encode(net, &meta, &w, &err), err);
    size_t n = w.len;
    unsigned char *img = malloc(n + 8);
    unsigned char *orig = w.data;
#define RESET() memcpy(img, orig, n)

    RESET();
    img[0] = 'X';
    expect(img, n, IBP_ERR_FORMAT, "model.ibp: not an ibp model file (bad magic)");
    RESET();
    img[8] = 2;
    expect(img, n, IBP_ERR_FORMAT,
           "model.ibp: format version 2 not supported (this build reads version 1)");
    RESET();
    img[n / 2] ^= 0x10;
    expect(img, n, IBP_ERR_FORMAT, "model.ibp: checksum mismatch (file corrupt)");
    RESET();
    img[n - 1] ^= 1; /* the checksum itself */
    expect(img, n, IBP_ERR_FORMAT, "checksum mismatch (file corrupt)");
    RESET();
    img[n] = 0; /* trailing data */
    expect(img, n + 1, IBP_ERR_FORMAT, "size mismatch");
    /* every truncation, 0 .. n-1 bytes */
    int all = 1;
    for (size_t len = 0; len < n; len++) {
        unsigned char *t = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(t, orig, len);
        struct ibp_net *got;
        struct ibp_model_meta mm;
        enum ibp_status st = ibp_model_decode(t, len, "model.ibp", &got, &mm, &err);
        all &= st == IBP_ERR_FORMAT && got == NULL && strstr(err.msg, "truncated") != NULL;
        if (!(st == IBP_ERR_FORMAT && strstr(err.msg, "truncated")))
            fprintf(stderr, "length %zu: %s\n", len, err.msg);
        free(t);
    }
    CHECK(all);

    /* structural errors behind a valid checksum (a writer bug or a crafted file) */
    size_t layers_at = 8 + 4 + 8 + 12 + 4 + 4 + strlen("cnn-test") + 4;
    for (int i = 0; i < 3; i++)
        layers_at += 4 + strlen(class_names[i]);
    RESET();
    img[layers_at + 68 * 1] = 99; /* layer 1's kind */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "model.ibp: bad architecture: layer 1 has unknown kind 99");
    RESET();
    img[layers_at + 68 * 1 + 4 * 5] = 9; /* layer 1's kh: 9x3 kernel on 5x5 padded to 7x7 */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "model.ibp: bad architecture: layer 1 (conv2d): kernel 9x3");
    RESET();
    img[layers_at + 68 * 5 + 4 * 3] = 4; /* linear out 4: then 3 class names do not fit */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "3 class names for a network with 4 outputs");
    RESET();
    img[20 + 12] = 0; /* n_layers 6 -> 0 */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "bad layer count 0");
    RESET();
    img[20 + 12 + 3] = 0x7f; /* a huge layer count */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "bad layer count");
    RESET();
    img[20 + 16 + 3] = 0x7f; /* name length beyond the file */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "malformed header (model name)");
    RESET();
    img[layers_at - 4 - (4 + strlen(class_names[0]) + 4 + strlen(class_names[1]) + 4 +
                         strlen(class_names[2])) + 2] = 0x55; /* class count */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "bad class count");
    RESET();
    size_t counts_at = layers_at + 68 * 6;
    img[counts_at] ^= 1; /* n_params off by one */
    fix_crc(img, n);
    expect(img, n, IBP_ERR_FORMAT, "do not match the architecture");
    /* a NaN parameter and an Inf buffer */
    size_t params_at = counts_at + 16;
    RESET();
    float nan = NAN;
    memcpy(img + params_at + 4 * 5, &nan, 4);
    fix_crc(img, n);
    expect(img, n, IBP_ERR_NUMERIC, "model.ibp: layer 1 (conv2d): parameter 5 is nan");
    RESET();
    float inf = -INFINITY;
    memcpy(img + params_at + 4 * net->n_params, &inf, 4);
    fix_crc(img, n);
    expect(img, n, IBP_ERR_NUMERIC, "model.ibp: layer 0 (normalize): buffer 0 is -inf");
    RESET();
    struct ibp_net *ok;
    CHECK_OK(ibp_model_decode(img, n, "model.ibp", &ok, NULL, &err), err);
    ibp_net_free(ok);
    free(img);
    ibp_wbuf_free(&w);
}

static void test_io_errors(const struct ibp_net *net)
{
    struct ibp_error err = {0};
    char p[300], q[300];
    path_of(p, "keep.ibp");
    struct ibp_model_meta meta = {"x", 3, (char **)class_names};
    CHECK_OK(ibp_model_save(p, net, &meta, &err), err);
    /* a bad save argument leaves the existing file untouched */
    struct ibp_model_meta bad = {"x", 2, (char **)class_names};
    CHECK(ibp_model_save(p, net, &bad, &err) == IBP_ERR_ARG);
    CHECK(strstr(err.msg, "2 class names for a network with 3 outputs") != NULL);
    struct ibp_net *back;
    CHECK_OK(ibp_model_load(p, &back, NULL, &err), err);
    ibp_net_free(back);
    path_of(q, "no/such/dir/m.ibp");
    CHECK(ibp_model_save(q, net, NULL, &err) == IBP_ERR_IO);
    CHECK(strstr(err.msg, q) == err.msg);
    CHECK(ibp_model_load(q, &back, NULL, &err) == IBP_ERR_IO && back == NULL);
    CHECK(ibp_model_load(dir, &back, NULL, &err) == IBP_ERR_IO);
    /* a file that is not a model, and an empty one */
    path_of(q, "text.ibp");
    write_bytes(q, (const unsigned char *)"hello world, not a model\n", 25);
    CHECK(ibp_model_load(q, &back, NULL, &err) == IBP_ERR_FORMAT);
    CHECK(strstr(err.msg, "bad magic") != NULL && strstr(err.msg, q) == err.msg);
    write_bytes(q, (const unsigned char *)"", 0);
    CHECK(ibp_model_load(q, &back, NULL, &err) == IBP_ERR_FORMAT);
    CHECK(strstr(err.msg, "truncated") != NULL);
    unlink(q);
    unlink(p);
}

int main(void)
{
    if (tu_mkdtemp(dir, sizeof dir, "model") != 0) {
        perror("mkdtemp");
        return 1;
    }
    struct ibp_net *net = small_net();
    CHECK(net != NULL);
    if (net) {
        test_roundtrip(net);
        test_corruption(net);
        test_io_errors(net);
        ibp_net_free(net);
    }
    rmdir(dir);
    return check_report();
}
