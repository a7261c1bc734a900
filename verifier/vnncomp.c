#include "verifier/vnncomp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <unistd.h>

#include "nets/base/bytes.h"
#include "nets/base/clock.h"
#include "nets/bounds/bounds.h"
#include "nets/base/gzread.h"
#include "nets/base/parse.h"
#include "nets/passes/passes.h"
#include "nets/base/rng.h"
#include "nets/bounds/sound_fp.h"
#include "nets/passes/attack.h"
#include "verifier/bab.h"
#include "verifier/input_split.h"

#define MAX_CSV_BYTES ((size_t)1 << 26)

/* Attack restarts run this many at a time, as copies of the box in one batch. */
#define ATTACK_BATCH 16

/* Appends "STAGE skipped: WHY" to the result's note (a stage the network or the memory
 * does not allow; the others go on). */
static void note_skipped(struct ibp_vnncomp_result *res, const char *stage, const char *why)
{
    size_t len = strlen(res->note);
    snprintf(res->note + len, sizeof res->note - len, "%s%s skipped: %s", len ? "; " : "",
             stage, why);
}

const char *ibp_vnn_answer_name(enum ibp_vnn_answer a)
{
    switch (a) {
    case IBP_VNN_UNSAT:
        return "unsat";
    case IBP_VNN_SAT:
        return "sat";
    case IBP_VNN_UNKNOWN:
        return "unknown";
    case IBP_VNN_TIMEOUT:
        return "timeout";
    }
    return "?";
}

const char *ibp_vnn_verdict_name(enum ibp_vnn_verdict v)
{
    switch (v) {
    case IBP_VNN_VERDICT_NONE:
        return "none";
    case IBP_VNN_VERDICT_UNSAT:
        return "unsat";
    case IBP_VNN_VERDICT_SAT:
        return "sat";
    case IBP_VNN_VERDICT_OPEN:
        return "open";
    }
    return "?";
}

int ibp_vnn_answer_wrong(enum ibp_vnn_answer a, enum ibp_vnn_verdict v)
{
    return (a == IBP_VNN_UNSAT && v == IBP_VNN_VERDICT_SAT) ||
           (a == IBP_VNN_SAT && v == IBP_VNN_VERDICT_UNSAT);
}

void ibp_vnncomp_config_default(struct ibp_vnncomp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->time_limit = 0.0;
    cfg->sound = 1;
    /* Attack effort: a short first attack catches the easy counterexamples before any
     * bound is computed; the later rounds give the hard ones more restarts only when the
     * bounds failed. Restarts run ATTACK_BATCH at a time (one GEMM per layer and step). */
    cfg->attack_steps = 100;
    cfg->first_restarts = 16;
    cfg->round_restarts = 16;
    cfg->rounds = 8;
    cfg->methods = (1 << IBP_BOUND_IBP) | (1 << IBP_BOUND_CROWN_IBP) | (1 << IBP_BOUND_CROWN);
    cfg->input_split = 1;
    cfg->seed = 20221;
    cfg->threads = 0;
    /* branch and bound after the bounds, on the time that is left (it runs its own
     * attacks inside domains); the later attack rounds only when it stopped early */
    cfg->bab = 1;
    cfg->bab_timeout = 0.0;
    cfg->max_domains = 200000;
}

void ibp_vnncomp_result_clear(struct ibp_vnncomp_result *res)
{
    free(res->x);
    free(res->y);
    memset(res, 0, sizeof *res);
    res->decided_by = "";
    res->bab_unknown = "";
    res->proof_margin = -INFINITY;
    res->answer = IBP_VNN_UNKNOWN;
}

/* ---- the search ---- */

struct search {
    const struct ibp_net *net;
    const struct ibp_vnnlib *prop;
    const struct ibp_vnncomp_config *cfg;
    struct ibp_vnncomp_result *res;
    double deadline; /* monotonic seconds; +inf without a limit */
    int timed_out;
    int n_in, n_out, max_rows;
    struct ibp_workspace *ws; /* clean forward, batch 1 */
    struct ibp_attack *attack;
    /* The current box, ATTACK_BATCH copies (the bounds use the first): */
    float *C;          /* [ATTACK_BATCH][max_rows][n_out] */
    double *offset;    /* [ATTACK_BATCH][max_rows] */
    float *lo, *hi;    /* [ATTACK_BATCH][n_in], box rounded outward */
    int *disjunct;     /* [max_rows] */
    float *x_start;    /* [ATTACK_BATCH][n_in] */
    struct ibp_rng rng; /* corner starts */
    float *x_adv;      /* [ATTACK_BATCH][n_in] */
    float *C_t;        /* [ATTACK_BATCH][max_rows][n_out], one disjunct's rows */
    double *offset_t;  /* [ATTACK_BATCH][max_rows] */
    int *disjunct_t;   /* [max_rows] */
    double *obj;       /* [ATTACK_BATCH] */
    int *hit;          /* [ATTACK_BATCH] */
    float *xf;         /* [n_in] */
    float *yf;         /* [n_out] */
    double *xd;        /* [n_in] */
    double *yd;        /* [n_out] */
    float *lb;         /* [max_rows] */
    double *best_lb;   /* [n_boxes][max_rows], best lower bound of each row so far */
    int *proved;       /* [n_boxes] */
    long restarts;     /* attack calls, for distinct seeds */
};

static int out_of_time(struct search *s)
{
    if (ibp_clock_seconds() >= s->deadline)
        s->timed_out = 1;
    return s->timed_out;
}

/* The float32 value nearest to x[i] that lies inside the box as parsed (doubles): the
 * attack works on the box rounded outward to floats, whose ends can lie just outside.
 * When no float lies in [lo, hi] (a degenerate box), the double lo itself is used. */
static void snap_to_box(const struct ibp_vnnlib_box *box, int n, const float *x, double *xd)
{
    for (int i = 0; i < n; i++) {
        double l = box->lo[i], h = box->hi[i];
        float v = x[i];
        if ((double)v < l) {
            v = (float)l;
            if ((double)v < l)
                v = nextafterf(v, INFINITY);
        }
        if ((double)v > h) {
            v = (float)h;
            if ((double)v > h)
                v = nextafterf(v, -INFINITY);
        }
        xd[i] = (double)v >= l && (double)v <= h ? (double)v : l;
    }
}

