"""The weat stereotype backend: the stereotype conformance suite on the real WordLlama embeddings,
group detection, the built training data, the fitting command, and a head that does not fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from chil_plugin_stereotype.features import find_groups, main_group
from chil_plugin_stereotype.fit import build_training_set
from chil_plugin_stereotype.tool import WeatStereotype

from chil_core.testing.stereotype import StereotypeConformance, score_call


class TestWeatConformance(StereotypeConformance):
    tool_class = WeatStereotype


def test_group_detection() -> None:
    g = main_group(find_groups("The Black man said his African-American friend was late."))
    assert (g.category, g.sign, g.term) == ("race-color", 1, "Black")
    assert [x.term for x in find_groups("African-American and middle-eastern students")] == ["African-American", "middle-eastern"]
    assert main_group(find_groups("She said the women were late.")).category == "gender"
    assert main_group(find_groups("Nurses were late.")) is None


def test_training_data_is_built_from_the_lexicon_not_crows_pairs() -> None:
    import csv

    rows = build_training_set(seed=0, per_category=50)
    assert {y for _, y in rows} == {0, 1} and len(rows) > 400
    crows = Path(__file__).resolve().parents[4].parent / "shared" / "data" / "crows_pairs" / "crows_pairs_dev.csv"
    if crows.is_file():
        with crows.open(encoding="utf-8") as fh:
            dev = {r[k] for r in csv.DictReader(fh) for k in ("sent_more", "sent_less")}
        assert not dev & {s for s, _ in rows}


@pytest.mark.slow
def test_fit_command_writes_a_json_head_the_backend_loads(tmp_path: Path) -> None:
    out = tmp_path / "head.json"
    proc = subprocess.run([sys.executable, "-m", "chil_core.cli", "fit-stereotype", "-o", str(out), "--per-category", "40"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fitted on" in proc.stdout
    head = json.loads(out.read_text())
    assert head["data"]["crows_pairs_used"] is False and len(head["weights"]) == len(head["features"])
    tool = WeatStereotype(WeatStereotype.Options(head=str(out)))
    tool.start()
    (value,) = tool.run_batch([score_call("Women are too emotional.")])
    assert value["group"] == "Women" and 0 <= value["probability"] <= 1
    tool.close()


def test_a_head_for_other_features_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"features": ["x"], "weights": [1.0], "intercept": 0.0}))
    with pytest.raises(RuntimeError, match="tools.weat.head"):
        WeatStereotype(WeatStereotype.Options(head=str(bad))).start()
