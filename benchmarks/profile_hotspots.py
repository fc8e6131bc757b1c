"""Where the time goes after the C++ arithmetic (issue 15, item 4): a profile of two paths, by part.

    python benchmarks/profile_hotspots.py [--records 1000]

* ``empirical via Scorer``: GSM8K gold solutions through a cold Scorer (the scheduler's per-call path,
  the cache, the framework, the C++ arithmetic kernel);
* ``consistency naive loop``: the consistency framework on ProntoQA chains of thought (clingo), one record
  at a time: its controlled-English parser against the solver and the rest.

Each row is one part's share of the profiled time (``tottime`` summed over the functions of the files
of that part; the C++ kernel is counted inside the Python function that calls it).  cProfile slows
Python code more than native code, so shares are indicative; the README quotes them with that caveat.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "validity"))
from _common import DATA, table  # noqa: E402

PARTS = [  # (part, substring of the file path); the first match wins
    ("empirical: steps/expr (arith kernel calls)", "chil_plugin_empirical/steps.py"),
    ("empirical: steps/expr (arith kernel calls)", "chil_plugin_empirical/expr.py"),
    ("empirical: answer", "chil_plugin_empirical/answer.py"),
    ("empirical: framework (grounding, combine)", "chil_plugin_empirical/"),
    ("consistency: controlled English (english.py)", "chil_plugin_consistency/english.py"),
    ("consistency: claims", "chil_plugin_consistency/claims.py"),
    ("consistency: framework", "chil_plugin_consistency/"),
    ("logic program tool (clingo plugin + clingo)", "chil_plugin_clingo"),
    ("logic program tool (clingo plugin + clingo)", "clingo"),
    ("scheduler", "chil_core/scheduler.py"),
    ("scorer", "chil_core/scoring.py"),
    ("cache", "chil_core/cache.py"),
    ("core: results, records, config (pydantic)", "pydantic"),
    ("core: results, records, config (pydantic)", "chil_core/"),
    ("asyncio / threads", "asyncio"),
    ("asyncio / threads", "threading.py"),
    ("asyncio / threads", "concurrent/futures"),
    ("fractions", "fractions.py"),
    ("regular expressions", "re/"),
]


IDLE = ("acquire", "poll", "select", "wait", "sleep", "'get' of '_queue", "epoll", "posix.read")  # blocked, not working


def shares(profs: list[cProfile.Profile]) -> list[tuple[str, float]]:
    """Share of the busy time per part, over every thread's profile (time blocked waiting is left out)."""
    st = pstats.Stats(*profs)
    by: dict[str, float] = defaultdict(float)
    total = 0.0
    for (path, _, func), (_, _, tottime, _, _) in st.stats.items():  # type: ignore[attr-defined]
        if path == "~" and any(w in func for w in IDLE):
            continue
        total += tottime
        key = path if path != "~" else func
        part = next((p for p, frag in PARTS if frag in key), None)
        if part is None and path == "~":
            part = "builtins (incl. regex and C calls)" if "method" in func or "built-in" in func else "other C calls"
        by[part or "other Python"] += tottime
    return sorted(((k, v / total) for k, v in by.items()), key=lambda kv: -kv[1])


def empirical_scorer(n: int) -> list[cProfile.Profile]:
    """Every thread the Scorer starts runs under its own profiler (the scheduler works off the caller's thread)."""
    import threading

    from bench_empirical import gsm8k_records

    from chil_core.scoring import Scorer

    records = gsm8k_records(n, model_style=False)
    cfg: dict[str, Any] = {"frameworks": {"empirical": {"tools": {"smt": "z3"}}}, "cache": {"enabled": True, "path": None},
                           "scheduler": {"max_batch": 256, "max_wait_ms": 1}}
    profs: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile()
        profs.append(prof)
        prof.enable()
        try:
            original(self)
        finally:
            prof.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    try:
        with Scorer.from_config(cfg, frameworks=["empirical"]) as scorer:
            main = cProfile.Profile()  # start-up (one record) is in the threads' profiles: negligible
            main.enable()
            for i in range(0, len(records), 256):
                scorer.score(records[i : i + 256])
            main.disable()
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
    return [main, *profs]


def consistency_naive(n: int) -> list[cProfile.Profile]:
    from chil_plugin_consistency.framework import ConsistencyFramework

    from chil_core import Record
    from chil_core.plugins import get_registry
    from chil_core.testing import DirectContext

    pronto = json.loads((DATA / "prontoqa" / "dev-half.json").read_text(encoding="utf-8"))[:n]
    recs = [Record.model_validate({"id": r["id"], "prompt": r["context"], "completion": " ".join(r["explanation"])}) for r in pronto]
    fw = ConsistencyFramework()
    ctx = DirectContext({"logic_program": get_registry().tool("logic_program", "clingo")()})
    loop = asyncio.new_event_loop()
    prof = cProfile.Profile()
    try:
        prof.enable()
        for r in recs:
            loop.run_until_complete(fw.score(r, ctx))
        prof.disable()
    finally:
        loop.close()
        ctx.close()
    return [prof]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1000)
    args = ap.parse_args()
    from chil_plugin_empirical.native import implementation

    print(f"empirical arithmetic: {implementation()}")
    for label, fn in (("empirical via Scorer (GSM8K gold, cold)", empirical_scorer), ("consistency naive loop (ProntoQA, clingo)", consistency_naive)):
        rows = [{"part": part, "share %": 100 * share} for part, share in shares(fn(args.records)) if share >= 0.01]
        print(f"\n{label}, {args.records} records:")
        print(table(rows, ["part", "share %"]))


if __name__ == "__main__":
    main()
