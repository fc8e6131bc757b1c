from __future__ import annotations

import types
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from chil_core import Framework, FrameworkResult, Tool, hookimpl
from chil_core.config import ConfigError, dump_toml, load_settings, read_toml
from chil_core.plugins import PluginManager


class FwOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = 0.5


class Fw(Framework):
    name: ClassVar[str] = "fw"
    capabilities: ClassVar[dict[str, bool]] = {"store": True, "extra": False}
    default_weight: ClassVar[float] = 2.0
    Options = FwOptions

    async def score(self, record, ctx):
        return FrameworkResult.scored(1.0)


class StoreOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = "x"
    size: int = 1


class StoreA(Tool):
    name: ClassVar[str] = "alpha"
    capability: ClassVar[str] = "store"
    priority: ClassVar[int] = 1
    Options = StoreOptions


class StoreB(Tool):
    name: ClassVar[str] = "beta"
    capability: ClassVar[str] = "store"
    priority: ClassVar[int] = 5

    @classmethod
    def unavailable_reason(cls):
        return "binary 'beta' not on PATH"


@pytest.fixture
def reg():
    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: register(Fw)),
        chil_register_tools=hookimpl(lambda register: (register(StoreA), register(StoreB))),
    ), "t")
    return pm.registry


def errors(exc):
    return dict(exc.value.errors)


def test_defaults_fill_in_and_skip_unavailable_backends(reg):
    s = load_settings({}, registry=reg, env={})
    fw = s.frameworks["fw"]
    assert fw.enabled and fw.weight == 2.0 and fw.tools == {"store": "alpha"}  # beta has priority but is unavailable
    assert fw.options == {"threshold": 0.5}


def test_wrong_names_and_options_name_the_field_and_the_choices(reg):
    with pytest.raises(ConfigError) as exc:
        load_settings({"frameworks": {"fw": {"tools": {"store": "gamma", "nope": "alpha"}, "options": {"treshold": 1}},
                                      "missing": {}},
                       "tools": {"alpha": {"size": "big"}}}, registry=reg, env={})
    e = errors(exc)
    assert "unknown store backend 'gamma'" in e["frameworks.fw.tools.store"] and "alpha, beta" in e["frameworks.fw.tools.store"]
    assert "uses no capability 'nope'" in e["frameworks.fw.tools.nope"]
    assert "frameworks.fw.options.treshold" in e
    assert "installed frameworks: fw" in e["frameworks.missing"]
    assert "tools.alpha.size" in e


def test_choosing_an_unavailable_backend_says_why(reg):
    with pytest.raises(ConfigError) as exc:
        load_settings({"frameworks": {"fw": {"tools": {"store": "beta"}}}}, registry=reg, env={})
    assert "binary 'beta' not on PATH" in errors(exc)["frameworks.fw.tools.store"]


def test_toml_syntax_error_names_the_line(tmp_path):
    p = tmp_path / "chil.toml"
    p.write_text("[scheduler]\nmax_batch = 3\ntimeout_s = = 2\n")
    with pytest.raises(ConfigError, match="line 3"):
        read_toml(p)


def test_scheduler_values_are_validated(reg):
    with pytest.raises(ConfigError) as exc:
        load_settings({"scheduler": {"max_batch": 0, "tyme": 1}}, registry=reg, env={})
    e = errors(exc)
    assert "scheduler.max_batch" in e and "scheduler.tyme" in e


def test_env_overrides(reg):
    s = load_settings({}, registry=reg, env={"CHIL__SCHEDULER__MAX_BATCH": "64", "CHIL__FRAMEWORKS__FW__WEIGHT": "3.5",
                                             "CHIL__TOOLS__ALPHA__PATH": "facts.db"})
    assert s.scheduler.max_batch == 64 and s.frameworks["fw"].weight == 3.5 and s.tools["alpha"]["path"] == "facts.db"


def test_frameworks_filter_and_round_trip(reg, tmp_path):
    s = load_settings({}, registry=reg, env={}, frameworks=["fw"])
    text = dump_toml(s)
    p = tmp_path / "c.toml"
    p.write_text(text)
    again = load_settings(p, registry=reg, env={})
    assert again.frameworks == s.frameworks and again.scheduler == s.scheduler and again.rewards == s.rewards


class IndexOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_path: str | None = None


class SharedName(Tool):
    """A second capability served by a backend named like an existing one ('alpha')."""

    name: ClassVar[str] = "alpha"
    capability: ClassVar[str] = "index"
    Options = IndexOptions


def test_backends_sharing_a_name_each_read_their_own_options():
    from chil_core.config import backend_options

    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: register(Fw)),
        chil_register_tools=hookimpl(lambda register: (register(StoreA), register(SharedName))),
    ), "t")
    s = load_settings({"tools": {"alpha": {"path": "facts.db", "memory_path": "mem.db"}}}, registry=pm.registry, env={})
    assert backend_options(StoreA, s.tools["alpha"]) == {"path": "facts.db", "size": 1}
    assert backend_options(SharedName, s.tools["alpha"]) == {"memory_path": "mem.db"}
    with pytest.raises(ConfigError) as exc:
        load_settings({"tools": {"alpha": {"pth": "x"}}}, registry=pm.registry, env={})
    msg = errors(exc)["tools.alpha.pth"]
    assert "not an option of backend 'alpha'" in msg and "memory_path, path, size" in msg


def test_train_table_is_accepted_and_validated(reg):
    s = load_settings({"train": {"max_steps": 5}}, registry=reg, env={})
    assert s.train == {"max_steps": 5}
    with pytest.raises(ConfigError) as exc:
        load_settings({"train": {"max_stepz": 5}}, registry=reg, env={})
    assert "train.max_stepz" in errors(exc)


def test_a_backend_s_own_worker_count_applies_unless_the_config_sets_one() -> None:
    """``Tool.workers`` (z3's smt asks for 2) is the default; ``[scheduler] workers`` set by the user, or the
    backend's own section, wins."""
    from chil_plugin_z3.smt import Z3Smt

    from chil_core.config import SchedulerSettings

    assert Z3Smt.workers == 2
    assert SchedulerSettings().for_backend("z3", "process", 64, Z3Smt.workers).workers == 2
    assert SchedulerSettings().for_backend("clingo", "process", 64, None).workers == 1
    assert SchedulerSettings(workers=1).for_backend("z3", "process", 64, Z3Smt.workers).workers == 1
    assert SchedulerSettings(workers=3).for_backend("clingo", "process", 64, None).workers == 3
    own = SchedulerSettings.model_validate({"workers": 1, "backends": {"z3": {"workers": 4}}})
    assert own.for_backend("z3", "process", 64, Z3Smt.workers).workers == 4
