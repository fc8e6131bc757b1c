"""Scheduler overhead: requests/s through dedup + cache + batching vs a naive per-record loop, same run.

    python benchmarks/bench_scheduler.py [--records 20000] [--distinct 0.5]

Two backends: ``noop`` (answers instantly: pure scheduler overhead) and ``roundtrip`` (a fixed 0.3 ms
per call plus 2 µs per item, the shape of a database or IPC round trip, where batching pays).
The naive loop calls the framework logic once per record with a one-call batch, no async, no cache.
``--distinct``: the share of distinct records (the rest repeat one, as equal completions of a GRPO
group do); the probe framework declares the one field it reads (``metadata``), so repeats are scored
once through the record cache ("record dedup"); ``--distinct 1`` measures the overhead with nothing
repeated.  The load average is printed with the figures (the machine may be shared).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table  # noqa: E402

from chil_core import Framework, FrameworkResult, Tool, ToolCall, hookimpl  # noqa: E402
from chil_core.builtins import NoopTool  # noqa: E402
from chil_core.config import RewardSettings  # noqa: E402
from chil_core.plugins import PluginManager  # noqa: E402
from chil_core.rewards import aggregate  # noqa: E402
from chil_core.scoring import Scorer, to_record  # noqa: E402


class RoundTrip(Tool):
    name: ClassVar[str] = "roundtrip"
    capability: ClassVar[str] = "roundtrip"
    version: ClassVar[str] = "1"
    ops: ClassVar[frozenset[str]] = frozenset({"echo"})
    isolation = "thread"

    def run_batch(self, calls):
        time.sleep(0.0003 + 0.000002 * len(calls))
        return [c.payload for c in calls]


class Probe(Framework):
    name: ClassVar[str] = "probe"
    capabilities: ClassVar[dict[str, bool]] = {"noop": False, "roundtrip": False}
    Options = None  # type: ignore[assignment]
    capability = "noop"
    reads = ("metadata",)  # all it reads: extract() uses metadata["k"]

    def extract(self, record):
        return [ToolCall(capability=self.capability, op="echo", payload={"k": record.metadata["k"]})]

    def judge(self, record, calls, results):
        return FrameworkResult.scored(1.0 if results[0].ok else 0.0)


def make_framework(capability: str) -> type[Probe]:
    from chil_core.components import NoOptions

    return type(f"Probe_{capability}", (Probe,), {"name": f"probe-{capability}", "capability": capability, "Options": NoOptions})


def naive(records, framework, tool) -> float:
    """Per record: extract, call the backend with a one-call batch, judge, aggregate."""
    t0 = time.perf_counter()
    tool.start()
    for rec in records:
        r = to_record(rec)
        calls = framework.extract(r)
        results = [tool.run_batch([c])[0] for c in calls]
        from chil_core.contracts import ToolResult

        res = framework.judge(r, calls, [x if isinstance(x, ToolResult) else ToolResult(value=x) for x in results])
        aggregate(r.id, {framework.name: res}, {framework.name: 1.0}, RewardSettings())
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--distinct", type=float, default=0.5, help="fraction of distinct requests")
    args = ap.parse_args()
    n = args.records
    distinct = max(1, int(n * args.distinct))
    records = [{"id": str(i), "prompt": "p", "completion": "c", "metadata": {"k": i % distinct}} for i in range(n)]

    frameworks = {cap: make_framework(cap) for cap in ("noop", "roundtrip")}
    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: [register(f) for f in frameworks.values()]),
        chil_register_tools=hookimpl(lambda register: register(RoundTrip)),
    ), "bench")

    rows = []
    load_before = os.getloadavg()
    for cap, tool_cls in (("noop", NoopTool), ("roundtrip", RoundTrip)):
        fw_name = frameworks[cap].name
        naive_n = n if cap == "noop" else min(n, 2000)  # the naive round-trip loop is slow: time a slice
        t_naive = naive(records[:naive_n], frameworks[cap](), tool_cls())
        rows.append({"backend": cap, "mode": "naive per-record loop", "records": naive_n, "seconds": t_naive,
                     "records/s": naive_n / t_naive, "mean batch": 1.0, "cache hits": 0, "dedup hits": 0,
                     "record hits": 0, "record dedup": 0})
        for label, cache in (("scheduler, cold cache", True), ("scheduler, warm cache", True), ("scheduler, no cache", False)):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = {"frameworks": {fw_name: {}}, "cache": {"enabled": cache, "path": str(Path(tmp) / "c")},
                       "scheduler": {"max_batch": 256, "max_wait_ms": 1}}
                with Scorer.from_config(cfg, plugin_manager=pm) as scorer:
                    if label.endswith("warm cache"):
                        scorer.score(records)
                        for b in scorer.scheduler.backends.values():
                            b.stats.__init__()
                        for rs in scorer.record_stats.values():
                            rs.__init__()
                    t0 = time.perf_counter()
                    out = scorer.score(records)
                    dt = time.perf_counter() - t0
                    assert all(r.reward == 1.0 for r in out)
                    st = scorer.scheduler.backend(cap, cap).stats
                    rs = scorer.stats().get(f"records:{fw_name}", {})
            rows.append({"backend": cap, "mode": label, "records": n, "seconds": dt, "records/s": n / dt,
                         "mean batch": st.as_dict()["mean_batch"], "cache hits": st.cache_hits, "dedup hits": st.dedup_hits,
                         "record hits": rs.get("hits", 0), "record dedup": rs.get("dedup_hits", 0)})
    print(table(rows))
    load = os.getloadavg()
    print(f"load average (1/5/15 min): {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} before, "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after, on {os.cpu_count()} CPUs; --records {n} --distinct {args.distinct}")
    by = {(r["backend"], r["mode"]): r["records/s"] for r in rows}
    for cap in ("noop", "roundtrip"):
        ratio = by[(cap, "scheduler, cold cache")] / by[(cap, "naive per-record loop")]
        warm = by[(cap, "scheduler, warm cache")] / by[(cap, "naive per-record loop")]
        print(f"{cap}: scheduler (cold cache) / naive throughput = {ratio:.2f}x, warm {warm:.2f}x; "
              f"scheduler overhead ≈ {1e6 / by[(cap, 'scheduler, no cache')]:.1f} µs/record without cache")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
