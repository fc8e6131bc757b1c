"""``FairlearnFairness``: the ``fairness`` capability computed by fairlearn's ``MetricFrame``.

Floats, so the framework compares claims with a tolerance; the exact backend (``rational``) is the
default.  Selection rates, TPR and FPR per group come from one ``MetricFrame``; the differences and the
ratio are fairlearn's own ``difference()`` / ``ratio()`` (``between_groups``), and the equalized odds
difference is the worst case of the TPR and FPR differences, as in
``fairlearn.metrics.equalized_odds_difference``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from chil_core.capabilities.fairness import FairnessTool, Member, result


def _float(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


class FairlearnFairness(FairnessTool):
    """``fairness`` with fairlearn (floats)."""

    name: ClassVar[str] = "fairlearn"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "fairlearn MetricFrame: selection rates, demographic parity, equalized odds (floats)."
    priority: ClassVar[int] = 10
    requires_modules: ClassVar[dict[str, str]] = {"fairlearn": "fairlearn", "sklearn": "scikit-learn", "numpy": "numpy"}

    def start(self) -> None:
        import warnings

        import numpy as np
        from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
        from sklearn.metrics import accuracy_score

        warnings.filterwarnings("ignore", module="fairlearn")
        warnings.filterwarnings("ignore", module="sklearn")
        self.np, self.MetricFrame = np, MetricFrame
        self.fns = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate}
        self.accuracy = accuracy_score

    def metrics(self, members: list[Member]) -> dict[str, Any]:
        np = self.np
        y_pred = np.array([m.decision for m in members])
        groups_arr = np.array([m.group for m in members], dtype=object)
        labelled = members[0].label is not None
        y_true = np.array([m.label for m in members]) if labelled else y_pred
        fns = self.fns if labelled else {"selection_rate": self.fns["selection_rate"]}
        mf = self.MetricFrame(metrics=fns, y_true=y_true, y_pred=y_pred, sensitive_features=groups_arr)
        diff, ratio, by = mf.difference(method="between_groups"), mf.ratio(method="between_groups"), mf.by_group
        counts: dict[str, list[int]] = {}
        for m in members:
            c = counts.setdefault(m.group, [0, 0])
            c[0] += 1
            c[1] += m.decision
        groups = {}
        for g, (n, sel) in counts.items():
            row = by.loc[g]
            groups[g] = {"n": n, "selected": sel, "selection_rate": _float(row["selection_rate"]),
                         "tpr": _float(row["tpr"]) if labelled else None, "fpr": _float(row["fpr"]) if labelled else None}
        metrics: dict[str, Any] = {"demographic_parity_difference": _float(diff["selection_rate"]),
                                   "demographic_parity_ratio": _float(ratio["selection_rate"])}
        if labelled:
            metrics["equal_opportunity_difference"] = _float(diff["tpr"])
            metrics["equalized_odds_difference"] = _float(max(diff["tpr"], diff["fpr"]))
            metrics["accuracy"] = _float(self.accuracy(y_true, y_pred))
        return result(groups, metrics, exact=False)