/* Float32 forward pass at (float)xd; outputs in s->yf and s->yd; *finite = 0 when an
 * output is Inf or NaN (never a counterexample). */
static enum ibp_status forward(struct search *s, const double *xd, int *finite,
                               struct ibp_error *err)
{
    for (int i = 0; i < s->n_in; i++)
        s->xf[i] = (float)xd[i];
    enum ibp_status st = ibp_pass_clean(s->net, s->ws, s->xf, 1, IBP_BN_EVAL, s->yf, err);
    *finite = 1;
    for (int j = 0; st == IBP_OK && j < s->n_out; j++) {
        *finite &= isfinite(s->yf[j]) != 0;
        s->yd[j] = s->yf[j];
    }
    return st;
}

/* min over the disjuncts of box b of the max over their rows of m(y): <= 0 iff violated. */
static double violation(const struct ibp_vnnlib *p, int b, const double *y)
{
    double best = INFINITY;
    for (int d = 0; d < p->boxes[b].n_disjuncts; d++) {
        const struct ibp_vnnlib_disjunct *dj = &p->boxes[b].disjuncts[d];
        double worst = -INFINITY;
        for (int r = 0; r < dj->n_rows; r++) {
            const struct ibp_vnnlib_row *row = &dj->rows[r];
            double m = row->b;
            for (int k = 0; k < row->n; k++)
                m += row->a[k] * y[row->idx[k]];
            worst = fmax(worst, m);
        }
        best = fmin(best, worst);
    }
    return best;
}

/* Takes x (floats, from the attack or the box centre) as a candidate for box b: snapped
 * into the box, run forward, kept as the answer when it violates the property. */
static enum ibp_status try_candidate(struct search *s, int b, const float *x, int *found,
                                     struct ibp_error *err)
{
    int finite;
    *found = 0;
    snap_to_box(&s->prop->boxes[b], s->n_in, x, s->xd);
    enum ibp_status st = forward(s, s->xd, &finite, err);
    if (st != IBP_OK || !finite || !ibp_vnnlib_violated(s->prop, b, s->yd))
        return st;
    struct ibp_vnncomp_result *r = s->res;
    r->x = malloc((size_t)s->n_in * sizeof *r->x);
    r->y = malloc((size_t)s->n_out * sizeof *r->y);
    if (!r->x || !r->y)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for the counterexample");
    memcpy(r->x, s->xd, (size_t)s->n_in * sizeof *r->x);
    memcpy(r->y, s->yf, (size_t)s->n_out * sizeof *r->y);
    r->answer = IBP_VNN_SAT;
    r->box = b;
    r->margin = violation(s->prop, b, s->yd);
    *found = 1;
    return IBP_OK;
}

/* `batch` attack restarts on box b (load_box done), from start[batch][n_in] or (NULL)
 * from uniform random points; each call draws from a fresh seed. target < 0: the whole
 * property; else only the rows of disjunct `target` (a targeted attack: the min over
 * disjuncts makes PGD follow whichever disjunct is closest, which can trap it). */
static enum ibp_status attack_batch(struct search *s, int b, int rows, int target, int batch,
                                    const float *start, int *found, struct ibp_error *err)
{
    const float *C = s->C;
    const double *offset = s->offset;
    const int *disjunct = s->disjunct;
    if (target >= 0) {
        int r0 = 0;
        while (r0 < rows && s->disjunct[r0] != target)
            r0++;
        int r1 = r0;
        while (r1 < rows && s->disjunct[r1] == target)
            r1++;
        if (r1 == r0)
            return IBP_OK;
        size_t n_out = (size_t)s->n_out, cs = (size_t)(r1 - r0) * n_out;
        for (int k = 0; k < batch; k++) {
            memcpy(s->C_t + (size_t)k * cs, s->C + (size_t)r0 * n_out, cs * sizeof *s->C);
            memcpy(s->offset_t + (size_t)k * (size_t)(r1 - r0), s->offset + r0,
                   (size_t)(r1 - r0) * sizeof *s->offset);
        }
        C = s->C_t;
        offset = s->offset_t;
        memset(s->disjunct_t, 0, (size_t)(r1 - r0) * sizeof *s->disjunct_t);
        disjunct = s->disjunct_t;
        rows = r1 - r0;
    }
    struct ibp_attack_config ac;
    ibp_attack_config_default(&ac);
    ac.steps = s->cfg->attack_steps;
    ac.restarts = 1;
    ac.seed = s->cfg->seed * 0x9E3779B97F4A7C15ull + (uint64_t)s->restarts++;
    struct ibp_attack_spec spec = {
        .labels = NULL, .C = C, .offset = offset, .disjunct = disjunct, .rows = rows};
    *found = 0;
    s->res->attack_restarts += batch;
    enum ibp_status st = ibp_attack_run(s->net, s->attack, &ac, start, s->lo, s->hi, batch,
                                        &spec, s->x_adv, s->obj, s->hit, err);
    for (int k = 0; st == IBP_OK && k < batch && !*found; k++)
        if (s->hit[k])
            st = try_candidate(s, b, s->x_adv + (size_t)k * (size_t)s->n_in, found, err);
    return st;
}

/* Box b into the spec arrays, ATTACK_BATCH copies; *rows its row count. */
static void load_box(struct search *s, int b, int *rows)
{
    size_t n_in = (size_t)s->n_in;
    *rows = ibp_vnnlib_box_rows(s->prop, b);
    ibp_vnnlib_spec(s->prop, b, s->C, s->offset, s->disjunct);
    ibp_vnnlib_box_float(s->prop, b, s->lo, s->hi);
    /* the attack reads C and offset with a stride of `rows` rows per sample */
    size_t cs = (size_t)*rows * (size_t)s->n_out;
    for (int k = 1; k < ATTACK_BATCH; k++) {
        memcpy(s->C + (size_t)k * cs, s->C, cs * sizeof *s->C);
        memcpy(s->offset + (size_t)k * (size_t)*rows, s->offset, (size_t)*rows * sizeof *s->offset);
        memcpy(s->lo + (size_t)k * n_in, s->lo, n_in * sizeof *s->lo);
        memcpy(s->hi + (size_t)k * n_in, s->hi, n_in * sizeof *s->hi);
    }
}

