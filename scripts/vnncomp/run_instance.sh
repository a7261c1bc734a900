#!/usr/bin/env bash
# VNN-COMP harness: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULT_FILE TIMEOUT
# Answers the property within TIMEOUT seconds and writes RESULT_FILE: the first line is
# sat, unsat, unknown or timeout; after sat the counterexample ((X_i v) ... (Y_j v) ...).
# Files named without .gz are read from FILE.gz when only that exists. Extra options for
# ibp-verify can be passed in $IBP_VNNCOMP_OPTS (e.g. --no-sound).
set -euo pipefail
if [ $# -ne 6 ] || [ "$1" != "v1" ]; then
    echo "usage: run_instance.sh v1 CATEGORY ONNX VNNLIB RESULT_FILE TIMEOUT" >&2
    exit 1
fi
onnx=$3
vnnlib=$4
result=$5
timeout=$6
[ -e "$onnx" ] || [ ! -e "$onnx.gz" ] || onnx=$onnx.gz
[ -e "$vnnlib" ] || [ ! -e "$vnnlib.gz" ] || vnnlib=$vnnlib.gz
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${IBP_VERIFY:-${IBP_BUILD_DIR:-$repo/build-vnncomp}/verifier/ibp-verify}
# shellcheck disable=SC2086
exec "$bin" vnncomp --timeout "$timeout" --result "$result" ${IBP_VNNCOMP_OPTS:-} \
    "$onnx" "$vnnlib"
