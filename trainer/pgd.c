#include "trainer/pgd.h"

#include <math.h>
#include <stdlib.h>

#include "nets/passes/attack.h"

struct ibp_train_pgd {
    struct ibp_attack *attack;
    struct ibp_attack_config cfg;
    int *found; /* [max_batch] the attack's re-check; the trainer does not need it */
};

enum ibp_status ibp_train_pgd_create(const struct ibp_net *net, int max_batch, int steps,
                                     double step, int threads, struct ibp_train_pgd **out,
                                     struct ibp_error *err)
{
    *out = NULL;
    if (steps < 1 || !(step > 0.0) || !isfinite(step))
        return ibp_fail(err, IBP_ERR_ARG, "training PGD: %d steps of %g: need >= 1 step of "
                        "a size > 0", steps, step);
    struct ibp_train_pgd *p = calloc(1, sizeof *p);
    if (!p)
        return ibp_fail(err, IBP_ERR_NOMEM, "training PGD: out of memory");
    enum ibp_status st = ibp_attack_create(net, max_batch, ibp_net_outputs(net) - 1,
                                           &p->attack, err);
    if (st == IBP_OK) {
        p->found = malloc((size_t)max_batch * sizeof *p->found);
        if (!p->found)
            st = ibp_fail(err, IBP_ERR_NOMEM, "training PGD: out of memory");
    }
    if (st != IBP_OK) {
        ibp_train_pgd_free(p);
        return st;
    }
    if (threads > 0)
        ibp_attack_set_threads(p->attack, threads);
    ibp_attack_config_default(&p->cfg);
    p->cfg.steps = steps;
    p->cfg.restarts = 1;
    p->cfg.step_size = step;
    p->cfg.constant_step = 1;
    p->cfg.keep_going = 1;
    *out = p;
    return IBP_OK;
}

void ibp_train_pgd_free(struct ibp_train_pgd *p)
{
    if (!p)
        return;
    ibp_attack_free(p->attack);
    free(p->found);
    free(p);
}

enum ibp_status ibp_train_pgd_run(struct ibp_train_pgd *p, const struct ibp_net *net,
                                  const float *x, const float *lo, const float *hi,
                                  const int *labels, int batch, float *x_adv,
                                  struct ibp_error *err)
{
    struct ibp_attack_spec spec = {.labels = labels};
    return ibp_attack_run(net, p->attack, &p->cfg, x, lo, hi, batch, &spec, x_adv, NULL,
                          p->found, err);
}
