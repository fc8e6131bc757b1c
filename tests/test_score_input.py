"""``chil score`` on hostile input: every bad line is ``file:line: skipped: why`` and the rest is scored;
every bad file, path or size is one ``error:`` line, never a traceback (issue 8, item 3 and 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from chil_core.cli import cli


class Proc:
    def __init__(self, result) -> None:
        self.returncode = result.exit_code
        self.stderr = result.stderr
        self.stdout = result.stdout
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            self.stderr += "\nTraceback: " + repr(result.exception)


def run_chil(*args: str, env_extra: dict[str, str] | None = None) -> Proc:
    """The real CLI in this process (plugins are discovered once): much faster than a subprocess."""
    env = {k: None for k in os.environ if k.startswith("CHIL")} | (env_extra or {})
    return Proc(CliRunner().invoke(cli, list(args), env=env))

GOOD = {"id": "g1", "prompt": "What is 2+2?", "completion": "2+2=4", "reference": {"answer": "4"}}


def line(obj) -> bytes:
    return json.dumps(obj).encode()


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


def score(tmp_path, lines: list[bytes], *extra: str, env: dict[str, str] | None = None):
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    base = {"CHIL__CACHE__ENABLED": "false"}
    proc = run_chil("score", str(inp), "-o", str(out), "--frameworks", "empirical", *extra, env_extra={**base, **(env or {})})
    return inp, out, proc


def test_bad_bytes_and_escapes_skip_only_their_line(tmp_path):
    lines = [
        line(GOOD),
        b'{"id": "s", "prompt": "p", "completion": "\\ud800 lone surrogate"}',
        b'{"id": "e9", "prompt": "p", "completion": "caf\xe9"}',
        b'{"id": "ff", "prompt": "p", "completion": "\xff"}',
        b"[" * 100_000 + b"]" * 100_000,
        line({**GOOD, "id": "g2"}),
        b'{"id": "pair", "prompt": "p", "completion": "\\ud83d\\ude00 2+2=4"}',  # a valid surrogate pair
    ]
    inp, out, proc = score(tmp_path, lines)
    no_traceback(proc)
    assert proc.returncode == 1
    assert f"{inp}:2: skipped: invalid JSON: a lone UTF-16 surrogate" in proc.stderr
    assert f"{inp}:3: skipped: invalid UTF-8: byte 0xe9" in proc.stderr
    assert f"{inp}:4: skipped: invalid UTF-8: byte 0xff" in proc.stderr
    assert f"{inp}:5: skipped: invalid JSON: nested deeper than 1,024 levels" in proc.stderr
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["g1", "g2", "pair"]
    assert rows[2]["completion"].startswith("\U0001F600")
    assert rows[0]["reward"] == 1.0


def test_every_problem_of_a_line_at_once_and_duplicate_ids_warned(tmp_path):
    lines = [line(GOOD), line({"id": "x", "prompt": 5}), line({**GOOD, "completion": "2+2=5"})]
    inp, out, proc = score(tmp_path, lines)
    no_traceback(proc)
    assert f"{inp}:2: skipped: prompt: Input should be a valid string; completion: Field required" in proc.stderr
    assert f"{inp}:3: warning: duplicate id 'g1' (first on line 1)" in proc.stderr
    assert len(out.read_text().splitlines()) == 2  # a duplicate is still scored


def test_summary_at_the_end(tmp_path):
    lines = [line(GOOD), line({**GOOD, "id": "w", "completion": "2+2=5 so the answer is 5"}), b"not json"]
    _, _, proc = score(tmp_path, lines)
    no_traceback(proc)
    tail = proc.stderr.strip().splitlines()[-3:]
    assert tail[0].startswith("scored 2 records, skipped 1 malformed lines in ") and "records/s" in tail[0]
    assert tail[1].strip().startswith("empirical: scored 2")
    assert tail[2].strip() == "reward: mean 0.500 over 2 records"


@pytest.mark.parametrize("case", ["missing input", "cache under a file", "output under a file",
                                  "impossible cache size"])
def test_bad_file_path_or_size_is_one_error_line(tmp_path, case):
    (tmp_path / "afile").write_text("x")
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(line(GOOD) + b"\n")
    args, env = [str(inp), "--frameworks", "empirical"], {"CHIL__CACHE__PATH": str(tmp_path / "cache")}
    if case == "missing input":
        args[0] = str(tmp_path / "nope.jsonl")
    elif case == "cache under a file":  # as unwritable as a read-only directory, even for root
        env["CHIL__CACHE__PATH"] = str(tmp_path / "afile" / "cache")
    elif case == "output under a file":
        args += ["-o", str(tmp_path / "afile" / "out.jsonl")]
    else:
        env["CHIL__CACHE__MAX_SIZE_MB"] = str(10**12)
    proc = run_chil("score", *args, env_extra=env)
    no_traceback(proc)
    assert proc.returncode == 2
    errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    expect = {"missing input": "No such file",
              "cache under a file": "cache.path", "output under a file": "cannot write the output",
              "impossible cache size": "cache.max_size_mb = 1000000000000"}[case]
    assert expect.lower() in errors[0].lower(), errors[0]


def test_output_respects_the_umask(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(line(GOOD) + b"\n")
    out = tmp_path / "out.jsonl"
    code = ("import os, sys; os.umask(0o022); from chil_core.cli import main; "
            f"sys.argv = ['chil', 'score', {str(inp)!r}, '-o', {str(out)!r}, '--frameworks', 'empirical']; main()")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")} | {"CHIL__CACHE__ENABLED": "false"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (out.stat().st_mode & 0o777) == 0o644  # before: 0600 whatever the umask


def test_stale_temporary_outputs_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".chil-score-{dead.pid}-abc123.tmp"  # its process is gone: killed mid-run
    live = tmp_path / f".chil-score-{os.getpid()}-def456.tmp"  # a run still going (this process)
    old = tmp_path / ".chil-score-oldstyle.tmp"  # an older version's name, hours old
    fresh_old = tmp_path / ".chil-score-newish.tmp"  # same, but minutes old: maybe still being written
    for p in (stale, live, old, fresh_old):
        p.write_text("partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    inp, out, proc = score(tmp_path, [line(GOOD)])
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and not old.exists()
    assert live.exists() and fresh_old.exists()
    assert not [p for p in tmp_path.glob(".chil-score-*.tmp") if p not in (live, fresh_old)]
