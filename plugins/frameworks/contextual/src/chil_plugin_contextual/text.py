"""Plain-text helpers of the contextual framework: sentences, content words, what a completion really
says (copies of the prompt, filler and repeats set aside), and the checkable items of grounding
(numbers, named entities, dates).  Pure Python, bounded: every regex is linear, inputs are cut first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

_SENT_RE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)|[.!?]+", re.M)
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.U)
_NUM_RE = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:st|nd|rd|th)?%?(?![\w])")
_CAP_RUN_RE = re.compile(r"(?:[A-Z][\w'’.-]*)(?:\s+(?:(?:of|de|la|the|and|von|van|da|du|del|al|bin)\s+)?[A-Z][\w'’.-]*)*")

_STOPWORDS = """
a about above after again against all also am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
on once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when where
which while who whom why will with would you your yours yourself yourselves yes ok okay oh well really just also
may might must shall let lets it's i'm don't can't won't isn't aren't wasn't weren't didn't doesn't i've i'd i'll
you're you've we're they're that's there's what's here's one ones thing things something anything everything nothing
get got go goes going went make made say said like much many lot lots way even still yet though although however
therefore thus hence since unless whether either neither every each another such sure true false
"""
STOPWORDS = frozenset(_STOPWORDS.split())

#: common sentence-initial words that are capitalised only because they start the sentence.
_INITIAL = """
answer because but first finally however in instead it its later meanwhile moreover next no now overall so then
therefore this today yes yesterday tomorrow according although after before during while since unlike like
"""
_COMMON_INITIAL = STOPWORDS | frozenset(_INITIAL.split())

_WORD_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 1_000_000,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "half": Decimal("0.5"), "dozen": 12,
}


#: control and format characters (Unicode categories Cc, Cf) and lone surrogates, but newline and tab.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e"
                         "\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]")


def clean(text: str) -> str:
    """NFKC, control and format characters (but newlines and tabs) removed."""
    return _CONTROL_RE.sub("", unicodedata.normalize("NFKC", text))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_RE.findall(text) if s.strip()]


def words(text: str) -> list[str]:
    return [w.casefold().replace("’", "'") for w in _WORD_RE.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that carry content: not stopwords, at least three characters or containing a digit."""
    return [w for w in words(text) if w not in STOPWORDS and (len(w) >= 3 or any(c.isdigit() for c in w))]


def _is_filler(s: str, ws: list[str] | None = None) -> bool:
    """No alphabetic content word, and either no number or an equation (``1 = 1.``, ``2 + 2 = 4.``); a
    bare number (``1990.``) is an answer, not filler.  ``ws``: :func:`words` of ``s`` when known."""
    for w in words(s) if ws is None else ws:
        if not w.isdigit() and w not in STOPWORDS and (len(w) >= 3 or not w.isalpha()) and any(c.isalpha() for c in w):
            return False
    return "=" in s or not any(c.isdigit() for c in s)


def _norm_sentence(s: str) -> str:
    return " ".join(words(s))


@dataclass
class Reading:
    """What a completion says once copies of the prompt, filler and repeats are set aside."""

    kept: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    filler: list[str] = field(default_factory=list)
    repeated: int = 0
    truncated: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.kept)


def normalized_sources(sources: list[str]) -> list[str]:
    """``sources`` as :func:`read_completion` compares with them (computed once per prompt context)."""
    return [" " + _norm_sentence(s) + " " for s in sources if s]


def read_completion(completion: str, sources: list[str], max_chars: int, max_sentences: int,
                    source_norm: list[str] | None = None) -> Reading:
    """Split ``completion`` into sentences and sort them: ``copied`` (a sentence of three or more words
    found verbatim, up to case and punctuation, in one of ``sources``: restating the prompt earns
    nothing), ``filler`` (:func:`_is_filler`: ``1 = 1.``, ``x = x.``), repeats (counted once), ``kept``.
    ``source_norm``: :func:`normalized_sources` of ``sources``, when the caller has it already."""
    out = Reading(truncated=len(completion) > max_chars)
    text = clean(completion[:max_chars])
    if source_norm is None:
        source_norm = normalized_sources(sources)
    seen: set[str] = set()
    for s in sentences(text):
        ws = words(s)
        key = " ".join(ws)
        if not key:
            out.filler.append(s)
            continue
        if key in seen:
            out.repeated += 1
            continue
        seen.add(key)
        if len(ws) >= 3 and any(f" {key} " in src for src in source_norm):
            out.copied.append(s)
        elif _is_filler(s, ws):
            out.filler.append(s)
        elif len(out.kept) < max_sentences:
            out.kept.append(s)
    return out


