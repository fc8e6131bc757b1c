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


MISSPELLED = """
from typing import ClassVar
from chil_core import Framework, FrameworkResult, hookimpl

class Typo(Framework):
    name: ClassVar[str] = "typo"
    version: ClassVar[str] = "1.0"
    async def score(self, record, ctx):
        return FrameworkResult.scored(1.0)

@hookimpl
def chil_register_framework(register):
    register(Typo)
"""


def test_a_misspelled_hook_is_an_error_not_a_silent_no_op(chil, fake_dists):
    fake_dists("typo", MISSPELLED)
    fake_dists("good", GOOD)
    rows = _plugins(chil, fake_dists)
    assert rows["typo"]["status"] == "error"
    assert "'chil_register_framework'" in rows["typo"]["error"] and "did you mean 'chil_register_frameworks'" in rows["typo"]["error"]
    assert rows["good"]["status"] == "ok"


def test_unknown_framework_names_the_plugin_that_failed_to_load(chil, fake_dists, tmp_path):
    fake_dists("broken", IMPORT_ERROR)
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "1", "prompt": "p", "completion": "c"}\n')
    proc = chil("score", str(inp), "--frameworks", "broken", pythonpath=fake_dists.path, cwd=tmp_path)
    assert proc.returncode != 0
    assert "unknown framework 'broken'" in proc.stderr
    assert "plugin 'broken' failed to load" in proc.stderr and "module_that_does_not_exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_chil_plugins_shows_the_default_backend_of_each_capability(chil):
    proc = chil("plugins")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.split("capabilities")[1].splitlines()[1:] if line.strip()}
    assert "sqlite (default)" in lines["text_index"] and "z3 (default)" in lines["smt"]
    assert "noop (default)" in lines["noop"]
    rows = {row["name"]: row for row in json.loads(chil("plugins", "--json").stdout)}
    assert "text_index:sqlite" in rows["sqlite"]["defaults"] and rows["builtins"]["defaults"] == ["noop:noop"]


