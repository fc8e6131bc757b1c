"""Framework workers (``scheduler.framework_workers``, :mod:`chil_core.offload`), through the real Scorer
and real worker processes.

A record is scored in a worker unless it asks for a tool; its result is the one the main process would
give; a worker that crashes or runs past the record timeout loses no record; batches in flight at once
share the workers; small batches and frameworks that cannot run in a worker stay in the main process."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap
import time
import types
from typing import ClassVar

import pytest

from chil_core import Framework, FrameworkResult, hookimpl
from chil_core.plugins import PluginManager
from chil_core.scoring import Scorer

# the framework lives in a module a worker imports by its path (a test module is imported by pytest's
# importlib mode and is not on sys.path); markers act only in a worker, so the main process, which
# scores a record a worker lost, scores it normally
PROBE = '''
from __future__ import annotations

import os
import sys
import time
from typing import ClassVar

from chil_core import Framework, FrameworkResult, Tool
from chil_core.contracts import ToolCall, ToolResult


def in_worker() -> bool:
    main = sys.modules.get("__main__")
    return getattr(getattr(main, "__spec__", None), "name", None) == "chil_core._worker"


class Probe(Framework):
    """len(completion) / 100; "tool:X" scores X as echoed by the noop tool."""

    name: ClassVar[str] = "probe"
    version: ClassVar[str] = "1"
    capabilities: ClassVar[dict[str, bool]] = {"noop": False}
    reads: ClassVar[tuple[str, ...]] = ("completion",)

    async def score(self, record, ctx):
        text = record.completion
        if text.startswith("tool:"):
            got = await ctx.call("noop", "echo", {"text": text[5:]})
            text = got.value["text"]
        elif text == "swallow":  # a framework that catches everything around a tool call
            try:
                await ctx.call("noop", "echo", {"text": "x"})
            except Exception:
                pass
        elif text == "crash" and in_worker():
            os._exit(3)
        elif text == "hang" and in_worker():
            time.sleep(60)
        elif text == "slow" and in_worker():
            time.sleep(0.5)
        elif text == "raise":
            raise ValueError("a framework bug")
        elif text == "print" and in_worker():
            print("noise from a worker", flush=True)
        return FrameworkResult.scored(min(len(text), 100) / 100, verdict="ok", explanation=text[:20],
                                      components={"in_worker": float(in_worker()), "chars": float(len(text))})


class Episodic(Probe):
    name: ClassVar[str] = "episodic"
    sequential: ClassVar[bool] = True


class Warmed(Framework):
    """Declares a warm-up record ("warm" marks it); each result says how many warm-ups this process had
    scored before the record, and how many records in all."""

    name: ClassVar[str] = "warmed"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("completion",)
    warmup: ClassVar[tuple[dict, ...]] = ({"prompt": "p", "completion": "warm"},)
    counts: ClassVar[dict[str, int]] = {"warm": 0, "all": 0}

    async def score(self, record, ctx):
        counts = type(self).counts
        counts["all"] += 1
        if record.completion == "warm":
            counts["warm"] += 1
        return FrameworkResult.scored(0.5, verdict="ok", explanation=record.id,
                                      components={"in_worker": float(in_worker()), "warmed": float(counts["warm"]),
                                                  "before": float(counts["all"] - 1)})


class Unsafe(Probe):
    name: ClassVar[str] = "unsafe"
    worker_safe: ClassVar[bool] = False


class Copyable(Tool):
    """Capability ``copyable`` (a worker may build its own): answers {"text", "pid"}; "fail" is an error
    status, "boom" makes the batch raise, "slow" takes 0.3 s (past a 0.2 s backend timeout)."""

    name: ClassVar[str] = "copyable"
    capability: ClassVar[str] = "copyable"
    ops: ClassVar[frozenset[str]] = frozenset({"echo"})
    batches: ClassVar[list[int]] = []

    @classmethod
    def replicable(cls, options):
        return True

    def run_batch(self, calls):
        type(self).batches.append(len(calls))
        out = []
        for call in calls:
            text = call.payload["text"]
            if text == "boom":
                raise RuntimeError("a backend bug")
            if text == "slow":
                time.sleep(0.3)
            out.append(ToolResult.failure("refused") if text == "fail"
                       else {"text": text, "pid": os.getpid(), "replica": self.replica})
        return out


class LocalProbe(Framework):
    """"look:A|B|C": one call_many of an echo per part; the score is the characters echoed / 100, with
    the pids that answered (their own copy of the tool in a worker, the main process's backend here)."""

    name: ClassVar[str] = "localprobe"
    version: ClassVar[str] = "1"
    capabilities: ClassVar[dict[str, bool]] = {"copyable": False, "noop": False}
    reads: ClassVar[tuple[str, ...]] = ("completion",)

    async def score(self, record, ctx):
        text = record.completion
        if text.startswith("look:"):
            parts = text[5:].split("|")
            got = await ctx.call_many([ToolCall("copyable", "echo", {"text": p}) for p in parts])
            if not all(g.ok for g in got):
                return FrameworkResult.scored(0.0, verdict="failed", explanation="; ".join(g.error or "" for g in got),
                                              components={"in_worker": float(in_worker())})
            again = await ctx.call("copyable", "echo", {"text": parts[0]})  # a second wait on the copy
            text = "".join(g.value["text"] for g in got) + again.value["text"]
        elif text.startswith("noop:"):  # a tool the workers have no copy of
            text = (await ctx.call("noop", "echo", {"text": text[5:]})).value["text"]
        return FrameworkResult.scored(min(len(text), 100) / 100, verdict="ok", explanation=text[:40],
                                      components={"in_worker": float(in_worker())})


class OrderedProbe(Framework):
    """A sequential framework that keys the records outside an "episode": "ep:X" records are judged in
    order (each sees the count of those before it: ``seen``), any other ("look:X") by one call to the
    copyable tool, a function of the record alone."""

    name: ClassVar[str] = "orderedprobe"
    version: ClassVar[str] = "1"
    capabilities: ClassVar[dict[str, bool]] = {"copyable": False}
    reads: ClassVar[tuple[str, ...]] = ("completion",)
    sequential: ClassVar[bool] = True

    def __init__(self, options=None):
        super().__init__(options)
        self.episode = []

    def result_key(self, record):
        return None if record.completion.startswith("ep:") else self.content_key(record)

    async def score(self, record, ctx):
        text = record.completion
        if text.startswith("ep:"):
            self.episode.append(text)
            return FrameworkResult.scored(0.5, verdict="ep", explanation=f"{text} after {len(self.episode) - 1}",
                                          components={"in_worker": float(in_worker()), "seen": float(len(self.episode) - 1)})
        got = await ctx.call("copyable", "echo", {"text": text})
        return FrameworkResult.scored(min(len(text), 100) / 100, verdict="ok", explanation=got.value["text"][:40],
                                      components={"in_worker": float(in_worker()), "replica": float(got.value["replica"])})
'''


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    (folder / "chil_offload_probe.py").write_text(textwrap.dedent(PROBE), encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("chil_offload_probe")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("chil_offload_probe", None)


@pytest.fixture
def probe(module):
    return module.Probe


def manager(*frameworks: type[Framework]) -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: [register(f) for f in frameworks])), "offload-test")
    return pm


def config(tmp_path, workers=2, min_records=16, start_after=0, **scheduler):
    return {"frameworks": {"probe": {"tools": {"noop": "noop"}}},
            "scheduler": {"framework_workers": workers, "framework_workers_min_records": min_records,
                          "framework_workers_start_after": start_after, **scheduler},
            "cache": {"path": str(tmp_path / "cache.lmdb")}}


def recs(texts, start=0):
    return [{"id": f"r{start + i}", "prompt": "p", "completion": t} for i, t in enumerate(texts)]


def texts(n, start=0):
    return [("word " * (1 + (start + i) % 17)) + str(start + i) for i in range(n)]


def results(scorer, records):
    return [r.frameworks["probe"] for r in scorer.score(records)]


def test_records_are_scored_in_the_workers_as_in_the_main_process(tmp_path, probe):
    pm = manager(probe)
    # the records that ask for a tool come first: the first chunk goes to a worker (this process takes
    # chunks from the back of the queue), which sends them back
    batch = recs([f"tool:echoed {i}" for i in range(10)] + ["swallow"] + texts(150))
    with Scorer.from_config(config(tmp_path), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        got = results(scorer, batch)
        stats = scorer.stats()["workers:probe"]
    with Scorer.from_config(config(tmp_path / "off", workers=0), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.pools == {}
        want = results(scorer, batch)

    def visible(r):
        return r.status, r.score, r.verdict, r.explanation, r.components["chars"]

    assert [visible(r) for r in got] == [visible(r) for r in want]
    in_worker = [r.components["in_worker"] for r in got]
    assert sum(in_worker[11:]) >= 50, "most plain records are scored in the workers"
    assert in_worker[:11] == [0.0] * 11, "a record that asks for a tool (or swallows the refusal) is scored here"
    assert [r.score for r in got[:10]] == [len(f"echoed {i}") / 100 for i in range(10)]
    assert stats["workers"] == 2 and stats["returned"] == 11 and stats["sent"] >= 50, stats


def test_a_worker_scores_its_frameworks_warm_up_records_before_any_real_one(tmp_path, module):
    pm = manager(module.Warmed)
    cfg = config(tmp_path)
    cfg["frameworks"] = {"warmed": {}}
    with Scorer.from_config(cfg, plugin_manager=pm, frameworks=["warmed"]) as scorer:
        assert scorer.start_workers(60)
        got = [r.frameworks["warmed"] for r in scorer.score(recs(texts(200)))]
    assert [r.explanation for r in got] == [f"r{i}" for i in range(200)], "the warm-up results are not among them"
    here = [r for r in got if not r.components["in_worker"]]
    there = [r for r in got if r.components["in_worker"]]
    assert len(there) >= 100
    # in each worker, the warm-up came first: one scored before any real record, and only one
    assert all(r.components["warmed"] == 1.0 for r in there)
    assert min(r.components["before"] for r in there) == 1.0
    assert all(r.components["warmed"] == 0.0 for r in here), "the main process scores no warm-up"


def test_the_record_cache_stores_what_the_workers_sent(tmp_path, probe):
    pm = manager(probe)
    batch = recs(texts(100))
    with Scorer.from_config(config(tmp_path), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        first = results(scorer, batch)
        assert scorer.stats()["workers:probe"]["sent"] > 0
    with Scorer.from_config(config(tmp_path, workers=0), plugin_manager=pm, frameworks=["probe"]) as scorer:
        again = results(scorer, batch)
        assert scorer.stats()["records:probe"]["hits"] == 100
    assert again == first


def test_a_crashing_worker_loses_no_record(tmp_path, probe, caplog):
    pm = manager(probe)
    batch = recs(texts(60) + ["crash"] + texts(60, start=60))
    with caplog.at_level(logging.WARNING, logger="chil_core.offload"), \
            Scorer.from_config(config(tmp_path), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        got = results(scorer, batch)
        assert [r.status for r in got] == ["scored"] * len(batch)
        assert got[60].components["in_worker"] == 0.0 and got[60].explanation == "crash"
        stats = scorer.stats()["workers:probe"]
        assert stats["restarts"] >= 1 and stats["returned"] >= 1
        assert "died" in caplog.text or "closed its pipe" in caplog.text  # (seen on a read, or on a send)
        # the next batch finds the pool whole again
        assert scorer.start_workers(60)
        more = results(scorer, recs(texts(80, start=500), start=500))
        assert [r.status for r in more] == ["scored"] * 80
        assert scorer.stats()["workers:probe"]["workers"] == 2


@pytest.mark.parametrize("workers", [2, 1])
def test_a_record_that_hangs_a_worker_is_a_timeout_and_its_chunk_mates_are_scored(tmp_path, probe, caplog, workers):
    """The chunk that ran past the record timeout goes back to the workers one record a message (never to
    the main process, where a framework stuck in Python could not be stopped): the record that hangs
    alone is a timeout, the others are scored, in workers; the chunks behind it are sent again.  With one
    worker, they wait for its replacement."""
    pm = manager(probe)
    batch = recs(texts(40) + ["hang"] + texts(40, start=40))
    with caplog.at_level(logging.WARNING, logger="chil_core.offload"), \
            Scorer.from_config(config(tmp_path, workers=workers, record_timeout_s=1.0), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        t0 = time.monotonic()
        got = results(scorer, batch)
        elapsed = time.monotonic() - t0
        stats, cached = scorer.stats()["workers:probe"], scorer.stats()["records:probe"]
        assert scorer.pools["probe"].wait_started(60) and len(scorer.pools["probe"].ready) == workers  # replaced
    assert got[40].status == "timeout" and "exceeded 1s" in got[40].explanation
    assert [r.status for i, r in enumerate(got) if i != 40] == ["scored"] * (len(batch) - 1)
    assert [r.explanation for i, r in enumerate(got) if i != 40] == [t[:20] for t in texts(40) + texts(40, start=40)]
    assert stats["timeouts"] == 1 and stats["restarts"] == 2 and stats["returned"] == 0, stats
    assert elapsed < 10, elapsed
    assert "past 1s" in caplog.text and "alone past 1s" in caplog.text
    assert cached["stored"] == len(batch) - 1 and cached["not_stored"] == 1, cached  # a timeout is not kept


def test_a_framework_error_in_a_worker_is_scored_and_logged_here(tmp_path, probe, caplog):
    pm = manager(probe)
    batch = recs(texts(50) + ["raise"])
    with caplog.at_level(logging.WARNING), \
            Scorer.from_config(config(tmp_path), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        got = results(scorer, batch)
    assert got[-1].status == "error" and "ValueError: a framework bug" in got[-1].explanation
    assert "probe raised on record 'r50'" in caplog.text
    assert [r.status for r in got[:-1]] == ["scored"] * 50


def test_batches_in_flight_at_once_share_the_workers(tmp_path, probe):
    pm = manager(probe)
    batches = [recs(texts(64, start=k * 64), start=k * 64) for k in range(5)]
    with Scorer.from_config(config(tmp_path), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        futures = [scorer.submit(b) for b in batches]
        for batch, fut in zip(batches, futures, strict=True):
            got = [r.frameworks["probe"] for r in fut.result(60)]
            assert [r.score for r in got] == [min(len(d["completion"]), 100) / 100 for d in batch]
            assert [r.explanation for r in got] == [d["completion"][:20] for d in batch]
        assert scorer.stats()["workers:probe"]["sent"] > 0


def test_small_batches_stay_in_the_main_process(tmp_path, probe):
    pm = manager(probe)
    with Scorer.from_config(config(tmp_path, min_records=32), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        got = results(scorer, recs(texts(31)))
        assert {r.components["in_worker"] for r in got} == {0.0}
        assert scorer.stats()["workers:probe"]["sent"] == 0


def test_frameworks_that_cannot_run_in_a_worker_get_no_pool(tmp_path, module):
    class Local(Framework):  # defined in a function: a worker cannot import it
        name: ClassVar[str] = "local"
        version: ClassVar[str] = "1"

        async def score(self, record, ctx):
            return FrameworkResult.scored(1.0)

    pm = manager(module.Probe, Local, module.Episodic, module.Unsafe)
    cfg = {"frameworks": {n: {"tools": {"noop": "noop"}} if n != "local" else {} for n in ("probe", "local", "episodic", "unsafe")},
           "scheduler": {"framework_workers": 2}, "cache": {"path": str(tmp_path / "c.lmdb")}}
    with Scorer.from_config(cfg, plugin_manager=pm, frameworks=["probe", "local", "episodic", "unsafe"]) as scorer:
        assert set(scorer.pools) == {"probe"}
        got = scorer.score(recs(texts(100)))
        assert all(r.frameworks["local"].score == 1.0 for r in got)


def test_workers_start_once_a_batch_shows_records_that_need_no_tool(tmp_path, probe):
    pm = manager(probe)
    with Scorer.from_config(config(tmp_path, min_records=32), plugin_manager=pm, frameworks=["probe"]) as scorer:
        scorer.score(recs([f"tool:{i}" for i in range(64)]))  # every record waits on a tool: no workers
        assert not scorer.pools["probe"].wanted and scorer.pools["probe"].ready == []
    with Scorer.from_config(config(tmp_path, min_records=32, start_after=70), plugin_manager=pm, frameworks=["probe"]) as scorer:
        pool = scorer.pools["probe"]
        scorer.score(recs(texts(20)))  # too small a batch to tell
        scorer.score(recs(texts(40, start=100), start=100))  # records that need no tool, but a short run so far
        assert not pool.wanted and pool.ready == []
        scorer.score(recs(texts(40, start=200), start=200))  # 80 such records: workers start, in the background
        assert pool.wanted and pool.wait_started(60) and len(pool.ready) == 2
        got = results(scorer, recs(texts(100, start=300), start=300))
        assert scorer.stats()["workers:probe"]["sent"] > 0
        assert sum(r.components["in_worker"] for r in got) > 0


def test_a_worker_never_writes_to_stdout(tmp_path, probe, capfd):
    pm = manager(probe)
    with Scorer.from_config(config(tmp_path), plugin_manager=pm, frameworks=["probe"]) as scorer:
        assert scorer.start_workers(60)
        got = results(scorer, recs(["print"] + texts(60)))  # the first chunk goes to a worker
        assert got[0].components["in_worker"] == 1.0
    out, err = capfd.readouterr()
    assert "noise from a worker" not in out and "noise from a worker" in err


def test_auto_divides_the_cpus_among_the_scoring_processes(monkeypatch):
    from chil_core import offload

    monkeypatch.setattr(offload.os, "sched_getaffinity", lambda pid: set(range(16)))
    assert offload.default_workers({}) == 4
    assert offload.default_workers({"CHIL_SCORER_PROCESSES": "4"}) == 4  # chil serve --workers 4
    assert offload.default_workers({"LOCAL_WORLD_SIZE": "8"}) == 2  # torchrun, 8 ranks on this host
    assert offload.default_workers({"LOCAL_WORLD_SIZE": "16"}) == 0
    assert offload.default_workers({"CHIL_SCORER_PROCESSES": "many"}) == 4  # logged, ignored
    monkeypatch.setattr(offload.os, "sched_getaffinity", lambda pid: {0})
    assert offload.default_workers({}) == 0


def test_a_framework_worker_whose_scorer_is_gone_ends_quietly(probe, capfd):
    """A worker still scoring a chunk when the main process closed its pipe (an exiting ``chil score``)
    ends, exit code 0, silently: before, its answer's BrokenPipeError traceback landed on the main
    process's stderr."""
    from chil_core.contracts import Record
    from chil_core.offload import FrameworkPool

    pool = FrameworkPool("probe", probe, {}, {"noop": "noop"}, workers=1)
    try:
        assert pool.wait_started(60) and len(pool.ready) == 1
        proc = pool.ready[0]
        proc.conn.send_bytes(pool._payload([Record(id="a", prompt="p", completion="slow")], [0]))
        time.sleep(0.1)
        proc.conn.close()  # gone before the answer (the worker sleeps 0.5 s on "slow")
        assert proc.proc.wait(30) == 0
    finally:
        pool.close()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def local_manager(module):
    pm = manager(module.LocalProbe)
    pm.add_plugin(types.SimpleNamespace(chil_register_tools=hookimpl(lambda register: register(module.Copyable))),
                  "offload-test-tools")
    return pm


def local_config(tmp_path, workers=2, timeout_s=10.0):
    return {"frameworks": {"localprobe": {"tools": {"copyable": "copyable", "noop": "noop"}}},
            "scheduler": {"framework_workers": workers, "framework_workers_min_records": 16,
                          "framework_workers_start_after": 0, "backends": {"copyable": {"timeout_s": timeout_s}}},
            "cache": {"path": str(tmp_path / "cache.lmdb")}}


def test_workers_call_their_own_copy_of_a_replicable_tool_as_the_main_process_would(tmp_path, module):
    pm = local_manager(module)
    plain = [f"look:{'ab' * (i % 5)}|c{i}|d" for i in range(150)]
    odd = ["look:fail|x", "look:boom|y", "noop:via main", "look:z|fail"]
    batch = recs(odd + plain + odd)

    def visible(r):
        return r.status, r.score, r.verdict, r.explanation

    with Scorer.from_config(local_config(tmp_path), plugin_manager=pm, frameworks=["localprobe"]) as scorer:
        pool = scorer.pools["localprobe"]
        assert set(pool.local) == {"copyable"}, "noop is not replicable: only copyable is copied"
        assert scorer.start_workers(60)
        got = [r.frameworks["localprobe"] for r in scorer.score(batch)]
        stats = scorer.stats()
        main_calls = scorer.scheduler.backend("copyable", "copyable").stats.calls
    with Scorer.from_config(local_config(tmp_path / "off", workers=0), plugin_manager=pm, frameworks=["localprobe"]) as scorer:
        want = [r.frameworks["localprobe"] for r in scorer.score(batch)]
    assert [visible(r) for r in got] == [visible(r) for r in want]
    assert [r.verdict for r in want[:4]] == ["failed", "failed", "ok", "failed"], "the odd ones fail in the main process too"
    in_worker = [r.components["in_worker"] for r in got]
    assert sum(in_worker[4:-4]) >= 75, "records that call only the copied tool are scored in the workers"
    assert in_worker[:4] == in_worker[-4:] == [0.0] * 4, "a failed call, or a call to another tool: scored here"
    pool_stats = stats["workers:localprobe"]
    assert pool_stats["returned"] >= 8 and pool_stats["sent"] >= 75, pool_stats
    # the workers' calls never reached the main process's backend: only the records scored here did
    assert main_calls <= 3 * (150 - sum(in_worker[4:-4])) + 8 * 3, main_calls


def test_a_call_past_its_backends_timeout_in_a_worker_sends_its_record_back(tmp_path, module):
    pm = local_manager(module)
    batch = recs([f"look:q{i}" for i in range(40)] + ["look:slow"] + [f"look:r{i}" for i in range(40)])
    with Scorer.from_config(local_config(tmp_path, timeout_s=0.2), plugin_manager=pm, frameworks=["localprobe"]) as scorer:
        assert scorer.start_workers(60)
        got = [r.frameworks["localprobe"] for r in scorer.score(batch)]
        assert scorer.stats()["workers:localprobe"]["returned"] >= 1
    slow = got[40]
    assert slow.components["in_worker"] == 0.0, "its batch ran past 0.2 s in the worker: the main process scored it"
    assert slow.verdict == "failed" and "exceeded 0.2s" in slow.explanation, slow  # the main process's timeout
    assert all(r.verdict == "ok" for i, r in enumerate(got) if i != 40)


def test_a_backend_under_a_memory_bound_is_not_copied(tmp_path, module):
    """A memory bound (``[scheduler.backends.<name>] memory_mb``) holds only where the backend runs: its
    calls stay with it, in the main process's scheduler."""
    pm = local_manager(module)
    cfg = local_config(tmp_path)
    cfg["scheduler"]["backends"]["copyable"]["memory_mb"] = 512
    with Scorer.from_config(cfg, plugin_manager=pm, frameworks=["localprobe"]) as scorer:
        assert scorer.pools["localprobe"].local == {}
    with Scorer.from_config(local_config(tmp_path / "b"), plugin_manager=pm, frameworks=["localprobe"]) as scorer:
        assert set(scorer.pools["localprobe"].local) == {"copyable"}


def ordered_manager(module):
    pm = manager(module.OrderedProbe)
    pm.add_plugin(types.SimpleNamespace(chil_register_tools=hookimpl(lambda register: register(module.Copyable))),
                  "offload-test-tools")
    return pm


def ordered_config(tmp_path, workers=2):
    return {"frameworks": {"orderedprobe": {"tools": {"copyable": "copyable"}}},
            "scheduler": {"framework_workers": workers, "framework_workers_min_records": 16,
                          "framework_workers_start_after": 0},
            "cache": {"path": str(tmp_path / "cache.lmdb")}}


def test_a_sequential_framework_sends_the_records_it_keys_to_workers_and_keeps_the_rest_in_order(tmp_path, module):
    """A ``sequential`` framework that keys some records (its own ``result_key``): those are scored in
    its workers, by their own copy of its tool (``Tool.replica`` set there, not here); the others are
    scored here, in input order, each seeing exactly the ones before it, as with no workers."""
    pm = ordered_manager(module)
    texts_in = []
    for i in range(120):
        texts_in.append(f"look:{'xy' * (i % 7)}{i}")
        if i % 10 == 3:
            texts_in.append(f"ep:{i}")
    batch = recs(texts_in)
    with Scorer.from_config(ordered_config(tmp_path), plugin_manager=pm, frameworks=["orderedprobe"]) as scorer:
        assert set(scorer.pools["orderedprobe"].local) == {"copyable"}
        assert scorer.start_workers(60)
        got = [r.frameworks["orderedprobe"] for r in scorer.score(batch)]
        pool_stats = scorer.stats()["workers:orderedprobe"]
    with Scorer.from_config(ordered_config(tmp_path / "off", workers=0), plugin_manager=pm,
                            frameworks=["orderedprobe"]) as scorer:
        assert scorer.pools == {}
        want = [r.frameworks["orderedprobe"] for r in scorer.score(batch)]
    assert [(r.status, r.score, r.verdict, r.explanation) for r in got] == [(r.status, r.score, r.verdict, r.explanation) for r in want]
    eps = [r for r in got if r.verdict == "ep"]
    assert [r.components["seen"] for r in eps] == [float(k) for k in range(12)], "in input order, each after the ones before"
    assert all(r.components["in_worker"] == 0.0 for r in eps), "records it does not key never leave the main process"
    keyed = [r for r in got if r.verdict == "ok"]
    assert pool_stats["sent"] == 120 and pool_stats["returned"] == 0, pool_stats
    assert all(r.components["in_worker"] == 1.0 and r.components["replica"] == 1.0 for r in keyed)
    assert all(r.components["replica"] == 0.0 for r in want if r.verdict == "ok"), "the main process's backend is no copy"


def test_a_sequential_framework_gets_no_pool_when_its_tools_are_not_copied(tmp_path, module):
    pm = ordered_manager(module)
    cfg = ordered_config(tmp_path)
    cfg["scheduler"]["backends"] = {"copyable": {"memory_mb": 512}}  # not copied: its records would all come back
    with Scorer.from_config(cfg, plugin_manager=pm, frameworks=["orderedprobe"]) as scorer:
        assert scorer.pools == {}
