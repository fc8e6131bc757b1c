"""Right/wrong completion pairs for the ``power`` framework, for ``reward-probe``.

    .venv/bin/python scripts/power_pairs.py -o /tmp/power_pairs.jsonl [--n 10] [--seed 0]
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe /tmp/power_pairs.jsonl --frameworks power

Builds ``4 x n`` records (chil_plugin_power.generate): generated loan populations with a parity bound
(right: parity-respecting decisions and the true parity difference; wrong: one group rejected and a
false figure), stakeholder money graphs (max flow, right vs off by one), parliaments (Shapley–Shubik
index of one party, right vs off by 1/12), and BBQ-style ambiguity records built from this project's own
templates (ambiguous: right = the "cannot be determined" option, wrong = a group; disambiguated:
right = the answer the context gives).  Every record asks a question, so ``asks`` is true.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from chil_plugin_power.generate import pairs

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True, type=Path)
    ap.add_argument("--n", type=int, default=10, help="records of each kind")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rows = pairs(a.n, a.seed)
    a.output.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} pairs -> {a.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
