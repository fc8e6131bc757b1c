"""Learned outcome predictors: ``chil fit-predictor`` on a CSV table, then decisions judged by their
predicted utility relative to the candidates, with xgboost and lightgbm."""

from __future__ import annotations

import csv
import json
import random

import pytest
from chil_plugin_utility.framework import UtilityFramework, UtilityOptions
from chil_plugin_utility.predictor import fit_predictor

from chil_core.testing import score_direct


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("tbl") / "outcomes.csv"
    rng = random.Random(0)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["price", "quality", "label", "utility"])
        for _ in range(300):
            p, q = rng.uniform(1, 10), rng.uniform(0, 5)
            w.writerow([f"{p:.3f}", f"{q:.3f}", "x", f"{2 * q - 0.5 * p + rng.gauss(0, 0.05):.4f}"])
    return path


CANDS = {"candidates": [{"name": "cheap", "features": {"price": 2, "quality": 1}},
                        {"name": "premium", "features": {"price": 9, "quality": 5}},
                        {"name": "balanced", "features": {"price": 4, "quality": 4}}]}


@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
def test_fit_then_judge_decisions(table, tmp_path, backend):
    from chil_core.plugins import get_registry

    out = tmp_path / backend
    spec = fit_predictor(table, "utility", None, backend, out, seed=0, holdout=0.2, rounds=150)
    assert spec["features"] == ["price", "quality"]  # the text column is left out
    assert spec["metrics"]["holdout_rmse"] < 0.5
    tool_cls = get_registry().tools["predictor"][backend]
    fw = UtilityFramework(UtilityOptions(predictor_model=str(out)))
    recs = [{"id": str(i), "prompt": "p", "metadata": {"predictor": CANDS}, "completion": c} for i, c in enumerate([
        "```json\n{\"choice\": \"balanced\"}\n```",    # 2*4 - 2 = 6: best
        "I would choose cheap.",                        # 2 - 1 = 1
        "```json\n{\"choice\": \"premium\"}\n```",     # 10 - 4.5 = 5.5
        "```json\n{\"decision\": {\"price\": 1, \"quality\": 99}}\n```",
        "",
        "```json\n{\"choice\": \"gold-plated\"}\n```",
    ])]
    best, cheap, premium, out_of_range, empty, unknown = score_direct(fw, recs, {"predictor": tool_cls()})
    assert best.score == 1.0 and best.verdict == "best"
    assert "top contributions: quality" in best.evidence[1].text
    assert cheap.score == 0.0 and cheap.verdict == "not_best"
    assert 0.7 < premium.score < 1.0
    assert out_of_range.score == 0.0 and "outside the fitted range" in out_of_range.explanation
    assert empty.status == "scored" and empty.score == 0.0 and empty.verdict == "no_answer"
    assert unknown.score == 0.0 and "not a candidate" in unknown.explanation


def test_fit_predictor_errors_name_the_problem(table, tmp_path):
    import click

    with pytest.raises(click.BadParameter, match="no column 'util'"):
        fit_predictor(table, "util", None, "xgboost", tmp_path / "a")
    with pytest.raises(click.BadParameter, match="unknown predictor backend 'catboost'"):
        fit_predictor(table, "utility", None, "catboost", tmp_path / "b")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,utility\n1,2\n3\n")
    with pytest.raises(click.UsageError, match="bad.csv:3: 1 cells, the header has 2"):
        fit_predictor(bad, "utility", None, "xgboost", tmp_path / "c")


def test_bad_predictor_model_option_fails_at_load(tmp_path):
    with pytest.raises(ValueError, match="predictor_model: .*chil_predictor.json"):
        UtilityFramework(UtilityOptions(predictor_model=str(tmp_path)))


def test_fit_predictor_command_through_the_cli(table, tmp_path):
    from click.testing import CliRunner

    from chil_core.cli import _attach_plugin_commands, cli

    _attach_plugin_commands()
    res = CliRunner().invoke(cli, ["fit-predictor", str(table), "--target", "utility", "--features", "price,quality",
                                   "--backend", "lightgbm", "-o", str(tmp_path / "m"), "--rounds", "50"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["backend"] == "lightgbm"
    assert (tmp_path / "m" / "chil_predictor.json").is_file()
