"""Controlled English (ProofWriter, ProntoQA) → facts and rules of a :class:`~.theory.Theory`.

Sentences understood (case-insensitive; ``X`` a name like "Bob" or a definite "the (bald) eagle"):

- facts: "Bob is cold." "Bob is not big." "Max is a yumpus." "The cat chases the dog."
  "The lion does not like the cat." "Bob is big and red."
- universals: "All quiet things are rough." "Red, cold things are round." "Young people are not big."
  "Jompuses are not shy." "Every tumpus is not angry." "Each zumpus is a vumpus."
  "No cats are dogs." "All red things chase the dog."
- conditionals: "If something is kind and rough then it is red." "If someone is cold and not big
  then they are nice." "If something chases the cat then it visits the bear." "If Dave is smart
  and Dave is kind then Dave is quiet."

"something / someone / it / they" name the rule's one variable (``?x``).  Adjectives and nouns are
unary predicates (plural nouns singularised: "jompuses" → ``jompus``), verbs are binary predicates
(lemmatised: "chases" / "does not chase" → ``chase``), names and definite descriptions are constants
("the bald eagle" → ``bald_eagle``).  A sentence the grammar does not cover is returned as skipped,
never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from chil_core.capabilities.logic_program import Literal, Rule, Theory

VAR = "?x"
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|,")
_DISCOURSE = re.compile(
    r"\b(?:so|therefore|thus|hence|since|because|as a result|this means(?: that)?|which means(?: that)?|"
    r"it follows(?: that)?|we know(?: that)?|we can conclude(?: that)?)\b|[;:]",
    re.IGNORECASE,
)
#: sentences that assert nothing outright: conditions, hedges, questions.
_HYPOTHETICAL = re.compile(
    r"\b(?:if|whether|unless|suppose|supposing|assume|assuming|maybe|perhaps|might|may|could|would|cannot|"
    r"can't|unknown|uncertain|not sure|not known|impossible to)\b|\?",
    re.IGNORECASE,
)
_PRONOUNS = frozenset({"something", "someone", "somebody", "it", "they", "them", "he", "she", "him", "her"})
_PLURAL_PRONOUNS = frozenset({"they", "them"})
_KINDS = frozenset({"thing", "things", "people", "person", "one", "ones"})
_QUANTIFIERS = frozenset({"all", "every", "each", "any"})
_COPULA = {"is": False, "are": True}  # -> plural
_ARTICLES = frozenset({"a", "an"})
_FUNCTION_WORDS = frozenset({
    "if", "then", "and", "or", "not", "the", "a", "an", "is", "are", "does", "do", "all", "every", "each",
    "any", "no", ",", "so", "but", "that", "this", "there", "which", "who", "what", "also", "both",
    "either", "neither", "nor", "than", "of", "to", "in", "on", "with", "be", "was", "were",
}) | _PRONOUNS | _KINDS
_MAX_THE_WORDS = 3
#: "The answer is True." is about the text, not about the theory's world: not a claim.
_META_SUBJECTS = frozenset({"answer", "statement", "conclusion", "question", "option", "claim", "hypothesis",
                            "reasoning", "result", "premise", "premises", "context"})


@dataclass
class ParsedText:
    """What :func:`parse_theory` / :func:`parse_claims` made of a text."""

    facts: list[Literal] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    #: (sentence, literals) for each sentence read as ground facts, in order.
    statements: list[tuple[str, list[Literal]]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: the statement after a question ("... true, false, or unknown? Charlie is kind."), if any.
    question: str | None = None

    def theory(self) -> Theory:
        return Theory(tuple(dict.fromkeys(self.facts)), tuple(dict.fromkeys(self.rules)))


# -- words ---------------------------------------------------------------------------------------
def singular(noun: str) -> str:
    """Plural noun → singular ("jompuses" → "jompus", "butterflies" → "butterfly"); adjectives in
    "-ous" and words in "-ss"/"-us"/"-is" are left alone."""
    if noun == "people":
        return "person"
    if noun.endswith("ies") and len(noun) > 4:
        return noun[:-3] + "y"
    if noun.endswith(("uses", "sses", "xes", "zes", "ches", "shes")):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith(("ss", "us", "is", "ous")):
        return noun[:-1]
    return noun


def verb_base(verb: str) -> str:
    """Third person singular → base form ("chases" → "chase", "watches" → "watch", "flies" → "fly")."""
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if verb.endswith(("sses", "xes", "zes", "ches", "shes", "oes")):
        return verb[:-2]
    if verb.endswith("s") and not verb.endswith("ss"):
        return verb[:-1]
    return verb


def _content(word: str) -> bool:
    return word not in _FUNCTION_WORDS and word.isalpha()


class _Tokens:
    """A sentence's words, lower case (``words``), and as written (``raw``: a capitalised word is a
    name, the first word of the sentence excepted).  Not a dataclass: slices of it are made in the
    parser's inner loops, and a frozen dataclass's ``__init__`` costs several times a plain one's."""

    __slots__ = ("words", "raw")

    def __init__(self, words: tuple[str, ...], raw: tuple[str, ...]) -> None:
        self.words = words
        self.raw = raw

    @classmethod
    def of(cls, text: str) -> _Tokens:
        raw = tuple(_WORD.findall(text))
        return cls(tuple(w.lower() for w in raw), raw)

    def capitalised(self) -> bool:
        """Whether the first word was written with a capital."""
        return self.raw[0][0].isupper()

    def __len__(self) -> int:
        return len(self.words)

    def __getitem__(self, s: slice) -> _Tokens:
        return _Tokens(self.words[s], self.raw[s])


