#include "verifier/vnncomp_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nets/base/clock.h"
#include "nets/bounds/bounds.h"
#include "nets/base/file_io.h"
#include "nets/base/options.h"
#include "nets/formats/onnx_import.h"
#include "verifier/vnncomp.h"

#define DEFAULT_TIMEOUT 60.0

struct options {
    const char *onnx, *vnnlib, *result;
    const char *instances, *verdicts, *results_dir;
    double timeout, timeout_scale;
    int verbose, quiet;
    int n_norm;
    float norm_mean, norm_std;
    double mean_arg, std_arg; /* --norm-mean / --norm-std as given; NaN: not given */
    struct ibp_vnncomp_config cfg;
};

static enum ibp_status set_methods(void *dest, const char *name, const char *value,
                                   struct ibp_error *err)
{
    enum ibp_bound_method m[IBP_BOUND_METHOD_COUNT];
    int n;
    enum ibp_status st = ibp_bound_methods_parse(value, name, m, &n, err);
    if (st != IBP_OK)
        return st;
    int *mask = dest;
    *mask = 0;
    for (int k = 0; k < n; k++)
        *mask |= 1 << m[k];
    return IBP_OK;
}

/* Writes the options, parsing into *o, to t[0..IBP_OPTS_MAX); returns their count. */
static int options_table(struct options *o, struct ibp_opt *t)
{
    struct ibp_vnncomp_config *c = &o->cfg;
    const struct ibp_opt opts[] = {
        {.kind = IBP_OPT_SECTION, .help = "options"},
        {.kind = IBP_OPT_DOUBLE, .name = "--timeout", .arg = "S", .dest = &o->timeout, .lo = 0,
         .lo_open = 1, .hi = 1e9,
         .help = "time limit in seconds, start-up included (batch mode:\neach row's own)"},
        {.kind = IBP_OPT_STRING, .name = "--result", .arg = "FILE", .dest = &o->result,
         .help = "write the result file there", .def = "stdout"},
        {.kind = IBP_OPT_FLAG, .name = "--no-sound", .dest = &c->sound, .flag = 0,
         .help = "float32 bounds, not floating-point sound (default: sound)", .def = ""},
        {.kind = IBP_OPT_CALL, .name = "--methods", .arg = "LIST", .dest = &c->methods,
         .call = set_methods, .help = "bound methods, comma-separated from " IBP_BOUND_METHOD_LIST,
         .def = "all"},
        {.kind = IBP_OPT_INT, .name = "--steps", .arg = "N", .dest = &c->attack_steps, .lo = 1,
         .hi = 1000000, .help = "PGD steps per restart"},
        {.kind = IBP_OPT_INT, .name = "--restarts", .arg = "N", .dest = &c->first_restarts,
         .lo = 1, .hi = 1000000, .help = "restarts per box before the bounds"},
        {.kind = IBP_OPT_INT, .name = "--rounds", .arg = "N", .dest = &c->rounds, .lo = 0,
         .hi = 1000000, .help = "later attack rounds at most"},
        {.kind = IBP_OPT_INT, .name = "--round-restarts", .arg = "N", .dest = &c->round_restarts,
         .lo = 1, .hi = 1000000,
         .help = "restarts per box in each later round, on the whole\n"
                 "property and again on each disjunct"},
        {.kind = IBP_OPT_FLAG, .name = "--no-bab", .dest = &c->bab, .flag = 0,
         .help = "no branch and bound on what the bounds leave open", .def = ""},
        {.kind = IBP_OPT_DOUBLE, .name = "--bab-timeout", .arg = "S", .dest = &c->bab_timeout,
         .lo = 0, .lo_open = 1, .hi = 1e9, .help = "branch and bound seconds per box",
         .def = "the time left"},
        {.kind = IBP_OPT_INT64, .name = "--max-domains", .arg = "N", .dest = &c->max_domains,
         .lo = 1, .hi = 1e12, .help = "branch and bound's cap on open domains"},
        {.kind = IBP_OPT_U64, .name = "--seed", .arg = "N", .dest = &c->seed, .help = "attack seed"},
        {.kind = IBP_OPT_INT, .name = "--threads", .arg = "N", .dest = &c->threads, .lo = 0,
         .hi = 4096, .help = "threads, 0 = OpenMP's default"},
        {.kind = IBP_OPT_DOUBLE, .name = "--norm-mean", .arg = "M", .dest = &o->mean_arg,
         .lo = -1e30, .hi = 1e30, .help = "with --norm-std: prepend (x - M) / S to the network",
         .def = "none"},
        {.kind = IBP_OPT_DOUBLE, .name = "--norm-std", .arg = "S", .dest = &o->std_arg, .lo = 0,
         .lo_open = 1, .hi = 1e30, .help = "see --norm-mean", .def = "none"},
        {.kind = IBP_OPT_FLAG, .name = "--verbose", .alias = "-v", .dest = &o->verbose, .flag = 1,
         .help = "stage times and boxes proved, on stderr", .def = ""},
        {.kind = IBP_OPT_SECTION, .help = "batch mode"},
        {.kind = IBP_OPT_STRING, .name = "--instances", .arg = "CSV", .dest = &o->instances,
         .help = "run every row (onnx,vnnlib,timeout; paths relative to\nthe csv's folder)",
         .def = ""},
        {.kind = IBP_OPT_STRING, .name = "--verdicts", .arg = "CSV", .dest = &o->verdicts,
         .help = "known answers (onnx,vnnlib,verdict) to compare with"},
        {.kind = IBP_OPT_DOUBLE, .name = "--timeout-scale", .arg = "F", .dest = &o->timeout_scale,
         .lo = 0, .lo_open = 1, .hi = 1e9, .help = "multiply each row's timeout by F"},
        {.kind = IBP_OPT_STRING, .name = "--results", .arg = "DIR", .dest = &o->results_dir,
         .help = "write each instance's result file into DIR"},
        {.kind = IBP_OPT_FLAG, .name = "--quiet", .dest = &o->quiet, .flag = 1,
         .help = "only the summary", .def = ""},
    };
    _Static_assert(sizeof opts / sizeof opts[0] <= IBP_OPTS_MAX,
                   "ibp-verify vnncomp has more options than IBP_OPTS_MAX");
    memcpy(t, opts, sizeof opts);
    return (int)(sizeof opts / sizeof opts[0]);
}

