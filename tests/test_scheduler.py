"""The scheduler through the real Scorer: batching, dedup, LMDB cache, timeouts, kill/replace, isolation."""

from __future__ import annotations

import types
from typing import ClassVar

import pytest

from chil_core import Framework, FrameworkResult, hookimpl
from chil_core.builtins import NoopTool
from chil_core.config import ConfigError
from chil_core.plugins import PluginManager
from chil_core.scoring import RecordError, Scorer
from chil_core.testing.tools import ChaosThreadTool, ChaosTool


class EchoFramework(Framework):
    """Asks ``metadata.capability`` for ``metadata.op`` with ``metadata.payload``; scored 1 when ok."""

    name: ClassVar[str] = "echo"
    capabilities: ClassVar[dict[str, bool]] = {"noop": False, "chaos": False}
    #: its result carries the worker's pid, not a function of the record: not cached per record (these
    #: tests are about the tool-call layer; the record cache has tests/test_record_cache.py)
    cache_results: ClassVar[bool] = False

    async def score(self, record, ctx):
        md = record.metadata
        result = await ctx.call(md.get("capability", "noop"), md.get("op", "echo"), md.get("payload", {}))
        if result.status == "ok":
            return FrameworkResult.scored(1.0, components={"pid": float(result.value.get("pid", 0)) if isinstance(result.value, dict) and "pid" in result.value else 0.0})
        status = result.status if result.status in ("timeout", "error") else "error"
        return FrameworkResult.failed(result.error or "", status=status)


class TurnsFramework(Framework):
    """Notes, as each record starts, the event-loop turn (``TURN``) and whether the chaos call of
    ``metadata.watch`` (an earlier record's payload) is with a worker yet (``running_s``: None while it
    waits for one), then asks chaos for echo with ``metadata.payload``."""

    name: ClassVar[str] = "turns"
    capabilities: ClassVar[dict[str, bool]] = {"chaos": False}
    cache_results: ClassVar[bool] = False
    started: ClassVar[list[tuple[int, str, float | None]]] = []

    async def score(self, record, ctx):
        md = record.metadata
        watch = ctx.running_s("chaos", "echo", md["watch"]) if "watch" in md else None
        self.started.append((TURN[0], record.id, watch))
        result = await ctx.call("chaos", "echo", md["payload"])
        return FrameworkResult.scored(1.0 if result.status == "ok" else 0.0)


TURN = [0]  # the scorer's event-loop turns, counted while a test runs (see count_turns)


def count_turns(scorer):
    """Count the turns of ``scorer``'s event loop in TURN[0] until the returned stop() is called."""
    import threading

    TURN[0] = 0
    running, ready = [True], threading.Event()

    def tick():
        TURN[0] += 1
        ready.set()
        if running[0]:
            scorer._loop.call_soon(tick)

    scorer._loop.call_soon_threadsafe(tick)
    ready.wait(5)
    return lambda: running.__setitem__(0, False)


class BuggyFramework(Framework):
    name: ClassVar[str] = "buggy"

    async def score(self, record, ctx):
        raise ZeroDivisionError("framework bug")


@pytest.fixture
def pm():
    manager = PluginManager(autoload=False)
    manager.load_entry_points()  # builtins only

    plugin = types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: (register(EchoFramework), register(BuggyFramework),
                                                             register(TurnsFramework))),
        chil_register_tools=hookimpl(lambda register: (register(ChaosTool), register(ChaosThreadTool))),
    )
    manager.add_plugin(plugin, "testplug")
    return manager


def rec(i, **md):
    return {"id": str(i), "prompt": "p", "completion": "c", "metadata": md}


def cfg(tmp_path, chaos="chaos", **sched):
    return {
        "frameworks": {"echo": {"tools": {"chaos": chaos}}},
        "scheduler": {"timeout_s": 2.0, **sched},
        "cache": {"path": str(tmp_path / "cache")},
    }


