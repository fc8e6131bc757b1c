"""The ``fairness`` capability: group fairness metrics of binary decisions over a population.

One op, ``metrics``::

    payload = {"population": [{"id": "p1", "group": "a", "label": 1}, ...],   # label optional (0/1)
               "decisions": {"p1": 1, "p2": 0, ...}}                          # one 0/1 per member
    value   = {"exact": true | false,            # true: every number is an exact rational "p/q"
               "groups": ["a", "b"],             # sorted
               "by_group": {"a": {"n": 3, "selected": 2, "selection_rate": "2/3",
                                  "tpr": "1/2" | null, "fpr": "0" | null}   # null: no labels, ...},
               "metrics": {"demographic_parity_difference": "1/3", "demographic_parity_ratio": "1/2" | null,
                           "equalized_odds_difference": ... | null, "equal_opportunity_difference": ... | null,
                           "accuracy": ... | null}}

Numbers are strings ``"p/q"`` (or ``"p"``) from exact backends and JSON floats from float backends;
:func:`as_number` reads either.  Definitions (those of fairlearn, so the two backends agree):

* selection rate of a group = selected / members;
* demographic parity difference = max − min selection rate over groups; ratio = min / max (null when
  every rate is 0);
* TPR of a group = selected positives / positives, FPR the same over negatives; a group with no
  positive (negative) label has TPR (FPR) 0, as in fairlearn (scikit-learn's normalised confusion
  matrix); equal opportunity difference = max − min TPR over groups; equalized odds difference =
  max(TPR difference, FPR difference);
* accuracy = decisions equal to labels / members.

The label-based metrics are null when no member has a label, and the payload is rejected when only
some members have one.  :func:`parse_payload` validates a payload; its ``FairnessError`` names the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult

MAX_MEMBERS = 100_000
MAX_GROUPS = 1_000
MAX_NAME = 200

METRICS: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "accuracy",
)


class FairnessError(ValueError):
    """A malformed ``metrics`` payload; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    group: str
    label: int | None
    decision: int


def _name(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FairnessError(f"{where}: must be a string or an integer, got {type(value).__name__}")
    text = str(value).strip()
    if not text or len(text) > MAX_NAME:
        raise FairnessError(f"{where}: must have 1..{MAX_NAME} characters")
    return text


def _binary(value: Any, where: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, float) and not math.isnan(value) and value in (0.0, 1.0):
        return int(value)
    raise FairnessError(f"{where}: must be 0 or 1, got {value!r}"[:300])


def parse_population(population: Any, where: str = "population") -> list[tuple[str, str, int | None]]:
    """``[(id, group, label | None)]`` of a population; ``FairnessError`` names the bad field."""
    if not isinstance(population, list) or not population:
        raise FairnessError(f"{where}: must be a non-empty list of members")
    if len(population) > MAX_MEMBERS:
        raise FairnessError(f"{where}: {len(population)} members exceed the bound of {MAX_MEMBERS}")
    out: list[tuple[str, str, int | None]] = []
    seen: set[str] = set()
    for i, m in enumerate(population):
        if not isinstance(m, dict):
            raise FairnessError(f"{where}[{i}]: must be an object with id and group")
        mid = _name(m.get("id"), f"{where}[{i}].id")
        if mid in seen:
            raise FairnessError(f"{where}[{i}].id: duplicate id {mid!r}")
        seen.add(mid)
        group = _name(m.get("group"), f"{where}[{i}].group")
        label = None if m.get("label") is None else _binary(m["label"], f"{where}[{i}].label")
        out.append((mid, group, label))
    labelled = sum(lab is not None for _, _, lab in out)
    if 0 < labelled < len(out):
        first = next(i for i, (_, _, lab) in enumerate(out) if lab is None)
        raise FairnessError(f"{where}[{first}].label: missing (give a label to every member or to none)")
    if len({g for _, g, _ in out}) > MAX_GROUPS:
        raise FairnessError(f"{where}: more than {MAX_GROUPS} groups")
    return out


def parse_decisions(decisions: Any, ids: list[str], where: str = "decisions") -> dict[str, int]:
    """``{id: 0|1}`` for exactly the population's ids; ``FairnessError`` names unknown or missing ids."""
    if not isinstance(decisions, dict):
        raise FairnessError(f"{where}: must be an object mapping member id to 0 or 1")
    known = set(ids)
    out: dict[str, int] = {}
    for key, value in decisions.items():
        k = str(key).strip()
        if k not in known:
            raise FairnessError(f"{where}.{k[:50]}: no member has this id")
        out[k] = _binary(value, f"{where}.{k[:50]}")
    missing = [i for i in ids if i not in out]
    if missing:
        raise FairnessError(f"{where}: no decision for {len(missing)} member(s), e.g. {missing[0]!r}")
    return out


def parse_payload(payload: dict[str, Any]) -> list[Member]:
    """Validate a ``metrics`` payload into members (in population order)."""
    if not isinstance(payload, dict):
        raise FairnessError("payload: must be an object")
    pop = parse_population(payload.get("population"), "payload.population")
    dec = parse_decisions(payload.get("decisions"), [m[0] for m in pop], "payload.decisions")
    return [Member(mid, g, lab, dec[mid]) for mid, g, lab in pop]


# ---------------------------------------------------------------------------------------------
# Numbers on the wire
# ---------------------------------------------------------------------------------------------
def encode(x: Fraction | None) -> str | None:
    """``"p/q"`` (``"p"`` for integers) or None."""
    if x is None:
        return None
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def as_number(value: Any) -> Fraction | float | None:
    """A metric value from the wire: ``"p/q"`` → Fraction, float → float, null → None."""
    if value is None:
        return None
    if isinstance(value, str):
        return Fraction(value)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a metric value")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return value
    raise ValueError(f"not a metric value: {value!r}"[:200])


def result(groups: dict[str, dict[str, Any]], metrics: dict[str, Any], exact: bool) -> dict[str, Any]:
    """The ``metrics`` answer in the contract's shape (keys sorted, every metric present)."""
    return {"exact": exact, "groups": sorted(groups), "by_group": {g: groups[g] for g in sorted(groups)},
            "metrics": {m: metrics.get(m) for m in METRICS}}


class FairnessTool(Tool):
    """Base of the ``fairness`` backends: answers ``metrics`` with :meth:`metrics` of the validated
    population (a malformed payload is an error naming the field)."""

    capability: ClassVar[str] = "fairness"
    ops: ClassVar[frozenset[str]] = frozenset({"metrics"})

    def metrics(self, members: list[Member]) -> dict[str, Any]:
        """The answer (:func:`result`) for a valid population."""
        raise NotImplementedError

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        if call.op != "metrics":
            return ToolResult.failure(f"fairness has no op {call.op!r}; ops: metrics")
        try:
            members = parse_payload(call.payload)
        except FairnessError as exc:
            return ToolResult.failure(str(exc))
        return self.metrics(members)
