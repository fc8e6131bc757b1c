"""Subject–relation–object claims: from controlled sentences and from ``metadata.triples``.

Sentences are matched against verb phrases per relation (``relation_patterns``), each with its
negation: ``X is located in Y`` / ``X is not located in Y``, ``X borders Y`` / ``X does not border Y``.
The subject is the noun phrase right before the phrase (after the last comma or clause word), the
object the one right after; ``X borders Y, Z and W`` gives three claims.  Entities are normalized by
:func:`~chil_core.capabilities.fact_store.normalize_term`.  Claims outside these controlled forms are read
from a dependency parse by :mod:`.depclaims` (``nlp`` capability) when ``claims_from`` asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chil_core.capabilities.fact_store import MAX_TERM_CHARS, normalize_term

DEFAULT_RELATION_PATTERNS: dict[str, list[str]] = {
    "locatedin": ["is located in", "is situated in", "lies in", "is in", "is part of", "is a country in", "is found in"],
    "neighbor": ["borders", "neighbors", "neighbours", "is a neighbor of", "is a neighbour of",
                 "shares a border with", "is adjacent to"],
}
_SENTENCE_RE = re.compile(r"[^.!?\n]+")
_CLAUSE_CUT_RE = re.compile(r"(?i)[,;:()]|\b(?:and|but|so|because|since|that|which|while|yes|no|also|therefore|thus|then)\b")
_OBJECT_CUT_RE = re.compile(r"(?i)[;:()]|\b(?:but|because|since|which|while|whereas|although|so)\b")
_LIST_SPLIT_RE = re.compile(r"(?i)\s*,\s*(?:and\s+|or\s+)?|\s+and\s+")
_CLAUSE_WORD_RE = re.compile(r"(?i)\b(?:is|are|was|were|has|have|had|will|would|can|could|it|he|she|they|we|i)\b")
_DETERMINER_RE = re.compile(r"(?i)^(?:the|a|an)\s+")
_MAX_WORDS = 6
_MAX_OBJECTS = 8


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim to look up: ``negated`` claims are true when the fact is refuted."""

    subject: str
    relation: str
    object: str
    negated: bool
    text: str
    #: read from the completion (False for metadata.triples): a failed lookup is then the completion's doing.
    from_completion: bool = True


def _negative(phrase: str) -> str:
    """Pattern text of the negation: ``is located in`` → ``is not located in`` (or ``isn't``),
    ``borders`` → ``does not border`` (or ``doesn't``)."""
    head, _, rest = phrase.partition(" ")
    if head in ("is", "are"):
        return rf"(?:{head}\s+not|{head}n['’]t)\s+" + _words(rest)
    verb = head[:-1] if head.endswith("s") else head
    return r"(?:does\s+not|doesn['’]t|do\s+not|don['’]t)\s+" + _words(" ".join([verb, rest]).strip())


def _words(phrase: str) -> str:
    return r"\s+".join(re.escape(w) for w in phrase.split())


@lru_cache(maxsize=32)
def _compile(patterns: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, bool, re.Pattern[str]]]:
    out = []
    for relation, phrases in patterns:
        for phrase in phrases:
            for negated, form in ((False, _words(phrase)), (True, _negative(phrase))):
                out.append((relation, negated, re.compile(rf"(?i)\s{form}\s+")))
    out.sort(key=lambda item: -len(item[2].pattern))  # longest phrase first: "is located in" before "is in"
    return out


@lru_cache(maxsize=32)
def _any(patterns: tuple[tuple[str, tuple[str, ...]], ...]) -> re.Pattern[str]:
    """One pattern matching wherever any relation pattern matches: a sentence it does not match (most
    sentences of a completion) is skipped with one search instead of one per pattern."""
    forms = [p.pattern.removeprefix("(?i)") for _, _, p in _compile(patterns)]
    return re.compile("|".join(f"(?:{f})" for f in forms), re.I)


def _entity(text: str, *, tail: bool) -> str | None:
    words = _DETERMINER_RE.sub("", text.strip()).split()
    if not words:
        return None
    words = words[-_MAX_WORDS:] if tail else words[:_MAX_WORDS]
    key = normalize_term(" ".join(words))
    return key if key and len(key) <= MAX_TERM_CHARS else None


def sentence_claims(text: str, relation_patterns: dict[str, list[str]]) -> list[Claim]:
    """Claims written as controlled sentences in ``text``."""
    key = tuple((r, tuple(p)) for r, p in sorted(relation_patterns.items()))
    compiled = _compile(key)
    screen = _any(key)
    claims: list[Claim] = []
    for m in _SENTENCE_RE.finditer(text):
        sentence = m.group()
        if screen.search(sentence) is None:
            continue  # no relation phrase anywhere in it: no pattern below can match
        for relation, negated, pattern in compiled:
            hit = pattern.search(sentence)
            if hit is None:
                continue
            before = _CLAUSE_CUT_RE.split(sentence[: hit.start()])[-1]
            after = _OBJECT_CUT_RE.split(sentence[hit.end() :])[0]
            subject = _entity(before, tail=True)
            if subject is None:
                break
            for obj_text in _LIST_SPLIT_RE.split(after)[:_MAX_OBJECTS]:
                if _CLAUSE_WORD_RE.search(obj_text):
                    break  # "... in the kitchen and he is happy": a new clause, not another object
                obj = _entity(obj_text, tail=False)
                if obj is not None:
                    claims.append(Claim(subject, relation, obj, negated, sentence.strip()[:200]))
            break  # one relation per sentence: the longest phrase that matched
    return claims


def metadata_claims(triples: Any) -> list[Claim]:
    """Claims given as ``metadata.triples``: ``[s, r, o]``, ``[s, r, o, truth]`` or ``{subject, relation,
    object[, negated]}``.  Raises ``ValueError`` naming the bad entry."""
    if not isinstance(triples, list):
        raise ValueError("metadata.triples: must be a list of [subject, relation, object] triples")
    claims = []
    for i, t in enumerate(triples):
        where = f"metadata.triples[{i}]"
        if isinstance(t, dict):
            parts, negated = [t.get("subject"), t.get("relation"), t.get("object")], bool(t.get("negated", False))
        elif isinstance(t, list | tuple) and len(t) in (3, 4):
            parts = list(t[:3])
            negated = len(t) == 4 and str(t[3]).strip().casefold() in ("false", "0", "no", "neg")
        else:
            raise ValueError(f"{where}: must be [subject, relation, object], [s, r, o, truth] or an object")
        if not all(isinstance(p, str) and normalize_term(p) for p in parts):
            raise ValueError(f"{where}: subject, relation and object must be non-empty strings")
        keys = [normalize_term(p) for p in parts]
        if max(len(k) for k in keys) > MAX_TERM_CHARS:
            raise ValueError(f"{where}: a term is longer than {MAX_TERM_CHARS} characters")
        claims.append(Claim(keys[0], keys[1], keys[2], negated, " ".join(str(p) for p in parts), from_completion=False))
    return claims
