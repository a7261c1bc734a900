#define _XOPEN_SOURCE 700 /* nftw */
#include "tests/common/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

int tu_mkdtemp(char *buf, size_t cap, const char *name)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(buf, cap, "%s/ibp-%s-XXXXXX", base && *base ? base : "/tmp", name);
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return mkdtemp(buf) ? 0 : -1;
}

void tu_init(void)
{
    if (tu_mkdtemp(tmpdir, sizeof tmpdir, "test") != 0) {
        perror("mkdtemp");
        abort();
    }
}

const char *tu_path(const char *rel)
{
    static char ring[16][512];
    static int next;
    char *p = ring[next++ % 16];
    snprintf(p, 512, "%s/%s", tmpdir, rel);
    return p;
}

void tu_mkdir(const char *rel)
{
    if (mkdir(tu_path(rel), 0755) != 0) {
        perror(rel);
        abort();
    }
}

void tu_write(const char *path, const void *data, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || (n && gzwrite(f, data, (unsigned)n) != (int)n) || gzclose(f) != Z_OK) {
            fprintf(stderr, "cannot write %s\n", path);
            abort();
        }
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        abort();
    }
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_cleanup(void)
{
    if (tmpdir[0])
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

char *tu_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = s ? fread(s, 1, (size_t)n, f) : 0;
    if (s)
        s[got] = '\0';
    fclose(f);
    return s;
}

int tu_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

int tu_count_png(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".png") != NULL;
    closedir(d);
    return n;
}
