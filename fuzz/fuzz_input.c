#include "fuzz/fuzz_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nets/base/bytes.h"

int ibp_fuzz_write_file(const char *tag, const uint8_t *data, size_t size, char *path,
                        size_t path_len)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int n = snprintf(path, path_len, "%s/ibp-fuzz-%ld-%s", dir, (long)getpid(), tag);
    if (n < 0 || (size_t)n >= path_len)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || put != size) {
        remove(path);
        return -1;
    }
    return 0;
}

void ibp_fuzz_remove(const char *path)
{
    remove(path);
}

char *ibp_fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t)
        return NULL;
    if (size)
        memcpy(t, data, size);
    t[size] = '\0';
    return t;
}

uint8_t *ibp_fuzz_fix_checksum(const uint8_t *data, size_t size)
{
    if (size < 24)
        return NULL;
    uint8_t *c = malloc(size);
    if (!c)
        return NULL;
    memcpy(c, data, size);
    for (int i = 0; i < 8; i++)
        c[12 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    uint32_t crc = ibp_crc32(c, size - 4);
    for (int i = 0; i < 4; i++)
        c[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    return c;
}

void ibp_fuzz_require(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz invariant: %s\n", what);
        abort();
    }
}
