#!/usr/bin/env bash
# Dataset mode on ONNX models agrees with VNN-COMP mode (issue 17): ERAN's convSmall (with
# its normalisation from --mean/--std) and a fully connected net, on the first images of
# ERAN's MNIST CSV. ibp-verify's certified images must be exactly the images that
# `ibp-verify vnncomp` (scripts/eran_check.sh, bounds only: no branch and bound, a
# one-step attack, a time limit that never bites) proves unsat with the same methods.
# Usage: test_eran_dataset.sh IBP_VERIFY ERAN_CHECK DATA_DIR. Exit 77 without the data.
set -euo pipefail
verify=$1 check=$2 data=$3/eran-mnist
[ -r "$data/mnist_test.csv" ] || { echo "no $data: skipped"; exit 77; }
count=30
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
compare() { # NET EPS [normalisation options]
    local net=$1 eps=$2
    shift 2
    "$verify" --model "$data/$net" --data "csv:$data/mnist_test.csv" --count $count \
        --eps "$eps" --methods ibp,crown-ibp,crown --no-progress --threads 1 "$@" \
        --csv "$tmp/ds.csv" > "$tmp/ds.md"
    awk -F, 'NR > 1 && $10 == "certified" { print $3 }' "$tmp/ds.csv" | sort -n > "$tmp/ds.txt"
    "$check" "$net" "$eps" 120 $count -- --no-bab --methods ibp,crown-ibp,crown \
        --steps 1 --restarts 1 --rounds 0 --threads 1 > "$tmp/vnn.out"
    awk '$3 ~ /^img_[0-9]+\.vnnlib$/ && $5 == "unsat" { sub(/^img_/, "", $3); sub(/\.vnnlib$/, "", $3)
                                                       print $3 }' "$tmp/vnn.out" |
        sort -n > "$tmp/vnn.txt"
    local n
    n=$(wc -l < "$tmp/ds.txt")
    if ! cmp -s "$tmp/ds.txt" "$tmp/vnn.txt"; then
        echo "FAIL $net eps $eps: dataset mode certifies $(tr '\n' ' ' < "$tmp/ds.txt")," \
             "vnncomp mode proves $(tr '\n' ' ' < "$tmp/vnn.txt")"
        fail=1
    elif [ "$n" -eq 0 ]; then
        echo "FAIL $net eps $eps: nothing certified, the comparison is empty"
        fail=1
    else
        echo "ok $net eps $eps: the same $n of $count images certified in both modes"
    fi
}
compare convSmallRELU__Point.onnx 0.12 --mean 0.1307 --std 0.3081
compare mnist_relu_6_100.onnx 0.015
exit $fail
