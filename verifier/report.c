/* The Markdown, JSON and CSV writers of report.h. */
#include "verifier/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 2, 3))) static void put(struct ibp_wbuf *w, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        w->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        ibp_wbuf_bytes(w, small, (size_t)n);
        return;
    }
    /* longer than the stack buffer: format straight into the grown buffer */
    ibp_wbuf_reserve(w, (size_t)n + 1);
    if (w->failed)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)w->data + w->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    w->len += (size_t)n;
}

static double pct(int64_t k, int64_t n)
{
    return n > 0 ? 100.0 * (double)k / (double)n : 0.0;
}

static double frac(int64_t k, int64_t n)
{
    return n > 0 ? (double)k / (double)n : 0.0;
}

static const char *mode_text(int sound)
{
    return sound ? "floating-point sound (bounds and box rounded outward)"
                 : "float32 round-to-nearest (not floating-point sound)";
}

/* The names of the steps that can certify, in order, and each one's count in s. */
static int stage_counts(const struct ibp_certify_config *c, const struct ibp_certify_summary *s,
                        const char **names, int64_t *counts)
{
    int n = 0;
    for (int k = 0; k < c->n_methods; k++, n++) {
        names[n] = ibp_bound_method_name(c->methods[k]);
        counts[n] = s ? s->by_bound[k] : 0;
    }
    if (c->alpha_crown) {
        names[n] = "alpha-crown";
        counts[n++] = s ? s->by_alpha_crown : 0;
    }
    if (c->bab) {
        names[n] = "bab";
        counts[n++] = s ? s->by_bab : 0;
    }
    return n;
}

enum { MAX_STAGES = IBP_CERTIFY_MAX_METHODS + 2 };

void ibp_report_markdown(const struct ibp_report *r, struct ibp_wbuf *out)
{
    const struct ibp_certify_config *c = r->cfg;
    put(out, "data: %s, %lld samples from index %lld\n", r->data,
        r->n_runs > 0 ? (long long)r->runs[0].summary.n : 0LL, (long long)r->first_index);
    put(out, "mode: %s\n", mode_text(c->sound));
    if (c->attack)
        put(out, "attack: PGD, %d steps, %d restarts, step %g, seed %llu\n", c->attack_cfg.steps,
            c->attack_cfg.restarts, c->attack_cfg.step_size,
            (unsigned long long)c->attack_cfg.seed);
    else
        put(out, "attack: off (clean errors only)\n");
    put(out, "\n| model | eps | methods | samples | clean err %% | attack err %%");
    for (int k = 0; k < c->n_methods; k++)
        put(out, " | verified err %% %s", ibp_bound_method_name(c->methods[k]));
    const char *names[MAX_STAGES];
    int64_t counts[MAX_STAGES];
    int ns = stage_counts(c, NULL, names, counts);
    put(out, " | verified err %% best");
    for (int k = 0; k < ns; k++)
        put(out, " | verified by %s", names[k]);
    put(out, " | unknown | time s |\n|---|---|---|--:|--:|--:");
    for (int k = 0; k < c->n_methods + ns; k++)
        put(out, "|--:");
    put(out, "|--:|--:|--:|\n");
    for (int i = 0; i < r->n_runs; i++) {
        const struct ibp_report_run *run = &r->runs[i];
        const struct ibp_certify_summary *s = &run->summary;
        put(out, "| %s | %s | ", run->model, run->eps_text);
        for (int k = 0; k < c->n_methods; k++)
            put(out, "%s%s", k ? "+" : "", ibp_bound_method_name(c->methods[k]));
        if (c->alpha_crown)
            put(out, "%salpha-crown", c->n_methods ? "+" : "");
        if (c->bab)
            put(out, "%sbab", c->n_methods || c->alpha_crown ? "+" : "");
        if (c->n_methods == 0 && !c->alpha_crown && !c->bab)
            put(out, "none");
        put(out, " | %lld | %.2f | %.2f", (long long)s->n, pct(s->clean_errors, s->n),
            pct(s->attacked, s->n));
        for (int k = 0; k < c->n_methods; k++)
            put(out, " | %.2f", pct(s->n - s->verified_by[k], s->n));
        put(out, " | %.2f", pct(s->n - s->certified, s->n));
        stage_counts(c, s, names, counts);
        for (int k = 0; k < ns; k++)
            put(out, " | %lld", (long long)counts[k]);
        put(out, " | %lld | %.2f |\n", (long long)s->unknown, s->seconds);
    }
}

