"""Fitness kernels batched over a population, in four implementations with one signature each:

- ``python``: pure-Python loops, the reference (``chil_core.capabilities.optimizer``/``expression``
  semantics, operation for operation);
- ``numpy``: vectorised NumPy (always present; the fallback when the extension is not built);
- ``numba``: ``@njit`` loops (when numba is installed; compiled on first use, cached on disk);
- ``native``: C++ from ``chil_native._fitness`` (when chil-native is built and imports).

Functions (every array C-contiguous):

- ``tour_lengths(coords (n,2) f64, tours (P,n) i64) -> (P,) f64`` (NaN for a row that is not a
  permutation: the native and Numba kernels check it too, so a bad index never reads out of bounds);
- ``knapsack(values (n,) i64, weights (n,) i64, picks (P,n) u8) -> ((P,) i64, (P,) i64)``;
- ``rastrigin(x (P,d) f64) -> (P,) f64``;
- ``expr_mse(code (T,) i32, args (T,) f64, offsets (P+1,) i64, points (m,k) f64, targets (m,) f64)
  -> (P,) f64``: programs of :mod:`chil_core.capabilities.expression`, concatenated.

:func:`select` picks one (``auto``: native, else numpy); :func:`status` says what each is here.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from chil_core.capabilities.expression import Program, evaluate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kernels:
    name: str
    tour_lengths: Any
    knapsack: Any
    rastrigin: Any
    expr_mse: Any


def pack_programs(programs: Sequence[Program]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate postfix programs into (code i32, args f64, offsets i64)."""
    offsets = np.zeros(len(programs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p.code) for p in programs])
    code = np.fromiter((c for p in programs for c in p.code), dtype=np.int32, count=int(offsets[-1]))
    args = np.fromiter((a for p in programs for a in p.args), dtype=np.float64, count=int(offsets[-1]))
    return code, args, offsets


# -- python: the reference -----------------------------------------------------------------------
def _py_tour_lengths(coords: np.ndarray, tours: np.ndarray) -> np.ndarray:
    c = coords.tolist()
    n = len(c)
    out = []
    for row in tours.tolist():
        if len(row) != n or sorted(row) != list(range(n)):
            out.append(math.nan)
            continue
        total = 0.0
        for i in range(n):
            x1, y1 = c[row[i]]
            x2, y2 = c[row[(i + 1) % n]]
            total += math.sqrt((x1 - x2) * (x1 - x2) + (y1 - y2) * (y1 - y2))
        out.append(total)
    return np.asarray(out, dtype=np.float64)