/* Starting points for a batch of restarts, into s->x_start (box b loaded). Uniform
 * random starts (the attack's own) alternate with corners: PGD on a saturated network
 * can stall in a flat region around the centre while a counterexample waits near a
 * corner of the box (on the MNIST nets of VNN-COMP 2022, brightening most pixels), so
 * the first batch starts at the centre, the upper and the lower corner, and corners
 * with each input at its upper end with probability q, for q spread over (0, 1); later
 * corner batches draw q at random per restart. */
static const float *attack_starts(struct search *s, int first, int batch)
{
    size_t n = (size_t)s->n_in;
    if (!first && s->restarts % 2 == 0)
        return NULL;
    for (int k = 0; k < batch; k++) {
        float *x = s->x_start + (size_t)k * n;
        double q = first ? (double)(k - 2) / (double)(batch - 2) : ibp_rng_uniform(&s->rng);
        for (size_t i = 0; i < n; i++) {
            if (first && k == 0)
                x[i] = 0.5f * s->lo[i] + 0.5f * s->hi[i];
            else if (first && k <= 2)
                x[i] = k == 1 ? s->hi[i] : s->lo[i];
            else
                x[i] = ibp_rng_uniform(&s->rng) < q ? s->hi[i] : s->lo[i];
        }
    }
    return s->x_start;
}

/* Attack round: `restarts` restarts on every open box, on the whole property and, when
 * `targeted` and the box has several disjuncts, as many on each disjunct alone; starts
 * from attack_starts. */
static enum ibp_status attack_round(struct search *s, int restarts, int first, int targeted,
                                    int *found, struct ibp_error *err)
{
    double t = ibp_clock_seconds();
    enum ibp_status st = IBP_OK;
    *found = 0;
    for (int b = 0; b < s->prop->n_boxes && st == IBP_OK && !*found; b++) {
        if (s->proved[b])
            continue;
        int rows;
        load_box(s, b, &rows);
        if (rows == 0)
            continue; /* a disjunct without rows: the centre check settled it */
        int n_targets = targeted && s->prop->boxes[b].n_disjuncts > 1
                            ? s->prop->boxes[b].n_disjuncts : 0;
        for (int tg = -1; tg < n_targets; tg++)
            for (int r = 0; r < restarts && st == IBP_OK && !*found; r += ATTACK_BATCH) {
                if (out_of_time(s))
                    break;
                int k = restarts - r < ATTACK_BATCH ? restarts - r : ATTACK_BATCH;
                const float *start = attack_starts(s, first && r == 0, k);
                st = attack_batch(s, b, rows, tg, k, start, found, err);
            }
    }
    s->res->seconds[0] += ibp_clock_seconds() - t;
    return st;
}

/* The proof margin over all boxes from the best lower bounds so far (vnncomp.h). */
static double proof_margin(const struct search *s)
{
    const struct ibp_vnnlib *p = s->prop;
    double margin = INFINITY;
    for (int b = 0; b < p->n_boxes; b++) {
        const double *best = &s->best_lb[(size_t)b * (size_t)s->max_rows];
        int r = 0;
        for (int d = 0; d < p->boxes[b].n_disjuncts; d++) {
            const struct ibp_vnnlib_disjunct *dj = &p->boxes[b].disjuncts[d];
            double refuted = -INFINITY;
            for (int k = 0; k < dj->n_rows; k++, r++)
                refuted = fmax(refuted, best[r] + dj->rows[k].b);
            margin = fmin(margin, refuted);
        }
    }
    return margin;
}

/* Inputs of at most this many dimensions get input splitting (SPEC §3.4). */
#define INPUT_SPLIT_MAX_DIMS 16

/* Input splitting on every open box, within the time left; proves boxes or finds a
 * counterexample (re-checked by try_candidate). A net CROWN cannot bound is skipped. */
static enum ibp_status input_split_stage(struct search *s, int *found, struct ibp_error *err)
{
    double t = ibp_clock_seconds();
    struct ibp_input_split_config ic;
    ibp_input_split_config_default(&ic);
    ic.sound = s->cfg->sound;
    ic.threads = s->cfg->threads;
    enum ibp_status st = IBP_OK;
    *found = 0;
    for (int b = 0; b < s->prop->n_boxes && st == IBP_OK && !*found; b++) {
        if (s->proved[b] || out_of_time(s))
            continue;
        int rows;
        load_box(s, b, &rows);
        if (rows == 0)
            continue;
        ic.time_limit = isfinite(s->deadline) ? fmax(s->deadline - ibp_clock_seconds(), 1e-3) : 0.0;
        struct ibp_input_split_problem p = {.lo = s->lo, .hi = s->hi, .C = s->C,
                                            .offset = s->offset, .disjunct = s->disjunct,
                                            .rows = rows};
        struct ibp_input_split_result r;
        struct ibp_error e2 = {0};
        st = ibp_input_split_run(s->net, &p, &ic, s->x_adv, &r, &e2);
        if (st == IBP_ERR_UNSUPPORTED || st == IBP_ERR_NOMEM) {
            note_skipped(s->res, "input-split", e2.msg);
            st = IBP_OK;
            break;
        }
        if (st != IBP_OK)
            st = ibp_fail(err, st, "%s", e2.msg);
        else if (r.answer == IBP_INPUT_SPLIT_UNSAT)
            s->proved[b] = 1;
        else if (r.answer == IBP_INPUT_SPLIT_SAT)
            st = try_candidate(s, b, s->x_adv, found, err);
        else if (strcmp(r.why, "time limit") == 0)
            s->timed_out = 1;
    }
    s->res->input_split_seconds += ibp_clock_seconds() - t;
    return st;
}

