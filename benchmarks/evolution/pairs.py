"""Right/wrong pairs for reward-probe on the evolution framework.

    python benchmarks/evolution/pairs.py -o pairs.jsonl [--temporal 60] [--per-kind 6]
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe pairs.jsonl --frameworks evolution

Pairs: SituatedQA dev records (right: a gold answer, in one of several surface forms; wrong: an answer
right at another time, or another question's answer) and generated problem instances of every kind
(right: the exact optimum or the reference optimiser's best, with its fitness; wrong: a worse valid
solution honestly claimed, or the right solution with a false claimed fitness).  See data.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import problem_pairs, temporal_pairs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--temporal", type=int, default=60)
    ap.add_argument("--per-kind", type=int, default=6)
    a = ap.parse_args()
    pairs = temporal_pairs(a.temporal) + problem_pairs(a.per_kind)
    Path(a.output).write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    print(f"{len(pairs)} pairs -> {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
