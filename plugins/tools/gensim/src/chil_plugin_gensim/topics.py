"""``topic_model:lda``: a Gensim LDA topic model trained on the user's corpus by ``chil topics``.

No model ships (topics are the corpus's own): ``chil topics corpus.jsonl -o DIR --topics 50`` learns
one (:meth:`LdaTopics.train`) and writes ``DIR/topics.lda`` (Gensim's files, the word dictionary
inside); ``[tools.lda] model`` points at that file.  Words are the lower-cased letter runs of the
text, without English stop words and words of fewer than 3 letters; the dictionary keeps the words
found in at least ``min_count`` passages and at most ``no_above`` of them.

A text's topic distribution is inferred by Gensim's variational algorithm (the E-step of
``LdaModel.inference``) started from the same point every time, so one text always gets the same
distribution, whatever batch it came in (Gensim starts from random numbers, which would make equal
calls answer differently and the cache disagree with a fresh run).  A text with no dictionary word has
no topics (``empty``).  Training is single-threaded with a fixed seed: one corpus and one set of options
give the same model.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from chil_core.capabilities.embedding import EmbeddingOptions
from chil_core.capabilities.topic_model import TopicModelTool

log = logging.getLogger(__name__)

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
MODEL_FILE = "topics.lda"


def words(text: str) -> list[str]:
    from gensim.parsing.preprocessing import STOPWORDS

    return [w for w in WORD.findall(text.casefold()) if len(w) >= 3 and w not in STOPWORDS]


def save_atomically(obj: Any, directory: Path, name: str) -> Path:
    """``obj.save`` (a Gensim object) as ``directory/name``: written under a temporary name, its side
    files (large arrays Gensim writes beside it) moved into place first and the main file last, so a
    reader never finds a half-written model under ``name``."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (name + ".tmp")
    obj.save(str(tmp))
    for extra in directory.glob(name + ".tmp.*"):
        extra.replace(directory / extra.name.replace(".tmp", "", 1))
    tmp.replace(directory / name)
    return directory / name


def model_file(path: str | None, trained_by: str) -> str | None:
    """A ``model`` option's check, shared by this plugin's backends: the file must exist."""
    if path is not None and not Path(path).is_file():
        raise ValueError(f"model file {path!r} does not exist (train one with `{trained_by}`)")
    return path


class LdaOptions(EmbeddingOptions):
    """``[tools.lda]``: the model to load, and how ``chil topics`` trains one."""

    model: str | None = Field(default=None, description="Model file written by `chil topics` (DIR/topics.lda).")
    num_topics: int = Field(default=50, ge=2, le=1000, description="Training: number of topics.")
    passes: int = Field(default=5, ge=1, le=100, description="Training: passes over the corpus.")
    min_count: int = Field(default=2, ge=1, le=100_000, description="Training: a word must occur in this many passages.")
    no_above: float = Field(default=0.5, gt=0.0, le=1.0, description="Training: words in more than this share of passages are dropped.")
    vocab: int = Field(default=50_000, ge=10, le=2_000_000, description="Training: the most frequent words kept.")
    seed: int = Field(default=0, ge=0, description="Training: random seed.")
    iterations: int = Field(default=50, ge=1, le=1000, description="Inference: at most this many updates per text.")

    @field_validator("model")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        return model_file(v, "chil topics")


