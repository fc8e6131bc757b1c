"""chil-native: optional C++ kernels for chil (nanobind, built by scikit-build-core).

Each kernel family is its own extension module (``chil_native._fitness``: the fitness kernels of the
evolution framework; ``chil_native._arith``: the arithmetic scanner, parser and step checker of the
empirical framework).  Every kernel has a pure-Python reference in the package that uses it, which is
used when the extension is not built or fails to import; :func:`status` says which modules load here.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
MODULES = ("_fitness", "_arith")


def load(name: str):  # type: ignore[no-untyped-def]
    """The extension module ``chil_native.<name>``, or raise ImportError with the reason."""
    if name not in MODULES:
        raise ImportError(f"chil_native has no kernel module {name!r} (known: {', '.join(MODULES)})")
    return importlib.import_module(f"chil_native.{name}")


def status() -> dict[str, str]:
    """``{module: "ok" | "unavailable: <why>"}`` for every kernel module."""
    out: dict[str, str] = {}
    for name in MODULES:
        try:
            load(name)
            out[name] = "ok"
        except ImportError as exc:
            out[name] = f"unavailable: {exc}"
    return out
