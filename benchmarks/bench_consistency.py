"""Throughput and latency of the consistency framework, through the Scorer (cold and warm cache) and a
naive per-record loop, in the same run.

    python benchmarks/bench_consistency.py [--data ../shared/data] [--backends clingo,prolog,z3] [--latency 200]
                                           [--workloads prontoqa-cot,proofwriter,proofwriter-group,folio] [--repeat 3]

Workloads (real data, read in place):

- ``prontoqa-cot``: ProntoQA dev-half; the completion is the gold chain of thought (``explanation``,
  about 6 ground claims per record), judged against the theory: several claims, self-consistency.
- ``proofwriter``: ProofWriter dev; the completion is the statement asked about (one claim).
- ``folio``: FOLIO validation-dev with gold FOL (``smt`` backend z3; one claim).
- ``proofwriter-group``: the GRPO shape: the first 75 ProofWriter dev questions, 8 completions each (ids
  differ), each drawn (seeded) from the statement asked about and its negation: ~2 distinct a group,
  which the Scorer scores once each (record cache, in-batch duplicates); the naive loop scores all 600.

Modes: ``naive loop`` = the framework over each record in turn, in one coroutine, with the tools
called directly, one call at a time, no scheduler, no cache, from the Scorer's input to its output (the
record read, its reward made); until 2026-12-03 it started an event loop per record (``asyncio.run``)
with its theory cache off and read the records beforehand, 13-45 % slower, so older ``x naive`` figures
are higher; ``in-process batches`` = the same work with no scheduler at all: every record read and
scored at once in one process, the tool calls decided in-process in batches of the backend's
``max_batch``, no cache, no worker, no IPC; its CPU a record is the least any scheduler can spend on
this work in input order, so ``2 / that`` (its ``cpu-bound rec/s``; ``x naive (cpu)`` against the
naive loop's) is the most two cores allow for it: the ceiling for ``x naive`` on this machine (the
Scorer's framework workers take a batch in prompt order, so that the questions on one theory share a
chunk, which this row does not: on ProofWriter they beat it).  It runs the cyclic garbage
collector as the Scorer does while it scores a batch (first threshold ``GC_THRESHOLD0``); until
2026-12-03 19:00 it ran at the interpreter's default, which made its CPU a record 20-40 % higher and
the ceilings it gave (2.2-3.0x for prolog and for clingo on ProntoQA) too low.  The naive loop runs at
the default, as a loop written without the Scorer would (at the raised threshold it is 0-25 % faster,
varying from run to run).  ``solver ms/rec``: the CPU a record spends in the tool's ``run_batch``, less
validating its payload (:class:`_ToolClock`); the in-process row's statuses column gives
``2 x naive solver / batched solver``, the most ``x naive`` could be were everything but the solver
free (for prolog also SWI-Prolog's own CPU a record, timed around ``nextSolution``, and the ceiling were
that free); ``cold`` = one Scorer batch
over all records with an empty cache, in a fresh Scorer (nothing parsed yet); ``warm`` = the same
batch again (every tool answer cached).  Every timed run starts with the process's memos emptied
(:func:`forget`: parsed sentences, validated theories); until 2026-12-03 16:30 the runs after the
first inherited them, so the naive loop's later repeats and every cold Scorer run read the sentences
parsed already (ProofWriter cold ~10-20 % faster than with nothing parsed).  Naive and cold are the median of ``--repeat`` runs; ``x naive`` is
records/s over the naive loop's, measured in the same run.  Latency is one record at a time
(``scorer.score([record])``) on a sample, cold then warm; p50/p99 in milliseconds.  The load average
is printed before and after: this is a shared 2-core machine, compare ratios, not absolute rates.

CPU columns (what a busy machine cannot distort as much as wall time): ``cpu ms/rec`` is CPU time per
record, for the Scorer the event-loop process + its worker processes, the framework workers and the
backend's (read from /proc every 10 ms, so a worker retired or killed meanwhile counts up to its last
reading); ``cpu-bound rec/s`` is the rate those CPU costs allow on two idle cores (naive: 1 / its CPU
per record; the Scorer: 1 / the larger of the event loop's CPU, which one core runs, and half of all of
it; until 2026-12-03 22:50 the larger of the event loop's and the workers', which assumed one worker at a
time); ``x naive (cpu)`` compares those.

The Scorer's framework workers (``scheduler.framework_workers``, 2 on two cores) are started before
the timed runs (``Scorer.start_workers``), as its backend's workers are by the warm-up record: a
training run starts them once ``framework_workers_start_after`` records (2,048) were scored in large
batches, and keeps them.  Since 2026-12-03 22:50 the consistency framework's records outside an episode go
to them, and each worker decides their theories with its own copy of clingo or SWI-Prolog (z3 is
not copied: it runs under a memory bound), so the event loop parses nothing; before, every record
was parsed and judged on the event loop and its theory sent to the backend's one worker process.  Since
2026-12-04 01:20 each framework worker scores the framework's ``warmup`` records (invented words, no
dataset's) as it starts, before it says ready, as it does in a training run: its first chunk no longer
pays the first calls of the code it runs (3-8 ms a worker).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, percentile, table  # noqa: E402


def workloads(data: Path) -> dict[str, list[dict[str, Any]]]:
    pronto = json.loads((data / "prontoqa" / "dev-half.json").read_text(encoding="utf-8"))
    pw = json.loads((data / "proofwriter" / "dev.json").read_text(encoding="utf-8"))
    folio = [json.loads(x) for x in (data / "folio" / "folio-validation-dev.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rng = random.Random(5)
    group = []
    for r in pw[:75]:
        statement = r["question"].split("? ")[-1]
        negated = statement.replace(" is not ", " is ") if " is not " in statement else statement.replace(" is ", " is not ", 1)
        group += [{"id": f"{r['id']}-{j}", "group": r["id"], "prompt": r["context"], "completion": rng.choice((statement, negated))}
                  for j in range(8)]
    return {
        "proofwriter-group": group,
        "prontoqa-cot": [{"id": r["id"], "prompt": r["context"], "completion": " ".join(r["explanation"])} for r in pronto],
        "proofwriter": [{"id": r["id"], "prompt": r["context"], "completion": r["question"].split("? ")[-1]} for r in pw],
        "folio": [{"id": f"folio-{i}", "prompt": " ".join(r["premises"]), "completion": "",
                   "metadata": {"premises_fol": r["premises-FOL"], "conclusion_fol": r["conclusion-FOL"]}}
                  for i, r in enumerate(folio)],
    }


def forget() -> None:
    """Empty the per-process memos a run would otherwise inherit from the one before it (the parsed
    sentences, the validated theories), so that every timed run, naive or not, starts cold: the
    Scorer's workers are fresh processes, and its event loop shares this one."""
    from chil_plugin_consistency.english import claim_parts, parse_sentence

    from chil_core.capabilities import logic_program

    parse_sentence.cache_clear()
    claim_parts.cache_clear()
    logic_program._THEORIES.clear()


