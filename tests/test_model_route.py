"""The model route beside a framework's tools ([frameworks.<name>.model], chil_core.model_route):
abstentions scored by the model, tools kept as the authority, failures never replaced, config errors
naming the field and the file.  Uses the embedded demo model (number / word), built here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("chil_plugin_transformers")
pytest.importorskip("chil_plugin_onnx")

from chil_core import Scorer  # noqa: E402
from chil_core.config import ConfigError, load_settings  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from chil_plugin_transformers.demo import demo_for_tests

    return demo_for_tests(tmp_path_factory.getbasetemp(), export=True)


def config(demo: Path, tmp_path: Path, **route: object) -> dict:
    return {"frameworks": {"empirical": {"model": {"backend": "onnx", "path": str(demo), **route}}},
            "cache": {"path": str(tmp_path / "cache")}}


RECORDS = [
    {"id": "words", "prompt": "q", "completion": "Bob went to the park."},             # tools abstain: model says word
    {"id": "number", "prompt": "q", "completion": "Bob saw 12 ducks in the park"},     # tools abstain: model says number
    {"id": "empty", "prompt": "q", "completion": ""},                                   # nothing to read: stays abstained
    {"id": "right", "prompt": "q", "completion": "48/2 = 24"},                          # tools scored 1
    {"id": "wrong", "prompt": "q", "completion": "48/2 = 25"},                          # tools scored 0
]


def test_no_route_changes_nothing(tmp_path: Path) -> None:
    with Scorer.from_config({"cache": {"path": str(tmp_path / "c")}}, frameworks=["empirical"]) as s:
        out = s.score(RECORDS)
        assert s.model_routes == {}
    assert [r.frameworks["empirical"].status for r in out] == ["abstained", "abstained", "abstained", "scored", "scored"]
    assert all("model_score" not in r.frameworks["empirical"].components for r in out)


@pytest.mark.parametrize("backend", ["onnx", "transformers"])
def test_route_scores_abstentions_and_compares_where_tools_spoke(demo: Path, tmp_path: Path, backend: str) -> None:
    with Scorer.from_config(config(demo, tmp_path, backend=backend, weight=0.25), frameworks=["empirical"]) as s:
        out = {r.id: r for r in s.score(RECORDS)}
        stats = s.stats()
    words, number = out["words"].frameworks["empirical"], out["number"].frameworks["empirical"]
    assert words.status == number.status == "scored"
    assert words.verdict == "model:word" and number.verdict == "model:number"
    assert words.score < 0.1 < 0.9 < number.score  # label_scores of the demo card: number 1, word 0
    assert number.components["model_score"] == pytest.approx(number.score, abs=1e-6)
    ev = number.evidence[-1]
    assert ev.kind == "model" and str(demo) in ev.text and ev.data["backend"] == backend and ev.data["label"] == "number"
    assert out["number"].weights["empirical"] == 0.25, "the route's own weight on records the model scored"
    assert out["empty"].frameworks["empirical"].status == "abstained", "an empty completion is not read by the model"
    right, wrong = out["right"].frameworks["empirical"], out["wrong"].frameworks["empirical"]
    assert (right.score, wrong.score) == (1.0, 0.0), "the tools stay the authority"
    assert right.verdict == "correct" and out["right"].weights["empirical"] == 1.0
    # the demo model sees a number in both: model_score ~1, so the wrong step disagrees, the right one does not
    assert wrong.components["model_disagreement"] > 0.9 > 0.1 > right.components["model_disagreement"]
    assert stats[f"model:{backend}"]["calls"] >= 4


def test_route_calls_are_cached_and_keyed_by_the_model(demo: Path, tmp_path: Path) -> None:
    cfg = config(demo, tmp_path)
    with Scorer.from_config(cfg, frameworks=["empirical"]) as s:
        first = [r.model_dump() for r in s.score(RECORDS)]
    with Scorer.from_config(cfg, frameworks=["empirical"]) as s:
        second = [r.model_dump() for r in s.score(RECORDS)]
        hits = s.stats()["model:onnx"]["cache_hits"]
    assert hits == 4
    for a, b in zip(first, second, strict=True):
        for ev in a["frameworks"]["empirical"]["evidence"] + b["frameworks"]["empirical"]["evidence"]:
            ev.get("data", {}).pop("cached", None)
    assert first == second
    # a model rewritten in place is not answered from the cache
    moved = tmp_path / "copy"
    shutil.copytree(demo, moved)
    with Scorer.from_config(config(moved, tmp_path), frameworks=["empirical"]) as s:
        s.score(RECORDS)
        assert s.stats()["model:onnx"]["cache_hits"] == 0


def test_failures_are_never_replaced_by_the_model(demo: Path, tmp_path: Path) -> None:
    """An over-size completion (the completion's fault) keeps its verdict; the model is not asked."""
    cfg = config(demo, tmp_path)
    cfg["frameworks"]["empirical"]["max_completion_chars"] = 100
    with Scorer.from_config(cfg, frameworks=["empirical"]) as s:
        (r,) = s.score([{"id": "big", "prompt": "q", "completion": "7 ducks " * 1000}])
    res = r.frameworks["empirical"]
    assert res.verdict == "oversize" and res.score == 0.0 and "model_score" in res.components
    assert res.components["model_disagreement"] > 0.9  # compared, never paid: the score stays 0


def test_huge_completion_is_truncated_and_flagged(demo: Path, tmp_path: Path) -> None:
    cfg = config(demo, tmp_path)
    cfg["frameworks"]["empirical"]["max_completion_chars"] = 2_000_000
    with Scorer.from_config(cfg, frameworks=["empirical"]) as s:
        (r,) = s.score([{"id": "big", "prompt": "q", "completion": "the cat sat on the mat " * 45_000}])
    res = r.frameworks["empirical"]
    assert res.status == "scored" and res.components["model_truncated"] == 1.0 and res.evidence[-1].data["truncated"] is True


@pytest.mark.parametrize(("route", "field", "needle"), [
    ({"backend": "nope"}, "frameworks.empirical.model.backend", "installed model backends"),
    ({"path": "/nonexistent/model"}, "frameworks.empirical.model.path", "does not exist"),
    ({"label_scores": {"maybe": 1.0}}, "frameworks.empirical.model.label_scores", "not the model's"),
    ({"template": "no placeholder"}, "frameworks.empirical.model.template", "{completion}"),
    ({"weight": -1}, "frameworks.empirical.model.weight", "greater than or equal"),
    ({"pth": "x"}, "frameworks.empirical.model.pth", "Extra inputs are not permitted"),
])
def test_bad_routes_fail_at_load_naming_the_field(demo: Path, tmp_path: Path, route: dict, field: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(config(demo, tmp_path, **route), frameworks=["empirical"])
    assert any(path == field and needle in msg for path, msg in err.value.errors), err.value.errors


def test_corrupt_model_card_is_named(demo: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(demo, d)
    (d / "chil-model.json").write_text(json.dumps({"format": "chil-model", "kind": "classifier", "labels": ["a"]}))
    with pytest.raises(ConfigError, match=r"chil-model\.json: 'labels'"):
        load_settings(config(d, tmp_path), frameworks=["empirical"])


def test_a_student_that_says_abstained_leaves_the_abstention(demo: Path, tmp_path: Path) -> None:
    """A distilled student learns the label 'abstained' where its teacher had nothing to judge; the route
    then keeps the abstention (here: the demo model with its 'word' label renamed 'abstained')."""
    d = tmp_path / "m"
    shutil.copytree(demo, d)
    card = json.loads((d / "chil-model.json").read_text())
    card.update(labels=["number", "abstained"], label_scores={"number": 1.0, "abstained": 0.0})
    (d / "chil-model.json").write_text(json.dumps(card))
    with Scorer.from_config(config(d, tmp_path), frameworks=["empirical"]) as s:
        words, number = s.score(RECORDS[:2])
    w = words.frameworks["empirical"]
    assert w.status == "abstained" and w.components["model_score"] < 0.1 and w.evidence[-1].data["label"] == "abstained"
    assert words.masked and words.reward is None
    assert number.frameworks["empirical"].status == "scored" and number.frameworks["empirical"].verdict == "model:number"


def test_route_timeout_covers_the_first_load(demo: Path, tmp_path: Path) -> None:
    """A model call's timeout is the route's (default 120 s: the first batch loads the model), unless the
    backend's scheduler timeout is longer."""
    with Scorer.from_config(config(demo, tmp_path), frameworks=["empirical"]) as s:
        assert s.model_routes["empirical"].backend.timeout == 120.0
    with Scorer.from_config(config(demo, tmp_path, timeout_s=7), frameworks=["empirical"]) as s:
        assert s.model_routes["empirical"].backend.timeout == 10.0, "the scheduler's default 10 s is longer"
    cfg = config(demo, tmp_path, timeout_s=30)
    cfg["scheduler"] = {"backends": {"onnx": {"timeout_s": 300}}}
    with Scorer.from_config(cfg, frameworks=["empirical"]) as s:
        assert s.model_routes["empirical"].backend.timeout == 300.0
