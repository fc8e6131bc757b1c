"""Validity of the frameworks on the development data in ../shared/data, one table.

    python benchmarks/validity/run.py [--data ../shared/data] [--only gsm8k,logic]

Rows come from ``gsm8k.run`` (GSM8K gold solutions: arithmetic steps verified, answers correct; the same
solutions with one number changed: errors caught) and ``logic.run`` (FOLIO validation-dev with gold FOL;
ProofWriter dev and ProntoQA dev-half per logic backend).  Each row carries the target it is judged by.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import DATA, table  # noqa: E402

SUITES = ("gsm8k", "logic")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--only", default=",".join(SUITES))
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"data directory not found: {args.data} (expected ../shared/data beside the repository)")
    rows = []
    for name in args.only.split(","):
        t0 = time.perf_counter()
        suite_rows = importlib.import_module(name).run(args.data)
        for row in suite_rows:
            row.setdefault("suite", name)
            if "accuracy" in row:  # one convention for the table: percentages
                row["value_%"] = round(100 * row.pop("accuracy"), 2)
                row["target_%"] = round(100 * row.pop("target"), 2)
                row.pop("agree", None)
        rows += suite_rows
        print(f"[{name}: {time.perf_counter() - t0:.1f}s]", file=sys.stderr)
    cols = ["suite", "task", "backend", "n", "value_%", "target_%", "meets_target"]
    for row in rows:
        cols += [k for k in row if k not in cols and k != "details"]
    print(table(rows, cols))
    for row in rows:
        details = row.get("details")
        if details:
            print(f"\n{row.get('task', row['suite'])}:")
            for line in details if isinstance(details, list) else [details]:
                print(f"  {line}")
    misses = [r for r in rows if r.get("meets_target") is False]
    print(f"\n{len(rows) - len(misses)}/{len(rows)} rows meet their target" + (": " + ", ".join(str(r.get("task")) for r in misses) if misses else ""))


if __name__ == "__main__":
    main()
