/* ibp-train — certified training (SPEC §4) from the command line. A thin shell over
 * trainer/train.h: options, datasets, progress display, signals, exit codes. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/open.h"
#include "nets/base/bytes.h"
#include "nets/base/clock.h"
#include "nets/base/cluster.h"
#include "nets/base/file_io.h"
#include "nets/base/memory.h"
#include "nets/kernels/gemm.h"
#include "trainer/config.h"
#include "trainer/final_verify.h"
#include "trainer/train.h"
#include "trainer/train_state.h"

enum exit_code {
    EXIT_DONE = 0,
    EXIT_FAILED = 1,      /* training failed (I/O, NaN/Inf); last good files kept */
    EXIT_USAGE = 2,       /* bad options, data or state: nothing was trained or written */
    EXIT_INTERRUPTED = 3, /* SIGINT/SIGTERM: state saved, continue with --resume */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = 1;
    /* A second signal ends the program at once. */
    signal(sig, SIG_DFL);
}

static void usage(FILE *f)
{
    fputs("usage: ibp-train [--config FILE] [--preset NAME] [--key value ...]\n"
          "\n"
          "Trains a network to be certifiably robust with interval bound propagation: the\n"
          "short-warmup recipe (method fast), plain IBP (vanilla), the CROWN-IBP baseline\n"
          "(crown-ibp), the fast recipe with PGD (mtl-ibp: alpha IBP + (1-alpha) PGD loss;\n"
          "sabr: IBP on a small box around the PGD point) or clean training (natural).\n"
          "Writes into --out: last.ibpm and best.ibpm (model files for ibp-verify),\n"
          "train.state (for --resume), train.cfg, metrics.jsonl.\n"
          "\n"
          "Options (every config-file key; --no-KEY sets a boolean false):\n",
          f);
    struct ibp_wbuf w = {0};
    ibp_train_config_help(&w);
    if (!w.failed)
        fwrite(w.data, 1, w.len, f);
    ibp_wbuf_free(&w);
    fputs("\n"
          "Presets: mnist, cifar10, tinyimagenet (the paper's settings, SPEC §4) and fmnist\n"
          "(Fashion-MNIST, eps 0.1); mtl-ibp-mnist, sabr-mnist (MNIST eps 0.1),\n"
          "mtl-ibp-cifar10-2, sabr-cifar10-2 (2/255), mtl-ibp-cifar10-8, sabr-cifar10-8\n"
          "(8/255), mtl-ibp-fmnist, sabr-fmnist (SPEC §4.9). Options of one method (mtl-alpha,\n"
          "sabr-lambda, attack-steps, attack-step) are refused for another. Datasets: fashion-mnist and mnist (Debian's\n"
          "dataset-* packages, or --data-dir ROOT), cifar10 / cifar100 (--data-dir with the\n"
          "binary batches), png and tinyimagenet (--data-dir with train/ and test/ folders of\n"
          "PNG images, one folder per class).\n"
          "\n"
          "Signals: SIGINT or SIGTERM finishes the current batch, saves the state and exits;\n"
          "a second one exits at once. --resume continues from train.state; a run that\n"
          "stopped before its first checkpoint (train.cfg, no train.state) starts afresh\n"
          "from train.cfg.\n"
          "\n"
          "Exit codes: 0 done; 1 training failed (I/O error, NaN/Inf; the last good files\n"
          "are kept) or --final-verify failed; 2 bad options, data or state (nothing\n"
          "trained); 3 interrupted (state saved: run again with --resume and the same --out).\n",
          f);
}

/* Opens the training or test split of the configured dataset. */
static enum ibp_status open_data(const struct ibp_train_config *c, const char *split,
                                 struct ibp_dataset **out, struct ibp_error *err)
{
    struct ibp_open_options o = {.split = split};
    const char *kind = c->dataset;
    char spec[1200];
    if (strcmp(kind, "fashion-mnist") == 0 || strcmp(kind, "mnist") == 0) {
        if (c->data_dir[0])
            o.root = c->data_dir;
        snprintf(spec, sizeof spec, "%s", kind);
    } else if (c->data_dir[0] == '\0') {
        return ibp_fail(err, IBP_ERR_ARG, "dataset %s: --data-dir is needed", kind);
    } else if (strcmp(kind, "png") == 0 || strcmp(kind, "tinyimagenet") == 0) {
        snprintf(spec, sizeof spec, "png:%s/%s", c->data_dir, split);
    } else {
        snprintf(spec, sizeof spec, "%s:%s", kind, c->data_dir);
    }
    return ibp_dataset_open(spec, &o, out, err);
}

