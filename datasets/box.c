#include "datasets/box.h"

#include <math.h>

enum ibp_status ibp_box_compute(const float *x, int64_t n, int c, int64_t plane, double eps,
                                const float *mean, const float *std, float *xn, float *lo,
                                float *hi, struct ibp_error *err)
{
    if (n < 1 || c < 1 || plane < 1)
        return ibp_fail(err, IBP_ERR_ARG, "box: shape %lldx%dx%lld: invalid", (long long)n, c,
                        (long long)plane);
    if (!(eps >= 0.0 && isfinite(eps)))
        return ibp_fail(err, IBP_ERR_ARG, "box: epsilon %g: must be finite and >= 0", eps);
    for (int k = 0; k < c; k++)
        if (!(std[k] > 0.0f && isfinite(std[k]) && isfinite(mean[k])))
            return ibp_fail(err, IBP_ERR_ARG, "box: channel %d: mean %g, std %g: std must be > 0",
                            k, (double)mean[k], (double)std[k]);
    for (int64_t i = 0; i < n * c * plane; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f))
            return ibp_fail(err, IBP_ERR_NUMERIC,
                            "box: sample %lld, channel %d, pixel %lld: value %g outside [0,1]",
                            (long long)(i / (c * plane)), (int)(i / plane % c),
                            (long long)(i % plane), (double)x[i]);
    for (int64_t s = 0; s < n * c; s++) {
        double m = mean[s % c], sd = std[s % c];
        int64_t base = s * plane;
        for (int64_t j = base; j < base + plane; j++) {
            double v = x[j];
            /* lo/hi first: xn may alias x */
            if (lo)
                lo[j] = (float)((fmax(v - eps, 0.0) - m) / sd);
            if (hi)
                hi[j] = (float)((fmin(v + eps, 1.0) - m) / sd);
            if (xn)
                xn[j] = (float)((v - m) / sd);
        }
    }
    return IBP_OK;
}
