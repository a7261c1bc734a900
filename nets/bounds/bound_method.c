#include "nets/bounds/bounds.h"

#include <string.h>

/* The one table of method names: parsing, --help texts and reports all read it. */
static const char *const method_names[IBP_BOUND_METHOD_COUNT] = {"ibp", "crown-ibp", "crown"};

const char *ibp_bound_method_name(enum ibp_bound_method m)
{
    return (unsigned)m < IBP_BOUND_METHOD_COUNT ? method_names[m] : "?";
}

enum ibp_status ibp_bound_methods_parse(const char *text, const char *what,
                                        enum ibp_bound_method *methods, int *n_methods,
                                        struct ibp_error *err)
{
    int n = 0;
    for (const char *p = text;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int found = -1;
        for (int k = 0; k < IBP_BOUND_METHOD_COUNT; k++)
            if (strlen(method_names[k]) == len && strncmp(p, method_names[k], len) == 0)
                found = k;
        if (found < 0)
            return ibp_fail(err, IBP_ERR_ARG, "%s: '%.*s' is not a method (%s)", what, (int)len,
                            p, IBP_BOUND_METHOD_LIST);
        for (int k = 0; k < n; k++)
            if ((int)methods[k] == found)
                return ibp_fail(err, IBP_ERR_ARG, "%s: '%s' given twice", what,
                                method_names[found]);
        methods[n++] = (enum ibp_bound_method)found;
        if (!end)
            break;
        p = end + 1;
    }
    *n_methods = n;
    return IBP_OK;
}
