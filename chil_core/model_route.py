"""A model beside every framework's tools: the optional ``[frameworks.<name>.model]`` route.

```toml
[frameworks.empirical.model]
backend = "onnx"                      # any installed `model` backend: "onnx", "transformers"
path = "models/empirical-student"     # a model directory (chil model distill / fit, then export)
weight = 0.3                          # the framework's weight on records the model scored (default: its own)
template = "{completion}"             # the model's input; {prompt} and {completion} are replaced
compare = true                        # also run it where the tools scored: disagreement as a component
min_confidence = 0.0                  # below this top probability the tools' abstention stands
timeout_s = 120                       # one batch of model calls (the first loads the model)
# label_scores = { right = 1.0, wrong = 0.0 }   # default: the card's label_scores
```

With no ``model`` table nothing changes.  With one, the framework's results are post-processed (any
framework, no code of its own needed):

- **the tools abstained** (nothing they could parse) and the completion is not empty: the model
  classifies the text.  When its most probable label is ``abstained`` (a distilled student learns
  where its teacher abstains) or below ``min_confidence``, the abstention stands (with the model's
  components added); otherwise the result becomes ``scored`` with ``score = Σ p(label)·label_scores[label]``,
  ``components.model_score`` and ``model_confidence``, ``verdict = "model:<label>"``, evidence of kind
  ``model`` naming the backend and the model directory, and the route's own ``weight`` for this record;
- **the tools scored**: they stay the authority.  With ``compare`` the model's score is added as
  ``components.model_score`` and ``components.model_disagreement = |tools − model|``; the score is not
  changed;
- a **timeout / error** (including a failure the completion caused) is never replaced: a policy cannot
  escape a penalty through the model.  A model call that fails leaves the tools' result as it was and
  is logged.

Model calls go through the scheduler like tool calls (batched, deduplicated, cached, timed out); the
cache key carries a fingerprint of the model directory, so a model rewritten in place is not answered
from the cache.  A route naming an unknown backend, a missing or corrupt model directory, or labels
the model does not have is a config error at load, naming the field and the file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    from chil_core.config import Settings
    from chil_core.contracts import FrameworkResult, Record
    from chil_core.plugins import Registry
    from chil_core.scheduler import Backend, Scheduler

log = logging.getLogger(__name__)


class ModelRoute(BaseModel):
    """``[frameworks.<name>.model]``: see the module docstring."""

    model_config = ConfigDict(extra="forbid")

    backend: str = Field(default="onnx", description="An installed `model` backend.")
    path: str = Field(description="Model directory.")
    weight: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                 description="Weight of the framework on records the model scored (default: the framework's).")
    template: str = Field(default="{completion}", description="Model input; {prompt} and {completion} are replaced.")
    compare: bool = Field(default=True, description="Also run the model where the tools scored (disagreement component).")
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="Below this top probability the abstention stands.")
    label_scores: dict[str, float] | None = Field(default=None, description="Score of each label (default: the model card's).")
    timeout_s: float = Field(default=120.0, gt=0, description="Timeout of one batch of model calls (the first one loads the model); "
                             "a longer [scheduler.backends.<backend>] timeout_s wins.")


def resolve_route(name: str, route: ModelRoute, registry: Registry, errors: list[tuple[str, str]]) -> None:
    """Check a framework's route against the installed backends and its model directory (in place:
    ``label_scores`` filled from the card).  Problems go to ``errors`` with their field path."""
    from chil_core.capabilities.model import CAPABILITY, ModelDirError, read_card

    path = f"frameworks.{name}.model"
    choices = registry.backends(CAPABILITY)
    if route.backend not in choices:
        errors.append((f"{path}.backend", f"unknown model backend {route.backend!r}; installed model backends: "
                       f"{', '.join(choices) or '(none installed)'}" + registry.explain_missing()))
        return
    reason = registry.unavailable_reason(registry.tool(CAPABILITY, route.backend))
    if reason:
        errors.append((f"{path}.backend", f"model backend {route.backend!r} is installed but unavailable: {reason}"))
        return
    if "{completion}" not in route.template and "{prompt}" not in route.template:
        errors.append((f"{path}.template", "must contain {completion} or {prompt}"))
    try:
        card = read_card(route.path)
    except ModelDirError as exc:
        errors.append((f"{path}.path", str(exc)))
        return
    if card.get("kind") != "classifier":
        errors.append((f"{path}.path", f"{Path(route.path) / 'chil-model.json'}: the route needs a classifier; kind is {card.get('kind')!r}"))
        return
    labels = list(card.get("labels") or [])
    scores = route.label_scores if route.label_scores is not None else card.get("label_scores")
    if not scores:
        errors.append((f"{path}.label_scores", f"the model card {Path(route.path) / 'chil-model.json'} has no label_scores; "
                       f"give the score of each label {labels}"))
        return
    unknown = sorted(set(scores) - set(labels))
    if unknown:
        errors.append((f"{path}.label_scores", f"labels {unknown} are not the model's; its labels: {labels}"))
        return
    route.label_scores = {k: float(scores.get(k, 0.0)) for k in labels}


class RouteRuntime:
    """A resolved route with its scheduler backend."""

    def __init__(self, framework: str, route: ModelRoute, backend: Backend) -> None:
        from chil_core.capabilities.model import fingerprint, read_card

        self.framework = framework
        self.route = route
        self.backend = backend
        self.directory = str(Path(route.path).expanduser().resolve())
        self.card = read_card(self.directory)
        self.fingerprint = fingerprint(self.directory)
        self.scores: dict[str, float] = dict(route.label_scores or {})
        self.name = f"{route.backend}:{Path(self.directory).name}"

    def text(self, record: Record) -> str:
        return self.route.template.replace("{prompt}", record.prompt).replace("{completion}", record.completion)

    def call(self, text: str) -> Any:
        from chil_core.contracts import ToolCall

        return ToolCall(capability="model", op="classify",
                        payload={"texts": [text], "model": self.directory, "fingerprint": self.fingerprint})


def build_routes(scheduler: Scheduler, settings: Settings, registry: Registry) -> dict[str, RouteRuntime]:
    """One :class:`RouteRuntime` per enabled framework with a ``model`` table."""
    from chil_core.capabilities.model import CAPABILITY
    from chil_core.config import backend_options

    out: dict[str, RouteRuntime] = {}
    for name, fs in settings.enabled_frameworks().items():
        route = getattr(fs, "model", None)
        if route is None:
            continue
        cls = registry.tool(CAPABILITY, route.backend)
        run = settings.scheduler.for_tool(cls, route.backend)
        run = run.model_copy(update={"timeout_s": max(run.timeout_s or 0.0, route.timeout_s)})
        options = backend_options(cls, settings.tools.get(route.backend, {}))
        out[name] = RouteRuntime(name, route, scheduler.add_backend(cls, options, run))
    return out


def _judge(rt: RouteRuntime, value: Any) -> tuple[float, str, float, dict[str, float], bool]:
    """(score, top label, its probability, probabilities, truncated) from a classify answer."""
    labels, probs = value["labels"], value["probs"][0]
    p = dict(zip(labels, probs, strict=True))
    top = max(p, key=lambda k: p[k])
    score = sum(p[k] * rt.scores.get(k, 0.0) for k in labels)
    return score, top, p[top], p, bool(value.get("truncated"))


async def apply_routes(routes: Mapping[str, RouteRuntime], names: Sequence[str], records: Sequence[Record],
                       per_fw: list[list[FrameworkResult]], weights: Mapping[str, float],
                       timeout: float = 60.0) -> list[dict[str, float]] | None:
    """Apply each framework's model route to its results (in place); returns per-record weights when a
    route with its own weight scored a record, else None."""
    import asyncio

    from chil_core.capabilities.model import ABSTAINED
    from chil_core.contracts import Evidence, FrameworkResult, ToolResult

    if not routes:
        return None
    pending: list[tuple[int, int, RouteRuntime, Any]] = []
    touched = set()
    for j, name in enumerate(names):
        rt = routes.get(name)
        if rt is None:
            continue
        for i, (record, result) in enumerate(zip(records, per_fw[j], strict=True)):
            if not record.completion.strip():
                continue  # nothing to read: the tools' verdict on an empty completion stands
            if result.status == "abstained" or (result.status == "scored" and rt.route.compare):
                pending.append((j, i, rt, rt.backend.enqueue(rt.call(rt.text(record)))))
                touched.add(rt.backend)
    if not pending:
        return None
    for b in touched:
        b.flush()
    waiting = [a for *_, a in pending if not isinstance(a, ToolResult)]
    if waiting:
        await asyncio.wait(waiting, timeout=timeout)
    out: list[dict[str, float]] | None = None
    for j, i, rt, answer in pending:
        if not isinstance(answer, ToolResult) and not answer.done():
            log.warning("model route of %s on record %r: no answer within %gs", rt.framework, records[i].id, timeout)
            continue
        res = answer if isinstance(answer, ToolResult) else answer.result()
        old = per_fw[j][i]
        if not res.ok:
            log.warning("model route of %s on record %r: %s %s", rt.framework, records[i].id, res.status, res.error)
            continue
        try:
            score, top, conf, probs, truncated = _judge(rt, res.value)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            log.warning("model route of %s: malformed answer %r (%s)", rt.framework, res.value, exc)
            continue
        ev = Evidence(kind="model", text=f"model {rt.name} ({rt.directory}) says {top!r} with p={conf:.3f}"
                      + (" (input truncated)" if truncated else ""),
                      data={"backend": rt.route.backend, "model": rt.directory, "label": top, "probs": probs,
                            "score": round(score, 6), "truncated": truncated, "cached": res.cached})
        comps = {"model_score": round(score, 6), "model_confidence": round(conf, 6)}
        if truncated:
            comps["model_truncated"] = 1.0
        if old.status == "scored":
            assert old.score is not None
            comps["model_disagreement"] = round(abs(old.score - score), 6)
            per_fw[j][i] = old.model_copy(update={"components": {**old.components, **comps}, "evidence": [*old.evidence, ev]})
            continue
        if top == ABSTAINED or conf < rt.route.min_confidence:  # the model sees nothing to judge either
            per_fw[j][i] = old.model_copy(update={"components": {**old.components, **comps}, "evidence": [*old.evidence, ev]})
            continue
        per_fw[j][i] = FrameworkResult.scored(
            score, components={**old.components, **comps}, verdict=f"model:{top}", evidence=[*old.evidence, ev],
            explanation=f"tools abstained ({old.explanation or 'nothing to judge'}); scored by model {rt.name}")
        if rt.route.weight is not None:
            if out is None:
                out = [dict(weights) for _ in records]
            out[i][rt.framework] = float(rt.route.weight)
    return out
