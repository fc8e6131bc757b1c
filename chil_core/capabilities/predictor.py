"""The ``predictor`` capability's data: a fitted outcome model on disk, and the ``predict`` op contract.

A predictor is fitted by ``chil fit-predictor`` (the ``utility`` plugin) with one backend (``xgboost``,
``lightgbm``) into a directory holding the backend's model file and ``chil_predictor.json``::

    {"backend": "xgboost", "model_file": "model.json", "target": "utility",
     "features": ["price", "quality"], "ranges": {"price": [1.0, 9.5], ...}, "rows": 500,
     "metrics": {"train_rmse": 0.12, "holdout_rmse": 0.2}}

Op ``predict``::

    payload {"model": "/path/to/dir", "sha256": "<digest of the model file>",
             "rows": [[x11, x12, ...], ...], "contributions": true}
    value   {"predictions": [float, ...],
             "contributions": [[c1, ..., cn, bias], ...] | null}    # pred_contribs: sum = prediction

``sha256`` pins the content of the model file, so that cached answers (keyed by the payload) never
outlive a refit; a backend refuses a model whose digest differs.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

SPEC_FILE = "chil_predictor.json"
MAX_ROWS = 10_000
MAX_FEATURES = 1_000


class PredictorError(ValueError):
    """A malformed predictor directory or payload; the message names the part."""


@dataclass(frozen=True, slots=True)
class Spec:
    path: Path
    backend: str
    model_file: Path
    target: str
    features: tuple[str, ...]
    ranges: dict[str, tuple[float, float]]
    sha256: str
    metrics: dict[str, float]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_spec(directory: str | Path) -> Spec:
    """Read and check a fitted predictor directory."""
    path = Path(directory)
    spec_path = path / SPEC_FILE
    if not spec_path.is_file():
        raise PredictorError(f"{path}: no {SPEC_FILE} (fit one with `chil fit-predictor`)")
    try:
        data = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PredictorError(f"{spec_path}: unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise PredictorError(f"{spec_path}: must be an object")
    for key in ("backend", "model_file", "target", "features"):
        if key not in data:
            raise PredictorError(f"{spec_path}: missing field {key!r}")
    feats = data["features"]
    if not isinstance(feats, list) or not feats or len(feats) > MAX_FEATURES or not all(isinstance(f, str) for f in feats):
        raise PredictorError(f"{spec_path}: features must be a list of 1 to {MAX_FEATURES} names")
    model_file = path / str(data["model_file"])
    if model_file.resolve().parent != path.resolve() or not model_file.is_file():
        raise PredictorError(f"{spec_path}: model_file {data['model_file']!r} is not a file in {path}")
    ranges = {}
    for f, r in (data.get("ranges") or {}).items():
        if isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) for x in r):
            ranges[f] = (float(r[0]), float(r[1]))
    return Spec(path, str(data["backend"]), model_file, str(data["target"]), tuple(feats), ranges,
                file_digest(model_file), {k: float(v) for k, v in (data.get("metrics") or {}).items()})


def write_spec(directory: Path, backend: str, model_file: str, target: str, features: list[str],
               ranges: dict[str, tuple[float, float]], rows: int, metrics: dict[str, float]) -> None:
    spec = {"backend": backend, "model_file": model_file, "target": target, "features": features,
            "ranges": {k: list(v) for k, v in ranges.items()}, "rows": rows, "metrics": metrics}
    tmp = directory / (SPEC_FILE + ".tmp")
    tmp.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    tmp.replace(directory / SPEC_FILE)


def load_predict(payload: Any, backend: str) -> tuple[Spec, list[list[float]], bool]:
    """Validate a ``predict`` payload for ``backend``: (spec, rows, contributions wanted)."""
    if not isinstance(payload, dict):
        raise PredictorError("payload must be an object {model, sha256, rows, contributions}")
    if not isinstance(payload.get("model"), str):
        raise PredictorError("payload.model must be the path of a fitted predictor directory")
    spec = load_spec(payload["model"])
    if spec.backend != backend:
        raise PredictorError(f"payload.model was fitted with {spec.backend!r}, not {backend!r}")
    if payload.get("sha256") not in (None, spec.sha256):
        raise PredictorError("payload.sha256 does not match the model file (refitted since?)")
    rows = payload.get("rows")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_ROWS:
        raise PredictorError(f"payload.rows must be a list of 1 to {MAX_ROWS} rows")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(spec.features):
            raise PredictorError(f"payload.rows[{i}] must have {len(spec.features)} numbers ({', '.join(spec.features)})")
        vals = []
        for j, x in enumerate(row):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                raise PredictorError(f"payload.rows[{i}][{j}] ({spec.features[j]}) must be a finite number")
            vals.append(float(x))
        out.append(vals)
    return spec, out, bool(payload.get("contributions", False))


def answer(predictions: list[float], contributions: list[list[float]] | None) -> dict[str, Any]:
    return {"predictions": [float(p) for p in predictions],
            "contributions": [[float(c) for c in row] for row in contributions] if contributions is not None else None}


class PredictorOptions(BaseModel):
    """Options every predictor backend accepts (``[tools.<backend>]``)."""

    model_config = ConfigDict(extra="forbid")

    threads: int = Field(default=1, ge=1, le=64, description="Threads per prediction call.")


class PredictorTool(Tool):
    """Base of the boosted-tree backends: the ``predict`` op on a directory :func:`load_predict` checks,
    boosters loaded once per (model file, digest).  A backend implements :meth:`load_booster` and
    :meth:`predict_rows`."""

    capability: ClassVar[str] = "predictor"
    ops: ClassVar[frozenset[str]] = frozenset({"predict"})
    Options: ClassVar[type[BaseModel]] = PredictorOptions
    isolation: ClassVar[str] = "thread"  # type: ignore[assignment]
    options: PredictorOptions

    def start(self) -> None:
        self._boosters: dict[tuple[str, str], Any] = {}

    def load_booster(self, model_file: Path, spec: Spec) -> Any:
        raise NotImplementedError

    def predict_rows(self, booster: Any, rows: list[list[float]], spec: Spec,
                     contributions: bool) -> tuple[list[float], list[list[float]] | None]:
        """Predictions of ``rows``, and their per-feature contributions (plus the bias) when asked."""
        raise NotImplementedError

    def run_one(self, call: ToolCall) -> Any:
        if call.op != "predict":
            return ToolResult.failure(f"unknown op {call.op!r}")
        try:
            spec, rows, contribs = load_predict(call.payload, self.name)
        except PredictorError as exc:
            return ToolResult.failure(str(exc))
        key = (str(spec.model_file), spec.sha256)
        if key not in self._boosters:
            self._boosters[key] = self.load_booster(spec.model_file, spec)
        return answer(*self.predict_rows(self._boosters[key], rows, spec, contribs))
