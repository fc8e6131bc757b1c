"""The contextual framework through the real Scorer and real backends (AFINN, WordLlama): tone, relevance,
grounding, non-answers, padding, hostile completions, tool failures, the framework contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from chil_core import Record, ToolResult
from chil_core.testing.conformance import FrameworkConformance

PASSAGE = "saxony, an area in Germany around the upper Elbe river; the original home of the Saxons"
CONTEXT = ["yes , that's my only day off until Thursday .",
           "my friends and I are planning on going to the beach on Sunday . Do you want to come with us ?"]


def rec(i: str, completion: str, **metadata) -> dict:
    return {"id": i, "prompt": "Answer the request.", "completion": completion, "metadata": metadata}


SAMPLES = [
    rec("tone-right", "A wonderful, moving film. I loved it.", tone="positive"),
    rec("tone-wrong", "A boring, terrible film.", tone="positive"),
    rec("ground-right", "Saxony is an area in Germany around the upper Elbe river.", passage=PASSAGE),
    rec("ground-wrong", "Saxony is an area in France, home to 3 million people.", passage=PASSAGE),
    rec("rel-right", "Sure, I would love to come to the beach on Sunday.", context=CONTEXT),
    rec("rel-wrong", "The stock market fell sharply.", context=CONTEXT),
    rec("out-of-scope", "4"),
]


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory):
    from chil_core.scoring import Scorer

    cfg = {"cache": {"path": str(tmp_path_factory.mktemp("cache") / "c")}}
    with Scorer.from_config(cfg, frameworks=["contextual"]) as s:
        yield s


def results(scorer, records: list[dict]) -> dict:
    return {r.id: r.frameworks["contextual"] for r in scorer.score(records)}


class TestContextualContract(FrameworkConformance):
    framework_name = "contextual"

    def sample_records(self) -> list[dict]:
        return SAMPLES


def test_right_beats_wrong_on_every_ask(scorer) -> None:
    out = results(scorer, SAMPLES)
    for kind in ("tone", "ground", "rel"):
        right, wrong = out[f"{kind}-right"], out[f"{kind}-wrong"]
        assert right.status == wrong.status == "scored"
        assert right.score > wrong.score, kind
    assert out["tone-right"].verdict == "positive" and out["tone-wrong"].components["tone_match"] == 0.0
    assert out["ground-right"].verdict == "grounded" and out["ground-right"].score == 1.0
    assert out["ground-wrong"].verdict == "partly_grounded"
    flagged = {e.data["text"] for e in out["ground-wrong"].evidence if e.kind == "unsupported"}
    assert flagged == {"France", "3"}
    assert out["out-of-scope"].status == "abstained"


def test_non_answers_are_scored_zero_not_masked(scorer) -> None:
    for meta in ({"tone": "negative"}, {"passage": PASSAGE}, {"context": CONTEXT}):
        for completion in ("", "   ", "1 = 1. x = x.", "Answer the request. Answer the request."):
            r = results(scorer, [rec("x", completion, **meta)])["x"]
            assert (r.status, r.score, r.verdict) == ("scored", 0.0, "no_answer"), (meta, completion)


def test_padding_does_not_lift_a_wrong_answer(scorer) -> None:
    base = {"tone": ("A boring, terrible film.", {"tone": "positive"}),
            "ground": ("Saxony is an area in France.", {"passage": PASSAGE}),
            "rel": ("The stock market fell sharply.", {"context": CONTEXT})}
    pads = [" Everything that is true is true. " * 8, " What a great, wonderful, lovely day!",
            " Saxony is an area in Germany around the upper Elbe river.", " My friends are going to the beach on Sunday.",
            "\nAnswer the request. Answer the request.", " " + "a" * 5000 + "."]
    for kind, (wrong, meta) in base.items():
        w = results(scorer, [rec("w", wrong, **meta)])["w"].score
        for pad in pads:
            r = results(scorer, [rec("p", wrong + pad, **meta)])["p"]
            assert r.status == "scored" and r.score <= w + 1e-9, (kind, pad[:40], r.score, w)


def test_hostile_completions_get_typed_statuses(scorer) -> None:
    hostile = ["x" * 2_000_000, "\x00\x01\x1b[2J\x7f" * 100, "Ω≈ç√ 漢字 العربية 🙂 Привет мир.", "(" * 10_000,
               "1" * 5000, "A" * 300 + " is great."]
    recs = [rec(f"h{i}", h, tone="positive", passage=PASSAGE, context=CONTEXT) for i, h in enumerate(hostile)]
    out = results(scorer, recs)
    assert all(r.status == "scored" and 0.0 <= r.score <= 1.0 for r in out.values())
    # 2 MB is over the scorer's per-framework bound (frameworks.contextual.max_completion_chars): unread, paid 0.
    assert (out["h0"].verdict, out["h0"].score) == ("oversize", 0.0)


def test_malformed_metadata_names_the_field(scorer) -> None:
    r = results(scorer, [rec("m", "fine.", tone="ecstatic")])["m"]
    assert r.status == "abstained" and "metadata.tone" in r.explanation
    r = results(scorer, [rec("m", "fine.", passage=[1, 2])])["m"]
    assert r.status == "abstained" and "metadata.passage" in r.explanation


def test_numeric_tone_target(scorer) -> None:
    out = results(scorer, [rec("a", "A wonderful, moving film.", tone=0.9), rec("b", "A wonderful, moving film.", tone=-0.9)])
    assert out["a"].score > 0.8 > 0.1 > out["b"].score


def test_a_backend_failure_on_the_completion_is_penalised_not_masked() -> None:
    import asyncio

    from chil_plugin_contextual.framework import ContextualFramework

    class Failing:
        def has(self, cap: str) -> bool:
            return True

        def backend(self, cap: str) -> str:
            return "broken"

        async def call_many(self, calls):
            return [ToolResult.failure("backend exploded on this text") for _ in calls]

    fw = ContextualFramework()
    r = asyncio.run(fw.score(Record.model_validate(SAMPLES[0]), Failing()))
    assert r.status == "error" and r.cause == "completion"

    class Unavailable(Failing):
        async def call_many(self, calls):
            return [ToolResult.failure("not installed", "unavailable") for _ in calls]

    r = asyncio.run(fw.score(Record.model_validate(SAMPLES[0]), Unavailable()))
    assert r.status == "abstained" and r.cause == "infrastructure"


def test_text_helpers(tmp_path: Path) -> None:
    from chil_plugin_contextual.text import entities, grounding_items, numbers

    assert entities("However, the Bank of England raised rates in London.") == ["Bank of England", "London"]
    assert [str(v) for _, v in numbers("It cost 1,000 dollars, 3.5% more, on the 21st.")] == ["1000", "3.5", "21"]
    items = grounding_items(["It has three rivers and 3 lakes, not 4."], "There are three rivers and three lakes.", 50)
    assert [(i.text, i.supported) for i in items] == [("3", True), ("4", False)]


def test_retrieved_passages_ground_a_record_without_one(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    from chil_plugin_faiss.tool import build

    from chil_core.capabilities.embedding import start_embedder
    from chil_core.scoring import Scorer
    from chil_core.testing.vector_index import CORPUS

    build(tmp_path / "idx", [i for i, _ in CORPUS], [t for _, t in CORPUS], start_embedder("wordllama"))
    cfg = {"cache": {"path": None}, "tools": {"faiss": {"path": str(tmp_path / "idx")}},
           "frameworks": {"contextual": {"options": {"retrieve_k": 1}}}}
    q = {"prompt": "When did England last reach a World Cup semi final?", "metadata": {"retrieve": True}}
    with Scorer.from_config(cfg, frameworks=["contextual"]) as scorer:
        right, wrong = (r.frameworks["contextual"] for r in scorer.score([
            {"id": "r", "completion": "England last reached a World Cup semi final in 2018.", **q},
            {"id": "w", "completion": "England last reached a World Cup semi final in 2014.", **q}]))
    assert right.verdict == "grounded" and right.score == 1.0
    assert wrong.score < right.score and any(e.kind == "unsupported" and e.data["text"] == "2014" for e in wrong.evidence)
    assert right.evidence[0].kind == "retrieved" and right.evidence[0].data["ids"] == ["worldcup"]
