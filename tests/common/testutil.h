/* testutil.h — the tests' scratch folder and small file writers. */
#ifndef IBP_TEST_TESTUTIL_H
#define IBP_TEST_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Creates a fresh scratch folder $TMPDIR/ibp-NAME-XXXXXX (/tmp when TMPDIR is unset or
 * empty) and writes its path to buf[cap]. Returns 0, or -1 (errno set) when it cannot.
 * Every test finds its scratch space this way. */
int tu_mkdtemp(char *buf, size_t cap, const char *name);

/* Creates a fresh temp folder (mkdtemp) for this test program; aborts if it cannot. */
void tu_init(void);

/* The path of rel inside the temp folder, in one of 16 rotating static buffers. */
const char *tu_path(const char *rel);

/* Creates the folder rel inside the temp folder. */
void tu_mkdir(const char *rel);

/* Writes n bytes to path (plain, or gzip when gz). Aborts on failure. */
void tu_write(const char *path, const void *data, size_t n, int gz);

/* Removes the temp folder and everything in it. */
void tu_cleanup(void);

/* Non-zero when hay contains needle. */
int tu_has(const char *hay, const char *needle);

/* The whole file as a NUL-terminated string (caller frees), NULL when unreadable. */
char *tu_slurp(const char *path);

/* Newlines in s (0 for NULL). */
int tu_lines(const char *s);

/* Files in dir whose names contain ".png", -1 when dir cannot be opened. */
int tu_count_png(const char *dir);

#endif
