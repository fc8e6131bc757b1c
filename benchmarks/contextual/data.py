"""Records for the contextual framework built from the development data (read in place, never copied):

* **tone**: SST-2 sentences (``sst2/stsa.binary.dev``: 0 negative, 1 positive; ``stsa.fine.dev`` 0..4);
* **grounding**: WordNet glosses (``wn18rr/entity2text.txt``: ``name, definition``) and SituatedQA
  answers (``situatedqa/qa_data/temp.dev.jsonl``, numeric answers).  Each gives a passage, a right
  completion that restates it, and a wrong one with ONE planted unsupported item (an entity taken from
  another gloss, or a changed number), whose text is recorded as ``planted``;
* **relevance**: grade_coherence dialogue contexts, responses and their mean human rating.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
_CAP = re.compile(r"\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})*\b")
_NUM = re.compile(r"\b\d+\b")


def sst2(path: Path | None = None) -> list[tuple[str, int]]:
    path = path or DATA / "sst2" / "stsa.binary.dev"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition(" ")
        if text.strip():
            out.append((text.strip(), int(label)))
    return out


def grade_coherence() -> list[dict[str, Any]]:
    rows = json.loads((DATA / "grade_coherence" / "human_judgement.json").read_text(encoding="utf-8"))
    out = []
    for r in rows:
        scores = json.loads(r["HumanScores"])
        out.append({"id": f"gc{r['ID']}", "context": r["Context"].split("|||"), "response": r["Response"],
                    "human": sum(scores) / len(scores), "dataset": r["Dataset"]})
    return out


def _gloss_rows(limit: int, seed: int) -> list[tuple[str, str]]:
    rows = []
    with open(DATA / "wn18rr" / "entity2text.txt", encoding="utf-8") as fh:
        for line in fh:
            _, _, text = line.rstrip("\n").partition("\t")
            name, sep, definition = text.partition(", ")
            if not sep or not (20 <= len(definition) <= 200) or "_" in name:
                continue
            rows.append((name.strip(), definition.strip().rstrip(".;")))
    rng = random.Random(seed)
    rng.shuffle(rows)
    return rows[: limit * 4]


def grounding_records(limit: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Right/wrong grounding records: half from WordNet glosses that name an entity or a number, half
    from SituatedQA numeric answers.  Each dict: passage, prompt, right, wrong, planted."""
    rng = random.Random(seed)
    glosses = _gloss_rows(limit, seed)
    pool = [m.group(0) for _, d in glosses for m in _CAP.finditer(d)]
    out: list[dict[str, Any]] = []
    for name, definition in glosses:
        if len(out) >= limit // 2:
            break
        passage = f"{name}, {definition}"
        right = f"{name[0].upper() + name[1:]} is {definition}."
        ents = [m for m in _CAP.finditer(definition)]
        nums = [m for m in _NUM.finditer(definition)]
        if ents:
            m = rng.choice(ents)
            others = [e for e in pool if e.casefold() not in passage.casefold() and all(w.casefold() not in passage.casefold() for w in e.split())]
            planted = rng.choice(others)
        elif nums:
            m = rng.choice(nums)
            planted = str(int(m.group(0)) * 10 + 7)
        else:
            continue
        wrong_def = definition[: m.start()] + planted + definition[m.end():]
        wrong = f"{name[0].upper() + name[1:]} is {wrong_def}."
        out.append({"source": "wn18rr", "passage": passage, "prompt": f"Using only the passage, say what {name} is.",
                    "right": right, "wrong": wrong, "planted": planted})
    qa = [json.loads(line) for line in (DATA / "situatedqa" / "qa_data" / "temp.dev.jsonl").read_text(encoding="utf-8").splitlines()]
    qa = [r for r in qa if re.fullmatch(r"\d{4}", r["answer"][0])]
    rng.shuffle(qa)
    for r in qa:
        if len(out) >= limit:
            break
        answer = r["answer"][0]
        passage = f"{r['edited_question']}? {answer}."
        years = {int(y) for y in re.findall(r"\d{4}", passage)}
        candidates = [y for y in range(int(answer) - 12, int(answer) + 13) if y not in years]
        planted = str(rng.choice(candidates))
        out.append({"source": "situatedqa", "passage": passage, "prompt": f"Answer from the passage: {r['question']}?",
                    "right": f"As of {r['date']}, the answer is {answer}.", "wrong": f"As of {r['date']}, the answer is {planted}.",
                    "planted": planted})
    return out