static void usage(const struct ibp_opt *t, int n)
{
    struct ibp_wbuf w = {0};
    ibp_opts_help(t, n, &w);
    printf("usage: ibp-verify vnncomp [options] ONNX VNNLIB [RESULT_FILE]\n"
           "       ibp-verify vnncomp --instances DIR/instances.csv [--verdicts CSV] [options]\n"
           "\n"
           "Answers a VNN-LIB property on an ONNX network: unsat (proved), sat (with a\n"
           "counterexample), unknown or timeout, in the VNN-COMP result-file format.\n"
           "Attack first (PGD), then bounds: IBP, CROWN-IBP, CROWN, input splitting (at\n"
           "most 16 inputs), branch and bound (alpha-CROWN root, beta-CROWN splits),\n"
           "then more attacks on the time left.\n"
           "Exit status 0 for any answer, 1 on an error (2: bad usage); batch mode: 1\n"
           "when an answer is wrong or an instance fails.\n"
           "\n"
           "%s",
           w.failed || !w.data ? "" : (const char *)w.data);
    ibp_wbuf_free(&w);
}

/* Returns 0 on success, 1 after --help, -1 on bad usage (message printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
    memset(o, 0, sizeof *o);
    ibp_vnncomp_config_default(&o->cfg);
    o->timeout = DEFAULT_TIMEOUT;
    o->timeout_scale = 1.0;
    o->mean_arg = o->std_arg = NAN;
    const char *pos[3];
    int n_pos = 0, help = 0;
    struct ibp_opt table[IBP_OPTS_MAX];
    int n_opts = options_table(o, table);
    struct ibp_error err;
    if (ibp_opts_parse(table, n_opts, argc, argv, 1, pos, 3, &n_pos, &help, &err)) {
        fprintf(stderr, "ibp-verify vnncomp: %s (see --help)\n", err.msg);
        return -1;
    }
    if (help) {
        usage(table, n_opts);
        return 1;
    }
    int have_mean = !isnan(o->mean_arg), have_std = !isnan(o->std_arg);
    o->norm_mean = (float)o->mean_arg;
    o->norm_std = (float)o->std_arg;
    if (have_mean != have_std) {
        fprintf(stderr, "ibp-verify vnncomp: --norm-mean and --norm-std go together\n");
        return -1;
    }
    o->n_norm = have_mean;
    if (o->instances) {
        if (n_pos) {
            fprintf(stderr, "ibp-verify vnncomp: --instances takes no ONNX/VNNLIB arguments\n");
            return -1;
        }
        return 0;
    }
    if (o->verdicts || o->results_dir) {
        fprintf(stderr, "ibp-verify vnncomp: --verdicts and --results need --instances\n");
        return -1;
    }
    if (n_pos < 2) {
        fprintf(stderr, "ibp-verify vnncomp: need ONNX and VNNLIB (see --help)\n");
        return -1;
    }
    o->onnx = pos[0];
    o->vnnlib = pos[1];
    if (n_pos == 3) {
        if (o->result) {
            fprintf(stderr, "ibp-verify vnncomp: RESULT_FILE given twice\n");
            return -1;
        }
        o->result = pos[2];
    }
    return 0;
}

/* Loads both files and answers the property within `timeout` seconds counted from t0.
 * On success *text is the result file's text. */
