"""Symbolic arithmetic and inequalities decided with Z3 (the ``smt`` op ``"arith"``).

The empirical framework checks plain-number arithmetic itself, exactly; it sends here only statements
with variables (``2x + 3 = 13`` ... ``x = 5``) or symbolic inequalities.  Text is never parsed here, let
alone evaluated: the payload carries terms already parsed into JSON, built into Z3 terms node by node.

Payload::

    {
      "premises": [REL, ...],          # assumed true (earlier statements of the same solution)
      "claim": REL,                    # the statement to decide
      "timeout_ms": 1000               # optional, 1..10000 (default 1000)
    }
    REL  = [OP, TERM, TERM]            # OP: "=", "<", ">", "≤" or "<=", "≥" or ">=", "≠" or "!="
    TERM = ["num", "3/4" | "-12" | "0.25"]
         | ["var", "x"]                # [A-Za-z][A-Za-z0-9_]{0,31}; every variable is a real
         | ["neg", TERM]
         | ["+" | "-" | "*" | "/" | "//" | "^", TERM, TERM]   # "^": integer constant exponent, |n| <= 16

Answer::

    {"verdict": "entailed" | "contradicted" | "undetermined" | "unknown", "reason": "..."}

* ``entailed``: the premises imply the claim (an identity such as ``200g + 100g = 300g`` is entailed by
  no premise at all);
* ``contradicted``: the premises are consistent and the claim contradicts them;
* ``undetermined``: neither (the claim introduces something new, e.g. a definition);
* ``unknown``: Z3 could not decide (non-linear incompleteness, resource limit).

Every divisor is assumed non-zero (``400g / 200g = 2`` is entailed).  A malformed payload raises
``ValueError`` naming the field; a timeout raises :class:`~chil_plugin_z3.base.SolverGaveUp` (status
``timeout``), which the tool turns into a result status.  Bounded: at most 64 premises, 2,000 term
nodes nested at most 100 deep, 60-digit numbers, a deterministic Z3 resource limit plus the wall-clock timeout.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction
from typing import Any

from chil_plugin_z3.base import SolverGaveUp

MAX_PREMISES = 64
MAX_NODES = 2_000
MAX_DEPTH = 100
MAX_POWER = 16
DEFAULT_TIMEOUT_MS = 1_000
MAX_TIMEOUT_MS = 10_000
RLIMIT = 5_000_000

_NUM_RE = re.compile(r"-?(?:\d{1,60}(?:/\d{1,60})?|\d{0,60}\.\d{1,60})\Z")
_VAR_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}\Z")
_RELS = {"=": "=", "<": "<", ">": ">", "≤": "<=", "<=": "<=", "≥": ">=", ">=": ">=", "≠": "!=", "!=": "!="}
_BINARY = frozenset({"+", "-", "*", "/", "//", "^"})
_local = threading.local()


def reset_context() -> None:
    """Drop this thread's context (the tool replaces its contexts every ``context_calls`` calls)."""
    _local.ctx = None


