"""``sentiment:embedding-head``: a logistic head on sentence embeddings (see :mod:`.head`).

Fitted by ``chil fit-sentiment`` on labelled JSONL and stored as a small JSON file that
``[tools.embedding-head] head = "..."`` points to.  The file names the embedding backend (and its
options) the head was fitted on; the tool starts that backend in-process and embeds a whole batch at
once.  A head may also read the polarities of lexicon ``sentiment`` backends (``lexicons`` in the file,
``--lexicons`` of the command; started in-process beside the embedding).  No head ships with the package:
the only labelled sentiment data here is SST-2 dev, the data the benchmark measures on, and SST's own
terms of use are not stated with it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from chil_core.capabilities.sentiment import SentimentOptions, SentimentTool


class HeadOptions(SentimentOptions):
    """``[tools.embedding-head]``."""

    head: str | None = Field(default=None, description="Head file written by `chil fit-sentiment` (required to start).")

    @field_validator("head")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        if v is not None:
            from chil_plugin_embedding_head.head import load_head

            load_head(v)
        return v


class EmbeddingHeadSentiment(SentimentTool):
    name: ClassVar[str] = "embedding-head"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "logistic head on sentence embeddings (fit with `chil fit-sentiment`)"
    Options: ClassVar[type[HeadOptions]] = HeadOptions  # type: ignore[assignment]
    priority: ClassVar[int] = 0
    requires_modules: ClassVar[dict[str, str]] = {"numpy": "numpy"}
    options: HeadOptions

    _embedder: Any = None
    _lexicons: list[Any] = []

    def start(self) -> None:
        import numpy as np

        from chil_core.capabilities.embedding import start_embedder
        from chil_plugin_embedding_head.head import load_head

        if self.options.head is None:
            raise ValueError("tools.embedding-head.head: no head file configured (fit one with `chil fit-sentiment`)")
        from chil_plugin_embedding_head.head import start_lexicons

        head = load_head(self.options.head)
        self._embedder = start_embedder(head["embedding"]["backend"], head["embedding"].get("options", {}))
        try:
            self._lexicons = start_lexicons(head["lexicons"])
        except ValueError as exc:
            raise ValueError(f"tools.embedding-head.head: {exc}") from None
        if self._embedder.dim + len(self._lexicons) != head["dim"]:
            raise ValueError(f"tools.embedding-head.head: the head has dim {head['dim']}, the embedding backend "
                             f"gives {self._embedder.dim} and {len(self._lexicons)} lexicons")
        self._w = np.asarray(head["weights"], dtype=np.float64)
        self._b = float(head["bias"])

    def polarities(self, texts: list[str]) -> list[float | None]:
        import numpy as np

        from chil_plugin_embedding_head.head import features

        rows, empty = features(self._embedder, self._lexicons, texts)
        pol = np.tanh((rows @ self._w + self._b) / 2)
        return [None if e else float(p) for p, e in zip(pol, empty, strict=True)]

    def close(self) -> None:
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None
        for lex in self._lexicons:
            lex.close()
        self._lexicons = []
