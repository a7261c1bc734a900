/* cifar.h — CIFAR-10 and CIFAR-100 binary batches.
 *
 * CIFAR-10 record: 1 label byte (0..9) + 3072 pixel bytes (1024 R, 1024 G, 1024 B, each
 * 32×32 row-major), i.e. exactly [c][h][w]. CIFAR-100 record: a coarse label byte
 * (0..19), a fine label byte (0..99), then the same 3072 pixel bytes. */
#ifndef IBP_DATASETS_CIFAR_H
#define IBP_DATASETS_CIFAR_H

#include "datasets/dataset.h"

enum ibp_cifar_labels {
    IBP_CIFAR_LABELS_10,          /* CIFAR-10: 10 classes */
    IBP_CIFAR_LABELS_100_FINE,    /* CIFAR-100 with its 100 fine labels (the usual choice) */
    IBP_CIFAR_LABELS_100_COARSE,  /* CIFAR-100 with its 20 coarse (superclass) labels */
};

/* Reads the records of paths[0..n_paths) in that order into a new dataset *out of shape
 * 3×32×32, kind "cifar10" or "cifar100", with the standard class names and the usual
 * normalisation: CIFAR-10 mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010);
 * CIFAR-100 mean (0.5071, 0.4865, 0.4409), std (0.2673, 0.2564, 0.2762).
 * Errors (naming the file, and the record, counted from 0 within that file, for a bad
 * label): IBP_ERR_IO when a file cannot be opened or read; IBP_ERR_FORMAT for an empty
 * file, a length that is not a whole number of records, or a label byte out of range;
 * IBP_ERR_ARG for n_paths < 1; IBP_ERR_NOMEM. Nothing is returned on failure. */
enum ibp_status ibp_cifar_read_files(const char *const *paths, int n_paths,
                                     enum ibp_cifar_labels labels, struct ibp_dataset **out,
                                     struct ibp_error *err);

/* Reads one split of the folder dir as the CIFAR archives unpack: CIFAR-10
 * (cifar-10-batches-bin/) split "train" = data_batch_1.bin .. data_batch_5.bin, "test" =
 * test_batch.bin; CIFAR-100 (cifar-100-binary/) "train" = train.bin, "test" = test.bin.
 * Errors: IBP_ERR_ARG for another split name; otherwise as ibp_cifar_read_files (a missing
 * batch file is IBP_ERR_IO naming it). */
enum ibp_status ibp_cifar_read_folder(const char *dir, const char *split,
                                      enum ibp_cifar_labels labels, struct ibp_dataset **out,
                                      struct ibp_error *err);

#endif
