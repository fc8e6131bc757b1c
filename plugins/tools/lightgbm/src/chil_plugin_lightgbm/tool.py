"""``LightGBMPredictor``: the ``predictor`` backend ``lightgbm``.  Predicts with a booster fitted by
``chil fit-predictor --backend lightgbm`` and gives each prediction's per-feature contributions
(``pred_contrib``: SHAP values plus the bias).  Loaded boosters are kept per (path, digest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities import predictor as P


class LightGBMOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threads: int = Field(default=1, ge=1, le=64, description="Threads per prediction call.")


class LightGBMPredictor(Tool):
    name: ClassVar[str] = "lightgbm"
    capability: ClassVar[str] = "predictor"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "LightGBM boosted trees: predictions with pred_contrib."
    ops: ClassVar[frozenset[str]] = frozenset({"predict"})
    Options: ClassVar[type[BaseModel]] = LightGBMOptions
    isolation: ClassVar[str] = "thread"  # type: ignore[assignment]
    priority: ClassVar[int] = 5
    options: LightGBMOptions

    requires_modules: ClassVar[dict[str, str]] = {"lightgbm": "lightgbm", "numpy": "numpy"}

    def start(self) -> None:
        import lightgbm
        import numpy

        self._lgb, self._np = lightgbm, numpy
        self._boosters: dict[tuple[str, str], Any] = {}

    def run_one(self, call: ToolCall) -> Any:
        if call.op != "predict":
            return ToolResult.failure(f"unknown op {call.op!r}")
        try:
            spec, rows, contribs = P.load_predict(call.payload, self.name)
        except P.PredictorError as exc:
            return ToolResult.failure(str(exc))
        key = (str(spec.model_file), spec.sha256)
        if key not in self._boosters:
            self._boosters[key] = self._lgb.Booster(model_file=str(spec.model_file))
        booster = self._boosters[key]
        x = self._np.asarray(rows, dtype=float)
        preds = booster.predict(x, num_threads=self.options.threads).tolist()
        cons = booster.predict(x, pred_contrib=True, num_threads=self.options.threads).tolist() if contribs else None
        return P.answer(preds, cons)


def fit(x: Any, y: Any, features: list[str], out: Path, params: dict[str, Any], seed: int = 0) -> str:
    """Fit a regressor on (x, y) and save it in ``out``; returns the model file name."""
    import lightgbm

    rounds = int(params.pop("rounds", 200))
    ds = lightgbm.Dataset(x, label=y, feature_name=features, params={"verbose": -1})
    booster = lightgbm.train({"objective": "regression", "num_leaves": 15, "learning_rate": 0.1, "seed": seed,
                              "num_threads": 1, "verbose": -1, "deterministic": True, **params}, ds, num_boost_round=rounds)
    booster.save_model(str(out / "model.txt"))
    return "model.txt"


def predict(out: Path, x: Any) -> Any:
    import lightgbm

    return lightgbm.Booster(model_file=str(out / "model.txt")).predict(x)
