"""Throughput and latency of the empirical framework, through the Scorer and in a naive loop, same run.

    python benchmarks/bench_empirical.py [--records 4000] [--latency-sample 300] [--arith both|native|python]
    python benchmarks/bench_empirical.py --framework-only [--records 4000] [--rounds 3]

Workloads (data from ../shared/data; GSM8K: MIT, OpenAI; Countries: ConvE repo, MIT):

* ``gsm8k``: GSM8K train gold solutions as written (calculator annotations + prose), reference answer;
* ``gsm8k-model``: the same solutions without annotations, ending "The answer is N." (inline parsing);
* ``gsm8k-group``: the GRPO shape: ``--records`` / 8 prompts, 8 completions each (ids differ), each drawn
  (seeded) from three answers to its prompt: the gold solution, its model-style rewrite, and the rewrite
  with a wrong final answer; a group holds ~2.9 distinct completions, which the Scorer scores once each
  (record cache, in-batch duplicates) and the naive loop scores all;
  the GSM8K workloads run with options ``facts = false, proofs = false`` on both paths (the Scorer would
  otherwise add its default fact store, DuckDB, and look up prose sentences the naive loop never does);
* ``facts-<backend>``: three controlled sentences per record ("X is located in Y", "X borders Y"), half
  of them false, looked up in the countries_kg S1 store by DuckDB, SQLite and Oxigraph.

A *claim* is one checked item: an arithmetic step, a final answer, a fact lookup.  Modes:

* naive per-record loop: one record at a time, in one coroutine, from the Scorer's input to its output:
  the record dict read (``to_record``), ``await framework.score(record)`` against tool instances called
  directly (no scheduler, no batching, no cache), the reward made (``aggregate``); until 2026-12-02 it
  started the event loop once per record (``run_until_complete``), ~45 µs a record that were the
  loop's, not the framework's, so older "naive" figures are lower; until 2026-12-03 it was handed
  records read beforehand and made no reward (~5 µs a record less than the Scorer's work), so older
  "vs naive" ratios are lower;
* Scorer cold cache: a fresh Scorer (in-memory cache; its framework workers, ``scheduler.framework_workers``,
  started before the timing, as the naive loop's framework is built before its own, on the workloads
  where a long run starts them: GSM8K, and facts-sqlite, whose workers look facts up in their own copy
  of the store (``Tool.replicable``, since 2026-12-03; before, its records were scored in the main
  process only); not facts-duckdb or facts-oxigraph, whose records all ask for a tool the workers have
  no copy of, so that the Scorer never starts them: until 2026-12-03 they were started there too, and
  the first batch went to them and came back, 13 % of the facts-sqlite Scorer's time), records submitted in
  batches of 256, each batch's rewards awaited before the next is submitted (a GRPO step);
* Scorer cold, streamed: the same, with the next batch submitted before this one's rewards are read, as
  ``chil score`` streams a file (``cli._score_stream``);
* Scorer warm cache: the same records again on the same Scorer.

Arithmetic implementation (``--arith``, default ``both``): the GSM8K workloads run twice in the same
process, with the Python reference (``python``) and with the C++ kernel of chil-native (``native``), and a
summary gives native / python per mode; the fact workloads (no arithmetic) run once, with the default.

``claims/cpu-s`` divides by the CPU time of this process (every thread) instead of the wall clock: on a
shared, loaded machine it is the steadier figure (work done in another process, a Z3 worker, is not in it).

``--framework-only``: the framework alone, the figure issue 15's ">= 5x" is read on: ``score()`` awaited
record after record in one coroutine, no tools (``DirectContext({})``: statements with variables are
skipped on both paths), GSM8K gold records, CPU time of this process per record; ``python`` and
``native`` alternate for ``--rounds`` rounds in one process and the best round of each is reported (a
loaded machine only ever adds time), with native / python.  The results of both paths are compared
record by record (score, components, verdict) before anything is timed.

Latency is per evaluation: one record scored alone through the Scorer (``scorer.score([record])``),
p50 / p99 over a sample, cold (new records) then warm (the same records again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "validity"))
from _common import DATA, percentile, table  # noqa: E402
from chil_plugin_empirical.framework import EmpiricalFramework  # noqa: E402

from chil_core.config import load_settings  # noqa: E402
from chil_core.rewards import aggregate  # noqa: E402
from chil_core.scoring import Scorer, to_record  # noqa: E402
from chil_core.testing import DirectContext  # noqa: E402

BATCH = 256
#: GSM8K workloads: arithmetic and the final answer; no fact lookups, no proofs (neither path has those tools)
GSM8K_OPTIONS = {"facts": False, "proofs": False}
#: a record whose statement the framework cannot decide itself (a product of unknowns): it goes to the smt
#: backend, so scoring it starts Z3's worker process before the timing (the first GSM8K record may not)
WARM = [{"id": "warm-up", "prompt": "Find the side.", "completion": "Let x be the side. x * x = 16, so x = 4. The answer is 4.",
         "reference": {"answer": "4"}}]
COUNTRIES = DATA / "countries_kg" / "countries_S1" / "train.txt"
STORE = {"path": [str(COUNTRIES)], "symmetric": ["neighbor"], "transitive": ["locatedin"], "functional": ["locatedin"]}


def gsm8k_records(n: int, model_style: bool) -> list[dict[str, Any]]:
    from gsm8k import gold_answer
    from gsm8k import model_style as restyle

    rows = [json.loads(line) for line in open(DATA / "gsm8k" / "train.jsonl", encoding="utf-8")][:n]
    return [{"id": f"g{i}", "prompt": r["question"], "completion": restyle(r["answer"]) if model_style else r["answer"],
             "reference": {"answer": gold_answer(r["answer"])}} for i, r in enumerate(rows)]


def group_records(n: int, group: int = 8) -> list[dict[str, Any]]:
    """``gsm8k-group``: n // group prompts, ``group`` completions each, drawn from three per prompt."""
    gold, model = gsm8k_records(n // group, False), gsm8k_records(n // group, True)
    rng = random.Random(11)
    out = []
    for g, m in zip(gold, model, strict=True):
        answer = g["reference"]["answer"]
        wrong = m["completion"].replace(f"The answer is {answer}.", f"The answer is {answer}1.")
        for k in range(group):
            out.append({**g, "id": f"{g['id']}-{k}", "group": g["id"],
                        "completion": rng.choice((g["completion"], m["completion"], wrong))})
    return out


def fact_records(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    triples = [line.split("\t") for line in COUNTRIES.read_text().split("\n") if line]
    entities = sorted({t[0] for t in triples})
    phrase = {"locatedin": "is located in", "neighbor": "borders"}
    out = []
    for i in range(n):
        sentences = []
        for _ in range(3):
            s, r, o = rng.choice(triples)
            if rng.random() < 0.5:
                o = rng.choice(entities)
            sentences.append(f"{s.replace('_', ' ').title()} {phrase[r]} {o.replace('_', ' ').title()}.")
        out.append({"id": f"f{i}", "prompt": "Tell me about a country.", "completion": " ".join(sentences)})
    return out


def claims(result: Any) -> int:
    c = result.components
    return int(c.get("arithmetic_steps", 0) + c.get("answer_found", 0) + c.get("facts_supported", 0)
               + c.get("facts_refuted", 0) + c.get("facts_unknown", 0) + c.get("proofs_checked", 0))


def tools_for(workload: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(direct tool instances, scorer config) for a workload."""
    from chil_plugin_z3.smt import Z3Smt

    if not workload.startswith("facts-"):
        # the same work on both paths: the Scorer would also give the framework its default fact store
        # (DuckDB) and look up GSM8K prose sentences the naive loop (no fact store) never looks up
        return {"smt": Z3Smt()}, {"frameworks": {"empirical": {"tools": {"smt": "z3"}, "options": GSM8K_OPTIONS}}}
    backend = workload.split("-", 1)[1]
    if backend == "duckdb":
        from chil_plugin_duckdb.store import DuckDBFactStore as cls
    elif backend == "sqlite":
        from chil_plugin_sqlite.facts import SqliteFactStore as cls
    else:
        from chil_plugin_oxigraph.store import OxigraphFactStore as cls
    return {"fact_store": cls(cls.Options(**STORE))}, {
        "frameworks": {"empirical": {"tools": {"fact_store": backend}}}, "tools": {backend: STORE}}


def naive(records: list[dict[str, Any]], tools: dict[str, Any], cfg: dict[str, Any] | None = None) -> tuple[float, int, float]:
    """(seconds, claims, CPU seconds): one record at a time, tools called directly, from the same input to
    the same output as the Scorer: the record read (``to_record``), ``framework.score``, its reward
    (``aggregate``, as the Scorer weighs it); the framework's options are the Scorer's (``cfg``)."""
    options = ((cfg or {}).get("frameworks", {}).get("empirical", {})).get("options")
    fw = EmpiricalFramework(EmpiricalFramework.Options(**options) if options else None)
    ctx = DirectContext(tools)
    policy = load_settings(cfg or {}, frameworks=["empirical"]).rewards
    weights = {"empirical": EmpiricalFramework.default_weight}

    async def each() -> int:
        n = 0
        for i, data in enumerate(records):
            rec = to_record(data, i)
            result = await fw.score(rec, ctx)
            aggregate(rec.id, {"empirical": result}, weights, policy)
            n += claims(result)
        return n

    loop = asyncio.new_event_loop()
    t0, c0 = time.perf_counter(), time.process_time()
    n_claims = loop.run_until_complete(each())  # one record at a time, in one coroutine
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    loop.close()
    ctx.close()
    return dt, n_claims, cpu


def scorer_run(scorer: Scorer, records: list[dict[str, Any]], ahead: int = 0) -> tuple[float, int, int, float]:
    """(seconds, claims, results that are errors or timeouts, CPU seconds of this process); ``ahead``
    batches submitted before the oldest one's rewards are read (0: one batch at a time)."""
    n_claims = failed = 0
    t0, c0 = time.perf_counter(), time.process_time()
    pending = []

    def read(future: Any) -> None:
        nonlocal n_claims, failed
        for reward in future.result():
            result = reward.frameworks["empirical"]
            n_claims += claims(result)
            failed += result.status in ("error", "timeout")

    for i in range(0, len(records), BATCH):
        pending.append(scorer.submit(records[i : i + BATCH]))
        if len(pending) > ahead:
            read(pending.pop(0))
    for future in pending:
        read(future)
    return time.perf_counter() - t0, n_claims, failed, time.process_time() - c0


def uses_workers(workload: str, scorer: Scorer) -> bool:
    """Whether the Scorer starts its framework workers on this workload in a long run: GSM8K (no tool
    call), or a fact store its workers copy (``Tool.replicable``: SQLite); not DuckDB or Oxigraph, whose
    records would all come back to the main process for their lookups."""
    return workload.startswith("gsm8k") or any(pool.local for pool in scorer.pools.values())


def latencies(scorer: Scorer, records: list[dict[str, Any]]) -> list[float]:
    out = []
    for rec in records:
        t0 = time.perf_counter()
        scorer.score([rec])
        out.append((time.perf_counter() - t0) * 1000)
    return out


def framework_only(n: int, rounds: int, workload: str = "gsm8k") -> None:
    """The framework alone, Python vs native in one process (see the module docstring)."""
    records = [to_record(r) for r in gsm8k_records(n, workload == "gsm8k-model")]
    fw = EmpiricalFramework(EmpiricalFramework.Options(**GSM8K_OPTIONS))
    ctx = DirectContext({})

    async def each() -> list[Any]:
        return [await fw.score(rec, ctx) for rec in records]

    def timed() -> tuple[float, list[Any]]:
        loop = asyncio.new_event_loop()
        c0 = time.process_time()
        out = loop.run_until_complete(each())
        cpu = time.process_time() - c0
        loop.close()
        return cpu, out

    seen: dict[str, list[Any]] = {}
    for impl in ("python", "native"):
        set_arith(impl)
        seen[impl] = timed()[1]  # also the warm-up: caches (literals, limits) filled on both paths alike
    diff = sum(1 for a, b in zip(seen["python"], seen["native"], strict=True)
               if (a.score, a.components, a.verdict) != (b.score, b.components, b.verdict))
    best: dict[str, float] = {}
    for _ in range(rounds):
        for impl in ("python", "native"):
            label = set_arith(impl)
            best[impl] = min(best.get(impl, float("inf")), timed()[0])
    rows = [{"workload": workload, "arith": impl, "records": len(records), "µs/record (CPU)": best[impl] / len(records) * 1e6,
             "records/cpu-s": len(records) / best[impl]} for impl in ("python", "native")]
    print(table(rows, ["workload", "arith", "records", "µs/record (CPU)", "records/cpu-s"]))
    print(f"\nframework alone, native / python: {best['python'] / best['native']:.2f}x (best of {rounds} rounds each, CPU time; "
          f"{label}); records whose results differ: {diff}; load average {os.getloadavg()[0]:.2f}")


def set_arith(impl: str) -> str:
    """Use the ``native`` or ``python`` arithmetic in this process (and in any worker it starts)."""
    from chil_plugin_empirical import native

    os.environ["CHIL_NATIVE"] = "1" if impl == "native" else "0"
    return native.activate(impl == "native").split(" ")[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=4000)
    ap.add_argument("--arith", choices=["both", "native", "python"], default="both")
    ap.add_argument("--latency-sample", type=int, default=300)
    ap.add_argument("--workloads", default="gsm8k,gsm8k-model,gsm8k-group,facts-duckdb,facts-sqlite,facts-oxigraph")
    ap.add_argument("--smt-process", action="store_true", help="also run with Z3 in a worker process")
    ap.add_argument("--framework-only", action="store_true", help="the framework alone: score() in one coroutine, no tools, "
                    "python vs native (the issue-15 >= 5x figure)")
    ap.add_argument("--rounds", type=int, default=3, help="--framework-only: alternating rounds per implementation")
    ap.add_argument("--repeat", type=int, default=1, help="naive loop and cold Scorer run this many times, alternately, "
                    "each Scorer fresh; the median of each is shown (steadier on a shared machine)")
    args = ap.parse_args()
    if args.framework_only:
        for workload in args.workloads.split(","):
            if workload.startswith("gsm8k"):
                framework_only(args.records, args.rounds, workload)
        return
    rows = []
    impls = ["python", "native"] if args.arith == "both" else [args.arith]
    runs_to_do = [(w, impl) for w in args.workloads.split(",") for impl in (impls if w.startswith("gsm8k") else [impls[-1]])]
    for workload, impl in runs_to_do:
        arith = set_arith(impl)
        if workload.startswith("gsm8k"):
            records = group_records(args.records) if workload == "gsm8k-group" else gsm8k_records(args.records, workload == "gsm8k-model")
        else:
            records = fact_records(args.records)
        tools, cfg = tools_for(workload)
        scorer_cfg = {**cfg, "cache": {"enabled": True, "path": None}, "scheduler": {"max_batch": 256, "max_wait_ms": 1}}
        variants = [("", scorer_cfg)]
        if "smt" in tools and args.smt_process:  # Z3 in a worker process: no GIL shared with the parser
            variants.append((", z3 in a process", {**scorer_cfg, "scheduler": {**scorer_cfg["scheduler"], "backends": {"z3": {"isolation": "process"}}}}))
        naive_runs, colds, streamed = [], {suffix: [] for suffix, _ in variants}, []
        repeat = max(1, args.repeat)
        for k in range(repeat):  # naive and cold Scorer alternately: the same load on both
            naive_runs.append(naive(records, tools, cfg))
            for suffix, conf in variants:
                with Scorer.from_config(conf, frameworks=["empirical"]) as scorer:
                    scorer.score(records[:1] + WARM)  # start the backends (Z3's worker process too) outside the timing
                    if uses_workers(workload, scorer):  # and the framework workers (chil_core.offload), where the
                        scorer.start_workers()  # Scorer starts them itself, as the naive loop's framework is built before
                    colds[suffix].append(scorer_run(scorer, records))
                    if not suffix:
                        with Scorer.from_config(conf, frameworks=["empirical"]) as fresh:
                            fresh.score(records[:1] + WARM)
                            if uses_workers(workload, fresh):
                                fresh.start_workers()
                            streamed.append(scorer_run(fresh, records, ahead=1))
                    if k == repeat - 1:
                        colds[suffix].append(scorer_run(scorer, records))  # warm: the last Scorer again
        dt, n, cpu = sorted(naive_runs)[len(naive_runs) // 2]  # the median run (by seconds)
        rows.append({"workload": workload, "arith": arith, "mode": "naive per-record loop", "records": len(records), "claims": n,
                     "claims/s": n / dt, "records/s": len(records) / dt, "claims/cpu-s": n / cpu})
        for suffix, conf in variants:
            cold_runs, warm_run = colds[suffix][:-1], colds[suffix][-1]
            runs = [sorted(cold_runs)[len(cold_runs) // 2], warm_run]  # the median cold run (by seconds)
            with Scorer.from_config(conf, frameworks=["empirical"]) as scorer:
                sample = records[: args.latency_sample]
                lats = [latencies(scorer, sample), latencies(scorer, sample)]
            if not suffix:  # (no latency of its own: the same Scorer)
                runs.insert(1, sorted(streamed)[len(streamed) // 2])
                lats.insert(1, [])
            labels = ("Scorer, cold cache", "Scorer, cold, streamed", "Scorer, warm cache") if not suffix else ("Scorer, cold cache", "Scorer, warm cache")
            for label, (dt, n, failed, cpu), lat in zip(labels, runs, lats, strict=True):
                rows.append({"workload": workload, "arith": arith, "mode": label + suffix, "records": len(records), "claims": n,
                             "claims/s": n / dt, "records/s": len(records) / dt, "claims/cpu-s": n / cpu,
                             **({"p50 ms": percentile(lat, 50), "p99 ms": percentile(lat, 99)} if lat else {}), "failed": failed})
    print(table(rows, ["workload", "arith", "mode", "records", "claims", "claims/s", "claims/cpu-s", "records/s", "p50 ms", "p99 ms", "failed"]))
    ratios = []
    for r in rows:
        if r["arith"] != "native":
            continue
        base = next((b for b in rows if b["arith"] == "python" and b["workload"] == r["workload"] and b["mode"] == r["mode"]), None)
        if base:
            ratios.append({"workload": r["workload"], "mode": r["mode"], "native / python": r["claims/s"] / base["claims/s"],
                           "same, CPU time": r["claims/cpu-s"] / base["claims/cpu-s"]})
    for r in rows:
        naive_row = next(b for b in rows if b["workload"] == r["workload"] and b["arith"] == r["arith"] and b["mode"].startswith("naive"))
        r["vs naive"] = r["claims/s"] / naive_row["claims/s"]
    if ratios:
        print("\nspeed-up of the C++ arithmetic, same run:")
        print(table(ratios, ["workload", "mode", "native / python", "same, CPU time"]))
    print("\nScorer against the naive loop, same run:")
    print(table([r for r in rows if not r["mode"].startswith("naive")], ["workload", "arith", "mode", "vs naive"]))


if __name__ == "__main__":
    main()
