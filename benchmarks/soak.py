"""Memory over a long run: the same workload scored pass after pass with the cache off; RSS per pass.

    python benchmarks/soak.py [--passes 10] [--records 20000] [--batch 512]

Workload (real data, read in place): FOLIO validation-dev with gold FOL (the consistency framework's
FOL path: Z3 ``fol``; the record ids and the claim differ per pass position so nothing is deduplicated
across records) and GSM8K train gold solutions (the empirical framework: exact arithmetic, Z3 ``arith``
for symbolic steps), half and half, ``--records`` per pass, submitted in chunks of ``--batch`` as
``chil score`` does.  The cache is off, so every pass does all the work again.

After each pass (and, with ``--trim``, after ``malloc_trim(0)`` hands freed heap pages back to the
OS, so that RSS measures live memory rather than the high-water mark of the records in flight): the
RSS of this process and the total RSS of this process plus the backends' worker
processes (Z3, clingo... run in workers), from /proc.  Printed: one row per pass and the drift of each
after the first pass, ``(max - min) / min`` over passes 2..N.  Exit status 1 when a drift exceeds 2 %.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, table  # noqa: E402


def rss_kb(pid: int | str = "self") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def workload(n: int) -> list[dict[str, Any]]:
    folio = [json.loads(x) for x in (DATA / "folio" / "folio-validation-dev.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    gsm = [json.loads(x) for x in (DATA / "gsm8k" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:2000]]
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % 2:
            r = folio[(i // 2) % len(folio)]
            out.append({"id": f"f{i}", "prompt": " ".join(r["premises"]), "completion": "",
                        "metadata": {"premises_fol": r["premises-FOL"], "conclusion_fol": r["conclusion-FOL"]}})
        else:
            r = gsm[(i // 2) % len(gsm)]
            answer = r["answer"].split("####")[-1].strip().replace(",", "")
            out.append({"id": f"g{i}", "prompt": r["question"], "completion": r["answer"], "reference": {"answer": answer}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, default=10)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--bound", type=float, default=0.02, help="allowed drift after the first pass")
    ap.add_argument("--trim", action="store_true", help="malloc_trim(0) before each RSS reading (glibc)")
    args = ap.parse_args()

    from chil_core.scoring import Scorer

    records = workload(args.records)
    cfg = {"frameworks": {"empirical": {}, "consistency": {}}, "cache": {"enabled": False}}
    rows = []
    with Scorer.from_config(cfg) as scorer:
        for p in range(1, args.passes + 1):
            t0 = time.perf_counter()
            statuses: dict[str, int] = {}
            futures = [scorer.submit(records[i:i + args.batch]) for i in range(0, len(records), args.batch)]
            for fut in futures:
                for reward in fut.result():
                    for r in reward.frameworks.values():
                        statuses[r.status] = statuses.get(r.status, 0) + 1
            del futures
            gc.collect()
            if args.trim:
                import ctypes

                ctypes.CDLL("libc.so.6").malloc_trim(0)
            workers = [proc.proc.pid for b in scorer.scheduler.backends.values() if b._runner is not None
                       for proc in getattr(b._runner, "live", ())]
            main_kb = rss_kb()
            total_kb = main_kb + sum(rss_kb(pid) for pid in workers)
            rows.append({"pass": p, "seconds": time.perf_counter() - t0, "main RSS MB": main_kb / 1024,
                         "total RSS MB": total_kb / 1024, "workers": len(workers),
                         "scored": statuses.get("scored", 0), "not scored": sum(statuses.values()) - statuses.get("scored", 0)})
            print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    ok = True
    for col in ("main RSS MB", "total RSS MB"):
        tail = [r[col] for r in rows[1:]]
        if len(tail) >= 2:
            drift = (max(tail) - min(tail)) / min(tail)
            ok &= drift <= args.bound
            print(f"{col}: {min(tail):.1f}..{max(tail):.1f} MB over passes 2..{len(rows)}: drift {drift:.2%} "
                  f"(bound {args.bound:.0%})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
