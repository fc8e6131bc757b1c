"""Answer labels: the final ``True`` / ``False`` / ``Unknown`` (or option letter) of a completion.

The common GRPO form of FOLIO, ProofWriter, ProntoQA and LogicalDeduction asks a question about a
statement and expects the completion to end with a label.  :func:`find_label` reads that label:

1. the text after the last answer marker (``Answer: False``, ``the answer is (B)``, ``#### Unknown``,
   ``\\boxed{True}``), up to the end of its line;
2. else the last line of the completion when it is nothing but a label (``**True**``, ``(B)``).

Inside that text the label words (configurable, matched as whole words, case-insensitive, longest
first) or the option letters are looked for.  Two different labels there (``True or False``), or a
negation (``not True``), is a hedge: ``ambiguous``, never paid.  No label: ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: verdict of the prover → words a completion may use for it (``[frameworks.consistency.options.labels]``).
DEFAULT_LABELS: dict[str, list[str]] = {
    "entailed": ["true", "entailed"],
    "contradicted": ["false", "contradicted"],
    "undetermined": ["unknown", "uncertain", "undetermined", "cannot be determined"],
}
#: what each verdict is called in evidence (FOLIO calls "undetermined" Uncertain).
LABEL_NAMES = {"entailed": "True", "contradicted": "False", "undetermined": "Unknown"}

_MARKER = re.compile(
    r"(?i)(?:####|\\boxed\s*\{|\b(?:final\s+answer|answer)\s*(?:is|=|:)?\s*:?|^\s*A\s*:)", re.M)
_MAX_ANSWER_CHARS = 200
_NEGATION = re.compile(r"(?i)\bnot\b|n't\b")
_STRIP = " \t*_`'\".,;:!()[]{}"


@dataclass(frozen=True, slots=True)
class Label:
    """What :func:`find_label` found: ``key`` is a verdict (``entailed``…) or an option letter, or
    ``None`` with ``ambiguous`` set when the answer names two labels."""

    key: str | None
    text: str
    ambiguous: bool = False


@lru_cache(maxsize=64)
def _word_pattern(words: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    alts = sorted({w for _, w in words}, key=len, reverse=True)
    return re.compile(r"(?i)(?<![\w-])(" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in alts) + r")(?![\w-])")


def _keys_in(text: str, labels: dict[str, list[str]], letters: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    if letters:
        alts = "|".join(re.escape(x) for x in letters)
        # "(B)", "(b)", "B", "B)"; a bare lower-case "a" is an article, not an option
        for m in re.finditer(rf"(?i)\(({alts})\)|(?-i:(?<![\w'’])({alts})(?![\w'’]))", text):
            found.append((m.group(1) or m.group(2)).upper())
    else:
        table = {w.casefold(): key for key, ws in labels.items() for w in ws}
        pattern = _word_pattern(tuple(sorted((k, w) for k, ws in labels.items() for w in ws)))
        for m in pattern.finditer(text):
            found.append(table[" ".join(m.group(1).casefold().split())])
    return found


def find_label(completion: str, labels: dict[str, list[str]] = DEFAULT_LABELS, letters: tuple[str, ...] = ()) -> Label | None:
    """The completion's final label (see the module docstring); ``letters`` switch to option letters."""
    last = None
    for last in _MARKER.finditer(completion):  # noqa: B007 - the last marker wins
        pass
    if last is not None:
        end = completion.find("\n", last.end())
        text = completion[last.end() : end if end >= 0 else None][:_MAX_ANSWER_CHARS]
        if last.group().endswith("{"):
            text = text.split("}", 1)[0]
    else:
        lines = [ln for ln in completion.strip().splitlines() if ln.strip()]
        text = lines[-1].strip(_STRIP) if lines else ""
        if len(text) > 40:
            return None
    keys = _keys_in(text, labels, letters)
    if not keys:
        return None
    if len(set(keys)) > 1 or _NEGATION.search(text):  # "True or False", "not True": a hedge
        return Label(None, text.strip()[:100], ambiguous=True)
    if last is None and " ".join(text.strip(_STRIP).casefold().split()) not in {w.casefold() for ws in labels.values() for w in ws} | {
            x.casefold() for x in letters}:
        return None  # no marker: the last line must be the label alone
    return Label(keys[0], text.strip()[:100])