class LdaTopics(TopicModelTool):
    """Latent Dirichlet allocation (Gensim) over the words of the user's corpus."""

    name: ClassVar[str] = "lda"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Gensim LDA topics trained on your corpus by `chil topics`"
    Options: ClassVar[type[LdaOptions]] = LdaOptions  # type: ignore[assignment]
    max_batch: ClassVar[int] = 512
    priority: ClassVar[int] = 0
    requires_modules: ClassVar[dict[str, str]] = {"gensim": "gensim", "numpy": "numpy", "scipy": "scipy"}
    options: LdaOptions

    _lda: Any = None

    @classmethod
    def train(cls, texts: list[str], directory: str | Path, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Learn topics from ``texts`` and save them as ``directory/topics.lda``; returns the options with
        ``model`` set to that file.  ``ValueError`` when the corpus has too few words to learn from."""
        from gensim.corpora import Dictionary
        from gensim.models import LdaModel

        opts = cls.Options.model_validate({**(options or {}), "model": None})
        docs = [w for w in (words(t[: opts.max_chars]) for t in texts) if w]
        if len(docs) < 2:
            raise ValueError(f"the corpus has {len(docs)} passage(s) with words: too few to learn topics from")
        dictionary = Dictionary(docs)
        dictionary.filter_extremes(no_below=min(opts.min_count, len(docs)), no_above=opts.no_above, keep_n=opts.vocab)
        if len(dictionary) < 2:
            raise ValueError(f"{len(dictionary)} word(s) occur in at least {opts.min_count} passages and at most "
                             f"{opts.no_above:.0%} of them: too few (lower min_count or raise no_above)")
        bows = [b for b in (dictionary.doc2bow(d) for d in docs) if b]
        lda = LdaModel(bows, id2word=dictionary, num_topics=opts.num_topics, passes=opts.passes, random_state=opts.seed,
                       alpha="symmetric", eval_every=None, iterations=opts.iterations)
        path = save_atomically(lda, Path(directory), MODEL_FILE)
        log.info("lda: %d topics over %d words learnt from %d passages", opts.num_topics, len(dictionary), len(bows))
        return {**opts.model_dump(mode="json"), "model": str(path)}

    def start(self) -> None:
        import numpy as np
        from gensim.models import LdaModel

        if self.options.model is None:
            raise ValueError("tools.lda.model: no model configured (train one with `chil topics`)")
        try:
            lda = LdaModel.load(self.options.model, mmap="r")
        except Exception as exc:  # a file that is not a Gensim LDA model: say which
            raise ValueError(f"tools.lda.model: {self.options.model!r} is not a Gensim LDA model: {exc}") from exc
        if not isinstance(lda, LdaModel) or lda.id2word is None or lda.num_topics < 2:
            raise ValueError(f"tools.lda.model: {self.options.model!r} holds no LDA topics with a dictionary")
        self._lda = lda
        self._index = lda.id2word.token2id
        self._alpha = np.asarray(lda.alpha, dtype=np.float64)
        self._exp_elog_beta = np.asarray(lda.expElogbeta, dtype=np.float64)
        log.debug("lda: %s loaded, %d topics over %d words", self.options.model, lda.num_topics, len(self._index))

    @property
    def num_topics(self) -> int:
        return int(self._lda.num_topics) if self._lda is not None else self.options.num_topics

    def distributions(self, texts: list[str]) -> Any:
        import numpy as np
        from scipy.special import psi

        k = self.num_topics
        alpha, beta, index = self._alpha, self._exp_elog_beta, self._index
        threshold = float(self._lda.gamma_threshold)
        out = np.zeros((len(texts), k), dtype=np.float64)
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            for w in words(text):
                i = index.get(w)
                if i is not None:
                    counts[i] = counts.get(i, 0) + 1
            if not counts:
                continue  # nothing the model knows: no topics
            ids = np.fromiter(counts, dtype=np.int64)
            cts = np.fromiter(counts.values(), dtype=np.float64)
            b = beta[:, ids]
            gamma = alpha + cts.sum() / k  # the same start every time (Gensim draws it at random)
            for _ in range(self.options.iterations):
                exp_elog_theta = np.exp(psi(gamma) - psi(gamma.sum()))
                phinorm = exp_elog_theta @ b + 1e-100
                new = alpha + exp_elog_theta * (b @ (cts / phinorm))
                done = np.mean(np.abs(new - gamma)) < threshold
                gamma = new
                if done:
                    break
            out[row] = gamma / gamma.sum()
        return out

    def close(self) -> None:
        self._lda = None