/* Bounds of every open box with method m; updates best_lb and proved. */
static enum ibp_status bound_stage(struct search *s, enum ibp_bound_method m,
                                   struct ibp_error *err)
{
    double t = ibp_clock_seconds();
    struct ibp_bounder_config bc = {
        .method = m, .sound = s->cfg->sound, .max_batch = 1, .max_rows = s->max_rows};
    struct ibp_bounder *bd = NULL;
    struct ibp_error e2 = {0};
    enum ibp_status st = ibp_bounder_create(s->net, &bc, &bd, &e2);
    if (st == IBP_ERR_UNSUPPORTED || st == IBP_ERR_NOMEM) {
        /* the method cannot run on this net: the others still can */
        note_skipped(s->res, ibp_bound_method_name(m), e2.msg);
        return IBP_OK;
    }
    if (st != IBP_OK)
        return ibp_fail(err, st, "%s", e2.msg);
    if (s->cfg->threads > 0)
        ibp_bounder_set_threads(bd, s->cfg->threads);
    s->res->method_ran[m] = 1;
    int proved = 0;
    for (int b = 0; b < s->prop->n_boxes && st == IBP_OK; b++) {
        if (!s->proved[b]) {
            if (out_of_time(s))
                break;
            int rows;
            load_box(s, b, &rows);
            struct ibp_spec spec = {.labels = NULL, .C = s->C, .rows = rows};
            st = ibp_bounder_run(s->net, bd, s->lo, s->hi, 1, &spec, s->lb, err);
            double *best = &s->best_lb[(size_t)b * (size_t)s->max_rows];
            for (int r = 0; st == IBP_OK && r < rows; r++)
                if ((double)s->lb[r] > best[r])
                    best[r] = (double)s->lb[r];
            if (st == IBP_OK)
                s->proved[b] = ibp_vnnlib_proved(s->prop, b, best);
        }
        proved += s->proved[b];
    }
    s->res->proved[m] = proved;
    s->res->proof_margin = proof_margin(s);
    ibp_bounder_free(bd);
    s->res->seconds[1 + m] += ibp_clock_seconds() - t;
    return st;
}

/* Branch and bound on every open box whose disjuncts have one row each (the box is
 * then proved when every row's m(y) is > 0 on it: bab.h's property); other boxes are
 * left as they are. The offsets go to float rounded down in sound mode, so a proof
 * with them proves the rows with the exact offsets; a counterexample is kept only when
 * try_candidate confirms it against the property as parsed. */
static enum ibp_status bab_stage(struct search *s, int *found, struct ibp_error *err)
{
    double t = ibp_clock_seconds();
    enum ibp_status st = IBP_OK;
    float *d = malloc((size_t)s->max_rows * sizeof(float));
    float *cex = malloc((size_t)s->n_in * sizeof(float));
    if (!d || !cex)
        st = ibp_fail(err, IBP_ERR_NOMEM, "branch and bound: out of memory");
    for (int b = 0; st == IBP_OK && !*found && b < s->prop->n_boxes; b++) {
        if (s->proved[b])
            continue;
        if (out_of_time(s))
            break;
        int rows, single = 1;
        load_box(s, b, &rows);
        for (int r = 0; r < rows; r++)
            single &= s->disjunct[r] == r;
        if (!single || rows != s->prop->boxes[b].n_disjuncts)
            continue;
        for (int r = 0; r < rows; r++)
            d[r] = s->cfg->sound ? fp_to_float_dn(s->offset[r]) : (float)s->offset[r];
        struct ibp_bab_config bc = ibp_bab_config_default();
        double left = s->deadline - ibp_clock_seconds();
        bc.timeout_s = s->cfg->bab_timeout > 0.0 ? fmin(s->cfg->bab_timeout, left)
                                                 : (isinf(left) ? 60.0 : left);
        if (!(bc.timeout_s > 0.0))
            break;
        bc.max_domains = (long)s->cfg->max_domains;
        bc.sound = s->cfg->sound;
        bc.threads = s->cfg->threads > 0 ? s->cfg->threads : omp_get_max_threads();
        struct ibp_bab_result br;
        struct ibp_error e2 = {0};
        st = ibp_bab_run(s->net, s->lo, s->hi, s->C, d, rows, &bc, cex, &br, &e2);
        if (st == IBP_ERR_UNSUPPORTED || st == IBP_ERR_NOMEM) {
            note_skipped(s->res, "bab", e2.msg);
            st = IBP_OK;
            break;
        }
        if (st != IBP_OK) {
            st = ibp_fail(err, st, "%s", e2.msg);
            break;
        }
        s->res->bab_domains += br.domains;
        if (br.verdict == IBP_BAB_UNSAT)
            s->proved[b] = 1;
        else if (br.verdict == IBP_BAB_SAT)
            st = try_candidate(s, b, cex, found, err);
        else
            s->res->bab_unknown = ibp_bab_reason_name(br.reason);
        if (br.reason == IBP_BAB_TIME)
            s->timed_out = 1;
    }
    free(d);
    free(cex);
    s->res->bab_seconds += ibp_clock_seconds() - t;
    return st;
}

static void search_free(struct search *s)
{
    ibp_ws_free(s->ws);
    ibp_attack_free(s->attack);
    free(s->C);
    free(s->offset);
    free(s->disjunct);
    free(s->lo);
    free(s->hi);
    free(s->x_start);
    free(s->x_adv);
    free(s->obj);
    free(s->C_t);
    free(s->offset_t);
    free(s->disjunct_t);
    free(s->hit);
    free(s->xf);
    free(s->yf);
    free(s->xd);
    free(s->yd);
    free(s->lb);
    free(s->best_lb);
    free(s->proved);
}

static enum ibp_status check_sizes(const struct ibp_net *net, const struct ibp_vnnlib *prop,
                                   struct ibp_error *err)
{
    size_t n_in = ibp_shape_size(net->input);
    int n_out = ibp_net_outputs(net);
    if ((size_t)prop->n_inputs != n_in || prop->n_outputs != n_out)
        return ibp_fail(err, IBP_ERR_SHAPE,
                        "the property has %d inputs and %d outputs, the network %zu and %d",
                        prop->n_inputs, prop->n_outputs, n_in, n_out);
    return IBP_OK;
}

