"""Loopback load test of ``chil serve`` (an asyncio httpx client; the server is the real CLI process).

Workload: GSM8K train gold solutions from ``../shared/data`` scored by the ``empirical`` framework, 8
records per request (one GRPO group), cache off so that every request does its full work.

Phases, all in one run (ratios are taken within it; the machine is shared, so absolute figures are noisy):

1. baseline: the same requests scored in-process by a ``Scorer``, one request's records at a time
   (a naive loop: what a trainer calling chil directly, batch by batch, gets);
2. ``chil serve`` at 1, 8, 64 concurrent clients: requests/s, records/s, p50/p99 latency, errors;
3. overload: a server with ``--max-concurrency 4`` under 64 clients: the excess is answered 503, the
   server keeps serving (every request is 200 or 503, /health answers afterwards);
4. fault: a server with ``--workers 2``; one worker process is SIGKILLed mid-load; a client retries a
   request once when its connection fails; every request is accounted for (200, or a typed failure),
   none hangs, and uvicorn starts a replacement worker.

``python benchmarks/bench_serve.py [--requests 300] [--json out.json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx  # noqa: E402
from _common import DATA, cpu_tree, percentile, table  # noqa: E402

PER_REQUEST = 8


def gsm8k_requests(n_requests: int, offset: int = 0) -> list[list[dict[str, Any]]]:
    rows = []
    with open(DATA / "gsm8k" / "train.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < offset:
                continue
            if len(rows) >= n_requests * PER_REQUEST:
                break
            r = json.loads(line)
            rows.append({"id": f"g{i}", "prompt": r["question"], "completion": r["answer"],
                         "reference": {"answer": r["answer"].rsplit("####", 1)[-1].strip()}})
    return [rows[i:i + PER_REQUEST] for i in range(0, len(rows), PER_REQUEST)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")}
    env["CHIL__CACHE__ENABLED"] = "false"
    proc = subprocess.Popen([sys.executable, "-m", "chil_core.cli", "serve", "--port", str(port), "--frameworks", "empirical",
                             "--log-level", "warning", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return -9


async def load(url: str, requests: list[list[dict[str, Any]]], clients: int, *, retry: bool = False,
               on_progress: Any = None) -> dict[str, Any]:
    """``clients`` concurrent clients share the requests; every request's outcome is recorded."""
    queue = list(enumerate(requests))
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    retried = 0
    rewards_ok = 0
    done = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal retried, rewards_ok, done
        while queue:
            _, records = queue.pop()
            for attempt in (0, 1):
                t0 = time.perf_counter()
                try:
                    r = await http.post(f"{url}/score", json={"records": records})
                    outcome = str(r.status_code)
                    if r.status_code == 200:
                        rewards_ok += sum(1 for row in r.json()["rewards"] if row["reward"] is not None)
                except httpx.TimeoutException:
                    outcome = "client_timeout"
                except httpx.TransportError as exc:
                    outcome = f"connection:{type(exc).__name__}"
                latency = time.perf_counter() - t0
                if retry and attempt == 0 and outcome.startswith("connection"):
                    retried += 1
                    continue
                break
            latencies.append(latency)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            done += 1
            if on_progress is not None:
                on_progress(done)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    t0 = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    wall = time.perf_counter() - t0
    ok = outcomes.get("200", 0)
    ok_lat = sorted(latencies)
    return {"clients": clients, "requests": len(requests), "ok": ok, "outcomes": outcomes, "retried": retried,
            "wall_s": wall, "req_per_s": ok / wall, "records_per_s": ok * PER_REQUEST / wall,
            "p50_ms": percentile(ok_lat, 50) * 1000, "p99_ms": percentile(ok_lat, 99) * 1000, "rewards": rewards_ok}


