"""What a completion says about fairness metrics, stakeholder graphs and voting games: the claims.

Claims are read from plain sentences with bounded regular expressions (no text is executed).  Each
claim carries its kind, its arguments (node / player / group names as written, resolved by the
framework) and, for numeric claims, the number as written (:class:`Number`) so that a figure
rounded to its written decimals is accepted and nothing else is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

MAX_TEXT = 200_000
MAX_CLAIMS = 64
MAX_JSON = 1_000_000
MAX_ALTERNATION = 2_000

_NUM = r"(?P<v>-?\d{1,15}(?:\.\d{1,12})?(?:\s*/\s*\d{1,15})?(?:\s*%)?)"
_APPROX = r"(?:(?:about|approximately|roughly|around|exactly)\s+)?"
_IS = r"\s*(?:is|was|equals|=|:|of|comes to|amounts to)\s*" + _APPROX


@dataclass(frozen=True, slots=True)
class Number:
    """A number as written: its exact value and, for decimals, how many digits were written."""

    value: Fraction
    decimals: int | None  # None: an integer or a fraction, compared exactly
    text: str

    def matches(self, true: Fraction | float) -> bool:
        """Equal, or equal after rounding ``true`` to the written decimals (half a unit of the last digit)."""
        if isinstance(true, float):
            tol = 1e-9 if self.decimals is None else 0.5 * 10.0 ** -self.decimals + 1e-9
            return abs(float(self.value) - true) <= tol
        if self.decimals is None:
            return self.value == true
        return abs(self.value - true) <= Fraction(1, 2 * 10**self.decimals)


def parse_number(text: str) -> Number | None:
    raw = text.strip()
    s = raw.replace(" ", "")
    percent = s.endswith("%")
    s = s.rstrip("%")
    try:
        if "/" in s:
            num, den = s.split("/")
            if int(den) == 0:
                return None
            value, decimals = Fraction(Fraction(num), int(den)), None
            if "." in num:
                return None
        else:
            value = Fraction(s)
            decimals = len(s.split(".")[1]) if "." in s else None
    except (ValueError, ZeroDivisionError):
        return None
    if percent:
        value /= 100
        decimals = (decimals or 0) + 2
    return Number(value, decimals, raw)


@dataclass(frozen=True, slots=True)
class Claim:
    kind: str
    args: tuple[str, ...]
    number: Number | None = None
    negated: bool = False
    text: str = ""
    extra: tuple[str, ...] = field(default_factory=tuple)  # e.g. the centrality measure, the index

    def key(self) -> tuple[Any, ...]:
        """Identity for deduplication: the same statement made twice counts once."""
        return (self.kind, tuple(a.casefold() for a in self.args), self.extra, self.negated,
                None if self.number is None else (self.number.value, self.number.decimals))

    def question_key(self) -> tuple[Any, ...]:
        """What question the claim answers (its value and polarity left out)."""
        return (self.kind, tuple(a.casefold() for a in self.args), self.extra)


def _name_pattern(names: tuple[str, ...]) -> str:
    generic = r"[A-Za-z0-9_][\w\-]{0,63}"
    if not names or len(names) > MAX_ALTERNATION:
        return generic
    alts = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return rf"(?:{alts})(?![\w\-])|{generic}"


_MEASURE = (r"(?P<m>in[- ]?degree|out[- ]?degree|degree|betweenness|eigenvector|page\s?rank)"
            r"(?:\s+centrality)?")


@lru_cache(maxsize=256)
def graph_patterns(names: tuple[str, ...]) -> list[tuple[str, re.Pattern[str]]]:
    n = _name_pattern(names)

    def g(x: str) -> str:
        return rf"(?P<{x}>{n})"

    pats = [
        ("most_central", rf"\b{g('a')}\s+is\s+the\s+most\s+central(?:\s+(?:actor|node|player|stakeholder|party|member|agent))?"
                         rf"(?:\s+(?:by|in\s+terms\s+of|according\s+to|under|with\s+respect\s+to|for)\s+{_MEASURE})?"),
        ("most_central", rf"\bthe\s+most\s+central\s+(?:actor|node|player|stakeholder|party|member|agent)"
                         rf"(?:\s+(?:by|in\s+terms\s+of|according\s+to|under|with\s+respect\s+to|for)\s+{_MEASURE})?\s+is\s+{g('a')}"),
        ("most_central", rf"\b{g('a')}\s+has\s+the\s+(?:highest|largest|greatest)\s+{_MEASURE}"),
        ("compare", rf"\b{g('a')}\s+(?:has|have)\s+(?:a\s+)?(?P<cmp>higher|greater|larger|lower|smaller)\s+{_MEASURE}\s+than\s+{g('b')}"),
        ("compare", rf"\b{g('a')}\s+is\s+(?P<cmp>more|less)\s+central\s+than\s+{g('b')}"),
        ("disconnects", rf"\bremoving\s+{g('r')}\s+(?P<neg>does\s+not\s+|doesn't\s+|would\s+not\s+|wouldn't\s+)?(?:would\s+)?disconnects?\s+{g('a')}\s+from\s+{g('b')}"),
        ("max_flow", rf"\b(?:the\s+)?max(?:imum|\.)?\s+flow\s+from\s+{g('a')}\s+to\s+{g('b')}{_IS}{_NUM}"),
        ("min_cut", rf"\b(?:the\s+)?min(?:imum|\.)?\s+cut\s+(?:between|from|separating)\s+{g('a')}\s+(?:and|to|from)\s+{g('b')}"
                    rf"(?:{_IS}|\s+has\s+(?:a\s+)?(?:capacity|value|weight)\s+(?:of\s+)?){_NUM}"),
        ("shortest_path", rf"\b(?:the\s+)?(?:shortest[- ]path\s+(?:length\s+|distance\s+)?|distance\s+)from\s+{g('a')}\s+to\s+{g('b')}"
                          rf"(?:{_IS}|\s+has\s+(?:length|weight|cost)\s+(?:of\s+)?|\s+costs?\s+){_NUM}(?P<hops>\s+(?:hops?|steps?|edges?))?"),
        ("reachable", rf"\bthere\s+is\s+(?P<neg>no\s+)?(?:a\s+)?(?:directed\s+)?path\s+from\s+{g('a')}\s+to\s+{g('b')}"),
        ("reachable", rf"\b{g('a')}\s+(?:(?P<neg>cannot|can't|can\s+not|does\s+not|doesn't)\s+reach|can\s+reach|reaches)\s+{g('b')}"),
    ]
    return [(kind, re.compile(p, re.I)) for kind, p in pats]


@lru_cache(maxsize=256)
def voting_patterns(names: tuple[str, ...]) -> list[tuple[str, re.Pattern[str]]]:
    n = _name_pattern(names)

    def g(x: str) -> str:
        return rf"(?P<{x}>{n})"

    idx = r"(?P<idx>shapley[-\s–]+shubik|banzhaf)(?:\s+power)?(?:\s+(?:index|value|score))?"
    pats = [
        ("index", rf"\b(?:the\s+)?{idx}\s+(?:of|for)\s+{g('a')}{_IS}{_NUM}"),
        ("index", rf"\b{g('a')}(?:'s\s+|\s+has\s+(?:a|an)\s+){idx}(?:{_IS}|\s+){_NUM}"),
        ("role", rf"\b{g('a')}\s+is\s+(?P<neg>not\s+)?(?:a\s+|the\s+)?(?P<role>dictator|dummy|veto\s+player|pivotal)"),
        ("role", rf"\b{g('a')}\s+has\s+(?P<neg>no\s+)?(?P<role>veto)(?:\s+power)?"),
        ("power_compare", rf"\b{g('a')}\s+has\s+(?P<cmp>more|less|greater|higher|lower)\s+(?:voting\s+)?power\s+than\s+{g('b')}"),
        ("power_equal", rf"\b{g('a')}\s+and\s+{g('b')}\s+have\s+(?:the\s+same|equal)\s+(?:voting\s+)?power"),
    ]
    return [(kind, re.compile(p, re.I)) for kind, p in pats]


@lru_cache(maxsize=256)
def fairness_patterns(groups: tuple[str, ...]) -> list[tuple[str, re.Pattern[str]]]:
    n = _name_pattern(groups)
    metric = (r"(?P<m>demographic\s+parity\s+(?:difference|ratio)|equali[sz]ed\s+odds\s+difference"
              r"|equal\s+opportunity\s+difference|accuracy)")
    pats = [
        ("metric", rf"\b(?:the\s+)?{metric}(?:\s+of\s+(?:the|these|my)\s+decisions)?{_IS}{_NUM}"),
        ("selection_rate", rf"\b(?:the\s+)?selection\s+rate\s+(?:of|for)\s+(?:group\s+)?(?P<a>{n}){_IS}{_NUM}"),
        ("selection_rate", rf"\b(?:group\s+)?(?P<a>{n})(?:'s\s+|\s+has\s+a\s+)selection\s+rate(?:{_IS}|\s+){_NUM}"),
    ]
    return [(kind, re.compile(p, re.I)) for kind, p in pats]


def _measure(m: str | None) -> str | None:
    if not m:
        return None
    m = re.sub(r"[\s-]", "", m.casefold())
    return {"indegree": "in_degree", "outdegree": "out_degree"}.get(m, m)


def find_claims(text: str, patterns: list[tuple[str, re.Pattern[str]]], default_measure: str = "pagerank") -> list[Claim]:
    """Every claim in ``text`` (first :data:`MAX_CLAIMS` distinct ones, in order of appearance)."""
    text = text[:MAX_TEXT]
    found: list[tuple[int, Claim]] = []
    for kind, pat in patterns:
        for m in pat.finditer(text):
            gd = m.groupdict()
            number = parse_number(gd["v"]) if gd.get("v") else None
            if gd.get("v") and number is None:
                continue
            neg = bool(gd.get("neg"))
            extra: tuple[str, ...] = ()
            if kind in ("most_central", "compare"):
                extra = (_measure(gd.get("m")) or default_measure,)
            if kind == "compare":
                lower = gd["cmp"].casefold() in ("lower", "smaller", "less")
                args = (gd["b"], gd["a"]) if lower else (gd["a"], gd["b"])
            elif kind == "power_compare":
                lower = gd["cmp"].casefold() in ("less", "lower")
                args = (gd["b"], gd["a"]) if lower else (gd["a"], gd["b"])
            elif kind == "disconnects":
                args = (gd["r"], gd["a"], gd["b"])
            elif kind in ("metric",):
                args, extra = (), (re.sub(r"\s+", "_", gd["m"].casefold()).replace("equalised", "equalized"),)
            elif kind == "index":
                args, extra = (gd["a"],), ("banzhaf" if "banzhaf" in gd["idx"].casefold() else "shapley_shubik",)
            elif kind == "role":
                args, extra = (gd["a"],), (re.sub(r"\s+player", "", gd["role"].casefold()),)
            else:
                args = tuple(gd[k] for k in ("a", "b") if gd.get(k))
            if kind == "shortest_path":
                extra = ("hops" if gd.get("hops") else "weighted",)
            found.append((m.start(), Claim(kind, tuple(a.strip() for a in args), number, neg, m.group(0)[:200], extra)))
    found.sort(key=lambda x: x[0])
    out: dict[tuple[Any, ...], Claim] = {}
    for _, c in found:
        out.setdefault(c.key(), c)
        if len(out) >= MAX_CLAIMS:
            break
    return list(out.values())


# ---------------------------------------------------------------------------------------------
# Decisions: a fenced json block {"decisions": {...}}
# ---------------------------------------------------------------------------------------------
_FENCE_RE = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)```", re.S | re.I)


class DecisionsError(ValueError):
    """The completion's decisions cannot be read (malformed JSON, conflicting blocks)."""