static enum ibp_status run_one(const struct options *o, const char *onnx, const char *vnnlib,
                               double timeout, double t0, struct ibp_vnncomp_result *res,
                               char **text, int *valid, char *why, struct ibp_error *err)
{
    struct ibp_onnx_options oo = {0};
    if (o->n_norm) {
        oo.n_norm = 1;
        oo.norm_mean = &o->norm_mean;
        oo.norm_std = &o->norm_std;
    }
    struct ibp_net *net = NULL;
    struct ibp_vnnlib *prop = NULL;
    *text = NULL;
    *valid = 1;
    why[0] = '\0';
    enum ibp_status st = ibp_onnx_load(onnx, &oo, &net, NULL, err);
    if (st == IBP_OK)
        st = ibp_vnnlib_load(vnnlib, &prop, err);
    if (st == IBP_OK && prop->n_boxes == 0)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: no input satisfies the input constraints (an "
                                           "empty box or contradictory constraints)", vnnlib);
    if (st == IBP_OK) {
        struct ibp_vnncomp_config cfg = o->cfg;
        /* the limit covers start-up: what loading took is no longer available */
        cfg.time_limit = timeout - (ibp_clock_seconds() - t0);
        if (cfg.time_limit <= 0) {
            ibp_vnncomp_result_clear(res);
            res->answer = IBP_VNN_TIMEOUT;
            res->decided_by = "";
        } else {
            st = ibp_vnncomp_verify(net, prop, &cfg, res, err);
        }
    }
    size_t len;
    if (st == IBP_OK)
        st = ibp_vnncomp_result_format(res, prop, text, &len, err);
    /* A sat answer is re-checked from its printed form, as an outside checker reads it. */
    if (st == IBP_OK && res->answer == IBP_VNN_SAT) {
        double *x = malloc((size_t)prop->n_inputs * sizeof *x);
        double *y = malloc((size_t)prop->n_outputs * sizeof *y);
        const char *body = strchr(*text, '\n');
        if (!x || !y)
            st = ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
        if (st == IBP_OK)
            st = ibp_vnncomp_counterexample_parse(body, strlen(body), "result", prop->n_inputs,
                                                  prop->n_outputs, x, y, err);
        if (st == IBP_OK)
            st = ibp_vnncomp_counterexample_check(net, prop, x, y, 1e-4, valid, why, err);
        free(x);
        free(y);
    }
    ibp_net_free(net);
    ibp_vnnlib_free(prop);
    return st;
}

