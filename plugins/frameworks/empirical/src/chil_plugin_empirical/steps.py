"""Find every arithmetic statement in a completion and check the numeric ones exactly.

Two sources of statements:

* calculator annotations ``<<48/2=24>>`` (GSM8K style), kind ``"calculator"``;
* statements written inline, ``48/2 = 24``, ``0.2 x 50 = $10``, ``20% of 50 = 10``, chains
  ``a = b = c``, inequalities ``24 > 20``; kind ``"inline"`` (annotations are removed first).

A chain ``s0 = s1 = s2`` yields one step per adjacent pair.  A pair is checked when at least one side has
an operator (``1 hour = 60 minutes`` and other restatements are not arithmetic) or when the relation is an
inequality.  Pairs with a variable (``2x + 3 = 7``) are *symbolic*: they are returned with verdict
``"pending"`` for the framework to decide with the ``smt`` capability.

Verdicts: ``correct``; ``rounded`` (accepted, see :func:`compare`); ``running`` (accepted: ``48/2 = 24 + 10
= 34``, a running total written as a chain); ``wrong``; ``unverifiable`` (beyond :class:`~expr.Limits`);
``pending`` (symbolic).

Rounding policy (documented in the README): when one side is a plain written number with ``d >= 2``
decimals, it is accepted if it equals the exact value of the other side rounded half-up, rounded
half-even or truncated to ``d`` decimals: ``10/3 = 3.33``, ``2/3 = 0.67``, ``1/6 = 16.66%`` pass;
``10/3 = 3.34``, ``10/3 = 3``, ``6/67 = .1`` (a changed operand hiding behind a coarse rounding) do not.
Calculator annotations are checked even when neither side has an operator (``<<15=21>>`` is wrong).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from chil_plugin_empirical.expr import (
    DEFAULT_LIMITS,
    Limits,
    Token,
    Undefined,
    Unverifiable,
    evaluate,
    has_percent,
    is_var,
    parse_prefix,
    render,
    tokenize,
)

ACCEPTED = frozenset({"correct", "rounded", "running"})
#: fewest written decimals for which a rounded result is accepted (3.33 for 10/3, never 3 or 3.3).
ROUNDING_MIN_DECIMALS = 2
_ANNOTATION_RE = re.compile(r"<<([^<>\n]{0,400})>>")
_REL_CHARS_RE = re.compile(r"[=<>≤≥≠≈]|\bequals\b|\bmakes\b")
_LINE_SPLIT_RE = re.compile(r"\n+")
_BOLD_RE = re.compile(r"(?<![\w)*])\*\*([^*\n]{1,200}?)\*\*(?![\w(*])")
_LATEX_SUBS = (
    (re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}"), r" \1"),
    (re.compile(r"\\(?:times|cdot)"), "×"),
    (re.compile(r"\\div"), "÷"),
    (re.compile(r"\\(?:left|right|[,;!: ])"), ""),
    (re.compile(r"\\(?:leq|le)\b"), "≤"),
    (re.compile(r"\\(?:geq|ge)\b"), "≥"),
    (re.compile(r"\\(?:neq|ne)\b"), "≠"),
    (re.compile(r"\\approx"), "≈"),
    (re.compile(r"\\[$%]"), lambda m: m.group()[1]),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\[()\[\]]"), " "),
)
_OPERAND_END = frozenset({"num", "rp", "pct", "word", "fact"})
_BINARY = frozenset({"+", "-", "*", "/", "//", "^"})
#: longest left side searched (bounds the work on a hostile line to O(tokens x this)).
_MAX_LHS_TOKENS = 128
_MATH = frozenset({"num", "op", "lp", "rp", "pct", "cur"})


@dataclass(slots=True)
class Step:
    """One checked (or pending) arithmetic statement."""

    kind: str
    text: str
    relation: str
    lhs: tuple | None
    rhs: tuple | None
    verdict: str
    detail: str = ""
    #: has variables: decided through the ``smt`` capability, not here.
    symbolic: bool = False
    #: :meth:`key` computed ahead (by the C++ kernel); not part of the step's value
    key_: tuple | None = field(default=None, repr=False, compare=False)

    def key(self) -> tuple:
        """Identity for deduplication: the statement's canonical form (an annotation ``<<0.2*50=10>>``
        and the prose ``0.2 x 50 = $10`` around it are one statement, checked once)."""
        if self.key_ is not None:
            return self.key_
        if self.lhs is None or self.rhs is None:
            return (self.text,)
        return (render(self.lhs), self.relation, render(self.rhs))


def normalize_text(text: str) -> str:
    """Rewrite markdown bold (``= **24**``) and the LaTeX people use for arithmetic (``\\frac``,
    ``\\times``, ``\\text``...) into plain text; ``9**9`` stays a power."""
    if "**" in text:
        text = _BOLD_RE.sub(r"\1", text)
    if "\\" not in text:
        return text
    for _ in range(3):  # nested \frac, bounded
        text, n = _LATEX_SUBS[0][0].subn(_LATEX_SUBS[0][1], text)
        if not n:
            break
    for pattern, repl in _LATEX_SUBS[1:]:
        text = pattern.sub(repl, text)
    return text


def extract_steps(text: str, limits: Limits = DEFAULT_LIMITS, rounding: bool = True) -> list[Step]:
    """All arithmetic statements of ``text``, numeric ones already checked, duplicates removed.

    ``rounding=False`` accepts only exact results (no rounding policy)."""
    text = normalize_text(text)
    steps: list[Step] = []
    native = _native
    if native is not None:
        lim = _native_limits(limits)
        items = None if lim is None else native.extract(text, *lim, rounding)
        if items is not None:
            handed_back = False
            for item in items:
                if len(item) == 2:  # a line the kernel hands back (non-ASCII, beyond 64-bit rationals)
                    if item[1] == "calculator" or _REL_CHARS_RE.search(item[0]):  # (non-ASCII lines come unchecked)
                        _line_steps_py(item[0], item[1], limits, rounding, steps)
                    handed_back = True
                    continue
                kind, line_text, rel, lhs, rhs, verdict, detail, symbolic, key = item
                if detail.__class__ is tuple:  # a false statement: its two exact values
                    detail = f"{_fmt(detail[0])} {rel} {_fmt(detail[1])} is false"
                steps.append(Step(kind, line_text, rel, lhs, rhs, verdict, detail, symbolic, key))
            # the kernel leaves out a step whose key an earlier one of its steps has: its own are unique
            return _unique(steps) if handed_back else steps
    if "<<" in text:
        for m in _ANNOTATION_RE.finditer(text):
            _line_steps(m.group(1), "calculator", limits, rounding, steps)
        text = _ANNOTATION_RE.sub("", text)
    if _REL_CHARS_RE.search(text):
        for line in _LINE_SPLIT_RE.split(text):
            if _REL_CHARS_RE.search(line):
                _line_steps(line, "inline", limits, rounding, steps)
    return _unique(steps)


def _unique(steps: list[Step]) -> list[Step]:
    seen: set[tuple] = set()
    unique = []
    for step in steps:
        k = step.key()
        if k not in seen:
            seen.add(k)
            unique.append(step)
    return unique


#: ``chil_native._arith`` when the C++ kernels are in use (set by :mod:`chil_plugin_empirical.native`).
_native: Any = None


_LIMITS_SEEN: dict[int, tuple[Limits, tuple[int, ...] | None]] = {}


def _native_limits(limits: Limits) -> tuple[int, ...] | None:
    """The limits as the kernel takes them (None: beyond what it takes, the reference decides)."""
    seen = _LIMITS_SEEN.get(id(limits))
    if seen is not None and seen[0] is limits:
        return seen[1]
    values = (limits.max_digits, limits.max_bits, limits.max_exponent, limits.max_ops, limits.max_depth)
    ok = all(isinstance(v, int) and 0 <= v < 2**62 for v in values)
    if len(_LIMITS_SEEN) > 256:
        _LIMITS_SEEN.clear()
    _LIMITS_SEEN[id(limits)] = (limits, values if ok else None)
    return values if ok else None


def _line_steps(line: str, kind: str, limits: Limits, rounding: bool, out: list[Step]) -> None:
    """The steps of one line: the C++ kernel when it is in use and takes the line (ASCII, values that
    fit 64-bit rationals), else :func:`_line_steps_py`, the reference."""
    native = _native
    if native is not None:
        lim = _native_limits(limits)
        found = None if lim is None else native.line_steps(line, kind == "inline", *lim, rounding)
        if found is not None:
            for start, end, whole, rel, lhs, rhs, verdict, detail, symbolic, key in found:
                text = line[start:end].strip()[:200] if whole else line[start:end][:200]
                if detail.__class__ is tuple:  # a false statement: its two exact values
                    detail = f"{_fmt(detail[0])} {rel} {_fmt(detail[1])} is false"
                out.append(Step(kind, text, rel, lhs, rhs, verdict, detail, symbolic, key))
            return
    _line_steps_py(line, kind, limits, rounding, out)


def _line_steps_py(line: str, kind: str, limits: Limits, rounding: bool, out: list[Step]) -> None:
    toks = tokenize(line)
    n = len(toks)
    lo = 0
    for k in range(n):
        if k < lo or toks[k][0] != "rel":
            continue
        try:
            found = _chain_at(toks, lo, k, limits)
        except Unverifiable as exc:
            out.append(Step(kind, line[toks[lo][2] : toks[-1][3]].strip()[:200], toks[k][1], None, None, "unverifiable", str(exc)))
            return
        if found is None:
            continue
        segs, rels, lo = found
        _check_chain(line, toks, kind, segs, rels, limits, rounding, out)


def _chain_at(toks: list[Token], lo: int, k: int, limits: Limits) -> tuple[list[tuple], list[str], int] | None:
    """The chain whose first relation is ``toks[k]``.

    Segments are ``(ast, start, end, has_op, has_var, has_units)`` (token indices).  The left side is
    the longest expression of at most :data:`_MAX_LHS_TOKENS` tokens that ends exactly at ``toks[k]``; a
    chain whose left side follows a dangling operator (``... + 8 for her children = 13``) has an unknown
    extent and is skipped; one longer than the window is unverifiable."""
    start_min = window = max(lo, k - _MAX_LHS_TOKENS)
    for i in range(k - 1, window - 1, -1):
        if toks[i][0] in ("brk", "rel"):
            start_min = i + 1
            break
    lhs = None
    for s in range(start_min, k):
        t = toks[s]
        if t[0] == "op":
            if t[1] not in "+-" or (s > 0 and toks[s - 1][0] in _OPERAND_END):
                continue
        elif not (t[0] in ("num", "cur", "lp") or is_var(t)):
            continue
        parsed = parse_prefix(toks, s, limits)
        if parsed is not None and parsed[1] == k:
            if s == 0 or toks[s - 1][0] != "op":
                lhs = (parsed[0], s, k, parsed[2], parsed[3], parsed[4])
            break
    if lhs is None:
        if window > lo and all(t[0] in _MATH for t in toks[window:k]):
            raise Unverifiable(f"left side longer than {_MAX_LHS_TOKENS} tokens")
        return None
    segs, rels = [lhs], []
    j, n = k, len(toks)
    while j < n and toks[j][0] == "rel":
        parsed = parse_prefix(toks, j + 1, limits)
        if parsed is None or parsed[1] == j + 1:
            break
        rels.append(toks[j][1])
        segs.append((parsed[0], j + 1, parsed[1], parsed[2], parsed[3], parsed[4]))
        j = parsed[1]
    if len(segs) < 2:
        return None
    return segs, rels, j


def _continues_from(value: Fraction, node: tuple, limits: Limits) -> bool:
    """True when a left part of ``node`` has ``value``: ``24 + 10`` or ``1/3 of $150`` after a ``= 24`` or
    ``= 1/3`` (a running computation written as a chain, or a result restated with more words)."""
    while len(node) == 3 and node[0] in _BINARY:
        node = node[1]
        try:
            if evaluate(node, limits) == value:
                return True
        except (Unverifiable, Undefined):
            return False
    return False


def _check_chain(
    line: str, toks: list[Token], kind: str, segs: list[tuple], rels: list[str], limits: Limits, rounding: bool, out: list[Step]
) -> None:
    values: list[Fraction | None] = [None] * len(segs)
    for i, rel in enumerate(rels):
        a, b = segs[i], segs[i + 1]
        if rel == "=" and kind == "inline" and not (a[3] or b[3] or a[4] or b[4]):
            continue  # a restatement (2 hours = 120 minutes), not arithmetic; <<15=15>> is checked
        text = line[toks[a[1]][2] : toks[b[2] - 1][3]][:200]
        if a[4] or b[4]:
            out.append(Step(kind, text, rel, a[0], b[0], "pending", symbolic=True))
            continue
        try:
            if values[i] is None:
                values[i] = evaluate(a[0], limits)
            if values[i + 1] is None:
                values[i + 1] = evaluate(b[0], limits)
            va, vb = values[i], values[i + 1]
            assert va is not None and vb is not None
            verdict = compare(va, rel, vb, a[0], b[0], rounding)
            if verdict == "wrong" and (has_percent(a[0]) or has_percent(b[0])):
                # "0.75 * 100 = 75%": the percent sign labels the result's unit
                wa, wb = evaluate(a[0], limits, True), evaluate(b[0], limits, True)
                verdict = compare(wa, rel, wb, a[0], b[0], rounding, percent_as_written=True)
        except Unverifiable as exc:
            out.append(Step(kind, text, rel, a[0], b[0], "unverifiable", str(exc)))
            continue
        except Undefined as exc:
            out.append(Step(kind, text, rel, a[0], b[0], "wrong", str(exc)))
            continue
        if verdict == "wrong" and rel == "=":
            if b[3] and _continues_from(va, b[0], limits):
                verdict = "running"  # 48/2 = 24 + 10 = 34: a running total written as a chain
            elif a[0][0] == "n" and b[3]:
                continue  # 2 kg = 2 * 1000 g, Remaining 10 = 62,300/10: a conversion or a label
        detail = f"{_fmt(va)} {rel} {_fmt(vb)} is false" if verdict == "wrong" else ""
        out.append(Step(kind, text, rel, a[0], b[0], verdict, detail))


def compare(
    va: Fraction, rel: str, vb: Fraction, a: tuple, b: tuple, rounding: bool = True, percent_as_written: bool = False
) -> str:
    """Verdict of ``va rel vb`` where ``a`` / ``b`` are the written ASTs (for the rounding policy)."""
    if rel in ("=", "≈"):
        if va == vb:
            return "correct"
        if (rounding or rel == "≈") and (
            (b[0] == "n" and rounds_to(va, b, percent_as_written)) or (a[0] == "n" and rounds_to(vb, a, percent_as_written))
        ):
            return "rounded" if rel == "=" else "correct"
        if rel == "≈" and abs(va - vb) <= max(abs(va), abs(vb)) / 100:
            return "correct"  # "≈" admits 1 % relative error
        return "wrong"
    ok = {"<": va < vb, ">": va > vb, "≤": va <= vb, "≥": va >= vb, "≠": va != vb}[rel]
    return "correct" if ok else "wrong"


def rounds_to(exact: Fraction, literal: tuple, percent_as_written: bool = False) -> bool:
    """True when the written ``literal`` has at least :data:`ROUNDING_MIN_DECIMALS` decimals and is
    ``exact`` rounded half-up, rounded half-even or truncated to them."""
    _, written, _, decimals, scale = literal
    if decimals < ROUNDING_MIN_DECIMALS:
        return False  # 10/3 = 3 or 6/67 = .1 hide too much; an exact fraction (1 1/2) is never a rounding
    if percent_as_written:
        scale = Fraction(1)
    x = exact / scale
    w = written / scale
    q = 10**decimals
    scaled = x * q
    sign = -1 if scaled < 0 else 1
    mag = abs(scaled)
    candidates = {math.floor(mag + Fraction(1, 2)), round(mag), math.floor(mag)}
    return any(Fraction(sign * c, q) == w for c in candidates)


def _fmt(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    d = v.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1 and v.denominator <= 10**12:
        s = f"{float(v):.12f}".rstrip("0")
        if Fraction(s) == v:
            return s
    return f"{v.numerator}/{v.denominator}"


from chil_plugin_empirical import native as _native_module  # noqa: E402 - sets _native above

_native_module.activate()
