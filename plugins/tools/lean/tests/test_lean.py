"""Lean backend: really unavailable here; the subprocess path checked with stand-in ``lean`` scripts."""

from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path

import pytest
from chil_plugin_lean.prover import LeanProver

from chil_core import ToolCall
from chil_core.testing.theorem_prover import TheoremProverConformance

PROOF = "theorem two_plus_two : 2 + 2 = 4 := rfl\n"


def check(code: str, **options) -> object:
    tool = LeanProver(LeanProver.Options(**options))
    tool.start()
    return tool.run_batch([ToolCall(capability="theorem_prover", op="check", payload={"code": code})])[0]


def fake_lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """Put a stand-in ``lean`` first on PATH (only exit codes and output can be faked this way)."""
    exe = tmp_path / "bin" / "lean"
    exe.parent.mkdir(exist_ok=True)
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{exe.parent}:/usr/bin:/bin")


@pytest.mark.skipif(shutil.which("lean") is not None, reason="a real lean binary is installed")
def test_unavailable_without_lean_binary() -> None:
    reason = LeanProver.unavailable_reason()
    assert reason is not None and "lean" in reason
    with pytest.raises(FileNotFoundError, match="lean"):
        LeanProver().start()


def test_exit_zero_without_errors_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_lean(tmp_path, monkeypatch, 'cat "$1"; exit 0')
    assert LeanProver.unavailable_reason() is None
    out = check(PROOF)
    assert out["valid"] is True and out["exit_code"] == 0 and "two_plus_two" in out["messages"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('echo "Snippet.lean:1:40: error: type mismatch"; exit 1', PROOF),
        ('echo "Snippet.lean:1:8: warning: declaration uses \'sorry\'"; exit 0', PROOF),
        ("exit 0", "theorem t : 1 = 2 := by sorry"),
        ("kill -9 $$", PROOF),
    ],
    ids=["error-exit", "sorry-warning", "sorry-in-code", "crash"],
)
def test_failures_are_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, code: str) -> None:
    fake_lean(tmp_path, monkeypatch, body)
    out = check(code)
    assert out["valid"] is False


def test_timeout_kills_the_process_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_lean(tmp_path, monkeypatch, "sleep 30 & sleep 30")
    t0 = time.perf_counter()
    out = check(PROOF, timeout_s=0.5)
    assert time.perf_counter() - t0 < 5
    assert out.status == "timeout" and "0.5" in out.error


@pytest.mark.parametrize(
    "code",
    ['#eval IO.println "hi"', "axiom cheat : False\ntheorem t : 1 = 2 := cheat.elim", 'run_cmd Lean.logInfo "x"',
     "import Lean.Elab.Frontend\ntheorem t : True := trivial", "theorem t : 10 = 10 := by native_decide",
     "@[implemented_by foo] def f := 1", "macro \"x\" : term => `(1)"],
    ids=["eval", "axiom", "run_cmd", "import", "native_decide", "implemented_by", "macro"],
)
def test_denied_constructs_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    marker = tmp_path / "ran"
    fake_lean(tmp_path, monkeypatch, f'touch "{marker}"; exit 0')
    out = check(code)
    assert out["valid"] is False and out["messages"].startswith("refused")
    assert not marker.exists()


def test_bad_payloads_and_ops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_lean(tmp_path, monkeypatch, "exit 0")
    tool = LeanProver()
    tool.start()
    out = tool.run_batch([ToolCall(capability="theorem_prover", op="check", payload={"code": 3}),
                          ToolCall(capability="theorem_prover", op="prove", payload={})])
    assert out[0].status == "error" and "payload.code" in out[0].error
    assert out[1].status == "error" and "no op 'prove'" in out[1].error
    assert check("x" * 200, max_code_chars=100)["valid"] is False


class TestLeanConformance(TheoremProverConformance):
    """Runs only where a real ``lean`` is installed (skipped here: it is not)."""

    tool_class = LeanProver

    def sample_calls(self) -> list[ToolCall]:
        return [ToolCall(capability="theorem_prover", op="check", payload={"code": PROOF}),
                ToolCall(capability="theorem_prover", op="check", payload={"code": "theorem t : 1 = 2 := rfl"})]

    def hostile_calls(self) -> list[ToolCall]:
        return [ToolCall(capability="theorem_prover", op="check", payload={"code": '#eval IO.Process.run {cmd := "rm"}'})]