# ---------------------------------------------------------------------------------------------
# Grounding items
# ---------------------------------------------------------------------------------------------
def number_value(token: str) -> Decimal | None:
    t = token.casefold().replace(",", "").replace("−", "-").rstrip("%")
    t = re.sub(r"(st|nd|rd|th)$", "", t)
    if t in _WORD_NUMBERS:
        return Decimal(_WORD_NUMBERS[t])
    try:
        value = Decimal(t)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def numbers(text: str) -> list[tuple[str, Decimal]]:
    out = []
    for m in _NUM_RE.finditer(text):
        v = number_value(m.group(0))
        if v is not None and len(m.group(0)) <= 40:
            out.append((m.group(0), v))
    return out


def passage_numbers(text: str) -> set[Decimal]:
    """Every number the passage states, in digits or (small) words."""
    vals = {v for _, v in numbers(text)}
    vals |= {Decimal(_WORD_NUMBERS[w]) for w in words(text) if w in _WORD_NUMBERS}
    return vals


def entities(sentence: str) -> list[str]:
    """Runs of capitalised words (``Upper Elbe``, ``Bank of England``); a sentence-initial common word is
    not one (``However``, ``The``) and is stripped from the run it starts."""
    out = []
    for m in _CAP_RUN_RE.finditer(sentence):
        run = m.group(0).strip(".-'’")
        toks = run.split()
        at_start = not sentence[: m.start()].strip(" \"'“(")
        while toks and at_start and toks[0].casefold().strip(".,") in _COMMON_INITIAL:
            toks = toks[1:]
            at_start = False
        while toks and toks[-1].casefold() in ("of", "de", "la", "the", "and"):
            toks.pop()
        if toks and any(c.isalpha() for c in toks[0]) and len(" ".join(toks)) <= 120:
            out.append(" ".join(toks))
    return out


@dataclass
class Item:
    kind: str  # "number" | "entity"
    text: str
    supported: bool
    sentence: int


@dataclass(frozen=True)
class PassageFacts:
    """What grounding compares with, read once per passage (a GRPO group shares it)."""

    numbers: frozenset[Decimal]
    words: frozenset[str]
    content: frozenset[str]

    @classmethod
    def of(cls, passage: str) -> PassageFacts:
        return cls(frozenset(passage_numbers(passage)), frozenset(words(passage)), frozenset(content_words(passage)))


def grounding_items(kept: list[str], passage: str | PassageFacts, max_items: int) -> list[Item]:
    """Every number and named entity of the kept sentences, each marked supported when the passage
    states it: a number equal in value (``1,000`` = ``1000``, ``three`` = ``3``), an entity whose every
    word occurs in the passage (case-insensitive; ``Elbe River`` vs ``the upper Elbe river``)."""
    facts = passage if isinstance(passage, PassageFacts) else PassageFacts.of(passage)
    pnums, pwords = facts.numbers, facts.words
    items: list[Item] = []
    for i, s in enumerate(kept):
        for m in _NUM_RE.finditer(s):
            v = number_value(m.group(0))
            if v is None:
                continue
            items.append(Item("number", m.group(0), v in pnums, i))
        for ent in entities(s):
            ws = [w for w in words(ent) if not any(c.isdigit() for c in w)]
            if not ws:
                continue
            ok = all(w in pwords or w.removesuffix("'s") in pwords for w in ws)
            items.append(Item("entity", ent, ok, i))
        if len(items) >= max_items:
            return items[:max_items]
    return items
