#!/usr/bin/env bash
# Robustness of ERAN's published MNIST networks on their 100 test images, the way ERAN's
# papers report it: for each image, the L-inf box clip(p/255 ± ε, 0, 1) must keep the
# label winning. Each image becomes a VNN-LIB property (the unsafe set: some other logit
# >= the label's) and ibp-verify's vnncomp batch mode answers them all: unsat =
# certified, sat = a re-checked counterexample, else unknown/timeout.
# Usage: scripts/eran_check.sh NET EPS [TIMEOUT [COUNT]] [-- ibp-verify vnncomp options]
#   NET      a file name in $IBP_DATA/eran-mnist, e.g. convSmallRELU__Point.onnx
#   EPS      radius in pixel units, e.g. 0.12
#   TIMEOUT  seconds per image (default 60); COUNT images from the first (default 100)
# convSmallRELU__* nets get ERAN's normalisation (mean 0.1307, std 0.3081) prepended.
# The images the data README lists as having concrete counterexamples (convSmall Point at
# ε 0.12) are marked sat in the verdicts, so certifying one counts as a wrong answer.
# Exit 1 on a wrong answer or an error. Environment: IBP_DATA (default ../shared/data),
# IBP_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
    sed -n '2,15p' "$0" >&2
    exit 2
fi
net=$1 eps=$2
shift 2
timeout=60 count=100
if [ $# -gt 0 ] && [ "$1" != "--" ]; then timeout=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" != "--" ]; then count=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift
data=${IBP_DATA:-../shared/data}/eran-mnist
bin=${IBP_BUILD_DIR:-build}/verifier/ibp-verify
[ -r "$data/$net" ] || { echo "eran_check: $data/$net not found" >&2; exit 1; }
[ -x "$bin" ] || scripts/setup.sh
norm=()
case $net in convSmallRELU__*) norm=(--norm-mean 0.1307 --norm-std 0.3081) ;; esac
known_sat=""
if [ "$net" = convSmallRELU__Point.onnx ] && [ "$eps" = 0.12 ]; then
    known_sat="6 8 9 15 18 20 33 61 73 92"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ln -s "$(cd "$data" && pwd)/$net" "$out/$net"
awk -F, -v eps="$eps" -v n="$count" -v net="$net" -v t="$timeout" -v dir="$out" \
    -v sat="$known_sat" '
    BEGIN { split(sat, s, " "); for (k in s) known[s[k]] = 1
            print "onnx,vnnlib,verdict" > (dir "/verdicts.csv") }
    NR > n { exit }
    {
        i = NR - 1; y = $1; f = sprintf("%s/img_%d.vnnlib", dir, i)
        printf "; image %d of mnist_test.csv, label %d, eps %s\n", i, y, eps > f
        for (k = 0; k < 784; k++) printf "(declare-const X_%d Real)\n", k > f
        for (k = 0; k < 10; k++) printf "(declare-const Y_%d Real)\n", k > f
        for (k = 0; k < 784; k++) {
            p = $(k + 2) / 255; lo = p - eps; hi = p + eps
            if (lo < 0) lo = 0
            if (hi > 1) hi = 1
            printf "(assert (>= X_%d %.17g))\n(assert (<= X_%d %.17g))\n", k, lo, k, hi > f
        }
        printf "(assert (or\n" > f
        for (k = 0; k < 10; k++) if (k != y) printf "  (and (>= Y_%d Y_%d))\n", k, y > f
        printf "))\n" > f
        close(f)
        printf "%s,img_%d.vnnlib,%s\n", net, i, t > (dir "/instances.csv")
        printf "%s,img_%d.vnnlib,%s\n", net, i, (i in known) ? "sat" : "open" \
            > (dir "/verdicts.csv")
    }' "$data/mnist_test.csv"
echo "== $net, eps $eps, $timeout s per image, first $count images"
"$bin" vnncomp --instances "$out/instances.csv" --verdicts "$out/verdicts.csv" \
    ${norm[@]+"${norm[@]}"} "$@"