static enum ibp_status search_init(struct search *s, struct ibp_error *err)
{
    const struct ibp_vnnlib *p = s->prop;
    size_t n_in = (size_t)s->n_in, n_out = (size_t)s->n_out;
    s->max_rows = 1;
    for (int b = 0; b < p->n_boxes; b++) {
        int r = ibp_vnnlib_box_rows(p, b);
        if (r > s->max_rows)
            s->max_rows = r;
    }
    size_t rows = (size_t)s->max_rows;
    size_t K = ATTACK_BATCH;
    s->C = malloc(K * rows * n_out * sizeof *s->C);
    s->offset = malloc(K * rows * sizeof *s->offset);
    s->disjunct = malloc(rows * sizeof *s->disjunct);
    s->lo = malloc(K * n_in * sizeof *s->lo);
    s->hi = malloc(K * n_in * sizeof *s->hi);
    s->x_start = malloc(K * n_in * sizeof *s->x_start);
    s->x_adv = malloc(K * n_in * sizeof *s->x_adv);
    s->C_t = malloc(K * rows * n_out * sizeof *s->C_t);
    s->offset_t = malloc(K * rows * sizeof *s->offset_t);
    s->disjunct_t = malloc(rows * sizeof *s->disjunct_t);
    s->obj = malloc(K * sizeof *s->obj);
    s->hit = malloc(K * sizeof *s->hit);
    s->xf = malloc(n_in * sizeof *s->xf);
    s->yf = malloc(n_out * sizeof *s->yf);
    s->xd = malloc(n_in * sizeof *s->xd);
    s->yd = malloc(n_out * sizeof *s->yd);
    s->lb = malloc(rows * sizeof *s->lb);
    s->best_lb = malloc((size_t)p->n_boxes * rows * sizeof *s->best_lb);
    s->proved = calloc((size_t)p->n_boxes, sizeof *s->proved);
    if (!s->C || !s->offset || !s->disjunct || !s->lo || !s->hi || !s->x_start || !s->x_adv ||
        !s->obj || !s->hit || !s->C_t || !s->offset_t || !s->disjunct_t ||
        !s->xf || !s->yf || !s->xd || !s->yd || !s->lb || !s->best_lb || !s->proved)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory for %d boxes of %zu inputs",
                        p->n_boxes, n_in);
    for (size_t i = 0; i < (size_t)p->n_boxes * rows; i++)
        s->best_lb[i] = -INFINITY;
    enum ibp_status st = ibp_ws_create(s->net, 1, IBP_WS_CLEAN, &s->ws, err);
    if (st == IBP_OK && s->cfg->threads > 0)
        ibp_ws_set_threads(s->ws, s->cfg->threads);
    if (st == IBP_OK)
        st = ibp_attack_create(s->net, ATTACK_BATCH, s->max_rows, &s->attack, err);
    if (st == IBP_OK && s->cfg->threads > 0)
        ibp_attack_set_threads(s->attack, s->cfg->threads);
    return st;
}

static enum ibp_status check_config(const struct ibp_vnncomp_config *c, struct ibp_error *err)
{
    if (c->attack_steps < 1 || c->first_restarts < 1 || c->round_restarts < 1 ||
        c->rounds < 0 || c->threads < 0 || (c->methods & ~7) || isnan(c->time_limit) ||
        c->max_domains < 1 || isnan(c->bab_timeout))
        return ibp_fail(err, IBP_ERR_ARG,
                        "vnncomp config: steps %d, restarts %d/%d, rounds %d, threads %d, "
                        "methods %#x, max domains %lld: out of range", c->attack_steps,
                        c->first_restarts, c->round_restarts, c->rounds, c->threads,
                        (unsigned)c->methods, (long long)c->max_domains);
    return IBP_OK;
}

enum ibp_status ibp_vnncomp_verify(const struct ibp_net *net, const struct ibp_vnnlib *prop,
                                   const struct ibp_vnncomp_config *cfg,
                                   struct ibp_vnncomp_result *res, struct ibp_error *err)
{
    double t0 = ibp_clock_seconds();
    ibp_vnncomp_result_clear(res);
    enum ibp_status st = check_config(cfg, err);
    if (st == IBP_OK)
        st = check_sizes(net, prop, err);
    if (st != IBP_OK)
        return st;
    res->boxes = prop->n_boxes;
    res->n_inputs = prop->n_inputs;
    res->n_outputs = prop->n_outputs;
    if (prop->n_boxes == 0)
        return ibp_fail(err, IBP_ERR_ARG, "no input satisfies the property's input "
                                          "constraints (an empty box or contradictory "
                                          "constraints)");
    struct search s = {.net = net, .prop = prop, .cfg = cfg, .res = res,
                       .deadline = cfg->time_limit > 0 ? t0 + cfg->time_limit : INFINITY,
                       .n_in = prop->n_inputs, .n_out = prop->n_outputs};
    st = search_init(&s, err);
    ibp_rng_seed(&s.rng, cfg->seed, 0x5eed);
    int found = 0;
    /* The box centres first: free, and the only attack a disjunct without rows needs. */
    for (int b = 0; st == IBP_OK && !found && b < prop->n_boxes; b++) {
        ibp_vnnlib_box_float(prop, b, s.lo, s.hi);
        for (int i = 0; i < s.n_in; i++)
            s.x_start[i] = 0.5f * s.lo[i] + 0.5f * s.hi[i];
        st = try_candidate(&s, b, s.x_start, &found, err);
    }
    if (st == IBP_OK && !found)
        st = attack_round(&s, cfg->first_restarts, 1, 0, &found, err);
    int all_proved = 0;
    for (int m = 0; st == IBP_OK && !found && !all_proved && m < IBP_BOUND_METHOD_COUNT;
         m++) {
        if (!(cfg->methods & (1 << m)))
            continue;
        if (out_of_time(&s))
            break;
        st = bound_stage(&s, (enum ibp_bound_method)m, err);
        all_proved = 1;
        for (int b = 0; b < prop->n_boxes; b++)
            all_proved &= s.proved[b];
        if (st == IBP_OK && all_proved)
            res->decided_by = ibp_bound_method_name(m);
    }
    if (st == IBP_OK && !found && !all_proved && cfg->input_split &&
        s.n_in <= INPUT_SPLIT_MAX_DIMS && !out_of_time(&s)) {
        st = input_split_stage(&s, &found, err);
        all_proved = 1;
        for (int b = 0; b < prop->n_boxes; b++)
            all_proved &= s.proved[b];
        if (st == IBP_OK && (all_proved || found))
            res->decided_by = "input-split";
    }
    if (st == IBP_OK && !found && !all_proved && cfg->bab && !out_of_time(&s)) {
        st = bab_stage(&s, &found, err);
        all_proved = 1;
        for (int b = 0; b < prop->n_boxes; b++)
            all_proved &= s.proved[b];
        if (st == IBP_OK && (all_proved || found))
            res->decided_by = "bab";
    }
    for (int r = 0; st == IBP_OK && !found && !all_proved && !s.timed_out && r < cfg->rounds;
         r++) {
        if (out_of_time(&s))
            break;
        st = attack_round(&s, cfg->round_restarts, 0, 1, &found, err);
    }
    if (st == IBP_OK) {
        if (found) /* the answer is sat (try_candidate), by whichever stage found it */
            res->decided_by = res->decided_by[0] ? res->decided_by : "attack";
        else if (all_proved)
            res->answer = IBP_VNN_UNSAT;
        else
            res->answer = s.timed_out ? IBP_VNN_TIMEOUT : IBP_VNN_UNKNOWN;
    }
    search_free(&s);
    res->seconds_total = ibp_clock_seconds() - t0;
    if (st != IBP_OK)
        ibp_vnncomp_result_clear(res);
    return st;
}

