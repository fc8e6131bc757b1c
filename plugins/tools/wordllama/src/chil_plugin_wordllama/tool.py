"""``embedding:wordllama``: WordLlama static token embeddings, mean-pooled into sentence vectors.

The wheel of ``wordllama`` carries its weights (``wordllama/weights/l2_supercat_256.safetensors``, 16 MB)
and its tokenizer; the backend loads both from the installed package directory with downloads
disabled (the package directory is passed as wordllama's cache directory: 0.4.0 looks for its tokenizer
under ``tokenizer/`` in the package but ships it under ``tokenizers/``), and reports itself
unavailable (never downloads) when they are missing.  Vectors can be cut to 64 or 128 dimensions (Matryoshka training: the leading dimensions carry the most).

Pooling is done here rather than by ``WordLlamaInference.embed``: that pads every text of a batch to
the longest one, so one 20 kB completion would cost a (batch × 5k tokens × 256) tensor; here the token
ids of the whole batch are concatenated and averaged per text with one ``np.add.reduceat``
(same vectors, checked by the tests, linear memory).  The sum is one sparse (texts × vocabulary token
counts) @ (vocabulary × dim) product (scipy CSR): no (tokens × dim) temporary, about 2 µs a sentence
against 55 µs for gathering the token rows and ``np.add.reduceat``.  The loaded model is shared by
every instance in a process.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from chil_core.capabilities.embedding import EmbeddingOptions, EmbeddingTool

log = logging.getLogger(__name__)

CONFIG = "l2_supercat"
SHIPPED_DIM = 256


def package_dir() -> Path | None:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


_LOADED: dict[int, Any] = {}
_LOCK = threading.Lock()


def _load(dim: int) -> Any:
    """The model for ``dim``, loaded once per process (instances share the read-only matrix)."""
    with _LOCK:
        if dim not in _LOADED:
            from wordllama import WordLlama

            _LOADED[dim] = WordLlama.load(config=CONFIG, dim=SHIPPED_DIM, trunc_dim=None if dim == SHIPPED_DIM else dim,
                                          cache_dir=package_dir(), disable_download=True)
        return _LOADED[dim]


class WordLlamaOptions(EmbeddingOptions):
    """``[tools.wordllama]``."""

    dim: Literal[64, 128, 256] = Field(default=256, description="Vector size: the shipped 256 or its Matryoshka prefix 64 / 128.")


class WordLlamaEmbedding(EmbeddingTool):
    """WordLlama ``l2_supercat`` (256-d token embeddings distilled from LLaMA-2 70B), loaded offline."""

    name: ClassVar[str] = "wordllama"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "WordLlama l2_supercat static embeddings (16 MB, shipped in the wheel, no download)"
    Options: ClassVar[type[WordLlamaOptions]] = WordLlamaOptions  # type: ignore[assignment]
    max_batch: ClassVar[int] = 512
    priority: ClassVar[int] = 10
    requires_modules: ClassVar[dict[str, str]] = {"wordllama": "wordllama", "numpy": "numpy", "scipy": "scipy"}
    options: WordLlamaOptions

    _model: Any = None
    _matrix: Any = None
    _tokenizer: Any = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """The declared modules, and the weights and tokenizer files in the installed package."""
        reason = super().unavailable_reason()
        root = package_dir()
        if reason or root is None:
            return reason
        weights = root / "weights" / f"{CONFIG}_{SHIPPED_DIM}.safetensors"
        tokenizer = root / "tokenizers" / f"{CONFIG}_tokenizer_config.json"
        for path in (weights, tokenizer):
            if not path.is_file():
                return f"WordLlama file {path} is not in the installed package (downloads are disabled)"
        return None

    def start(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        model = _load(self.options.dim)
        self._model = model
        self._matrix = model.embedding
        tok = model.tokenizer  # shared, never mutated: single-text encode() is not padded or truncated
        self._tokenizer = tok
        log.debug("wordllama: %s loaded from %s, %d tokens x %d dims", CONFIG, package_dir(), *self._matrix.shape)

    @property
    def dim(self) -> int:
        return int(self._matrix.shape[1]) if self._matrix is not None else self.options.dim

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        # one text at a time: encode_batch hands the batch to a thread pool, which costs ~15 ms a call on a
        # busy 2-core machine, more than tokenising a few hundred sentences sequentially
        encode = self._tokenizer.encode
        encodings = [encode(t, add_special_tokens=False) for t in texts]
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not lengths.any():
            return out
        from scipy.sparse import csr_matrix

        ids = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in encodings if e.ids])
        np.clip(ids, 0, self._matrix.shape[0] - 1, out=ids)
        indptr = np.concatenate(([0], np.cumsum(lengths)))
        counts = csr_matrix((np.ones(len(ids), dtype=np.float32), ids, indptr), shape=(len(texts), self._matrix.shape[0]))
        sums = np.asarray(counts @ self._matrix, dtype=np.float32)
        nonempty = lengths > 0
        out[nonempty] = sums[nonempty] / lengths[nonempty][:, None]
        return out

    def close(self) -> None:
        self._matrix = self._tokenizer = self._model = None