def direct_tool(capability: str, backend: str) -> Any:
    from chil_core.plugins import get_registry

    return get_registry().tool(capability, backend)()


class _ToolClock:
    """CPU seconds spent in a tool's ``run_batch`` (``tool``), and within it in validating payloads
    (``validate``: ``load_decide_call``, the theory checked against the capability's bounds; work each
    call needs whether batched or not).  ``tool - validate`` is the solver's share: what a batch can make
    cheaper a record (one program, one goal, one solver for many theories)."""

    def __init__(self, tool: Any) -> None:
        from chil_core.capabilities import logic_program

        self.tool_s = self.validate_s = 0.0
        self._lp = logic_program
        self._load = load = logic_program.load_decide_call
        run_batch = tool.run_batch

        def timed_run_batch(calls: list[Any]) -> list[Any]:
            c0 = time.process_time()
            try:
                return run_batch(calls)
            finally:
                self.tool_s += time.process_time() - c0

        def timed_load(payload: Any, *args: Any) -> Any:
            c0 = time.process_time()
            try:
                return load(payload, *args)
            finally:
                self.validate_s += time.process_time() - c0

        tool.run_batch = timed_run_batch
        logic_program.load_decide_call = timed_load

    def close(self) -> None:
        self._lp.load_decide_call = self._load

    @property
    def solver_s(self) -> float:
        return self.tool_s - self.validate_s


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_pids(scorer: Any) -> set[int]:
    pids = set()
    for backend in scorer.scheduler.backends.values():
        for proc in getattr(backend._runner, "live", ()):
            pids.add(proc.proc.pid)
    for pool in scorer.pools.values():
        pids.update(proc.proc.pid for proc in pool.ready)
    return pids


