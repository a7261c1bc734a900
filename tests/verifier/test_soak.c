/* Soak (issue 20, suite slow): certification of the whole Fashion-MNIST test set (10,000
 * images; bounds ibp and crown-ibp, sound, then PGD on what they leave open) repeated
 * 20 times in one process on an IBP-initialised cnn-small. Prints the resident and
 * virtual memory after each round. Fails when the resident memory after the last round
 * exceeds that after the second by more than 2 MiB (a leak of 1 KiB per round and
 * sample would add 176 MiB), when the address space grows likewise, or when a round's
 * counts differ from the first's. The baseline is the second round: each round's
 * workers are allocated afresh, and the second finds its threads' malloc arenas in a
 * different order than the first, touching pages the first did not (about 30 MiB). Skipped (exit 77) without dataset-fashion-mnist. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/open.h"
#include "nets/base/rng.h"
#include "nets/graph/init.h"
#include "nets/graph/zoo.h"
#include "tests/common/check.h"
#include "verifier/certify.h"

#define ROUNDS 20
#define GROWTH_LIMIT ((long)2 << 20)

/* Resident and virtual bytes of this process (/proc/self/statm). */
static void memory_now(long *rss, long *vm)
{
    *rss = *vm = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return;
    long pages_vm, pages_rss;
    if (fscanf(f, "%ld %ld", &pages_vm, &pages_rss) == 2) {
        long page = sysconf(_SC_PAGESIZE);
        *vm = pages_vm * page;
        *rss = pages_rss * page;
    }
    fclose(f);
}

static int same_counts(const struct ibp_certify_summary *a, const struct ibp_certify_summary *b)
{
    return a->n == b->n && a->clean_errors == b->clean_errors && a->attacked == b->attacked &&
           a->certified == b->certified && a->unknown == b->unknown &&
           a->conflicts == b->conflicts;
}

int main(void)
{
    const char *dir = IBP_DATASETS_ROOT "/fashion-mnist";
    if (access(dir, R_OK) != 0) {
        printf("SKIP: %s absent (apt install dataset-fashion-mnist)\n", dir);
        return 77;
    }
    struct ibp_error err;
    ibp_error_clear(&err);
    struct ibp_open_options opt = {.split = "test"};
    struct ibp_dataset *ds = NULL;
    CHECK_OK(ibp_dataset_open("fashion-mnist", &opt, &ds, &err), err);
    struct ibp_net *net = NULL;
    struct ibp_shape in = {ds->c, ds->h, ds->w};
    CHECK_OK(ibp_zoo_create("cnn-small", in, ds->n_classes, NULL, ds->mean, ds->std, &net, &err),
             err);
    struct ibp_rng rng;
    ibp_rng_seed(&rng, 100, 0);
    CHECK_OK(ibp_net_init(net, IBP_INIT_IBP, &rng, &err), err);

    struct ibp_certify_config cfg;
    ibp_certify_config_default(&cfg);
    cfg.eps = 0.005;
    cfg.attack_cfg.steps = 10; /* the soak is about memory: a short attack per round */
    struct ibp_certify_sample *out = calloc((size_t)ds->n, sizeof *out);
    CHECK(out != NULL);
    struct ibp_certify_summary first, now;
    long rss_base = 0, vm_base = 0;
    for (int r = 0; r < ROUNDS; r++) {
        CHECK_OK(ibp_certify_run(net, ds, &cfg, NULL, out, &now, &err), err);
        long rss, vm;
        memory_now(&rss, &vm);
        printf("round %2d: %lld certified, %lld attacked, %lld unknown, %.1f s, RSS %.1f MiB, "
               "VmSize %.1f MiB\n", r + 1, (long long)now.certified, (long long)now.attacked,
               (long long)now.unknown, now.seconds, rss / 1048576.0, vm / 1048576.0);
        fflush(stdout);
        CHECK(rss > 0 && vm > 0);
        if (r == 0)
            first = now;
        else
            CHECK_MSG(same_counts(&first, &now), "round %d: counts differ from round 1", r + 1);
        if (r == 1) {
            rss_base = rss;
            vm_base = vm;
        }
        if (r == ROUNDS - 1) {
            CHECK_MSG(rss - rss_base <= GROWTH_LIMIT, "RSS grew by %ld bytes from round 2 to %d",
                      rss - rss_base, ROUNDS);
            CHECK_MSG(vm - vm_base <= GROWTH_LIMIT, "VmSize grew by %ld bytes from round 2 to %d",
                      vm - vm_base, ROUNDS);
        }
    }
    free(out);
    ibp_net_free(net);
    ibp_dataset_free(ds);
    return check_report();
}
