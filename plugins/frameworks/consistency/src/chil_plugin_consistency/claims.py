"""What the consistency framework judges: the premises of a record and the claims of its completion.

Two logics, picked per record:

- **fol**: premises from ``metadata.premises_fol`` (a list of formulas, or one formula per line) or a
  fenced ```` ```fol ```` block in the prompt; claims from ```` ```fol ```` blocks in the completion.
  Parsed by :mod:`.fol`; a completion's formula is never repaired (a parse error is its verdict).
- **english**: premises from ``metadata.theory`` (text, or an already structured ``{facts, rules}``),
  ``metadata.context``, or the prompt up to its question; claims are the completion's ground
  sentences ("Bob is cold.").  Parsed by :mod:`.english`.

A record that asks a question (``metadata.conclusion_fol``, ``metadata.statement`` or
``metadata.options``) is judged on its answer label instead (:class:`Question`, :mod:`.labels`).
Claims that restate a premise count for nothing (``Claim.filler``).

Building a job never raises for bad input: it returns a :class:`Problem` naming the field.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from chil_core import Record
from chil_core.capabilities.logic_program import Literal as Lit
from chil_core.capabilities.logic_program import Theory, TheoryError, load_theory
from chil_core.capabilities.smt import FolSyntaxError, parse_fol, split_formulas, symbols
from chil_plugin_consistency.english import parse_claims, parse_theory

_FOL_BLOCK = re.compile(r"```[ \t]*fol[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)

Mode = Literal["fol", "english"]


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of a completion (or recalled from the episode memory)."""

    text: str
    kind: Mode
    data: Any  # FOL AST (list) or literal JSON (dict); None when it does not parse
    terms: tuple[str, ...] = ()
    error: str | None = None
    record: str | None = None  # the record it came from, for recalled claims
    #: why it counts for nothing: "restated premise" (or "tautology", found by the prover), else None.
    filler: str | None = None

    @property
    def literal(self) -> Lit:
        d = self.data
        return Lit(d["pred"], tuple(d["args"]), d["neg"])

    def memo(self) -> dict[str, Any]:
        """The episode-memory row of this claim."""
        return {"kind": self.kind, "text": self.text, "data": self.data, "terms": list(self.terms)}


@dataclass
class Job:
    mode: Mode
    premise_texts: list[str]
    claims: list[Claim]
    premises_fol: list[Any] = field(default_factory=list)  # fol mode: ASTs
    theory: Theory | None = None  # english mode
    notes: list[str] = field(default_factory=list)
    premises_skipped: int = 0
    question: Question | None = None
    #: ``theory.to_json()``, shared with every job of the same premises and, fact by fact and rule by
    #: rule, with other theories (read-only: :func:`json_of`)
    theory_json: dict[str, Any] | None = None


@dataclass
class Question:
    """The statement(s) a record asks about: one (True/False/Unknown) or options (a letter)."""

    statements: list[Any]  # FOL ASTs (fol) or lists of literals (english), one per option
    texts: list[str]
    letters: tuple[str, ...] = ()  # empty: a True/False/Unknown question


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a record cannot be judged: ``status`` abstained (nothing to judge) or error (bad input)."""

    status: Literal["abstained", "error"]
    message: str


@dataclass(frozen=True, slots=True)
class Premises:
    """A controlled-English theory as parsed from one text (shared by every record with that text)."""

    theory: Theory
    texts: tuple[str, ...]
    skipped: int
    theory_json: dict[str, Any]  # theory.to_json(), built once; never mutated


#: the JSON of facts, rules and literals, by the identity of the object (each entry keeps its object
#: alive, so an id is never another object's while its entry exists).  The parser's sentence memo
#: hands the same objects to every theory that repeats a sentence (three in four ProntoQA sentences
#: in a first pass), so their JSON is built once and shared: read-only, as payloads are.
_JSON: dict[int, tuple[Any, dict[str, Any]]] = {}
_JSON_MAX = 1 << 16


def json_of(x: Any) -> dict[str, Any]:
    """``x.to_json()`` of a parsed literal or rule, built once per object (shared: never mutate it)."""
    entry = _JSON.get(id(x))
    if entry is not None and entry[0] is x:
        return entry[1]
    out = x.to_json()
    if len(_JSON) >= _JSON_MAX:
        _JSON.clear()
    _JSON[id(x)] = (x, out)
    return out


def theory_json(theory: Theory) -> dict[str, Any]:
    """``theory.to_json()``, its facts' and rules' JSON shared with other theories (:func:`json_of`)."""
    return {"facts": [json_of(f) for f in theory.facts], "rules": [json_of(r) for r in theory.rules]}


def parse_premises(text: str) -> Premises:
    parsed = parse_theory(text)
    theory = parsed.theory()
    return Premises(theory, tuple(s for s, _ in parsed.statements), len(parsed.skipped), theory_json(theory))


class TheoryCache:
    """Parsed premises by their text, least recently used out first: a GRPO group of G completions
    shares its prompt, so its theory is parsed once, not G times.  Thread-safe (large records are
    parsed off the event loop)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Premises] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def parse(self, text: str) -> Premises:
        if self.size <= 0:
            return parse_premises(text)
        with self._lock:
            got = self._items.get(text)
            if got is not None:
                self._items.move_to_end(text)
                self.hits += 1
                return got
        got = parse_premises(text)  # outside the lock: a long text does not block the cached ones
        with self._lock:
            self.misses += 1
            self._items[text] = got
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return got

    def __contains__(self, text: str) -> bool:
        with self._lock:
            return text in self._items