def naive(records: list[dict[str, Any]], capability: str, backend: str) -> tuple[float, list[float], float, float, float]:
    """One record at a time, in one coroutine, tools called in-process, from the Scorer's input to its
    output: the record read (``to_record``), ``framework.score`` (its options the Scorer's defaults), the
    reward made (``aggregate``).  Returns (seconds, latencies, claims, CPU seconds, the solver's CPU
    seconds within them: :class:`_ToolClock`)."""
    from chil_plugin_consistency.framework import ConsistencyFramework

    from chil_core.rewards import aggregate
    from chil_core.scoring import to_record
    from chil_core.testing import DirectContext

    fw = ConsistencyFramework()
    tool = direct_tool(capability, backend)
    clock = _ToolClock(tool)
    ctx = DirectContext({capability: tool})
    weights = {"consistency": ConsistencyFramework.default_weight}
    lat: list[float] = []

    async def each() -> float:
        claims = 0.0
        for i, data in enumerate(records):
            t1 = time.perf_counter()
            r = to_record(data, i)
            res = await fw.score(r, ctx)
            aggregate(r.id, {"consistency": res}, weights)
            lat.append(time.perf_counter() - t1)
            claims += res.components.get("claims", 0.0)
        return claims

    loop = asyncio.new_event_loop()
    forget()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        claims = loop.run_until_complete(each())
    finally:
        loop.close()
        ctx.close()
        clock.close()
    return time.perf_counter() - t0, lat, claims, time.process_time() - c0, clock.solver_s


class _BatchContext:
    """A context that decides the calls of every record waiting at once in batches of the backend's
    ``max_batch``, in this process: no scheduler, no cache, no worker, no IPC."""

    def __init__(self, tools: dict[str, Any]) -> None:
        self.tools = tools
        for tool in tools.values():
            tool.start()
        self.pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self.handle: asyncio.Handle | None = None

    def has(self, capability: str) -> bool:
        return capability in self.tools

    def backend(self, capability: str) -> str | None:
        return self.tools[capability].name if capability in self.tools else None

    async def call(self, capability: str, op: str, payload: dict[str, Any]) -> Any:
        from chil_core import ToolCall

        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((ToolCall(capability=capability, op=op, payload=payload), fut))
        if self.handle is None:  # after every record now ready has made its call
            self.handle = loop.call_soon(self.flush)
        return await fut

    def flush(self) -> None:
        from chil_core import ToolResult

        self.handle = None
        pending, self.pending = self.pending, []
        by_tool: dict[str, list[tuple[Any, asyncio.Future[Any]]]] = {}
        for call, fut in pending:
            by_tool.setdefault(call.capability, []).append((call, fut))
        for capability, items in by_tool.items():
            tool = self.tools[capability]
            for k in range(0, len(items), tool.max_batch):
                part = items[k : k + tool.max_batch]
                for (_, fut), value in zip(part, tool.run_batch([c for c, _ in part]), strict=True):
                    fut.set_result(value if isinstance(value, ToolResult) else ToolResult.success(value))

    def close(self) -> None:
        for tool in self.tools.values():
            tool.close()


