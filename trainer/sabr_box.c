#include "trainer/sabr_box.h"

#include <math.h>

enum ibp_status ibp_sabr_box(const float *x_adv, const float *lo, const float *hi, size_t n,
                             double lambda, float *lo_small, float *hi_small,
                             struct ibp_error *err)
{
    if (!(lambda > 0.0 && lambda <= 1.0))
        return ibp_fail(err, IBP_ERR_ARG, "sabr box: lambda %g outside (0, 1]", lambda);
    for (size_t i = 0; i < n; i++) {
        if (!(lo[i] <= hi[i]))
            return ibp_fail(err, IBP_ERR_ARG, "sabr box: element %zu: lo %g, hi %g", i,
                            (double)lo[i], (double)hi[i]);
        double l = lo[i], h = hi[i];
        double r = lambda * 0.5 * (h - l);
        double c = fmin(fmax((double)x_adv[i], l + r), h - r);
        float a = (float)(c - r), b = (float)(c + r);
        lo_small[i] = a < lo[i] ? lo[i] : a;
        hi_small[i] = b > hi[i] ? hi[i] : b;
    }
    return IBP_OK;
}