# -- noun phrases and verb phrases ------------------------------------------------------------
def _subjects(t: _Tokens, first: bool) -> Iterator[tuple[str, bool, int]]:
    """Possible subjects at the start of ``t``: (term, plural, tokens used)."""
    if not len(t.words):
        return
    w = t.words[0]
    if w in _PRONOUNS:
        yield VAR, w in _PLURAL_PRONOUNS, 1
    elif w == "the":
        for n in range(1, min(_MAX_THE_WORDS, len(t.words) - 1) + 1):
            words = t.words[1 : 1 + n]
            if all(_content(x) for x in words):
                yield "_".join(words), False, 1 + n
    elif (first or t.capitalised()) and _content(w):
        yield w, False, 1


def _object(t: _Tokens) -> str | None:
    """The whole of ``t`` as an object: a name, "the ..." or a pronoun."""
    if len(t.words) == 1 and t.words[0] in _PRONOUNS:
        return VAR
    if len(t.words) == 1 and t.capitalised() and _content(t.words[0]):
        return t.words[0]
    if 2 <= len(t.words) <= _MAX_THE_WORDS + 1 and t.words[0] == "the" and all(_content(x) for x in t.words[1:]):
        return "_".join(t.words[1:])
    return None


def _complement(t: _Tokens, subject: str, plural: bool, neg: bool) -> Literal | None:
    """``[not] [a|an] word`` after a copula."""
    words = list(t.words)
    if words and words[0] == "not":
        neg, words = not neg, words[1:]
    article = bool(words) and words[0] in _ARTICLES
    if article:
        words = words[1:]
    if len(words) != 1 or not _content(words[0]):
        return None
    word = words[0] if article or not plural else singular(words[0])
    return Literal(word, (subject,), neg)


def _verb_phrase(t: _Tokens, subject: str, plural: bool) -> Literal | None:
    """``is [not] [a] word`` | ``does not verb obj`` | ``verb obj``, agreeing with the subject's number."""
    if not len(t.words):
        return None
    w = t.words[0]
    if w in _COPULA:
        return _complement(t[1:], subject, plural, False) if _COPULA[w] == plural else None
    if w in ("does", "do"):
        if (w == "do") != plural or len(t.words) < 3 or t.words[1] != "not" or not _content(t.words[2]):
            return None
        obj = _object(t[3:])
        return Literal(t.words[2], (subject, obj), True) if obj else None
    if _content(w) and len(t.words) >= 2:
        obj = _object(t[1:])
        if obj is not None:
            return Literal(w if plural else verb_base(w), (subject, obj), False)
    return None


def _clause(t: _Tokens, first: bool) -> tuple[Literal, str, bool] | None:
    """A full clause ``subject verb-phrase``: (literal, subject, plural)."""
    for subject, plural, used in _subjects(t, first):
        lit = _verb_phrase(t[used:], subject, plural)
        if lit is not None:
            return lit, subject, plural
    return None


