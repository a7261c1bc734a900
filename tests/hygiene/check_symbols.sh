#!/bin/sh
# Every global symbol a project library defines starts with ibp_: what has one
# translation unit is static, the rest is prefixed, so the libraries can be linked into
# any program without clashes. Lists each offender (library, object, symbol) and fails.
# OpenMP's named critical sections (.gomp_critical_user_NAME) are the compiler's and are
# held to the same rule through NAME. The tests' own helper libraries are not checked.
# usage: check_symbols.sh NM LIB.a...
nm_prog=$1
shift
[ $# -gt 0 ] || { echo "no libraries given" >&2; exit 1; }
bad=0
for lib in "$@"; do
    out=$("$nm_prog" -A -g --defined-only "$lib") || { echo "$nm_prog failed on $lib" >&2; exit 1; }
    offenders=$(printf '%s\n' "$out" | awk 'NF >= 3 {
        name = $NF; sub(/^\.gomp_critical_user_/, "", name)
        if (name !~ /^ibp_/) { where = $1; sub(/:[0-9a-f]*$/, "", where); print "  " where " " $NF }
    }')
    if [ -n "$offenders" ]; then
        printf '%s\n' "$offenders"
        bad=$((bad + $(printf '%s\n' "$offenders" | wc -l)))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "$bad global symbols without the ibp_ prefix (make them static or prefix them)"
    exit 1
fi
echo "$# libraries: every global symbol starts with ibp_"
