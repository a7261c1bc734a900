/* ibp-model: what a model file or an ONNX model holds (`info`), and conversion between
 * the two (`convert`). Reading either kind goes through nets/formats/model_open.h, the
 * same path ibp-verify takes, so `info` shows the network ibp-verify would certify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/options.h"
#include "nets/base/parse.h"
#include "nets/formats/model_file.h"
#include "nets/formats/model_open.h"
#include "nets/formats/onnx_export.h"

/* Exit codes (documented in --help). */
enum {
    EXIT_OK = 0,
    EXIT_ERROR = 1, /* bad input or a failed write */
    EXIT_USAGE = 2, /* bad command line */
};

/* Values printed per normalisation tensor before "..." */
#define SHOW_VALUES 8
/* Most --mean/--std values (one per channel). */
#define MAX_CHANNELS 4

/* --mean / --std: one number per channel. */
struct per_channel {
    float v[MAX_CHANNELS];
    int n; /* 0: not given */
};

static enum ibp_status set_per_channel(void *dest, const char *name, const char *value,
                                       struct ibp_error *err)
{
    struct per_channel *pc = dest;
    return ibp_parse_float_list(value, name, pc->v, MAX_CHANNELS, &pc->n, err);
}

static void usage(const struct ibp_opt *t, int n)
{
    struct ibp_wbuf w = {0};
    ibp_opts_help(t, n, &w);
    printf("usage: ibp-model info FILE [--mean M[,M..] --std S[,S..]]\n"
           "       ibp-model convert FROM TO [--mean M[,M..] --std S[,S..]]\n"
           "\n"
           "FILE, FROM: a model file written by ibp-train or an ONNX model (told apart by\n"
           "content, as ibp-verify does).\n"
           "info     prints the kind, the input shape, the classes, the input\n"
           "         normalisation, every layer with its output shape and parameter count,\n"
           "         the totals, and the model file's name (the architecture ibp-train\n"
           "         trained) or the ONNX file's operators.\n"
           "convert  writes FROM as TO, whose kind is TO's extension: .onnx (ONNX, opset 13)\n"
           "         or .ibpm (model file). ONNX keeps no class names or architecture name;\n"
           "         a model file written from ONNX gets FROM's base name as its name.\n"
           "         The normalisation travels as the network's first layer either way.\n"
           "--mean/--std put a normalisation (x - M) / S in front of a model that has none\n"
           "(an ONNX model that expects its caller to normalise), as ibp-verify does, so a\n"
           "converted model carries it.\n"
           "\n"
           "%s"
           "\n"
           "exit codes: 0 done, 1 bad input or a failed write (one line on stderr),\n"
           "2 bad command line\n",
           w.failed || !w.data ? "" : (const char *)w.data);
    ibp_wbuf_free(&w);
}

/* The shortest decimal that reads back as the float v (0.1307, not 0.130700007). */
static void shortest(float v, char *out, size_t size)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(out, size, "%.*g", digits, (double)v);
        if ((float)strtod(out, NULL) == v)
            return;
    }
}

static void print_values(const char *what, const float *v, int n)
{
    printf("%s", what);
    for (int i = 0; i < n && i < SHOW_VALUES; i++) {
        char num[32];
        shortest(v[i], num, sizeof num);
        printf("%s%s", i ? ", " : " ", num);
    }
    if (n > SHOW_VALUES)
        printf(", ... (%d values)", n);
    printf("\n");
}

/* One line per layer: index, kind, inputs other than the previous layer, the
 * layer's own settings, output shape, parameters. */