static void json_string(struct ibp_wbuf *w, const char *s)
{
    put(w, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            put(w, "\\%c", *p);
        else if (*p < 0x20)
            put(w, "\\u%04x", *p);
        else
            ibp_wbuf_bytes(w, p, 1);
    }
    put(w, "\"");
}

static void json_number(struct ibp_wbuf *w, double v)
{
    if (isfinite(v))
        put(w, "%.9g", v);
    else
        put(w, "null");
}

void ibp_report_json(const struct ibp_report *r, struct ibp_wbuf *out)
{
    const struct ibp_certify_config *c = r->cfg;
    put(out, "{\n  \"tool\": \"ibp-verify\",\n  \"data\": ");
    json_string(out, r->data);
    put(out, ",\n  \"first_index\": %lld,\n  \"sound\": %s,\n  \"mode\": ",
        (long long)r->first_index, c->sound ? "true" : "false");
    json_string(out, mode_text(c->sound));
    put(out, ",\n  \"methods\": [");
    const char *names[MAX_STAGES];
    int64_t counts[MAX_STAGES];
    int ns = stage_counts(c, NULL, names, counts);
    for (int k = 0; k < ns; k++)
        put(out, "%s\"%s\"", k ? ", " : "", names[k]);
    put(out, "],\n  \"batch\": %d,\n  \"threads\": %d,\n", c->batch, r->threads);
    if (c->bab)
        put(out,
            "  \"bab\": {\"timeout_s\": %.9g, \"max_domains\": %ld, \"max_bytes\": %zu},\n",
            c->bab_cfg.timeout_s, c->bab_cfg.max_domains, c->bab_cfg.max_bytes);
    put(out,
        "  \"attack\": {\"enabled\": %s, \"steps\": %d, \"restarts\": %d, \"step_size\": %.9g, "
        "\"seed\": %llu, \"on_certified\": %s},\n",
        c->attack ? "true" : "false", c->attack_cfg.steps, c->attack_cfg.restarts,
        c->attack_cfg.step_size, (unsigned long long)c->attack_cfg.seed,
        c->attack_certified ? "true" : "false");
    put(out, "  \"runs\": [");
    for (int i = 0; i < r->n_runs; i++) {
        const struct ibp_report_run *run = &r->runs[i];
        const struct ibp_certify_summary *s = &run->summary;
        put(out, "%s\n    {\n      \"model\": ", i ? "," : "");
        json_string(out, run->model);
        put(out, ",\n      \"eps\": %.17g,\n      \"eps_text\": ", run->eps);
        json_string(out, run->eps_text);
        put(out,
            ",\n      \"samples\": %lld,\n      \"clean_errors\": %lld,\n"
            "      \"attacked\": %lld,\n      \"certified\": %lld,\n      \"unknown\": %lld,\n"
            "      \"conflicts\": %lld,\n",
            (long long)s->n, (long long)s->clean_errors, (long long)s->attacked,
            (long long)s->certified, (long long)s->unknown, (long long)s->conflicts);
        put(out, "      \"clean_error\": %.9g,\n      \"attack_error\": %.9g,\n",
            frac(s->clean_errors, s->n), frac(s->attacked, s->n));
        put(out, "      \"verified_error\": {");
        for (int k = 0; k < c->n_methods; k++)
            put(out, "\"%s\": %.9g, ", ibp_bound_method_name(c->methods[k]),
                frac(s->n - s->verified_by[k], s->n));
        put(out, "\"best\": %.9g},\n      \"verified_by\": {", frac(s->n - s->certified, s->n));
        stage_counts(c, s, names, counts);
        for (int k = 0; k < ns; k++)
            put(out, "%s\"%s\": %lld", k ? ", " : "", names[k], (long long)counts[k]);
        put(out, "},\n      \"bab_attacked\": %lld,\n      \"note\": ", (long long)s->bab_attacked);
        if (s->note[0])
            json_string(out, s->note);
        else
            put(out, "null");
        put(out, ",\n      \"seconds\": %.3f,\n      \"records\": [", s->seconds);
        for (int64_t j = 0; j < s->n; j++) {
            const struct ibp_certify_sample *e = &run->samples[j];
            put(out,
                "%s\n        {\"index\": %lld, \"label\": %d, \"prediction\": %d, "
                "\"lb_min\": {",
                j ? "," : "", (long long)(r->first_index + e->index), e->label, e->pred);
            for (int k = 0; k < c->n_methods; k++) {
                put(out, "%s\"%s\": ", k ? ", " : "", ibp_bound_method_name(c->methods[k]));
                json_number(out, e->lb_min[k]);
            }
            if (c->alpha_crown) {
                put(out, "%s\"alpha-crown\": ", c->n_methods ? ", " : "");
                json_number(out, e->lb_alpha);
            }
            put(out, "}, \"attack_margin\": ");
            json_number(out, e->attack_obj);
            put(out, ", \"status\": \"%s\", \"decided_by\": ", ibp_verdict_name(e->verdict));
            if (e->by != IBP_BY_NONE)
                json_string(out, ibp_decider_name(c, e->by, e->by_method));
            else
                put(out, "null");
            put(out, ", \"bab_domains\": %ld, \"seconds\": %.6f, \"unknown_reason\": ",
                e->bab_domains, e->seconds);
            if (e->why != IBP_WHY_NONE)
                json_string(out, ibp_unknown_reason_name(e->why));
            else
                put(out, "null");
            put(out, "}");
        }
        put(out, "\n      ]\n    }");
    }
    put(out, "\n  ]\n}\n");
}

