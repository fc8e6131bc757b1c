"""Z3 runs process-isolated: timeouts are counted and free their CPU, memory is bounded (issue 8.4)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from chil_plugin_z3.smt import Z3Smt

from chil_core.config import SchedulerSettings
from chil_core.contracts import ToolCall
from chil_core.scheduler import Scheduler


def var(n):
    return ["var", n]


def num(s):
    return ["num", s]


def huge(timeout_ms: int) -> ToolCall:
    """((a+b+c+d+e+f)^16)^4 = 7: Z3 works on it for its whole time limit."""
    total = ["+", ["+", ["+", var("a"), var("b")], ["+", var("c"), var("d")]], ["+", var("e"), var("f")]]
    return ToolCall("smt", "arith", {"premises": [[">", var("a"), num("0")]],
                                     "claim": ["=", ["^", ["^", total, num("16")], num("4")], num("7")],
                                     "timeout_ms": timeout_ms})


def easy(k: int) -> ToolCall:
    return ToolCall("smt", "arith", {"premises": [["=", var("x"), num(str(k))]], "claim": ["=", ["+", var("x"), num("1")], num(str(k + 1))]})


def run(calls: list[ToolCall], **sched):
    settings = SchedulerSettings(**sched)
    scheduler = Scheduler(None)
    backend = scheduler.add_backend(Z3Smt, {}, settings.for_backend("z3", Z3Smt.isolation, Z3Smt.max_batch))

    async def go():
        results = await asyncio.gather(*(backend.call(c) for c in calls))
        pids = [p.proc.pid for p in backend._runner.live]
        return results, pids

    loop = asyncio.new_event_loop()
    try:
        results, pids = loop.run_until_complete(go())
        limits = {pid: Path(f"/proc/{pid}/limits").read_text() for pid in pids if Path(f"/proc/{pid}/limits").exists()}
        return results, backend.stats_dict(), limits
    finally:
        scheduler.close()
        loop.close()


def test_solver_timeouts_are_counted():
    """Before: a check that gave up on its own time limit was a 'timeout' result but the stats said 0."""
    results, stats, _ = run([huge(200 + k) for k in range(3)] + [easy(k) for k in range(3)])
    assert [r.status for r in results] == ["timeout"] * 3 + ["ok"] * 3
    assert all(r.value["verdict"] == "entailed" for r in results[3:])
    assert stats["timeouts"] == 3


def test_an_overrunning_check_is_killed_not_abandoned():
    """A check longer than the scheduler's timeout: before, its thread was abandoned and kept a core
    busy after the caller had its 'timeout'; now its worker process is killed."""
    threads_before = {t.name for t in threading.enumerate()}
    t0 = time.perf_counter()
    results, stats, _ = run([huge(10_000), easy(1), easy(2)], timeout_s=1.0)
    assert results[0].status == "timeout" and "worker killed" in results[0].error
    assert [r.status for r in results[1:]] == ["ok", "ok"]
    assert time.perf_counter() - t0 < 8
    assert stats["timeouts"] == 1 and stats["worker_restarts"] == 1
    cpu0 = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - cpu0 < 0.3  # nothing of ours is still solving
    assert not {t.name for t in threading.enumerate()} - threads_before - {"MainThread"}


def test_workers_have_a_memory_bound():
    _, _, limits = run([easy(1)], memory_mb=1500)
    assert limits, "the worker should be alive until close"
    for text in limits.values():
        line = next(x for x in text.splitlines() if x.startswith("Max address space"))
        assert str(1500 * 1024 * 1024) in line
