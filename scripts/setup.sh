#!/usr/bin/env bash
# Installs what the build and tests need (Debian 12), then configures build/.
# Idempotent: packages already present are not touched, an existing build/ is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc libblis-openmp-dev libpng-dev zlib1g-dev coinor-libclp-dev meson ninja-build
          pkg-config dataset-fashion-mnist libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi

build=${IBP_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null
echo "setup: built in $build/"