class _TimedQuery:
    """pyswip's ``Query`` with the CPU time of its ``nextSolution`` (SWI-Prolog's own work) added up."""

    cpu = 0.0

    def __init__(self, query_cls: Any, goal: Any) -> None:
        self.query = query_cls(goal)

    def nextSolution(self) -> Any:  # noqa: N802 - pyswip's name
        c0 = time.process_time()
        try:
            return self.query.nextSolution()
        finally:
            _TimedQuery.cpu += time.process_time() - c0

    def closeQuery(self) -> None:  # noqa: N802
        self.query.closeQuery()


def in_process_batches(records: list[dict[str, Any]], capability: str, backend: str) -> tuple[float, float, float | None, float]:
    """The Scorer's work without the Scorer: every record read and scored at once in one process, the
    tool calls decided in batches of the backend's ``max_batch`` in this process, the rewards made.
    What it costs (CPU seconds) is the least any scheduler pays for this work: on two cores, no
    pipeline of it can beat 2 / (its CPU a record) records/s.  The cyclic garbage collector runs as it
    does while the Scorer scores a batch (its first threshold raised to ``GC_THRESHOLD0``).  Returns
    (seconds, CPU seconds, for prolog the CPU seconds of SWI-Prolog's own evaluation within them, else
    None, and the solver's CPU seconds: :class:`_ToolClock`)."""
    from chil_plugin_consistency.framework import ConsistencyFramework

    from chil_core.rewards import aggregate
    from chil_core.scoring import _gc_raise, _gc_restore, to_record

    fw = ConsistencyFramework()
    tool = direct_tool(capability, backend)
    clock = _ToolClock(tool)
    ctx = _BatchContext({capability: tool})
    timed = backend == "prolog" and hasattr(tool, "_Query")
    if timed:
        query_cls = tool._Query
        tool._Query = lambda goal: _TimedQuery(query_cls, goal)
        _TimedQuery.cpu = 0.0
    weights = {"consistency": ConsistencyFramework.default_weight}

    async def one(i: int, data: dict[str, Any]) -> None:
        r = to_record(data, i)
        aggregate(r.id, {"consistency": await fw.score(r, ctx)}, weights)

    async def every() -> None:
        await asyncio.gather(*(one(i, data) for i, data in enumerate(records)))

    loop = asyncio.new_event_loop()
    forget()
    _gc_raise()  # the Scorer's own mechanism, as while it scores a batch
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        loop.run_until_complete(every())
    finally:
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        _gc_restore()
        loop.close()
        ctx.close()
        clock.close()
    return dt, cpu, (_TimedQuery.cpu if timed else None), clock.solver_s


def in_process_rows(records: list[dict[str, Any]], capability: str, backend: str, repeat: int) -> tuple[list[Any], list[Any]]:
    """The naive loop and the in-process batches, ``repeat`` runs each: what :func:`main` runs in a
    fresh process per workload and backend.  In one process, a backend's state carried over to the next
    one measured there: after SWI-Prolog had decided ProofWriter in this process, z3's naive loop ran
    14-23 % (ProofWriter, ProntoQA) to 2x (FOLIO) slower, while z3 in the Scorer, in its own worker
    processes, did not, which inflated z3's ``x naive`` (until 2026-12-03 19:10)."""
    naive_runs = [naive(records, capability, backend) for _ in range(repeat)]
    batched = [in_process_batches(records, capability, backend) for _ in range(repeat)]
    return naive_runs, batched


