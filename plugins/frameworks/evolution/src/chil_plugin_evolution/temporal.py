"""Temporal adaptation: is the answer right for the time the question is asked about?

A record with ``metadata.as_of`` (a year or a date), ``reference.answer`` (a string or a list of
acceptable answers at that time) and optionally ``metadata.other_answers`` (answers right at other
times: strings, or ``{"answer": str, "as_of": str}`` objects) is judged ``correct`` (matches an answer
of its time), ``stale`` (matches an answer of another time only; its time is the evidence when known)
or ``wrong``.  Matching is exact after SituatedQA's own normalisation (lower case, punctuation and the
articles a/an/the removed, whitespace collapsed) plus number words as digits ("two" = "2").

The answer is read from the completion's last ``Answer: …`` / ``Final answer: …`` / ``#### …`` line, or
``The answer is …``; a completion of one short line with no marker is its own answer.  Several different
marked answers are ``ambiguous`` (wrong: a hedge is not an answer), none is ``no_answer`` (wrong: the
record asks a question).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

MAX_ANSWER_CHARS = 300
MAX_COMPLETION_CHARS = 100_000

_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(_UNITS)} | {w: 10 * i for i, w in enumerate(_TENS) if w}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_PUNCT = set(string.punctuation) | {"–", "—", "‘", "’", "“", "”"}
_MARKER = re.compile(r"^\s*(?:\*\*)?(?:final\s+answer|answer)(?:\*\*)?\s*[:：]\s*(?P<a>.+?)\s*$|^\s*####\s*(?P<b>.+?)\s*$",
                     re.IGNORECASE | re.MULTILINE)
_ANSWER_IS = re.compile(r"\bthe\s+(?:final\s+)?answer\s+is\s*[:：]?\s*(?P<a>[^\n]+?)\s*\.?\s*$", re.IGNORECASE | re.MULTILINE)
_YEAR = re.compile(r"\b(1\d{3}|2\d{3})\b")


def _numbers(tokens: list[str]) -> list[str]:
    """Runs of number words become one integer ("twenty one" → "21", "two hundred" → "200")."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] not in _NUMBER_WORDS:
            out.append(tokens[i])
            i += 1
            continue
        total = current = 0
        while i < len(tokens) and (tokens[i] in _NUMBER_WORDS or tokens[i] in _SCALES or tokens[i] == "and"):
            t = tokens[i]
            if t == "and":
                if i + 1 < len(tokens) and tokens[i + 1] in _NUMBER_WORDS:
                    i += 1
                    continue
                break
            if t in _NUMBER_WORDS:
                current += _NUMBER_WORDS[t]
            elif _SCALES[t] == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * _SCALES[t]
                current = 0
            i += 1
        out.append(str(total + current))
    return out


def normalize(text: str) -> str:
    """SituatedQA / SQuAD answer normalisation, plus number words as digits."""
    s = text.lower().replace("-", " ")
    s = "".join(ch for ch in s if ch not in _PUNCT)
    tokens = [t for t in s.split() if t not in ("a", "an", "the")]
    return " ".join(_numbers(tokens))


@dataclass
class Answer:
    text: str | None
    status: str  # "ok" | "no_answer" | "ambiguous" | "oversize"
    candidates: list[str]


def extract_answer(completion: str) -> Answer:
    text = completion[:MAX_COMPLETION_CHARS]
    found = [m.group("a") or m.group("b") for m in _MARKER.finditer(text)]
    if not found:
        found = [m.group("a") for m in _ANSWER_IS.finditer(text)]
    if not found:
        stripped = text.strip()
        if stripped and "\n" not in stripped and len(stripped) <= MAX_ANSWER_CHARS:
            found = [stripped]
    found = [f.strip().rstrip(".").strip() for f in found if f and f.strip()]
    if not found:
        return Answer(None, "no_answer", [])
    distinct = list(dict.fromkeys(normalize(f) for f in found))
    if len(distinct) > 1:
        return Answer(None, "ambiguous", found[:5])
    if len(found[-1]) > MAX_ANSWER_CHARS:
        return Answer(None, "oversize", [found[-1][:80] + "…"])
    return Answer(found[-1], "ok", found[:1])


class TemporalRecordError(ValueError):
    """A malformed temporal record; the message names the field."""


@dataclass
class TemporalJob:
    as_of: str
    gold: list[str]
    others: list[tuple[str, str | None]]  # (answer, its time when known)


def parse_record(metadata: dict[str, Any], reference: dict[str, Any] | None) -> TemporalJob:
    as_of = metadata.get("as_of")
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        as_of = str(as_of)
    if not isinstance(as_of, str) or not _YEAR.search(as_of) or len(as_of) > 100:
        raise TemporalRecordError(f"metadata.as_of must be a year or a date with a year, got {as_of!r}")
    gold_raw = (reference or {}).get("answer")
    gold = [gold_raw] if isinstance(gold_raw, str) else gold_raw
    if not isinstance(gold, list) or not gold or not all(isinstance(g, str) and g.strip() for g in gold):
        raise TemporalRecordError("reference.answer must be a non-empty string or list of strings")
    others_raw = metadata.get("other_answers", [])
    if not isinstance(others_raw, list):
        raise TemporalRecordError("metadata.other_answers must be a list")
    others: list[tuple[str, str | None]] = []
    for i, o in enumerate(others_raw):
        if isinstance(o, str):
            others.append((o, None))
        elif isinstance(o, dict) and isinstance(o.get("answer"), str):
            when = o.get("as_of")
            others.append((o["answer"], str(when) if when is not None else None))
        else:
            raise TemporalRecordError(f"metadata.other_answers[{i}] must be a string or {{answer, as_of}}")
    return TemporalJob(as_of, gold, others)


def judge(job: TemporalJob, completion: str) -> tuple[str, str | None, dict[str, Any]]:
    """``(verdict, answer, evidence data)``; verdict ``correct`` / ``stale`` / ``wrong`` (or the
    extraction status ``no_answer`` / ``ambiguous`` / ``oversize``, all judged wrong)."""
    ans = extract_answer(completion)
    if ans.text is None:
        return ans.status, None, {"candidates": ans.candidates}
    norm = normalize(ans.text)
    gold = {normalize(g) for g in job.gold}
    if norm and norm in gold:
        return "correct", ans.text, {"as_of": job.as_of}
    times = [when for a, when in job.others if normalize(a) == norm and norm]
    if times:
        known = sorted({t for t in times if t})
        return "stale", ans.text, {"as_of": job.as_of, "right_at": known}
    return "wrong", ans.text, {"as_of": job.as_of}
