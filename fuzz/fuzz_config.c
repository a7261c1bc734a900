/* fuzz_config.c — the training configuration (trainer/config.h): a config file's text,
 * or command-line options. A configuration that loads and validates must be written
 * (ibp_train_config_format) as text that loads back to the same configuration.
 * Input: u8 mode; even: the rest is a config file; odd: the rest is the command line,
 * arguments separated by NUL bytes (an input naming --config is skipped: the harness
 * reads no files). */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_input.h"
#include "trainer/config.h"

#define MAX_ARGS 64

static void round_trip(const struct ibp_train_config *c)
{
    struct ibp_error err;
    if (ibp_train_config_validate(c, &err) != IBP_OK)
        return;
    struct ibp_wbuf w = {0};
    ibp_train_config_format(c, &w);
    ibp_wbuf_bytes(&w, "", 1);
    struct ibp_train_config back;
    ibp_train_config_defaults(&back);
    ibp_fuzz_require(ibp_train_config_load_text(&back, (const char *)w.data, "formatted",
                                                &err) == IBP_OK,
                     "config: formatted text does not load");
    ibp_fuzz_require(ibp_train_config_changed_key(c, &back) == NULL,
                     "config: formatted text loads to another configuration");
    ibp_wbuf_free(&w);
}

static void from_args(char *text, size_t len)
{
    char *argv[MAX_ARGS];
    int argc = 0;
    size_t at = 0;
    while (at < len && argc < MAX_ARGS) {
        argv[argc] = text + at;
        if (strstr(argv[argc], "config"))
            return;
        at += strlen(argv[argc]) + 1;
        argc++;
    }
    struct ibp_train_config c;
    struct ibp_error err;
    if (ibp_train_config_from_args(&c, argc, argv, &err) == IBP_OK)
        round_trip(&c);
    else
        ibp_fuzz_require(err.msg[0] != '\0', "config: failure without message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = ibp_fuzz_text(data + 1, size - 1);
    if (!text)
        return 0;
    if (data[0] % 2 == 0) {
        struct ibp_train_config c;
        struct ibp_error err;
        ibp_train_config_defaults(&c);
        if (ibp_train_config_load_text(&c, text, "fuzz.cfg", &err) == IBP_OK)
            round_trip(&c);
        else
            ibp_fuzz_require(err.msg[0] != '\0', "config: failure without message");
    } else {
        from_args(text, size - 1);
    }
    free(text);
    return 0;
}
