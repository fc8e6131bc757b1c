"""``XGBoostPredictor``: the ``predictor`` backend ``xgboost``.  Predicts with a booster fitted by
``chil fit-predictor --backend xgboost`` and gives each prediction's per-feature contributions
(``pred_contribs``: SHAP values plus the bias, summing to the prediction).  Loaded boosters are kept per
(path, digest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from chil_core.capabilities import predictor as P
from chil_core.capabilities.predictor import PredictorTool


class XGBoostPredictor(PredictorTool):
    name: ClassVar[str] = "xgboost"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "XGBoost boosted trees: predictions with pred_contribs."
    priority: ClassVar[int] = 10

    requires_modules: ClassVar[dict[str, str]] = {"xgboost": "xgboost-cpu", "numpy": "numpy"}

    def load_booster(self, model_file: Path, spec: P.Spec) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(model_file))
        booster.set_param({"nthread": self.options.threads})
        return booster

    def predict_rows(self, booster: Any, rows: list[list[float]], spec: P.Spec,
                     contributions: bool) -> tuple[list[float], list[list[float]] | None]:
        import numpy
        import xgboost

        dm = xgboost.DMatrix(numpy.asarray(rows, dtype=float), feature_names=list(spec.features))
        preds = booster.predict(dm).tolist()
        cons = booster.predict(dm, pred_contribs=True).tolist() if contributions else None
        return preds, cons


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
