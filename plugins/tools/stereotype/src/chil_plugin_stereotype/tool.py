"""``WeatStereotype``: the ``stereotype`` capability from a group lexicon, WEAT-style associations on
the configured ``embedding`` backend, and a fitted linear head (``chil fit-stereotype``)."""

from __future__ import annotations

import importlib.util
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities.stereotype import parse_text

log = logging.getLogger(__name__)
SHIPPED_HEAD = Path(__file__).with_name("head.json")
#: the features that pair the group with the content (signed by who is named): the head's share of them
#: is the ``association`` a sentence is flagged on
_INTERACTIONS = ("m_assoc", "m_neg", "m_assoc_full")


def make_embedder(backend: str, options: dict[str, Any]) -> tuple[Callable[[list[str]], Any], Callable[[], None]]:
    """``embed(texts) -> unit-row matrix`` on the installed ``embedding`` backend ``backend``, and its close."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    installed = reg.tools.get("embedding", {})
    if backend not in installed:
        raise KeyError(f"embedding backend {backend!r} is not installed (installed: {', '.join(sorted(installed)) or 'none'})")
    cls = installed[backend]
    reason = reg.unavailable_reason(cls)
    if reason:
        raise RuntimeError(f"embedding backend {backend!r} is unavailable: {reason}")
    tool = cls(cls.Options.model_validate(options))
    tool.start()

    def embed(texts: list[str]) -> Any:
        matrix, _, _ = tool.encode_normalized(texts)  # type: ignore[attr-defined]
        return matrix

    return embed, tool.close


class WeatOptions(BaseModel):
    """``[tools.weat]``."""

    model_config = ConfigDict(extra="forbid")

    embedding: str = Field(default="wordllama", description="The embedding backend the associations are computed on.")
    embedding_options: dict[str, Any] = Field(default_factory=dict, description="Options of that backend.")
    head: str = Field(default="", description="Head fitted by `chil fit-stereotype` (JSON); empty = the shipped one.")


class WeatStereotype(Tool):
    """Group lexicon + WEAT associations on an embedding backend + a logistic head."""

    name: ClassVar[str] = "weat"
    capability: ClassVar[str] = "stereotype"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Stereotype probability: group lexicon, WEAT associations on the embedding backend, fitted linear head."
    ops: ClassVar[frozenset[str]] = frozenset({"score"})
    Options: ClassVar[type[BaseModel]] = WeatOptions
    isolation = "thread"
    max_batch = 256
    priority: ClassVar[int] = 10
    options: WeatOptions

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if importlib.util.find_spec("numpy") is None:
            return "numpy is needed"
        if importlib.util.find_spec("chil_plugin_wordllama") is None and importlib.util.find_spec("wordllama") is None:
            return "no embedding backend (install chil-plugin-wordllama)"
        return None

    def start(self) -> None:
        from chil_plugin_stereotype.features import FEATURES, Featurizer

        path = Path(self.options.head) if self.options.head else SHIPPED_HEAD
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"tools.weat.head: cannot read {path}: {exc}") from None
        if head.get("features") != list(FEATURES):
            raise RuntimeError(f"tools.weat.head: {path} was fitted on features {head.get('features')}, this version has {list(FEATURES)}")
        if head.get("embedding", {}).get("backend") != self.options.embedding:
            log.warning("weat: head %s was fitted on %r, used with %r", path, head.get("embedding", {}).get("backend"), self.options.embedding)
        self.weights = [float(w) for w in head["weights"]]
        self.intercept = float(head["intercept"])
        self._embed, self._close = make_embedder(self.options.embedding, self.options.embedding_options)
        self.featurizer = Featurizer(self._embed)
        self.feature_names = FEATURES

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        texts: list[str] = []
        out: list[ToolResult | Any] = [None] * len(calls)
        idx: list[int] = []
        for i, call in enumerate(calls):
            if call.op != "score":
                out[i] = ToolResult.failure(f"stereotype has no op {call.op!r}; ops: score")
                continue
            try:
                texts.append(parse_text(call.payload))
                idx.append(i)
            except ValueError as exc:
                out[i] = ToolResult.failure(str(exc))
        if texts:
            x, groups = self.featurizer.features(texts)
            for row, (i, text, g) in enumerate(zip(idx, texts, groups, strict=True)):
                terms = {n: w * float(v) for n, w, v in zip(self.feature_names, self.weights, x[row], strict=True)}
                z = self.intercept + sum(terms.values())
                association = sum(terms[n] for n in _INTERACTIONS)
                p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
                out[i] = {"group": g.term if g else None, "category": g.category if g else None,
                          "targeted": (g.sign > 0) if g else None, "phrase": text[:200],
                          "probability": round(p, 6), "association": round(association, 6),
                          "features": {n: round(float(v), 6) for n, v in zip(self.feature_names, x[row], strict=True)}}
        return out

    def close(self) -> None:
        close = getattr(self, "_close", None)
        if close is not None:
            close()
