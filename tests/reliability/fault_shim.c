/* fault_shim.c — an LD_PRELOAD library for the tests only: makes one call of write, pwrite,
 * fsync, fdatasync, close or rename fail, to show what the programs do when a write fails
 * half way (a full disk, a failing device).
 *
 * Environment:
 *   IBP_FAULT_FILE   the start of the base names of the files whose writes are counted
 *                    ("last.ibpm", "m_eps0.3_"); a call counts when it acts on such a
 *                    file or on its temporary ("last.ibpm.tmp.XXXXXX"), and an fsync of a
 *                    folder counts right after a counted rename (the rename's durability)
 *   IBP_FAULT_CALL   write, pwrite, fsync, fdatasync, close or rename
 *   IBP_FAULT_AT     the counted call (1 = the first) that fails; 0 or unset: none fails
 *   IBP_FAULT_ERRNO  ENOSPC (default), EIO, EDQUOT; any other name: EROFS
 *   IBP_FAULT_SAVE   where to copy the target file (the file the failing call acts on,
 *                    without a temporary's ".tmp.XXXXXX"; for a folder's fsync, the file
 *                    just renamed) as it is at the moment of the failure; an empty file
 *                    named IBP_FAULT_SAVE.absent is made instead when there is no target
 *   IBP_FAULT_COUNT  where to write, at exit, "CALL N" for every call kind: how many calls
 *                    were counted (to learn how many moments a matrix has to try)
 * A failing write first really writes half of its bytes and returns that (a short write,
 * as a filling disk gives); the next write of the same descriptor fails. A failing close
 * still closes the descriptor (as Linux does). Nothing is faulted when IBP_FAULT_FILE is
 * unset. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum call { C_WRITE, C_PWRITE, C_FSYNC, C_FDATASYNC, C_CLOSE, C_RENAME, C_COUNT };
static const char *const call_names[C_COUNT] = {"write", "pwrite", "fsync", "fdatasync",
                                                "close", "rename"};

/* Interposed functions get no context, so the counts live here, one set per process;
 * the programs write their files from one thread. */
static long counts[C_COUNT];
static int poisoned_fd = -1;     /* the descriptor of a short write: its next write fails */
static int after_rename;         /* the last counted call was a rename of the file */
static char renamed[PATH_MAX];   /* its target */
static int fired;

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static int fault_errno(void)
{
    const char *e = env("IBP_FAULT_ERRNO");
    if (!e || strcmp(e, "ENOSPC") == 0)
        return ENOSPC;
    if (strcmp(e, "EIO") == 0)
        return EIO;
    if (strcmp(e, "EDQUOT") == 0)
        return EDQUOT;
    return EROFS;
}

static int fd_path(int fd, char *buf, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, size - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static const char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Whether path is the watched file or one of its temporaries. */
static int matches(const char *path)
{
    const char *f = env("IBP_FAULT_FILE");
    if (!f)
        return 0;
    const char *b = base_of(path);
    return strncmp(b, f, strlen(f)) == 0;
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY);
    char absent[PATH_MAX + 8];
    snprintf(absent, sizeof absent, "%s.absent", to);
    if (in < 0) {
        int fd = open(absent, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            close(fd);
        return;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    ssize_t k;
    while (out >= 0 && (k = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)k) != k)
            break;
    if (out >= 0)
        close(out);
    close(in);
}

/* The file a call on path writes: path without a temporary's ".tmp.XXXXXX". */
static void save_target(const char *path)
{
    const char *save = env("IBP_FAULT_SAVE");
    if (!save)
        return;
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s", path);
    size_t n = strlen(target), tail = sizeof ".tmp.XXXXXX" - 1;
    if (n > tail && strncmp(target + n - tail, ".tmp.", 5) == 0)
        target[n - tail] = '\0';
    copy_file(target, save);
}

/* Counts a call on a matching file; returns 1 when this call must fail. */
static int counted(enum call c, const char *path)
{
    if (fired)
        return 0;
    counts[c]++;
    const char *want = env("IBP_FAULT_CALL"), *at = env("IBP_FAULT_AT");
    if (!want || !at || strcmp(want, call_names[c]) != 0 || counts[c] != atol(at))
        return 0;
    fired = 1; /* one fault per run; the copy's own calls below must not count */
    save_target(path);
    return 1;
}

#define REAL(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write);
    if (fd == poisoned_fd) {
        poisoned_fd = -1;
        errno = fault_errno();
        return -1;
    }
    char path[PATH_MAX];
    if (!fired && fd > 2 && fd_path(fd, path, sizeof path) == 0 && matches(path)) {
        after_rename = 0;
        if (counted(C_WRITE, path)) {
            if (n < 2) {
                errno = fault_errno();
                return -1;
            }
            poisoned_fd = fd;
            return real(fd, buf, n / 2);
        }
    }
    return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    char path[PATH_MAX];
    if (!fired && fd > 2 && fd_path(fd, path, sizeof path) == 0 && matches(path)) {
        after_rename = 0;
        if (counted(C_PWRITE, path)) {
            errno = fault_errno();
            return -1;
        }
    }
    return real(fd, buf, n, off);
}

/* fsync and fdatasync: of the file, or of its folder right after its rename. */
static int sync_fails(enum call c, int fd)
{
    char path[PATH_MAX];
    if (fired || fd_path(fd, path, sizeof path) != 0)
        return 0;
    struct stat sb;
    int is_folder = fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_folder ? !after_rename : !matches(path))
        return 0;
    after_rename = 0;
    return counted(c, is_folder ? renamed : path);
}

int fsync(int fd)
{
    REAL(fsync);
    if (sync_fails(C_FSYNC, fd)) {
        errno = fault_errno();
        return -1;
    }
    return real(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync);
    if (sync_fails(C_FDATASYNC, fd)) {
        errno = fault_errno();
        return -1;
    }
    return real(fd);
}

int close(int fd)
{
    REAL(close);
    char path[PATH_MAX];
    int fail = 0;
    if (!fired && fd > 2 && fd_path(fd, path, sizeof path) == 0 && matches(path)) {
        after_rename = 0;
        fail = counted(C_CLOSE, path);
    }
    int rc = real(fd);
    if (fail) {
        errno = fault_errno();
        return -1;
    }
    return rc;
}

int rename(const char *from, const char *to)
{
    REAL(rename);
    if (!fired && matches(to)) {
        if (counted(C_RENAME, to)) {
            after_rename = 0;
            errno = fault_errno();
            return -1;
        }
        int rc = real(from, to);
        after_rename = rc == 0;
        snprintf(renamed, sizeof renamed, "%s", to);
        return rc;
    }
    return real(from, to);
}

__attribute__((destructor)) static void write_counts(void)
{
    const char *path = env("IBP_FAULT_COUNT");
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (int c = 0; c < C_COUNT; c++)
        fprintf(f, "%s %ld\n", call_names[c], counts[c]);
    fclose(f);
}