static void print_layer(const struct ibp_net *net, int k)
{
    const struct ibp_layer_spec *l = &net->layers[k];
    struct ibp_shape s = net->shapes[k + 1];
    char what[160] = "";
    switch (l->kind) {
    case IBP_LAYER_LINEAR:
        snprintf(what, sizeof what, "%d -> %d%s", net->shapes[l->in[0]].c, l->out,
                 l->no_bias ? ", no bias" : "");
        break;
    case IBP_LAYER_CONV2D:
        snprintf(what, sizeof what, "%d -> %d, kernel %dx%d, stride %dx%d, pad %dx%d%s%s",
                 net->shapes[l->in[0]].c, l->out, l->kh, l->kw, l->sh, l->sw, l->ph, l->pw,
                 l->groups > 1 ? ", grouped" : "", l->no_bias ? ", no bias" : "");
        break;
    case IBP_LAYER_AVGPOOL:
    case IBP_LAYER_MAXPOOL:
        snprintf(what, sizeof what, "window %dx%d, stride %dx%d, pad %dx%d", l->kh, l->kw,
                 l->sh, l->sw, l->ph, l->pw);
        break;
    case IBP_LAYER_BATCHNORM:
        snprintf(what, sizeof what, "eps %g", (double)l->eps);
        break;
    case IBP_LAYER_ADD:
        snprintf(what, sizeof what, "values %d + %d", l->in[0], l->in[1]);
        break;
    default:
        break;
    }
    char from[32] = "";
    if (l->kind != IBP_LAYER_ADD && l->in[0] != k)
        snprintf(from, sizeof from, " (of value %d)", l->in[0]);
    size_t np = ibp_layer_param_count(net, k), nb = ibp_layer_buffer_count(net, k);
    int more = what[0] || from[0] || np || nb;
    char shape[48];
    snprintf(shape, sizeof shape, "%dx%dx%d", s.c, s.h, s.w);
    printf("  %3d  %-9s -> %-*s%s%s", k, ibp_layer_kind_name(l->kind), more ? 12 : 0,
           shape, what, from);
    if (np || nb)
        printf("  [%zu params, %zu buffers]", np, nb);
    printf("\n");
}

static int info(const char *path, const struct ibp_model_open_options *mo)
{
    struct ibp_net *net;
    struct ibp_model_opened m;
    struct ibp_error err;
    ibp_error_clear(&err);
    if (ibp_model_open(path, mo, &net, &m, &err) != IBP_OK) {
        fprintf(stderr, "ibp-model: %s\n", err.msg);
        return EXIT_ERROR;
    }
    printf("file           %s\n", path);
    if (m.kind == IBP_MODEL_KIND_ONNX)
        printf("kind           ONNX (ir version %lld, opset %lld)\n", (long long)m.onnx.ir_version,
               (long long)m.onnx.opset);
    else
        printf("kind           %s (version %u)\n", ibp_model_kind_name(m.kind), IBP_MODEL_VERSION);
    printf("input          %dx%dx%d (channels x height x width)\n", net->input.c, net->input.h,
           net->input.w);
    int classes = ibp_net_outputs(net);
    printf("classes        %d", classes);
    for (int i = 0; i < m.meta.n_classes; i++)
        printf("%s%s", i ? ", " : ": ", m.meta.class_names[i]);
    printf("\n");
    if (m.norm != IBP_NORM_NONE) {
        printf("normalisation  (x - mean) / std, first layer%s\n",
               m.norm == IBP_NORM_CALLER ? " (from --mean/--std)" : "");
        print_values("  mean", ibp_normalize_mean(net, 0), net->input.c);
        print_values("  std ", ibp_normalize_std(net, 0), net->input.c);
    } else {
        printf("normalisation  none in the model: it sees what it is given (ibp-verify: pixel "
               "values in [0,1], or --mean/--std)\n");
    }
    if (m.kind == IBP_MODEL_KIND_IBPM)
        printf("name           %s (ibp-train records the architecture here)\n",
               m.meta.name && m.meta.name[0] ? m.meta.name : "(none)");
    else {
        printf("onnx           input '%s', output '%s'; operators", m.onnx.input_name,
               m.onnx.output_name);
        for (int i = 0; i < m.onnx.n_ops; i++)
            printf("%s%s x%d", i ? ", " : " ", m.onnx.ops[i], m.onnx.op_counts[i]);
        printf("\n");
    }
    printf("layers         %d\n", net->n_layers);
    for (int k = 0; k < net->n_layers; k++)
        print_layer(net, k);
    printf("parameters     %zu trainable, %zu buffers (BatchNorm statistics, normalisation)\n",
           net->n_params, net->n_buffers);
    ibp_net_free(net);
    ibp_model_opened_free(&m);
    return EXIT_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* FROM's base name without its extension, for a model file's name field. */
static char *stem(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, base, n);
        s[n] = '\0';
    }
    return s;
}