static void print_verbose(const struct ibp_vnncomp_result *r)
{
    fprintf(stderr, "vnncomp: %s (%s) in %.3f s; boxes %d; attack %.3f s, %d restarts",
            ibp_vnn_answer_name(r->answer), r->decided_by[0] ? r->decided_by : "-",
            r->seconds_total, r->boxes, r->seconds[0], r->attack_restarts);
    int any_ran = 0;
    for (int k = 0; k < IBP_BOUND_METHOD_COUNT; k++) {
        if (r->method_ran[k])
            fprintf(stderr, "; %s %.3f s, %d proved", ibp_bound_method_name(k),
                    r->seconds[k + 1], r->proved[k]);
        any_ran |= r->method_ran[k];
    }
    if (any_ran)
        fprintf(stderr, "; proof margin %.4g", r->proof_margin);
    if (r->bab_domains > 0)
        fprintf(stderr, "; bab %.3f s, %ld domains%s%s", r->bab_seconds, r->bab_domains,
                r->bab_unknown[0] ? ", open: " : "", r->bab_unknown);
    fprintf(stderr, "\n");
    if (r->note[0])
        fprintf(stderr, "vnncomp: note: %s\n", r->note);
}

static int main_single(const struct options *o, double t0)
{
    struct ibp_vnncomp_result res = {0};
    struct ibp_error err = {0};
    char *text = NULL, why[IBP_ERROR_LEN];
    int valid;
    enum ibp_status st = run_one(o, o->onnx, o->vnnlib, o->timeout, t0, &res, &text, &valid,
                                 why, &err);
    if (st == IBP_OK && !valid)
        st = ibp_fail(&err, IBP_ERR_NUMERIC, "internal check of the counterexample failed: %s",
                      why);
    if (st == IBP_OK && o->result)
        st = ibp_file_write_atomic(o->result, text, strlen(text), &err);
    if (st != IBP_OK) {
        fprintf(stderr, "ibp-verify vnncomp: error: %s\n", err.msg);
        free(text);
        ibp_vnncomp_result_clear(&res);
        return 1;
    }
    if (o->verbose)
        print_verbose(&res);
    if (o->result)
        printf("%s\n", ibp_vnn_answer_name(res.answer));
    else
        fputs(text, stdout);
    free(text);
    ibp_vnncomp_result_clear(&res);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A file name for an instance's result: onnx and vnnlib base names without extensions. */
static void result_name(const char *dir, const struct ibp_vnncomp_instance *r, char *buf,
                        size_t cap)
{
    char parts[2][256];
    const char *src[2] = {r->onnx, r->vnnlib};
    for (int k = 0; k < 2; k++) {
        const char *base = strrchr(src[k], '/');
        base = base ? base + 1 : src[k];
        snprintf(parts[k], sizeof parts[k], "%s", base);
        char *dot = strchr(parts[k], '.');
        if (dot)
            *dot = '\0';
    }
    snprintf(buf, cap, "%s/%s_%s.result", dir, parts[0], parts[1]);
}

#define N_COLS (IBP_VNN_ANSWER_COUNT + 1) /* the answers, then error */

static int main_batch(const struct options *o)
{
    struct stat sb;
    if (o->results_dir && (stat(o->results_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        fprintf(stderr, "ibp-verify vnncomp: --results %s: not a folder\n", o->results_dir);
        return 2;
    }
    struct ibp_error err = {0};
    struct ibp_vnncomp_instances *tab = NULL;
    struct ibp_vnncomp_verdicts *ver = NULL;
    enum ibp_status st = ibp_vnncomp_instances_load(o->instances, &tab, &err);
    if (st == IBP_OK && o->verdicts)
        st = ibp_vnncomp_verdicts_load(o->verdicts, &ver, &err);
    double *times = st == IBP_OK ? malloc((size_t)tab->n * sizeof *times) : NULL;
    if (st == IBP_OK && !times)
        st = ibp_fail(&err, IBP_ERR_NOMEM, "out of memory");
    if (st != IBP_OK) {
        fprintf(stderr, "ibp-verify vnncomp: error: %s\n", err.msg);
        ibp_vnncomp_instances_free(tab);
        ibp_vnncomp_verdicts_free(ver);
        return 1;
    }
    /* counts[verdict][answer or error], wrong[verdict] */
    int counts[4][N_COLS] = {{0}}, wrong[4] = {0}, n_wrong = 0, n_error = 0;
    if (!o->quiet)
        printf("%-4s %-36s %-28s %-7s %-8s %8s  %s\n", "#", "onnx", "vnnlib", "verdict",
               "answer", "seconds", "by");
    for (int i = 0; i < tab->n; i++) {
        const struct ibp_vnncomp_instance *r = &tab->rows[i];
        enum ibp_vnn_verdict v = ver ? ibp_vnncomp_verdict_find(ver, r->onnx, r->vnnlib)
                                     : IBP_VNN_VERDICT_NONE;
        struct ibp_vnncomp_result res = {0};
        char *text = NULL, why[IBP_ERROR_LEN];
        int valid;
        ibp_error_clear(&err);
        double t0 = ibp_clock_seconds();
        st = run_one(o, r->onnx_path, r->vnnlib_path, r->timeout * o->timeout_scale, t0, &res,
                     &text, &valid, why, &err);
        if (st == IBP_OK && o->results_dir) {
            char path[4096];
            result_name(o->results_dir, r, path, sizeof path);
            st = ibp_file_write_atomic(path, text, strlen(text), &err);
        }
        times[i] = ibp_clock_seconds() - t0;
        const char *mark = "";
        int col;
        if (st != IBP_OK) {
            col = IBP_VNN_ANSWER_COUNT;
            n_error++;
            mark = "ERROR";
        } else {
            col = (int)res.answer;
            if (!valid || ibp_vnn_answer_wrong(res.answer, v)) {
                wrong[v]++;
                n_wrong++;
                mark = "WRONG";
            }
        }
        counts[v][col]++;
        if (!o->quiet) {
            const char *answer = st == IBP_OK ? ibp_vnn_answer_name(res.answer) : "error";
            const char *by = st == IBP_OK && res.decided_by[0] ? res.decided_by : "-";
            printf("%-4d %-36s %-28s %-7s %-8s %8.3f  %s %s\n", i + 1, r->onnx, r->vnnlib,
                   ibp_vnn_verdict_name(v), answer, times[i], by, mark);
            if (st != IBP_OK)
                printf("     error: %s\n", err.msg);
            else if (!valid)
                printf("     counterexample rejected: %s\n", why);
            if (o->verbose && st == IBP_OK)
                print_verbose(&res);
            fflush(stdout);
        }
        free(text);
        ibp_vnncomp_result_clear(&res);
    }
    double median = 0.0;
    if (tab->n) {
        qsort(times, (size_t)tab->n, sizeof *times, cmp_double);
        median = tab->n % 2 ? times[tab->n / 2]
                            : 0.5 * (times[tab->n / 2 - 1] + times[tab->n / 2]);
    }
    printf("\nsummary: %s (%d instances, timeout scale %g, %s bounds)\n", o->instances, tab->n,
           o->timeout_scale, o->cfg.sound ? "sound" : "float32");
    printf("%-9s %6s %6s %8s %8s %6s %6s %6s\n", "verdict", "unsat", "sat", "unknown", "timeout",
           "error", "total", "wrong");
    for (int v = 0; v < 4; v++) {
        int total = 0;
        for (int c = 0; c < N_COLS; c++)
            total += counts[v][c];
        if (!total)
            continue;
        printf("%-9s %6d %6d %8d %8d %6d %6d %6d\n", ibp_vnn_verdict_name((enum ibp_vnn_verdict)v),
               counts[v][IBP_VNN_UNSAT], counts[v][IBP_VNN_SAT], counts[v][IBP_VNN_UNKNOWN],
               counts[v][IBP_VNN_TIMEOUT], counts[v][IBP_VNN_ANSWER_COUNT], total, wrong[v]);
    }
    printf("wrong answers: %d, errors: %d; median time per instance (start-up included) "
           "%.3f s, max %.3f s\n", n_wrong, n_error, median, tab->n ? times[tab->n - 1] : 0.0);
    free(times);
    ibp_vnncomp_instances_free(tab);
    ibp_vnncomp_verdicts_free(ver);
    return n_wrong || n_error ? 1 : 0;
}

int ibp_verify_vnncomp_main(int argc, char **argv)
{
    double t0 = ibp_clock_seconds();
    struct options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : 2;
    return o.instances ? main_batch(&o) : main_single(&o, t0);
}