def find_decisions(text: str) -> dict[str, Any] | None:
    """The ``decisions`` object of the completion, None when it gives none; ``DecisionsError`` when
    a block that means to give them is malformed or several blocks disagree."""
    text = text[:MAX_TEXT]
    blocks: list[Any] = []
    for body in _FENCE_RE.findall(text):
        if "decisions" not in body:
            continue
        if len(body) > MAX_JSON:
            raise DecisionsError(f"the decisions block has {len(body)} characters (at most {MAX_JSON})")
        try:
            blocks.append(json.loads(body))
        except ValueError as exc:
            raise DecisionsError(f"the decisions block is not valid JSON: {exc}"[:300]) from None
    if not blocks:
        i = text.find('{"decisions"')
        if i >= 0:
            try:
                blocks.append(json.JSONDecoder().raw_decode(text[i : i + MAX_JSON])[0])
            except ValueError as exc:
                raise DecisionsError(f"the decisions object is not valid JSON: {exc}"[:300]) from None
    if not blocks:
        return None
    decisions = []
    for b in blocks:
        if not isinstance(b, dict) or not isinstance(b.get("decisions"), dict):
            raise DecisionsError('a decisions block must be {"decisions": {"id": 0 or 1, ...}}')
        decisions.append(b["decisions"])
    if any(d != decisions[0] for d in decisions[1:]):
        raise DecisionsError(f"{len(decisions)} decisions blocks disagree")
    return decisions[0]
