#!/bin/sh
# scripts/fuzz.sh [SECONDS [HARNESS...]] — builds the fuzz harnesses (fuzz/) with clang,
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz/ (or
# $IBP_FUZZ_BUILD), writes seed corpora (fuzz_make_seeds, plus small files derived from
# ../shared/data and the installed Fashion-MNIST when present), runs each harness for
# SECONDS (default 60) on one thread, and prints one line per harness:
#   fuzz <harness>: <execs> execs in <s> s, cov <cov>, ft <ft>, corpus <n>, crashes <n>
# The corpus grows across runs in build-fuzz/fuzz-work/corpus/<harness>/; inputs that
# crash, leak, hang or run out of memory land in build-fuzz/fuzz-work/crashes/<harness>/
# (copy them to fuzz/regressions/<harness>/ once the reader is fixed; they are replayed
# first, under the sanitizers). Exit 1 when any harness found one or a regression fails.
# IBP_FUZZ_FLAGS adds libFuzzer flags (e.g. -jobs=2 -workers=2).
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=${IBP_FUZZ_BUILD:-$root/build-fuzz}
shared=$root/../shared/data
fmnist=/usr/share/datasets/fashion-mnist
all="idx cifar png csv model state config onnx vnnlib parse"
harnesses=${*:-$all}

case $secs in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2;; esac
for h in $harnesses; do
    case " $all " in *" $h "*) ;; *) echo "fuzz.sh: unknown harness '$h' (known: $all)" >&2; exit 2;; esac
done
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 2; }

if [ ! -f "$bdir/build.ninja" ]; then
    CC=clang meson setup "$bdir" "$root" -Dfuzz=true -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" >/dev/null
fi
targets=fuzz/fuzz_make_seeds
for h in $harnesses; do targets="$targets fuzz/fuzz_$h"; done
ninja -C "$bdir" -j"${IBP_FUZZ_BUILD_JOBS:-2}" $targets >/dev/null

work=$bdir/fuzz-work
seeds=$work/seeds
rm -rf "$seeds"
mkdir -p "$work"
ASAN_OPTIONS=detect_leaks=1 "$bdir/fuzz/fuzz_make_seeds" "$seeds" >/dev/null

# Seeds from the shared data, each in its harness's input layout (fuzz/fuzz_<reader>.c).
python3 - "$seeds" "$shared" "$fmnist" <<'PY'
import gzip, os, shutil, struct, sys
seeds, shared, fmnist = sys.argv[1:4]
def put(reader, name, data):
    os.makedirs(os.path.join(seeds, reader), exist_ok=True)
    with open(os.path.join(seeds, reader, name), "wb") as f:
        f.write(data)
def copy(reader, path):
    if os.path.isfile(path):
        with open(path, "rb") as f:
            put(reader, os.path.basename(path), f.read())
images = os.path.join(fmnist, "t10k-images-idx3-ubyte.gz")
labels = os.path.join(fmnist, "t10k-labels-idx1-ubyte.gz")
if os.path.isfile(images) and os.path.isfile(labels):
    with gzip.open(images) as f:
        head = f.read(16)
        pix = f.read(3 * 28 * 28)
    with gzip.open(labels) as f:
        f.read(8)
        lab = f.read(3)
    img = struct.pack(">IIII", 2051, 3, 28, 28) + pix
    lbl = struct.pack(">II", 2049, 3) + lab
    put("idx", "fmnist3", bytes([9]) + struct.pack("<I", len(img)) + img + lbl)
    zi, zl = gzip.compress(img), gzip.compress(lbl)
    put("idx", "fmnist3.gz", bytes([9]) + struct.pack("<I", len(zi)) + zi + zl)
csv = os.path.join(shared, "eran-mnist", "mnist_test.csv")
if os.path.isfile(csv):
    with open(csv, "rb") as f:
        put("csv", "mnist3.csv", bytes([0]) + b"".join(f.readline() for _ in range(3)))
test = os.path.join(shared, "vnncomp2022", "test")
for name in ("test_nano.onnx", "test_tiny.onnx", "test_small.onnx", "test_sat.onnx"):
    copy("onnx", os.path.join(test, name))
for name in ("mnist_conv_maxpool.onnx", "mnist_relu_3_50.onnx"):
    copy("onnx", os.path.join(shared, "eran-mnist", name))
for name in ("test_nano.vnnlib", "test_prop.vnnlib"):
    copy("vnnlib", os.path.join(test, name))
prop = os.path.join(shared, "vnncomp2022", "mnist_fc", "vnnlib", "prop_0_0.03.vnnlib.gz")
if os.path.isfile(prop):
    copy("vnnlib", prop)
    with gzip.open(prop) as f:
        put("vnnlib", "prop_0_0.03.vnnlib", f.read())
PY

status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
for h in $harnesses; do
    corpus=$work/corpus/$h
    crashes=$work/crashes/$h
    log=$work/$h.log
    mkdir -p "$corpus" "$crashes"
    # the inputs that once crashed a reader first, under the sanitizers
    if [ -n "$(ls -A "$root/fuzz/regressions/$h" 2>/dev/null)" ] &&
        ! "$bdir/fuzz/fuzz_$h" "$root/fuzz/regressions/$h"/* >"$work/$h.replay.log" 2>&1; then
        echo "fuzz $h: a regression input fails again, see $work/$h.replay.log"
        status=1
        continue
    fi
    rc=0
    t0=$(date +%s)
    # shellcheck disable=SC2086  # IBP_FUZZ_FLAGS is a list of flags
    "$bdir/fuzz/fuzz_$h" "$corpus" "$seeds/$h" -max_total_time="$secs" -timeout=30 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
        ${IBP_FUZZ_FLAGS:-} >"$log" 2>&1 || rc=$?
    took=$(( $(date +%s) - t0 ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    found=$(find "$crashes" -type f | wc -l)
    size=$(find "$corpus" -type f | wc -l)
    echo "fuzz $h: ${execs:-?} execs in $took s, cov ${cov:-?}, ft ${ft:-?}, corpus $size, crashes $found"
    if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
        [ "$rc" -ne 0 ] && echo "fuzz $h: libFuzzer exited $rc, see $log" >&2
        status=1
    fi
done
exit $status
