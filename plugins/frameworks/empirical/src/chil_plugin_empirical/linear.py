"""Statements with variables that exact linear algebra decides, without a call to the ``smt`` backend.

Most statements with variables in worked solutions are linear equations (``S + 2S + 4S = 7S``,
``7S = 847``, ``S = 847 / 7``).  For those the ``smt`` op ``arith`` (Z3, :mod:`chil_plugin_z3.arith`)
is a decision procedure whose answer is fixed by linear algebra over the rationals, so the framework
decides them here, exactly, and sends the rest to the backend.  This module reproduces what
``check_arith`` answers for one payload ``{"premises": [...], "claim": REL}``:

* every divisor is assumed non-zero; a divisor that is the constant 0 makes the assumptions
  contradictory: ``undetermined`` ("the premises contradict each other");
* premises (linear equations) that contradict each other: ``undetermined``, same reason;
* the claim follows from the premises: ``entailed``; it contradicts them: ``contradicted``;
  neither: ``undetermined`` ("the premises neither imply nor exclude the claim").

:func:`decide` returns ``None`` (the backend decides) for everything else: a relation other than
``=``, a product or a quotient of two terms with variables, a power or integer division of a term
with variables, and any payload the backend would refuse (malformed terms, numbers or names it does
not accept, more nodes or depth than it takes).  Those stay the backend's, errors included.  The
differential test (``tests/test_linear.py``) compares :func:`decide` with ``check_arith`` on every
statement with variables of the GSM8K train solutions and on generated systems.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

#: the backend's bounds (chil_plugin_z3.arith): a payload beyond them is left to the backend
MAX_PREMISES = 64
MAX_NODES = 2_000
MAX_DEPTH = 100
MAX_POWER = 16
#: most distinct variables in one decision (a bound of this module's work; more: the backend decides)
MAX_VARS = 32

ENTAILED = {"verdict": "entailed", "reason": "no assignment satisfies the premises and breaks the claim"}
CONTRADICTED = {"verdict": "contradicted", "reason": "no assignment satisfies both the premises and the claim"}
NEITHER = {"verdict": "undetermined", "reason": "the premises neither imply nor exclude the claim"}
INCONSISTENT = {"verdict": "undetermined", "reason": "the premises contradict each other"}

_NUM_RE = re.compile(r"-?(?:\d{1,60}(?:/\d{1,60})?|\d{0,60}\.\d{1,60})\Z")
_VAR_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")
_EXP_RE = re.compile(r"-?\d{1,2}")
_ZERO = Fraction(0)
_ONE = Fraction(1)


class _Outside(Exception):
    """Not a linear term this module decides (the backend does)."""


class Form:
    """``sum(coef[v] * v) + const`` with exact rational coefficients; ``zero_div``: a constant divisor is 0."""

    __slots__ = ("coef", "const", "nodes", "zero_div")

    def __init__(self, coef: dict[str, Fraction], const: Fraction, zero_div: bool = False) -> None:
        self.coef, self.const, self.zero_div = coef, const, zero_div
        self.nodes = 0  # term nodes of the relation it was read from (set by forms)


class _Reader:
    """JSON terms (the ``smt`` payload) to linear forms, counting nodes as the backend does."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = 0

    def term(self, t: Any, depth: int) -> Form:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _Outside
        if type(t) is not list or not t or type(t[0]) is not str:
            raise _Outside
        tag = t[0]
        if tag == "num" and len(t) == 2 and type(t[1]) is str and _NUM_RE.match(t[1]):
            return Form({}, Fraction(t[1]))
        if tag == "var" and len(t) == 2 and type(t[1]) is str and _VAR_RE.match(t[1]):
            return Form({t[1]: _ONE}, _ZERO)
        if tag == "neg" and len(t) == 2:
            a = self.term(t[1], depth + 1)
            return Form({v: -c for v, c in a.coef.items()}, -a.const, a.zero_div)
        if len(t) != 3 or tag not in ("+", "-", "*", "/", "//", "^"):
            raise _Outside
        a = self.term(t[1], depth + 1)
        if tag == "^":
            return self._power(a, t[2])
        b = self.term(t[2], depth + 1)
        zero = a.zero_div or b.zero_div
        if tag == "+" or tag == "-":
            coef = dict(a.coef)
            for v, c in b.coef.items():
                coef[v] = coef.get(v, _ZERO) + c if tag == "+" else coef.get(v, _ZERO) - c
            return Form({v: c for v, c in coef.items() if c}, a.const + b.const if tag == "+" else a.const - b.const, zero)
        if tag == "*":
            if a.coef and b.coef:
                raise _Outside  # a product of two terms with variables: not linear
            k, f = (a.const, b) if not a.coef else (b.const, a)
            return Form({v: c * k for v, c in f.coef.items() if k}, f.const * k, zero)
        if b.coef:
            raise _Outside  # a variable divisor: not linear
        if not b.const:
            return Form({}, _ZERO, True)  # the backend assumes the divisor non-zero: nothing satisfies that
        if tag == "/":
            return Form({v: c / b.const for v, c in a.coef.items()}, a.const / b.const, zero)
        if a.coef:
            raise _Outside  # the integer part of a term with variables
        return Form({}, Fraction(math.floor(a.const / b.const)), zero)

    def _power(self, base: Form, exp: Any) -> Form:
        if not (type(exp) is list and len(exp) == 2 and exp[0] == "num" and type(exp[1]) is str and _EXP_RE.fullmatch(exp[1])):
            raise _Outside  # the backend refuses it; its error is the answer
        n = int(exp[1])
        if abs(n) > MAX_POWER or base.coef:
            raise _Outside
        if n < 0:
            if not base.const:
                return Form({}, _ZERO, True)
            return Form({}, base.const**n, base.zero_div)
        return Form({}, base.const**n, base.zero_div)

    def relation(self, r: Any) -> Form:
        """``lhs - rhs`` of an equation (anything else is the backend's)."""
        if type(r) is not list or len(r) != 3 or r[0] != "=":
            raise _Outside
        a, b = self.term(r[1], 0), self.term(r[2], 0)
        coef = dict(a.coef)
        for v, c in b.coef.items():
            coef[v] = coef.get(v, _ZERO) - c
        return Form({v: c for v, c in coef.items() if c}, a.const - b.const, a.zero_div or b.zero_div)


