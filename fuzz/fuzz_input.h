/* fuzz_input.h — what the fuzz harnesses share (fuzz/, not part of the library).
 *
 * Each harness fuzz_<reader>.c defines LLVMFuzzerTestOneInput and nothing else; it is
 * linked either with libFuzzer (scripts/fuzz.sh, clang) or with replay_main.c, which
 * feeds it the files of given folders (the regression replay of the default suite). A
 * harness returns 0 for every input; a reader bug shows as a crash, a sanitizer report,
 * or an invariant the harness checks (ibp_fuzz_require, which aborts). */
#ifndef IBP_FUZZ_INPUT_H
#define IBP_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data[0..size) to a scratch file of this process named after tag (in $TMPDIR,
 * else /tmp) and puts its path in path[0..path_len). Returns 0, or -1 when the file
 * cannot be written (the harness then skips the input). Remove it with
 * ibp_fuzz_remove. */
int ibp_fuzz_write_file(const char *tag, const uint8_t *data, size_t size, char *path,
                        size_t path_len);
void ibp_fuzz_remove(const char *path);

/* A NUL-terminated copy of data[0..size) (malloc; NULL when out of memory). */
char *ibp_fuzz_text(const uint8_t *data, size_t size);

/* For the checksummed binary formats (model file, training state: magic u8[8], u32
 * version, u64 file size at byte 12, crc32 of all before the last 4 bytes at the end):
 * a copy of data[0..size) whose size field and checksum are made right, so that the
 * mutations reach the checks behind them. NULL when size < 24 or out of memory. */
uint8_t *ibp_fuzz_fix_checksum(const uint8_t *data, size_t size);

/* Aborts with "fuzz invariant: what" on stderr when cond is 0. */
void ibp_fuzz_require(int cond, const char *what);

#endif