def _split(t: _Tokens, separators: frozenset[str]) -> list[_Tokens]:
    parts, start = [], 0
    for i, w in enumerate(t.words):
        if w in separators:
            parts.append(t[start:i])
            start = i + 1
    parts.append(t[start:])
    return parts


_AND = frozenset({"and", ","})


def _conjunction(t: _Tokens, first: bool) -> list[Literal] | None:
    """``clause (and clause)*`` where a later clause may drop its subject ("and chases the dog") or,
    after a copula, its subject and copula ("is kind and [not] rough")."""
    out: list[Literal] = []
    subject, plural = None, False
    for k, part in enumerate(_split(t, _AND)):
        if not len(part.words):
            return None
        full = _clause(part, first and k == 0)
        if full is not None:
            lit, subject, plural = full
        elif subject is None:
            return None
        else:
            lit = _verb_phrase(part, subject, plural)
            if lit is None and len(out[-1].args) == 1:  # the last one was "is ...": "and rough"
                lit = _complement(part, subject, plural, False)
            if lit is None:
                return None
        out.append(lit)
    return out


# -- sentences -----------------------------------------------------------------------------------
def _restrictor(words: list[str]) -> list[Literal] | None:
    """``red, cold things`` / ``quiet people`` / ``jompuses`` / ``big cat`` → body literals on ?x."""
    words = [w for w in words if w != ","]
    if not words or not all(w.isalpha() and w not in _FUNCTION_WORDS - _KINDS for w in words):
        return None
    *mods, head = words
    if any(m in _KINDS for m in mods):
        return None
    body = [Literal(m, (VAR,)) for m in mods]
    if head not in _KINDS:
        body.append(Literal(singular(head), (VAR,)))
    return body or None


def _plural_subject(quantifier: str | None, head: str, verb: str) -> bool:
    """Grammatical number of a universal's subject: the verb says it, else the quantifier, else the noun."""
    if verb in ("are", "do"):
        return True
    if verb in ("is", "does"):
        return False
    if quantifier in ("every", "each", "any"):
        return False
    return quantifier == "all" or head in ("things", "people", "ones") or singular(head) != head


def _universal(t: _Tokens) -> list[Rule] | None:
    """``[All|Every|Each|No] restrictor verb-phrase``; without a quantifier the subject is plural."""
    words = list(t.words)
    quantifier = words[0] if words[0] in _QUANTIFIERS or words[0] == "no" else None
    start = 1 if quantifier else 0
    for k in range(start + 1, len(words)):
        body = _restrictor(words[start:k])
        if body is None:
            continue
        head_noun = words[k - 1]
        if quantifier is None and head_noun not in _KINDS and singular(head_noun) == head_noun:
            continue  # "Jompuses are", "Red things are": a bare universal needs a plural noun
        plural = _plural_subject(quantifier, head_noun, words[k])
        head = _verb_phrase(t[k:], VAR, plural)
        if head is None:
            continue
        if quantifier == "no":
            if head.neg:
                return None
            head = head.complement()
        return [Rule(tuple(body), head)]
    return None


def _conditional(t: _Tokens) -> list[Rule] | None:
    """``If conditions [,] then conclusions``."""
    if "then" not in t.words:
        return None
    k = t.words.index("then")
    cond, concl = t[1:k], t[k + 1 :]
    if len(cond.words) and cond.words[-1] == ",":
        cond = cond[:-1]
    body, heads = _conjunction(cond, False), _conjunction(concl, False)
    if not body or not heads:
        return None
    # the grammar's one variable is VAR (no word it reads can start with "?"): a head may use it
    # only when the body binds it
    if not any(VAR in b.args for b in body) and any(VAR in h.args for h in heads):
        return None
    return [Rule(tuple(body), h) for h in heads]


