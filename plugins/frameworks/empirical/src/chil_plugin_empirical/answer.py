"""The final answer of a completion and its exact comparison with a reference.

Where the answer is looked for, most explicit first (the last occurrence of each wins):
``#### 72``, ``\\boxed{72}``, ``the (final) answer is 72`` / ``Answer: 72`` / ``A: 72``, and, when
``fallback`` is on, the last number of the text.  The answer text is read as an arithmetic expression
(``72``, ``72.0``, ``7.2e1``, ``144/2``, ``$72``, ``1,200``, ``-5``, ``1 1/2``) and compared exactly with
the reference as :class:`~fractions.Fraction`; a percent sign may label the unit (``50%`` matches 50 and
0.5).  Non-numeric references compare as normalized text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from chil_core.capabilities.fact_store import normalize_term
from chil_plugin_empirical import expr as _expr
from chil_plugin_empirical.expr import (
    DEFAULT_LIMITS,
    Limits,
    Undefined,
    Unverifiable,
    evaluate,
    has_percent,
    parse_prefix,
    tokenize,
)
from chil_plugin_empirical.steps import _native_limits, normalize_text

#: (source, pattern): the answer is group 1 when the pattern has one, else the rest of the line.
_MARKERS = (
    ("####", re.compile(r"####[ \t]*")),
    ("boxed", re.compile(r"\\boxed\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\}){1,200})\}")),
    ("answer_is", re.compile(r"(?i)\b(?:final answer|answer)\s*(?:is|=|:)\s*:?\s*")),
    ("a_colon", re.compile(r"(?m)^\s*A\s*:\s*")),
)
_LAST_NUMBER_RE = re.compile(r"-?[$€£]?\d[\d,]*(?:\.\d+)?%?|-?\.\d+%?")


@dataclass(slots=True)
class Answer:
    """The answer found in a completion: its text, where it was found, and its value (if numeric)."""

    text: str
    source: str
    value: Fraction | None
    as_written: Fraction | None
    problem: str = ""


def find_answer(completion: str, fallback: bool = True, limits: Limits = DEFAULT_LIMITS) -> Answer | None:
    """The completion's final answer, or None when it states none (and ``fallback`` is off or no number)."""
    for source, pattern in _MARKERS:
        last = None
        for last in pattern.finditer(completion):  # noqa: B007 - the last occurrence wins
            pass
        if last is not None:
            if pattern.groups:
                return read_answer(last.group(1), source, limits)
            end = completion.find("\n", last.end())
            return read_answer(completion[last.end() : end if end >= 0 else None][:200], source, limits)
    if fallback:
        hits = _LAST_NUMBER_RE.findall(completion)
        if hits:
            return read_answer(hits[-1], "last_number", limits)
    return None


def read_answer(text: str, source: str = "reference", limits: Limits = DEFAULT_LIMITS) -> Answer:
    """Read an answer text as its first number or expression (``therefore $1,200 dollars`` → 1200).

    The C++ kernel reads it when it is in use and takes the text (ASCII, values that fit 64-bit rationals),
    else :func:`_read_answer_py`, the reference."""
    text = normalize_text(text.strip()).strip()
    native = _expr._native
    if native is not None:
        lim = _native_limits(limits)
        got = None if lim is None else native.answer(text, *lim)
        if got is not None:
            if got.__class__ is str:
                return Answer(text, source, None, None, problem=got)
            return Answer(text, source, got[0], got[1])
    return _read_answer_py(text, source, limits)


def _read_answer_py(text: str, source: str, limits: Limits) -> Answer:
    """:func:`read_answer` of a normalized, stripped text in pure Python: the reference of the C++ kernel."""
    toks = tokenize(text)
    starts = [i for i, t in enumerate(toks) if t[0] in ("num", "cur", "lp") or (t[0] == "op" and t[1] == "-")]
    for start in starts[:4]:
        try:
            parsed = parse_prefix(toks, start, limits)
            if parsed is None or parsed[3]:
                continue
            value = evaluate(parsed[0], limits)
            as_written = evaluate(parsed[0], limits, True) if has_percent(parsed[0]) else value
        except (Unverifiable, Undefined) as exc:
            return Answer(text, source, None, None, problem=str(exc))
        return Answer(text, source, value, as_written)
    return Answer(text, source, None, None)


def reference_answer(reference: dict[str, Any] | None) -> Answer | None:
    """The reference's ``answer`` field read like an answer (numbers, numeric strings, text)."""
    if not reference or reference.get("answer") is None:
        return None
    raw = reference["answer"]
    if isinstance(raw, bool):
        raw = str(raw)
    if isinstance(raw, int | float):
        raw = repr(raw) if isinstance(raw, float) else str(raw)
    ans = read_answer(str(raw))
    return ans if ans.value is not None else Answer(str(raw), "reference", None, None)


def answers_match(got: Answer, ref: Answer) -> bool:
    """Exact comparison: numbers as fractions (a percent sign may only label the unit), text normalized."""
    if ref.value is not None:
        if got.value is None:
            return False
        # any of the two readings equal (compared pairwise, by ==: hashing a Fraction costs more)
        a, b, c, d = got.value, got.as_written, ref.value, ref.as_written
        return a in (c, d) or b in (c, d)
    return bool(normalize_term(got.text)) and normalize_term(got.text) == normalize_term(ref.text)