/* ---- result files ---- */

enum ibp_status ibp_vnncomp_result_format(const struct ibp_vnncomp_result *res,
                                          const struct ibp_vnnlib *prop, char **text,
                                          size_t *len, struct ibp_error *err)
{
    struct ibp_wbuf t = {0};
    *text = NULL;
    *len = 0;
    ibp_wbuf_printf(&t, "%s\n", ibp_vnn_answer_name(res->answer));
    if (res->answer == IBP_VNN_SAT) {
        if (!res->x || !res->y || res->box < 0 || res->box >= prop->n_boxes ||
            res->n_inputs != prop->n_inputs || res->n_outputs != prop->n_outputs) {
            ibp_wbuf_free(&t);
            return ibp_fail(err, IBP_ERR_ARG, "result file: a sat result without a "
                                              "counterexample for this property");
        }
        const struct ibp_vnnlib_box *box = &prop->boxes[res->box];
        for (int i = 0; i < res->n_inputs; i++) {
            /* the short form only when it reads back inside the box and as the same float */
            char buf[64];
            double v = res->x[i];
            snprintf(buf, sizeof buf, "%.9g", v);
            double back = strtod(buf, NULL);
            if (!(back >= box->lo[i] && back <= box->hi[i] && (float)back == (float)v))
                snprintf(buf, sizeof buf, "%.17g", v);
            ibp_wbuf_printf(&t, "%s(X_%d %s)\n", i ? " " : "(", i, buf);
        }
        for (int j = 0; j < res->n_outputs; j++)
            ibp_wbuf_printf(&t, " (Y_%d %.9g)%s\n", j, (double)res->y[j],
                     j + 1 == res->n_outputs ? ")" : "");
    }
    if (t.failed) {
        ibp_wbuf_free(&t);
        return ibp_fail(err, IBP_ERR_NOMEM, "result file: out of memory");
    }
    *text = (char *)t.data;
    *len = t.len;
    return IBP_OK;
}

enum ibp_status ibp_vnncomp_counterexample_parse(const char *text, size_t len,
                                                 const char *name, int n_inputs,
                                                 int n_outputs, double *x, double *y,
                                                 struct ibp_error *err)
{
    const char *p = text, *end = text + len;
    size_t n_seen = (size_t)n_inputs + (size_t)n_outputs;
    char *seen = calloc(n_seen ? n_seen : 1, 1);
    if (!seen)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
    enum ibp_status st = IBP_OK;
    /* skip an optional answer line */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (end - p >= 3 && strncmp(p, "sat", 3) == 0) {
        p += 3;
        if (p < end && *p != '\n' && *p != '\r' && *p != ' ')
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: the answer line is not 'sat'", name);
    }
    int depth = 0;
    while (st == IBP_OK && p < end) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            p++;
        } else if (c == ')') {
            if (--depth < 0)
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s: unbalanced ')'", name);
            p++;
        } else if (c == '(') {
            p++;
            depth++;
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                p++;
            if (p < end && *p == '(')
                continue;
            /* an entry: (X_i v) or (Y_j v) */
            char var = p < end ? *p : '\0';
            if ((var != 'X' && var != 'Y') || end - p < 3 || p[1] != '_') {
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s: expected (X_i value) or (Y_j value)",
                              name);
                break;
            }
            char num[64];
            size_t k = 0;
            const char *q = p + 2;
            while (q < end && k + 1 < sizeof num && *q >= '0' && *q <= '9')
                num[k++] = *q++;
            num[k] = '\0';
            long idx = -1; /* stays -1 unless num is 1 to 9 digits */
            if (k < 10)
                ibp_parse_int(num, name, 0, 999999999, &idx, NULL);
            long lim = var == 'X' ? n_inputs : n_outputs;
            if (idx < 0 || idx >= lim) {
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s: variable %c_%s out of range (%ld declared)",
                              name, var, num, lim);
                break;
            }
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            k = 0;
            while (q < end && k + 1 < sizeof num && *q != ')' && *q != ' ' && *q != '\t' &&
                   *q != '\n' && *q != '\r')
                num[k++] = *q++;
            num[k] = '\0';
            double v;
            if (ibp_parse_double(num, name, &v, NULL) != IBP_OK) {
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s: %c_%ld: '%s' is not a finite number",
                              name, var, idx, num);
                break;
            }
            while (q < end && (*q == ' ' || *q == '\t'))
                q++;
            if (q >= end || *q != ')') {
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s: %c_%ld: expected ')'", name, var, idx);
                break;
            }
            size_t slot = var == 'X' ? (size_t)idx : (size_t)n_inputs + (size_t)idx;
            if (seen[slot]) {
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s: %c_%ld given twice", name, var, idx);
                break;
            }
            seen[slot] = 1;
            (var == 'X' ? x : y)[idx] = v;
            depth--;
            p = q + 1;
        } else {
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: unexpected '%c'", name, c);
        }
    }
    if (st == IBP_OK && depth != 0)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: unbalanced parentheses (truncated?)", name);
    for (size_t i = 0; st == IBP_OK && i < n_seen; i++)
        if (!seen[i])
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: %c_%zu missing", name,
                          i < (size_t)n_inputs ? 'X' : 'Y',
                          i < (size_t)n_inputs ? i : i - (size_t)n_inputs);
    free(seen);
    return st;
}

