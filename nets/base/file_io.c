#include "nets/base/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The folder part of path ("." when there is none), in a new allocation. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static int write_full(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

enum ibp_status ibp_file_write_atomic(const char *path, const void *data, size_t size,
                                      struct ibp_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    char *dir = dir_of(path);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    const char *step = "create temporary file";
    int fd = mkstemp(tmp);
    if (fd < 0)
        goto fail;
    step = "chmod";
    if (fchmod(fd, 0644) != 0)
        goto fail_fd;
    step = "write";
    if (write_full(fd, data, size) != 0)
        goto fail_fd;
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail_fd;
    step = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto fail_tmp;
    }
    fd = -1;
    step = "rename";
    if (rename(tmp, path) != 0)
        goto fail_tmp;
    /* the rename itself is durable only once the folder's entry is on disk */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        int rc = fsync(dfd);
        int e = errno;
        close(dfd);
        /* some file systems refuse fsync on folders (EINVAL); the data is safe anyway */
        if (rc != 0 && e != EINVAL && e != EBADF) {
            free(tmp);
            free(dir);
            return ibp_fail(err, IBP_ERR_IO, "%s: fsync of folder: %s", path, strerror(e));
        }
    }
    free(tmp);
    free(dir);
    return IBP_OK;

fail_fd: {
    int e = errno;
    close(fd);
    errno = e;
}
fail_tmp: {
    int e = errno;
    unlink(tmp);
    errno = e;
}
fail: {
    int e = errno;
    free(tmp);
    free(dir);
    return ibp_fail(err, IBP_ERR_IO, "%s: %s: %s", path, step, strerror(e));
}
}

enum ibp_status ibp_file_read_all(const char *path, size_t max_size, unsigned char **data,
                                  size_t *size, struct ibp_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        fclose(f);
        return ibp_fail(err, IBP_ERR_IO, "%s: is a folder, not a file", path);
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > max_size) {
        fclose(f);
        return ibp_fail(err, IBP_ERR_FORMAT, "%s: %lld bytes, more than the %zu allowed", path,
                        (long long)st.st_size, max_size);
    }
    /* read to the end rather than trusting st_size: the file may change under us */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
    }
    for (;;) {
        if (n + 1 >= cap) {
            /* n >= cap - 1 >= max_size + 1: more than allowed */
            if (cap >= max_size + 2) {
                free(buf);
                fclose(f);
                return ibp_fail(err, IBP_ERR_FORMAT, "%s: more than the %zu bytes allowed",
                                path, max_size);
            }
            size_t ncap = cap * 2 > max_size + 1 ? max_size + 2 : cap * 2;
            unsigned char *p = realloc(buf, ncap);
            if (!p) {
                free(buf);
                fclose(f);
                return ibp_fail(err, IBP_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = p;
            cap = ncap;
        }
        size_t k = fread(buf + n, 1, cap - 1 - n, f);
        n += k;
        if (k == 0)
            break;
    }
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        return ibp_fail(err, IBP_ERR_IO, "%s: read: %s", path, strerror(e));
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return IBP_OK;
}
