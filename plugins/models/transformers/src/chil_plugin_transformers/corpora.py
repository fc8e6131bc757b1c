"""Distillation corpora built from the development data (``chil model corpus NAME``).

- ``gsm8k-steps``: the calculator steps of GSM8K solutions (``<<48/2=24>>``), each written as a
  completion ``48/2 = 24``, half of them with a wrong result (off by one, by ten, a digit changed, the
  operands' other operation) so that the teacher (``empirical``) has right and wrong steps to label,
  and, for half of the problems, one sentence of the question (prose with no step: the teacher
  abstains, and a student learns to say so).
- ``proofwriter``: each ProofWriter theory as the prompt and the statement asked about as the
  completion (one claim), for ``consistency`` (entailed / contradicted / undetermined).

Records are plain chil records (``id``, ``prompt``, ``completion``, ``metadata``).  The gold answer
is kept in ``metadata`` for reference only; the student learns the teacher's verdicts.
"""

from __future__ import annotations

import json
import random
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

STEP = re.compile(r"<<([^<>=]{1,80})=([^<>=]{1,40})>>")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
SENTENCE = re.compile(r"(?<=[.?!])\s+")


def _fmt(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    return f"{float(v):.2f}".rstrip("0").rstrip(".")


def _wrong(result: str, rng: random.Random) -> str | None:
    """A plausible wrong result for ``result`` (a number), or None."""
    if not NUMBER.fullmatch(result.strip()):
        return None
    v = Fraction(result.strip())
    choice = rng.randrange(4)
    if choice == 0:
        w = v + rng.choice([-1, 1])
    elif choice == 1:
        w = v + rng.choice([-10, 10, -2, 2])
    elif choice == 2:
        w = v * 10 if v != 0 else Fraction(1)
    else:
        digits = list(str(abs(v.numerator))) if v.denominator == 1 else []
        if len(digits) < 2:
            w = v + rng.choice([-3, 3])
        else:
            k = rng.randrange(len(digits))
            digits[k] = str((int(digits[k]) + rng.randrange(1, 9)) % 10)
            w = Fraction(int("".join(digits)) * (1 if v >= 0 else -1))
    return None if w == v else _fmt(w)


def gsm8k_steps(path: str | Path, limit: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if not line.strip():
                continue
            row = json.loads(line)
            for k, m in enumerate(STEP.finditer(row.get("answer", ""))):
                lhs, rhs = m.group(1).strip(), m.group(2).strip()
                wrong = rng.random() < 0.5
                shown = _wrong(rhs, rng) if wrong else rhs
                if shown is None:
                    continue
                out.append({"id": f"gsm8k-{n}-{k}", "prompt": row.get("question", ""), "completion": f"{lhs} = {shown}",
                            "metadata": {"perturbed": wrong}})
                if limit is not None and len(out) >= limit:
                    return out
            sentences = [x.strip() for x in SENTENCE.split(row.get("question", "")) if len(x.strip()) > 3]
            if sentences and rng.random() < 0.5:  # prose with no step: the teacher abstains on it
                out.append({"id": f"gsm8k-{n}-q", "prompt": row.get("question", ""), "completion": rng.choice(sentences),
                            "metadata": {"prose": True}})
                if limit is not None and len(out) >= limit:
                    return out
    return out


def proofwriter(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for r in rows[:limit]:
        statement = r["question"].split("? ")[-1].strip()
        out.append({"id": r["id"], "prompt": r["context"], "completion": statement,
                    "metadata": {"gold": {"A": "True", "B": "False", "C": "Unknown"}.get(r.get("answer"), r.get("answer"))}})
    return out


CORPORA = {
    "gsm8k-steps": ("gsm8k/train.jsonl", gsm8k_steps),
    "proofwriter": ("proofwriter/dev.json", proofwriter),
}
