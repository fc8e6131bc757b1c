"""Start-up cost: ``import chil_core`` (cumulative import time, as ``python -X importtime`` reports it)
and the wall time of ``chil plugins`` with every installed plugin, median of N runs, in fresh processes.

    python benchmarks/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time


def import_time_us(module: str) -> int:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and m.group(2).strip() == module:
            return int(m.group(1))
    raise RuntimeError(f"no importtime line for {module}")


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rows = []
    for module in ("chil_core", "chil_core.scoring"):
        rows.append((f"import {module} (cumulative, importtime)", statistics.median(import_time_us(module) for _ in range(args.runs)) / 1000))
    baseline = statistics.median(wall([sys.executable, "-c", "pass"]) for _ in range(args.runs))
    plugins = statistics.median(wall([sys.executable, "-m", "chil_core.cli", "plugins"]) for _ in range(args.runs))
    rows.append(("python -c pass (baseline)", baseline * 1000))
    rows.append(("chil plugins (all installed plugins)", plugins * 1000))
    listed = subprocess.run([sys.executable, "-m", "chil_core.cli", "plugins", "--json"], capture_output=True, text=True, check=True).stdout
    import json

    n = len(json.loads(listed))
    for name, ms in rows:
        print(f"{name:<45} {ms:8.1f} ms")
    print(f"plugins listed: {n}; chil plugins / bare interpreter start = {plugins / baseline:.1f}x")


if __name__ == "__main__":
    main()
