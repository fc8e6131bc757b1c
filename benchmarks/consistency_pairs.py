"""Right/wrong pairs for reward-probe on the consistency framework, from the development logic data.

    python benchmarks/consistency_pairs.py -o pairs.jsonl [--per-set 40]
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe pairs.jsonl --frameworks consistency

Two shapes, both as GRPO sends them (one prompt, one completion):

- **answer label** (ProofWriter dev, ProntoQA dev-half): the prompt holds the theory and the question,
  ``metadata.statement`` the statement asked; right = a line of reasoning then the gold label (True /
  False / Unknown), wrong = another label.  The record asks something (``asks``): a non-answer is wrong.
- **claims** (ProntoQA dev-half): the prompt is the theory; right = the gold chain of thought (every
  step follows), wrong = the same chain with its last step negated (a claim the premises contradict).
  The record asks nothing (no question): a completion that states nothing is out of scope (masked),
  as the framework documents.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA  # noqa: E402

LABELS = {"A": "True", "B": "False", "C": "Unknown"}


def label_pairs(rows: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        gold = LABELS[r["answer"]]
        other = next(v for v in ("False", "True", "Unknown") if v != gold)
        statement = r["question"].split("? ")[-1]
        out.append({"id": f"{name}-{r['id']}", "prompt": r["context"] + " " + r["question"],
                    "metadata": {"statement": statement}, "asks": True,
                    "right": f"Reading the premises step by step.\nAnswer: {gold}",
                    "wrong": f"Reading the premises step by step.\nAnswer: {other}"})
    return out


def _negate(sentence: str) -> str | None:
    m = re.match(r"^(.*?) (is|are) (not )?(.*)$", sentence.strip().rstrip("."))
    if not m:
        return None
    subject, verb, neg, rest = m.groups()
    return f"{subject} {verb} {'' if neg else 'not '}{rest}."


def claim_pairs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        steps = list(r["explanation"])
        flipped = _negate(steps[-1]) if steps else None
        if flipped is None:
            continue
        out.append({"id": f"prontoqa-cot-{r['id']}", "prompt": r["context"], "asks": False,
                    "right": " ".join(steps), "wrong": " ".join(steps[:-1] + [flipped])})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--per-set", type=int, default=40, help="records taken from each data set and shape")
    ap.add_argument("--data", type=Path, default=DATA)
    a = ap.parse_args()
    pw = json.loads((a.data / "proofwriter" / "dev.json").read_text(encoding="utf-8"))
    pq = json.loads((a.data / "prontoqa" / "dev-half.json").read_text(encoding="utf-8"))
    step = max(1, len(pw) // a.per_set)
    pairs = label_pairs(pw[::step][: a.per_set], "proofwriter") + label_pairs(pq[: a.per_set], "prontoqa")
    pairs += claim_pairs(pq[a.per_set: 2 * a.per_set])
    Path(a.output).write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    print(f"{len(pairs)} pairs -> {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