enum ibp_status ibp_vnncomp_counterexample_check(const struct ibp_net *net,
                                                 const struct ibp_vnnlib *prop,
                                                 const double *x, const double *y,
                                                 double y_tol, int *valid, char *why,
                                                 struct ibp_error *err)
{
    *valid = 0;
    why[0] = '\0';
    enum ibp_status st = check_sizes(net, prop, err);
    if (st != IBP_OK)
        return st;
    struct search s = {.net = net, .prop = prop, .n_in = prop->n_inputs,
                       .n_out = prop->n_outputs};
    s.xf = malloc((size_t)s.n_in * sizeof *s.xf);
    s.yf = malloc((size_t)s.n_out * sizeof *s.yf);
    s.yd = malloc((size_t)s.n_out * sizeof *s.yd);
    if (!s.xf || !s.yf || !s.yd)
        st = ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    if (st == IBP_OK)
        st = ibp_ws_create(net, 1, IBP_WS_CLEAN, &s.ws, err);
    int finite = 0;
    if (st == IBP_OK)
        st = forward(&s, x, &finite, err);
    if (st == IBP_OK && !finite) {
        snprintf(why, IBP_ERROR_LEN, "our forward pass at X gives a non-finite output");
    } else if (st == IBP_OK) {
        int in_some = 0;
        for (int b = 0; b < prop->n_boxes && !*valid; b++) {
            if (!ibp_vnnlib_in_box(prop, b, x))
                continue;
            in_some = 1;
            *valid = ibp_vnnlib_violated(prop, b, s.yd);
        }
        if (!in_some) {
            int i = 0;
            if (prop->n_boxes > 0)
                while (i + 1 < s.n_in && x[i] >= prop->boxes[0].lo[i] &&
                       x[i] <= prop->boxes[0].hi[i])
                    i++;
            snprintf(why, IBP_ERROR_LEN, "X lies in no box of the property (X_%d = %.17g)", i,
                     x[i]);
        } else if (!*valid) {
            snprintf(why, IBP_ERROR_LEN, "our forward pass at X does not violate the property");
        }
        for (int j = 0; *valid && y && j < s.n_out; j++) {
            if (!(fabs(s.yd[j] - y[j]) <= y_tol * fmax(1.0, fabs(y[j])))) {
                *valid = 0;
                snprintf(why, IBP_ERROR_LEN, "Y_%d = %.9g in the file, %.9g by our forward pass",
                         j, y[j], s.yd[j]);
            }
        }
    }
    ibp_ws_free(s.ws);
    free(s.xf);
    free(s.yf);
    free(s.yd);
    return st;
}

/* ---- csv tables ---- */

/* Splits text into lines; for each non-blank line, its three comma-separated fields
 * (trimmed, NUL-terminated in place) are passed to fn. */