def test_batches_dedups_and_caches(pm, tmp_path):
    records = [rec(i, payload={"k": i % 50}) for i in range(1000)]
    with Scorer.from_config(cfg(tmp_path, max_batch=64, max_wait_ms=5), plugin_manager=pm) as s:
        rewards = s.score(records)
        st = s.stats()["noop:noop"]
        assert all(r.reward == 1.0 for r in rewards)
        assert st["calls"] == 1000
        assert st["dedup_hits"] + st["cache_hits"] == 950  # 50 distinct payloads
        assert st["batched_calls"] == 50 and st["mean_batch"] > 1
        s.score(records[:10])
        assert s.stats()["noop:noop"]["cache_hits"] >= 10
    # a new scorer (a new run) reads the same LMDB store
    with Scorer.from_config(cfg(tmp_path), plugin_manager=pm) as s2:
        s2.score(records[:50])
        assert s2.stats()["noop:noop"]["cache_hits"] == 50
        assert s2.cache.stats.disk_hits == 50


def test_max_batch_is_respected(pm, tmp_path):
    records = [rec(i, payload={"k": i}) for i in range(300)]
    c = cfg(tmp_path, max_batch=32, max_wait_ms=50)
    c["cache"]["enabled"] = False
    with Scorer.from_config(c, plugin_manager=pm) as s:
        s.score(records)
        st = s.stats()["noop:noop"]
    assert st["batches"] >= 300 // 32 and st["mean_batch"] <= 32


def test_process_timeout_kills_and_replaces_worker_others_complete(pm, tmp_path):
    records = [rec(i, capability="chaos", op="echo", payload={"i": i}) for i in range(20)]
    records.append(rec("hang", capability="chaos", op="sleep", payload={"s": 60}))
    records.append(rec("crash", capability="chaos", op="crash"))
    with Scorer.from_config(cfg(tmp_path, timeout_s=1.0), plugin_manager=pm) as s:
        rewards = {r.id: r for r in s.score(records)}
        assert all(rewards[str(i)].reward == 1.0 for i in range(20)), "good calls must survive a hostile neighbour"
        assert rewards["hang"].frameworks["echo"].status == "timeout" and rewards["hang"].masked
        assert rewards["crash"].frameworks["echo"].status == "error"
        assert "crashed" in rewards["crash"].frameworks["echo"].explanation
        backend = s.scheduler.backend("chaos", "chaos")
        assert backend._runner.restarts >= 2
        # the replaced worker serves new calls (a different pid than before)
        pids_before = {rewards[str(i)].frameworks["echo"].components["pid"] for i in range(20)}
        after = s.score([rec("new", capability="chaos", op="echo", payload={"new": 1})])[0]
        assert after.reward == 1.0 and after.frameworks["echo"].components["pid"] not in pids_before


def test_thread_timeout_and_raise_become_statuses(pm, tmp_path):
    records = [rec("ok", capability="chaos", op="echo"), rec("slow", capability="chaos", op="sleep", payload={"s": 3}),
               rec("boom", capability="chaos", op="raise"), rec("fail", capability="chaos", op="fail")]
    with Scorer.from_config(cfg(tmp_path, chaos="chaos-thread", timeout_s=0.5), plugin_manager=pm) as s:
        r = {x.id: x.frameworks["echo"] for x in s.score(records)}
        stats = s.stats()
    assert stats["chaos:chaos-thread"]["timeouts"] == 1  # one call timed out: counted once (it was twice)
    assert r["ok"].status == "scored"
    assert r["slow"].status == "timeout"
    assert r["boom"].status == "error" and "chaos: raise requested" in r["boom"].explanation
    assert r["fail"].status == "error"


