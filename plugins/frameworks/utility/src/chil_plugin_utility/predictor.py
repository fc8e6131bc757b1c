"""Learned outcome predictors: ``chil fit-predictor`` (fit a ``predictor`` backend on a user's table) and
the judgement of a decision by its predicted utility.

Record: ``metadata.predictor = {"candidates": [{"name": "A", "features": {"price": 3, ...}}, ...]}``, the
candidate decisions of the prompt.  The completion picks one (``{"choice": "A"}`` or "choose A") or
describes its own (``{"decision": {"price": 3, ...}}``); every feature must lie inside the range seen in
the training table (outside it the trees only extrapolate: such a decision is rejected).  Score: the
chosen decision's predicted utility relative to the candidates', ``(u - min) / (max - min)`` (1 for the
best candidate); evidence: the top feature contributions (``pred_contribs``) of the chosen decision.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import click

from chil_core.capabilities import predictor as P

MAX_TABLE_ROWS = 5_000_000


def read_table(path: Path) -> tuple[list[str], list[list[float | None]]]:
    """(columns, rows) of a CSV or Parquet table; cells that are not numbers are None."""
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise click.UsageError("reading Parquet needs pyarrow (pip install pyarrow)") from None
        table = pq.read_table(path)
        cols = table.column_names
        data = [table.column(c).to_pylist() for c in cols]
        rows = [[_num(data[j][i]) for j in range(len(cols))] for i in range(table.num_rows)]
        return cols, rows
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            cols = next(reader)
        except StopIteration:
            raise click.UsageError(f"{path}: empty table") from None
        rows = []
        for line, row in enumerate(reader, start=2):
            if len(row) != len(cols):
                raise click.UsageError(f"{path}:{line}: {len(row)} cells, the header has {len(cols)}")
            rows.append([_num(x) for x in row])
            if len(rows) > MAX_TABLE_ROWS:
                raise click.UsageError(f"{path}: more than {MAX_TABLE_ROWS} rows")
    return cols, rows


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fit_predictor(table: Path, target: str, features: list[str] | None, backend: str, out: Path, seed: int = 0,
                  holdout: float = 0.2, rounds: int = 200) -> dict[str, Any]:
    """Fit ``backend`` on ``table`` and write the predictor directory ``out``; returns the spec."""
    import numpy as np

    from chil_core.plugins import get_registry

    reg = get_registry()
    choices = sorted(reg.tools.get("predictor", {}))
    if backend not in choices:
        raise click.BadParameter(f"unknown predictor backend {backend!r}; installed: {', '.join(choices) or 'none'}", param_hint="--backend")
    cls = reg.tools["predictor"][backend]
    why = cls.unavailable_reason()
    if why:
        raise click.UsageError(f"backend {backend} unavailable: {why}")
    cols, rows = read_table(table)
    if target not in cols:
        raise click.BadParameter(f"no column {target!r} in {table} (columns: {', '.join(cols)})", param_hint="--target")
    t = cols.index(target)
    if features is None:
        features = [c for j, c in enumerate(cols) if j != t and all(r[j] is not None for r in rows)]
    missing = [f for f in features if f not in cols]
    if missing:
        raise click.BadParameter(f"no column(s) {', '.join(missing)} in {table}", param_hint="--features")
    idx = [cols.index(f) for f in features]
    clean = []
    for i, r in enumerate(rows):
        bad = [cols[j] for j in [*idx, t] if r[j] is None]
        if bad:
            raise click.UsageError(f"{table}: data row {i + 1}: column(s) {', '.join(bad)} not a finite number")
        clean.append(r)
    if len(clean) < 10:
        raise click.UsageError(f"{table}: {len(clean)} rows; at least 10 are needed")
    order = list(range(len(clean)))
    random.Random(seed).shuffle(order)
    n_hold = int(len(order) * holdout)
    hold, train = order[:n_hold], order[n_hold:]
    x = np.asarray([[clean[i][j] for j in idx] for i in range(len(clean))], dtype=float)
    y = np.asarray([clean[i][t] for i in range(len(clean))], dtype=float)
    out.mkdir(parents=True, exist_ok=True)
    mod = importlib.import_module(cls.__module__)
    model_file = mod.fit(x[train], y[train], features, out, {"rounds": rounds}, seed)
    metrics = {"train_rmse": float(np.sqrt(np.mean((mod.predict(out, x[train]) - y[train]) ** 2)))}
    if hold:
        metrics["holdout_rmse"] = float(np.sqrt(np.mean((mod.predict(out, x[hold]) - y[hold]) ** 2)))
    ranges = {f: (float(x[:, k].min()), float(x[:, k].max())) for k, f in enumerate(features)}
    P.write_spec(out, backend, model_file, target, features, ranges, len(clean), metrics)
    return {"backend": backend, "features": features, "rows": len(clean), "metrics": metrics}


@click.command("fit-predictor")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", required=True, help="Column holding the utility to predict.")
@click.option("--features", default=None, help="Comma-separated feature columns (default: every other numeric column).")
@click.option("--backend", default="xgboost", show_default=True, help="predictor backend: xgboost or lightgbm.")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path), help="Directory to write.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--holdout", default=0.2, show_default=True, type=click.FloatRange(0, 0.9), help="Share of rows held out for the RMSE.")
@click.option("--rounds", default=200, show_default=True, type=click.IntRange(1, 100_000), help="Boosting rounds.")
def fit_predictor_command(table: Path, target: str, features: str | None, backend: str, output: Path, seed: int,
                          holdout: float, rounds: int) -> None:
    """Fit a utility predictor (XGBoost / LightGBM) on a CSV or Parquet table, for the utility framework."""
    feats = [f.strip() for f in features.split(",") if f.strip()] if features else None
    spec = fit_predictor(table, target, feats, backend, output, seed, holdout, rounds)
    click.echo(json.dumps({"output": str(output), **spec}))


# ---------------------------------------------------------------------------------------------
# judging
# ---------------------------------------------------------------------------------------------
_CHOICE_RE = re.compile(r"(?i)\b(?:choose|pick|select|recommend|go with|best (?:choice|option|decision) is)\s+(?:option |candidate )?['\"]?([\w-]+)")


def decision_rows(spec: P.Spec, md: dict[str, Any], blocks: list[dict[str, Any]], text: str) -> tuple[list[str], list[list[float]], int | None, str | None]:
    """(names, feature rows of the candidates [+ the completion's own decision], index of the chosen row or
    None, problem with the completion's decision or None).  Raises ValueError for a malformed record."""
    cands = md.get("candidates")
    if not isinstance(cands, list) or not 1 <= len(cands) <= 1000:
        raise ValueError("metadata.predictor.candidates must list 1 to 1000 candidate decisions")
    names, rows = [], []
    for i, c in enumerate(cands):
        if not isinstance(c, dict) or not isinstance(c.get("features"), dict):
            raise ValueError(f"metadata.predictor.candidates[{i}] must be {{name, features}}")
        names.append(str(c.get("name", i)))
        rows.append(_row(spec, c["features"], f"metadata.predictor.candidates[{i}].features"))
    claim: dict[str, Any] = {}
    for b in blocks:
        claim.update(b)
    if isinstance(claim.get("decision"), dict):
        try:
            row = _row(spec, claim["decision"], "decision")
        except ValueError as exc:
            return names, rows, None, str(exc)
        for f, v in zip(spec.features, row, strict=True):
            lo, hi = spec.ranges.get(f, (-math.inf, math.inf))
            if not lo <= v <= hi:
                return names, rows, None, f"decision.{f} = {v:g} is outside the fitted range [{lo:g}, {hi:g}]"
        names.append("(the completion's decision)")
        rows.append(row)
        return names, rows, len(rows) - 1, None
    choice = claim.get("choice")
    if choice is None:
        hits = [h for h in _CHOICE_RE.findall(text) if h in names]
        choice = hits[-1] if hits else None
    if choice is None:
        return names, rows, None, "no decision chosen"
    if str(choice) not in names:
        return names, rows, None, f"choice {str(choice)[:40]!r} is not a candidate ({', '.join(names[:10])})"
    return names, rows, names.index(str(choice)), None


def _row(spec: P.Spec, feats: dict[str, Any], where: str) -> list[float]:
    out = []
    for f in spec.features:
        v = feats.get(f)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{where}.{f} must be a finite number")
        out.append(float(v))
    return out
