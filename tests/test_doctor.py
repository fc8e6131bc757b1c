"""``chil doctor``: every installed plugin ships self-test cases, the default install passes, a broken
backend fails with one clear line, and the case checks themselves catch what they must."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chil_core.contracts import FrameworkResult, ToolResult
from chil_core.plugins import get_plugin_manager, tool_id
from chil_core.selftest import SelfTest, collect


def test_every_installed_framework_and_backend_ships_gold_negative_and_hostile_cases() -> None:
    pm = get_plugin_manager()
    cases, problems = collect(pm)
    assert problems == []
    reg = pm.registry
    ours = {n for n, i in reg.plugins.items() if (i.distribution or "").startswith("chil-plugin-")}
    targets = [n for n in reg.frameworks if reg.owner[f"framework:{n}"] in ours]
    targets += [tool_id(c) for by in reg.tools.values() for c in by.values() if reg.owner[f"tool:{tool_id(c)}"] in ours]
    assert len(targets) >= 30
    for target in targets:
        kinds = {c.kind for c in cases.get(target, [])}
        assert {"gold", "hostile"} <= kinds, f"{target}: cases of kinds {kinds}"
        if ":" not in target:  # every framework also ships mutated negatives
            assert "negative" in kinds, target


def test_case_checks_catch_what_they_must() -> None:
    gold = SelfTest.framework("fw", "g", "gold", {"prompt": "p", "completion": "c"}, min_score=1.0)
    assert gold.problem(FrameworkResult.scored(1.0)) is None
    assert "score 0.5" in gold.problem(FrameworkResult.scored(0.5))
    assert "status 'abstained'" in gold.problem(FrameworkResult.abstained("nothing"))
    hostile = SelfTest.framework("fw", "h", "hostile", {"prompt": "p", "completion": "c"})
    assert hostile.problem(FrameworkResult(status="error", explanation="x")) is None  # typed: fine
    assert "paid 0.2" in hostile.problem(FrameworkResult.scored(0.2))  # never paid
    with pytest.raises(ValueError, match="negative"):
        SelfTest.framework("fw", "n", "negative", {"prompt": "p", "completion": "c"})
    tool = SelfTest.tool("smt:x", "t", "gold", None, value={"verdict": "entailed"})
    assert tool.problem(ToolResult("ok", {"verdict": "entailed"})) is None
    assert "value" in tool.problem(ToolResult("ok", {"verdict": "contradicted"}))
    assert "status 'error'" in tool.problem(ToolResult("error", None, "boom"))
    bad_check = SelfTest.tool("smt:x", "t", "hostile", None, check=lambda r: 1 / 0)
    assert "check raised ZeroDivisionError" in bad_check.problem(ToolResult("error", None, "x"))


@pytest.mark.slow
def test_doctor_passes_on_the_default_install_for_a_framework_and_its_backends(chil, tmp_path: Path) -> None:
    cfg = tmp_path / "chil.toml"
    cfg.write_text('[frameworks.empirical]\n[frameworks.consistency]\ntools = { logic_program = "clingo" }\n')
    proc = chil("doctor", "--config", str(cfg), "--json", "--repeat", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and report["failures"] == []
    by = {c["name"]: c for c in report["components"]}
    for name in ("empirical", "consistency", "smt:z3", "fact_store:duckdb", "logic_program:clingo", "text_index:sqlite"):
        comp = by[name]
        assert comp["ok"] and comp["used"] and comp["deterministic"], name
        assert comp["counts"]["gold"]["passed"] == comp["counts"]["gold"]["total"] > 0, name
        assert comp["counts"]["hostile"]["passed"] == comp["counts"]["hostile"]["total"] > 0, name
        assert comp["latency_ms"]["p50"] is not None and comp["latency_ms"]["p99"] >= comp["latency_ms"]["p50"]
        assert comp["throughput_per_s"] > 0 and comp["version"]
    assert by["smt:z3"]["libraries"]["z3-solver"] not in ("", "missing")  # the solver's own version, not only the plugin's
    assert by["fact_store:duckdb"]["libraries"]["duckdb"] not in ("", "missing")
    assert not by["logic_program:prolog"]["used"] and by["logic_program:prolog"]["cases"] == []  # not run: not used


def test_doctor_fails_with_a_clear_line_when_a_fact_store_points_at_a_missing_file(chil, tmp_path: Path) -> None:
    cfg = tmp_path / "chil.toml"
    cfg.write_text(f'[frameworks.empirical]\n[tools.duckdb]\npath = ["{tmp_path / "missing.tsv"}"]\n')
    proc = chil("doctor", "--config", str(cfg))
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if x.startswith("FAIL config: tools.duckdb.path:"))
    assert line.endswith("missing.tsv' does not exist") and "Value error" not in line, line


@pytest.mark.slow
def test_doctor_fails_with_a_clear_line_when_a_fact_store_database_is_missing(chil, tmp_path: Path) -> None:
    cfg = tmp_path / "chil.toml"
    cfg.write_text(f'[frameworks.empirical]\n[tools.duckdb]\ndatabase = "{tmp_path / "missing.duckdb"}"\n')
    proc = chil("doctor", "--config", str(cfg), "--only", "fact_store:duckdb", "--repeat", "1")
    assert proc.returncode == 1
    fails = [x for x in proc.stdout.splitlines() if x.startswith("FAIL ")]
    assert fails and all("fact_store:duckdb" in x for x in fails), proc.stdout
    assert any("missing.duckdb' does not exist" in x for x in fails), proc.stdout


def test_doctor_fails_with_a_clear_line_when_prolog_has_no_binary(chil, tmp_path: Path) -> None:
    import sys

    cfg = tmp_path / "chil.toml"
    cfg.write_text('[frameworks.consistency]\ntools = { logic_program = "prolog" }\n')
    proc = chil("doctor", "--config", str(cfg), env_extra={"PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 1
    assert ("FAIL config: frameworks.consistency.tools.logic_program: logic_program backend 'prolog' is installed "
            "but unavailable: no `swipl` binary on PATH") in proc.stdout, proc.stdout


@pytest.mark.slow
def test_doctor_passes_with_no_config_file(chil, tmp_path: Path) -> None:
    """With no config file every installed framework runs with its default backends, some of which need
    the user's own file (a FAISS index, an LDA model): their cases accept the clear error, so a fresh
    install's `chil doctor` is green."""
    proc = chil("doctor", "--json", "--repeat", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    by = {c["name"]: c for c in json.loads(proc.stdout)["components"]}
    for name in ("contextual", "vector_index:faiss", "topic_model:lda"):
        assert by[name]["used"] and by[name]["ok"], name
