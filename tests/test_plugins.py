"""Entry-point discovery with real installed-distribution metadata: one broken plugin never breaks the host."""

from __future__ import annotations

import json

GOOD = """
from typing import ClassVar
from chil_core import Framework, FrameworkResult, hookimpl

class Good(Framework):
    name: ClassVar[str] = "good"
    version: ClassVar[str] = "1.0"
    async def score(self, record, ctx):
        return FrameworkResult.scored(1.0)

@hookimpl
def chil_register_frameworks(register):
    register(Good)
"""
DUPLICATE = GOOD.replace("class Good", "class Dup").replace("register(Good)", "register(Dup)")
IMPORT_ERROR = "import module_that_does_not_exist\n"
HOOK_ERROR = """
from chil_core import hookimpl
@hookimpl
def chil_register_tools(register):
    raise RuntimeError("boom in register")
"""


def _plugins(chil, fake_dists, **env):
    proc = chil("plugins", "--json", pythonpath=fake_dists.path, env_extra=env)
    assert proc.returncode == 0, proc.stderr
    return {row["name"]: row for row in json.loads(proc.stdout)}


def test_each_failure_is_reported_and_the_host_goes_on(chil, fake_dists):
    fake_dists("good", GOOD)
    fake_dists("zdup", DUPLICATE)
    fake_dists("broken", IMPORT_ERROR)
    fake_dists("hookfail", HOOK_ERROR)
    fake_dists("future", GOOD.replace('"good"', '"future"'), requires="chil-core>=9.0")
    rows = _plugins(chil, fake_dists)
    assert rows["good"]["status"] == "ok" and rows["good"]["components"]["frameworks"] == ["good"]
    assert rows["good"]["distribution"] == "chil-plugin-good" and rows["good"]["version"] == "0.0.1"
    assert rows["broken"]["status"] == "error" and "module_that_does_not_exist" in rows["broken"]["error"]
    assert "Error importing plugin 'broken'" in rows["broken"]["error"]
    assert rows["hookfail"]["status"] == "error" and "boom in register" in rows["hookfail"]["error"]
    assert rows["zdup"]["status"] == "error" and "duplicate framework 'good'" in rows["zdup"]["error"]
    assert rows["future"]["status"] == "incompatible" and ">=9.0" in rows["future"]["error"]
    assert rows["builtins"]["status"] == "ok"


def test_env_limits_and_disables(chil, fake_dists):
    fake_dists("good", GOOD)
    fake_dists("broken", IMPORT_ERROR)
    only = _plugins(chil, fake_dists, CHIL_PLUGINS="good")
    assert only["good"]["status"] == "ok" and only["broken"]["status"] == "disabled"
    off = _plugins(chil, fake_dists, CHIL_DISABLE_PLUGINS="good")
    assert off["good"]["status"] == "disabled" and off["broken"]["status"] == "error"
    none = _plugins(chil, fake_dists, CHIL_NO_AUTOLOAD="1")
    assert none["good"]["status"] == "disabled" and none["builtins"]["status"] == "ok"


def test_strict_mode_fails_on_a_broken_plugin(chil, fake_dists):
    fake_dists("broken", IMPORT_ERROR)
    proc = chil("plugins", pythonpath=fake_dists.path, env_extra={"CHIL_STRICT": "1"})
    assert proc.returncode != 0
    assert "plugin 'broken'" in proc.stderr and "module_that_does_not_exist" in proc.stderr


def test_a_plugin_framework_scores_through_the_cli(chil, fake_dists, tmp_path):
    fake_dists("good", GOOD)
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "1", "prompt": "p", "completion": "c"}\n')
    proc = chil("score", str(inp), "--frameworks", "good", pythonpath=fake_dists.path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["reward"] == 1.0 and row["frameworks"]["good"]["status"] == "scored"
