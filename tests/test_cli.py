from __future__ import annotations

import json

from chil_core import schema as schema_mod

FW = """
from typing import ClassVar
from chil_core import Framework, FrameworkResult, Evidence, hookimpl

class Length(Framework):
    name: ClassVar[str] = "length"
    version: ClassVar[str] = "1.0"
    async def score(self, record, ctx):
        if not record.completion:
            return FrameworkResult.abstained("empty completion")
        n = len(record.completion)
        return FrameworkResult.scored(min(1.0, n / 10), components={"chars": n}, verdict="long" if n >= 10 else "short",
                                      evidence=[Evidence(kind="length", text=f"{n} chars")])

@hookimpl
def chil_register_frameworks(register):
    register(Length)
"""


def test_score_reports_bad_lines_and_writes_the_rest_atomically(chil, fake_dists, tmp_path):
    fake_dists("length", FW)
    lines = [
        json.dumps({"id": "a", "prompt": "p", "completion": "0123456789xyz", "extra": [1, 2]}),
        "{not json",
        json.dumps({"id": "b", "prompt": "p"}),
        "",
        json.dumps({"id": "c", "prompt": "p", "completion": "abc"}),
        json.dumps([1, 2]),
        json.dumps({"id": "d", "prompt": "p", "completion": ""}),
    ]
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out" / "scored.jsonl"
    proc = chil("score", str(inp), "-o", str(out), "--batch-size", "2", pythonpath=fake_dists.path, cwd=tmp_path)
    assert proc.returncode == 1  # some lines were skipped
    assert f"{inp}:2: skipped: invalid JSON" in proc.stderr
    assert f"{inp}:3: skipped: completion: Field required" in proc.stderr
    assert f"{inp}:6: skipped: expected a JSON object" in proc.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "c", "d"]
    a, c, d = rows
    assert a["extra"] == [1, 2] and a["reward"] == 1.0
    assert a["frameworks"]["length"]["verdict"] == "long" and a["frameworks"]["length"]["components"] == {"chars": 13.0}
    assert a["frameworks"]["length"]["evidence"][0]["text"] == "13 chars"
    assert c["reward"] == 0.3 and c["frameworks"]["length"]["status"] == "scored"
    assert d["reward"] is None and d["masked"] and d["frameworks"]["length"]["status"] == "abstained"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".chil-score-")], "no temp file left behind"


def test_score_output_dash_is_stdout(chil, fake_dists, tmp_path):
    """``-o -`` writes the rows to stdout, as no ``-o`` does; ``-o ./-`` is a file named "-"."""
    fake_dists("length", FW)
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "prompt": "p", "completion": "0123456789xyz"}\n{"id": "b", "prompt": "p", "completion": "abc"}\n')
    dash = chil("score", str(inp), "-o", "-", pythonpath=fake_dists.path, cwd=tmp_path)
    plain = chil("score", str(inp), pythonpath=fake_dists.path, cwd=tmp_path)
    assert dash.returncode == 0 and plain.returncode == 0, dash.stderr
    assert [json.loads(x)["id"] for x in dash.stdout.splitlines()] == ["a", "b"]
    assert [json.loads(x)["reward"] for x in dash.stdout.splitlines()] == [json.loads(x)["reward"] for x in plain.stdout.splitlines()]
    assert not (tmp_path / "-").exists()
    named = chil("score", str(inp), "-o", "./-", pythonpath=fake_dists.path, cwd=tmp_path)
    assert named.returncode == 0 and not named.stdout and len((tmp_path / "-").read_text().splitlines()) == 2


def test_score_with_unknown_framework_fails_before_work(chil, tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "prompt": "p", "completion": "c"}\n')
    proc = chil("score", str(inp), "-o", str(tmp_path / "o.jsonl"), "--frameworks", "nonexistent", cwd=tmp_path)
    assert proc.returncode == 2 and "frameworks.nonexistent" in proc.stderr and "installed frameworks" in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_config_validate_reports_field_paths(chil, tmp_path):
    cfg = tmp_path / "chil.toml"
    cfg.write_text("[scheduler]\nmax_batch = -1\n[cache]\nsize = 3\n")
    proc = chil("config", "validate", "--config", str(cfg))
    assert proc.returncode == 2
    assert "scheduler.max_batch" in proc.stderr and "cache.size" in proc.stderr
    ok = tmp_path / "ok.toml"
    ok.write_text("[scheduler]\nmax_batch = 8\n")
    good = chil("config", "validate", "--config", str(ok))
    assert good.returncode == 0 and "config ok" in good.stdout
    shown = chil("config", "show", "--config", str(ok))
    assert "max_batch = 8" in shown.stdout


def test_schema_check_detects_drift(chil, tmp_path):
    assert chil("schema", "--dir", str(tmp_path)).returncode == 0
    assert chil("schema", "--check", "--dir", str(tmp_path)).returncode == 0
    (tmp_path / "record.json").write_text("{}\n")
    proc = chil("schema", "--check", "--dir", str(tmp_path))
    assert proc.returncode == 1 and "record.json" in proc.stderr


def test_checked_in_schemas_match_the_contracts():
    from pathlib import Path

    assert schema_mod.drift(Path(__file__).resolve().parents[1] / "schemas") == []


def test_schemas_validate_real_outputs():
    import jsonschema

    from chil_core.contracts import FrameworkResult, RecordReward

    schemas = {k: json.loads(v) for k, v in schema_mod.render().items()}
    rr = RecordReward(id="x", reward=0.5, frameworks={"f": FrameworkResult.scored(0.5, components={"a": 1.0})})
    jsonschema.validate(json.loads(rr.model_dump_json()), schemas["record_reward.json"])
    jsonschema.validate({"id": "1", "prompt": "p", "completion": "c", "extra": 1}, schemas["record.json"])


RAISES = """
from typing import ClassVar
from chil_core import Framework, hookimpl

class Raises(Framework):
    name: ClassVar[str] = "raises"
    version: ClassVar[str] = "1.0"
    async def score(self, record, ctx):
        raise ZeroDivisionError("framework bug")

@hookimpl
def chil_register_frameworks(register):
    register(Raises)
"""


def test_log_level_and_verbose_set_what_the_log_shows(chil, fake_dists, tmp_path):
    fake_dists("raises", RAISES)
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "a", "prompt": "p", "completion": "c"}\n')
    runs = {flags: chil(*flags, "score", str(inp), "-o", str(tmp_path / "o.jsonl"), pythonpath=fake_dists.path, cwd=tmp_path)
            for flags in ((), ("--log-level", "error"), ("-vv",))}
    assert all(p.returncode == 0 for p in runs.values()), {f: p.stderr for f, p in runs.items()}
    warning = "WARNING chil_core.scoring: framework raises raised on record 'a'"
    assert warning in runs[()].stderr and "ZeroDivisionError: framework bug" in runs[()].stderr  # default: warnings
    assert "framework raises raised" not in runs[("--log-level", "error")].stderr
    assert "DEBUG " in runs[("-vv",)].stderr and warning in runs[("-vv",)].stderr
