#!/usr/bin/env bash
# Build chil-native with AddressSanitizer + UndefinedBehaviorSanitizer (into a scratch folder, never over
# the installed build) and run the native-vs-Python differential tests against that build.
#
#   bash scripts/native-sanitize.sh [extra pytest args]      (CI runs it from .ci/run; a few minutes)
#
# Python itself is not instrumented: libasan / libubsan are preloaded, leak checking is off (the
# interpreter keeps memory to the end), and any sanitizer report aborts the run with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
BUILD=$(mktemp -d "${TMPDIR:-/tmp}/chil-native-sanitize.XXXXXX")
trap 'rm -rf "$BUILD"' EXIT

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S native -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Debug -DCHIL_NATIVE_SANITIZE=ON \
  -DPython_EXECUTABLE="$PWD/$PY" -Dnanobind_DIR="$("$PY" -m nanobind --cmake_dir)" >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >/dev/null

PKG="$BUILD/pkg/chil_native"
mkdir -p "$PKG"
cp native/src/chil_native/*.py "$PKG/"
cp "$BUILD"/_arith*.so "$BUILD"/_fitness*.so "$PKG/"

export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONPATH="$BUILD/pkg${PYTHONPATH:+:$PYTHONPATH}"
# the sanitized build is the one imported, and the empirical framework uses it
"$PY" -c "
import chil_native, sys
assert chil_native.__file__.startswith('$BUILD'), chil_native.__file__
from chil_plugin_empirical import native, steps  # steps: importing it activates the kernel
assert native.in_use(), native.implementation()
print('sanitized build in use:', chil_native.__file__)"
"$PY" -m pytest plugins/frameworks/empirical/tests/test_native.py plugins/frameworks/empirical/tests/test_steps.py \
  plugins/frameworks/evolution/tests/test_kernels.py -q -p no:cacheprovider "$@"
