"""Gensim LDA topic-model backend: the topic_model conformance suite on a model learnt here from real
text (SST-2 dev sentences and GSM8K questions from the development data), inference equal to Gensim's
own and the same for a text in any batch, `chil topics` reporting bad lines, bad model files named, and
the contextual framework's relevance_topic component."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from chil_plugin_gensim.command import topics_command
from chil_plugin_gensim.topics import LdaTopics, words
from click.testing import CliRunner

from chil_core.testing.topic_model import TEXTS, TopicModelConformance, topics

DATA = Path(os.environ.get("CHIL_DATA", Path(__file__).resolve().parents[4].parent / "shared" / "data"))
pytestmark = pytest.mark.skipif(not (DATA / "gsm8k" / "train.jsonl").exists() or not (DATA / "sst2").exists(),
                                reason="the development data is absent")


def corpus(questions: int = 2000) -> list[str]:
    """Film reviews (SST-2 dev) and arithmetic word problems (GSM8K train questions), read in place."""
    sst = [line[2:] for line in (DATA / "sst2" / "stsa.binary.dev").read_text(encoding="utf-8").splitlines() if line[2:].strip()]
    with open(DATA / "gsm8k" / "train.jsonl", encoding="utf-8") as fh:
        gsm = [json.loads(line)["question"] for _, line in zip(range(questions), fh, strict=False)]
    return sst + gsm


@pytest.fixture(scope="module")
def lda_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return LdaTopics.train(corpus(), tmp_path_factory.mktemp("lda"), {"num_topics": 2, "passes": 20})["model"]


class TestLdaTopics(TopicModelConformance):
    tool_class = LdaTopics
    #: LDA learnt in seconds from 2.9k short texts is noisy: over training seeds 0-3 it orders 3 or 4 of
    #: the 4 triples right (seed 0, used here: 4).  3 is the floor any seed must clear.
    min_ranked = 3

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _configure(cls, lda_model: str) -> None:
        cls.options = {"model": lda_model}

    @pytest.fixture(scope="class")
    @classmethod
    def tool(cls, _configure: None) -> LdaTopics:
        tool = cls.make_tool(cls)  # type: ignore[arg-type]
        yield tool
        tool.close()

    def test_inference_is_gensims_and_the_same_in_any_batch(self, tool: LdaTopics) -> None:
        lda = tool._lda
        mine = tool.distributions(TEXTS)
        for text, row in zip(TEXTS, mine, strict=True):
            theirs = np.zeros(tool.num_topics)
            for k, p in lda.get_document_topics(lda.id2word.doc2bow(words(text)), minimum_probability=0.0):
                theirs[k] = p
            assert np.allclose(row, theirs, atol=2e-2)  # Gensim starts from random numbers; we do not
        again = tool.distributions(list(reversed(TEXTS)) + ["Another text about film."])
        assert np.array_equal(mine, again[: len(TEXTS)][::-1])

    def test_the_topics_separate_the_two_subjects_of_the_corpus(self, tool: LdaTopics) -> None:
        films = ["A moving film with a brilliant cast.", "The movie is a dull, boring mess."]
        sums = ["He buys 4 apples for 3 dollars each.", "She earns 12 dollars an hour for 5 hours."]
        value = tool.run_batch([topics(films + sums)])[0]
        top = [t[0][0] for t in value["top"]]
        assert top[0] == top[1] and top[2] == top[3] and top[0] != top[2], value["top"]


def test_training_is_reproducible_and_bad_input_is_named(tmp_path: Path) -> None:
    texts = corpus(questions=300)
    a = LdaTopics.train(texts, tmp_path / "a", {"num_topics": 3, "passes": 2})
    b = LdaTopics.train(texts, tmp_path / "b", {"num_topics": 3, "passes": 2})
    ta, tb = (LdaTopics(LdaTopics.Options(**o)) for o in (a, b))
    ta.start(), tb.start()
    assert np.array_equal(ta._exp_elog_beta, tb._exp_elog_beta)
    with pytest.raises(ValueError, match="does not exist"):
        LdaTopics.Options(model=str(tmp_path / "missing.lda"))
    junk = tmp_path / "junk.lda"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="tools.lda.model: .* is not a Gensim LDA model"):
        LdaTopics(LdaTopics.Options(model=str(junk))).start()
    with pytest.raises(ValueError, match="no model configured"):
        LdaTopics().start()
    with pytest.raises(ValueError, match="too few to learn topics"):
        LdaTopics.train(["", "!!! 123"], tmp_path / "m")
    with pytest.raises(ValueError, match="lower min_count"):
        LdaTopics.train(["alpha beta gamma", "delta epsilon zeta"], tmp_path / "m", {"min_count": 2})


def test_topics_command_reports_bad_lines_and_learns_from_the_rest(tmp_path: Path) -> None:
    texts = corpus(questions=300)
    src = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"text": t}) for t in texts]
    lines.insert(3, "{broken")
    lines.insert(7, json.dumps({"text": 5}))
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(topics_command, [str(src), "-o", str(tmp_path / "t"), "--topics", "3", "--passes", "2"])
    assert res.exit_code == 1, res.output
    assert f"{src}:4: skipped: line: not JSON" in res.output and f"{src}:8: skipped: text" in res.output
    assert f"3 topics learnt from {len(texts)} passages" in res.output and "2 bad lines skipped" in res.output
    tool = LdaTopics(LdaTopics.Options(model=str(tmp_path / "t" / "topics.lda")))
    tool.start()
    assert tool.num_topics == 3
    assert not list((tmp_path / "t").glob("*.tmp*"))  # written under a temporary name, then moved
    bad = CliRunner().invoke(topics_command, [str(src), "-o", str(tmp_path / "u"), "--options", '{"num_topicz": 3}'])
    assert bad.exit_code == 2 and "num_topicz" in bad.output


def test_contextual_relevance_topic_component(lda_model: str) -> None:
    from chil_core import Scorer

    context = ["I watched a new film last night.", "Was the cast any good?"]
    recs = [{"id": "on", "prompt": "Reply.", "completion": "The actors were superb and the story was moving.",
             "metadata": {"context": context}},
            {"id": "off", "prompt": "Reply.", "completion": "He bought 7 apples for 3 dollars each at the store.",
             "metadata": {"context": context}}]
    config = {"cache": {"path": None}, "tools": {"lda": {"model": lda_model}},
              "frameworks": {"contextual": {"options": {"relevance_topics": True, "topic_weight": 0.5}}}}
    with Scorer.from_config(config, frameworks=["contextual"]) as scorer:
        on, off = (r.frameworks["contextual"] for r in scorer.score(recs))
    assert on.status == off.status == "scored"
    assert on.components["relevance_topic"] > off.components["relevance_topic"]
    plain = {"cache": {"path": None}}
    with Scorer.from_config(plain, frameworks=["contextual"]) as scorer:
        on0 = scorer.score(recs[:1])[0].frameworks["contextual"]
    assert "relevance_topic" not in on0.components  # off by default: no topic model needed
    mixed = 0.5 * on0.components["relevance"] + 0.5 * on.components["relevance_topic"]
    assert abs(on.components["relevance"] - mixed) < 1e-5
