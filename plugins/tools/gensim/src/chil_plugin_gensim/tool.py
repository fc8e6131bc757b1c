"""``embedding:gensim``: word2vec or fastText word vectors trained on the user's own corpus, pooled into
sentence vectors.

There is no pretrained model to ship: the vectors come from the corpus the user indexes.  ``chil index
corpus.jsonl -o idx --embedding gensim`` trains them on the corpus passages (:meth:`GensimEmbedding.train`)
before embedding those passages, writes them inside the index directory (``idx/embedding/gensim.kv``)
and records that path, relative to the index, in ``meta.json``; the FAISS backend then embeds queries
with the same vectors.  A model trained elsewhere with Gensim and saved as ``KeyedVectors``
(``model.wv.save(path)``) is used by pointing ``[tools.gensim] model`` at it.

Tokens are the lower-cased word characters of the text (any script; apostrophes kept inside words).
A sentence vector is the SIF-weighted mean of its token vectors (weight a / (a + p(w)), p the word's
frequency in the training corpus, a = 1e-3: frequent words count less; weight 1 when the model has no
counts).  word2vec skips words it never saw; fastText builds them from their character n-grams, so a
misspelt or unseen word still counts.  The vectors are memory-mapped at load time (``mmap='r'``).
Training is single-threaded with a fixed seed and a stable hash, so one corpus and one set of options
give the same vectors every time.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from chil_core.capabilities.embedding import EmbeddingOptions, EmbeddingTool
from chil_plugin_gensim.topics import model_file, save_atomically

log = logging.getLogger(__name__)

TOKEN = re.compile(r"\w+(?:'\w+)*")
MODEL_FILE = "gensim.kv"
SIF_A = 1e-3


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.casefold())


def stable_hash(s: str) -> int:
    """Gensim seeds each word's initial vector with ``hashfxn(word + seed)``; Python's ``hash`` differs per process."""
    return zlib.crc32(s.encode("utf-8", "surrogatepass"))


class GensimOptions(EmbeddingOptions):
    """``[tools.gensim]``: the model to load, and how ``chil index`` trains one when none is given."""

    model: str | None = Field(default=None, description="KeyedVectors file (written by `chil index --embedding gensim`, "
                                                        "or by Gensim's `model.wv.save`). Relative to the index directory when an index names it.")
    algorithm: Literal["word2vec", "fasttext"] = Field(default="fasttext", description="Training: word2vec (skip-gram) or fastText (char n-grams: unseen words get vectors).")
    dim: int = Field(default=100, ge=8, le=1024, description="Training: vector size.")
    epochs: int = Field(default=10, ge=1, le=1000, description="Training: passes over the corpus.")
    window: int = Field(default=5, ge=1, le=50, description="Training: context window.")
    min_count: int = Field(default=2, ge=1, le=1000, description="Training: words seen fewer times are dropped.")
    seed: int = Field(default=0, ge=0, description="Training: random seed.")

    @field_validator("model")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        return model_file(v, "chil index --embedding gensim")


class GensimEmbedding(EmbeddingTool):
    """SIF-weighted mean of Gensim word2vec / fastText vectors trained on the user's corpus."""

    name: ClassVar[str] = "gensim"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "word2vec / fastText vectors trained on your corpus by `chil index --embedding gensim`"
    Options: ClassVar[type[GensimOptions]] = GensimOptions  # type: ignore[assignment]
    max_batch: ClassVar[int] = 512
    priority: ClassVar[int] = 0  # needs a trained model: never the default embedding
    requires_modules: ClassVar[dict[str, str]] = {"gensim": "gensim", "numpy": "numpy"}
    trainable: ClassVar[bool] = True
    options: GensimOptions

    _kv: Any = None
    _weights: Any = None

    # -- training (``chil index``) -----------------------------------------------------------------
    @classmethod
    def train(cls, texts: list[str], directory: str | Path, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Train vectors on ``texts`` and save them as ``directory/gensim.kv``; returns the options with
        ``model`` set to that file.  ``ValueError`` when the corpus has too few words to train on."""
        from gensim.models import FastText, Word2Vec

        opts = cls.Options.model_validate({**(options or {}), "model": None})
        sentences = [toks for toks in (tokenize(t[: opts.max_chars]) for t in texts) if toks]
        words = {w for s in sentences for w in s}
        if len(words) < 2:
            raise ValueError(f"the corpus has {len(words)} distinct words: too few to train word vectors on")
        model_cls = FastText if opts.algorithm == "fasttext" else Word2Vec
        model = model_cls(vector_size=opts.dim, window=opts.window, min_count=opts.min_count,
                          sg=1, epochs=opts.epochs, seed=opts.seed, workers=1, hashfxn=stable_hash)
        try:
            model.build_vocab(sentences)
        except RuntimeError:  # gensim: "you must first build vocabulary before training the model"
            raise ValueError(f"no word occurs {opts.min_count} times in the corpus (lower min_count)") from None
        if not len(model.wv):
            raise ValueError(f"no word occurs {opts.min_count} times in the corpus (lower min_count)")
        model.train(sentences, total_examples=len(sentences), epochs=opts.epochs)
        path = save_atomically(model.wv, Path(directory), MODEL_FILE)
        log.info("gensim: %s, %d words x %d dims trained on %d passages", opts.algorithm, len(model.wv), opts.dim, len(sentences))
        return {**opts.model_dump(mode="json"), "model": str(path)}

    # -- run time ----------------------------------------------------------------------------------
    def start(self) -> None:
        import numpy as np
        from gensim.models import KeyedVectors

        if self.options.model is None:
            raise ValueError("tools.gensim.model: no model configured (train one with `chil index --embedding gensim`)")
        try:
            kv = KeyedVectors.load(self.options.model, mmap="r")
        except Exception as exc:  # a file that is not a Gensim model: say which
            raise ValueError(f"tools.gensim.model: {self.options.model!r} is not a Gensim KeyedVectors file: {exc}") from exc
        if not hasattr(kv, "key_to_index") or not len(kv):
            raise ValueError(f"tools.gensim.model: {self.options.model!r} holds no word vectors")
        counts = kv.expandos.get("count")
        if counts is not None and len(counts) == len(kv) and float(np.sum(counts)) > 0:
            p = np.asarray(counts, dtype=np.float64) / float(np.sum(counts))
            self._weights = (SIF_A / (SIF_A + p)).astype(np.float32)
        else:
            self._weights = np.ones(len(kv), dtype=np.float32)
        self._kv = kv
        self._fasttext = type(kv).__name__ == "FastTextKeyedVectors"
        log.debug("gensim: %s loaded, %d words x %d dims (%s)", self.options.model, len(kv), kv.vector_size,
                  "fastText" if self._fasttext else "word2vec")

    @property
    def dim(self) -> int:
        return int(self._kv.vector_size) if self._kv is not None else self.options.dim

    def encode(self, texts: list[str]) -> Any:
        import numpy as np

        kv, index = self._kv, self._kv.key_to_index
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            toks = tokenize(text)
            known = [index[t] for t in toks if t in index]
            if known:
                ids = np.asarray(known)
                out[row] += self._weights[ids] @ kv.vectors[ids]
            total = float(self._weights[known].sum()) if known else 0.0
            if self._fasttext:  # unseen words: built from their character n-grams, weight 1 (p = 0)
                unseen = Counter(t for t in toks if t not in index)
                for t, n in unseen.items():
                    out[row] += n * kv.get_vector(t)
                    total += n
            if total > 0:
                out[row] /= total
        return out

    def close(self) -> None:
        self._kv = self._weights = None
