"""Which implementation of the arithmetic scanner runs: the C++ kernel or the Python reference.

``chil_native._arith`` (``native/cpp/arith.cpp``) ports :func:`~chil_plugin_empirical.expr.tokenize` and the
step extraction of :mod:`chil_plugin_empirical.steps` (tokenizer, parser, exact evaluation in 64-bit
rationals).  It is used when chil-native is built, imports and passes a self-check here; the Python code
stays the reference: the kernel hands back every line it cannot promise to read identically (non-ASCII
text, a value beyond 64-bit rationals) and the Python path reads it.  ``CHIL_NATIVE=0`` in the
environment turns the kernel off.  ``chil plugins`` prints :func:`implementation`.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from typing import Any

log = logging.getLogger(__name__)

_state: dict[str, Any] = {"module": None, "reason": "not loaded yet"}

#: lines the self-check reads both ways (cheap; the differential tests go much further)
_SELF_CHECK = ("48/2 = 24 + 10 = 34", "20% of $50 = 10 and 10/3 = 3.33", "2 1/2 x 4 = 10, 7! = 5040 > 2^10", "3*7 = 20")


#: the kernel functions this plugin calls (a build without one of them predates it: its ``extract`` also
#: returns duplicate steps, which this plugin no longer removes when no line was handed back)
_REQUIRED = ("init", "tokenize", "line_steps", "extract", "numbers", "answer", "grounded")


def _load() -> tuple[Any, str]:
    if os.environ.get("CHIL_NATIVE", "").strip().lower() in ("0", "off", "false", "no"):
        return None, "python (CHIL_NATIVE=0)"
    try:
        from chil_native import _arith
    except ImportError as exc:
        return None, f"python (chil_native._arith does not import: {exc}; build it with: pip install --no-build-isolation ./native)"
    from chil_plugin_empirical import expr, steps

    missing = [f for f in _REQUIRED if not hasattr(_arith, f)]
    if missing:  # a build older than this plugin (its extract does not deduplicate either): the reference runs
        log.warning("chil_native._arith lacks %s; using the Python arithmetic (rebuild: pip install --no-build-isolation ./native)",
                    ", ".join(missing))
        return None, (f"python (chil_native._arith is older than this plugin, it lacks {', '.join(missing)}; "
                      "rebuild it with: pip install --no-build-isolation ./native)")
    try:
        _arith.init(Fraction, expr.ONE, expr.HUNDREDTH)
        f = _arith.fraction(6, 4)
        if type(f) is not Fraction or f != Fraction(3, 2) or hash(f) != hash(Fraction(3, 2)):
            return None, "python (chil_native._arith cannot build Fraction objects on this Python)"
        for line in _SELF_CHECK:
            if _arith.tokenize(line) != expr.tokenize_py(line):
                return None, f"python (chil_native._arith tokenizes {line!r} differently from the reference)"
            ref: list[Any] = []
            steps._line_steps_py(line, "inline", expr.DEFAULT_LIMITS, True, ref)
            got = _arith.line_steps(line, True, 60, 4096, 1000, 200, 40, True)
            if got is None or [(s.relation, s.lhs, s.rhs, s.verdict) for s in ref] != [(g[3], g[4], g[5], g[6]) for g in got]:
                return None, f"python (chil_native._arith reads {line!r} differently from the reference)"
    except Exception as exc:  # noqa: BLE001 - a broken build must not break scoring: the reference runs
        log.warning("chil_native._arith failed its self-check (%s); using the Python arithmetic", exc)
        return None, f"python (chil_native._arith failed its self-check: {exc})"
    return _arith, "native (chil_native._arith, C++; the Python reference reads non-ASCII lines and values beyond 64-bit rationals)"


def activate(enabled: bool | None = None) -> str:
    """Load the kernel (``enabled=None``: unless ``CHIL_NATIVE=0``; ``False``: the Python reference only)
    and return :func:`implementation`."""
    from chil_plugin_empirical import expr, steps

    if enabled is False:
        module, reason = None, "python (turned off by the caller)"
    else:
        module, reason = _load()
        if module is None and enabled:
            raise RuntimeError(f"the native arithmetic kernel was requested but is unavailable: {reason}")
    _state.update(module=module, reason=reason)
    expr._native = module
    steps._native = module
    if module is None:
        log.info("empirical arithmetic: %s", reason)
    return reason


def implementation() -> str:
    """``native (...)`` or ``python (why)``: the arithmetic implementation in use in this process."""
    from chil_plugin_empirical import steps  # noqa: F401 - importing it activates the kernel

    return str(_state["reason"])


def in_use() -> bool:
    """True when the C++ kernel reads the arithmetic in this process."""
    from chil_plugin_empirical import steps  # noqa: F401 - importing it activates the kernel

    return _state["module"] is not None
