"""WordLlama embedding backend: the embedding conformance suite, offline loading, pooling equal to
wordllama's own ``embed``."""

from __future__ import annotations

import numpy as np
import pytest
from chil_plugin_wordllama.tool import WordLlamaEmbedding, package_dir

from chil_core.testing.embedding import SENTENCES, EmbeddingConformance, embed


class TestWordLlama(EmbeddingConformance):
    tool_class = WordLlamaEmbedding
    options = {}

    def test_pooling_equals_wordllama_embed(self, tool: WordLlamaEmbedding) -> None:
        ours = np.array(tool.run_batch([embed(SENTENCES)])[0]["vectors"])
        theirs = tool._model.embed(SENTENCES, norm=True)
        assert np.allclose(ours, theirs, atol=1e-5)

    def test_weights_come_from_the_package_directory(self, tool: WordLlamaEmbedding, monkeypatch: pytest.MonkeyPatch) -> None:
        assert (package_dir() / "weights" / "l2_supercat_256.safetensors").is_file()
        import requests

        def no_network(*a, **k):  # pragma: no cover - reached only if the backend tried to download
            raise AssertionError("wordllama tried to download")

        monkeypatch.setattr(requests, "get", no_network)
        other = WordLlamaEmbedding(WordLlamaEmbedding.Options(dim=64))
        other.start()
        assert other.dim == 64 and len(other.run_batch([embed(["hello"])])[0]["vectors"][0]) == 64


def test_matryoshka_prefix_still_ranks_paraphrases() -> None:
    from chil_core.testing.embedding import RANKED_PAIRS, similarity

    tool = WordLlamaEmbedding(WordLlamaEmbedding.Options(dim=128))
    tool.start()
    scores = [v["scores"] for v in tool.run_batch([similarity([[x, y], [x, z]]) for x, y, z in RANKED_PAIRS])]
    assert all(close > far for close, far in scores)
