#include "tests/common/check.h"

int check_passed, check_failed;

int check_report(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return (check_failed == 0 && check_passed > 0) ? 0 : 1;
}
