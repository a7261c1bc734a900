#include "datasets/cifar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_PIXELS 3072 /* 3 × 32 × 32 */
#define CHUNK_RECORDS 1024

static const char *const cifar10_names[10] = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
};

static const char *const cifar100_coarse_names[20] = {
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
};

static const char *const cifar100_fine_names[100] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
};

/* Reads the records of one file into ds from sample `first` on. */
static enum ibp_status read_file(const char *path, int label_bytes, int label_at, int64_t records,
                                 struct ibp_dataset *ds, int64_t first,
                                 uint8_t *chunk, struct ibp_error *err)
{
    int64_t rec = label_bytes + CIFAR_PIXELS;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ibp_fail(err, IBP_ERR_IO, "%s: %s", path, strerror(errno));
    enum ibp_status st = IBP_OK;
    for (int64_t done = 0; done < records && !st;) {
        int64_t k = records - done < CHUNK_RECORDS ? records - done : CHUNK_RECORDS;
        size_t got = fread(chunk, (size_t)rec, (size_t)k, f);
        if (got != (size_t)k) {
            st = ferror(f) ? ibp_fail(err, IBP_ERR_IO, "%s: read error", path)
                           : ibp_fail(err, IBP_ERR_FORMAT, "%s: truncated at record %lld", path,
                                      (long long)(done + (int64_t)got));
            break;
        }
        for (int64_t j = 0; j < k; j++) {
            const uint8_t *r = chunk + j * rec;
            for (int b = 0; b < label_bytes; b++) {
                int lim = label_bytes == 1 ? 10 : b == 0 ? 20 : 100;
                if (r[b] >= lim) {
                    st = ibp_fail(err, IBP_ERR_FORMAT, "%s: record %lld: %slabel %u outside 0..%d",
                                  path, (long long)(done + j),
                                  label_bytes == 1 ? "" : b == 0 ? "coarse " : "fine ", r[b],
                                  lim - 1);
                    break;
                }
            }
            if (st)
                break;
            int64_t i = first + done + j;
            ds->labels[i] = r[label_at];
            memcpy(ds->pixels + i * CIFAR_PIXELS, r + label_bytes, CIFAR_PIXELS);
        }
        done += k;
    }
    fclose(f);
    return st;
}

enum ibp_status ibp_cifar_read_files(const char *const *paths, int n_paths,
                                     enum ibp_cifar_labels labels, struct ibp_dataset **out,
                                     struct ibp_error *err)
{
    if (n_paths < 1)
        return ibp_fail(err, IBP_ERR_ARG, "CIFAR: no batch files given");
    int label_bytes = labels == IBP_CIFAR_LABELS_10 ? 1 : 2;
    int label_at = labels == IBP_CIFAR_LABELS_100_FINE ? 1 : 0;
    int classes = labels == IBP_CIFAR_LABELS_10 ? 10 : labels == IBP_CIFAR_LABELS_100_FINE ? 100 : 20;
    const char *const *names = labels == IBP_CIFAR_LABELS_10 ? cifar10_names
                               : labels == IBP_CIFAR_LABELS_100_FINE ? cifar100_fine_names
                                                                     : cifar100_coarse_names;
    int64_t rec = label_bytes + CIFAR_PIXELS;

    int64_t *records = malloc((size_t)n_paths * sizeof *records);
    if (!records)
        return ibp_fail(err, IBP_ERR_NOMEM, "CIFAR: out of memory");
    int64_t total = 0;
    for (int p = 0; p < n_paths; p++) {
        struct stat sb;
        enum ibp_status st = IBP_OK;
        if (stat(paths[p], &sb) != 0)
            st = ibp_fail(err, IBP_ERR_IO, "%s: %s", paths[p], strerror(errno));
        else if (!S_ISREG(sb.st_mode))
            st = ibp_fail(err, IBP_ERR_IO, "%s: not a regular file", paths[p]);
        else if (sb.st_size == 0 || sb.st_size % rec != 0)
            st = ibp_fail(err, IBP_ERR_FORMAT,
                          "%s: %lld bytes is not a whole number of %lld-byte %s records",
                          paths[p], (long long)sb.st_size, (long long)rec,
                          label_bytes == 1 ? "CIFAR-10" : "CIFAR-100");
        if (st) {
            free(records);
            return st;
        }
        records[p] = sb.st_size / rec;
        total += records[p];
    }

    struct ibp_dataset *ds = NULL;
    uint8_t *chunk = malloc((size_t)(rec * CHUNK_RECORDS));
    enum ibp_status st = chunk ? ibp_dataset_create(total, 3, 32, 32, classes, &ds, err)
                               : ibp_fail(err, IBP_ERR_NOMEM, "CIFAR: out of memory");
    int64_t first = 0;
    for (int p = 0; p < n_paths && !st; first += records[p], p++)
        st = read_file(paths[p], label_bytes, label_at, records[p], ds, first, chunk, err);
    for (int k = 0; k < classes && !st; k++)
        st = ibp_dataset_set_class_name(ds, k, names[k], err);
    free(chunk);
    free(records);
    if (st) {
        ibp_dataset_free(ds);
        return st;
    }
    static const float mean10[3] = {0.4914f, 0.4822f, 0.4465f}, std10[3] = {0.2023f, 0.1994f, 0.2010f};
    static const float mean100[3] = {0.5071f, 0.4865f, 0.4409f}, std100[3] = {0.2673f, 0.2564f, 0.2762f};
    memcpy(ds->mean, label_bytes == 1 ? mean10 : mean100, sizeof mean10);
    memcpy(ds->std, label_bytes == 1 ? std10 : std100, sizeof std10);
    ibp_dataset_set_kind(ds, label_bytes == 1 ? "cifar10" : "cifar100");
    *out = ds;
    return IBP_OK;
}

enum ibp_status ibp_cifar_read_folder(const char *dir, const char *split,
                                      enum ibp_cifar_labels labels, struct ibp_dataset **out,
                                      struct ibp_error *err)
{
    int train = strcmp(split, "train") == 0;
    if (!train && strcmp(split, "test") != 0)
        return ibp_fail(err, IBP_ERR_ARG, "CIFAR: split \"%s\": want train or test", split);
    static const char *const c10_train[5] = {"data_batch_1.bin", "data_batch_2.bin",
                                              "data_batch_3.bin", "data_batch_4.bin",
                                              "data_batch_5.bin"};
    static const char *const c10_test[1] = {"test_batch.bin"};
    static const char *const c100_train[1] = {"train.bin"};
    static const char *const c100_test[1] = {"test.bin"};
    const char *const *files = labels == IBP_CIFAR_LABELS_10 ? (train ? c10_train : c10_test)
                                                             : (train ? c100_train : c100_test);
    int n = labels == IBP_CIFAR_LABELS_10 && train ? 5 : 1;

    char *paths[5] = {NULL};
    enum ibp_status st = IBP_OK;
    for (int i = 0; i < n && !st; i++) {
        size_t len = strlen(dir) + strlen(files[i]) + 2;
        paths[i] = malloc(len);
        if (!paths[i])
            st = ibp_fail(err, IBP_ERR_NOMEM, "CIFAR: out of memory");
        else
            snprintf(paths[i], len, "%s/%s", dir, files[i]);
    }
    if (!st)
        st = ibp_cifar_read_files((const char *const *)paths, n, labels, out, err);
    for (int i = 0; i < n; i++)
        free(paths[i]);
    return st;
}
