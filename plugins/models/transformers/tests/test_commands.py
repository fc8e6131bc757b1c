"""``chil model fit | distill | corpus`` at tiny sizes, with the real teacher (empirical) and real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chil_core.capabilities.model import read_card

DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "data"
TINY = ["--hidden", "16", "--layers", "1", "--heads", "2", "--epochs", "2", "--max-length", "32", "--threads", "1"]


def test_distill_empirical_student_with_bad_lines(tmp_path: Path) -> None:
    from chil_plugin_transformers.commands import corpus, distill

    if not (DATA / "gsm8k" / "train.jsonl").is_file():
        pytest.skip("development data not found")
    runner = CliRunner()
    src = tmp_path / "steps.jsonl"
    res = runner.invoke(corpus, ["gsm8k-steps", "-o", str(src), "--data", str(DATA), "--limit", "150"])
    assert res.exit_code == 0, res.output
    rows = src.read_bytes().splitlines()
    assert any(b'"prose": true' in r for r in rows) and any(b'"perturbed": true' in r for r in rows)
    # invalid UTF-8, not JSON, and a record with a bad field: reported with their line, the rest kept
    src.write_bytes(b"\n".join(rows[:100] + [b"\xff\xfe{", b"{nope", b'{"id": "x", "completion": 5}'] + rows[100:]) + b"\n")
    out = tmp_path / "student"
    res = runner.invoke(distill, [str(src), "--teacher", "empirical", "-o", str(out), *TINY])
    assert res.exit_code == 1, res.output  # trained and written, but bad lines were skipped
    assert f"{src}:101: skipped: not UTF-8" in res.output and f"{src}:102: skipped: not JSON" in res.output
    assert f"{src}:103: skipped: prompt: Field required; completion: Input should be a valid string" in res.output
    card = read_card(out)
    assert set(card["labels"]) == {"abstained", "arithmetic_error", "correct"}
    assert card["label_scores"] == {"abstained": 0.0, "arithmetic_error": 0.0, "correct": 1.0}
    assert card["teacher"]["framework"] == "empirical" and card["data"]["bad_lines"] == 3 and card["data"]["records"] == 150
    m = card["metrics"]
    assert m["held_out_rows"] == 30 and 0.0 <= m["held_out_accuracy"] <= 1.0 and "majority_baseline" in m
    assert card["training"]["loss_last_50_steps"] > 0 and card["training"]["steps"] >= 1
    by = m["held_out_by_label"]
    assert set(by) == set(card["labels"]) and sum(v["rows"] for v in by.values()) == 30
    assert sum(v["rows"] * v["agreement"] for v in by.values()) == pytest.approx(30 * m["held_out_accuracy"], abs=0.01)
    assert (out / "model.safetensors").is_file() and (out / "samples.jsonl").is_file() and card["date"].endswith("Z")


def test_fit_reports_bad_rows_and_refuses_one_label(tmp_path: Path) -> None:
    from chil_plugin_transformers.commands import fit
    from chil_plugin_transformers.demo import demo_rows

    data = tmp_path / "d.jsonl"
    lines = [json.dumps({"text": t, "label": y}) for t, y in demo_rows(60)]
    data.write_text("\n".join([*lines, json.dumps({"text": "", "label": "word"}), json.dumps({"text": "x"})]) + "\n")
    res = CliRunner().invoke(fit, [str(data), "-o", str(tmp_path / "m"), *TINY])
    assert res.exit_code == 1, res.output
    assert f"{data}:61: skipped: text" in res.output and f"{data}:62: skipped: label" in res.output
    assert read_card(tmp_path / "m")["labels"] == ["number", "word"]
    one = tmp_path / "one.jsonl"
    one.write_text("".join(json.dumps({"text": f"t{i}", "label": "a"}) + "\n" for i in range(20)))
    res = CliRunner().invoke(fit, [str(one), "-o", str(tmp_path / "m2")])
    assert res.exit_code == 2 and "need at least two labels" in res.output and not (tmp_path / "m2").exists()


def test_fit_linear_head_on_an_embedding_backend(tmp_path: Path) -> None:
    """--base embedding:wordllama: a head.json any model backend serves (here: transformers and onnx agree)."""
    from chil_plugin_transformers.commands import fit
    from chil_plugin_transformers.demo import demo_rows

    from chil_core.capabilities.model import start_model
    from chil_core.contracts import ToolCall, ToolResult
    from chil_core.plugins import get_registry

    if "wordllama" not in get_registry().backends("embedding"):
        pytest.skip("no wordllama embedding backend installed")
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in demo_rows(200)))
    out = tmp_path / "head"
    res = CliRunner().invoke(fit, [str(data), "-o", str(out), "--base", "embedding:wordllama"])
    assert res.exit_code == 0, res.output
    card = read_card(out)
    assert card["architecture"]["type"] == "linear-head" and card["metrics"]["held_out_rows"] == 40
    call = ToolCall(capability="model", op="classify", payload={"texts": ["The dog ran 42 far away", "The cat sat on the mat.", ""]})
    answers = []
    for backend in ("transformers", "onnx"):
        tool = start_model(backend, {"path": str(out)})
        answers.append(tool.run_batch([call])[0])
        tool.close()
    assert answers[0] == answers[1] and not isinstance(answers[0], ToolResult)
    assert answers[0]["empty"] == [2] and answers[0]["probs"][2] == card["prior"]
    (out / "head.json").write_text('{"format": "chil-linear-head", "weights": [[1]], "bias": [0]}')
    tool = start_model("onnx", {"path": str(out)})
    bad = tool.run_batch([call])[0]
    tool.close()
    assert isinstance(bad, ToolResult) and "head.json" in (bad.error or "")
    res = CliRunner().invoke(fit, [str(data), "-o", str(tmp_path / "h2"), "--base", "embedding:nope"])
    assert res.exit_code == 2 and "--base" in res.output and "not installed" in res.output