typedef enum ibp_status (*row_fn)(void *ctx, int line, char **fields, int n_fields,
                                  struct ibp_error *err);

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static enum ibp_status csv_each(const char *text, size_t len, const char *name, row_fn fn,
                                void *ctx, struct ibp_error *err)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (strlen(copy) != len) {
        free(copy);
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: a NUL byte in the text (not a csv file?)",
                        name);
    }
    enum ibp_status st = IBP_OK;
    int line = 0;
    for (char *p = copy; st == IBP_OK && p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line++;
        char *l = trim(p);
        if (*l) {
            char *fields[8];
            int n = 0;
            for (char *f = l;;) {
                char *comma = strchr(f, ',');
                if (comma)
                    *comma = '\0';
                if (n < 8)
                    fields[n] = trim(f);
                n++;
                if (!comma)
                    break;
                f = comma + 1;
            }
            if (n != 3)
                st = ibp_fail(err, IBP_ERR_FORMAT, "%s:%d: %d fields, expected 3", name, line, n);
            else
                st = fn(ctx, line, fields, n, err);
            if (st != IBP_OK && err && err->msg[0] && !strstr(err->msg, name)) {
                char msg[IBP_ERROR_LEN];
                snprintf(msg, sizeof msg, "%s", err->msg);
                ibp_fail(err, st, "%s:%d: %s", name, line, msg);
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    free(copy);
    return st;
}

static int file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static char *join_path(const char *dir, const char *rel)
{
    size_t n = strlen(dir) + strlen(rel) + 8;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (rel[0] == '/' || !dir[0])
        snprintf(p, n, "%s", rel);
    else
        snprintf(p, n, "%s/%s", dir, rel);
    /* VNN-COMP benchmarks ship their files compressed while the csv names them plain */
    if (!file_exists(p)) {
        size_t k = strlen(p);
        memcpy(p + k, ".gz", 4);
        if (!file_exists(p))
            p[k] = '\0';
    }
    return p;
}

static int add_slot(void **arr, size_t elem, int n, int *cap)
{
    if (n < *cap)
        return 0;
    int c = *cap ? *cap * 2 : 16;
    void *q = realloc(*arr, (size_t)c * elem);
    if (!q)
        return -1;
    *arr = q;
    *cap = c;
    return 0;
}

struct inst_ctx {
    struct ibp_vnncomp_instances *t;
    int cap;
    const char *base;
};

static enum ibp_status inst_row(void *ctx, int line, char **f, int n, struct ibp_error *err)
{
    struct inst_ctx *c = ctx;
    double timeout;
    if (ibp_parse_double(f[2], "timeout", &timeout, NULL) != IBP_OK) {
        if (c->t->n == 0 && line == 1)
            return IBP_OK; /* a header */
        return ibp_fail(err, IBP_ERR_FORMAT, "timeout '%s' is not a number", f[2]);
    }
    if (timeout <= 0)
        return ibp_fail(err, IBP_ERR_FORMAT, "timeout %s is not positive", f[2]);
    if (!f[0][0] || !f[1][0])
        return ibp_fail(err, IBP_ERR_FORMAT, "empty onnx or vnnlib field");
    if (add_slot((void **)&c->t->rows, sizeof *c->t->rows, c->t->n, &c->cap))
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    struct ibp_vnncomp_instance *r = &c->t->rows[c->t->n];
    memset(r, 0, sizeof *r);
    c->t->n++;
    r->timeout = timeout;
    r->onnx = strdup(f[0]);
    r->vnnlib = strdup(f[1]);
    r->onnx_path = join_path(c->base, f[0]);
    r->vnnlib_path = join_path(c->base, f[1]);
    if (!r->onnx || !r->vnnlib || !r->onnx_path || !r->vnnlib_path)
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    return IBP_OK;
}

void ibp_vnncomp_instances_free(struct ibp_vnncomp_instances *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++) {
        free(t->rows[i].onnx);
        free(t->rows[i].vnnlib);
        free(t->rows[i].onnx_path);
        free(t->rows[i].vnnlib_path);
    }
    free(t->rows);
    free(t);
}

enum ibp_status ibp_vnncomp_instances_parse(const char *text, size_t len, const char *name,
                                            const char *base_dir,
                                            struct ibp_vnncomp_instances **out,
                                            struct ibp_error *err)
{
    *out = NULL;
    struct ibp_vnncomp_instances *t = calloc(1, sizeof *t);
    if (!t)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
    struct inst_ctx c = {.t = t, .cap = 0, .base = base_dir ? base_dir : ""};
    enum ibp_status st = csv_each(text, len, name, inst_row, &c, err);
    if (st == IBP_OK && t->n == 0)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: no instances", name);
    if (st != IBP_OK) {
        ibp_vnncomp_instances_free(t);
        return st;
    }
    *out = t;
    return IBP_OK;
}

static enum ibp_status read_text(const char *path, unsigned char **data, size_t *size,
                                 struct ibp_error *err)
{
    return ibp_gz_read_file(path, MAX_CSV_BYTES, data, size, err);
}

enum ibp_status ibp_vnncomp_instances_load(const char *path,
                                           struct ibp_vnncomp_instances **out,
                                           struct ibp_error *err)
{
    *out = NULL;
    unsigned char *data;
    size_t size;
    enum ibp_status st = read_text(path, &data, &size, err);
    if (st != IBP_OK)
        return st;
    char *dir = strdup(path);
    if (!dir) {
        free(data);
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    else
        strcpy(dir, ".");
    st = ibp_vnncomp_instances_parse((const char *)data, size, path, dir, out, err);
    free(dir);
    free(data);
    return st;
}

struct verd_ctx {
    struct ibp_vnncomp_verdicts *v;
    int cap;
};

static enum ibp_status verd_row(void *ctx, int line, char **f, int n, struct ibp_error *err)
{
    struct verd_ctx *c = ctx;
    enum ibp_vnn_verdict v;
    if (strcmp(f[2], "sat") == 0)
        v = IBP_VNN_VERDICT_SAT;
    else if (strcmp(f[2], "unsat") == 0)
        v = IBP_VNN_VERDICT_UNSAT;
    else if (strcmp(f[2], "open") == 0 || strcmp(f[2], "unknown") == 0)
        v = IBP_VNN_VERDICT_OPEN;
    else if (line == 1 && c->v->n == 0)
        return IBP_OK; /* the header */
    else
        return ibp_fail(err, IBP_ERR_FORMAT, "verdict '%s' is not sat, unsat, open or unknown",
                        f[2]);
    if (c->v->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        char **a = realloc(c->v->onnx, (size_t)cap * sizeof *a);
        if (a)
            c->v->onnx = a;
        char **b = realloc(c->v->vnnlib, (size_t)cap * sizeof *b);
        if (b)
            c->v->vnnlib = b;
        enum ibp_vnn_verdict *e = realloc(c->v->verdict, (size_t)cap * sizeof *e);
        if (e)
            c->v->verdict = e;
        if (!a || !b || !e)
            return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
        c->cap = cap;
    }
    int i = c->v->n;
    c->v->onnx[i] = strdup(f[0]);
    c->v->vnnlib[i] = strdup(f[1]);
    c->v->verdict[i] = v;
    c->v->n++;
    if (!c->v->onnx[i] || !c->v->vnnlib[i])
        return ibp_fail(err, IBP_ERR_NOMEM, "out of memory");
    return IBP_OK;
}

void ibp_vnncomp_verdicts_free(struct ibp_vnncomp_verdicts *v)
{
    if (!v)
        return;
    for (int i = 0; i < v->n; i++) {
        free(v->onnx[i]);
        free(v->vnnlib[i]);
    }
    free(v->onnx);
    free(v->vnnlib);
    free(v->verdict);
    free(v);
}

enum ibp_status ibp_vnncomp_verdicts_parse(const char *text, size_t len, const char *name,
                                           struct ibp_vnncomp_verdicts **out,
                                           struct ibp_error *err)
{
    *out = NULL;
    struct ibp_vnncomp_verdicts *v = calloc(1, sizeof *v);
    if (!v)
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", name);
    struct verd_ctx c = {.v = v, .cap = 0};
    enum ibp_status st = csv_each(text, len, name, verd_row, &c, err);
    if (st == IBP_OK && v->n == 0)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: no verdicts", name);
    if (st != IBP_OK) {
        ibp_vnncomp_verdicts_free(v);
        return st;
    }
    *out = v;
    return IBP_OK;
}

enum ibp_status ibp_vnncomp_verdicts_load(const char *path, struct ibp_vnncomp_verdicts **out,
                                          struct ibp_error *err)
{
    *out = NULL;
    unsigned char *data;
    size_t size;
    enum ibp_status st = read_text(path, &data, &size, err);
    if (st == IBP_OK)
        st = ibp_vnncomp_verdicts_parse((const char *)data, size, path, out, err);
    free(data);
    return st;
}

/* a and b equal once a trailing ".gz" is dropped from each */
static int same_name(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na >= 3 && strcmp(a + na - 3, ".gz") == 0)
        na -= 3;
    if (nb >= 3 && strcmp(b + nb - 3, ".gz") == 0)
        nb -= 3;
    return na == nb && strncmp(a, b, na) == 0;
}

enum ibp_vnn_verdict ibp_vnncomp_verdict_find(const struct ibp_vnncomp_verdicts *v,
                                              const char *onnx, const char *vnnlib)
{
    for (int i = 0; v && i < v->n; i++)
        if (same_name(v->onnx[i], onnx) && same_name(v->vnnlib[i], vnnlib))
            return v->verdict[i];
    return IBP_VNN_VERDICT_NONE;
}
