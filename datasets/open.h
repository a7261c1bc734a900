/* open.h — one entry point from a dataset specification string to a dataset, for the
 * programs' --data options.
 *
 * A specification is one of:
 *   fashion-mnist, mnist     ROOT/<name>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *                            (ROOT defaults to /usr/share/datasets, where Debian's
 *                            dataset-fashion-mnist installs); split train or test
 *   idx:IMAGES[,LABELS]      IDX files (LABELS defaults to IMAGES with "images-idx3"
 *                            replaced by "labels-idx1")
 *   cifar10:PATH[,PATH...]   CIFAR-10 batch files, or one folder read by split
 *   cifar100:PATH[,PATH...]  the same for CIFAR-100 (fine labels unless coarse is set)
 *   png:FOLDER               ROOT/<class>/NAME.png
 *   csv:FILE                 ERAN-style CSV of c×h×w images
 *   list:FILE                a text file of `PATH LABEL` lines naming PNG images
 *                            (file_list.h; labels below the CSV/IDX class count)
 *   PATH                     guessed: a folder with data_batch_1.bin or test_batch.bin is
 *                            CIFAR-10, one with train.bin or test.bin CIFAR-100, one with
 *                            train-/t10k-images-idx3-ubyte[.gz] IDX, any other folder PNG;
 *                            a file *.csv is CSV, *.bin CIFAR-10, *idx3-ubyte[.gz] IDX. */
#ifndef IBP_DATASETS_OPEN_H
#define IBP_DATASETS_OPEN_H

#include "datasets/dataset.h"

#define IBP_DATASETS_ROOT "/usr/share/datasets"

/* Options of ibp_dataset_open; zeros (or NULL for the whole struct) are the defaults. */
struct ibp_open_options {
    const char *split; /* "train" or "test"; NULL = "train" */
    const char *root;  /* folder of named datasets; NULL = IBP_DATASETS_ROOT */
    int channels;      /* PNG: 1, 3, or 0 = as the first image */
    int convert;       /* PNG: allow gray<->RGB conversion */
    int c, h, w;       /* CSV image shape; all 0 = 1×28×28 */
    int n_classes;     /* CSV, IDX and list class count; 0 = 10 */
    int coarse;        /* CIFAR-100: the 20 coarse labels instead of the 100 fine ones */
};

/* Opens spec into a new dataset *out. The named IDX datasets get their kind
 * ("fashion-mnist", "mnist") and class names. Errors: IBP_ERR_ARG for a specification
 * that names nothing known (or a bad option); otherwise those of the reader used. */
enum ibp_status ibp_dataset_open(const char *spec, const struct ibp_open_options *opt,
                                 struct ibp_dataset **out, struct ibp_error *err);

#endif