struct display {
    int tty;
    double last;
    double started;
};

/* On a terminal: one line rewritten in place, 4 times a second. Otherwise (logs of
 * nightly runs): a plain line every 30 s during long epochs. */
static void on_batch(void *user, const struct ibp_train_progress *p)
{
    struct display *d = user;
    double t = ibp_clock_seconds();
    if (t - d->last < (d->tty ? 0.25 : 30.0) && p->batch < p->batches)
        return;
    if (!d->tty && p->batch == p->batches)
        return;
    d->last = t;
    fprintf(stderr, "%sepoch %d/%d  batch %lld/%lld  eps %.5f  lambda %.3f  loss %.4f  %.0f img/s%s",
            d->tty ? "\r\033[K" : "", p->epoch, p->epochs, (long long)p->batch,
            (long long)p->batches, p->eps, p->lambda, p->loss, p->images_per_s,
            d->tty ? "" : "\n");
    fflush(stderr);
}

static void on_epoch(void *user, const struct ibp_train_epoch *e)
{
    struct display *d = user;
    if (d->tty)
        fputs("\r\033[K", stderr);
    printf("epoch %*d/%d  lr %.2g  eps %.5f  loss %.4f  train err %.2f%%  test err %.2f%%  "
           "verified err %.2f%%",
           e->epochs >= 100 ? 3 : 2, e->epoch, e->epochs, e->lr, e->eps_last, e->loss,
           e->train_err, e->test_err, e->test_ver_err);
    if (!isnan(e->val_err))
        printf("  (val %.2f%% / %.2f%%)", e->val_err, e->val_ver_err);
    printf("  %.1f s (%.0f img/s) + eval %.1f s%s\n", e->train_s, e->train_images_per_s,
           e->eval_s, e->is_best ? "  *best" : "");
    fflush(stdout);
}

static int fail(enum exit_code code, const struct ibp_error *err)
{
    fprintf(stderr, "ibp-train: %s\n", err->msg);
    return code;
}

/* For --resume: the saved run's configuration with the command line on top; keys a
 * resumed run must not change are refused. The configuration comes from the training
 * state, or, when the run stopped before its first checkpoint (train.cfg but no
 * train.state), from train.cfg: *afresh is then set and the run starts again from its
 * beginning, which gives the model an uninterrupted run would have given. */
static enum ibp_status resume_config(struct ibp_train_config *cfg, int argc, char **argv,
                                     struct ibp_train_state *state, int *afresh,
                                     struct ibp_error *err)
{
    char path[1200], cfg_path[1200];
    snprintf(path, sizeof path, "%s/%s", cfg->out, IBP_TRAIN_STATE);
    snprintf(cfg_path, sizeof cfg_path, "%s/%s", cfg->out, IBP_TRAIN_CONFIG);
    struct stat sb;
    int no_state = stat(path, &sb) != 0 && errno == ENOENT;
    *afresh = no_state && stat(cfg_path, &sb) == 0;
    if (no_state && !*afresh)
        return ibp_fail(err, IBP_ERR_ARG, "--resume: %s: %s, and no %s to start the run "
                        "again from", path, strerror(ENOENT), IBP_TRAIN_CONFIG);
    unsigned char *cfg_text = NULL;
    size_t cfg_size;
    enum ibp_status st = *afresh ? ibp_file_read_all(cfg_path, 1 << 20, &cfg_text, &cfg_size, err)
                                 : ibp_train_state_load(path, state, err);
    if (st != IBP_OK)
        return st;
    const char *from = *afresh ? cfg_path : path;
    struct ibp_train_config saved, merged;
    ibp_train_config_defaults(&saved);
    st = ibp_train_config_load_text(&saved, *afresh ? (const char *)cfg_text : state->config_text,
                                    from, err);
    free(cfg_text);
    if (st != IBP_OK)
        return st;
    merged = saved;
    st = ibp_train_config_apply_args(&merged, argc, argv, err);
    if (st != IBP_OK)
        return st;
    const char *changed = ibp_train_config_changed_key(&saved, &merged);
    if (changed)
        return ibp_fail(err, IBP_ERR_ARG,
                        "--resume: %s differs from the saved run in %s (a resumed run "
                        "continues with its own settings)", changed, from);
    *cfg = merged;
    return IBP_OK;
}

