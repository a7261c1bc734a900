#!/usr/bin/env bash
# VNN-COMP harness: prepare_instance.sh v1 CATEGORY ONNX VNNLIB
# ibp-verify needs no per-instance preparation (it reads .gz files itself and keeps no
# state between runs); this checks the arguments and that both files can be read, so a
# broken instance is reported before the timed run. Exit 0: ready.
set -euo pipefail
if [ $# -ne 4 ] || [ "$1" != "v1" ]; then
    echo "usage: prepare_instance.sh v1 CATEGORY ONNX VNNLIB" >&2
    exit 1
fi
onnx=$3
vnnlib=$4
for f in "$onnx" "$vnnlib"; do
    if [ ! -r "$f" ] && [ ! -r "$f.gz" ]; then
        echo "prepare_instance.sh: cannot read $f" >&2
        exit 1
    fi
done
exit 0
