"""Expected value and risk: lotteries and decision trees in ``metadata``, recomputed exactly.

``metadata.lotteries = {"A": [[p, x], ...], "B": ...}`` (probabilities and outcomes: JSON numbers or
strings "1/3"); ``metadata.decision_tree``: a node is ``{"payoff": x}``, ``{"chance": [[p, node], ...]}``
or ``{"decision": {"label": node, ...}}``.

Claims, in a JSON block::

    {"expected_values": {"A": "5/2"}, "variances": {"A": "9/4"}, "dominates": [["A", "B"]],
     "choice": "A", "expected_value": 7, "decision": "invest"}

or in words: "E[A] = 0.5*10 + 0.5*0 = 5", "the expected value of A is 5", "the variance of A is 25",
"A (first-order stochastically) dominates B", "choose A".  Numbers go through empirical's exact
arithmetic; "dominates" is first-order stochastic dominance (CDF of A never above B's, below somewhere);
the right choice maximises expected value (risk-neutral; ties accept any maximiser).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from chil_plugin_empirical.answer import read_answer
from chil_plugin_empirical.expr import Limits

from chil_core.capabilities.game import GameError, number
from chil_plugin_utility.common import ClaimError, json_objects, merged, value
from chil_plugin_utility.games import Item

Lottery = list[tuple[Fraction, Fraction]]


class RecordError(ValueError):
    pass


def _num(x: Any, where: str) -> Fraction:
    try:
        return number(x, where)
    except GameError as exc:
        raise RecordError(str(exc)) from None


def load_lotteries(data: Any, max_outcomes: int) -> dict[str, Lottery]:
    if not isinstance(data, dict) or not data:
        raise RecordError("metadata.lotteries must be an object {name: [[p, x], ...]}")
    out = {}
    for name, outcomes in data.items():
        w = f"metadata.lotteries.{name}"
        if not isinstance(outcomes, list) or not 1 <= len(outcomes) <= max_outcomes:
            raise RecordError(f"{w} must list 1 to {max_outcomes} [probability, outcome] pairs")
        lot = []
        for i, o in enumerate(outcomes):
            if not isinstance(o, list) or len(o) != 2:
                raise RecordError(f"{w}[{i}] must be [probability, outcome]")
            lot.append((_num(o[0], f"{w}[{i}][0]"), _num(o[1], f"{w}[{i}][1]")))
        if any(p < 0 for p, _ in lot) or sum(p for p, _ in lot) != 1:
            raise RecordError(f"{w}: probabilities must be non-negative and sum to 1")
        out[str(name)] = lot
    return out


def ev(lot: Lottery) -> Fraction:
    return sum((p * x for p, x in lot), Fraction(0))


def variance(lot: Lottery) -> Fraction:
    m = ev(lot)
    return sum((p * (x - m) ** 2 for p, x in lot), Fraction(0))


def dominates(a: Lottery, b: Lottery) -> bool:
    """First-order stochastic dominance of ``a`` over ``b``."""
    points = sorted({x for _, x in a} | {x for _, x in b})
    strict = False
    for t in points:
        fa = sum((p for p, x in a if x <= t), Fraction(0))
        fb = sum((p for p, x in b if x <= t), Fraction(0))
        if fa > fb:
            return False
        strict |= fa < fb
    return strict


def tree_value(node: Any, budget: list[int], where: str = "metadata.decision_tree") -> tuple[Fraction, str | None]:
    """(expected value under optimal decisions, best first decision label) of a decision tree."""
    budget[0] -= 1
    if budget[0] < 0:
        raise RecordError("decision tree has too many nodes")
    if not isinstance(node, dict):
        raise RecordError(f"{where} must be an object")
    if "payoff" in node:
        return _num(node["payoff"], f"{where}.payoff"), None
    if "chance" in node:
        branches = node["chance"]
        if not isinstance(branches, list) or not branches:
            raise RecordError(f"{where}.chance must list [probability, node] pairs")
        total, probs = Fraction(0), Fraction(0)
        for i, br in enumerate(branches):
            if not isinstance(br, list) or len(br) != 2:
                raise RecordError(f"{where}.chance[{i}] must be [probability, node]")
            p = _num(br[0], f"{where}.chance[{i}][0]")
            probs += p
            total += p * tree_value(br[1], budget, f"{where}.chance[{i}][1]")[0]
        if probs != 1:
            raise RecordError(f"{where}.chance probabilities sum to {probs}, not 1")
        return total, None
    if "decision" in node and isinstance(node["decision"], dict) and node["decision"]:
        vals = {str(k): tree_value(v, budget, f"{where}.decision.{k}")[0] for k, v in node["decision"].items()}
        best = max(vals, key=lambda k: vals[k])
        return vals[best], best
    raise RecordError(f"{where} must have payoff, chance or decision")


_EV_RE = re.compile(r"(?i)(?:\bE\s*\[\s*(\w+)\s*\]|expected (?:value|payoff) of (?:lottery |option )?(\w+))\s*(?:is|=|:)\s*((?:[^\n;.]|\.(?=\d))+)")
_VAR_RE = re.compile(r"(?i)(?:\bVar\s*\[\s*(\w+)\s*\]|\bVar\s*\(\s*(\w+)\s*\)|variance of (?:lottery |option )?(\w+))\s*(?:is|=|:)\s*((?:[^\n;.]|\.(?=\d))+)")
_DOM_RE = re.compile(r"(?i)\b(?:lottery |option )?(\w+) (?:first[- ]order )?(?:stochastically )?dominates (?:lottery |option )?(\w+)")
_CHOICE_RE = re.compile(r"(?i)\b(?:choose|pick|select|prefer|should take|best (?:choice|option|decision) is) (?:lottery |option )?(\w+)")


def _last_value(text: str, lim: Limits) -> Fraction | None:
    """The value at the end of a chain ``0.5*10 + 0.5*0 = 5`` (the last ``=`` segment)."""
    tail = text.split("=")[-1].strip().rstrip(".")
    ans = read_answer(tail[:200], "claim", lim)
    return ans.value


def judge(md: dict[str, Any], text: str, lim: Limits, max_outcomes: int) -> tuple[list[Item], list[Any]]:
    """Items judged for a lottery / decision-tree record (raises nothing: record errors become one note)."""
    from chil_core import Evidence

    blocks, errors = json_objects(text)
    claim = merged(blocks)
    items = [Item("unreadable", False, e) for e in errors]
    try:
        lots = load_lotteries(md["lotteries"], max_outcomes) if "lotteries" in md else {}
        tree = tree_value(md["decision_tree"], [max_outcomes]) if "decision_tree" in md else None
    except RecordError as exc:
        return [], [Evidence(kind="note", text=f"record malformed: {exc}")]
    names = {n.lower(): n for n in lots}

    def lookup(name: str) -> str | None:
        return names.get(str(name).lower())

    def check(kind: str, name: str, raw: Any, truth_fn: Any, where: str) -> None:
        n = lookup(name)
        if n is None:
            items.append(Item(kind, False, f"{where}: {str(name)[:30]!r} is not a lottery"))
            return
        try:
            got = raw if isinstance(raw, Fraction) else value(raw, where, lim)
        except ClaimError as exc:
            items.append(Item(kind, False, str(exc)))
            return
        truth = truth_fn(lots[n])
        items.append(Item(kind, got == truth, f"{kind.replace('_', ' ')} of {n}: claimed {got}, exact {truth}"))

    evs = claim.get("expected_values") if isinstance(claim.get("expected_values"), dict) else {}
    vrs = claim.get("variances") if isinstance(claim.get("variances"), dict) else {}
    text_evs, text_vars = {}, {}
    for m in _EV_RE.finditer(text):
        v = _last_value(m.group(3), lim)
        if v is not None and lookup(m.group(1) or m.group(2)):
            text_evs[m.group(1) or m.group(2)] = v
    for m in _VAR_RE.finditer(text):
        v = _last_value(m.group(4), lim)
        name = m.group(1) or m.group(2) or m.group(3)
        if v is not None and lookup(name):
            text_vars[name] = v
    for name, raw in list({**text_evs, **evs}.items())[:100]:
        check("expected_value", name, raw, ev, f"expected_values.{name}")
    for name, raw in list({**text_vars, **vrs}.items())[:100]:
        check("variance", name, raw, variance, f"variances.{name}")
    doms = claim.get("dominates") if isinstance(claim.get("dominates"), list) else []
    pairs = [tuple(d) for d in doms if isinstance(d, list) and len(d) == 2]
    pairs += [(a, b) for a, b in _DOM_RE.findall(text) if lookup(a) and lookup(b)]
    for a, b in list(dict.fromkeys(pairs))[:100]:
        na, nb = lookup(str(a)), lookup(str(b))
        if na is None or nb is None:
            items.append(Item("dominance", False, f"{a} dominates {b}: unknown lottery"))
            continue
        truth = dominates(lots[na], lots[nb])
        items.append(Item("dominance", truth, f"{na} first-order stochastically dominates {nb}: "
                          + ("true" if truth else "false")))
    choice = claim.get("choice")
    if choice is None and lots:
        hits = [c for c in _CHOICE_RE.findall(text) if lookup(c)]
        choice = hits[-1] if hits else None
    if choice is not None and lots:
        n = lookup(str(choice))
        best = max(ev(lot) for lot in lots.values())
        ok = n is not None and ev(lots[n]) == best
        items.append(Item("choice", ok, f"choice {choice}: expected value {ev(lots[n]) if n else 'n/a'}, best {best}"))
    if tree is not None:
        raw = claim.get("expected_value")
        if raw is None:
            m = re.search(r"(?i)expected value(?: of the (?:tree|decision))?\s*(?:is|=|:)\s*((?:[^\n;.]|\.(?=\d))+)", text)
            raw = _last_value(m.group(1), lim) if m else None
        if raw is not None:
            try:
                got = raw if isinstance(raw, Fraction) else value(raw, "expected_value", lim)
                items.append(Item("expected_value", got == tree[0], f"expected value of the tree: claimed {got}, exact {tree[0]}"))
            except ClaimError as exc:
                items.append(Item("expected_value", False, str(exc)))
        dec = claim.get("decision")
        if dec is None:
            m = re.search(r"(?i)\b(?:choose|decide to|decision is|should)\s+(?:to\s+)?['\"]?(\w+)", text)
            dec = m.group(1) if m else None
        if dec is not None:
            items.append(Item("choice", str(dec).lower() == str(tree[1]).lower(), f"first decision {dec}; best {tree[1]} (value {tree[0]})"))
    if not items:
        items.append(Item("answer", False, "no expected value, variance, dominance or choice claimed"))
    return items, []
