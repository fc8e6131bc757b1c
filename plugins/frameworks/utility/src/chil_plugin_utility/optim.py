"""Optimisation claims: the model (from the record or the completion), the claimed solution and objective,
and their exact judgement against a solver's optimum.

Where the model comes from, first found wins: ``metadata.model`` (the ``solver`` contract), a structured
instance in ``metadata`` (:mod:`chil_plugin_utility.instances`), else the completion: a fenced ```lp```
block (CPLEX LP format) or a JSON block with ``variables`` (or ``{"model": {...}}``).

What the completion claims: ``{"solution": {"x": 3, "y": "2/3"}, "objective": 12}`` in a JSON block, the
structured answer of an instance (``selected``, ``assignment``...), or in words: ``x = 3`` lines for the
model's variables and "the optimal value is 12" / "minimum cost: $57" / ``#### 57``.  ``{"status":
"infeasible"}`` (or "unbounded") claims that no optimum exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from chil_plugin_empirical.answer import find_answer, read_answer
from chil_plugin_empirical.expr import Limits

from chil_core.capabilities import solver as S
from chil_plugin_utility import instances
from chil_plugin_utility.common import ClaimError, fenced_blocks, value
from chil_plugin_utility.lpformat import parse_lp

_OBJ_RE = re.compile(
    r"(?i)\b(?:optimal (?:objective )?value|objective(?: function)?(?: value)?|optimum|optimal cost|optimal profit|"
    r"min(?:imum|imal)? (?:total )?(?:cost|value)|(?:minimum |optimal )?makespan|max(?:imum|imal)? (?:total )?(?:profit|value|revenue)|total (?:cost|value|profit))"
    r"\s*(?:is|=|:|of|equals|will be|would be)\s*(?:about\s*)?([-$€£]?\s*[\d.,/]+(?:\s*/\s*\d+)?)")
_STATUS_RE = re.compile(r"(?i)\b(?:the (?:model|problem|lp) is|model is|problem is) (infeasible|unbounded)\b")


@dataclass
class OptClaims:
    solution: dict[str, Any] | None = None
    objective: Fraction | None = None
    status: str | None = None  # "infeasible" | "unbounded" claimed
    errors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.solution is None and self.objective is None and self.status is None and not self.errors


@dataclass
class ModelSource:
    model: S.Model | None
    origin: str  # metadata | instance | completion | none
    kind: str | None = None
    instance: dict[str, Any] | None = None
    error: str | None = None


def record_model(metadata: dict[str, Any], limits: dict[str, int]) -> ModelSource | None:
    """The model a record fixes, or None when it fixes none; a malformed one gives ``error``."""
    if "model" in metadata:
        try:
            return ModelSource(S.load_model(metadata["model"], "metadata.model", **limits), "metadata")
        except S.ModelError as exc:
            return ModelSource(None, "metadata", error=str(exc))
    for kind in instances.KINDS:
        if kind in metadata:
            try:
                raw = instances.model_of(kind, metadata[kind])
                return ModelSource(S.load_model(raw, f"metadata.{kind}", **limits), "instance", kind, metadata[kind])
            except S.ModelError as exc:
                return ModelSource(None, "instance", kind, error=str(exc))
    return None


def completion_model(text: str, blocks: list[dict[str, Any]], limits: dict[str, int]) -> ModelSource:
    for lang, body in reversed(fenced_blocks(text)):
        if lang in ("lp", "cplex") or (lang in ("", "text") and re.search(r"(?im)^\s*subject\s+to\s*$", body)):
            try:
                return ModelSource(S.load_model(parse_lp(body), "LP block", **limits), "completion")
            except S.ModelError as exc:
                return ModelSource(None, "completion", error=f"LP block: {exc}")
    for block in reversed(blocks):
        raw = block.get("model") if isinstance(block.get("model"), dict) else block if "variables" in block else None
        if raw is not None:
            raw = {k: v for k, v in raw.items() if k in ("sense", "variables", "objective", "constraints", "name")}
            try:
                return ModelSource(S.load_model(raw, "JSON model", **limits), "completion")
            except S.ModelError as exc:
                return ModelSource(None, "completion", error=str(exc))
    return ModelSource(None, "none")


def extract(src: ModelSource, text: str, blocks: list[dict[str, Any]], lim: Limits) -> OptClaims:
    out = OptClaims()
    for block in blocks:
        try:
            if isinstance(block.get("solution"), dict):
                out.solution = block["solution"]
            if src.kind and src.instance is not None:
                sol = instances.solution_of(src.kind, src.instance, block)
                if sol is not None:
                    out.solution = sol
            for key in ("objective_value", "optimal_value", "optimum", "objective", "makespan", "value", "answer"):
                if key in block and not isinstance(block[key], (dict, list)):
                    out.objective = value(block[key], key, lim)
                    break
            if isinstance(block.get("status"), str) and block["status"].lower() in ("infeasible", "unbounded"):
                out.status = block["status"].lower()
        except (ClaimError, S.ModelError) as exc:
            out.errors.append(str(exc))
    if out.solution is None and src.model is not None and src.origin != "instance":  # an instance's variables are internal
        names = {v.name for v in src.model.variables}
        if len(names) <= 200:
            found: dict[str, str] = {}
            for m in re.finditer(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?\d+(?:\.\d+)?(?:/\d+)?)(?!\d)(?!\.\d)", text):
                if m.group(1) in names:
                    found[m.group(1)] = m.group(2)
            if found:
                out.solution = found
    if out.objective is None:
        hits = list(_OBJ_RE.finditer(text))
        if hits:
            ans = read_answer(hits[-1].group(1), "objective", lim)
            if ans.value is not None:
                out.objective = ans.value
            else:
                out.errors.append(f"objective {hits[-1].group(1)[:40]!r} is not a number")
        else:
            ans = find_answer(text, False, lim)
            if ans is not None and ans.value is not None:
                out.objective = ans.value
    if out.status is None:
        m = _STATUS_RE.search(text)
        if m:
            out.status = m.group(1).lower()
    return out


def reference_value(reference: dict[str, Any] | None) -> tuple[Fraction, Fraction] | None:
    """(reference answer, tolerance): half a unit of its last written decimal (``"57.0"`` → 0.05)."""
    if not reference or reference.get("answer") is None:
        return None
    raw = str(reference["answer"]).strip()
    ans = read_answer(raw)
    if ans.value is None:
        return None
    m = re.search(r"\.(\d+)", raw)
    decimals = len(m.group(1)) if m else 0
    return ans.value, Fraction(1, 2 * 10**decimals)


def answer_matches(claimed: Fraction, ref: tuple[Fraction, Fraction]) -> bool:
    value_, tol = ref
    return abs(claimed - value_) <= max(tol, abs(value_) * Fraction(1, 10**6))
