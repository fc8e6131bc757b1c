"""Right/wrong pairs for reward-probe on the consistency framework, from the development logic data.

    python benchmarks/consistency_pairs.py -o pairs.jsonl [--per-set 40]
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe pairs.jsonl --frameworks consistency

Two shapes, both as GRPO sends them (one prompt, one completion):

- **answer label** (ProofWriter dev, ProntoQA dev-half): the prompt holds the theory and the question,
  ``metadata.statement`` the statement asked; right = a line of reasoning then the gold label (True /
  False / Unknown), wrong = another label.  The record asks something (``asks``): a non-answer is wrong.
- **FOLIO label** (FOLIO validation-dev with its gold first-order logic, ``metadata.premises_fol`` /
  ``conclusion_fol``, decided by the ``smt`` backend's ``fol``): right = the gold label (True / False /
  Uncertain), wrong = one of the other two, in turn.  Rows whose gold FOL does not force the gold label (Z3 finds a model of
  the premises where it fails: 3 of 102) are left out: there the "right" completion is not provably right.
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


def folio_forced(row: dict[str, Any]) -> bool:
    """Whether the row's gold FOL forces its gold label (Z3, 10 s a check): premises and the conclusion's
    negation unsatisfiable for True, premises and the conclusion for False, both satisfiable for Uncertain."""
    import z3
    from chil_plugin_z3.fol import Translator

    from chil_core.capabilities.smt import parse_fol

    ctx = z3.Context()
    tr = Translator(z3, ctx, 100_000)
    premises = [tr.formula(parse_fol(p).ast, {}, "premise") for p in row["premises-FOL"]]
    goal = tr.formula(parse_fol(row["conclusion-FOL"]).ast, {}, "conclusion")
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", 10_000)
    solver.add(*premises)
    can_hold, can_fail = solver.check(goal) == z3.sat, solver.check(z3.Not(goal)) == z3.sat
    return {"True": not can_fail, "False": not can_hold}.get(row["label"], can_hold and can_fail)


def folio_pairs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, r in enumerate(rows):
        if not folio_forced(r):
            continue
        gold = "Uncertain" if r["label"] in ("Uncertain", "Unknown") else r["label"]
        other = [v for v in ("True", "False", "Uncertain") if v != gold][i % 2]  # both wrong labels, in turn
        out.append({"id": f"folio-{i}", "asks": True,
                    "prompt": " ".join(r["premises"]) + "\nQuestion: is the following True, False or Uncertain? " + r["conclusion"],
                    "metadata": {"premises_fol": r["premises-FOL"], "conclusion_fol": r["conclusion-FOL"]},
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
    ap.add_argument("--folio", type=int, default=102, help="FOLIO validation-dev rows to take (0: none)")
    ap.add_argument("--data", type=Path, default=DATA)
    a = ap.parse_args()
    pw = json.loads((a.data / "proofwriter" / "dev.json").read_text(encoding="utf-8"))
    pq = json.loads((a.data / "prontoqa" / "dev-half.json").read_text(encoding="utf-8"))
    step = max(1, len(pw) // a.per_set)
    pairs = label_pairs(pw[::step][: a.per_set], "proofwriter") + label_pairs(pq[: a.per_set], "prontoqa")
    pairs += claim_pairs(pq[a.per_set: 2 * a.per_set])
    if a.folio:
        folio = [json.loads(x) for x in (a.data / "folio" / "folio-validation-dev.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
        pairs += folio_pairs(folio[: a.folio])
    Path(a.output).write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    print(f"{len(pairs)} pairs -> {a.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
