"""GSM8K validity of the empirical framework (data: ../shared/data/gsm8k/train.jsonl, MIT, OpenAI).

    python benchmarks/validity/gsm8k.py [--data ../shared/data] [--limit N]

Rows (each with its target):

* gold solutions as written (calculator annotations ``<<48/2=24>>`` and the prose around them): share
  of arithmetic steps verified, share of final answers (``#### N``) equal to the reference;
* the same solutions written the way a model writes them (annotations removed, ``#### N`` replaced by
  "The answer is N."): the same two figures, so the inline parser is measured without annotations;
* the same solutions with ONE number changed (seeded, one per solution), caught when the framework
  reports at least one arithmetic error: (a) a number inside an annotation (operand or result, and the
  result echoed after it); (b) the visible result after an annotation, annotations removed; (c) an
  operand of the equation written before an annotation, annotations removed.  A change that leaves the statement true
  (``0 * 5`` → ``0 * 6``) counts as not caught.

Symbolic steps (``2x + 3 = 13``) are decided with the real Z3 backend.  Steps are counted from the
framework's own components (``arithmetic_steps``, ``arithmetic_errors``, ``arithmetic_unverifiable``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _common import DATA, table  # noqa: E402
from chil_plugin_empirical.framework import EmpiricalFramework  # noqa: E402

from chil_core.testing import score_direct  # noqa: E402

ANNOTATION_RE = re.compile(r"<<([^<>]*)>>")
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
FINAL_RE = re.compile(r"\n?#### *([^\n]*)\s*$")
SEED = 20240613


def load(data_dir: Path, limit: int | None = None) -> list[dict[str, str]]:
    path = data_dir / "gsm8k" / "train.jsonl"
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return rows[:limit] if limit else rows


def gold_answer(solution: str) -> str:
    m = FINAL_RE.search(solution)
    return m.group(1).strip() if m else ""


def model_style(solution: str) -> str:
    """Annotations removed, the final line written as a sentence."""
    text = ANNOTATION_RE.sub("", solution)
    return FINAL_RE.sub(lambda m: f"\nThe answer is {m.group(1).strip()}.", text)


def _changed(number: str, rng: random.Random) -> str:
    """A different number in the same format (integer stays integer, decimals keep their count)."""
    if "." in number:
        whole, frac = number.split(".")
        digits = list(frac)
        digits[-1] = str((int(digits[-1]) + rng.randint(1, 9)) % 10)
        return f"{whole}.{''.join(digits)}"
    value = int(number)
    delta = rng.choice([d for d in range(-9, 10) if d and value + d >= 0])
    return str(value + delta)


def mutate_annotation(solution: str, rng: random.Random) -> str | None:
    """(a) one number inside one annotation changed; a changed result is also changed where it is echoed."""
    anns = list(ANNOTATION_RE.finditer(solution))
    if not anns:
        return None
    m = rng.choice(anns)
    body = m.group(1)
    nums = list(NUMBER_RE.finditer(body))
    if not nums:
        return None
    n = rng.choice(nums)
    new = _changed(n.group(), rng)
    new_body = body[: n.start()] + new + body[n.end() :]
    after = solution[m.end() :]
    if n.start() > body.index("=") and after.startswith(n.group()):
        after = new + after[len(n.group()) :]
    return solution[: m.start()] + f"<<{new_body}>>" + after


def mutate_visible_result(solution: str, rng: random.Random) -> str | None:
    """(b) the result written right after one annotation changed, then annotations removed."""
    anns = [m for m in ANNOTATION_RE.finditer(solution) if NUMBER_RE.match(solution, m.end())]
    if not anns:
        return None
    m = rng.choice(anns)
    old = NUMBER_RE.match(solution, m.end())
    assert old is not None
    mutated = solution[: old.start()] + _changed(old.group(), rng) + solution[old.end() :]
    return ANNOTATION_RE.sub("", mutated)


def mutate_visible_operand(solution: str, rng: random.Random) -> str | None:
    """(c) an operand of the equation written before one annotation changed, then annotations removed.

    Only equations whose last numbers before the annotation are exactly the annotation's operands, in
    order, are used, so the changed number is inside the written statement, never in the prose."""
    choices = []
    for m in ANNOTATION_RE.finditer(solution):
        operands = [float(x) for x in NUMBER_RE.findall(m.group(1).split("=")[0])]
        line_start = solution.rfind("\n", 0, m.start()) + 1
        before = list(NUMBER_RE.finditer(solution, line_start, m.start()))[-len(operands) :] if operands else []
        if len(before) == len(operands) and [float(n.group()) for n in before] == operands:
            choices += [n for n in before if not solution[max(0, n.start() - 1) : n.start()].isalnum()]
    if not choices:
        return None
    n = rng.choice(choices)
    return ANNOTATION_RE.sub("", solution[: n.start()] + _changed(n.group(), rng) + solution[n.end() :])


def _records(texts: list[str | None], answers: list[str]) -> tuple[list[dict[str, Any]], list[int]]:
    recs, index = [], []
    for i, (text, ans) in enumerate(zip(texts, answers, strict=True)):
        if text is not None:
            recs.append({"id": str(i), "prompt": "", "completion": text, "reference": {"answer": ans}})
            index.append(i)
    return recs, index


def _score(recs: list[dict[str, Any]]) -> list[Any]:
    from chil_plugin_z3.smt import Z3Smt

    return score_direct(EmpiricalFramework(), recs, tools={"smt": Z3Smt()})


def _steps(results: list[Any]) -> tuple[int, int, int]:
    steps = errors = unverifiable = 0
    for r in results:
        c = r.components
        steps += int(c.get("arithmetic_steps", 0))
        errors += int(c.get("arithmetic_errors", 0))
        unverifiable += int(c.get("arithmetic_unverifiable", 0))
    return steps, errors, unverifiable


MAX_DETAILS = 8


def _row(task: str, n: int, hits: int, target: float | None, misses: list[str] | None = None) -> dict[str, Any]:
    """A table row; ``details`` lists the first misses, one line each."""
    pct = 100.0 * hits / n if n else float("nan")
    details = [re.sub(r"\s*\n\s*", " | ", m)[:200] for m in (misses or [])[:MAX_DETAILS]]
    if misses and len(misses) > MAX_DETAILS:
        details.append(f"... and {len(misses) - MAX_DETAILS} more")
    return {"task": task, "n": n, "value_%": round(pct, 2), "target_%": target if target is not None else "-",
            "meets_target": None if target is None else pct >= target, "details": details}


def run(data_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """All GSM8K rows; see the module docstring."""
    rows_in = load(Path(data_dir), limit)
    solutions = [r["answer"] for r in rows_in]
    answers = [gold_answer(s) for s in solutions]
    out: list[dict[str, Any]] = []

    for label, texts in (("gold", solutions), ("gold, model style", [model_style(s) for s in solutions])):
        recs, _ = _records(list(texts), answers)
        results = _score(recs)
        steps, errors, unv = _steps(results)
        wrong = [f"#{recs[i]['id']}: {e.text}" for i, r in enumerate(results) for e in r.evidence if e.kind == "arithmetic_step"]
        out.append(_row(f"{label}: arithmetic steps verified", steps, steps - errors - unv, 99.5, wrong))
        correct = sum(r.components.get("answer_correct", 0) == 1 for r in results)
        out.append(_row(f"{label}: final answers correct", len(results), correct, 99.5))

    for label, mutate in (
        ("one number changed in an annotation: caught", mutate_annotation),
        ("visible result changed, no annotations: caught", mutate_visible_result),
        ("visible operand changed, no annotations: caught", mutate_visible_operand),
    ):
        texts = [mutate(s, random.Random(SEED + i)) for i, s in enumerate(solutions)]
        recs, _ = _records(texts, answers)
        results = _score(recs)
        caught = [r.components.get("arithmetic_errors", 0) > 0 for r in results]
        missed = [f"#{recs[i]['id']}: {recs[i]['completion']}" for i, ok in enumerate(caught) if not ok]
        out.append(_row(label, len(results), sum(caught), 95.0, missed))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=None, help="only the first N solutions")
    ap.add_argument("--show", action="store_true", help="print the first misses of each row")
    args = ap.parse_args()
    if not (args.data / "gsm8k" / "train.jsonl").is_file():
        sys.exit(f"GSM8K data not found under {args.data} (expected ../shared/data/gsm8k/train.jsonl)")
    t0 = time.perf_counter()
    rows = run(args.data, args.limit)
    print(table(rows, ["task", "n", "value_%", "target_%", "meets_target"]))
    print(f"\n[{time.perf_counter() - t0:.1f}s]")
    for row in rows if args.show else []:
        print(f"\n{row['task']}:")
        for item in row["details"]:
            print(f"  {item}")


if __name__ == "__main__":
    main()