/* Under mpirun every process runs this; rank 0 alone prints (messages of a step that
 * failed on another rank reach it through ibp_cluster_agree). */
static int train_main(int argc, char **argv, struct ibp_cluster *cl);

int main(int argc, char **argv)
{
    struct ibp_cluster *cl;
    struct ibp_error err = {0};
    if (ibp_cluster_init(&argc, &argv, &cl, &err) != IBP_OK) {
        fprintf(stderr, "ibp-train: %s\n", err.msg);
        return EXIT_USAGE;
    }
    int code = train_main(argc, argv, cl);
    /* A failure while training may be one rank's alone (rank 0's files): leaving without
     * MPI_Finalize makes the launcher end the others instead of waiting for them. */
    if (code == EXIT_FAILED && ibp_cluster_size(cl) > 1)
        return code;
    ibp_cluster_finalize(cl);
    return code;
}

static int train_main(int argc, char **argv, struct ibp_cluster *cl)
{
    int rank = ibp_cluster_rank(cl), size = ibp_cluster_size(cl);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (rank == 0)
                usage(stdout);
            return EXIT_DONE;
        }
    ibp_mem_limit_policy();
    ibp_blas_setup();
    struct ibp_error err = {0};
    struct ibp_train_config cfg;
    struct ibp_train_state state = {0};
    struct ibp_dataset *train = NULL, *test = NULL;
    struct ibp_trainer *t = NULL;
    int code = EXIT_USAGE;
    int afresh = 0;
    enum ibp_status st = ibp_train_config_from_args(&cfg, argc - 1, argv + 1, &err);
    if (st == IBP_OK && !cfg.resume)
        cfg.processes = size; /* a resumed run keeps its own, checked below */
    if (st == IBP_OK && cfg.resume)
        st = resume_config(&cfg, argc - 1, argv + 1, &state, &afresh, &err);
    if (afresh)
        cfg.resume = 0;
    if (st == IBP_OK)
        st = ibp_train_config_validate(&cfg, &err);
    if (st == IBP_OK)
        st = open_data(&cfg, "train", &train, &err);
    if (st == IBP_OK)
        st = open_data(&cfg, "test", &test, &err);
    if (st == IBP_OK)
        st = ibp_trainer_create(&cfg, train, test, &t, &err);
    /* Everything sized once is allocated now; what the run takes later must fit too,
     * or it would fail half way (nets/base/memory.h). */
    int threads = cfg.threads > 0 ? cfg.threads : omp_get_max_threads();
    struct ibp_mem_later later = {t ? ibp_trainer_later_bytes(t) : 0,
                                  (size_t)(threads - 1) * ibp_mem_thread_stack(),
                                  (size_t)threads * ibp_gemm_pack_bytes()};
    if (st == IBP_OK)
        st = ibp_mem_check_room(&later, "data, model and workspaces", &err);
    else if (st == IBP_ERR_NOMEM)
        ibp_mem_explain_failure(&later, &err);
    if (st == IBP_OK) {
        /* the thread team now, while the room for its stacks is known to be there */
#pragma omp parallel num_threads(threads)
        {
        }
    }
    if (st == IBP_OK)
        st = ibp_trainer_set_cluster(t, cl, &err);
    if (st == IBP_OK && cfg.resume)
        st = ibp_trainer_restore(t, &state, &err);
    st = ibp_cluster_agree(cl, st, &err);
    if (st == IBP_OK)
        st = ibp_trainer_prepare_out(t, cfg.resume, &err);
    ibp_train_state_free(&state);
    if (st != IBP_OK)
        goto done;
    if (afresh && rank == 0)
        fprintf(stderr, "ibp-train: %s holds no training state (the run stopped before its "
                "first checkpoint): starting it afresh from %s/%s\n", cfg.out, cfg.out,
                IBP_TRAIN_CONFIG);

    struct display d = {.tty = isatty(STDERR_FILENO), .started = ibp_clock_seconds()};
    d.last = d.started;
    struct ibp_train_position pos = ibp_trainer_position(t);
    char procs[64] = "";
    if (size > 1)
        snprintf(procs, sizeof procs, ", %d processes", size);
    if (rank == 0)
        printf("ibp-train: %s, %s on %s (%lld training / %lld test images), eps %s, %d epochs, "
               "out %s%s%s\n", ibp_train_method_name(cfg.method), cfg.model, cfg.dataset,
               (long long)ibp_trainer_train_size(t), (long long)test->n, cfg.eps_text,
               cfg.epochs, cfg.out, procs, pos.epoch > 1 || pos.batch > 0 ? " (resumed)" : "");
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct ibp_train_hooks hooks = {rank == 0 ? on_batch : NULL, rank == 0 ? on_epoch : NULL,
                                    &d, &stop_requested};
    st = ibp_trainer_run(t, &hooks, &err);
    if (d.tty && rank == 0)
        fputs("\r\033[K", stderr);
    if (st == IBP_ERR_INTERRUPTED) {
        code = rank == 0 ? fail(EXIT_INTERRUPTED, &err) : EXIT_INTERRUPTED;
        goto done;
    }
    if (st != IBP_OK) {
        code = rank == 0 ? fail(EXIT_FAILED, &err) : EXIT_FAILED;
        goto done;
    }
    if (size > 1 && rank == 0) {
        /* the batches of this session (a resumed run counts from where it resumed) */
        int64_t batches = ibp_trainer_position(t).step - pos.step;
        double mpi_s = ibp_cluster_seconds(cl);
        printf("time in MPI exchanges: %.2f s over %lld batches (%.2f ms per batch)\n", mpi_s,
               (long long)batches, batches > 0 ? 1e3 * mpi_s / (double)batches : 0.0);
    }
    if (rank != 0)
        goto finished;
    struct ibp_train_best best = ibp_trainer_best(t);
    if (best.epoch > 0)
        printf("best epoch %d (chosen on the %s set): clean %.2f%%, verified %.2f%% test "
               "error -> %s/%s\n", best.epoch, cfg.val_split > 0 ? "validation" : "test",
               best.test_err, best.test_ver_err, cfg.out, IBP_TRAIN_BEST);
    printf("final model: %s/%s (%.1f s)\n", cfg.out, IBP_TRAIN_LAST, ibp_clock_seconds() - d.started);
    fflush(stdout);
    if (cfg.final_verify) {
        double v0 = ibp_clock_seconds();
        struct ibp_final_verify_options fo = {cfg.out, cfg.dataset, cfg.eps, cfg.eps_text,
                                              cfg.final_bab_timeout, cfg.final_count,
                                              cfg.threads};
        struct ibp_wbuf table = {0};
        st = ibp_final_verify(&fo, test, &table, NULL, &err);
        if (st == IBP_OK && table.failed)
            st = ibp_fail(&err, IBP_ERR_NOMEM, "final verification: out of memory");
        if (st != IBP_OK) {
            ibp_wbuf_free(&table);
            code = fail(EXIT_FAILED, &err);
            goto done;
        }
        printf("final verification (%s/%s, %.1f s):\n", cfg.out, IBP_FINAL_VERIFY_TABLE,
               ibp_clock_seconds() - v0);
        fwrite(table.data, 1, table.len, stdout);
        ibp_wbuf_free(&table);
    }
finished:
    code = EXIT_DONE;
done:
    if (st != IBP_OK && code == EXIT_USAGE && rank == 0)
        fail(EXIT_USAGE, &err);
    ibp_trainer_free(t);
    ibp_dataset_free(train);
    ibp_dataset_free(test);
    return code;
}
