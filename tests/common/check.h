/* check.h — the tests' assertion macros. Each test program counts its checks and
 * ends with check_report(), which prints "N passed, N failed" and returns the exit
 * status (0 only when nothing failed and something was checked). */
#ifndef IBP_TEST_CHECK_H
#define IBP_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

extern int check_passed, check_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            check_passed++;                                                           \
        } else {                                                                      \
            check_failed++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

#define CHECK_MSG(cond, ...)                                                          \
    do {                                                                              \
        if (cond) {                                                                   \
            check_passed++;                                                           \
        } else {                                                                      \
            check_failed++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

/* |a - b| <= tol (absolute); NaN never passes. */
#define CHECK_NEAR(a, b, tol)                                                         \
    do {                                                                              \
        double check_a_ = (double)(a), check_b_ = (double)(b);                        \
        CHECK_MSG(fabs(check_a_ - check_b_) <= (tol), "%s = %.9g, %s = %.9g, tol %g", \
                  #a, check_a_, #b, check_b_, (double)(tol));                         \
    } while (0)

/* The status is IBP_OK; otherwise prints the library's message. */
#define CHECK_OK(status, err)                                                         \
    CHECK_MSG((status) == 0, "status %d: %s", (int)(status), (err).msg)

int check_report(void);

#endif
