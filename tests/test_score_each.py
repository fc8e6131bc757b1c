"""Per-record frameworks (their own ``score``) through the real Scorer: a record that never waits is run
where it is pulled (no task, no timer), one that waits is finished under its record timeout; either
way every failure is a status, and a record that hangs holds up nobody else."""

from __future__ import annotations

import asyncio
import time
import types
from typing import ClassVar

import pytest

from chil_core import Framework, FrameworkResult, hookimpl
from chil_core.plugins import PluginManager
from chil_core.scoring import Scorer

TIMEOUT_S = 0.5


class MixedFramework(Framework):
    """Does what ``record.completion`` says (see the module docstring); notes when each record started
    and finished (``log``: (id, "start"/"end", monotonic time)) and how many were in flight at most."""

    name: ClassVar[str] = "mixed"
    cache_results: ClassVar[bool] = False
    log: ClassVar[list[tuple[str, str, float]]] = []
    in_flight: ClassVar[list[int]] = [0, 0]  # now, most

    async def score(self, record, ctx):
        how = record.completion
        self.log.append((record.id, "start", time.monotonic()))
        self.in_flight[0] += 1
        self.in_flight[1] = max(self.in_flight[1], self.in_flight[0])
        try:
            return await self._do(how)
        finally:
            self.in_flight[0] -= 1
            self.log.append((record.id, "end", time.monotonic()))

    async def _do(self, how):
        if how == "now":
            return FrameworkResult.scored(1.0)
        if how == "raise-now":
            raise ValueError("raised before any wait")
        if how == "wait":
            await asyncio.sleep(0.01)
            return FrameworkResult.scored(1.0)
        if how == "raise-later":
            await asyncio.sleep(0)
            raise KeyError("raised after a wait")
        if how == "hang":
            await asyncio.sleep(60)
        if how == "busy-then-wait":  # past its timeout before its first wait: timed out at that wait
            end = time.monotonic() + 1.5 * TIMEOUT_S
            while time.monotonic() < end:
                pass
            await asyncio.sleep(0)
            return FrameworkResult.scored(1.0)
        if how == "own-timeout":  # its own asyncio.timeout, entered before its first wait
            try:
                async with asyncio.timeout(0.02):
                    await asyncio.sleep(10)
            except TimeoutError:
                return FrameworkResult.scored(0.5)
        if how == "not-a-result":
            return "a string"
        if how == "slow":
            await asyncio.sleep(0.05)
            return FrameworkResult.scored(1.0)
        raise AssertionError(how)


class PlainFramework(Framework):
    """``score`` is a plain function: not awaitable, an error status (not the caller's exception)."""

    name: ClassVar[str] = "plain"
    cache_results: ClassVar[bool] = False

    def score(self, record, ctx):  # type: ignore[override]
        return FrameworkResult.scored(1.0)


@pytest.fixture
def pm():
    manager = PluginManager(autoload=False)
    manager.load_entry_points()
    plugin = types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: (register(MixedFramework), register(PlainFramework))))
    manager.add_plugin(plugin, "testplug-each")
    return manager


def config(**sched):
    return {"frameworks": {"mixed": {}}, "scheduler": {"record_timeout_s": TIMEOUT_S, **sched}, "cache": {"enabled": False}}


def rec(i, how):
    return {"id": str(i), "prompt": "p", "completion": how}


def test_every_kind_of_record_gets_its_status_and_a_hang_holds_up_no_neighbour(pm):
    hows = ["now", "hang", "raise-now", "wait", "raise-later", "own-timeout", "not-a-result", "now", "wait"]
    MixedFramework.log.clear()
    with Scorer.from_config(config(), frameworks=["mixed"], plugin_manager=pm) as s:
        t0 = time.monotonic()
        out = [r.frameworks["mixed"] for r in s.score([rec(i, h) for i, h in enumerate(hows)])]
        took = time.monotonic() - t0
    status = [(r.status, r.score) for r in out]
    assert status == [("scored", 1.0), ("timeout", None), ("error", None), ("scored", 1.0), ("error", None),
                      ("scored", 0.5), ("error", None), ("scored", 1.0), ("scored", 1.0)]
    assert "exceeded" in out[1].explanation
    assert "ValueError: raised before any wait" in out[2].explanation
    assert "KeyError" in out[4].explanation
    assert "returned str" in out[6].explanation
    # the hung record costs its own timeout, once: the batch is back after about one record timeout
    assert took < TIMEOUT_S + 1.5, took
    # records started in input order; the neighbours of the hung record finished long before it timed out
    assert [rid for rid, what, _ in MixedFramework.log if what == "start"] == [str(i) for i in range(len(hows))]
    ends = {rid: t for rid, what, t in MixedFramework.log if what == "end"}
    hung_start = next(t for rid, what, t in MixedFramework.log if rid == "1" and what == "start")
    for rid in ("3", "8"):  # "wait" records (10 ms each) started after it, and were not held up by it
        assert ends[rid] < ends["1"], (rid, ends[rid] - hung_start, ends["1"] - hung_start)
    assert ends["1"] - hung_start >= TIMEOUT_S * 0.9  # cancelled at its timeout (its finally ran)


