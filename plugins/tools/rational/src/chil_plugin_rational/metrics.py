"""``RationalFairness``: group fairness metrics computed exactly, in :class:`fractions.Fraction`.

Counts per group are integers, so every metric is a ratio of integers: nothing is rounded, and a
claimed figure can be compared exactly.  Definitions: :mod:`chil_core.capabilities.fairness`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

from chil_core.capabilities.fairness import FairnessTool, Member, encode, result


def _spread(values: list[Fraction | None]) -> Fraction | None:
    vals = [v for v in values if v is not None]
    return max(vals) - min(vals) if vals else None


def exact_metrics(members: list[Member]) -> dict[str, Any]:
    """The ``metrics`` value for validated members, every number an exact rational."""
    counts: dict[str, list[int]] = {}  # group -> [n, selected, pos, tp, neg, fp]
    labelled = members[0].label is not None
    correct = 0
    for m in members:
        c = counts.setdefault(m.group, [0, 0, 0, 0, 0, 0])
        c[0] += 1
        c[1] += m.decision
        if m.label is not None:
            if m.label == 1:
                c[2] += 1
                c[3] += m.decision
            else:
                c[4] += 1
                c[5] += m.decision
            correct += m.label == m.decision
    rates: dict[str, Fraction] = {}
    tprs: dict[str, Fraction | None] = {}
    fprs: dict[str, Fraction | None] = {}
    groups: dict[str, dict[str, Any]] = {}
    for g, (n, sel, pos, tp, neg, fp) in counts.items():
        rates[g] = Fraction(sel, n)
        # fairlearn's convention: no positive (negative) label in the group -> TPR (FPR) 0
        tprs[g] = (Fraction(tp, pos) if pos else Fraction(0)) if labelled else None
        fprs[g] = (Fraction(fp, neg) if neg else Fraction(0)) if labelled else None
        groups[g] = {"n": n, "selected": sel, "selection_rate": encode(rates[g]),
                     "tpr": encode(tprs[g]), "fpr": encode(fprs[g])}
    hi, lo = max(rates.values()), min(rates.values())
    metrics: dict[str, Any] = {
        "demographic_parity_difference": encode(hi - lo),
        "demographic_parity_ratio": encode(lo / hi) if hi else None,
    }
    if labelled:
        tpr_d, fpr_d = _spread(list(tprs.values())), _spread(list(fprs.values()))
        both = [d for d in (tpr_d, fpr_d) if d is not None]
        metrics["equal_opportunity_difference"] = encode(tpr_d)
        metrics["equalized_odds_difference"] = encode(max(both)) if both else None
        metrics["accuracy"] = encode(Fraction(correct, len(members)))
    return result(groups, metrics, exact=True)


class RationalFairness(FairnessTool):
    """The default ``fairness`` backend: exact rationals, pure Python, microseconds per population."""

    name: ClassVar[str] = "rational"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Exact group fairness metrics (fractions): demographic parity, equalized odds, equal opportunity."
    priority: ClassVar[int] = 20

    def metrics(self, members: list[Member]) -> dict[str, Any]:
        return exact_metrics(members)
