/* The JSON-lines metrics log: formatting, escaping, null for non-finite numbers, one
 * flushed line per record, append mode. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/common/check.h"
#include "tests/common/testutil.h"
#include "trainer/metrics.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

int main(void)
{
    struct ibp_error err = {0};
    struct ibp_metrics *m;
    CHECK_OK(ibp_metrics_open(NULL, 0, &m, &err), err);
    CHECK(strcmp(ibp_metrics_line(m), "") == 0);
    ibp_metrics_begin(m);
    ibp_metrics_str(m, "kind", "epoch");
    ibp_metrics_int(m, "epoch", 3);
    ibp_metrics_num(m, "loss", 0.25);
    ibp_metrics_num(m, "lr", 5e-4 * 0.2 * 0.2);
    ibp_metrics_num(m, "f", (double)0.1f);
    ibp_metrics_num(m, "nan", NAN);
    ibp_metrics_num(m, "inf", -INFINITY);
    ibp_metrics_bool(m, "ok", 1);
    ibp_metrics_bool(m, "bad", 0);
    ibp_metrics_null(m, "none");
    ibp_metrics_str(m, "s", NULL);
    ibp_metrics_int(m, "big", -9007199254740993LL);
    CHECK_OK(ibp_metrics_end(m, &err), err);
    CHECK(strcmp(ibp_metrics_line(m),
                 "{\"kind\":\"epoch\",\"epoch\":3,\"loss\":0.25,\"lr\":2e-05,\"f\":0.100000001,"
                 "\"nan\":null,\"inf\":null,\"ok\":true,\"bad\":false,\"none\":null,\"s\":null,"
                 "\"big\":-9007199254740993}") == 0);
    ibp_metrics_begin(m);
    ibp_metrics_str(m, "we\"ird", "a\"b\\c\nd\te\x01\x1f\x7f é/");
    CHECK_OK(ibp_metrics_end(m, &err), err);
    CHECK(strcmp(ibp_metrics_line(m),
                 "{\"we\\\"ird\":\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f\\u007f é/\"}") == 0);
    ibp_metrics_begin(m);
    CHECK_OK(ibp_metrics_end(m, &err), err);
    CHECK(strcmp(ibp_metrics_line(m), "{}") == 0);
    /* long lines grow the buffer */
    ibp_metrics_begin(m);
    for (int i = 0; i < 200; i++)
        ibp_metrics_num(m, "x", i);
    CHECK_OK(ibp_metrics_end(m, &err), err);
    CHECK(strlen(ibp_metrics_line(m)) > 1000);
    CHECK_OK(ibp_metrics_close(m, &err), err);

    char dir[256];
    CHECK(tu_mkdtemp(dir, sizeof dir, "metrics") == 0);
    char path[320];
    snprintf(path, sizeof path, "%s/log.jsonl", dir);
    CHECK_OK(ibp_metrics_open(path, 0, &m, &err), err);
    ibp_metrics_begin(m);
    ibp_metrics_int(m, "a", 1);
    CHECK_OK(ibp_metrics_end(m, &err), err);
    /* flushed: visible before close */
    CHECK(strcmp(slurp(path), "{\"a\":1}\n") == 0);
    /* an unfinished line is never written */
    ibp_metrics_begin(m);
    ibp_metrics_int(m, "half", 1);
    CHECK_OK(ibp_metrics_close(m, &err), err);
    CHECK(strcmp(slurp(path), "{\"a\":1}\n") == 0);
    CHECK_OK(ibp_metrics_open(path, 1, &m, &err), err);
    ibp_metrics_begin(m);
    ibp_metrics_int(m, "b", 2);
    CHECK_OK(ibp_metrics_end(m, &err), err);
    CHECK_OK(ibp_metrics_close(m, &err), err);
    CHECK(strcmp(slurp(path), "{\"a\":1}\n{\"b\":2}\n") == 0);
    CHECK_OK(ibp_metrics_open(path, 0, &m, &err), err);
    CHECK_OK(ibp_metrics_close(m, &err), err);
    CHECK(strcmp(slurp(path), "") == 0);
    unlink(path);
    rmdir(dir);
    snprintf(path, sizeof path, "%s/no/such/log.jsonl", dir);
    CHECK(ibp_metrics_open(path, 0, &m, &err) == IBP_ERR_IO);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK_OK(ibp_metrics_close(NULL, &err), err);
    return check_report();
}