def scorer_runs(records: list[dict[str, Any]], tools: dict[str, str], latency_n: int, repeat: int = 1) -> list[dict[str, Any]]:
    from chil_core.scoring import Scorer

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        colds: list[tuple[float, Any]] = []
        cpus: list[tuple[float, float]] = []  # (parent, workers) CPU seconds of each cold run
        for k in range(repeat):  # a fresh Scorer each time: empty cache, nothing parsed
            config = {"frameworks": {"consistency": {"tools": tools}}, "cache": {"path": str(Path(tmp) / f"cache{k}")}}
            with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
                scorer.score([{"id": "warmup", "prompt": "Bob is big.", "completion": "Bob is big. Bob is red."}])
                scorer.start_workers()  # the framework workers (see the docstring)
                before = {pid: _proc_cpu(pid) for pid in _worker_pids(scorer)}
                seen = dict(before)  # last CPU reading of every worker seen (spares come and go)
                stop = threading.Event()

                def sample(scorer: Any = scorer, seen: dict[int, float] = seen, stop: threading.Event = stop) -> None:
                    while not stop.is_set():
                        for pid in _worker_pids(scorer):
                            seen[pid] = max(seen.get(pid, 0.0), _proc_cpu(pid))
                        stop.wait(0.01)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                forget()
                t0, c0 = time.perf_counter(), time.process_time()
                rewards = scorer.score(records)
                colds.append((time.perf_counter() - t0, rewards))
                parent = time.process_time() - c0
                stop.set()
                sampler.join()
                for pid in _worker_pids(scorer):
                    seen[pid] = max(seen.get(pid, 0.0), _proc_cpu(pid))
                cpus.append((parent, sum(cpu - before.get(pid, 0.0) for pid, cpu in seen.items())))
                if k == repeat - 1:
                    t0 = time.perf_counter()
                    warm = scorer.score(records)
                    warm_dt = time.perf_counter() - t0
        cold_dt = statistics.median(dt for dt, _ in colds)
        parent_cpu = statistics.median(c[0] for c in cpus)
        worker_cpu = statistics.median(c[1] for c in cpus)
        for mode, dt, rewards in (("cold", cold_dt, colds[-1][1]), ("warm", warm_dt, warm)):
            claims = sum(r.frameworks["consistency"].components.get("claims", 0.0) for r in rewards)
            row = {"mode": f"scheduler, {mode} cache", "seconds": dt, "records/s": len(records) / dt,
                   "claims/s": claims / dt, "statuses": _statuses(rewards)}
            if mode == "cold":
                row["cpu ms/rec"] = f"{1000 * parent_cpu / len(records):.2f}+{1000 * worker_cpu / len(records):.2f}"
                # two cores: the event loop runs on one at most, and all of it (the event loop, the
                # framework workers, the backend's workers) shares two
                row["cpu-bound rec/s"] = len(records) / max(parent_cpu, (parent_cpu + worker_cpu) / 2, 1e-9)
            rows.append(row)
        # latency: one record at a time, on a fresh cache (cold), then again (warm)
        config = {"frameworks": {"consistency": {"tools": tools}}, "cache": {"path": str(Path(tmp) / "latency")}}
        sample = records[:latency_n]
        with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
            scorer.score([{"id": "warmup", "prompt": "Bob is big.", "completion": "Bob is big. Bob is red."}])
            forget()
            for row in rows:  # the cold pass fills the cache the warm pass reads
                lat = []
                for rec in sample:
                    t1 = time.perf_counter()
                    scorer.score([rec])
                    lat.append(time.perf_counter() - t1)
                row["p50 ms"] = 1000 * percentile(lat, 50)
                row["p99 ms"] = 1000 * percentile(lat, 99)
    return rows