def baseline(requests: list[list[dict[str, Any]]]) -> dict[str, Any]:
    from chil_core.scoring import Scorer

    with Scorer.from_config({"cache": {"enabled": False}}, frameworks=["empirical"]) as scorer:
        scorer.score(requests[0])  # warm-up
        lat = []
        c0 = cpu_tree(os.getpid())
        t0 = time.perf_counter()
        for records in requests:
            t1 = time.perf_counter()
            scorer.score(records)
            lat.append(time.perf_counter() - t1)
        wall = time.perf_counter() - t0
        cpu = cpu_tree(os.getpid()) - c0
    return {"clients": "in-process loop", "requests": len(requests), "ok": len(requests), "wall_s": wall,
            "req_per_s": len(requests) / wall, "records_per_s": len(requests) * PER_REQUEST / wall,
            "p50_ms": percentile(sorted(lat), 50) * 1000, "p99_ms": percentile(sorted(lat), 99) * 1000,
            "server_cpu_ms_per_req": 1000 * cpu / len(requests)}


def worker_pids(url: str, tries: int = 40) -> set[int]:
    pids = set()
    for _ in range(tries):
        try:
            pids.add(httpx.get(f"{url}/health", timeout=2).json()["pid"])
        except httpx.HTTPError:
            pass
    return pids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=300, help="requests per concurrency level (8 records each)")
    ap.add_argument("--levels", default="1,8,64")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    out: dict[str, Any] = {"uptime_before": os.popen("uptime").read().strip()}
    rows = []

    reqs = gsm8k_requests(args.requests)
    rows.append(base := baseline(reqs))

    proc, url = start_server()
    try:
        asyncio.run(load(url, reqs[:8], 8))  # warm-up
        for i, c in enumerate(levels):
            batch = gsm8k_requests(args.requests, offset=(i + 1) * args.requests * PER_REQUEST % 7000)
            c0 = cpu_tree(proc.pid)
            res = asyncio.run(load(url, batch, c))
            res["server_cpu_ms_per_req"] = 1000 * (cpu_tree(proc.pid) - c0) / max(res["ok"], 1)
            res["ratio_vs_loop"] = res["records_per_s"] / base["records_per_s"]
            rows.append(res)
    finally:
        out["exit_code_serve"] = stop_server(proc)

    # overload: 64 clients against a bound of 4 requests in flight
    proc, url = start_server("--max-concurrency", "4")
    try:
        over = asyncio.run(load(url, reqs[: args.requests], 64))
        over["health_after"] = httpx.get(f"{url}/health", timeout=5).status_code
        out["overload"] = over
    finally:
        out["exit_code_overload"] = stop_server(proc)

    # fault: kill one of two workers mid-load
    proc, url = start_server("--workers", "2")
    try:
        before = worker_pids(url)
        victim = min(before)
        killed = {"pid": victim, "at": None}

        def progress(done: int) -> None:
            if killed["at"] is None and done >= args.requests // 4:
                os.kill(victim, signal.SIGKILL)
                killed["at"] = done

        fault = asyncio.run(load(url, reqs[: args.requests], 16, retry=True, on_progress=progress))
        # the replacement builds its scorer before it answers (seconds on a busy machine): wait for it
        deadline = time.monotonic() + 90
        after = worker_pids(url)
        while (victim in after or len(after) < 2) and time.monotonic() < deadline:
            time.sleep(1)
            after = worker_pids(url)
        fault["replacement_seen_after_s"] = round(90 - (deadline - time.monotonic()), 1)
        fault.update(workers_before=sorted(before), workers_after=sorted(after), killed=killed,
                     replaced=victim not in after and len(after) >= 2)
        out["fault"] = fault
    finally:
        out["exit_code_fault"] = stop_server(proc)

    out["uptime_after"] = os.popen("uptime").read().strip()
    out["levels"] = rows
    cols = ["clients", "requests", "ok", "req_per_s", "records_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_req",
            "ratio_vs_loop"]
    print(out["uptime_before"])
    print(table(rows, cols))
    for k in ("overload", "fault"):
        r = out[k]
        print(f"{k}: outcomes {r['outcomes']}, retried {r['retried']}, {r['req_per_s']:.1f} req/s"
              + (f", health after: {r['health_after']}" if k == "overload" else
                 f", killed worker {r['killed']}, workers {r['workers_before']} -> {r['workers_after']}, replaced: {r['replaced']}"))
    print(f"exit codes on SIGTERM: {out['exit_code_serve']}, {out['exit_code_overload']}, {out['exit_code_fault']}")
    print(out["uptime_after"])
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
