"""Right/wrong pairs for reward-probe on the empirical framework (GSM8K; data: MIT, OpenAI).

    python benchmarks/empirical_pairs.py -o pairs.jsonl [--n 60]
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe pairs.jsonl --frameworks empirical

Each pair is one GSM8K test problem (train when no test split is present), its reference answer, and
two completions written the way a model writes them (no calculator annotations, "The answer is N."):
right = the gold solution; wrong = alternately the gold working with a wrong final answer, or one
visible result changed and a wrong final answer (a false step carried into the answer).  The arithmetic is read
by the C++ kernel when chil-native is built (``CHIL_NATIVE=0``: the Python reference).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "validity"))
from gsm8k import FINAL_RE, gold_answer, model_style, mutate_visible_result  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k"


def pairs(n: int) -> list[dict]:
    path = DATA / "test.jsonl" if (DATA / "test.jsonl").is_file() else DATA / "train.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(15)
    out = []
    for i in rng.sample(range(len(rows)), min(n * 2, len(rows))):
        r = rows[i]
        answer = gold_answer(r["answer"])
        if not answer.lstrip("-").isdigit():
            continue
        right = model_style(r["answer"])
        if len(out) % 2 == 0:
            wrong = FINAL_RE.sub(f"\nThe answer is {int(answer) + rng.choice([-3, -1, 1, 2, 10])}.", r["answer"])
            wrong = model_style(wrong)
        else:
            changed = mutate_visible_result(r["answer"], random.Random(i))
            if changed is None:
                continue
            wrong = FINAL_RE.sub(f"\nThe answer is {int(answer) + rng.choice([-2, 1, 5])}.", changed)
        if wrong == right:
            continue
        out.append({"id": f"gsm8k-{i}", "prompt": r["question"], "reference": {"answer": answer}, "right": right, "wrong": wrong})
        if len(out) == n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--n", type=int, default=60)
    a = ap.parse_args()
    found = pairs(a.n)
    Path(a.output).write_text("".join(json.dumps(p) + "\n" for p in found), encoding="utf-8")
    print(f"{len(found)} pairs -> {a.output}")


if __name__ == "__main__":
    main()
