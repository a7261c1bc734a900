/* headers_alone_main.c — the program around the generated one-header translation units
 * (tests/hygiene/meson.build). The check is that they build, with -Werror: a header that
 * needs another one included first, lacks an include guard or warns fails the build, and
 * with it `meson test`. Prints how many headers were compiled (argv[1]). */
#include <stdio.h>

int main(int argc, char **argv)
{
    printf("%s public headers compile on their own\n", argc > 1 ? argv[1] : "?");
    return 0;
}