def test_framework_exception_and_record_timeout_are_statuses(pm, tmp_path):
    c = cfg(tmp_path, chaos="chaos-thread", record_timeout_s=0.3, timeout_s=5)
    c["frameworks"]["buggy"] = {}
    with Scorer.from_config(c, plugin_manager=pm) as s:
        out = s.score([rec("a", capability="chaos", op="sleep", payload={"s": 1})])[0]
    assert out.frameworks["buggy"].status == "error" and "ZeroDivisionError" in out.frameworks["buggy"].explanation
    assert out.frameworks["echo"].status == "timeout"
    assert out.masked


def test_bad_record_names_the_field(pm, tmp_path):
    with Scorer.from_config(cfg(tmp_path), plugin_manager=pm) as s, pytest.raises(RecordError, match="record 1: completion"):
        s.submit([rec(0), {"id": "x", "prompt": "p"}])


def test_unknown_backend_fails_at_load_with_choices(pm, tmp_path):
    with pytest.raises(ConfigError) as exc:
        Scorer.from_config(cfg(tmp_path, chaos="chaoss"), plugin_manager=pm)
    msg = str(exc.value)
    assert "frameworks.echo.tools.chaos" in msg and "chaos, chaos-thread" in msg


def test_noop_is_inline_and_registered_by_builtins(pm):
    assert pm.registry.tools["noop"]["noop"] is NoopTool
    assert pm.registry.plugins["builtins"].status == "ok"


def turns_cfg(tmp_path):
    return {"frameworks": {"turns": {"tools": {"chaos": "chaos"}}}, "scheduler": {"timeout_s": 10.0, "max_wait_ms": 0},
            "cache": {"enabled": False}}


def test_records_start_a_few_per_event_loop_turn_while_a_worker_has_calls(pm, tmp_path):
    """A batch's records do not all start in one turn of the event loop: while a process backend has
    calls out, at most PER_TURN start per turn, in input order, so the loop reads the workers' answers
    and sends the next calls between chunks (issue 15)."""
    from chil_core import scoring

    n = 3 * scoring.PER_TURN + 5
    records = [rec(i, payload={"i": i}) for i in range(n)]
    TurnsFramework.started.clear()
    with Scorer.from_config(turns_cfg(tmp_path), frameworks=["turns"], plugin_manager=pm) as s:
        stop = count_turns(s)
        rewards = s.score(records)
        stop()
    assert [r.reward for r in rewards] == [1.0] * n
    per_turn: dict[int, int] = {}
    for turn, _, _ in TurnsFramework.started:
        per_turn[turn] = per_turn.get(turn, 0) + 1
    assert max(per_turn.values()) <= scoring.PER_TURN, per_turn
    assert len(per_turn) >= 4, per_turn
    assert [rid for _, rid, _ in TurnsFramework.started] == [str(i) for i in range(n)]  # in order


def test_a_process_call_goes_to_an_idle_worker_before_the_batch_is_parsed(pm, tmp_path):
    """The first record's call is with the (idle) worker before the batch's last record starts: it is
    handed over when it is queued, not after the whole batch has been parsed (issue 15: GSM8K's Z3
    calls waited for 256 records to be parsed, then ran one after another)."""
    records = [rec(0, payload={"first": 1})] + [rec(i, payload={"i": i}) for i in range(1, 9)]
    records.append(rec("last", payload={"last": 1}, watch={"first": 1}))
    with Scorer.from_config(turns_cfg(tmp_path), frameworks=["turns"], plugin_manager=pm) as s:
        assert s.score([rec("warm", payload={"warm": 1})])[0].reward == 1.0  # the worker is up, and idle
        TurnsFramework.started.clear()
        rewards = s.score(records)
        backend = s.scheduler.backend("chaos", "chaos")
        assert backend._runner.surges == 0  # one worker did it all
    assert [r.reward for r in rewards] == [1.0] * len(records)
    last = TurnsFramework.started[-1]
    assert last[1] == "last"
    assert last[2] is not None  # running (or even answered: inf), not waiting for a worker
