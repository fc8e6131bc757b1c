"""Conformance suite of the ``predictor`` capability: a model fitted on a shared synthetic table
(utility = 3 a - 2 b + small noise), predictions that follow the signal, contributions that sum to the
prediction, hostile payloads, and agreement in ranking with every other installed ``predictor`` backend.

A backend's module provides ``fit(x, y, features, out_dir, params, seed) -> model file name`` and
``predict(out_dir, x)`` next to its Tool class (``chil fit-predictor`` calls them).

```python
from chil_core.testing.predictor import PredictorConformance

class TestMyPredictor(PredictorConformance):
    tool_class = MyPredictor
```
"""

from __future__ import annotations

import importlib
import random
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from chil_core.capabilities import predictor as P
from chil_core.components import Tool
from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance, _norm

FEATURES = ["a", "b", "noise"]
_FITTED: dict[str, Path] = {}


def synthetic_table(n: int = 400, seed: int = 0) -> tuple[list[list[float]], list[float]]:
    rng = random.Random(seed)
    x, y = [], []
    for _ in range(n):
        a, b, z = rng.uniform(0, 10), rng.uniform(0, 10), rng.uniform(0, 1)
        x.append([a, b, z])
        y.append(3 * a - 2 * b + rng.gauss(0, 0.1))
    return x, y


def fitted(tool_class: type[Tool]) -> Path:
    """A directory with a model of ``tool_class`` fitted on the synthetic table (once per process)."""
    if tool_class.name not in _FITTED:
        import numpy as np

        out = Path(tempfile.mkdtemp(prefix=f"chil-predictor-{tool_class.name}-"))
        x, y = synthetic_table()
        mod = importlib.import_module(tool_class.__module__)
        model_file = mod.fit(np.asarray(x), np.asarray(y), FEATURES, out, {"rounds": 150}, 0)
        ranges = {f: (min(r[k] for r in x), max(r[k] for r in x)) for k, f in enumerate(FEATURES)}
        P.write_spec(out, tool_class.name, model_file, "utility", FEATURES, ranges, len(x), {})
        _FITTED[tool_class.name] = out
    return _FITTED[tool_class.name]


def predict_call(model: Path, rows: list[list[Any]], contributions: bool = True, sha: str | None = None) -> ToolCall:
    payload: dict[str, Any] = {"model": str(model), "rows": rows, "contributions": contributions}
    payload["sha256"] = sha if sha is not None else P.load_spec(model).sha256
    return ToolCall(capability="predictor", op="predict", payload=payload)


class PredictorConformance(ToolConformance):
    options: ClassVar[dict[str, Any]] = {}

    def sample_calls(self) -> list[ToolCall]:
        self._skip_if_unavailable()
        model = fitted(self.tool_class)
        return [predict_call(model, [[9, 1, 0.5], [1, 9, 0.5]]), predict_call(model, [[5, 5, 0.1]], contributions=False)]

    def hostile_calls(self) -> list[ToolCall]:
        self._skip_if_unavailable()
        model = fitted(self.tool_class)
        return [predict_call(model, [[float("nan"), 1, 0]]), predict_call(model, [[1, 2]]),
                predict_call(model, [[1, 2, 3]], sha="0" * 64),
                ToolCall(capability="predictor", op="predict", payload={"model": "/nonexistent", "rows": [[1, 2, 3]]}),
                predict_call(model, [[1, 2, 3]] * (P.MAX_ROWS + 1))]

    def test_predictions_follow_the_signal_and_contributions_add_up(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            res = _norm(tool.run_batch([predict_call(fitted(self.tool_class), [[9, 1, 0.5], [1, 9, 0.5], [5, 5, 0.5]])])[0])
        finally:
            tool.close()
        assert res.status == "ok", res.error
        high, low, mid = res.value["predictions"]
        assert high > mid > low and abs(high - 25) < 3 and abs(low + 15) < 3
        for pred, row in zip(res.value["predictions"], res.value["contributions"], strict=True):
            assert len(row) == len(FEATURES) + 1 and abs(sum(row) - pred) < 1e-3
            assert abs(row[0]) > abs(row[2]) and abs(row[1]) > abs(row[2])  # noise matters least

    def test_hostile_payloads_get_clear_errors(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            nan, short, sha, missing, many = [_norm(x) for x in tool.run_batch(self.hostile_calls())]
        finally:
            tool.close()
        assert nan.status == "error" and "finite" in (nan.error or "")
        assert short.status == "error" and "3 numbers" in (short.error or "")
        assert sha.status == "error" and "sha256" in (sha.error or "")
        assert missing.status == "error" and "chil_predictor.json" in (missing.error or "")
        assert many.status == "error" and "rows" in (many.error or "")

    def test_refuses_a_model_of_another_backend(self, tmp_path: Path) -> None:
        self._skip_if_unavailable()
        model = fitted(self.tool_class)
        spec = P.load_spec(model)
        P.write_spec(tmp_path, "other-backend", spec.model_file.name, "utility", FEATURES, {}, 1, {})
        (tmp_path / spec.model_file.name).write_bytes(spec.model_file.read_bytes())
        tool = self.make_tool()
        try:
            res = _norm(tool.run_batch([predict_call(tmp_path, [[1, 2, 3]])])[0])
        finally:
            tool.close()
        assert res.status == "error" and "other-backend" in (res.error or "")

    def test_ranks_like_every_other_predictor_backend(self) -> None:
        from chil_core.plugins import get_registry

        self._skip_if_unavailable()
        others = [cls for cls in get_registry().tools.get("predictor", {}).values()
                  if cls.name != self.tool_class.name and not cls.unavailable_reason()]
        if not others:
            import pytest

            pytest.skip("no other predictor backend installed")
        rows = [[a, b, 0.5] for a in (1, 5, 9) for b in (1, 5, 9)]
        truth = [3 * a - 2 * b for a, b, _ in rows]
        for cls in [self.tool_class, *others]:
            tool = cls(cls.Options())
            tool.start()
            try:
                res = _norm(tool.run_batch([predict_call(fitted(cls), rows, contributions=False)])[0])
            finally:
                tool.close()
            preds = res.value["predictions"]
            best, worst = preds.index(max(preds)), preds.index(min(preds))
            assert best == truth.index(max(truth)) and worst == truth.index(min(truth)), cls.name