def render(lit: Lit) -> str:
    """``¬big(bob)`` style text of a literal."""
    return f"{'¬' if lit.neg else ''}{lit.pred}({', '.join(lit.args)})"


def fol_blocks(text: str) -> list[str]:
    return [f for block in _FOL_BLOCK.findall(text) for f in split_formulas(block)]


def _formula_list(value: Any, field_name: str) -> list[str] | Problem:
    if isinstance(value, str):
        return split_formulas(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    return Problem("error", f"{field_name} must be a list of formulas or a string, got {type(value).__name__}")


QUESTION_FIELDS = ("conclusion_fol", "statement", "options")


def build_job(record: Record, max_claims: int, theories: TheoryCache | None = None) -> Job | Problem:
    """Premises and claims (or the question) of ``record``, or the Problem that stops it from being judged.
    ``theories`` caches controlled-English premises parsed from text."""
    meta = record.metadata or {}
    premises_in: list[str] | Problem | None = None
    if "premises_fol" in meta:
        premises_in = _formula_list(meta["premises_fol"], "metadata.premises_fol")
    elif (prompt_fol := fol_blocks(record.prompt)):
        premises_in = prompt_fol
    if isinstance(premises_in, Problem):
        return premises_in
    asks = any(meta.get(k) not in (None, "", []) for k in QUESTION_FIELDS)
    completion_fol = [] if asks else fol_blocks(record.completion)
    if premises_in is not None or completion_fol:
        job = _fol_job(meta, premises_in or [], completion_fol, max_claims, asks)
    else:
        job = _english_job(record, meta, max_claims, asks, theories)
    if isinstance(job, Job) and asks:
        return _question(job, meta)
    return job


def _fol_job(meta: dict[str, Any], premises: list[str], completion_fol: list[str], max_claims: int, asks: bool) -> Job | Problem:
    job = Job("fol", premise_texts=premises, claims=[])
    source = "metadata.premises_fol" if "premises_fol" in meta else "the prompt's fol block"
    for i, text in enumerate(premises):
        try:
            parsed = parse_fol(text)
        except FolSyntaxError as exc:
            return Problem("error", f"{source}[{i}] does not parse: {exc}")
        job.premises_fol.append(parsed.ast)
        job.notes.extend(f"premise {i}: {n}" for n in parsed.notes)
    if asks:
        return job
    if not completion_fol:
        return Problem("abstained", "no claim to judge: no ```fol block in the completion")
    restated = {repr(p) for p in job.premises_fol}
    for text in dict.fromkeys(completion_fol):
        try:
            parsed = parse_fol(text, repair=False)
        except FolSyntaxError as exc:
            job.claims.append(Claim(text, "fol", None, error=str(exc)))
            continue
        filler = "restated premise" if repr(parsed.ast) in restated else None
        job.claims.append(Claim(text, "fol", parsed.ast, tuple(sorted(symbols(parsed.ast))), filler=filler))
        job.notes.extend(f"claim {text!r}: {n}" for n in parsed.notes)
    return _limit(job, max_claims)


def _question(job: Job, meta: dict[str, Any]) -> Job | Problem:
    """The record's question: ``conclusion_fol`` / ``statement`` (one statement) or ``options``."""
    if meta.get("options") not in (None, "", []):
        raw = meta["options"]
        if isinstance(raw, dict) and raw and all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
            letters, texts = tuple(k.strip().upper() for k in raw), list(raw.values())
        elif isinstance(raw, list) and raw and all(isinstance(v, str) for v in raw) and len(raw) <= 26:
            letters, texts = tuple(chr(ord("A") + i) for i in range(len(raw))), list(raw)
        else:
            return Problem("error", "metadata.options must be a list of statements or an object letter -> statement")
        where = "metadata.options"
    else:
        key = "conclusion_fol" if job.mode == "fol" else "statement"
        if key not in meta:
            other = "statement" if key == "conclusion_fol" else "conclusion_fol"
            return Problem("error", f"metadata.{other} needs premises in the same logic "
                           f"({'metadata.premises_fol' if other == 'conclusion_fol' else 'a controlled-English theory'})")
        listed = _formula_list(meta[key], f"metadata.{key}") if job.mode == "fol" else meta[key]
        if isinstance(listed, Problem):
            return listed
        if not isinstance(listed, str) and not (isinstance(listed, list) and len(listed) == 1 and isinstance(listed[0], str)):
            return Problem("error", f"metadata.{key} must be one statement")
        letters, texts, where = (), [listed if isinstance(listed, str) else listed[0]], f"metadata.{key}"
    statements: list[Any] = []
    for i, text in enumerate(texts):
        at = f"{where}[{i}]" if letters else where
        if job.mode == "fol":
            try:
                statements.append(parse_fol(text).ast)
            except FolSyntaxError as exc:
                return Problem("error", f"{at} does not parse: {exc}")
        else:
            parsed = parse_claims(text)
            lits = [lit for _, ls in parsed.statements for lit in ls]
            if not lits or parsed.skipped:
                return Problem("error", f"{at}: {text!r} is not a ground statement of the controlled-English grammar")
            statements.append(lits)
    job.question = Question(statements, texts, letters)
    return job


def english_source(record: Record) -> str | None:
    """The text a record's controlled-English premises are parsed from (None: a structured theory)."""
    meta = record.metadata or {}
    theory_in = meta.get("theory", meta.get("context"))
    if theory_in is None:
        return record.prompt
    return theory_in if isinstance(theory_in, str) else None


def _english_job(record: Record, meta: dict[str, Any], max_claims: int, asks: bool = False,
                 theories: TheoryCache | None = None) -> Job | Problem:
    theory_in = meta.get("theory", meta.get("context"))
    if isinstance(theory_in, dict):
        try:
            theory = load_theory(theory_in, "metadata.theory")
        except TheoryError as exc:
            return Problem("error", str(exc))
        job = Job("english", premise_texts=[], claims=[], theory=theory, theory_json=theory.to_json())
    elif theory_in is None or isinstance(theory_in, str):
        text = record.prompt if theory_in is None else theory_in
        premises = theories.parse(text) if theories is not None else parse_premises(text)
        job = Job("english", premise_texts=list(premises.texts), claims=[], theory=premises.theory,
                  premises_skipped=premises.skipped, theory_json=premises.theory_json)
    else:
        return Problem("error", f"metadata.theory must be text or {{facts, rules}}, got {type(theory_in).__name__}")
    if asks:
        return job
    claimed = parse_claims(record.completion)
    seen: set[Lit] = set()
    premises = set(job.theory.facts) if job.theory is not None else set()
    for sentence, lits in claimed.statements:
        for lit in lits:
            if lit in seen:
                continue
            seen.add(lit)
            job.claims.append(Claim(sentence if len(lits) == 1 else f"{sentence} [{render(lit)}]", "english",
                                    lit.to_json(), (lit.pred, *lit.args),
                                    filler="restated premise" if lit in premises else None))
    return _limit(job, max_claims)


def _limit(job: Job, max_claims: int) -> Job | Problem:
    if not job.claims:
        return Problem("abstained", "no claim to judge: the completion states nothing the grammar can read")
    # informative claims first: filler cannot push a judged claim past max_claims
    job.claims.sort(key=lambda c: c.filler is not None)
    if len(job.claims) > max_claims:
        job.notes.append(f"{len(job.claims) - max_claims} claim(s) beyond max_claims={max_claims} not judged")
        job.claims = job.claims[:max_claims]
    empty = not job.premises_fol and not (job.theory and (job.theory.facts or job.theory.rules))
    malformed = any(c.data is None for c in job.claims)
    if empty and len(job.claims) < 2 and not malformed:  # a formula that does not parse is always judged
        return Problem("abstained", "no premises and a single claim: nothing to judge it against")
    return job
