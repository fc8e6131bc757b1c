"""``LightGBMPredictor``: the ``predictor`` backend ``lightgbm``.  Predicts with a booster fitted by
``chil fit-predictor --backend lightgbm`` and gives each prediction's per-feature contributions
(``pred_contrib``: SHAP values plus the bias).  Loaded boosters are kept per (path, digest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from chil_core.capabilities import predictor as P
from chil_core.capabilities.predictor import PredictorTool


class LightGBMPredictor(PredictorTool):
    name: ClassVar[str] = "lightgbm"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "LightGBM boosted trees: predictions with pred_contrib."
    priority: ClassVar[int] = 5

    requires_modules: ClassVar[dict[str, str]] = {"lightgbm": "lightgbm", "numpy": "numpy"}

    def load_booster(self, model_file: Path, spec: P.Spec) -> Any:
        import lightgbm

        return lightgbm.Booster(model_file=str(model_file))

    def predict_rows(self, booster: Any, rows: list[list[float]], spec: P.Spec,
                     contributions: bool) -> tuple[list[float], list[list[float]] | None]:
        import numpy

        x = numpy.asarray(rows, dtype=float)
        preds = booster.predict(x, num_threads=self.options.threads).tolist()
        cons = booster.predict(x, pred_contrib=True, num_threads=self.options.threads).tolist() if contributions else None
        return preds, cons


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
