"""Validity of the consistency framework on the development logic data in answer-label form, through
the real Scorer.

    python benchmarks/validity/logic.py [--data ../shared/data] [--backends z3,prolog,clingo]

Each item is asked as GRPO asks it: the prompt holds the premises and the question, the record holds
the statement (``metadata.conclusion_fol`` for FOLIO with its gold FOL, ``metadata.statement`` for
ProofWriter / ProntoQA, whose theory is in the prompt), and four completions are scored:

- the **right label** (the gold one: FOLIO True / False / Uncertain, ProofWriter A/B/C as
  True / False / Unknown) after some reasoning text: should be paid (reward 1);
- each **wrong label** (the two other labels): should not be paid;
- an **empty** completion and an **irrelevant** one ("banana"): should not be paid, nor masked.

Columns: ``prover_%`` = items where the prover's verdict equals the gold label (the rows below are
measured on those: where the prover is wrong, the reward follows the prover, by design);
``right_paid_%`` (target >= 98), ``wrong_paid_%`` (<= 2), ``nonanswer_paid_%`` (0), ``masked`` (rewards
that were None).  Every FOLIO item where the prover disagrees with the gold label is listed with why:
Z3's countermodel (the truth values of the conclusion's ground atoms in a model of the premises that
refutes the label) and any repair the parser made to the gold FOL.

Data is read in place (``../shared/data``; see its README for sources and licenses).  Nothing here
was tuned on these rows.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import DATA, table  # noqa: E402

FOLIO_LABELS = {"True": "entailed", "False": "contradicted", "Uncertain": "undetermined", "Unknown": "undetermined"}
CHOICE_LABELS = {"A": "entailed", "B": "contradicted", "C": "undetermined"}
TARGETS = {"folio": 0.90, "proofwriter": 0.98, "prontoqa": 0.99}
BACKENDS = ("z3", "prolog", "clingo")
RIGHT_PAID, WRONG_PAID, NONANSWER_PAID = 0.98, 0.02, 0.0
VARIANTS = ("right", "wrong1", "wrong2", "empty", "irrelevant")


def _completions(words: dict[str, str], gold: str) -> dict[str, str]:
    """The five completions of one item: ``words`` maps a verdict to the label word of this dataset."""
    wrong = [w for v, w in words.items() if v != gold]
    lead = "Reading the premises step by step settles the question.\n"
    return {"right": lead + f"Answer: {words[gold]}", "wrong1": lead + f"Answer: {wrong[0]}",
            "wrong2": lead + f"Answer: {wrong[1]}", "empty": "", "irrelevant": "banana"}


def _score(items: list[dict], words: dict[str, str], gold: list[str], tools: dict[str, str]) -> tuple[list[dict[str, Any]], float]:
    """Score every variant of every item; returns per item {variant: FrameworkResult-and-reward}."""
    from chil_core.scoring import Scorer

    records = [dict(item, id=f"{item['id']}:{name}", completion=text)
               for item, g in zip(items, gold, strict=True) for name, text in _completions(words, g).items()]
    config = {"frameworks": {"consistency": {"tools": tools}}, "cache": {"enabled": False}}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        scorer.score(records[:1])  # start the backend (worker processes) outside the timing
        t0 = time.perf_counter()
        rewards = scorer.score(records)
        elapsed = time.perf_counter() - t0
    out = [{name: rewards[i * len(VARIANTS) + k] for k, name in enumerate(VARIANTS)} for i in range(len(items))]
    return out, elapsed


def _expected(reward: Any) -> str | None:
    res = reward.frameworks["consistency"]
    return res.evidence[0].data.get("expected") if res.status == "scored" and res.evidence else None


def _row(task: str, backend: str, scored: list[dict[str, Any]], gold: list[str], elapsed: float, target: float) -> dict[str, Any]:
    n = len(gold)
    right = [i for i, (s, g) in enumerate(zip(scored, gold, strict=True)) if _expected(s["right"]) == g]
    m = max(len(right), 1)

    def paid(variants: tuple[str, ...]) -> float:
        return sum(scored[i][v].reward == 1.0 for i in right for v in variants) / (m * len(variants))

    row = {"task": task, "backend": backend, "n": n, "agree": len(right), "accuracy": len(right) / n, "target": target,
           "right_paid_%": round(100 * paid(("right",)), 2), "wrong_paid_%": round(100 * paid(("wrong1", "wrong2")), 2),
           "nonanswer_paid_%": round(100 * paid(("empty", "irrelevant")), 2),
           "masked": sum(s[v].reward is None for s in scored for v in VARIANTS),
           "ms_per_item": round(1000 * elapsed / (n * len(VARIANTS)), 2)}
    row["meets_target"] = (len(right) / n >= target and row["right_paid_%"] >= 100 * RIGHT_PAID
                           and row["wrong_paid_%"] <= 100 * WRONG_PAID and row["nonanswer_paid_%"] <= 100 * NONANSWER_PAID
                           and row["masked"] == 0)
    return row


def folio(data_dir: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in (data_dir / "folio" / "folio-validation-dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [{"id": f"folio-{i}", "prompt": " ".join(r["premises"]) + "\nQuestion: is the following True, False or Uncertain? "
              + r["conclusion"], "metadata": {"premises_fol": r["premises-FOL"], "conclusion_fol": r["conclusion-FOL"]},
              "reference": {"answer": r["label"]}} for i, r in enumerate(rows)]
    gold = [FOLIO_LABELS[r["label"]] for r in rows]
    words = {"entailed": "True", "contradicted": "False", "undetermined": "Uncertain"}
    scored, elapsed = _score(items, words, gold, {"smt": "z3"})
    row = _row("FOLIO validation-dev (gold FOL)", "z3 (smt)", scored, gold, elapsed, TARGETS["folio"])
    row["details"] = [_why(i, rows[i], _expected(s["right"]) or s["right"].frameworks["consistency"].status, g)
                      for i, (s, g) in enumerate(zip(scored, gold, strict=True)) if _expected(s["right"]) != g]
    return row


def _why(index: int, row: dict[str, Any], verdict: str, gold: str) -> str:
    """A readable reason for a disagreement: Z3's countermodel to the label, and the parser's repairs."""
    import z3
    from chil_plugin_z3.fol import Translator

    from chil_core.capabilities.smt import parse_fol

    premises = [parse_fol(p) for p in row["premises-FOL"]]
    conclusion = parse_fol(row["conclusion-FOL"])
    tr = Translator(z3, z3.main_ctx(), 100_000)
    formulas = [tr.formula(p.ast, {}, "premise") for p in premises]
    goal = tr.formula(conclusion.ast, {}, "conclusion")
    s = z3.Solver()
    s.set("timeout", 10_000)
    s.add(*formulas)
    lines = [f"#{index}: label {row['label']} ({gold}), prover {verdict}: {row['conclusion-FOL']}"]
    refute = {"entailed": z3.Not(goal), "contradicted": goal}.get(gold)
    if refute is not None and s.check(refute) == z3.sat:
        model = s.model()
        atoms = sorted({a for f in [*formulas, goal] for a in _ground_atoms(z3, f)}, key=str)[:12]
        values = ", ".join(f"{_pretty(a)}={model.eval(a, model_completion=True)}" for a in atoms)
        lines.append(f"    the gold FOL does not force the label; a model of the premises where it fails: {values}")
    elif gold == "undetermined":
        lines.append("    the gold FOL decides what the label leaves open")
    notes = [n for p in premises for n in p.notes] + list(conclusion.notes)
    if notes:
        lines.append("    parser repairs: " + "; ".join(notes))
    return "\n".join(lines)


def _ground_atoms(z3: Any, expr: Any) -> list[Any]:
    """Ground predicate applications in a formula (atoms under a quantifier that use its variable are not)."""
    out, stack = [], [expr]
    while stack:
        e = stack.pop()
        if z3.is_quantifier(e):
            stack.append(e.body())
        elif z3.is_app(e):
            if e.decl().kind() == z3.Z3_OP_UNINTERPRETED and z3.is_bool(e) and "Var(" not in str(e):
                out.append(e)
            else:
                stack.extend(e.children())
    return list(dict.fromkeys(out))


def _pretty(atom: Any) -> str:
    """``In/2(p#0, texas#0)`` (the Z3 names of the tool's encoding) → ``In(p, texas)``."""
    return re.sub(r"#\d+", "", re.sub(r"/\d+\(", "(", str(atom)))


def controlled_english(data_dir: Path, name: str, rel: str, backend: str) -> dict[str, Any]:
    rows = json.loads((data_dir / rel).read_text(encoding="utf-8"))
    items = [{"id": r["id"], "prompt": r["context"] + "\nQuestion: " + r["question"],
              "metadata": {"statement": r["question"].split("? ")[-1]}} for r in rows]
    gold = [CHOICE_LABELS[r["answer"]] for r in rows]
    words = {"entailed": "True", "contradicted": "False", "undetermined": "Unknown"}
    scored, elapsed = _score(items, words, gold, {"logic_program": backend})
    row = _row(name, backend, scored, gold, elapsed, TARGETS["proofwriter" if "ProofWriter" in name else "prontoqa"])
    row["details"] = [f"{r['id']}: label {g}, prover {_expected(s['right'])} ({s['right'].frameworks['consistency'].explanation})"
                      for r, s, g in zip(rows, scored, gold, strict=True) if _expected(s["right"]) != g]
    return row


def run(data_dir: Path, backends: tuple[str, ...] = BACKENDS) -> list[dict[str, Any]]:
    """Rows for ``benchmarks/validity/run.py``: one for FOLIO, one per backend for ProofWriter and ProntoQA."""
    rows = [folio(data_dir)]
    for backend in backends:
        rows.append(controlled_english(data_dir, "ProofWriter dev (depth 5, OWA)", "proofwriter/dev.json", backend))
    for backend in backends:
        rows.append(controlled_english(data_dir, "ProntoQA dev-half", "prontoqa/dev-half.json", backend))
    return rows


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--backends", default=",".join(BACKENDS))
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"data directory not found: {args.data} (expected ../shared/data beside the repository)")
    rows = run(args.data, tuple(b for b in args.backends.split(",") if b))
    print(table(rows, [c for c in rows[0] if c != "details"]))
    for row in rows:
        if row["details"]:
            print(f"\n{row['task']} / {row['backend']}: {len(row['details'])} disagreement(s)")
            print("\n".join(row["details"]))


if __name__ == "__main__":
    main()
