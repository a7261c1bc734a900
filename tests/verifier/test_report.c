/* The report writers (verifier/report.h) on hand-made results: the numbers, NaN as
 * null/empty, quoting, one Markdown row per run. */
#include <math.h>
#include <string.h>

#include "tests/common/check.h"
#include "verifier/report.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static const char *text(struct ibp_wbuf *w)
{
    ibp_wbuf_bytes(w, "", 1);
    return (const char *)w->data;
}

int main(void)
{
    struct ibp_certify_config cfg;
    ibp_certify_config_default(&cfg);
    struct ibp_certify_sample s[3] = {
        {0, 1, 1, 1, {0.25f, 0.5f, NAN}, 0.75, IBP_VERDICT_CERTIFIED, 0, NAN, IBP_BY_BOUND, 0, 0,
         0.5, IBP_WHY_NONE, -1},
        {1, 2, 0, 0, {-1.5f, -1.0f, NAN}, -0.125, IBP_VERDICT_ATTACKED, 0, NAN, IBP_BY_CLEAN, -1,
         0, 0.25, IBP_WHY_NONE, 0},
        {2, 0, 0, 1, {-0.5f, NAN, NAN}, NAN, IBP_VERDICT_UNKNOWN, 0, -0.25f, IBP_BY_NONE, -1, 42,
         0.75, IBP_WHY_TIME, -1},
    };
    struct ibp_certify_summary sum = {.n = 3, .clean_errors = 1, .attacked = 1, .certified = 1,
                                      .unknown = 1, .verified_by = {1, 1, 0}, .seconds = 1.5,
                                      .by_bound = {1, 0, 0}};
    struct ibp_report_run runs[2] = {{"a,\"b\".ibpm", 8.0 / 255, "8/255", sum, s},
                                     {"c.ibpm", 0.1, "0.1", sum, s}};
    struct ibp_report rep = {"cifar10:x", 100, &cfg, 2, 2, runs};

    struct ibp_wbuf md = {0}, js = {0}, cs = {0};
    ibp_report_markdown(&rep, &md);
    ibp_report_json(&rep, &js);
    ibp_report_csv(&rep, &cs);
    CHECK(!md.failed && !js.failed && !cs.failed);
    const char *m = text(&md), *j = text(&js), *c = text(&cs);

    CHECK(strstr(m, "mode: floating-point sound") != NULL);
    CHECK(count(m, "\n| ") == 3); /* header + two runs */
    CHECK(strstr(m, "| c.ibpm | 0.1 | ibp+crown-ibp | 3 | 33.33 | 33.33 | 66.67 | 66.67 | 66.67 "
                    "| 1 | 0 | 1 | 1.50 |") != NULL);
    CHECK(strstr(m, "verified by ibp | verified by crown-ibp | unknown") != NULL);
    CHECK(strstr(m, "verified err % crown-ibp") != NULL);

    CHECK(strstr(j, "\"sound\": true") != NULL);
    CHECK(strstr(j, "\"model\": \"a,\\\"b\\\".ibpm\"") != NULL);
    CHECK(strstr(j, "{\"index\": 101, \"label\": 2, \"prediction\": 0, \"lb_min\": "
                    "{\"ibp\": -1.5, \"crown-ibp\": -1}, \"attack_margin\": -0.125, "
                    "\"status\": \"attacked\", \"decided_by\": \"clean\", \"bab_domains\": 0, "
                    "\"seconds\": 0.250000, \"unknown_reason\": null}") != NULL);
    CHECK(strstr(j, "\"crown-ibp\": null}, \"attack_margin\": null, \"status\": \"unknown\", "
                    "\"decided_by\": null, \"bab_domains\": 42, \"seconds\": 0.750000, "
                    "\"unknown_reason\": \"time\"}") != NULL);
    CHECK(strstr(j, "\"status\": \"certified\", \"decided_by\": \"ibp\"") != NULL);
    CHECK(strstr(j, "\"verified_by\": {\"ibp\": 1, \"crown-ibp\": 0}") != NULL);
    CHECK(strstr(j, "\"verified_error\": {\"ibp\": 0.666666667, \"crown-ibp\": 0.666666667, "
                    "\"best\": 0.666666667}") != NULL);
    CHECK(count(j, "\"index\"") == 6);

    const char *head =
        "model,eps,index,label,prediction,lb_ibp,lb_crown-ibp,attack_margin,status,decided_by,"
        "bab_domains,seconds,unknown_reason\n";
    CHECK(strncmp(c, head, strlen(head)) == 0);
    CHECK(strstr(c, "\"a,\"\"b\"\".ibpm\",0.031372549019607843,100,1,1,0.25,0.5,0.75,"
                    "certified,ibp,0,0.500000,\n") != NULL);
    CHECK(strstr(c, "c.ibpm,0.10000000000000001,102,0,0,-0.5,,,unknown,,42,0.750000,time\n") !=
          NULL);
    CHECK(count(c, "\n") == 7);

    /* the verifier's own stages: their bound, their columns, their settings */
    cfg.alpha_crown = 1;
    cfg.bab = 1;
    struct ibp_wbuf md3 = {0}, js3 = {0}, cs3 = {0};
    ibp_report_markdown(&rep, &md3);
    ibp_report_json(&rep, &js3);
    ibp_report_csv(&rep, &cs3);
    CHECK(strstr(text(&md3), "| ibp+crown-ibp+alpha-crown+bab |") != NULL);
    CHECK(strstr(text(&md3), "| verified by alpha-crown | verified by bab | unknown") != NULL);
    CHECK(strstr(text(&md3), "| 66.67 | 1 | 0 | 0 | 0 | 1 | 1.50 |") != NULL);
    CHECK(strstr(text(&js3), "\"crown-ibp\": null, \"alpha-crown\": -0.25}") != NULL);
    CHECK(strstr(text(&js3), "\"bab\": {\"timeout_s\": 20,") != NULL);
    CHECK(strstr(text(&cs3), ",lb_crown-ibp,lb_alpha-crown,attack_margin,") != NULL);
    CHECK(strstr(text(&cs3), ",102,0,0,-0.5,,-0.25,,unknown,,42,") != NULL);
    ibp_wbuf_free(&md3);
    ibp_wbuf_free(&js3);
    ibp_wbuf_free(&cs3);
    cfg.alpha_crown = 0;
    cfg.bab = 0;

    cfg.sound = 0;
    cfg.attack = 0;
    struct ibp_wbuf md2 = {0};
    ibp_report_markdown(&rep, &md2);
    CHECK(strstr(text(&md2), "not floating-point sound") != NULL);
    CHECK(strstr(text(&md2), "attack: off") != NULL);
    ibp_wbuf_free(&md);
    ibp_wbuf_free(&md2);
    ibp_wbuf_free(&js);
    ibp_wbuf_free(&cs);
    return check_report();
}
