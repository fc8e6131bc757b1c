"""``XGBoostPredictor``: the ``predictor`` backend ``xgboost``.  Predicts with a booster fitted by
``chil fit-predictor --backend xgboost`` and gives each prediction's per-feature contributions
(``pred_contribs``: SHAP values plus the bias, summing to the prediction).  Loaded boosters are kept per
(path, digest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities import predictor as P


class XGBoostOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threads: int = Field(default=1, ge=1, le=64, description="Threads per prediction call.")


class XGBoostPredictor(Tool):
    name: ClassVar[str] = "xgboost"
    capability: ClassVar[str] = "predictor"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "XGBoost boosted trees: predictions with pred_contribs."
    ops: ClassVar[frozenset[str]] = frozenset({"predict"})
    Options: ClassVar[type[BaseModel]] = XGBoostOptions
    isolation: ClassVar[str] = "thread"  # type: ignore[assignment]
    priority: ClassVar[int] = 10
    options: XGBoostOptions

    requires_modules: ClassVar[dict[str, str]] = {"xgboost": "xgboost-cpu", "numpy": "numpy"}

    def start(self) -> None:
        import numpy
        import xgboost

        self._xgb, self._np = xgboost, numpy
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
            booster = self._xgb.Booster()
            booster.load_model(str(spec.model_file))
            booster.set_param({"nthread": self.options.threads})
            self._boosters[key] = booster
        booster = self._boosters[key]
        dm = self._xgb.DMatrix(self._np.asarray(rows, dtype=float), feature_names=list(spec.features))
        preds = booster.predict(dm).tolist()
        cons = booster.predict(dm, pred_contribs=True).tolist() if contribs else None
        return P.answer(preds, cons)


def fit(x: Any, y: Any, features: list[str], out: Path, params: dict[str, Any], seed: int = 0) -> str:
    """Fit a regressor on (x, y) and save it in ``out``; returns the model file name."""
    import xgboost

    rounds = int(params.pop("rounds", 200))
    dm = xgboost.DMatrix(x, label=y, feature_names=features)
    booster = xgboost.train({"objective": "reg:squarederror", "max_depth": 4, "eta": 0.1, "seed": seed, "nthread": 1, **params},
                            dm, num_boost_round=rounds)
    booster.save_model(str(out / "model.json"))
    return "model.json"


def predict(out: Path, x: Any) -> Any:
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(str(out / "model.json"))
    return booster.predict(xgboost.DMatrix(x, feature_names=booster.feature_names))