def _py_knapsack(values: np.ndarray, weights: np.ndarray, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v, w = values.tolist(), weights.tolist()
    vals, wts = [], []
    for row in picks.tolist():
        a = b = 0
        for bit, vi, wi in zip(row, v, w, strict=True):
            if bit:
                a += vi
                b += wi
        vals.append(a)
        wts.append(b)
    return np.asarray(vals, dtype=np.int64), np.asarray(wts, dtype=np.int64)


def _py_rastrigin(x: np.ndarray) -> np.ndarray:
    out = []
    for row in x.tolist():
        total = 10.0 * len(row)
        for xi in row:
            total += xi * xi - 10.0 * math.cos(2.0 * math.pi * xi)
        out.append(total)
    return np.asarray(out, dtype=np.float64)


def _py_expr_mse(code: np.ndarray, args: np.ndarray, offsets: np.ndarray, points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    pts, ys = points.tolist(), targets.tolist()
    c, a = code.tolist(), args.tolist()
    out = []
    k = points.shape[1]
    for p in range(len(offsets) - 1):
        lo, hi = int(offsets[p]), int(offsets[p + 1])
        prog = Program(tuple(c[lo:hi]), tuple(a[lo:hi]), k, "")
        try:
            total = 0.0
            for pt, y in zip(pts, ys, strict=True):
                d = evaluate(prog, pt) - y
                total += d * d
            out.append(total / len(pts))
        except (IndexError, ValueError):
            out.append(math.nan)
    return np.asarray(out, dtype=np.float64)


PYTHON = Kernels("python", _py_tour_lengths, _py_knapsack, _py_rastrigin, _py_expr_mse)


# -- numpy ---------------------------------------------------------------------------------------
def _np_tour_lengths(coords: np.ndarray, tours: np.ndarray) -> np.ndarray:
    n = coords.shape[0]
    out = np.full(tours.shape[0], np.nan)
    if tours.shape[1] != n or n == 0:
        return out
    valid = (tours >= 0).all(axis=1) & (tours < n).all(axis=1)
    if valid.any():
        t = tours[valid]
        valid_idx = np.flatnonzero(valid)
        perm = (np.sort(t, axis=1) == np.arange(n)).all(axis=1)
        t = t[perm]
        pts = coords[t]
        d = pts - np.roll(pts, -1, axis=1)
        out[valid_idx[perm]] = np.sqrt((d * d).sum(axis=2)).sum(axis=1)
    return out


def _np_knapsack(values: np.ndarray, weights: np.ndarray, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = picks.astype(np.int64)
    return p @ values, p @ weights


def _np_rastrigin(x: np.ndarray) -> np.ndarray:
    return 10.0 * x.shape[1] + (x * x - 10.0 * np.cos(2.0 * np.pi * x)).sum(axis=1)


_NP_UNARY = {7: np.negative, 8: np.sin, 9: np.cos, 10: np.tan, 11: np.exp, 12: np.log, 13: np.sqrt, 14: np.abs, 15: np.tanh}
_NP_BINARY = {2: np.add, 3: np.subtract, 4: np.multiply, 5: np.divide}


def _np_expr_mse(code: np.ndarray, args: np.ndarray, offsets: np.ndarray, points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    out = np.full(len(offsets) - 1, np.nan)
    cols = [np.ascontiguousarray(points[:, j]) for j in range(points.shape[1])]
    with np.errstate(all="ignore"):
        for p in range(len(offsets) - 1):
            stack: list[np.ndarray] = []
            try:
                for i in range(int(offsets[p]), int(offsets[p + 1])):
                    op, a = int(code[i]), float(args[i])
                    if op == 0:
                        stack.append(np.full(len(targets), a))
                    elif op == 1:
                        stack.append(cols[int(a)])
                    elif op in _NP_BINARY:
                        r = stack.pop()
                        stack.append(_NP_BINARY[op](stack.pop(), r))
                    elif op == 6:
                        stack.append(np.power(stack.pop(), a))
                    else:
                        stack.append(_NP_UNARY[op](stack.pop()))
                if len(stack) != 1:
                    continue
            except (IndexError, KeyError):
                continue
            d = stack[0] - targets
            out[p] = float(np.mean(d * d))
    return out


NUMPY = Kernels("numpy", _np_tour_lengths, _np_knapsack, _np_rastrigin, _np_expr_mse)


# -- numba ---------------------------------------------------------------------------------------
_NUMBA: Kernels | None = None
_NUMBA_ERROR: str | None = None


def _build_numba() -> Kernels:
    import numba

    njit = numba.njit(cache=True, nogil=True)

    @njit
    def tour_lengths(coords, tours):  # type: ignore[no-untyped-def]
        n = coords.shape[0]
        pop, m = tours.shape
        out = np.full(pop, np.nan)
        seen = np.zeros(n, dtype=np.int64)
        for p in range(pop):
            if m != n or n == 0:
                continue
            ok = True
            for i in range(m):
                k = tours[p, i]
                if k < 0 or k >= n or seen[k] == p + 1:
                    ok = False
                    break
                seen[k] = p + 1
            if not ok:
                seen[:] = 0
                continue
            total = 0.0
            for i in range(m):
                a = tours[p, i]
                b = tours[p, (i + 1) % m]
                dx = coords[a, 0] - coords[b, 0]
                dy = coords[a, 1] - coords[b, 1]
                total += np.sqrt(dx * dx + dy * dy)
            out[p] = total
        return out

    @njit
    def knapsack(values, weights, picks):  # type: ignore[no-untyped-def]
        pop, n = picks.shape
        val = np.zeros(pop, dtype=np.int64)
        wt = np.zeros(pop, dtype=np.int64)
        for p in range(pop):
            a = 0
            b = 0
            for i in range(n):
                if picks[p, i]:
                    a += values[i]
                    b += weights[i]
            val[p] = a
            wt[p] = b
        return val, wt

    @njit
    def rastrigin(x):  # type: ignore[no-untyped-def]
        pop, d = x.shape
        out = np.empty(pop)
        for p in range(pop):
            total = 10.0 * d
            for i in range(d):
                total += x[p, i] * x[p, i] - 10.0 * np.cos(2.0 * np.pi * x[p, i])
            out[p] = total
        return out

    @njit
    def expr_mse(code, args, offsets, points, targets):  # type: ignore[no-untyped-def]
        pop = offsets.shape[0] - 1
        m, k = points.shape
        out = np.full(pop, np.nan)
        stack = np.empty(512)
        for p in range(pop):
            lo, hi = offsets[p], offsets[p + 1]
            sse = 0.0
            ok = True
            for j in range(m):
                sp = 0
                for i in range(lo, hi):
                    op = code[i]
                    a = args[i]
                    if op == 0 or op == 1:
                        if sp >= 512:
                            ok = False
                            break
                        if op == 0:
                            stack[sp] = a
                        else:
                            v = int(a)
                            if v < 0 or v >= k:
                                ok = False
                                break
                            stack[sp] = points[j, v]
                        sp += 1
                    elif op >= 2 and op <= 5:
                        if sp < 2:
                            ok = False
                            break
                        sp -= 1
                        r = stack[sp]
                        left = stack[sp - 1]
                        if op == 2:
                            stack[sp - 1] = left + r
                        elif op == 3:
                            stack[sp - 1] = left - r
                        elif op == 4:
                            stack[sp - 1] = left * r
                        elif r != 0.0:
                            stack[sp - 1] = left / r
                        elif left == 0.0 or left != left:
                            stack[sp - 1] = np.nan
                        else:
                            stack[sp - 1] = np.inf if (left > 0) == (np.copysign(1.0, r) > 0) else -np.inf
                    else:
                        if sp < 1:
                            ok = False
                            break
                        v = stack[sp - 1]
                        if op == 6:
                            if v == 0.0 and a < 0:
                                v = np.inf
                            elif v < 0 and a != np.floor(a):
                                v = np.nan
                            else:
                                v = v ** a
                        elif op == 7:
                            v = -v
                        elif op == 8:
                            v = np.sin(v)
                        elif op == 9:
                            v = np.cos(v)
                        elif op == 10:
                            v = np.tan(v)
                        elif op == 11:
                            v = np.exp(v)
                        elif op == 12:
                            v = np.log(v) if v >= 0 else np.nan
                        elif op == 13:
                            v = np.sqrt(v) if v >= 0 else np.nan
                        elif op == 14:
                            v = abs(v)
                        elif op == 15:
                            v = np.tanh(v)
                        else:
                            ok = False
                            break
                        stack[sp - 1] = v
                if not ok or sp != 1:
                    ok = False
                    break
                d = stack[0] - targets[j]
                sse += d * d
            if ok:
                out[p] = sse / m
        return out

    return Kernels("numba", tour_lengths, knapsack, rastrigin, expr_mse)


def numba_kernels() -> Kernels | None:
    global _NUMBA, _NUMBA_ERROR
    if _NUMBA is None and _NUMBA_ERROR is None:
        if importlib.util.find_spec("numba") is None:
            _NUMBA_ERROR = "numba is not installed"
        else:
            try:
                _NUMBA = _build_numba()
            except Exception as exc:  # noqa: BLE001 - any failure means: use another implementation
                _NUMBA_ERROR = f"{type(exc).__name__}: {exc}"
                log.warning("numba kernels unavailable: %s", _NUMBA_ERROR)
    return _NUMBA


# -- native --------------------------------------------------------------------------------------
_NATIVE: Kernels | None = None
_NATIVE_ERROR: str | None = None


def native_kernels() -> Kernels | None:
    global _NATIVE, _NATIVE_ERROR
    if _NATIVE is None and _NATIVE_ERROR is None:
        try:
            from chil_native import _fitness as f

            _NATIVE = Kernels("native", f.tour_lengths, f.knapsack, f.rastrigin, f.expr_mse)
        except ImportError as exc:
            _NATIVE_ERROR = f"chil_native._fitness does not import ({exc}); build it with: pip install --no-build-isolation ./native"
            log.info("native fitness kernels unavailable: %s", _NATIVE_ERROR)
    return _NATIVE


def select(preference: str = "auto") -> Kernels:
    """The kernels to use: ``auto`` = native when built, else numpy; a named implementation that is
    unavailable falls back to numpy (logged)."""
    if preference in ("auto", "native"):
        k = native_kernels()
        if k is not None:
            return k
        if preference == "native":
            log.warning("native kernels requested but unavailable (%s); using numpy", _NATIVE_ERROR)
        return NUMPY
    if preference == "numba":
        k = numba_kernels()
        if k is None:
            log.warning("numba kernels requested but unavailable (%s); using numpy", _NATIVE_ERROR)
        return k or NUMPY
    return {"python": PYTHON, "numpy": NUMPY}[preference]


def status() -> dict[str, str]:
    """What each implementation is here: ``ok`` or why not (numba is not compiled by this call)."""
    native_kernels()
    return {
        "python": "ok",
        "numpy": "ok",
        "numba": "ok" if importlib.util.find_spec("numba") else "numba is not installed",
        "native": "ok" if _NATIVE is not None else f"unavailable: {_NATIVE_ERROR}",
        "auto": select("auto").name,
    }
