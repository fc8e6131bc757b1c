"""Memory over a long run: the same workload scored pass after pass with the cache off; RSS per pass.

    python benchmarks/soak.py [--passes 10] [--records 20000] [--batch 512]
    python benchmarks/soak.py --minutes 10 [--target scorer|serve] [--sample-s 60]   # timed soak

Timed soak (``--minutes``): records are scored at full load (the next chunk is submitted while the
previous one is scored) for that many minutes, through the in-process Scorer (``--target scorer``) or
through ``chil serve`` (``--target serve``: a server subprocess on a loopback port, fed by 8 client
threads posting ``/score`` requests).  Every ``--sample-s`` seconds: RSS (of this process, or of the
server, plus their backend workers), open file descriptors, threads and child processes, from /proc.
Reported: one row per sample and the growth after warm-up (the first sample is taken after
``--sample-s``): RSS, the median of the last three samples over the median of the first three (bound
5 %); descriptors, threads and child processes, the fewest of the last three samples minus the most of
the first three (bound 0: pipes of calls in flight come and go, a leak raises even the fewest).  Exit
status 1 when a bound is exceeded.

Workload (real data, read in place): FOLIO validation-dev with gold FOL (the consistency framework's
FOL path: Z3 ``fol``; the record ids and the claim differ per pass position so nothing is deduplicated
across records) and GSM8K train gold solutions (the empirical framework: exact arithmetic, Z3 ``arith``
for symbolic steps), half and half, ``--records`` per pass, submitted in chunks of ``--batch`` as
``chil score`` does.  The cache is off, so every pass does all the work again.

After each pass (and, with ``--trim``, after ``malloc_trim(0)`` hands freed heap pages back to the
OS, so that RSS measures live memory rather than the high-water mark of the records in flight): the
RSS of this process and the total RSS of this process plus the backends' worker
processes (Z3, clingo... run in workers), from /proc.  Printed: one row per pass and the drift of each
after the warm-up (``--warmup`` passes, 1 by default), ``(max - min) / min`` over the passes after it.
Exit status 1 when a drift exceeds 2 %.  A short run needs a longer warm-up: at ``--records 2000`` the
main process still grows ~1 MB from pass 2 to pass 3 (bounded caches filling), then stays within 0.3 %
up to pass 8 (2026-12-03), so the test runs ``--passes 5 --warmup 2``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
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


def proc_tree(root: int) -> list[int]:
    """``root`` and every descendant process (from /proc/*/stat parent ids)."""
    parents: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def sample(root: int) -> dict[str, float]:
    """RSS (MB, the whole tree), open descriptors, threads (the root process) and child processes."""
    tree = proc_tree(root)
    fds = 0
    for pid in tree:
        try:
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    threads = 0
    try:
        for line in Path(f"/proc/{root}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    except OSError:
        pass
    return {"rss_mb": sum(rss_kb(p) for p in tree) / 1024, "root_rss_mb": rss_kb(root) / 1024, "fds": fds,
            "threads": threads, "children": len(tree) - 1}


def judge(rows: list[dict[str, Any]]) -> tuple[float, dict[str, int], bool]:
    """Growth after warm-up, robust to what is in flight at one sample: RSS, the median of the last three
    samples over the median of the first three; descriptors, threads and processes, the fewest of the
    last three minus the most of the first three (a leak raises even the fewest)."""
    k = min(3, max(1, len(rows) // 2))
    head, tail = rows[:k], rows[-k:]
    med = lambda rs, key: sorted(r[key] for r in rs)[len(rs) // 2]  # noqa: E731
    growth = (med(tail, "rss_mb") - med(head, "rss_mb")) / med(head, "rss_mb")
    deltas = {key: int(min(r[key] for r in tail) - max(r[key] for r in head)) for key in ("fds", "threads", "children")}
    return growth, deltas, growth < 0.05 and all(v <= 0 for v in deltas.values())


def timed_soak(args: argparse.Namespace) -> int:
    import threading

    records = workload(args.records)
    chunks = [records[i:i + args.batch] for i in range(0, len(records), args.batch)]
    cfg = {"frameworks": {"empirical": {}, "consistency": {}}, "cache": {"enabled": False}}
    stop = time.monotonic() + args.minutes * 60
    scored = [0]
    rows: list[dict[str, Any]] = []
    server = None
    if args.target == "serve":
        import socket
        import subprocess
        import tempfile
        import urllib.request

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cfg_path = Path(tempfile.mkdtemp(prefix="chil-soak-")) / "chil.toml"
        cfg_path.write_text('[frameworks.empirical]\n[frameworks.consistency]\n[cache]\nenabled = false\n')
        chil = Path(sys.executable).with_name("chil")
        server = subprocess.Popen([str(chil), "serve", "--port", str(port), "--config", str(cfg_path), "--log-level", "warning",
                                   "--max-records", str(args.batch)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        root = server.pid

        def client(k: int) -> None:
            i = k
            while time.monotonic() < stop:
                body = json.dumps({"records": chunks[i % len(chunks)]}).encode()
                req = urllib.request.Request(f"{url}/score", data=body, headers={"content-type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=300) as resp:
                        resp.read()
                        scored[0] += len(chunks[i % len(chunks)])
                except OSError as exc:
                    print(f"request failed: {exc}", file=sys.stderr)
                    time.sleep(1)
                i += 8
        workers = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(8)]
    else:
        from chil_core.scoring import Scorer

        scorer = Scorer.from_config(cfg)
        root = os.getpid()

        def feeder() -> None:
            i = 0
            pending = None
            while time.monotonic() < stop:
                fut = scorer.submit(chunks[i % len(chunks)])
                if pending is not None:
                    scored[0] += len(pending.result())
                pending = fut
                i += 1
            if pending is not None:
                scored[0] += len(pending.result())
        workers = [threading.Thread(target=feeder, daemon=True)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    next_sample = t0 + args.sample_s
    while any(w.is_alive() for w in workers):
        time.sleep(min(1.0, max(0.0, next_sample - time.monotonic())))
        if time.monotonic() >= next_sample and time.monotonic() < stop + 1:
            gc.collect()
            row = {"minute": round((time.monotonic() - t0) / 60, 2), "records": scored[0], **sample(root)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            next_sample += args.sample_s
    for w in workers:
        w.join()
    if server is not None:
        server.terminate()
        server.wait(30)
    else:
        scorer.close()
    print(table(rows))
    if len(rows) < 2:
        print("too short: fewer than two samples")
        return 1
    growth, deltas, ok = judge(rows)
    first, last = rows[0], rows[-1]
    print(f"{args.target}: {scored[0]:,} records in {args.minutes:g} min; after warm-up (minute {first['minute']}): "
          f"RSS {first['rss_mb']:.1f} -> {last['rss_mb']:.1f} MB (growth {growth:+.2%}, bound 5%), "
          + ", ".join(f"{k} {first[k]} -> {last[k]} (growth {v:+d})" for k, v in deltas.items()) + f": {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=None, help="timed soak of this many minutes (10; 30 when asked)")
    ap.add_argument("--target", choices=("scorer", "serve"), default="scorer")
    ap.add_argument("--sample-s", type=float, default=60.0)
    ap.add_argument("--passes", type=int, default=10)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--bound", type=float, default=0.02, help="allowed drift after the warm-up")
    ap.add_argument("--warmup", type=int, default=1, help="passes before the drift is measured")
    ap.add_argument("--trim", action="store_true", help="malloc_trim(0) before each RSS reading (glibc)")
    args = ap.parse_args()
    if args.minutes is not None:
        sys.exit(timed_soak(args))

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
    warm = max(1, args.warmup)
    for col in ("main RSS MB", "total RSS MB"):
        tail = [r[col] for r in rows[warm:]]
        if len(tail) < 2:
            print(f"{col}: fewer than 2 passes after a warm-up of {warm}: no drift measured", file=sys.stderr)
            ok = False
        else:
            drift = (max(tail) - min(tail)) / min(tail)
            ok &= drift <= args.bound
            print(f"{col}: {min(tail):.1f}..{max(tail):.1f} MB over passes {warm + 1}..{len(rows)}: drift {drift:.2%} "
                  f"(bound {args.bound:.0%})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
