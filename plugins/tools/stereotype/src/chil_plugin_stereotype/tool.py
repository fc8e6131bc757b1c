"""``WeatStereotype``: the ``stereotype`` capability from a group lexicon, WEAT-style associations on
the configured ``embedding`` backend, and a fitted linear head (``chil fit-stereotype``)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core.capabilities.embedding import start_embedder
from chil_core.capabilities.stereotype import StereotypeTool

log = logging.getLogger(__name__)
SHIPPED_HEAD = Path(__file__).with_name("head.json")
#: the features that pair the group with the content (signed by who is named): the head's share of them
#: is the ``association`` a sentence is flagged on
_INTERACTIONS = ("m_assoc", "m_neg", "m_assoc_full")


def make_embedder(backend: str, options: dict[str, Any]) -> tuple[Callable[[list[str]], Any], Callable[[], None]]:
    """``embed(texts) -> unit-row matrix`` on the installed ``embedding`` backend ``backend``, and its close
    (``ValueError`` when the backend is not installed or unavailable)."""
    tool = start_embedder(backend, options)

    def embed(texts: list[str]) -> Any:
        return tool.encode_normalized(texts)[0]

    return embed, tool.close


class WeatOptions(BaseModel):
    """``[tools.weat]``."""

    model_config = ConfigDict(extra="forbid")

    embedding: str = Field(default="wordllama", description="The embedding backend the associations are computed on.")
    embedding_options: dict[str, Any] = Field(default_factory=dict, description="Options of that backend.")
    head: str = Field(default="", description="Head fitted by `chil fit-stereotype` (JSON); empty = the shipped one.")


class WeatStereotype(StereotypeTool):
    """Group lexicon + WEAT associations on an embedding backend + a logistic head."""

    name: ClassVar[str] = "weat"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Stereotype probability: group lexicon, WEAT associations on the embedding backend, fitted linear head."
    Options: ClassVar[type[BaseModel]] = WeatOptions
    max_batch = 256
    priority: ClassVar[int] = 10
    requires_modules: ClassVar[dict[str, str]] = {"numpy": "numpy"}
    options: WeatOptions

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """The declared modules, and the reason of the default embedding backend, wordllama (a declared
        dependency; another configured backend is checked when the tool starts)."""
        from chil_plugin_wordllama.tool import WordLlamaEmbedding

        reason = super().unavailable_reason()
        embedding = WordLlamaEmbedding.unavailable_reason()
        return reason or (f"the default embedding backend wordllama is unavailable: {embedding}" if embedding else None)

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

    def score_texts(self, texts: list[str]) -> list[dict[str, Any]]:
        x, groups = self.featurizer.features(texts)
        out = []
        for row, (text, g) in enumerate(zip(texts, groups, strict=True)):
            terms = {n: w * float(v) for n, w, v in zip(self.feature_names, self.weights, x[row], strict=True)}
            z = self.intercept + sum(terms.values())
            association = sum(terms[n] for n in _INTERACTIONS)
            p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))
            out.append({"group": g.term if g else None, "category": g.category if g else None,
                        "targeted": (g.sign > 0) if g else None, "phrase": text[:200],
                        "probability": round(p, 6), "association": round(association, 6),
                        "features": {n: round(float(v), 6) for n, v in zip(self.feature_names, x[row], strict=True)}})
        return out

    def close(self) -> None:
        close = getattr(self, "_close", None)
        if close is not None:
            close()
