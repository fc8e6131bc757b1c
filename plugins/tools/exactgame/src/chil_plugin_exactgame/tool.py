"""``ExactGame``: the ``game`` backend ``exact``.  Every extreme Nash equilibrium of a bimatrix game by
vertex enumeration of the two best-response polytopes, in exact rationals (degenerate games included).

With payoffs shifted to positive integers (equilibria do not change under a positive affine map of one
player's payoffs), the best-response polytopes are ``P = {x >= 0 : B'x <= 1}`` and ``Q = {y >= 0 : A y <= 1}``.
A vertex is labelled by its tight constraints (row ``i`` where ``x_i = 0`` or ``(A y)_i = 1``, column ``j``
where ``(B'x)_j = 1`` or ``y_j = 0``).  The extreme equilibria are the completely labelled vertex pairs
other than ``(0, 0)``, normalised to probabilities (Avis, Rosenberg, Savani and von Stengel 2010).  Each
vertex is found from every basis of tight constraints that determines it, so a degenerate vertex (more
tight constraints than dimensions) is found too, and its labels are all its tight constraints.

Cost grows as C(m+n, m) bases; ``max_bases`` refuses larger games with a clear error and
``time_limit_s`` bounds the time of one call (checked between bases; no signals).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from itertools import combinations
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities import game as G


class ExactGameOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_strategies: int = Field(default=12, ge=1, le=1000, description="Most strategies per player enumerated.")
    max_bases: int = Field(default=200_000, ge=1, le=100_000_000, description="Refuse games with more candidate bases, C(m+n, m).")
    time_limit_s: float = Field(default=10.0, gt=0, le=3600, description="Time limit of one call.")


class EnumerationTimeout(Exception):
    pass


def _integer_matrix(a: list[list[Fraction]]) -> list[list[int]]:
    """Positive integer matrix with the same best responses (shift by min - 1, scale by the lcm)."""
    low = min(min(r) for r in a)
    shifted = [[x - low + 1 for x in r] for r in a]
    lcm = 1
    for r in shifted:
        for x in r:
            lcm = lcm * x.denominator // math.gcd(lcm, x.denominator)
    return [[int(x * lcm) for x in r] for r in shifted]


def _solve(m: list[list[int]]) -> tuple[list[int], int] | None:
    """Solve ``m x = 1`` (square, integer) exactly: ``(numerators, denominator)`` with ``x_i = num_i / den``
    and ``den > 0``, or None when singular.  Fraction-free Gauss-Jordan (Bareiss): every division is
    exact, and at the end the left block is ``det * I``, so the whole solution shares one denominator
    and no rational is ever built."""
    k = len(m)
    rows = [[*r, 1] for r in m]
    prev = 1
    for c in range(k):
        piv = next((r for r in range(c, k) if rows[r][c] != 0), None)
        if piv is None:
            return None
        if piv != c:
            rows[c], rows[piv] = rows[piv], rows[c]
        pr = rows[c]
        p = pr[c]
        for r in range(k):
            if r == c:
                continue
            row = rows[r]
            f = row[c]
            if f == 0:
                rows[r] = [(x * p) // prev for x in row]
            else:
                rows[r] = [(row[j] * p - f * pr[j]) // prev for j in range(k + 1)]
        prev = p
    if prev < 0:
        return [-r[k] for r in rows], -prev
    return [r[k] for r in rows], prev


def vertices(mat: list[list[int]], deadline: float) -> list[tuple[tuple[Fraction, ...], int]]:
    """Vertices (other than 0) of ``{z >= 0 : mat z <= 1}`` with their label masks.

    ``mat`` is ``r x d`` (r inequality rows over d coordinates).  Label ``c`` (``c < d``) means ``z_c = 0``,
    label ``d + i`` means row ``i`` is tight.  Everything is integer arithmetic on the common
    denominator of a basic solution; the vertex is reduced to lowest terms to be compared."""
    r_count, d = len(mat), len(mat[0])
    found: dict[tuple[int, ...], int] = {}
    cols = [[row[c] for row in mat] for c in range(d)]
    for k in range(1, d + 1):
        for free in combinations(range(d), k):
            sub = [cols[c] for c in free]
            for tight in combinations(range(r_count), k):
                if time.monotonic() > deadline:
                    raise EnumerationTimeout("time limit reached during vertex enumeration")
                res = _solve([[col[i] for col in sub] for i in tight])
                if res is None:
                    continue
                nums, den = res
                if any(v < 0 for v in nums):
                    continue
                g = den
                for v in nums:
                    g = math.gcd(g, v)
                z = [0] * d
                for c, v in zip(free, nums, strict=True):
                    z[c] = v // g
                den //= g
                key = (*z, den)
                if key in found:
                    continue
                ok, labels = True, 0
                for i, row in enumerate(mat):
                    s = 0
                    for c in free:
                        s += row[c] * z[c]
                    if s > den:
                        ok = False
                        break
                    if s == den:
                        labels |= 1 << (d + i)
                if not ok:
                    continue
                for c in range(d):
                    if z[c] == 0:
                        labels |= 1 << c
                found[key] = labels
    return [(tuple(Fraction(v, key[-1]) for v in key[:-1]), lab) for key, lab in found.items()]


def extreme_equilibria(game: G.Game, deadline: float) -> tuple[list[G.Profile], bool]:
    """(extreme equilibria, degenerate) of a two-player game."""
    a, b = game.matrices()
    m, n = len(a), len(a[0])
    ai, bi = _integer_matrix(a), _integer_matrix(b)
    bt = [[bi[i][j] for i in range(m)] for j in range(n)]  # n x m: constraints on x
    px = vertices(bt, deadline)  # labels: c < m -> x_c = 0 (label row c); m + j -> column j tight
    qy = vertices(ai, deadline)  # labels: c < n -> y_c = 0 (label column c); n + i -> row i tight
    # map both to a common label space: rows 0..m-1, columns m..m+n-1
    def remap_q(mask: int) -> int:
        cols = mask & ((1 << n) - 1)
        rows = mask >> n
        return rows | (cols << m)

    full = (1 << (m + n)) - 1
    degenerate = any(bin(lab).count("1") > m for _, lab in px) or any(bin(lab).count("1") > n for _, lab in qy)
    qs = [(y, remap_q(lab)) for y, lab in qy]
    out = []
    for x, lx in px:
        for y, ly in qs:
            if lx | ly == full:
                sx, sy = sum(x), sum(y)
                out.append((tuple(v / sx for v in x), tuple(v / sy for v in y)))
    return out, degenerate


class ExactGame(Tool):
    """``game:exact``: extreme Nash equilibria of bimatrix games, exactly."""

    name: ClassVar[str] = "exact"
    capability: ClassVar[str] = "game"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Own rational vertex enumeration of both best-response polytopes (degenerate games included)."
    ops: ClassVar[frozenset[str]] = frozenset({"equilibria"})
    Options: ClassVar[type[BaseModel]] = ExactGameOptions
    isolation: ClassVar[str] = "thread"  # type: ignore[assignment]
    priority: ClassVar[int] = 10
    #: small batches: one batch must finish within the scheduler's per-call timeout
    max_batch: ClassVar[int] = 16
    options: ExactGameOptions

    def run_one(self, call: ToolCall) -> Any:
        if call.op != "equilibria":
            return ToolResult.failure(f"unknown op {call.op!r}")
        opts = self.options
        try:
            game, cap = G.load_equilibria(call.payload, max_strategies=opts.max_strategies)
        except G.GameError as exc:
            return ToolResult.failure(str(exc))
        m, n = game.shape
        bases = math.comb(m + n, m)
        if bases > opts.max_bases:
            return ToolResult.failure(f"game {m}x{n} has {bases} candidate bases; max_bases is {opts.max_bases}")
        try:
            profiles, degenerate = extreme_equilibria(game, time.monotonic() + opts.time_limit_s)
        except EnumerationTimeout as exc:
            return ToolResult(status="timeout", error=f"{exc} ({opts.time_limit_s} s)")
        return G.answer(game, profiles, degenerate, cap)