static void csv_field(struct ibp_wbuf *w, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        put(w, "%s", s);
        return;
    }
    put(w, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            put(w, "\"\"");
        else
            ibp_wbuf_bytes(w, p, 1);
    }
    put(w, "\"");
}

static void csv_number(struct ibp_wbuf *w, double v)
{
    if (isfinite(v))
        put(w, "%.9g", v);
}

void ibp_report_csv(const struct ibp_report *r, struct ibp_wbuf *out)
{
    const struct ibp_certify_config *c = r->cfg;
    put(out, "model,eps,index,label,prediction");
    for (int k = 0; k < c->n_methods; k++)
        put(out, ",lb_%s", ibp_bound_method_name(c->methods[k]));
    if (c->alpha_crown)
        put(out, ",lb_alpha-crown");
    put(out, ",attack_margin,status,decided_by,bab_domains,seconds,unknown_reason\n");
    for (int i = 0; i < r->n_runs; i++) {
        const struct ibp_report_run *run = &r->runs[i];
        for (int64_t j = 0; j < run->summary.n; j++) {
            const struct ibp_certify_sample *e = &run->samples[j];
            csv_field(out, run->model);
            put(out, ",%.17g,%lld,%d,%d", run->eps, (long long)(r->first_index + e->index),
                e->label, e->pred);
            for (int k = 0; k < c->n_methods; k++) {
                put(out, ",");
                csv_number(out, e->lb_min[k]);
            }
            if (c->alpha_crown) {
                put(out, ",");
                csv_number(out, e->lb_alpha);
            }
            put(out, ",");
            csv_number(out, e->attack_obj);
            put(out, ",%s,", ibp_verdict_name(e->verdict));
            csv_field(out, ibp_decider_name(c, e->by, e->by_method));
            put(out, ",%ld,%.6f,", e->bab_domains, e->seconds);
            csv_field(out, ibp_unknown_reason_name(e->why));
            put(out, "\n");
        }
    }
}