def forms(rels: list[Any]) -> list[Form | None]:
    """Each relation read on its own (None: not a linear equation).  The node bound is checked per
    payload by :func:`decide`, which counts each form's nodes again."""
    out: list[Form | None] = []
    for r in rels:
        reader = _Reader()
        try:
            f = reader.relation(r)
        except (_Outside, ValueError, ZeroDivisionError, OverflowError):
            out.append(None)
            continue
        f.nodes = reader.nodes
        out.append(f)
    return out


def decide(premises: list[Form | None], claim: Form | None) -> dict[str, str] | None:
    """What the ``smt`` op ``arith`` answers for these premises and claim, or None (ask the backend)."""
    system = System()
    for p in premises:
        system.add(p)
    return system.decide(claim)


class System:
    """Premises added one at a time, kept as fully reduced rows (Gauss-Jordan); :meth:`decide` judges a
    claim against the premises added so far.  The framework adds a completion's statements in order,
    so each step costs one row reduction, not a new elimination over all earlier statements.

    Bounded for hostile input: past ``MAX_PREMISES`` premises, ``MAX_NODES`` term nodes (the backend's
    bounds) or ``MAX_VARS`` distinct variables it answers None (the backend decides, under its timeout)."""

    __slots__ = ("broken", "count", "inconsistent", "nodes", "rows", "vars", "zero_div")

    def __init__(self) -> None:
        self.rows: dict[str, tuple[dict[str, Fraction], Fraction]] = {}  # pivot -> (coefficients, constant)
        self.vars: set[str] = set()
        self.count = self.nodes = 0
        self.broken = self.inconsistent = self.zero_div = False

    def add(self, p: Form | None) -> None:
        if self.broken:
            return
        if p is None:
            self.broken = True  # not a linear equation: every claim judged against it is the backend's
            return
        self.count += 1
        self.nodes += p.nodes
        self.vars.update(p.coef)
        if self.count > MAX_PREMISES or self.nodes > MAX_NODES or len(self.vars) > MAX_VARS:
            self.broken = True
            return
        self.zero_div = self.zero_div or p.zero_div
        if self.zero_div or self.inconsistent:
            return  # every answer is already fixed
        rows = self.rows
        coef, const = _reduce(p.coef, p.const, rows)
        if not coef:
            self.inconsistent = bool(const)
            return
        pivot = next(iter(coef))
        k = coef[pivot]
        coef = {v: c / k for v, c in coef.items()}
        const /= k
        for v, (rc, rk) in list(rows.items()):  # keep every row free of the new pivot
            m = rc.get(pivot)
            if m:
                new = {u: rc.get(u, _ZERO) - m * coef.get(u, _ZERO) for u in rc.keys() | coef.keys()}
                rows[v] = ({u: c for u, c in new.items() if c}, rk - m * const)
        rows[pivot] = (coef, const)

    def decide(self, claim: Form | None) -> dict[str, str] | None:
        if self.broken or claim is None or self.nodes + claim.nodes > MAX_NODES or len(self.vars | claim.coef.keys()) > MAX_VARS:
            return None
        if claim.zero_div or self.zero_div or self.inconsistent:
            return INCONSISTENT
        coef, const = _reduce(claim.coef, claim.const, self.rows)
        if coef:
            return NEITHER
        return CONTRADICTED if const else ENTAILED


def _reduce(coef: dict[str, Fraction], const: Fraction, rows: dict[str, tuple[dict[str, Fraction], Fraction]]) -> tuple[dict[str, Fraction], Fraction]:
    """``coef·x + const`` with every pivot variable of ``rows`` eliminated."""
    out = dict(coef)
    for v in [v for v in coef if v in rows]:
        m = out.get(v)
        if not m:
            continue
        rc, rk = rows[v]
        for u, c in rc.items():
            out[u] = out.get(u, _ZERO) - m * c
        const -= m * rk
    return {u: c for u, c in out.items() if c}, const
