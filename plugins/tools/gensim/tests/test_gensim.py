"""Gensim embedding backend: the embedding conformance suite on word2vec vectors trained here on real
text (WordNet glosses and SST-2 sentences from the development data), fastText vectors for unseen
words, `chil index --embedding gensim` training on the corpus it indexes (bad lines reported), and bad
model files refused with the field named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from chil_plugin_gensim.tool import GensimEmbedding, tokenize
from click.testing import CliRunner

from chil_core.testing.embedding import RANKED_PAIRS, EmbeddingConformance, embed, similarity

DATA = Path(os.environ.get("CHIL_DATA", Path(__file__).resolve().parents[4].parent / "shared" / "data"))
pytestmark = pytest.mark.skipif(not (DATA / "wn18rr" / "entity2text.txt").exists() or not (DATA / "sst2").exists(),
                                reason="the development data is absent")
STOP = set(["the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "from", "with", "was", "were", "is", "are", "this", "that", "what", "how", "do", "i", "it", "its", "into"])


def corpus(per_word: int = 40) -> list[str]:
    """A user's corpus on the topics of the suite's sentences: SST-2 dev sentences (films) and up to
    ``per_word`` WordNet glosses for each content word of :data:`RANKED_PAIRS` (real text, read in place)."""
    vocab = {w for triple in RANKED_PAIRS for s in triple for w in tokenize(s) if w not in STOP and len(w) > 2}
    seen: dict[str, int] = {}
    texts = []
    with open(DATA / "wn18rr" / "entity2text.txt", encoding="utf-8") as fh:
        for line in fh:
            text = line.rstrip("\n").partition("\t")[2]
            hit = [w for w in vocab & set(tokenize(text)) if seen.get(w, 0) < per_word]
            if hit:
                texts.append(text)
                for w in hit:
                    seen[w] = seen.get(w, 0) + 1
    sst = (DATA / "sst2" / "stsa.binary.dev").read_text(encoding="utf-8").splitlines()
    return texts + [line[2:] for line in sst if line[2:].strip()]


@pytest.fixture(scope="module")
def word2vec_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    opts = GensimEmbedding.train(corpus(), tmp_path_factory.mktemp("w2v"), {"algorithm": "word2vec", "dim": 32, "epochs": 20})
    return opts["model"]


class TestGensimWord2Vec(EmbeddingConformance):
    tool_class = GensimEmbedding

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _configure(cls, word2vec_model: str) -> None:
        cls.options = {"model": word2vec_model}

    @pytest.fixture(scope="class")
    @classmethod
    def tool(cls, _configure: None) -> GensimEmbedding:
        tool = cls.make_tool(cls)  # type: ignore[arg-type]
        yield tool
        tool.close()

    def test_vectors_are_the_sif_weighted_mean_of_word_vectors(self, tool: GensimEmbedding) -> None:
        kv = tool._kv
        words = [w for w in ("film", "the", "good") if w in kv.key_to_index]
        assert len(words) == 3
        counts = kv.expandos["count"].astype(float)
        p = {w: counts[kv.key_to_index[w]] / counts.sum() for w in words}
        want = sum(1e-3 / (1e-3 + p[w]) * kv[w] for w in words)
        got = np.array(tool.run_batch([embed(["Film, the GOOD zzzunseen"])])[0]["vectors"][0])
        assert np.allclose(got, want / np.linalg.norm(want), atol=1e-5)
        assert p["the"] > p["film"]  # the frequent word is the one weighted down

    def test_a_text_of_unseen_words_is_empty_for_word2vec(self, tool: GensimEmbedding) -> None:
        assert tool.run_batch([embed(["qqqxv zzzwk"])])[0]["empty"] == [0]


def test_training_is_reproducible(tmp_path: Path) -> None:
    texts = corpus(per_word=5)
    a = GensimEmbedding.train(texts, tmp_path / "a", {"algorithm": "word2vec", "dim": 16, "epochs": 2})
    b = GensimEmbedding.train(texts, tmp_path / "b", {"algorithm": "word2vec", "dim": 16, "epochs": 2})
    va, vb = (GensimEmbedding(GensimEmbedding.Options(**o)) for o in (a, b))
    va.start(), vb.start()
    assert np.array_equal(va._kv.vectors, vb._kv.vectors)


def test_fasttext_gives_unseen_and_misspelt_words_vectors(tmp_path: Path) -> None:
    opts = GensimEmbedding.train(corpus(per_word=10), tmp_path, {"algorithm": "fasttext", "dim": 16, "epochs": 3})
    tool = GensimEmbedding(GensimEmbedding.Options(**opts))
    tool.start()
    assert "wonderfullly" not in tool._kv.key_to_index
    out = tool.run_batch([embed(["wonderfullly", "qqqxv"]), similarity([["wonderfullly", "wonderful"], ["wonderfullly", "bread"]])])
    assert out[0]["empty"] == []
    close, far = out[1]["scores"]
    assert close > far


def test_bad_models_and_corpora_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        GensimEmbedding.Options(model=str(tmp_path / "missing.kv"))
    junk = tmp_path / "junk.kv"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="tools.gensim.model: .* is not a Gensim KeyedVectors file"):
        GensimEmbedding(GensimEmbedding.Options(model=str(junk))).start()
    with pytest.raises(ValueError, match="no model configured"):
        GensimEmbedding().start()
    with pytest.raises(ValueError, match="too few to train"):
        GensimEmbedding.train(["", "!!!"], tmp_path / "m")
    with pytest.raises(ValueError, match="min_count"):
        GensimEmbedding.train(["one two three", "four five six"], tmp_path / "m", {"min_count": 5})


def test_index_command_trains_gensim_on_the_corpus_and_the_index_moves(tmp_path: Path) -> None:
    from chil_plugin_faiss.command import index_command
    from chil_plugin_faiss.tool import FaissIndex

    from chil_core.testing.vector_index import search

    texts = corpus(per_word=10)
    src = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"id": f"p{i}", "text": t}) for i, t in enumerate(texts)]
    lines.insert(2, "{broken")
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(index_command, [str(src), "-o", str(tmp_path / "idx"), "--embedding", "gensim",
                                             "--embedding-options", json.dumps({"algorithm": "word2vec", "dim": 24, "epochs": 5})])
    assert res.exit_code == 1, res.output
    assert f"{src}:3: skipped: line: not JSON" in res.output
    assert "gensim vectors trained on the corpus" in res.output and f"{len(texts)} passages" in res.output
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text())
    assert meta["embedding"]["backend"] == "gensim" and meta["embedding"]["options"]["model"] == "embedding/gensim.kv"
    (tmp_path / "idx").rename(tmp_path / "moved")  # the model path is relative to the index
    tool = FaissIndex(FaissIndex.Options(path=str(tmp_path / "moved")))
    tool.start()
    hits = tool.run_batch([search([texts[0], texts[-1]], k=1)])[0]["hits"]
    assert [h[0]["id"] for h in hits] == ["p0", f"p{len(texts) - 1}"]
