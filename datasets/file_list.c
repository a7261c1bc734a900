#include "datasets/file_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/base/parse.h"

/* The images named so far: owned paths and their labels. */
struct entries {
    char **paths;
    int32_t *labels;
    int64_t n, cap;
};

static void entries_free(struct entries *e)
{
    for (int64_t i = 0; i < e->n; i++)
        free(e->paths[i]);
    free(e->paths);
    free(e->labels);
}

static int entries_push(struct entries *e, char *path, int32_t label)
{
    if (!path)
        return -1;
    if (e->n == e->cap) {
        int64_t cap = e->cap ? 2 * e->cap : 64;
        char **p = realloc(e->paths, (size_t)cap * sizeof *p);
        if (p)
            e->paths = p;
        int32_t *l = p ? realloc(e->labels, (size_t)cap * sizeof *l) : NULL;
        if (!l) {
            free(path);
            return -1;
        }
        e->labels = l;
        e->cap = cap;
    }
    e->paths[e->n] = path;
    e->labels[e->n++] = label;
    return 0;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The image path of a line's PATH part: as written when absolute, else beside the list
 * (dir_len characters of list_path are its folder, with the '/'). */
static char *image_path(const char *list_path, size_t dir_len, const char *name, size_t len)
{
    size_t prefix = name[0] == '/' ? 0 : dir_len;
    char *p = malloc(prefix + len + 1);
    if (p) {
        memcpy(p, list_path, prefix);
        memcpy(p + prefix, name, len);
        p[prefix + len] = '\0';
    }
    return p;
}

/* Parses line number `line` (text[0..len), no line end) into e; blank and comment lines
 * add nothing. */
static enum ibp_status parse_line(const char *path, size_t dir_len, long line, char *text,
                                  size_t len, int n_classes, struct entries *e,
                                  struct ibp_error *err)
{
    while (len > 0 && is_blank(text[len - 1]))
        len--;
    size_t start = 0;
    while (start < len && is_blank(text[start]))
        start++;
    if (start == len || text[start] == '#')
        return IBP_OK;
    size_t label_at = len;
    while (label_at > start && !is_blank(text[label_at - 1]))
        label_at--;
    size_t name_end = label_at;
    while (name_end > start && is_blank(text[name_end - 1]))
        name_end--;
    if (name_end == start)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: line %ld: want PATH LABEL, got \"%.*s\"", path,
                        line, (int)(len - start > 60 ? 60 : len - start), text + start);
    text[len] = '\0';
    char what[64];
    snprintf(what, sizeof what, "line %ld: label", line);
    long label;
    struct ibp_error perr;
    if (ibp_parse_int(text + label_at, what, 0, n_classes - 1, &label, &perr) != IBP_OK)
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: %s", path, perr.msg);
    if (entries_push(e, image_path(path, dir_len, text + start, name_end - start),
                     (int32_t)label))
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    return IBP_OK;
}

enum ibp_status ibp_file_list_read(const char *path, int n_classes,
                                   const struct ibp_png_options *opt, struct ibp_dataset **out,
                                   struct ibp_error *err)
{
    if (n_classes < 1)
        return ibp_fail(err, IBP_ERR_ARG, "%s: %d classes: want at least 1", path, n_classes);
    FILE *f = fopen(path, "r");
    if (!f)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(errno));
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    struct entries e = {0};
    enum ibp_status st = IBP_OK;
    char *text = NULL;
    size_t cap = 0;
    long line = 0;
    for (ssize_t got; !st && (got = getline(&text, &cap, f)) >= 0;) {
        size_t len = (size_t)got;
        line++;
        if (len > 0 && text[len - 1] == '\n')
            len--;
        if (len > 0 && text[len - 1] == '\r')
            len--;
        if (memchr(text, '\0', len))
            st = ibp_fail(err, IBP_ERR_FORMAT, "%s: line %ld: a NUL byte (not a text file)",
                          path, line);
        else
            st = parse_line(path, dir_len, line, text, len, n_classes, &e, err);
    }
    if (!st && ferror(f))
        st = ibp_fail(err, IBP_ERR_IO, "%s: read error", path);
    free(text);
    fclose(f);
    if (!st && e.n == 0)
        st = ibp_fail(err, IBP_ERR_FORMAT, "%s: no images listed", path);
    struct ibp_dataset *ds = NULL;
    if (!st)
        st = ibp_png_files_read((const char *const *)e.paths, e.n, e.labels, n_classes, opt,
                                &ds, err);
    entries_free(&e);
    if (st)
        return st;
    ibp_dataset_set_kind(ds, "list");
    *out = ds;
    return IBP_OK;
}
