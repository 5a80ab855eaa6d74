#!/bin/bash
# Configure and build img-tools in the source tree (or in $BUILD_DIR).
# Extra arguments go to configure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top}
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$*" != "$(cat .img-configure-args 2>/dev/null)" ]; then
    "$top/configure" -q "$@"
    printf '%s' "$*" > .img-configure-args
fi
make -s -j"$(nproc)"
