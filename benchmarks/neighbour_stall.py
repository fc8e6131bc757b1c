"""One hostile call must not stall its neighbours: a grounding bomb among ordinary records, clingo.

    python benchmarks/neighbour_stall.py [--ordinary 63] [--timeout 10] [--constants 31] [--rules 8] [--backend clingo]

The bomb is a ProofWriter-style record whose ``metadata.theory`` has ``--constants`` facts and
``--rules`` 4-variable rules over them (``thing(A), thing(B), thing(C), thing(D) -> relK(A, B, C, D)``:
31⁴ = 923,521 ground instances each, within the contract's bound of 10⁶ per rule, so it is not refused
up front: it reaches the solver, in the same batch as its neighbours, and grounds for longer than the
timeout); the ordinary records are ProofWriter dev records (one claim each).  All of them are
submitted at once, each record as its own ``submit`` (the shape of a trainer's stream), with
``timeout_s = --timeout``.  Printed: the slowest ordinary record's latency (submit to result), the
bomb's latency and status, the wall time, and whether the interpreter printed any of the asyncio
exit warnings ("Task was destroyed but it is pending", "Event loop is closed", "Future exception was
never retrieved") when it exited (the script re-runs itself in a subprocess to see its own exit).
Exit status 1 when an ordinary record took 2 s or more or was not scored, or the bomb was not bounded
(``timeout + 5 s``), or a warning was printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA  # noqa: E402

WARNINGS = ("Task was destroyed but it is pending", "Event loop is closed", "Future exception was never retrieved")


def ordinary_records(n: int, data: Path = DATA) -> list[dict[str, Any]]:
    pw = json.loads((data / "proofwriter" / "dev.json").read_text(encoding="utf-8"))
    return [{"id": r["id"], "prompt": r["context"], "completion": r["question"].split("? ")[-1]} for r in pw[:n]]


def bomb_record(constants: int, rules: int = 1) -> dict[str, Any]:
    facts = [{"pred": "thing", "args": [f"c{i}"], "neg": False} for i in range(constants)]
    body = [{"pred": "thing", "args": [v], "neg": False} for v in ("?a", "?b", "?c", "?d")]
    heads = [{"pred": f"rel{k}", "args": ["?a", "?b", "?c", "?d"], "neg": False} for k in range(rules)]
    return {"id": "bomb", "prompt": "Is c1 big?", "completion": "C1 is big. C2 is big.",
            "metadata": {"theory": {"facts": facts, "rules": [{"if": body, "then": h} for h in heads]}}}


def config(timeout_s: float, backend: str = "clingo", batch: int = 0) -> dict[str, Any]:
    if batch:  # framework workers, with their own copies of the backend (no memory bound: see Tool.replicable)
        return {"frameworks": {"consistency": {"tools": {"logic_program": backend}}},
                "scheduler": {"timeout_s": timeout_s, "framework_workers": 2, "framework_workers_min_records": batch},
                "cache": {"enabled": False}}
    return {"frameworks": {"consistency": {"tools": {"logic_program": backend}}},
            "scheduler": {"timeout_s": timeout_s, "backends": {backend: {"memory_mb": 2048}}},
            "cache": {"enabled": False}}


def run(ordinary: int, timeout_s: float, constants: int, bomb_at: int = 0, rules: int = 8,
        backend: str = "clingo", batch: int = 0) -> dict[str, Any]:
    from chil_core.scoring import Scorer

    records = ordinary_records(ordinary)
    records.insert(bomb_at, bomb_record(constants, rules))
    # one submit a record, or (batch) a submit of `batch` records at a time, all at once
    batches = [records[k : k + batch] for k in range(0, len(records), batch)] if batch else [[r] for r in records]
    t0 = time.perf_counter()
    with Scorer.from_config(config(timeout_s, backend, batch)) as scorer:
        scorer.score(ordinary_records(2))  # start the worker: its start-up is not what is measured
        if batch:
            scorer.start_workers()
        t0 = time.perf_counter()
        futures = [([r["id"] for r in part], scorer.submit(part)) for part in batches]
        latency: dict[str, float] = {}
        results: dict[str, Any] = {}
        pending = dict(enumerate(futures))
        while pending:
            for k, (ids, fut) in list(pending.items()):
                if fut.done():
                    for rid, result in zip(ids, fut.result(), strict=True):
                        latency[rid] = time.perf_counter() - t0
                        results[rid] = result
                    del pending[k]
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        stats = scorer.stats().get(f"logic_program:{backend}", {})
        pool = {k: p.stats() for k, p in scorer.pools.items()}
    # a batch is answered whole: the bomb's batch-mates wait for it by design; the other batches must not
    mates = {rid for ids, _ in futures if "bomb" in ids for rid in ids} - {"bomb"} if batch else set()
    others = {k: v for k, v in latency.items() if k != "bomb" and k not in mates}
    statuses: dict[str, int] = {}
    for rid, r in results.items():
        if rid != "bomb":
            st = r.frameworks["consistency"].status
            statuses[st] = statuses.get(st, 0) + 1
    return {"ordinary": len(latency) - 1, "ordinary_max_s": max(others.values()), "ordinary_statuses": statuses,
            "bomb_s": latency["bomb"], "bomb_status": results["bomb"].frameworks["consistency"].status,
            "bomb_explanation": results["bomb"].frameworks["consistency"].explanation, "wall_s": wall,
            "bomb_batch_mates": len(mates), "framework_workers": pool,
            backend: {k: stats.get(k) for k in ("calls", "batches", "retried_batches", "timeouts", "errors", "worker_restarts",
                                                "worker_surges")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ordinary", type=int, default=63)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--constants", type=int, default=31)
    ap.add_argument("--rules", type=int, default=8)
    ap.add_argument("--backend", default="clingo")
    ap.add_argument("--batch", type=int, default=0, help="records per submit, scored by framework workers with their "
                    "own copies of the backend (0: one submit a record, the backend in its isolated workers)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.batch < 0 or (args.batch and args.batch > args.ordinary):
        # the bomb's own batch is answered whole, with it: at least one other batch must be left to time
        ap.error(f"--batch must be 0, or 1 to --ordinary ({args.ordinary}): a batch of the bomb and every "
                 "ordinary record leaves no neighbour to measure")
    if args.child:
        print(json.dumps(run(args.ordinary, args.timeout, args.constants, rules=args.rules, backend=args.backend,
                             batch=args.batch)), flush=True)
        return
    proc = subprocess.run([sys.executable, __file__, "--child", "--ordinary", str(args.ordinary), "--timeout",
                           str(args.timeout), "--constants", str(args.constants), "--rules", str(args.rules),
                           "--backend", args.backend, "--batch", str(args.batch)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "default"})
    lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout, proc.stderr, sep="\n")
        sys.exit(2)
    out = json.loads(lines[-1])
    out["exit_warnings"] = [w for w in WARNINGS if w in proc.stderr]
    print(json.dumps(out, indent=2))
    ok = (out["ordinary_max_s"] < 2.0 and out["ordinary_statuses"] == {"scored": out["ordinary"]}
          and out["bomb_s"] < args.timeout + 5 and out["bomb_status"] in ("timeout", "error") and not out["exit_warnings"])
    print(f"{'PASS' if ok else 'FAIL'}: slowest ordinary record {out['ordinary_max_s']:.2f} s (bound 2 s"
          f"{'; not counting the bomb batch-mates, answered with it' if args.batch else ''}); "
          f"bomb {out['bomb_s']:.1f} s, {out['bomb_status']} (bound {args.timeout + 5:g} s); wall {out['wall_s']:.1f} s")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
