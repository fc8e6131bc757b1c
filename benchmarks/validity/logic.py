"""Validity of the consistency framework on the development logic data, through the real Scorer.

    python benchmarks/validity/logic.py [--data ../shared/data] [--backends z3,prolog,clingo]

- FOLIO validation-dev (102 items, gold FOL for premises and conclusion): the framework's verdict
  (``metadata.premises_fol`` / ``metadata.conclusion_fol``, decided by the ``smt`` backend z3) against
  the gold label (True = entailed, False = contradicted, Uncertain = undetermined).  Every item that
  disagrees is listed with why: Z3's countermodel (the truth values of the conclusion's ground atoms in
  a model of the premises that refutes the label) and any repair the parser made to the gold FOL.
- ProofWriter dev (600, depth-5 open-world theories) and ProntoQA dev-half (250): the prompt is the
  controlled-English theory, the completion is the statement asked about; accuracy per
  ``logic_program`` backend (A/B/C = entailed/contradicted/undetermined).

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


def _score(records: list[dict], tools: dict[str, str]) -> tuple[list[Any], float]:
    from chil_core.scoring import Scorer

    config = {"frameworks": {"consistency": {"tools": tools}}, "cache": {"enabled": False}}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        scorer.score(records[:1])  # start the backend (worker processes) outside the timing
        t0 = time.perf_counter()
        rewards = scorer.score(records)
        elapsed = time.perf_counter() - t0
    return [r.frameworks["consistency"] for r in rewards], elapsed


def _row(task: str, backend: str, results: list[Any], gold: list[str], elapsed: float, target: float) -> dict[str, Any]:
    agree = sum(r.verdict == g for r, g in zip(results, gold, strict=True))
    n = len(gold)
    return {"task": task, "backend": backend, "n": n, "agree": agree, "accuracy": agree / n, "target": target,
            "meets_target": agree / n >= target, "not_scored": sum(r.status != "scored" for r in results),
            "ms_per_item": 1000 * elapsed / n}


def folio(data_dir: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in (data_dir / "folio" / "folio-validation-dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [{"id": f"folio-{i}", "prompt": " ".join(r["premises"]), "completion": "",
                "metadata": {"premises_fol": r["premises-FOL"], "conclusion_fol": r["conclusion-FOL"]}} for i, r in enumerate(rows)]
    gold = [FOLIO_LABELS[r["label"]] for r in rows]
    results, elapsed = _score(records, {"smt": "z3"})
    row = _row("FOLIO validation-dev (gold FOL)", "z3 (smt)", results, gold, elapsed, TARGETS["folio"])
    row["details"] = [_why(i, rows[i], res, g) for i, (res, g) in enumerate(zip(results, gold, strict=True)) if res.verdict != g]
    return row


def _why(index: int, row: dict[str, Any], result: Any, gold: str) -> str:
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
    lines = [f"#{index}: label {row['label']} ({gold}), framework {result.verdict}: {row['conclusion-FOL']}"]
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
    records = [{"id": r["id"], "prompt": r["context"], "completion": r["question"].split("? ")[-1]} for r in rows]
    results, elapsed = _score(records, {"logic_program": backend})
    gold = [CHOICE_LABELS[r["answer"]] for r in rows]
    row = _row(name, backend, results, gold, elapsed, TARGETS["proofwriter" if "ProofWriter" in name else "prontoqa"])
    row["details"] = [f"{r['id']}: label {g}, framework {res.verdict or res.status} ({res.explanation})"
                      for r, res, g in zip(rows, results, gold, strict=True) if res.verdict != g]
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