static int convert(const char *from, const char *to, const struct ibp_model_open_options *mo)
{
    int to_onnx = ends_with(to, ".onnx"), to_ibpm = ends_with(to, ".ibpm");
    if (!to_onnx && !to_ibpm) {
        fprintf(stderr, "ibp-model: convert: %s: the output's name must end in .onnx or .ibpm\n",
                to);
        return EXIT_USAGE;
    }
    struct ibp_net *net;
    struct ibp_model_opened m;
    struct ibp_error err;
    ibp_error_clear(&err);
    if (ibp_model_open(from, mo, &net, &m, &err) != IBP_OK) {
        fprintf(stderr, "ibp-model: %s\n", err.msg);
        return EXIT_ERROR;
    }
    enum ibp_status st;
    if (to_onnx) {
        st = ibp_onnx_export(net, to, &err);
    } else {
        if (m.kind == IBP_MODEL_KIND_ONNX && !(m.meta.name = stem(from)))
            st = ibp_fail(&err, IBP_ERR_NOMEM, "out of memory");
        else
            st = ibp_model_save(to, net, &m.meta, &err);
    }
    int rc = EXIT_OK;
    if (st != IBP_OK) {
        fprintf(stderr, "ibp-model: %s\n", err.msg);
        rc = EXIT_ERROR;
    } else {
        printf("wrote %s (%s) from %s (%s)\n", to, to_onnx ? "ONNX" : "model file", from,
               ibp_model_kind_name(m.kind));
    }
    ibp_net_free(net);
    ibp_model_opened_free(&m);
    return rc;
}

int main(int argc, char **argv)
{
    struct per_channel mean = {{0}, 0}, std = {{0}, 0};
    const struct ibp_opt table[] = {
        {.kind = IBP_OPT_SECTION, .help = "options"},
        {.kind = IBP_OPT_CALL, .name = "--mean", .arg = "M[,M..]", .dest = &mean,
         .call = set_per_channel,
         .help = "with --std: the normalisation (x - M) / S per channel\n(one value: every "
                 "channel) for a model without one",
         .def = "none"},
        {.kind = IBP_OPT_CALL, .name = "--std", .arg = "S[,S..]", .dest = &std,
         .call = set_per_channel, .help = "see --mean", .def = "none"},
    };
    int n_opts = (int)(sizeof table / sizeof table[0]);
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0, help = 0;
    struct ibp_error err;
    ibp_error_clear(&err);
    if (ibp_opts_parse(table, n_opts, argc, argv, 1, pos, 3, &n_pos, &help, &err) != IBP_OK) {
        fprintf(stderr, "ibp-model: %s (see --help)\n", err.msg);
        return EXIT_USAGE;
    }
    if (help) {
        usage(table, n_opts);
        return EXIT_OK;
    }
    if (mean.n != std.n) {
        fprintf(stderr, "ibp-model: --mean and --std go together, with as many values "
                        "(see --help)\n");
        return EXIT_USAGE;
    }
    struct ibp_model_open_options mo = {.n_norm = mean.n, .mean = mean.v, .std = std.v};
    if (n_pos == 2 && strcmp(pos[0], "info") == 0)
        return info(pos[1], &mo);
    if (n_pos == 3 && strcmp(pos[0], "convert") == 0)
        return convert(pos[1], pos[2], &mo);
    fprintf(stderr, "ibp-model: expected `info FILE` or `convert FROM TO` (see --help)\n");
    return EXIT_USAGE;
}
