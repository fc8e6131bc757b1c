"""Right/wrong pairs for reward-probe on a framework with a model route (``[frameworks.empirical.model]``).

    .venv/bin/python benchmarks/models_probe_pairs.py -o pairs.jsonl [--limit 60]
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe pairs.jsonl --frameworks empirical --config route.toml

Each pair is a GSM8K calculator step written as a completion (``48/2 = 24``) and the same step with a
wrong result (``48/2 = 25``); the record asks nothing else (no reference), so the tools judge the step
and abstain on anything without one: exactly where the model route speaks.  The probe's variants
(empty, "banana", padding, a broken tail) check that the model never pays what the tools would not.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from chil_plugin_transformers.corpora import STEP, _wrong

    rng = random.Random(args.seed)
    out = []
    for n, line in enumerate((DATA / "gsm8k" / "train.jsonl").read_text(encoding="utf-8").splitlines()):
        row = json.loads(line)
        m = next(STEP.finditer(row["answer"]), None)
        wrong = _wrong(m.group(2).strip(), rng) if m else None
        if wrong is None:
            continue
        lhs, rhs = m.group(1).strip(), m.group(2).strip()
        out.append({"id": f"gsm8k-{n}", "prompt": row["question"], "right": f"{lhs} = {rhs}", "wrong": f"{lhs} = {wrong}", "asks": False})
        if len(out) >= args.limit:
            break
    args.output.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    print(f"{args.output}: {len(out)} pairs")


if __name__ == "__main__":
    main()