class _Observer:
    """A plugin object whose observer hooks record their calls, and raise when asked to."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.seen: list[str] = []

    def _event(self, name: str) -> None:
        self.seen.append(name)
        if self.fail:
            raise RuntimeError(f"observer failed in {name}")


def _observer_plugin(fail: bool):
    from chil_core import hookimpl

    obs = _Observer(fail)

    class Plugin:
        @hookimpl
        def chil_startup(self, settings):
            obs._event("startup")

        @hookimpl
        def chil_after_batch(self, records, rewards):
            obs._event(f"after_batch:{len(rewards)}")

        @hookimpl
        def chil_shutdown(self):
            obs._event("shutdown")

    return Plugin(), obs


def test_a_raising_observer_hook_is_reported_and_scoring_goes_on(tmp_path):
    from typing import ClassVar

    from chil_core import Framework, FrameworkResult, hookimpl
    from chil_core.plugins import PluginManager
    from chil_core.scoring import Scorer

    class Length(Framework):
        name: ClassVar[str] = "length"
        version: ClassVar[str] = "1"

        async def score(self, record, ctx):
            return FrameworkResult.scored(min(1.0, len(record.completion) / 10))

    class Frameworks:
        @hookimpl
        def chil_register_frameworks(self, register):
            register(Length)

    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(Frameworks(), "length")
    bad, bad_seen = _observer_plugin(fail=True)
    good, good_seen = _observer_plugin(fail=False)
    pm.add_plugin(bad, "bad-observer")
    pm.add_plugin(good, "good-observer")
    config = {"cache": {"enabled": False}}
    with Scorer.from_config(config, frameworks=["length"], plugin_manager=pm) as scorer:
        rewards = scorer.score([{"id": "1", "prompt": "p", "completion": "abc"}])
    assert rewards[0].frameworks["length"].status == "scored"
    assert bad_seen.seen == good_seen.seen == ["startup", "after_batch:1", "shutdown"]
    errors = pm.registry.plugins["bad-observer"].hook_errors
    assert [e.split(":")[0] for e in errors] == ["chil_startup", "chil_after_batch", "chil_shutdown"]
    assert "observer failed in after_batch:1" in errors[1]
    assert pm.registry.plugins["good-observer"].hook_errors == []


def test_declared_requirements_give_the_default_unavailable_reason():
    from typing import ClassVar

    from chil_core import Tool

    class Missing(Tool):
        name: ClassVar[str] = "missing"
        capability: ClassVar[str] = "x"
        requires_modules: ClassVar[dict[str, str]] = {"no_such_module_xyz": "no-such-dist", "json": "json"}
        requires_binaries: ClassVar[dict[str, str]] = {"no-such-binary-xyz": "build it from source", "sh": ""}

    class Present(Tool):
        name: ClassVar[str] = "present"
        capability: ClassVar[str] = "x"
        requires_modules: ClassVar[tuple[str, ...]] = ("json", "sqlite3")
        requires_binaries: ClassVar[tuple[str, ...]] = ("sh",)

    assert Missing.unavailable_reason() == ("the no-such-dist package is not installed (module no_such_module_xyz); "
                                            "no `no-such-binary-xyz` binary on PATH (build it from source)")
    assert Present.unavailable_reason() is None
    assert Tool.unavailable_reason() is None


def test_installed_backends_declare_their_requirements():
    """Requirements are declared (requires_modules / requires_binaries); a backend overrides
    unavailable_reason only to add a check, and then calls the declarative one first (sqlite's FTS5 probe
    has nothing to declare)."""
    import inspect

    from chil_core.plugins import get_registry

    custom = {}
    for capability, tools in get_registry().tools.items():
        for name, cls in tools.items():
            if "unavailable_reason" in vars(cls):
                custom[f"{capability}:{name}"] = "super().unavailable_reason()" in inspect.getsource(cls.unavailable_reason)
    assert {k for k, calls_super in custom.items() if not calls_super} <= {"text_index:sqlite"}, custom
    assert custom.get("nlp:spacy") is True and custom.get("text_index:sqlite") is False  # the scan sees overrides


def test_a_malformed_reads_fails_its_plugin_and_a_doubtful_one_is_logged(caplog):
    """``reads`` is the record cache's key: a malformed one is the plugin's error (named), so the framework
    is not used; a field Record does not have (read from the extra fields: a misspelling?) or a ``reads``
    without the completion loads, with a warning naming the framework and the field."""
    import logging
    from typing import ClassVar

    from chil_core import Framework, FrameworkResult, hookimpl
    from chil_core.plugins import PluginManager

    def framework(name: str, reads: object) -> type[Framework]:
        async def score(self, record, ctx):
            return FrameworkResult.scored(1.0)

        return type(name.title(), (Framework,), {"name": name, "version": "1", "reads": reads, "score": score,
                                                  "__annotations__": {"name": ClassVar[str]}})

    def plugin(cls: type[Framework]) -> object:
        class Plugin:
            @hookimpl
            def chil_register_frameworks(self, register):
                register(cls)

        return Plugin()

    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    cases = {"notatuple": "completion", "empty": (), "notastr": ("completion", 3),
             "typo": ("completions", "reference"), "nocompletion": ("prompt", "reference"), "fine": ("completion",)}
    with caplog.at_level(logging.WARNING, logger="chil.plugins"):
        for name, reads in cases.items():
            pm.add_plugin(plugin(framework(name, reads)), f"p-{name}")
    for name in ("notatuple", "empty", "notastr"):
        info = pm.registry.plugins[f"p-{name}"]
        assert info.status == "error" and f"framework {name!r}: reads must be" in info.error
        assert name not in pm.registry.frameworks
    for name in ("typo", "nocompletion", "fine"):
        assert pm.registry.plugins[f"p-{name}"].status == "ok" and name in pm.registry.frameworks
    logged = [r.getMessage() for r in caplog.records]
    assert any("'typo'" in m and "'completions'" in m and "not fields of Record" in m for m in logged)
    assert any("'nocompletion'" in m and "no 'completion'" in m for m in logged)
    assert not any("'fine'" in m for m in logged)