def test_a_framework_whose_records_mostly_wait_gets_the_same_statuses_from_the_pool(pm):
    """After a batch where most records waited, the next ones go to the pool of worker coroutines (a
    task and a timer a record), every eighth batch back to the pull-and-run path: same statuses."""
    hows = ["now", "hang", "raise-now", "wait", "raise-later", "own-timeout", "not-a-result", "now", "wait"]
    with Scorer.from_config(config(), frameworks=["mixed"], plugin_manager=pm) as s:
        seen = [[(r.frameworks["mixed"].status, r.frameworks["mixed"].score) for r in s.score([rec(i, h) for i, h in enumerate(hows)])]
                for _ in range(3)]
        assert s._waiting["mixed"] == 3  # two batches on the pool since the first
    assert seen[0] == seen[1] == seen[2]
    assert [st for st, _ in seen[0]] == ["scored", "timeout", "error", "scored", "error", "scored", "error", "scored", "scored"]


def test_a_record_busy_past_its_timeout_before_its_first_wait_is_timed_out_there(pm):
    """Its time counts from its start: at its first wait it is already overdue, and times out there
    (the event loop cannot stop code that never waits; the record still gets its timeout status)."""
    with Scorer.from_config(config(), frameworks=["mixed"], plugin_manager=pm) as s:
        out = [r.frameworks["mixed"] for r in s.score([rec(0, "busy-then-wait"), rec(1, "now")])]
    assert (out[0].status, out[1].status) == ("timeout", "scored")


def test_records_in_flight_stay_within_max_records_in_flight(pm):
    MixedFramework.log.clear()
    MixedFramework.in_flight[:] = [0, 0]
    hows = ["slow", "now"] * 6
    with Scorer.from_config(config(max_records_in_flight=3), frameworks=["mixed"], plugin_manager=pm) as s:
        out = s.score([rec(i, h) for i, h in enumerate(hows)])
    assert [r.frameworks["mixed"].status for r in out] == ["scored"] * len(hows)
    assert MixedFramework.in_flight[1] <= 3, MixedFramework.in_flight
    assert MixedFramework.in_flight[1] >= 2  # waiting records do overlap
    assert [rid for rid, what, _ in MixedFramework.log if what == "start"] == [str(i) for i in range(len(hows))]


def test_a_record_that_never_waits_costs_no_task(pm):
    """The scorer's per-record overhead: a record whose ``score`` returns without waiting is run where
    it is pulled, with no task and no timer of its own (issue 15: the task, the gather and the
    asyncio.timeout were ~11 µs of a GSM8K record's ~60)."""
    n = 200
    with Scorer.from_config(config(), frameworks=["mixed"], plugin_manager=pm) as s:
        made = [0]

        def factory(loop, coro, **kw):
            made[0] += 1
            return asyncio.Task(coro, loop=loop, **kw)

        s._loop.call_soon_threadsafe(s._loop.set_task_factory, factory)
        s.score([rec("warm", "now")])
        made[0] = 0
        out = s.score([rec(i, "now") for i in range(n)])
        s._loop.call_soon_threadsafe(s._loop.set_task_factory, None)
    assert [r.reward for r in out] == [1.0] * n
    assert made[0] < 10, made[0]  # (the batch's own few), not one per record


def test_a_score_that_is_not_awaitable_is_an_error_status(pm):
    cfg = {"frameworks": {"plain": {}}, "cache": {"enabled": False}}
    with Scorer.from_config(cfg, frameworks=["plain"], plugin_manager=pm) as s:
        out = s.score([rec(0, "x")])[0].frameworks["plain"]
    assert out.status == "error" and "plain raised TypeError" in out.explanation