def _copular(words: tuple[str, ...]) -> tuple[tuple[Literal, ...], tuple[Rule, ...]] | None:
    """The copular sentences that make up most theories (every ProntoQA sentence), read directly: what
    :func:`parse_sentence`'s grammar makes of them, in a fraction of its time (a test holds the two
    equal on every dev sentence and on generated ones).  ``S is [not] [a|an] W`` (a fact about the
    name S), ``(every|each|all|any) N (is|are) [not] [a|an] W`` and ``Ns are [not] [a|an] W`` (N a
    plural noun): a rule on ``?x``.  None for anything else, which the grammar reads."""
    n = len(words)
    if not 3 <= n <= 6:
        return None
    w0 = words[0]
    quantified = w0 in _QUANTIFIERS
    k = 2 if quantified else 1  # the copula's position
    if k + 1 >= n or not _content(words[k - 1]):
        return None
    copula = words[k]
    if copula not in _COPULA:
        return None
    rest = words[k + 1 :]
    neg = rest[0] == "not"
    if neg:
        rest = rest[1:]
    article = len(rest) == 2 and rest[0] in _ARTICLES
    if len(rest) != 1 + article or not _content(rest[-1]):
        return None
    word = rest[-1]
    subject = words[k - 1]
    plural = _COPULA[copula]
    if not quantified:
        if not plural:  # a fact about a name
            return (Literal(word, (subject,), neg),), ()
        if singular(subject) == subject:  # "Tumpus are ...": not a bare universal
            return None
    if plural and not article:
        word = singular(word)
    return (), (Rule((Literal(singular(subject), (VAR,)),), Literal(word, (VAR,), neg)),)


@lru_cache(maxsize=1 << 16)
def parse_sentence(text: str) -> tuple[tuple[Literal, ...], tuple[Rule, ...]] | None:
    """One sentence → (ground facts, rules), or None when the grammar does not cover it.

    Memoised: prompts repeat across the completions of a group, and sentences across prompts."""
    t = _Tokens.of(text)
    if not len(t.words):
        return None
    return _copular(t.words) or _grammar(t)


def _grammar(t: _Tokens) -> tuple[tuple[Literal, ...], tuple[Rule, ...]] | None:
    """:func:`parse_sentence` by the whole grammar (``t`` not empty)."""
    first = t.words[0]
    if first == "if":
        rules = _conditional(t)
        return ((), tuple(rules)) if rules else None
    facts = _conjunction(t, True) if first not in _QUANTIFIERS | {"no"} else None
    if facts and all(VAR not in f.args for f in facts):
        return tuple(facts), ()
    rules = _universal(t)
    return ((), tuple(rules)) if rules else None


def sentences(text: str) -> Iterator[str]:
    for m in _SENTENCE.finditer(text):
        s = m.group().strip()
        if s:
            yield s


def parse_theory(text: str) -> ParsedText:
    """Read a theory: every sentence up to the first question; the statement after the question mark
    (ProofWriter/ProntoQA prompts) is kept as ``question``, not taken as a premise."""
    out = ParsedText()
    asked = False
    for s in sentences(text):
        if asked:
            out.question = s if out.question is None else f"{out.question} {s}"
            continue
        if s.endswith("?"):
            asked = True
            continue
        parsed = parse_sentence(s)
        if parsed is None:
            out.skipped.append(s)
            continue
        facts, rules = parsed
        out.facts.extend(facts)
        out.rules.extend(rules)
        if facts:
            out.statements.append((s, list(facts)))
    return out


def parse_claims(text: str) -> ParsedText:
    """Read the ground claims of a completion: sentences and the clauses between discourse words
    ("Bob is cold, so Bob is red." gives two claims).  Rules and other sentences are skipped."""
    out = ParsedText()
    for s in sentences(text):
        for part, facts in claim_parts(s):
            if facts is None:
                out.skipped.append(part)
                continue
            out.facts.extend(facts)
            out.statements.append((part, list(facts)))
    return out


@lru_cache(maxsize=1 << 16)
def claim_parts(sentence: str) -> tuple[tuple[str, tuple[Literal, ...] | None], ...]:
    """What :func:`parse_claims` reads in one sentence: its parts (the clauses between discourse words,
    or the whole sentence when it is hypothetical), each with its ground claims, or None where it
    claims nothing (skipped).

    Memoised, as :func:`parse_sentence` is: the completions of a group, and the steps of chains on
    one vocabulary, repeat sentences (ProntoQA: 2,750 sentences in 250 chains, 777 distinct); the
    two searches for hypothetical and discourse words were a tenth of reading a chain."""
    if _HYPOTHETICAL.search(sentence):
        return ((sentence, None),)
    out = []
    for part in _DISCOURSE.split(sentence):
        part = part.strip(" ,")
        if not part:
            continue
        parsed = parse_sentence(part)
        if parsed is None or not parsed[0] or any(f.args[0] in _META_SUBJECTS for f in parsed[0]):
            out.append((part, None))
        else:
            out.append((part, parsed[0]))
    return tuple(out)