def _statuses(rewards: list[Any]) -> str:
    from collections import Counter

    return ",".join(f"{k}:{v}" for k, v in sorted(Counter(r.frameworks["consistency"].status for r in rewards).items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--backends", default="clingo,prolog,z3", help="logic_program backends to measure")
    ap.add_argument("--latency", type=int, default=200, help="records timed one at a time per mode")
    ap.add_argument("--workloads", default="prontoqa-cot,proofwriter,proofwriter-group,folio", help="workloads to run")
    ap.add_argument("--repeat", type=int, default=3, help="naive and cold runs per workload (the median is shown)")
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"data directory not found: {args.data}")
    loads = workloads(args.data)
    chosen = set(args.workloads.split(","))
    plan = [(name, "logic_program", b) for name in ("prontoqa-cot", "proofwriter", "proofwriter-group") for b in args.backends.split(",")
            if b and name in chosen]
    if "folio" in chosen:
        plan.append(("folio", "smt", "z3"))
    rows = []
    load_before = os.getloadavg()
    spawn = multiprocessing.get_context("spawn")
    for name, capability, backend in plan:
        records = loads[name]
        # naive and in-process runs call the tools in-process: a fresh process for each backend (see
        # in_process_rows); the Scorer's tools run in its worker processes
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            naive_runs, batched = pool.submit(in_process_rows, records, capability, backend, args.repeat).result()
        dt = statistics.median(r[0] for r in naive_runs)
        naive_cpu = statistics.median(r[3] for r in naive_runs)
        naive_solver = statistics.median(r[4] for r in naive_runs)
        _, lat, claims, _, _ = naive_runs[-1]
        base = {"workload": name, "backend": backend, "records": len(records)}
        naive_bound = len(records) / naive_cpu
        rows.append({**base, "mode": "naive loop", "seconds": dt, "records/s": len(records) / dt, "claims/s": claims / dt,
                     "x naive": 1.0, "p50 ms": 1000 * percentile(lat, 50), "p99 ms": 1000 * percentile(lat, 99), "statuses": "",
                     "cpu ms/rec": f"{1000 * naive_cpu / len(records):.2f}", "cpu-bound rec/s": naive_bound, "x naive (cpu)": 1.0,
                     "solver ms/rec": 1000 * naive_solver / len(records)})
        b_dt = statistics.median(b[0] for b in batched)
        b_cpu = statistics.median(b[1] for b in batched)
        b_solver = statistics.median(b[3] for b in batched)
        # the most x naive can be were everything but the solver free (parsing, validating, scheduling,
        # rewards: work a record needs batched or not) and two cores perfectly shared
        note = f"all but the solver free: {2 * naive_solver / max(b_solver, 1e-9):.2f}x"
        if batched[0][2] is not None:  # prolog: the ceiling were SWI-Prolog's own evaluation free
            swi = statistics.median(b[2] for b in batched)
            note += f"; swi {1000 * swi / len(records):.2f} ms/rec, ceiling without it {2 * len(records) / (b_cpu - swi) / naive_bound:.2f}x"
        rows.append({**base, "mode": "in-process batches", "seconds": b_dt, "records/s": len(records) / b_dt, "x naive": dt / b_dt,
                     "cpu ms/rec": f"{1000 * b_cpu / len(records):.2f}", "cpu-bound rec/s": 2 * len(records) / b_cpu,
                     "x naive (cpu)": 2 * len(records) / b_cpu / naive_bound, "solver ms/rec": 1000 * b_solver / len(records),
                     "statuses": note})
        for row in scorer_runs(records, {capability: backend}, args.latency, args.repeat):
            extra = {"x naive (cpu)": row["cpu-bound rec/s"] / naive_bound} if "cpu-bound rec/s" in row else {}
            rows.append({**base, **row, "x naive": dt / row["seconds"], **extra})
        print(f"[{name}/{backend} done]", file=sys.stderr)
    load_after = os.getloadavg()
    print(table(rows, ["workload", "backend", "mode", "records", "seconds", "records/s", "claims/s", "x naive", "p50 ms", "p99 ms",
                       "cpu ms/rec", "cpu-bound rec/s", "x naive (cpu)", "solver ms/rec", "statuses"]))
    print(f"load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)} (2 cores)")


if __name__ == "__main__":
    main()