def _context() -> Any:
    """One Z3 context per thread (Z3 objects must never cross threads)."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        import z3

        ctx = _local.ctx = z3.Context()
    return ctx


class _Builder:
    """Builds Z3 terms from JSON terms, counting nodes and collecting divisors."""

    def __init__(self, z3: Any, ctx: Any) -> None:
        self.z3, self.ctx = z3, ctx
        self.vars: dict[str, Any] = {}
        self.divisors: list[Any] = []
        self.nodes = 0

    def term(self, t: Any, where: str, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise ValueError(f"{where}: more than {MAX_NODES} term nodes or deeper than {MAX_DEPTH}")
        if not isinstance(t, list) or not t or not isinstance(t[0], str):
            raise ValueError(f"{where}: a term must be a list [tag, ...], got {t!r:.80}")
        tag, z3 = t[0], self.z3
        if tag == "num" and len(t) == 2 and isinstance(t[1], str) and _NUM_RE.match(t[1]):
            value = Fraction(t[1])
            return z3.RealVal(f"{value.numerator}/{value.denominator}", self.ctx)
        if tag == "var" and len(t) == 2 and isinstance(t[1], str) and _VAR_RE.match(t[1]):
            if t[1] not in self.vars:
                self.vars[t[1]] = z3.Real(t[1], self.ctx)
            return self.vars[t[1]]
        if tag == "neg" and len(t) == 2:
            return -self.term(t[1], f"{where}[1]", depth + 1)
        if tag in _BINARY and len(t) == 3:
            a = self.term(t[1], f"{where}[1]", depth + 1)
            if tag == "^":
                return self.power(a, t[2], where)
            b = self.term(t[2], f"{where}[2]", depth + 1)
            if tag == "+":
                return a + b
            if tag == "-":
                return a - b
            if tag == "*":
                return a * b
            self.divisors.append(b)
            return a / b if tag == "/" else z3.ToReal(z3.ToInt(a / b))
        raise ValueError(f"{where}: malformed term {t!r:.80}")

    def power(self, base: Any, exp: Any, where: str) -> Any:
        if not (isinstance(exp, list) and len(exp) == 2 and exp[0] == "num" and isinstance(exp[1], str)
                and re.fullmatch(r"-?\d{1,2}", exp[1])):
            raise ValueError(f"{where}[2]: '^' needs an integer constant exponent")
        n = int(exp[1])
        if abs(n) > MAX_POWER:
            raise ValueError(f"{where}[2]: exponent {n} exceeds {MAX_POWER}")
        out = self.z3.RealVal(1, self.ctx)
        for _ in range(abs(n)):
            out = out * base
        if n < 0:
            self.divisors.append(base)
            return 1 / out
        return out

    def relation(self, r: Any, where: str) -> Any:
        if not isinstance(r, list) or len(r) != 3 or r[0] not in _RELS:
            raise ValueError(f"{where}: a relation must be [op, term, term] with op in {sorted(set(_RELS))}")
        a, b = self.term(r[1], f"{where}[1]"), self.term(r[2], f"{where}[2]")
        op = _RELS[r[0]]
        if op == "=":
            return a == b
        if op == "!=":
            return a != b
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def check_arith(payload: dict[str, Any]) -> dict[str, str]:
    """Decide ``payload["claim"]`` against ``payload["premises"]``; see the module docstring."""
    import z3

    if not isinstance(payload, dict):
        raise ValueError("payload: must be an object")
    premises = payload.get("premises", [])
    if not isinstance(premises, list) or len(premises) > MAX_PREMISES:
        raise ValueError(f"premises: must be a list of at most {MAX_PREMISES} relations")
    if "claim" not in payload:
        raise ValueError("claim: missing")
    timeout = payload.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_MS:
        raise ValueError(f"timeout_ms: must be an integer in 1..{MAX_TIMEOUT_MS}")

    ctx = _context()
    b = _Builder(z3, ctx)
    facts = [b.relation(p, f"premises[{i}]") for i, p in enumerate(premises)]
    claim = b.relation(payload["claim"], "claim")
    solver = z3.SimpleSolver(ctx=ctx)
    solver.set("timeout", timeout)
    solver.set("rlimit", RLIMIT)
    solver.add(*facts, *(d != 0 for d in b.divisors))

    def check(*assumptions: Any) -> bool | None:
        r = solver.check(*assumptions)
        if r == z3.unknown:
            reason = solver.reason_unknown()
            if "timeout" in reason or "canceled" in reason:
                raise SolverGaveUp("timeout", f"z3 gave up after {timeout} ms ({reason})")
            return None
        return r == z3.sat

    counter = check(z3.Not(claim))
    if counter is False:
        if check() is False:
            return {"verdict": "undetermined", "reason": "the premises contradict each other"}
        return {"verdict": "entailed", "reason": "no assignment satisfies the premises and breaks the claim"}
    together = check(claim)
    if together is False and (counter is True or check() is True):  # the premises are consistent
        return {"verdict": "contradicted", "reason": "no assignment satisfies both the premises and the claim"}
    if counter is None or together is None:
        return {"verdict": "unknown", "reason": "z3 could not decide (non-linear or resource limit)"}
    return {"verdict": "undetermined", "reason": "the premises neither imply nor exclude the claim"}
