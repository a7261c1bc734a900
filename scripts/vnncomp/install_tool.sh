#!/usr/bin/env bash
# VNN-COMP harness: install_tool.sh v1
# Installs the build dependencies (Debian 12 packages, via scripts/setup.sh) and builds
# ibp-verify in $IBP_BUILD_DIR (default: build-vnncomp in the repository root).
set -euo pipefail
version=${1:-}
if [ "$version" != "v1" ]; then
    echo "install_tool.sh: expected version string v1, got '$version'" >&2
    exit 1
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
export IBP_BUILD_DIR=${IBP_BUILD_DIR:-$repo/build-vnncomp}
"$repo/scripts/setup.sh"
test -x "$IBP_BUILD_DIR/verifier/ibp-verify" || {
    echo "install_tool.sh: $IBP_BUILD_DIR/verifier/ibp-verify was not built" >&2
    exit 1
}
echo "install_tool.sh: ibp-verify built in $IBP_BUILD_DIR"
